"""Autocorrelation-aware intervals, tests of differences and triple collocation (helpers.metrics).

The coverage tests simulate AR(1) series with lag-1 autocorrelation 0.8, as daily soil moisture
is: an interval that ignores the autocorrelation must under-cover there, the corrected one not.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from helpers import metrics

RHO = 0.8


def ar1(rng: np.random.Generator, n: int, size: int, rho: float = RHO) -> np.ndarray:
    """(size, n) unit-variance AR(1) series, stationary from the first day."""
    e = rng.standard_normal((size, n))
    return signal.lfilter([1.0], [1.0, -rho], e * np.sqrt(1 - rho**2), axis=1, zi=e[:, :1] * rho)[0]


def test_lag1_autocorrelation_of_an_ar1_series_with_gaps():
    rng = np.random.default_rng(0)
    x = ar1(rng, 20_000, 1)[0]
    x[rng.random(x.size) < 0.3] = np.nan
    assert metrics.lag1_autocorrelation(x) == pytest.approx(RHO, abs=0.02)
    assert np.isnan(metrics.lag1_autocorrelation(np.array([1.0, np.nan] * 30)))  # no consecutive pair
    assert metrics.lag1_autocorrelation(rng.standard_normal(20_000)) == pytest.approx(0, abs=0.03)


def test_effective_sample_size_and_the_rule_per_metric():
    assert metrics.effective_sample_size(900, 0.8) == pytest.approx(100)
    assert metrics.effective_sample_size(900, -0.3) == 900  # never more than n
    assert metrics.effective_sample_size(900, np.nan) == 900
    assert metrics.n_eff_for("r", 900, 0.8, 0.8, 0.5) == pytest.approx(900 * 0.36 / 1.64)
    assert metrics.n_eff_for("bias", 900, 0.1, 0.1, 0.8) == pytest.approx(100)
    assert metrics.n_eff_for("ubrmse", 900, 0.1, 0.1, 0.8) == pytest.approx(900 * 0.36 / 1.64)
    with pytest.raises(ValueError, match="rmse"):
        metrics.n_eff_for("rmse", 900, 0.8, 0.8, 0.8)


def test_n_eff_intervals_cover_about_95_percent_where_iid_ones_under_cover():
    rng = np.random.default_rng(1)
    n, sims, true_r = 500, 300, 0.6
    signal_, e1, e2 = ar1(rng, n, sims), ar1(rng, n, sims), ar1(rng, n, sims)
    x = np.sqrt(true_r) * signal_ + np.sqrt(1 - true_r) * e1
    y = np.sqrt(true_r) * signal_ + np.sqrt(1 - true_r) * e2
    true_ubrmse = np.sqrt(2 * (1 - true_r))
    hits = {name: [0, 0] for name in ("r", "bias", "ubrmse")}
    for xi, yi in zip(x, y, strict=True):
        d = xi - yi
        rhos = [metrics.lag1_autocorrelation(v) for v in (xi, yi, d)]
        for k, size in enumerate((None, n)):
            n_eff = {name: size or metrics.n_eff_for(name, n, *rhos) for name in hits}
            low, high = metrics.r_interval(metrics.pearson_r(xi, yi), n_eff["r"])
            hits["r"][k] += low <= true_r <= high
            low, high = metrics.bias_interval(d.mean(), d.std(ddof=1), n_eff["bias"])
            hits["bias"][k] += low <= 0 <= high
            low, high = metrics.ubrmse_interval(metrics.ubrmse(xi, yi), n_eff["ubrmse"])
            hits["ubrmse"][k] += low <= true_ubrmse <= high
    for name, (corrected, iid) in hits.items():
        assert 0.89 <= corrected / sims <= 0.99, (name, corrected / sims)
        assert iid / sims < 0.75, (name, iid / sims)


def test_block_bootstrap_covers_the_rmse_where_the_iid_bootstrap_does_not():
    rng = np.random.default_rng(2)
    n, sims = 1000, 200
    differences = 0.05 + 0.1 * ar1(rng, n, sims)
    true_rmse = np.hypot(0.05, 0.1)

    def rmse_rows(d: np.ndarray) -> np.ndarray:
        return np.sqrt(np.mean(d**2, axis=-1))

    hits = [0, 0]
    for i, d in enumerate(differences):
        block = metrics.block_length(n, metrics.lag1_autocorrelation(d))
        assert 20 <= block <= 40
        for k, length in enumerate((block, 1)):
            replicates = metrics.block_bootstrap(rmse_rows, [d], length, 400, seed=i)
            low, high = metrics.percentile_interval(replicates)
            hits[k] += low <= true_rmse <= high
    assert hits[0] / sims >= 0.82, hits
    assert hits[1] / sims <= 0.65, hits


def test_block_bootstrap_is_seeded_and_keeps_pairs_together():
    x = np.arange(50, dtype=float)
    pairs = metrics.block_bootstrap(lambda a, b: (a - b).std(axis=-1), [x, x + 1], 5, 20, seed=3)
    np.testing.assert_array_equal(pairs, 0)  # the two series resampled with the same indices
    first = metrics.block_bootstrap(lambda a: a.mean(axis=-1), [x], 5, 20, seed=3)
    np.testing.assert_array_equal(first, metrics.block_bootstrap(lambda a: a.mean(axis=-1), [x], 5, 20, seed=3))
    assert not np.array_equal(first, metrics.block_bootstrap(lambda a: a.mean(axis=-1), [x], 5, 20, seed=4))
    indices = metrics.moving_block_indices(50, 5, 10, np.random.default_rng(0))
    assert indices.shape == (10, 50) and (np.diff(indices[:, :5], axis=1) == 1).all()
    assert metrics.block_length(1000, 0.0) == 1 and metrics.block_length(10, 0.999) == 8


def test_dependent_correlation_test_holds_its_size_only_with_the_effective_sample_size():
    rng = np.random.default_rng(4)
    n, sims = 730, 300
    common = ar1(rng, n, sims)
    reference = common + ar1(rng, n, sims)
    a, b = common + 0.7 * ar1(rng, n, sims), common + 0.7 * ar1(rng, n, sims)
    rejected = [0, 0]
    for ref, x, y in zip(reference, a, b, strict=True):
        rs = metrics.pearson_r(x, ref), metrics.pearson_r(y, ref), metrics.pearson_r(x, y)
        rho = metrics.lag1_autocorrelation(ref) * np.sqrt(
            metrics.lag1_autocorrelation(x) * metrics.lag1_autocorrelation(y)
        )
        for k, size in enumerate((metrics.effective_sample_size(n, rho), n)):
            rejected[k] += metrics.dependent_correlation_test(*rs, size)[1] < 0.05
    assert rejected[0] / sims <= 0.09, rejected
    assert rejected[1] / sims >= 0.2, rejected
    # a truly better product is found
    better = common[0] + 0.1 * ar1(rng, n, 1)[0]
    rs = (metrics.pearson_r(better, reference[0]), metrics.pearson_r(b[0], reference[0]), metrics.pearson_r(better, b[0]))
    t, p = metrics.dependent_correlation_test(*rs, metrics.effective_sample_size(n, RHO**2))
    assert t > 0 and p < 0.05


def test_bootstrap_pvalue_and_benjamini_hochberg():
    assert metrics.bootstrap_pvalue(np.full(999, 0.3)) == pytest.approx(2 / 1000)
    assert metrics.bootstrap_pvalue(np.linspace(-1, 1, 1001)) == pytest.approx(1.0)
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, np.nan])
    rejected, adjusted = metrics.benjamini_hochberg(p, q=0.05)
    assert rejected.tolist() == [True, True, False, False, False, False, False, False, False]
    assert adjusted[0] == pytest.approx(0.008) and np.isnan(adjusted[-1])
    assert (adjusted[:-1] >= p[:-1]).all()


def test_triple_collocation_recovers_known_error_variances():
    rng = np.random.default_rng(5)
    n = 200_000
    truth = ar1(rng, n, 1)[0] * 0.08 + 0.25
    x = truth + 0.02 * rng.standard_normal(n)
    y = 0.1 + 0.7 * truth + 0.03 * rng.standard_normal(n)
    z = 1.3 * truth + 0.05 * rng.standard_normal(n)
    result = metrics.triple_collocation(x, y, z)
    assert result["n"] == n
    for member, sigma in (("x", 0.02), ("y", 0.03), ("z", 0.05)):
        assert result[f"err_std_{member}"] == pytest.approx(sigma, rel=0.03)
    signal_x = 0.08**2
    assert result["snr_db_x"] == pytest.approx(10 * np.log10(signal_x / 0.02**2), abs=0.1)
    assert metrics.regression_error_std(y, truth) == pytest.approx(0.03, rel=0.02)
    # a member that shares no signal with the others: nothing of it is explained
    unrelated = metrics.triple_collocation(x, y, rng.standard_normal(n))
    assert not unrelated["r2_z"] > 0.01


def test_triple_collocation_reports_a_negative_error_variance_instead_of_hiding_it():
    truth = np.random.default_rng(6).standard_normal(50)
    x = truth.copy()  # error-free: the estimate of its error variance falls below 0 half the time
    negatives = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        result = metrics.triple_collocation(x, truth + rng.standard_normal(50), truth + rng.standard_normal(50))
        negatives += bool(result["negative_variance_x"])
        assert np.isnan(result["err_std_x"]) == bool(result["negative_variance_x"])
    assert 5 <= negatives <= 35


def test_iid_intervals_equal_pytesmos():
    from pytesmo.metrics import pairwise

    rng = np.random.default_rng(7)
    x = rng.random(200)
    y = x + 0.1 * rng.standard_normal(200)
    n = x.size
    r, b, u = metrics.pearson_r(y, x), metrics.bias(x, y), metrics.ubrmse(x, y)
    np.testing.assert_allclose(metrics.r_interval(r, n), pairwise.pearson_r_ci(x, y, r), rtol=1e-12)
    np.testing.assert_allclose(metrics.bias_interval(b, np.std(x - y, ddof=1), n), pairwise.bias_ci(x, y, b), rtol=1e-12)
    np.testing.assert_allclose(metrics.ubrmse_interval(u, n), pairwise.ubrmsd_ci(x, y, u), rtol=1e-12)
