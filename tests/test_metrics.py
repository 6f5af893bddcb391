"""Tests of helpers.metrics: hand-computed values, NaN handling, identities, agreement with scipy/pytesmo."""

from __future__ import annotations

import math

import dask.array
import numpy as np
import pytesmo.metrics
import pytest
import xarray as xr
from scipy import stats

from helpers import metrics
from helpers.metrics import (
    MIN_PAIRS,
    SCORES,
    bias,
    n_pairs,
    paired_tests,
    pearson_r,
    r2,
    rmse,
    score_all,
    score_along,
    ubrmse,
)

# d = e - r = [0, -1, 1, -2]; anomalies of e [-1.5, -0.5, 0.5, 1.5], of r [-2, 0, -1, 3]
ESTIMATE = np.array([1.0, 2.0, 3.0, 4.0])
REFERENCE = np.array([1.0, 3.0, 2.0, 6.0])
BY_HAND = {
    "n": 4,
    "r": 7 / math.sqrt(5 * 14),
    "r2": 1 - 6 / 14,
    "rmse": math.sqrt(6 / 4),
    "bias": -0.5,
    "ubrmse": math.sqrt(6 / 4 - 0.25),
}


@pytest.fixture
def series() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    reference = 0.25 + 0.08 * np.sin(np.linspace(0, 12, 400)) + rng.normal(0, 0.02, 400)
    estimate = 0.9 * reference + 0.04 + rng.normal(0, 0.015, 400)
    return estimate, reference


def test_known_values_computed_by_hand():
    assert score_all(ESTIMATE, REFERENCE) == pytest.approx(BY_HAND, rel=1e-12)
    assert list(score_all(ESTIMATE, REFERENCE)) == list(SCORES)
    assert bias(ESTIMATE, REFERENCE) == pytest.approx(-0.5)
    assert rmse(ESTIMATE, REFERENCE) == pytest.approx(BY_HAND["rmse"])
    assert ubrmse(ESTIMATE, REFERENCE) == pytest.approx(BY_HAND["ubrmse"])
    assert pearson_r(ESTIMATE, REFERENCE) == pytest.approx(BY_HAND["r"])
    assert r2(ESTIMATE, REFERENCE) == pytest.approx(BY_HAND["r2"])
    assert n_pairs(ESTIMATE, REFERENCE) == 4


def test_pairs_with_a_nan_are_left_out():
    estimate = np.array([1.0, np.nan, 2.0, 3.0, 9.0, 4.0])
    reference = np.array([1.0, 5.0, 3.0, 2.0, np.inf, 6.0])
    assert n_pairs(estimate, reference) == 4
    assert score_all(estimate, reference) == pytest.approx(BY_HAND)
    # 2-D inputs are flattened
    assert rmse(estimate.reshape(2, 3), reference.reshape(2, 3)) == pytest.approx(BY_HAND["rmse"])


def test_too_few_pairs_or_no_spread_give_nan():
    few = score_all([1.0, 2.0, np.nan], [1.5, 2.5, 3.0])
    assert few["n"] == 2 < MIN_PAIRS
    assert all(math.isnan(few[key]) for key in SCORES if key != "n")
    assert math.isnan(pearson_r([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]))
    assert math.isnan(r2([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]))
    assert rmse([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == pytest.approx(math.sqrt(2 / 3))
    with pytest.raises(ValueError, match="differ in shape"):
        rmse([1.0, 2.0, 3.0], [1.0, 2.0])


def test_ubrmse_and_bias_decompose_rmse(series):
    estimate, reference = series
    assert ubrmse(estimate, reference) ** 2 + bias(estimate, reference) ** 2 == pytest.approx(
        rmse(estimate, reference) ** 2, rel=1e-12
    )
    assert ubrmse(estimate, reference) == pytest.approx(np.std(estimate - reference))


def test_r2_is_one_for_a_perfect_estimate_and_zero_for_the_mean(series):
    _, reference = series
    assert r2(reference, reference) == 1.0
    assert r2(np.full_like(reference, reference.mean()), reference) == pytest.approx(0.0, abs=1e-12)
    assert r2(reference + 1.0, reference) < 0


def test_agreement_with_scipy_and_pytesmo(series):
    estimate, reference = series
    assert pearson_r(estimate, reference) == pytest.approx(stats.pearsonr(estimate, reference)[0], rel=1e-10)
    assert pearson_r(estimate, reference) == pytest.approx(pytesmo.metrics.pearson_r(estimate, reference))
    assert bias(estimate, reference) == pytest.approx(pytesmo.metrics.bias(estimate, reference), rel=1e-10)
    assert rmse(estimate, reference) == pytest.approx(pytesmo.metrics.rmsd(estimate, reference), rel=1e-10)
    assert ubrmse(estimate, reference) == pytest.approx(
        pytesmo.metrics.ubrmsd(estimate, reference), rel=1e-10
    )
    assert r2(estimate, reference) == pytest.approx(
        pytesmo.metrics.nash_sutcliffe(reference, estimate), rel=1e-10
    )


def test_score_along_matches_the_scalar_metrics_per_location(series):
    estimate, reference = series
    rng = np.random.default_rng(0)
    est = np.stack([estimate, estimate[::-1], rng.normal(size=estimate.size)])
    ref = np.stack([reference, reference, reference])
    est[1, :50] = np.nan
    ref[2, 3:] = np.nan  # three pairs left
    time = np.arange(estimate.size)
    est_da = xr.DataArray(est, dims=("station", "time"), coords={"station": ["a", "b", "c"], "time": time})
    ref_da = xr.DataArray(ref, dims=("station", "time"), coords={"station": ["a", "b", "c"], "time": time})
    scores = score_along(est_da, ref_da, "time")
    assert set(scores.data_vars) == set(SCORES)
    assert scores["n"].values.tolist() == [400, 350, 3]
    for i, station in enumerate(["a", "b", "c"]):
        expected = score_all(est[i], ref[i])
        got = {key: scores[key].sel(station=station).item() for key in SCORES}
        assert got == pytest.approx(expected, rel=1e-10, nan_ok=True)
    # NumPy arrays with an axis, and dask-backed DataArrays (lazy), give the same numbers
    from_numpy = score_along(est.T, ref.T, dim=0)
    np.testing.assert_allclose(from_numpy["rmse"].values, scores["rmse"].values)
    lazy = score_along(est_da.chunk({"station": 1}), ref_da.chunk({"station": 1}), "time")
    assert isinstance(lazy["r"].data, dask.array.Array)
    xr.testing.assert_allclose(lazy.compute(), scores)


def test_paired_tests_agree_with_scipy_and_skip_nan():
    rng = np.random.default_rng(5)
    a = rng.normal(0.04, 0.01, 30)
    b = a - rng.normal(0.005, 0.004, 30)
    a[[2, 7]] = np.nan
    result = paired_tests(a, b)
    keep = np.isfinite(a)
    assert result["n_pairs"] == 28
    assert result["t_pvalue"] == pytest.approx(stats.ttest_rel(a[keep], b[keep]).pvalue)
    assert result["wilcoxon_pvalue"] == pytest.approx(stats.wilcoxon(a[keep], b[keep]).pvalue)
    assert result["t_pvalue"] < 0.01
    assert paired_tests(a, a) == {"n_pairs": 28, "t_pvalue": 1.0, "wilcoxon_pvalue": 1.0}
    too_few = paired_tests([1.0, 2.0], [1.5, 2.5])
    assert (
        too_few["n_pairs"] == 2 and math.isnan(too_few["t_pvalue"]) and math.isnan(too_few["wilcoxon_pvalue"])
    )


def test_interval_coverage_counts_references_inside_the_stated_interval():
    estimate = np.array([0.2, 0.2, 0.2, 0.2, np.nan])
    reference = np.array([0.2, 0.25, 0.3, 0.1, 0.2])
    spread = np.full(5, 0.05)
    # |d| = 0, 0.05, 0.1, 0.1 against z * 0.05 with z = 1: inside, inside (edge), out, out
    assert metrics.interval_coverage(estimate, reference, spread, z=1.0) == pytest.approx(0.5)
    assert metrics.interval_coverage(estimate, reference, spread, z=2.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in size"):
        metrics.interval_coverage(estimate, reference, spread[:3])


def test_spread_scale_factor_calibrates_a_too_narrow_gaussian_spread():
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.01, 0.05, 200_000)
    reference = rng.normal(0.0, sigma)
    narrow = sigma / 3  # stated spread three times too small
    factor = metrics.spread_scale_factor(np.zeros_like(sigma), reference, narrow, 0.9)
    assert factor == pytest.approx(3.0, rel=0.02)
    assert metrics.interval_coverage(np.zeros_like(sigma), reference, narrow) == pytest.approx(0.412, abs=0.01)
    assert metrics.interval_coverage(np.zeros_like(sigma), reference, factor * narrow) == pytest.approx(0.9, abs=1e-3)
    with pytest.raises(ValueError, match="level"):
        metrics.spread_scale_factor(sigma, reference, narrow, 1.5)
