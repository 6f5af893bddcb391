"""Tests of helpers.models: registry, deep models, XGBoost, saving and loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xgboost

from helpers.models import (
    MODELS,
    AtLSTM,
    ModelFileError,
    SequenceModel,
    XGBoostModel,
    attention_by_lag,
    get_model,
    is_sequence_model,
    load_model,
    metadata_path,
    save_model,
    seed_everything,
)
from helpers.models.template import check_model_contract
from helpers.models.transformer import sinusoidal_encoding
from helpers.params import ModelParams

DEEP_MODELS = ["lstm", "bilstm", "atlstm", "transformer"]
BATCH, TIME, FEATURES = 3, 70, 11
FEATURE_NAMES = [f"feature_{i}" for i in range(FEATURES)]
SMALL = ModelParams(hidden_size=16, attention_size=8, transformer_heads=4, transformer_feedforward=32)


@pytest.fixture
def sequences() -> torch.Tensor:
    return torch.randn(BATCH, TIME, FEATURES, generator=torch.Generator().manual_seed(1))


def build(name: str, params: ModelParams = SMALL, **options) -> SequenceModel:
    seed_everything(0)
    return get_model(name, FEATURES, params, **options).eval()


def test_registry_holds_every_family():
    assert set(MODELS) == {"lstm", "bilstm", "atlstm", "transformer", "xgboost"}
    assert [is_sequence_model(name) for name in MODELS] == [name != "xgboost" for name in MODELS]
    assert all(cls.name == name for name, cls in MODELS.items())


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'gru'.*lstm, bilstm, atlstm, transformer, xgboost"):
        get_model("gru", FEATURES, SMALL)
    with pytest.raises(ValueError, match="known models"):
        is_sequence_model("gru")


@pytest.mark.parametrize("name", DEEP_MODELS)
def test_forward_shapes_and_contract(name, sequences):
    model = build(name)
    output = model(sequences)
    assert output["sm"].shape == (BATCH, TIME)
    assert output["sm"].dtype == torch.float32
    assert model.n_features == FEATURES and model.params == SMALL
    check_model_contract(model)
    np.testing.assert_allclose(
        model.predict_sequences(sequences.numpy(), batch_size=2), output["sm"].detach().numpy(), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, time, 11\)"):
        model(sequences[..., :5])


def test_contract_check_rejects_wrong_output_shape():
    class PerSequence(SequenceModel):
        name = "lstm"

        def __init__(self, n_features: int, params: ModelParams) -> None:
            super().__init__(n_features, params)
            self.linear = torch.nn.Linear(n_features, 1)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"sm": self.linear(x).mean(dim=(1, 2))}

    with pytest.raises(ValueError, match=r"not registered.*has shape"):
        check_model_contract(PerSequence(FEATURES, SMALL))


@pytest.mark.parametrize("name", DEEP_MODELS)
def test_one_adam_step_reduces_mse(name, sequences):
    model = build(name)
    target = 0.3 + 0.05 * torch.tanh(sequences[..., 0])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        before = torch.mean((model(sequences)["sm"] - target) ** 2)
    model.train()
    loss = torch.mean((model(sequences)["sm"] - target) ** 2)
    loss.backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name
    optimiser.step()
    model.eval()
    with torch.no_grad():
        after = torch.mean((model(sequences)["sm"] - target) ** 2)
    assert after < before


@pytest.mark.parametrize("name", DEEP_MODELS)
def test_which_days_a_prediction_sees(name, sequences):
    model = build(name)
    changed = sequences.clone()
    changed[:, 60] += 1.0
    with torch.no_grad():
        base, moved = model(sequences)["sm"], model(changed)["sm"]
    assert not torch.allclose(base[:, 60:], moved[:, 60:])
    if name == "lstm":
        assert torch.equal(base[:, :60], moved[:, :60])
    else:
        assert (base[:, 50:60] - moved[:, 50:60]).abs().min() > 0


def test_atlstm_attention_distributions(sequences):
    model = build("atlstm")
    output = model(sequences, return_attention=True)
    attention = output["attention"]
    assert attention.shape == (BATCH, TIME, TIME)
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(BATCH, TIME))
    assert "attention" not in model(sequences)
    lags, weights = attention_by_lag(attention)
    np.testing.assert_array_equal(lags, -lags[::-1])
    assert lags[0] == -(TIME - 1) and len(weights) == 2 * TIME - 1
    # each lag averages the TIME - |lag| days that have it, each day's weights summing to 1
    assert (weights * (TIME - np.abs(lags))).sum() == pytest.approx(TIME, rel=1e-5)
    diagonal = attention.detach().diagonal(dim1=1, dim2=2).mean().item()
    assert weights[lags == 0][0] == pytest.approx(diagonal, rel=1e-5)
    yesterday = attention.detach().diagonal(offset=-1, dim1=1, dim2=2).mean().item()
    assert weights[lags == -1][0] == pytest.approx(yesterday, rel=1e-5)


def test_atlstm_window_restricts_attention(sequences):
    window = 5
    model = build("atlstm", attention_window=window)
    attention = model(sequences, return_attention=True)["attention"]
    steps = torch.arange(TIME)
    outside = (steps[None, :] - steps[:, None]).abs() > window
    assert torch.all(attention[:, outside] == 0)
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(BATCH, TIME))
    lags, weights = attention_by_lag(attention, max_lag=10)
    np.testing.assert_array_equal(lags, np.arange(-10, 11))
    assert np.all(weights[np.abs(lags) > window] == 0)
    with pytest.raises(ValueError, match="attention_window"):
        AtLSTM(FEATURES, SMALL, attention_window=-1)


def test_attention_by_lag_averages_over_valid_days():
    identity = np.eye(4)
    lags, weights = attention_by_lag(identity)
    np.testing.assert_array_equal(weights, (lags == 0).astype(float))
    previous_day = np.zeros((4, 4))
    previous_day[0, 0] = 1.0
    previous_day[np.arange(1, 4), np.arange(0, 3)] = 1.0
    lags, weights = attention_by_lag(np.stack([previous_day, identity]))
    assert weights[lags == -1][0] == pytest.approx(0.5)
    assert weights[lags == 0][0] == pytest.approx((1 + 4) / 2 / 4)
    with pytest.raises(ValueError, match="shape"):
        attention_by_lag(np.ones((2, 3, 4)))


def test_transformer_positional_encoding_and_width():
    encoding = sinusoidal_encoding(5, 7)
    assert encoding.shape == (5, 7)
    torch.testing.assert_close(encoding[0], torch.tensor([0.0, 1, 0, 1, 0, 1, 0]))
    assert encoding[3, 0] == pytest.approx(np.sin(3.0))
    with pytest.raises(ValueError, match="divisible by transformer_heads"):
        get_model("transformer", FEATURES, ModelParams(hidden_size=10, transformer_heads=4))


def test_seed_everything_repeats_initialisation():
    first, second = build("bilstm"), build("bilstm")
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", DEEP_MODELS)
def test_save_load_reproduces_predictions(name, sequences, tmp_path):
    options = {"attention_window": 20} if name == "atlstm" else {}
    model = build(name, **options)
    stats = {"mean": np.arange(FEATURES, dtype=np.float32), "std": np.float64(2.0)}
    path = save_model(model, tmp_path / f"{name}.pt", extra={"feature_names": FEATURE_NAMES, "stats": stats})
    assert metadata_path(path).is_file()
    loaded, meta = load_model(path, expected_features=FEATURE_NAMES)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.params == SMALL and loaded.options() == options
    assert meta["extra"]["stats"] == {"mean": list(range(FEATURES)), "std": 2.0}
    with torch.no_grad():
        assert torch.equal(loaded(sequences)["sm"], model(sequences)["sm"])


def test_load_refuses_other_features(sequences, tmp_path):
    path = save_model(build("lstm"), tmp_path / "lstm.pt", extra={"feature_names": FEATURE_NAMES})
    expected = [*FEATURE_NAMES[:-1], "ndvi"]
    with pytest.raises(
        ModelFileError, match=r"lstm\.pt: feature mismatch.*missing from the model: \['ndvi'\]"
    ):
        load_model(path, expected_features=expected)
    with pytest.raises(ModelFileError, match="different order"):
        load_model(path, expected_features=FEATURE_NAMES[::-1])
    unnamed = save_model(build("lstm"), tmp_path / "unnamed.pt")
    with pytest.raises(ModelFileError, match="saved without feature names"):
        load_model(unnamed, expected_features=FEATURE_NAMES)


def test_load_refuses_inconsistent_files(tmp_path):
    path = save_model(build("lstm"), tmp_path / "lstm.pt")
    other = save_model(build("bilstm"), tmp_path / "bilstm.pt")
    path.write_bytes(other.read_bytes())
    with pytest.raises(ModelFileError, match=r"do not match lstm\.pt\.meta\.json"):
        load_model(path)
    metadata_path(other).unlink()
    with pytest.raises(ModelFileError, match=r"bilstm\.pt\.meta\.json not found"):
        load_model(other)
    with pytest.raises(ModelFileError, match="model file not found"):
        load_model(tmp_path / "absent.pt")


def tabular_problem(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    y = 0.25 + 0.08 * np.sin(2 * x[:, 0]) + 0.05 * x[:, 1] * x[:, 2] + rng.normal(0, 0.005, rows)
    return x, y.astype(np.float32)


@pytest.fixture(scope="module")
def fitted_xgboost() -> XGBoostModel:
    x_train, y_train = tabular_problem(3000, 0)
    x_val, y_val = tabular_problem(500, 1)
    y_train[:100] = np.nan
    params = ModelParams(xgboost_trees=150, xgboost_depth=4, xgboost_learning_rate=0.2)
    return get_model("xgboost", 5, params).fit(x_train, y_train, x_val, y_val, seed=3, n_threads=2)


def test_xgboost_beats_the_mean(fitted_xgboost):
    x_test, y_test = tabular_problem(1000, 2)
    predicted = fitted_xgboost.predict(x_test)
    assert predicted.shape == (1000,) and predicted.dtype == np.float32
    mse_model = np.mean((predicted - y_test) ** 2)
    mse_mean = np.mean((y_test.mean() - y_test) ** 2)
    assert mse_model < 0.2 * mse_mean
    assert len(fitted_xgboost.history_["validation"]) > fitted_xgboost.best_iteration_


def test_xgboost_stops_early_on_noise():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(600, 3)), rng.normal(size=600)
    params = ModelParams(xgboost_trees=300, xgboost_depth=6, xgboost_learning_rate=0.5)
    model = XGBoostModel(3, params).fit(x[:400], y[:400], x[400:], y[400:], early_stopping_rounds=5)
    assert model.booster_.num_boosted_rounds() == model.best_iteration_ + 1 < 50


def test_xgboost_sequences_match_rows(fitted_xgboost, monkeypatch):
    calls = []
    original = xgboost.Booster.inplace_predict

    def spy(self, data, **kwargs):
        calls.append(data.shape)
        return original(self, data, **kwargs)

    monkeypatch.setattr(xgboost.Booster, "inplace_predict", spy)
    x = np.random.default_rng(5).normal(size=(7, 13, 5)).astype(np.float32)
    per_sequence = fitted_xgboost.predict_sequences(x, batch_size=3)
    assert per_sequence.shape == (7, 13)
    np.testing.assert_array_equal(per_sequence.ravel(), fitted_xgboost.predict(x.reshape(-1, 5)))
    assert calls == [(39, 5), (39, 5), (13, 5), (91, 5)]
    with pytest.raises(ValueError, match=r"shape \(rows, 5\)"):
        fitted_xgboost.predict(x[0, :, :4])


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_save_load_exact(fitted_xgboost, tmp_path, suffix):
    path = fitted_xgboost.save(tmp_path / f"model{suffix}")
    if suffix == ".json":
        assert "learner" in json.loads(path.read_text())
    loaded = XGBoostModel.load(path)
    assert loaded.n_features == 5 and loaded.params == fitted_xgboost.params
    x_test, _ = tabular_problem(200, 6)
    np.testing.assert_array_equal(loaded.predict(x_test), fitted_xgboost.predict(x_test))
    with pytest.raises(ValueError, match=r"saved as \.json or \.ubj"):
        fitted_xgboost.save(tmp_path / "model.pkl")


def test_xgboost_through_the_registry(fitted_xgboost, tmp_path):
    names = ["a", "b", "c", "d", "e"]
    path = save_model(fitted_xgboost, tmp_path / "xgboost.ubj", extra={"feature_names": names})
    loaded, meta = load_model(path, expected_features=names)
    assert isinstance(loaded, XGBoostModel) and meta["name"] == "xgboost"
    x_test, _ = tabular_problem(50, 7)
    np.testing.assert_array_equal(loaded.predict(x_test), fitted_xgboost.predict(x_test))
    with pytest.raises(ModelFileError, match=r"not expected: \['e'\]"):
        load_model(path, expected_features=names[:4])


def test_xgboost_input_errors(tmp_path):
    model = XGBoostModel(2, ModelParams())
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="no finite value"):
        model.fit(np.zeros((3, 2)), np.full(3, np.nan), np.zeros((3, 2)), np.zeros(3))
    garbage = tmp_path / "garbage.ubj"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match=r"garbage\.ubj: not a readable XGBoost model"):
        XGBoostModel.load(garbage)
