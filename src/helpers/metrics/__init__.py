"""Metrics: small pure functions, each with its formula in its docstring.

User guide
----------
Every skill metric takes an ``estimate`` (the product or model) and a ``reference`` (the
target, a station, the twin truth) of the same shape and returns one float::

    from helpers.metrics import pearson_r, rmse, score_all

    rmse(model_sm, target_sm)            # m3 m-3
    score_all(model_sm, target_sm)       # {"n", "r", "r2", "rmse", "bias", "ubrmse"}

Pairs where either value is NaN (or infinite) are left out; the sign convention is estimate
minus reference (a positive bias is a wet estimate). The rooms:

* :mod:`~helpers.metrics.skill`: R, R², bias, RMSE, ubRMSE (scalar, per row, along a
  dimension of xarray objects), and the coverage of a stated uncertainty interval.
* :mod:`~helpers.metrics.intervals`: lag-1 autocorrelation, effective sample size,
  confidence intervals of R, bias and ubRMSE with it, and the seeded moving-block bootstrap.
* :mod:`~helpers.metrics.differences`: tests of differences between products, across
  stations (paired t, Wilcoxon) and at one station (dependent correlations, bootstrap), and
  the false-discovery-rate correction.
* :mod:`~helpers.metrics.collocation`: triple collocation.

Everything public is importable from ``helpers.metrics`` directly.
"""

from helpers.metrics.collocation import regression_error_std, triple_collocation, triple_collocation_from_sums
from helpers.metrics.differences import (
    benjamini_hochberg,
    bootstrap_pvalue,
    dependent_correlation_test,
    paired_tests,
)
from helpers.metrics.intervals import (
    bias_interval,
    block_bootstrap,
    block_length,
    block_resample_sums,
    effective_sample_size,
    lag1_autocorrelation,
    moving_block_indices,
    moving_block_starts,
    n_eff_for,
    percentile_interval,
    r_interval,
    ubrmse_interval,
)
from helpers.metrics.skill import (
    KERNELS,
    MIN_PAIRS,
    SCORES,
    TRUTH_SKILL_COLUMNS,
    Z_90,
    bias,
    interval_coverage,
    n_pairs,
    pearson_r,
    r2,
    rmse,
    score_all,
    score_along,
    scores_from_sums,
    spread_scale_factor,
    ubrmse,
)

__all__ = [
    "KERNELS",
    "MIN_PAIRS",
    "SCORES",
    "TRUTH_SKILL_COLUMNS",
    "Z_90",
    "benjamini_hochberg",
    "bias",
    "bias_interval",
    "block_bootstrap",
    "block_length",
    "block_resample_sums",
    "bootstrap_pvalue",
    "dependent_correlation_test",
    "effective_sample_size",
    "interval_coverage",
    "lag1_autocorrelation",
    "moving_block_indices",
    "moving_block_starts",
    "n_eff_for",
    "n_pairs",
    "paired_tests",
    "pearson_r",
    "percentile_interval",
    "r2",
    "r_interval",
    "regression_error_std",
    "rmse",
    "score_all",
    "score_along",
    "scores_from_sums",
    "spread_scale_factor",
    "triple_collocation",
    "triple_collocation_from_sums",
    "ubrmse",
    "ubrmse_interval",
]
