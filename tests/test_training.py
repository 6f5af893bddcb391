"""Tests of helpers.training (and the training section of the params) on small synthetic samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import helpers.training as training
import helpers.training.neural as neural
from helpers.errors import ParamsError
from helpers.metrics import r2
from helpers.models import XGBoostModel, load_model
from helpers.params import Params, TrainingParams, load_params
from helpers.training import (
    COMPARISON_COLUMNS,
    HISTORY_COLUMNS,
    ArraySamples,
    evaluate,
    feature_columns,
    masked_mse,
    pick_device,
    predict,
    train_torch_model,
    train_xgboost,
)

TINY = Path(__file__).resolve().parents[1] / "params" / "tiny.yaml"
N, T, F = 64, 60, 5
CENTRAL = (np.arange(T) >= 10) & (np.arange(T) < 50)
SPLIT = np.array(["train"] * 40 + ["validation"] * 12 + ["test"] * 12)
NAMES = ["albedo", "lst", "era5_swvl1", "elevation", "clay"]
SMALL_MODELS = {"hidden_size": 16, "attention_size": 8, "transformer_heads": 2, "transformer_feedforward": 32}


def make_params(outputs: Path, models: dict | None = None, **training_changes) -> Params:
    settings = {"device": "cpu", "batch_size": 8, "max_epochs": 12, "learning_rate": 0.01} | training_changes
    return load_params(
        TINY, outputs_dir=str(outputs), models=SMALL_MODELS | (models or {}), training=settings
    )


def synthetic_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs with a temporal structure and a target that is a smooth function of them plus noise."""
    rng = np.random.default_rng(seed)
    kernel = np.ones(7) / 7
    daily = rng.normal(size=(N, T + 6, 3)).cumsum(axis=1) * 0.3
    daily = np.stack([np.stack([np.convolve(s[:, f], kernel, "valid") for f in range(3)], -1) for s in daily])
    static = np.repeat(rng.normal(size=(N, 1, 2)), T, axis=1)
    x = np.concatenate([daily, static], axis=-1) * [0.1, 15.0, 0.2, 400.0, 0.3] + [0.2, 290, 0.3, 800, 0.2]
    lagged = np.concatenate([daily[:, :3, 0], daily[:, :-3, 0]], axis=1)
    signal = np.tanh(lagged - 0.5 * daily[:, :, 1] + 0.8 * static[:, :, 0])
    y = 0.3 + 0.15 * signal + rng.normal(0, 0.005, (N, T))
    y[rng.random((N, T)) < 0.05] = np.nan
    return x.astype(np.float32), y.astype(np.float32)


@pytest.fixture(scope="module")
def samples() -> ArraySamples:
    x, y = synthetic_arrays()
    return ArraySamples(x, y, CENTRAL, SPLIT, NAMES)


@pytest.fixture(scope="module")
def lstm_run(samples, tmp_path_factory) -> tuple[training.TrainingResult, Params, Path]:
    run_dir = tmp_path_factory.mktemp("lstm_run")
    params = make_params(run_dir)
    return train_torch_model("lstm", samples, params, run_dir, progress=False), params, run_dir


# Params and small pieces ------------------------------------------------------------------


def test_training_params_defaults_and_validation(tmp_path):
    defaults = TrainingParams()
    assert (defaults.device, defaults.batch_size, defaults.patience) == ("auto", 64, 4)
    assert defaults.sequences_per_epoch is None and defaults.xgboost_max_rows == 2_000_000
    assert load_params(TINY).training.sequences_per_epoch == 64  # tiny bounds its training time
    custom = make_params(tmp_path, sequences_per_epoch=10, num_threads=1, grad_clip=None)
    assert custom.training.sequences_per_epoch == 10 and custom.training.grad_clip is None
    with pytest.raises(ParamsError, match=r"training\.device"):
        make_params(tmp_path, device="tpu")
    with pytest.raises(ParamsError, match=r"training\.epochs: unknown key"):
        make_params(tmp_path, epochs=3)
    with pytest.raises(ParamsError, match=r"training\.lr_factor"):
        make_params(tmp_path, lr_factor=1.5)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no usable GPU"):
            pick_device("cuda")


def test_array_samples_read_like_a_sample_store(samples):
    x, y, central = samples.sequences("train", normalise=False)
    assert x.shape == (40, T, F) and y.shape == (40, T) and central.shape == (40, T)
    np.testing.assert_allclose(samples.stats["mean"], x[central].mean(axis=0), rtol=1e-5)
    normalised, _, _ = samples.sequences("train")
    np.testing.assert_allclose(normalised[central].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(normalised[central].std(axis=0), 1, atol=1e-4)
    rows, target = samples.tabular("test", max_rows=100, rng=np.random.default_rng(0))
    assert rows.shape == (100, F) and np.isfinite(target).all()
    with pytest.raises(ValueError, match="split must be one of"):
        samples.sequences("training")


def test_feature_columns_keep_the_sample_order(samples):
    assert feature_columns(samples) == (NAMES, pytest.approx(np.arange(F)))
    names, columns = feature_columns(samples, ["clay", "albedo"])
    assert names == ["albedo", "clay"] and columns.tolist() == [0, 4]
    with pytest.raises(ValueError, match=r"unknown: \['ndvi'\]"):
        feature_columns(samples, ["ndvi"])
    with pytest.raises(ValueError, match="distinct names"):
        feature_columns(samples, ["lst", "lst"])


def test_masked_mse_ignores_days_outside_the_mask():
    generator = torch.Generator().manual_seed(0)
    prediction = torch.randn(4, 9, generator=generator, requires_grad=True)
    target = torch.randn(4, 9, generator=generator)
    mask = torch.rand(4, 9, generator=generator) > 0.4
    loss = masked_mse(prediction, target, mask)
    expected = ((prediction - target)[mask] ** 2).mean()
    assert loss.item() == pytest.approx(expected.item())
    changed = torch.where(mask, target, torch.full_like(target, float("nan")))
    other = masked_mse(prediction, changed, mask)
    assert other.item() == loss.item()
    other.backward()
    assert torch.isfinite(prediction.grad).all() and (prediction.grad[~mask] == 0).all()
    assert masked_mse(prediction, target, torch.zeros_like(mask)).item() == 0.0


# The training loop ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lstm", "bilstm", "atlstm", "transformer"])
def test_deep_model_learns_better_than_the_mean(name, samples, lstm_run, tmp_path):
    result = (
        lstm_run[0]
        if name == "lstm"
        else train_torch_model(name, samples, make_params(tmp_path), tmp_path, progress=False)
    )
    x, y, central = samples.sequences("test")
    estimate = predict(result.model, x)
    assert estimate.shape == (12, T)
    assert r2(estimate[central], y[central]) > 0.3  # the mean scores 0
    history = result.history
    assert list(history.columns) == list(HISTORY_COLUMNS) and history["epoch"].tolist() == list(range(1, 13))
    assert history["val_loss"].min() < history["val_loss"].iloc[0] / 2
    assert result.best_epoch == int(history["epoch"][history["val_loss"].idxmin()])
    assert result.model_path == Path(result.model_path).parent / f"{name}.pt" and result.model_path.is_file()
    # no bound on times (any machine must pass): the data wait is a share of the wall time, and
    # the rate times the wall time (which cancels) is every day of every sequence of every epoch
    assert 0 <= result.data_wait_fraction <= 1
    per_epoch = make_params(tmp_path).training.sequences_per_epoch or int((SPLIT == "train").sum())
    assert result.pixel_days_per_second * result.wall_seconds == pytest.approx(len(history) * per_epoch * T)
    assert not result.model.training


def test_saved_model_reproduces_predictions_exactly(lstm_run, samples):
    result, params, _ = lstm_run
    model, meta = load_model(result.model_path, expected_features=NAMES)
    x, _, _ = samples.sequences("test")
    np.testing.assert_array_equal(predict(model, x), predict(result.model, x))
    assert meta["extra"]["stats"]["mean"] == pytest.approx(samples.stats["mean"].tolist())
    assert meta["extra"]["params"]["seed"] == params.seed
    assert meta["extra"]["params"]["training"]["batch_size"] == 8


def test_loss_ignores_days_outside_the_mask(samples, tmp_path):
    x, y = synthetic_arrays()
    y_outside = y.copy()
    y_outside[:, ~CENTRAL] = np.where(np.arange(N)[:, None] % 2, np.nan, 5.0)
    params = make_params(tmp_path, max_epochs=2)
    runs = [
        train_torch_model(
            "lstm", ArraySamples(x, target, CENTRAL, SPLIT, NAMES), params, tmp_path / str(i), progress=False
        )
        for i, target in enumerate((y, y_outside))
    ]
    assert runs[0].history[["train_loss", "val_loss"]].equals(runs[1].history[["train_loss", "val_loss"]])
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_early_stopping_stops_after_patience_epochs(tmp_path):
    x, _ = synthetic_arrays()
    noise = np.random.default_rng(1).normal(0.3, 0.05, (N, T))
    params = make_params(tmp_path, max_epochs=60, patience=2, learning_rate=0.05, sequences_per_epoch=8)
    result = train_torch_model(
        "lstm", ArraySamples(x, noise, CENTRAL, SPLIT, NAMES), params, tmp_path, progress=False
    )
    assert len(result.history) < 60
    assert len(result.history) == result.best_epoch + 2
    assert result.history["val_loss"].iloc[-2:].min() >= result.history["val_loss"].min()
    per_epoch = result.pixel_days_per_second * result.wall_seconds / len(result.history)  # wall time cancels
    assert per_epoch == pytest.approx(8 * T)


def test_resume_after_interruption_ends_like_an_uninterrupted_run(samples, tmp_path, monkeypatch):
    params = make_params(tmp_path, max_epochs=4, lr_patience=0, sequences_per_epoch=16)
    whole = train_torch_model("bilstm", samples, params, tmp_path / "whole", progress=False)

    save = neural._save_checkpoint
    saved = []

    def crash_after_two_epochs(path, checkpoint):
        save(path, checkpoint)
        saved.append(checkpoint["epoch"])
        if len(saved) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(neural, "_save_checkpoint", crash_after_two_epochs)
    with pytest.raises(KeyboardInterrupt):
        train_torch_model("bilstm", samples, params, tmp_path / "split", progress=False)
    monkeypatch.setattr(neural, "_save_checkpoint", save)
    resumed = train_torch_model("bilstm", samples, params, tmp_path / "split", progress=False, resume=True)

    assert saved == [1, 2]
    columns = ["epoch", "train_loss", "val_loss", "lr"]
    assert resumed.history[columns].equals(whole.history[columns])
    assert resumed.best_epoch == whole.best_epoch
    for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="checkpoint of another run"):
        train_torch_model(
            "bilstm", samples, params, tmp_path / "split", feature_subset=["lst"], progress=False, resume=True
        )


def test_feature_subset_trains_on_those_features_only(samples, tmp_path):
    params = make_params(tmp_path, max_epochs=2)
    subset = ["era5_swvl1", "albedo", "elevation"]
    result = train_torch_model(
        "lstm", samples, params, tmp_path, feature_subset=subset, progress=False, label="lstm_subset"
    )
    assert result.model.n_features == 3 and result.feature_names == ["albedo", "era5_swvl1", "elevation"]
    assert result.model_path.name == "lstm_subset.pt"
    _, meta = load_model(result.model_path, expected_features=result.feature_names)
    assert meta["extra"]["stats"]["std"] == pytest.approx(samples.stats["std"].iloc[[0, 2, 3]].tolist())
    x_altered = samples.x.copy()
    x_altered[SPLIT == "test", :, 1] = 1e3  # features the model does not use
    x_altered[SPLIT == "test", :, 4] = -1e3
    altered = ArraySamples(x_altered, samples.y, CENTRAL, SPLIT, NAMES)
    kept = evaluate(result.model, samples, feature_subset=subset)
    assert evaluate(result.model, altered, feature_subset=subset).equals(kept)
    with pytest.raises(ValueError, match="takes 3 features"):
        evaluate(result.model, samples)


def test_xgboost_shares_the_feature_order_of_the_deep_models(samples, lstm_run, tmp_path):
    params = make_params(tmp_path, models={"xgboost_trees": 30, "xgboost_depth": 3})
    result = train_xgboost(samples, params, tmp_path, max_rows=500)
    assert isinstance(result.model, XGBoostModel) and result.model_path.name == "xgboost.ubj"
    assert result.feature_names == lstm_run[0].feature_names == NAMES
    model, meta = load_model(result.model_path, expected_features=lstm_run[0].feature_names)
    assert meta["extra"]["stats"] == load_model(lstm_run[0].model_path)[1]["extra"]["stats"]
    x, y, central = samples.sequences("test")
    rows, target = samples.tabular("test", normalise=True)
    keep = central & np.isfinite(y)
    np.testing.assert_array_equal(predict(model, x)[keep], model.predict(rows))
    np.testing.assert_array_equal(y[keep], target)
    assert r2(predict(model, x)[keep], target) > 0.5
    assert list(result.history.columns) == list(HISTORY_COLUMNS)
    assert 1 <= result.best_epoch <= len(result.history) <= 30


def test_evaluate_scores_held_out_central_days_only(samples, lstm_run):
    result = lstm_run[0]
    table = evaluate(result.model, samples, label="lstm_test")
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert table["subset"].tolist() == ["all", "sm_gt_0.4"] and set(table["model"]) == {"lstm_test"}
    _, y, central = samples.sequences("test")
    assert table["n"].tolist() == [
        int((central & np.isfinite(y)).sum()),
        int((central & (y > 0.4)).sum()),
    ]
    assert table.loc[0, "r2"] > 0.5 and table.loc[1, "n"] > 0
    # other splits' targets and every margin day play no part in the test score
    y_changed = samples.y.copy()
    y_changed[SPLIT != "test"] = 9.0
    y_changed[:, ~CENTRAL] = 9.0
    changed = ArraySamples(samples.x, y_changed, CENTRAL, SPLIT, NAMES)
    assert evaluate(result.model, changed, label="lstm_test").equals(table)
    with pytest.raises(ValueError, match="never computed on the train split"):
        evaluate(result.model, samples, split="train")
