"""Tests of helpers.experiments' pieces and of the experiments section of the params.

The experiments themselves run end to end in the notebook-02 test (tests/test_sampling.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import experiments
from helpers.comparison import convergence_table, deep_vs_xgboost
from helpers.errors import ParamsError
from helpers.params import load_params
from helpers.sampling import SPLITS, block_ids
from helpers.training import TrainingResult

TINY = Path(__file__).resolve().parents[1] / "params" / "tiny.yaml"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"window_lengths": [1, 4]}, "odd"),
        ({"window_lengths": [63]}, "at most 61"),
        ({"run": ["ablations", "bagging"]}, "experiments.run"),
        ({"ablations": ["no_ndvi"]}, "experiments.ablations"),
        ({"training_year_sets": [[2001, 2001]]}, "distinct"),
        ({"training_year_sets": [[2005]]}, "outside period"),
        ({"training_year_sets": [[1999]]}, "precede world.target_start_year"),
        ({"model": "xgboost"}, "experiments.model"),
        ({"max_epochs": 0}, "experiments.max_epochs"),
    ],
)
def test_experiment_params_are_checked(section, message):
    with pytest.raises(ParamsError, match=message):
        load_params(TINY, experiments=section)


def test_sample_years_add_the_alternative_training_years_only_when_that_experiment_runs():
    params = load_params(
        TINY, experiments={"training_year_sets": [[2001]]}, sampling={"stride": 1, "train_years": [2000]}
    )
    assert params.sample_years == [2000, 2001]
    quiet = load_params(
        TINY,
        experiments={"training_year_sets": [[2001]], "run": ["ablations"]},
        sampling={"stride": 1, "train_years": [2000]},
    )
    assert quiet.sample_years == [2000]


def test_experiment_budget_overrides_only_what_is_set():
    params = load_params(TINY, experiments={"max_epochs": 3})
    budget = experiments.experiment_params(params)
    assert budget.training.max_epochs == 3
    assert budget.training.sequences_per_epoch == params.training.sequences_per_epoch
    assert budget.models == params.models and params.training.max_epochs == 2


def test_window_budget_keeps_pixel_days_and_steps():
    params = load_params(TINY)  # batch 16, 64 sequences per epoch
    days = 425
    for length in (1, 5, 29):
        windowed = experiments._window_budget(params, length, days).training
        assert windowed.sequences_per_epoch * length == pytest.approx(64 * days, rel=0.02)
        assert windowed.batch_size * length == pytest.approx(16 * days, rel=0.05)
        steps = windowed.sequences_per_epoch / windowed.batch_size
        assert steps == pytest.approx(64 / 16, rel=0.05)


def test_crop_sequences_cuts_consecutive_windows_and_drops_those_without_loss_days():
    n, days, features = 3, 20, 2
    x = np.arange(n * days * features, dtype=np.float32).reshape(n, days, features)
    y = np.full((n, days), 0.3, dtype=np.float32)
    y[0, 2:7] = np.nan  # the first window of sequence 0 (days 2-6) has no target
    central = np.broadcast_to(np.arange(days) < 17, (n, days)).copy()
    xs, ys, cs = experiments.crop_sequences(x, y, central, length=5, offset=2)
    # windows start at days 2, 7, 12 (17-21 does not fit); sequence 0 loses its first
    assert xs.shape == (3 * 3 - 1, 5, features) and ys.shape == cs.shape == (8, 5)
    np.testing.assert_array_equal(xs[0], x[0, 7:12])
    np.testing.assert_array_equal(xs[2], x[1, 2:7])
    assert (cs & np.isfinite(ys)).any(axis=1).all()
    with pytest.raises(ValueError, match="no window"):
        experiments.crop_sequences(x, y, central, length=25, offset=0)


def test_stack_years_pads_shorter_years_like_the_sample_store():
    short = (np.ones((2, 425)), np.full((2, 425), 0.2), np.ones((2, 425), bool))
    long = (np.zeros((1, 426)), np.full((1, 426), 0.3), np.ones((1, 426), bool))
    estimate, target, central = experiments.stack_years([short, long])
    assert estimate.shape == target.shape == central.shape == (3, 426)
    assert (
        np.isnan(estimate[:2, 425]).all() and np.isnan(target[:2, 425]).all() and not central[:2, 425].any()
    )
    assert central[2].all() and (estimate[2] == 0).all()


class _Store:
    """The locations table of a sample store, for the split helpers."""

    def __init__(self, n: int = 400, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        lat, lon = rng.uniform(-60, 70, n), rng.uniform(-180, 180, n)
        self.locations = pd.DataFrame(
            {"lat": lat, "lon": lon, "split": rng.choice(SPLITS, n), "block": block_ids(lat, lon, 10.0)}
        )


def test_other_split_is_blocks_for_a_random_store_and_keeps_blocks_whole():
    params = load_params(TINY)
    store = _Store()
    method, labels = experiments.other_split(store, params)
    assert method == "blocks" and set(labels) <= set(SPLITS) and len(labels) == len(store.locations)
    assert store.locations.assign(split=labels).groupby("block")["split"].nunique().max() == 1
    again = experiments.other_split(store, params)[1]
    np.testing.assert_array_equal(labels, again)  # seeded
    blocks = load_params(TINY, sampling={"stride": 1, "train_years": [2000, 2001], "split_method": "blocks"})
    method, labels = experiments.other_split(store, blocks)
    assert method == "random"
    shares = pd.Series(labels).value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.7, abs=0.01)


def test_ablations_leave_out_the_avhrr_inputs_or_era5_land():
    params = load_params(TINY)
    avhrr = experiments.ablation_features(params, "no_avhrr")
    assert "lst" in avhrr and all(name.startswith("abd_") or name == "lst" for name in avhrr)
    assert "era5_sm" not in avhrr and len(avhrr) == 5
    assert experiments.ablation_features(params, "no_era5_land") == ["era5_sm"]
    with pytest.raises(ValueError, match="unknown ablation"):
        experiments.ablation_features(params, "no_dem")


def _result(val_loss: list[float], best_epoch: int) -> TrainingResult:
    history = pd.DataFrame({"epoch": range(1, len(val_loss) + 1), "val_loss": val_loss})
    return TrainingResult(None, history, best_epoch, Path("m"), [], 1.0, 0.0, 1.0)


def test_convergence_table_flags_runs_still_improving_at_the_end():
    table = convergence_table(
        {
            "falling": _result([1.0, 0.8, 0.6, 0.5, 0.45, 0.4], 6),
            "flat": _result([1.0, 0.5, 0.5, 0.51, 0.52, 0.53], 2),
        }
    ).set_index("model")
    assert table.loc["falling", "still_improving"] and not table.loc["flat", "still_improving"]
    assert table.loc["falling", "last_drop"] == pytest.approx(1 - 0.4 / 0.5)
    assert table.loc["flat", "last_drop"] == pytest.approx(1 - 0.52 / 0.5)


def test_deep_vs_xgboost_sets_each_deep_model_against_xgboost():
    table = pd.DataFrame(
        {
            "model": ["lstm", "lstm", "atlstm", "xgboost"],
            "subset": ["all", "sm_gt_0.4", "all", "all"],
            "r2": [0.80, -3.0, 0.90, 0.85],
            "rmse": [0.05, 0.09, 0.03, 0.04],
        }
    )
    results = {"lstm": _result([1.0, 0.8, 0.6], 3), "atlstm": _result([1.0, 0.7, 0.75], 2)}
    frame = deep_vs_xgboost(table, results).set_index("model")
    assert list(frame.index) == ["lstm", "atlstm"]
    assert frame.loc["lstm", "r2_minus_xgboost"] == pytest.approx(-0.05) and not frame.loc["lstm", "beats_xgboost"]
    assert frame.loc["atlstm", "beats_xgboost"] and frame.loc["atlstm", "rmse_minus_xgboost"] == pytest.approx(-0.01)
    assert frame.loc["lstm", "still_improving"]
    assert deep_vs_xgboost(table[table["model"] != "xgboost"], results).empty
