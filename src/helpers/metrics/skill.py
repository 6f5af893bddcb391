"""Skill metrics: small pure functions, each with its formula, and their vectorised forms.

Every metric takes an ``estimate`` (the product or model) and a ``reference`` (the target,
a station, the twin truth) of the same shape and returns one float::

    from helpers.metrics import pearson_r, rmse, score_all

    rmse(model_sm, target_sm)            # m3 m-3
    score_all(model_sm, target_sm)       # {"n", "r", "r2", "rmse", "bias", "ubrmse"}

Pairs where either value is NaN (or infinite) are left out. With fewer than
:data:`MIN_PAIRS` pairs left, every metric is NaN (``n_pairs`` still counts them); so are
``pearson_r`` when either series has no spread and ``r2`` when the reference has none.
The sign convention is estimate minus reference: a positive bias is a wet estimate.

:func:`score_all` gives the columns of ``tables/model_comparison.csv`` and
``tables/truth_skill.csv``. :func:`score_along` computes the same metrics along one dimension
of NumPy or xarray arrays (e.g. along ``time`` for every station or pixel) and returns an
``xarray.Dataset`` with one variable per metric; dask-backed inputs stay lazy.
:func:`scores_from_sums` computes the same metrics from sums over the valid pairs (for the
resamples of a bootstrap).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr
from scipy import stats

#: Fewest valid pairs for which a metric is computed (NaN below).
MIN_PAIRS = 3
#: Names of the metrics returned by :func:`score_all` and :func:`score_along`, in table order.
SCORES = ("n", "r", "r2", "rmse", "bias", "ubrmse")
#: Columns of ``tables/truth_skill.csv``: the contract's ``product, r, bias, ubrmse, rmse`` with
#: where each row was scored (``scope``: ``test_split`` in notebook 02, ``product`` for the
#: whole daily product in notebook 04), its ``year`` and ``climate`` group (``all``: pooled),
#: the pixel-days ``n`` and, for an estimate with an uncertainty, the share of true values
#: inside its stated 90 % interval.
TRUTH_SKILL_COLUMNS = (
    "product",
    "scope",
    "year",
    "climate",
    "n",
    "r",
    "bias",
    "ubrmse",
    "rmse",
    "coverage_90",
)

Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


# Vectorised kernels: along the last axis, on (estimate, reference, valid) -----------------


def _valid_pairs(estimate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float arrays with invalid pairs zeroed, and the mask of valid pairs."""
    estimate = np.asarray(estimate, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if estimate.shape != reference.shape:
        raise ValueError(f"estimate and reference differ in shape: {estimate.shape} vs {reference.shape}")
    valid = np.isfinite(estimate) & np.isfinite(reference)
    return np.where(valid, estimate, 0.0), np.where(valid, reference, 0.0), valid


def _count(valid: np.ndarray) -> np.ndarray:
    return valid.sum(axis=-1, dtype=np.int64)


def _mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean of the valid values (NaN below MIN_PAIRS)."""
    n = _count(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=-1) / n
    return np.where(n >= MIN_PAIRS, mean, np.nan)


def _anomalies(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Departures from the mean of the valid values, zero on invalid pairs."""
    return np.where(valid, values - _mean(values, valid)[..., None], 0.0)


def _bias(estimate: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return _mean(estimate - reference, valid)


def _rmse(estimate: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.sqrt(_mean((estimate - reference) ** 2, valid))


def _ubrmse(estimate: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.sqrt(_mean(_anomalies(estimate - reference, valid) ** 2, valid))


def _pearson_r(estimate: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    est, ref = _anomalies(estimate, valid), _anomalies(reference, valid)
    spread = np.sqrt((est**2).sum(axis=-1) * (ref**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (est * ref).sum(axis=-1) / spread
    return np.where(spread > 0, np.clip(r, -1.0, 1.0), np.nan)


def _r2(estimate: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> np.ndarray:
    sse = ((estimate - reference) ** 2).sum(axis=-1)
    sst = (_anomalies(reference, valid) ** 2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - sse / sst
    return np.where(sst > 0, r2, np.nan)


KERNELS: dict[str, Kernel] = {
    "r": _pearson_r,
    "r2": _r2,
    "rmse": _rmse,
    "bias": _bias,
    "ubrmse": _ubrmse,
}


def _scalar(kernel: Kernel, estimate: np.ndarray, reference: np.ndarray) -> float:
    est, ref, valid = _valid_pairs(np.ravel(estimate), np.ravel(reference))
    return float(kernel(est, ref, valid))


# The metrics ---------------------------------------------------------------------------


def n_pairs(estimate: np.ndarray, reference: np.ndarray) -> int:
    """Number of pairs where both values are finite.

    Parameters
    ----------
    estimate, reference : array_like
        Same shape; flattened.

    Returns
    -------
    int
    """
    return int(_valid_pairs(np.ravel(estimate), np.ravel(reference))[2].sum())


def bias(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Mean difference, estimate minus reference.

    .. math:: \\mathrm{bias} = \\frac{1}{n} \\sum_i (e_i - r_i)

    Parameters
    ----------
    estimate, reference : array_like
        Same shape; flattened; pairs with a NaN are left out.

    Returns
    -------
    float
        In the units of the inputs; NaN with fewer than :data:`MIN_PAIRS` pairs.
    """
    return _scalar(_bias, estimate, reference)


def rmse(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Root-mean-square error.

    .. math:: \\mathrm{RMSE} = \\sqrt{\\frac{1}{n} \\sum_i (e_i - r_i)^2}

    Parameters
    ----------
    estimate, reference : array_like
        Same shape; flattened; pairs with a NaN are left out.

    Returns
    -------
    float
        In the units of the inputs; NaN with fewer than :data:`MIN_PAIRS` pairs.
    """
    return _scalar(_rmse, estimate, reference)


def ubrmse(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Unbiased RMSE: the RMSE left once the mean difference is removed.

    .. math::

        \\mathrm{ubRMSE} = \\sqrt{\\frac{1}{n} \\sum_i \\left((e_i - \\bar e) - (r_i - \\bar r)\\right)^2}
                        = \\sqrt{\\mathrm{RMSE}^2 - \\mathrm{bias}^2}

    Computed in the first form (no cancellation); it equals the population standard
    deviation (ddof 0) of the differences.

    Parameters
    ----------
    estimate, reference : array_like
        Same shape; flattened; pairs with a NaN are left out.

    Returns
    -------
    float
        In the units of the inputs; NaN with fewer than :data:`MIN_PAIRS` pairs.
    """
    return _scalar(_ubrmse, estimate, reference)


def pearson_r(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Pearson correlation coefficient.

    .. math::

        R = \\frac{\\sum_i (e_i - \\bar e)(r_i - \\bar r)}
                 {\\sqrt{\\sum_i (e_i - \\bar e)^2 \\sum_i (r_i - \\bar r)^2}}

    Parameters
    ----------
    estimate, reference : array_like
        Same shape; flattened; pairs with a NaN are left out.

    Returns
    -------
    float
        In [-1, 1]; NaN with fewer than :data:`MIN_PAIRS` pairs or when either series is
        constant.
    """
    return _scalar(_pearson_r, estimate, reference)


def r2(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Coefficient of determination of the estimate against the reference.

    .. math::

        R^2 = 1 - \\frac{\\sum_i (e_i - r_i)^2}{\\sum_i (r_i - \\bar r)^2}

    The score of model comparison (the Nash-Sutcliffe efficiency of hydrology, scikit-learn's
    ``r2_score(reference, estimate)``), not the square of :func:`pearson_r`: a perfect
    estimate scores 1, the reference's own mean 0, and a worse estimate is negative.

    Parameters
    ----------
    estimate, reference : array_like
        Same shape; flattened; pairs with a NaN are left out.

    Returns
    -------
    float
        At most 1; NaN with fewer than :data:`MIN_PAIRS` pairs or a constant reference.
    """
    return _scalar(_r2, estimate, reference)


def score_all(estimate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Every metric at once, keyed as the columns of the skill tables.

    Parameters
    ----------
    estimate, reference : array_like
        Same shape; flattened; pairs with a NaN are left out.

    Returns
    -------
    dict
        ``n`` (int, :func:`n_pairs`), ``r`` (:func:`pearson_r`), ``r2`` (:func:`r2`),
        ``rmse``, ``bias``, ``ubrmse``, in that order.
    """
    est, ref, valid = _valid_pairs(np.ravel(estimate), np.ravel(reference))
    return {"n": int(valid.sum())} | {
        name: float(kernel(est, ref, valid)) for name, kernel in KERNELS.items()
    }


def scores_from_sums(
    n: np.ndarray, s_e: np.ndarray, s_r: np.ndarray, s_ee: np.ndarray, s_rr: np.ndarray, s_er: np.ndarray
) -> dict[str, np.ndarray]:
    """``r``, ``bias``, ``ubrmse`` and ``rmse`` from the sums over valid pairs.

    With :math:`n` pairs, :math:`S_e = \\sum e`, :math:`S_r = \\sum r`, :math:`S_{ee}`,
    :math:`S_{rr}`, :math:`S_{er}` the sums of squares and products (any array shape):

    .. math::

        \\mathrm{bias} = \\frac{S_e - S_r}{n}, \\quad
        \\mathrm{RMSE}^2 = \\frac{S_{ee} - 2 S_{er} + S_{rr}}{n}, \\quad
        \\mathrm{ubRMSE}^2 = \\mathrm{RMSE}^2 - \\mathrm{bias}^2, \\quad
        R = \\frac{n S_{er} - S_e S_r}{\\sqrt{(n S_{ee} - S_e^2)(n S_{rr} - S_r^2)}}

    the formulas of :func:`bias`, :func:`rmse`, :func:`ubrmse` and :func:`pearson_r` (for the
    sums of a bootstrap resample, :func:`helpers.metrics.intervals.block_resample_sums`).
    NaN where :math:`n` < :data:`MIN_PAIRS` (``r`` also without spread).
    """
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_e, mean_r = s_e / n, s_r / n
        var_e, var_r = s_ee / n - mean_e**2, s_rr / n - mean_r**2
        cov = s_er / n - mean_e * mean_r
        bias_ = mean_e - mean_r
        variance = np.maximum(var_e + var_r - 2 * cov, 0)
        r = np.where((var_e > 0) & (var_r > 0), np.clip(cov / np.sqrt(var_e * var_r), -1, 1), np.nan)
    enough = n >= MIN_PAIRS
    return {
        "r": np.where(enough, r, np.nan),
        "bias": np.where(enough, bias_, np.nan),
        "ubrmse": np.where(enough, np.sqrt(variance), np.nan),
        "rmse": np.where(enough, np.sqrt(variance + bias_**2), np.nan),
    }


def _scores_last_axis(estimate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, ...]:
    est, ref, valid = _valid_pairs(estimate, reference)
    return (_count(valid), *(kernel(est, ref, valid) for kernel in KERNELS.values()))


def score_along(
    estimate: xr.DataArray | np.ndarray, reference: xr.DataArray | np.ndarray, dim: str | int = "time"
) -> xr.Dataset:
    """Every metric along one dimension, e.g. over time for each station or pixel.

    Parameters
    ----------
    estimate, reference : xarray.DataArray or numpy.ndarray
        DataArrays are aligned by xarray (coordinates must match exactly, other dimensions
        broadcast) and may be dask-backed (the result is then lazy, one task per chunk; the
        reduced dimension must be a single chunk). NumPy arrays must have the same shape.
    dim : str or int
        The dimension reduced: a name for DataArrays, an axis for NumPy arrays (the result's
        dimensions are then xarray's defaults ``dim_0``, ``dim_1`` ... of the others).

    Returns
    -------
    xarray.Dataset
        Variables ``n`` (int), ``r``, ``r2``, ``rmse``, ``bias``, ``ubrmse``, each over the
        remaining dimensions, with the formulas of the scalar functions of this module.
    """
    if not isinstance(estimate, xr.DataArray) or not isinstance(reference, xr.DataArray):
        if isinstance(estimate, xr.DataArray) or isinstance(reference, xr.DataArray):
            raise TypeError("estimate and reference must both be DataArrays or both be NumPy arrays")
        estimate, reference = np.asarray(estimate), np.asarray(reference)
        if estimate.shape != reference.shape:
            raise ValueError(f"estimate and reference differ in shape: {estimate.shape} vs {reference.shape}")
        if not isinstance(dim, int | np.integer):
            raise TypeError(f"dim must be an axis (int) for NumPy arrays, got {dim!r}")
        dim = f"dim_{int(dim) % estimate.ndim}"
        estimate, reference = xr.DataArray(estimate), xr.DataArray(reference)
    if dim not in estimate.dims or dim not in reference.dims:
        raise ValueError(f"dimension {dim!r} is not in both inputs ({estimate.dims}, {reference.dims})")
    results = xr.apply_ufunc(
        _scores_last_axis,
        estimate,
        reference,
        input_core_dims=[[dim], [dim]],
        output_core_dims=[[] for _ in SCORES],
        dask="parallelized",
        output_dtypes=[np.int64] + [float] * len(KERNELS),
    )
    return xr.Dataset(dict(zip(SCORES, results, strict=True)))


# Uncertainty: coverage of a stated interval -------------------------------------------------

#: Half-width, in standard deviations, of the central 90 % interval of a Gaussian.
Z_90 = float(stats.norm.ppf(0.95))


def interval_coverage(
    estimate: np.ndarray, reference: np.ndarray, spread: np.ndarray, z: float = Z_90
) -> float:
    r"""Share of reference values inside the stated interval :math:`x_i \pm z\,\sigma_i`.

    .. math:: C = \frac{1}{n} \sum_{i=1}^{n} \mathbf{1}\left[\,|x_i - y_i| \le z\,\sigma_i\,\right]

    with estimate :math:`x`, reference :math:`y` and stated standard deviation
    :math:`\sigma`. With the default :data:`Z_90` a calibrated :math:`\sigma` gives
    :math:`C \approx 0.9`. Triples with a NaN (or a negative spread) are left out; NaN with
    fewer than :data:`MIN_PAIRS` left.
    """
    est, ref, sig = (np.ravel(np.asarray(a, dtype=float)) for a in (estimate, reference, spread))
    if not est.shape == ref.shape == sig.shape:
        raise ValueError(
            f"estimate, reference and spread differ in size: {est.shape}, {ref.shape}, {sig.shape}"
        )
    valid = np.isfinite(est) & np.isfinite(ref) & np.isfinite(sig) & (sig >= 0)
    if valid.sum() < MIN_PAIRS:
        return np.nan
    return float(np.mean(np.abs(est[valid] - ref[valid]) <= z * sig[valid]))


def spread_scale_factor(
    estimate: np.ndarray, reference: np.ndarray, spread: np.ndarray, level: float = 0.9
) -> float:
    r"""The factor :math:`k` that makes :math:`x_i \pm z\,k\,\sigma_i` cover a share ``level``.

    .. math:: k = Q_{\text{level}}\left(\frac{|x_i - y_i|}{z\,\sigma_i}\right),
              \qquad z = \Phi^{-1}\left(\tfrac{1 + \text{level}}{2}\right)

    the empirical quantile of the standardised absolute errors, so that
    :func:`interval_coverage` with spread :math:`k\sigma` and this :math:`z` equals ``level``
    on the data it was fitted on (up to ties). Triples with a NaN, or a spread that is not
    positive, are left out; NaN with fewer than :data:`MIN_PAIRS` left.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    est, ref, sig = (np.ravel(np.asarray(a, dtype=float)) for a in (estimate, reference, spread))
    valid = np.isfinite(est) & np.isfinite(ref) & np.isfinite(sig) & (sig > 0)
    if valid.sum() < MIN_PAIRS:
        return np.nan
    z = float(stats.norm.ppf((1 + level) / 2))
    return float(np.quantile(np.abs(est[valid] - ref[valid]) / (z * sig[valid]), level, method="higher"))
