"""Tests of the model comparison: one prediction pass feeds every table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_training import CENTRAL, SPLIT, make_params, synthetic_arrays

from helpers import comparison
from helpers.metrics import TRUTH_SKILL_COLUMNS
from helpers.timings import read_timings
from helpers.training import ArraySamples, evaluate

NAMES = ["albedo", "lst", "era5_sm", "elevation", "clay"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    x, y = synthetic_arrays(seed=3)
    samples = ArraySamples(x, y, CENTRAL, SPLIT, NAMES)
    folder = tmp_path_factory.mktemp("comparison")
    params = make_params(folder, max_epochs=3)
    results = comparison.train_all(samples, params, folder, names=["lstm", "xgboost"], progress=False)
    return samples, results


def test_comparison_table_matches_evaluate(trained):
    samples, results = trained
    predictions = comparison.predict_test(results, samples)
    table = comparison.comparison_table(predictions)
    assert list(table.columns) == ["model", "subset", "n", "r", "r2", "rmse", "bias", "ubrmse"]
    assert set(table["model"]) == {"lstm", "xgboost"} and set(table["subset"]) == {"all", "sm_gt_0.4"}
    direct = evaluate(results["lstm"].model, samples, "test")
    pd.testing.assert_frame_equal(table[table["model"] == "lstm"].reset_index(drop=True), direct)
    summary = comparison.training_summary(results).set_index("model")
    assert summary.loc["lstm", "epochs_run"] == len(results["lstm"].history) == 3
    assert 1 <= summary.loc["lstm", "best_epoch"] <= 3 and summary["data_wait_share"].between(0, 1).all()


def test_training_times_go_to_the_timings_not_to_a_table(trained, tmp_path):
    samples, _ = trained
    params = make_params(tmp_path, max_epochs=3)
    comparison.train_all(samples, params, tmp_path, names=["xgboost"], progress=False)
    recorded = read_timings(params)
    assert set(recorded) == {"training"} and set(recorded["training"]) == {"xgboost"}
    assert np.isfinite(recorded["training"]["xgboost"])


def test_truth_skill_scores_every_product_on_the_same_days(trained):
    samples, results = trained
    predictions = comparison.predict_test(results, samples)
    truth = np.where(np.isfinite(predictions.target), predictions.target - 0.01, np.nan)
    table = comparison.truth_skill_table(predictions, truth)
    assert list(table.columns) == list(TRUTH_SKILL_COLUMNS)
    assert set(table["scope"]) == {"test_split"} and table["n"].nunique() == 1
    target_row = table.set_index("product").loc["target (GLASS-MODIS-like)"]
    assert target_row["bias"] == pytest.approx(0.01, abs=1e-6) and target_row["r"] == pytest.approx(1.0)
    era5_row = table.set_index("product").loc["input ERA5-Land-like"]
    assert np.isfinite(era5_row["rmse"])
    pairs = comparison.scatter_pairs(predictions)
    assert pairs["lstm"][0].shape == pairs["xgboost"][1].shape
    assert np.isfinite(pairs["lstm"][0]).all()
