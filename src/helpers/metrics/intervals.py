"""Confidence intervals that respect autocorrelation: effective sample size and block bootstrap.

Daily soil-moisture series are strongly autocorrelated (lag-1 correlations of 0.8-0.95 are
usual), so ``n`` daily pairs carry far less information than ``n`` independent ones and the
i.i.d. intervals that QA4SM and pytesmo report are too narrow. Two remedies:

* **Effective sample size** (:func:`effective_sample_size`): for a statistic whose sampling
  variance behaves like that of a lag-1 autoregressive (AR(1)) series with lag-1
  autocorrelation :math:`\\rho`,

  .. math:: N_\\mathrm{eff} = N \\frac{1 - \\rho}{1 + \\rho}.

  Which :math:`\\rho` applies depends on the statistic (:func:`n_eff_for`): the lag-1
  autocorrelation :math:`\\rho_d` of the differences for the mean difference (bias);
  :math:`\\rho_d^2` for their variance (ubRMSE), because the squared anomalies of an AR(1)
  series are correlated with :math:`\\rho^2` at lag 1; and :math:`\\rho_x \\rho_y` for the
  correlation of two series (Bretherton et al. 1999, J. Climate 12, 1990, their Eq. 31). The
  good-practice code of Gruber et al. (2020) uses one :math:`\\rho`, the geometric mean of
  the series' values, for every metric; for the correlation that is conservative (at
  :math:`\\rho_x = \\rho_y = 0.8` it gives :math:`N/9` where :math:`N/4.6` is right).
  The analytical intervals then take :math:`N_\\mathrm{eff}` in place of :math:`N`: Fisher's
  z for R (:func:`r_interval`), Student's t for the bias (:func:`bias_interval`) and the
  :math:`\\chi` distribution for the ubRMSE (:func:`ubrmse_interval`).
* **Moving-block bootstrap** (:func:`block_bootstrap`): the series is resampled in blocks
  of consecutive days, which keeps the autocorrelation within a block; the block length
  follows Gruber et al. (2020, after Wilks 1997),
  :math:`b = (\\sqrt 6\\,\\rho / (1 - \\rho^2))^{2/3} N^{1/3}` (:func:`block_length`).
  Resampling is seeded, so results repeat exactly (QA4SM's bootstrap is not seeded).

Series may hold NaN (days without a value): autocorrelations use the pairs of consecutive
days that both have one, and the bootstrap resamples calendar days, NaN included, so that a
block is a run of real days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from helpers.metrics.skill import MIN_PAIRS

#: Fewest pairs of consecutive valid days for a lag-1 autocorrelation (NaN below).
MIN_LAG_PAIRS = 10
#: Longest block of the moving-block bootstrap, as a share of the series (Gruber et al. 2020).
MAX_BLOCK_SHARE = 0.8


def lag1_autocorrelation(series: np.ndarray) -> float:
    """Lag-1 autocorrelation of a daily series with gaps: the correlation of consecutive days.

    .. math::

        \\rho_1 = \\frac{\\sum_{(t, t+1)} (x_t - \\bar x_0)(x_{t+1} - \\bar x_1)}
                       {\\sqrt{\\sum_{(t, t+1)} (x_t - \\bar x_0)^2 \\sum_{(t, t+1)} (x_{t+1} - \\bar x_1)^2}}

    over the :math:`P` pairs of consecutive days that both have a value, :math:`\\bar x_0` and
    :math:`\\bar x_1` the means of the first and second days of the pairs. Computed on the pairs
    alone, it stays within [-1, 1] when gaps make the pairs a subset of the days (an estimate
    that divides a covariance of the pairs by the variance of all days does not).

    Parameters
    ----------
    series : array_like
        Values on consecutive days (NaN = no value), flattened.

    Returns
    -------
    float
        In [-1, 1]; NaN with fewer than :data:`MIN_LAG_PAIRS` consecutive pairs or a constant
        series.
    """
    x = np.ravel(np.asarray(series, dtype=float))
    pairs = np.isfinite(x[:-1]) & np.isfinite(x[1:])
    if pairs.sum() < MIN_LAG_PAIRS:
        return np.nan
    first, second = x[:-1][pairs], x[1:][pairs]
    first, second = first - first.mean(), second - second.mean()
    spread = np.sqrt((first**2).sum() * (second**2).sum())
    if spread <= 0:
        return np.nan
    return float(np.clip((first * second).sum() / spread, -1.0, 1.0))


def effective_sample_size(n: float, rho: float) -> float:
    """Effective number of independent values among ``n`` with lag-1 autocorrelation ``rho``.

    .. math:: N_\\mathrm{eff} = N \\frac{1 - \\rho}{1 + \\rho}

    A negative or unknown (NaN) ``rho`` leaves ``n`` unchanged: the correction never claims
    more information than the raw count.

    Returns
    -------
    float
        In (0, n]; 0 for ``n`` = 0.
    """
    if n <= 0:
        return 0.0
    if not np.isfinite(rho) or rho <= 0:
        return float(n)
    rho = min(rho, 1 - 1e-9)
    return float(n * (1 - rho) / (1 + rho))


def n_eff_for(metric: str, n: float, rho_estimate: float, rho_reference: float, rho_difference: float) -> float:
    """The effective sample size behind one metric's interval (see the module docstring).

    Parameters
    ----------
    metric : {"r", "bias", "ubrmse"}
    n : float
        Pairs in the sample.
    rho_estimate, rho_reference, rho_difference : float
        Lag-1 autocorrelations of the estimate, the reference and their difference.

    Returns
    -------
    float
        :func:`effective_sample_size` with :math:`\\rho_x \\rho_y` (``r``), :math:`\\rho_d`
        (``bias``) or :math:`\\rho_d^2` (``ubrmse``).
    """
    if metric == "r":
        rho = rho_estimate * rho_reference
    elif metric == "bias":
        rho = rho_difference
    elif metric == "ubrmse":
        rho = rho_difference**2
    else:
        raise ValueError(f"no effective sample size rule for metric {metric!r} (r, bias, ubrmse)")
    return effective_sample_size(n, rho)


def _quantile(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return float(stats.norm.ppf((1 + level) / 2))


def r_interval(r: float, n_eff: float, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a Pearson correlation by Fisher's z transform.

    .. math:: \\tanh\\left(\\operatorname{artanh} r \\pm \\frac{z_{(1+\\ell)/2}}{\\sqrt{N_\\mathrm{eff} - 3}}\\right)

    Returns
    -------
    (low, high)
        NaN when ``r`` is NaN or ``n_eff`` <= 3.
    """
    q = _quantile(level)
    if not np.isfinite(r) or n_eff <= 3:
        return np.nan, np.nan
    z = np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12))
    half = q / np.sqrt(n_eff - 3)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def bias_interval(bias: float, sd_difference: float, n_eff: float, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a mean difference by Student's t.

    .. math:: \\bar d \\pm t_{(1+\\ell)/2,\\,N_\\mathrm{eff}-1} \\frac{s_d}{\\sqrt{N_\\mathrm{eff}}}

    with :math:`s_d` the standard deviation of the differences (ddof 1).

    Returns
    -------
    (low, high)
        NaN when an input is NaN or ``n_eff`` <= 1.
    """
    _quantile(level)
    if not (np.isfinite(bias) and np.isfinite(sd_difference)) or n_eff <= 1:
        return np.nan, np.nan
    half = stats.t.ppf((1 + level) / 2, n_eff - 1) * sd_difference / np.sqrt(n_eff)
    return float(bias - half), float(bias + half)


def ubrmse_interval(ubrmse: float, n_eff: float, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the ubRMSE (a standard deviation) by the chi distribution.

    .. math::

        \\left[\\mathrm{ubRMSE} \\sqrt{\\frac{N_\\mathrm{eff}}{\\chi^2_{(1+\\ell)/2,\\,\\nu}}},\\;
               \\mathrm{ubRMSE} \\sqrt{\\frac{N_\\mathrm{eff}}{\\chi^2_{(1-\\ell)/2,\\,\\nu}}}\\right],
        \\qquad \\nu = N_\\mathrm{eff} - 1

    The ubRMSE is a standard deviation with ddof 0, so :math:`N \\mathrm{ubRMSE}^2 / \\sigma^2`
    follows :math:`\\chi^2_{N-1}`; with :math:`N_\\mathrm{eff} = N` this is pytesmo's
    ``ubrmsd_ci``.

    Returns
    -------
    (low, high)
        NaN when ``ubrmse`` is NaN or ``n_eff`` <= 1.
    """
    _quantile(level)
    if not np.isfinite(ubrmse) or n_eff <= 1:
        return np.nan, np.nan
    dof = n_eff - 1
    low = ubrmse * np.sqrt(n_eff / stats.chi2.ppf((1 + level) / 2, dof))
    high = ubrmse * np.sqrt(n_eff / stats.chi2.ppf((1 - level) / 2, dof))
    return float(low), float(high)


def block_length(n: int, rho: float) -> int:
    """Block length of the moving-block bootstrap (Gruber et al. 2020, after Wilks 1997).

    .. math:: b = \\operatorname{round}\\left(\\left(\\frac{\\sqrt 6\\,\\rho}{1 - \\rho^2}\\right)^{2/3} N^{1/3}\\right)

    at least 1 and at most :data:`MAX_BLOCK_SHARE` of ``n``; 1 (the i.i.d. bootstrap) for a
    negative or unknown ``rho``.
    """
    if n < 1:
        raise ValueError(f"block_length needs a series of at least one value, got n={n}")
    if not np.isfinite(rho) or rho <= 0:
        return 1
    rho = min(rho, 1 - 1e-6)
    length = round((np.sqrt(6) * rho / (1 - rho**2)) ** (2 / 3) * n ** (1 / 3))
    return int(min(max(length, 1), max(1, int(MAX_BLOCK_SHARE * n))))


def moving_block_starts(n: int, block: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Start positions of the blocks of moving-block bootstrap resamples of ``n`` values.

    Each resample joins ``ceil(n / block)`` blocks of ``block`` consecutive positions, each
    starting at a position drawn uniformly from ``0 .. n - block``, and is cut to ``n`` (its
    last block is shorter when ``block`` does not divide ``n``).

    Returns
    -------
    numpy.ndarray
        Shape (n_resamples, ceil(n / block)), int.
    """
    if not 1 <= block <= n:
        raise ValueError(f"block length {block} must lie in 1..{n}")
    return rng.integers(0, n - block + 1, size=(n_resamples, -(-n // block)))


def moving_block_indices(n: int, block: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of moving-block bootstrap resamples of a series of ``n`` values
    (:func:`moving_block_starts`, expanded).

    Returns
    -------
    numpy.ndarray
        Shape (n_resamples, n), int.
    """
    starts = moving_block_starts(n, block, n_resamples, rng)
    indices = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_resamples, -1)
    return indices[:, :n]


def block_resample_sums(daily: np.ndarray, block: int, starts: np.ndarray) -> np.ndarray:
    """Sums of daily quantities over each moving-block resample, without building the resamples.

    The sum of a quantity over a resample is the sum, over its blocks, of the block sums, each
    the difference of two cumulative sums: exact, and ``block`` times cheaper than summing the
    resampled series. The resamples are those of :func:`moving_block_indices` for the same
    ``starts``.

    Parameters
    ----------
    daily : numpy.ndarray
        (quantities, n) values per day, finite (zero the days that do not count).
    block : int
        Block length.
    starts : numpy.ndarray
        (n_resamples, blocks) from :func:`moving_block_starts`.

    Returns
    -------
    numpy.ndarray
        (n_resamples, quantities) float64.
    """
    daily = np.atleast_2d(np.asarray(daily, dtype=np.float64))
    n = daily.shape[1]
    cumulative = np.concatenate([np.zeros((daily.shape[0], 1)), np.cumsum(daily, axis=1)], axis=1)
    lengths = np.full(starts.shape[1], block)
    lengths[-1] = n - block * (starts.shape[1] - 1)
    ends = starts + lengths[None, :]
    return (cumulative[:, ends] - cumulative[:, starts]).sum(axis=-1).T


def block_bootstrap(
    statistic: Callable[..., np.ndarray],
    series: Sequence[np.ndarray],
    block: int,
    n_resamples: int,
    seed: int,
) -> np.ndarray:
    """Replicates of a statistic under the moving-block bootstrap.

    Parameters
    ----------
    statistic : callable
        Takes the resampled series, each (n_resamples, n), and returns (n_resamples,) values
        (e.g. ``lambda e, r: np.sqrt(np.nanmean((e - r) ** 2, axis=-1))``).
    series : sequence of arrays
        Series on the same consecutive days, each (n,); all are resampled with the same
        indices, so paired quantities stay paired.
    block : int
        Block length (:func:`block_length`).
    n_resamples : int
        Number of resamples.
    seed : int
        Seed of the resampling: the same seed gives the same replicates.

    Returns
    -------
    numpy.ndarray
        (n_resamples,) replicates.
    """
    arrays = [np.asarray(s, dtype=float) for s in series]
    n = arrays[0].size
    if any(a.shape != (n,) for a in arrays):
        raise ValueError(f"series must be 1-D and equally long, got shapes {[a.shape for a in arrays]}")
    indices = moving_block_indices(n, block, n_resamples, np.random.default_rng(seed))
    return np.asarray(statistic(*(a[indices] for a in arrays)), dtype=float)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates left out).

    Returns
    -------
    (low, high)
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles; NaN with fewer than
        :data:`MIN_PAIRS` finite replicates.
    """
    _quantile(level)
    finite = np.asarray(replicates, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size < MIN_PAIRS:
        return np.nan, np.nan
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
