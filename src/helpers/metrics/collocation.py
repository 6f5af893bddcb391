"""Triple collocation: the error of three products estimated without knowing the truth.

Three collocated series :math:`x, y, z` of one signal :math:`\\theta`, each
:math:`i = \\alpha_i + \\beta_i \\theta + \\varepsilon_i` with errors uncorrelated with each
other and with the signal, give from their covariances :math:`Q_{ij}` (Gruber et al. 2016,
Int. J. Appl. Earth Obs. 45, 200; covariance notation):

.. math::

    \\sigma^2_{\\varepsilon_x} = Q_{xx} - \\frac{Q_{xy} Q_{xz}}{Q_{yz}}, \\qquad
    \\mathrm{SNR}_x = \\frac{Q_{xy} Q_{xz} / Q_{yz}}{\\sigma^2_{\\varepsilon_x}}, \\qquad
    R^2_x = \\frac{Q_{xy} Q_{xz}}{Q_{xx} Q_{yz}}

and the same for :math:`y` and :math:`z` by permutation. ``err_std`` is in the units of its
own series (not rescaled to a reference) and ``R^2`` is the squared correlation of a series
with the (unknown) signal. A sampling estimate of an error variance can come out negative
when the assumptions fail or the sample is short; it is then reported as NaN with
``negative_variance`` set, not hidden by an absolute value as pytesmo and the Gruber et al.
(2020) code do.

On the twin world the signal is known, so :func:`regression_error_std` gives the error that
triple collocation estimates, :math:`\\sqrt{Q_{xx} (1 - r^2_{x\\theta})}`: the spread of
:math:`x` left once its linear dependence on the truth is removed.
"""

from __future__ import annotations

import numpy as np

from helpers.metrics.skill import MIN_PAIRS

MEMBERS = ("x", "y", "z")


#: Sums of :func:`triple_collocation_from_sums`, in order.
SUMS = ("x", "y", "z", "xx", "yy", "zz", "xy", "xz", "yz")


def triple_collocation(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Error standard deviations, SNR and R² of three collocated series.

    Parameters
    ----------
    x, y, z : numpy.ndarray
        Same shape (..., n): the last axis is time; triples with a NaN are left out. The
        covariances are accumulated in float64 from sums (centre far-from-zero float32 data).

    Returns
    -------
    dict
        ``n`` (triples used) and, for each member ``m`` in ``x, y, z``: ``err_std_m`` (in the
        member's units), ``snr_db_m`` (:math:`10 \\log_{10} \\mathrm{SNR}`), ``r2_m`` and
        ``negative_variance_m`` (bool). Arrays of shape (...); NaN where fewer than
        :data:`MIN_PAIRS` triples remain, a covariance between two members is not positive
        (no common signal), or an error variance is negative.
    """
    x, y, z = (np.asarray(a) for a in (x, y, z))
    if not x.shape == y.shape == z.shape:
        raise ValueError(f"x, y and z differ in shape: {x.shape}, {y.shape}, {z.shape}")
    valid = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    a = {name: np.where(valid, v, 0) for name, v in zip("xyz", (x, y, z), strict=True)}
    sums = {name: a[name].sum(axis=-1, dtype=np.float64) for name in "xyz"}
    for pair in ("xx", "yy", "zz", "xy", "xz", "yz"):
        sums[pair] = np.einsum("...k,...k->...", a[pair[0]], a[pair[1]], dtype=np.float64)
    return triple_collocation_from_sums(valid.sum(axis=-1), *(sums[name] for name in SUMS))


def triple_collocation_from_sums(n: np.ndarray, *sums: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`triple_collocation` from the sums over the valid triples (:data:`SUMS`, in order):
    :math:`Q_{ij} = (S_{ij} - S_i S_j / n) / (n - 1)` (e.g. for bootstrap resamples)."""
    s = dict(zip(SUMS, sums, strict=True))
    n = np.asarray(n, dtype=np.float64)

    def q(i: str, j: str) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n >= MIN_PAIRS, (s[i + j] - s[i] * s[j] / n) / (n - 1), np.nan)

    qxx, qyy, qzz, qxy, qxz, qyz = q("x", "x"), q("y", "y"), q("z", "z"), q("x", "y"), q("x", "z"), q("y", "z")
    out: dict[str, np.ndarray] = {"n": n.astype(np.int64)}
    for name, own, a, b, across in (
        ("x", qxx, qxy, qxz, qyz),
        ("y", qyy, qxy, qyz, qxz),
        ("z", qzz, qxz, qyz, qxy),
    ):
        with np.errstate(invalid="ignore", divide="ignore"):
            signal = np.where(across > 0, a * b / across, np.nan)
            signal = np.where(signal > 0, signal, np.nan)
            error = own - signal
            negative = np.isfinite(error) & (error < 0)
            error = np.where(negative, np.nan, error)
            out[f"err_std_{name}"] = np.sqrt(error)
            out[f"snr_db_{name}"] = 10 * np.log10(signal / error)
            out[f"r2_{name}"] = np.clip(signal / own, 0.0, 1.0)
        out[f"negative_variance_{name}"] = negative
    return out


def regression_error_std(estimate: np.ndarray, truth: np.ndarray) -> float:
    """The error triple collocation estimates, computed from the known truth.

    .. math:: \\sigma_\\varepsilon = \\sqrt{Q_{xx} \\left(1 - r^2_{x\\theta}\\right)}

    the residual standard deviation of the estimate regressed on the truth (ddof 1), which is
    :math:`\\sigma_{\\varepsilon_x}` of the model in the module docstring.

    Returns
    -------
    float
        NaN with fewer than :data:`MIN_PAIRS` pairs or a constant series.
    """
    x, t = np.ravel(np.asarray(estimate, dtype=float)), np.ravel(np.asarray(truth, dtype=float))
    valid = np.isfinite(x) & np.isfinite(t)
    if valid.sum() < MIN_PAIRS:
        return np.nan
    x, t = x[valid], t[valid]
    qxx, qtt = np.var(x, ddof=1), np.var(t, ddof=1)
    if qxx <= 0 or qtt <= 0:
        return np.nan
    r = np.corrcoef(x, t)[0, 1]
    return float(np.sqrt(qxx * (1 - r**2)))
