"""Is product A better than product B? Tests of differences, across stations and at one station.

* Across stations (the paper's tests): :func:`paired_tests` takes one metric of two products
  at every station and tests whether the paired differences have zero mean (paired t-test) or
  zero median (Wilcoxon signed-rank test).
* At one station, on the common sample of days: :func:`dependent_correlation_test` compares
  the correlations of two products with the same station series (Williams' t, as recommended
  by Steiger 1980, Psychol. Bull. 87, 245), with the effective sample size in place of the
  raw count; :func:`bootstrap_pvalue` tests a difference of any metric from paired
  block-bootstrap replicates (:func:`helpers.metrics.intervals.block_bootstrap`).
* Many stations, many tests: :func:`benjamini_hochberg` controls the false-discovery rate.

Neither QA4SM nor pytesmo tests differences between products.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from helpers.metrics.skill import MIN_PAIRS


def paired_tests(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Is metric ``a`` different from metric ``b``? Paired tests on per-station values.

    ``a[i]`` and ``b[i]`` are one metric (e.g. ubRMSE) of two products at station ``i``.
    Stations where either is NaN are left out. Two-sided tests of a zero mean (paired
    t-test, ``scipy.stats.ttest_rel``) and a zero median (Wilcoxon signed-rank test,
    ``scipy.stats.wilcoxon``) of the differences ``d_i = a_i - b_i``; the t statistic is

    .. math:: t = \\frac{\\bar d}{s_d / \\sqrt{n}}

    Parameters
    ----------
    a, b : array_like
        Paired values, same shape; flattened.

    Returns
    -------
    dict
        ``n_pairs`` (int), ``t_pvalue`` and ``wilcoxon_pvalue``: NaN with fewer than
        :data:`MIN_PAIRS` pairs, 1.0 when every difference is zero (no evidence of a
        difference).
    """
    a, b = (np.ravel(np.asarray(v, dtype=float)) for v in (a, b))
    if a.shape != b.shape:
        raise ValueError(f"a and b differ in size: {a.size} vs {b.size}")
    valid = np.isfinite(a) & np.isfinite(b)
    a, b = a[valid], b[valid]
    result = {"n_pairs": int(valid.sum()), "t_pvalue": np.nan, "wilcoxon_pvalue": np.nan}
    if result["n_pairs"] < MIN_PAIRS:
        return result
    if np.all(a == b):
        return result | {"t_pvalue": 1.0, "wilcoxon_pvalue": 1.0}
    result["t_pvalue"] = float(stats.ttest_rel(a, b).pvalue)
    result["wilcoxon_pvalue"] = float(stats.wilcoxon(a, b).pvalue)
    return result


def dependent_correlation_test(r_ref_a: float, r_ref_b: float, r_a_b: float, n: float) -> tuple[float, float]:
    """Do two products correlate equally with one reference? Williams' t for dependent correlations.

    With :math:`r_{1} = r(\\mathrm{ref}, A)`, :math:`r_{2} = r(\\mathrm{ref}, B)`,
    :math:`r_{AB} = r(A, B)`, all on the same :math:`n` days,

    .. math::

        t = (r_1 - r_2) \\sqrt{\\frac{(n - 1)(1 + r_{AB})}
            {2 \\frac{n - 1}{n - 3} |R| + \\bar r^2 (1 - r_{AB})^3}},
        \\quad |R| = 1 - r_1^2 - r_2^2 - r_{AB}^2 + 2 r_1 r_2 r_{AB},
        \\quad \\bar r = \\frac{r_1 + r_2}{2}

    compared with Student's t on :math:`n - 3` degrees of freedom. Pass the effective sample
    size as ``n`` for autocorrelated series.

    Returns
    -------
    (t, p)
        The statistic (positive when A correlates better) and the two-sided p-value; NaN for
        NaN inputs or ``n`` <= 3.
    """
    values = np.array([r_ref_a, r_ref_b, r_a_b], dtype=float)
    if not np.isfinite(values).all() or not n > 3:
        return np.nan, np.nan
    r1, r2, r12 = values
    determinant = 1 - r1**2 - r2**2 - r12**2 + 2 * r1 * r2 * r12
    mean = (r1 + r2) / 2
    denominator = 2 * (n - 1) / (n - 3) * max(determinant, 0.0) + mean**2 * (1 - r12) ** 3
    if denominator <= 0:
        return (0.0, 1.0) if r1 == r2 else (np.nan, np.nan)
    t = (r1 - r2) * np.sqrt((n - 1) * (1 + r12) / denominator)
    return float(t), float(2 * stats.t.sf(abs(t), n - 3))


def bootstrap_pvalue(differences: np.ndarray) -> float:
    """Two-sided p-value of a zero difference from bootstrap replicates of the difference.

    .. math:: p = \\min\\left(1,\\; 2 \\min\\left(\\frac{1 + \\#\\{\\Delta^* \\le 0\\}}{B + 1},
              \\frac{1 + \\#\\{\\Delta^* \\ge 0\\}}{B + 1}\\right)\\right)

    over the :math:`B` finite replicates :math:`\\Delta^*` (the percentile-interval test: the
    difference is significant at level ``alpha`` when the central ``1 - alpha`` interval of
    the replicates excludes 0).

    Returns
    -------
    float
        NaN with fewer than :data:`MIN_PAIRS` finite replicates.
    """
    delta = np.asarray(differences, dtype=float)
    delta = delta[np.isfinite(delta)]
    if delta.size < MIN_PAIRS:
        return np.nan
    below = (1 + np.sum(delta <= 0)) / (delta.size + 1)
    above = (1 + np.sum(delta >= 0)) / (delta.size + 1)
    return float(min(1.0, 2 * min(below, above)))


def benjamini_hochberg(pvalues: np.ndarray, q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg control of the false-discovery rate over many tests.

    With the :math:`m` finite p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, the
    tests with :math:`p_{(i)} \\le i q / m` for the largest such :math:`i` (and all smaller)
    are rejected. Adjusted p-values are :math:`\\min_{j \\ge i} \\min(1, m p_{(j)} / j)`.

    Parameters
    ----------
    pvalues : array_like
        One p-value per test; NaN tests are left out (never rejected, adjusted NaN).
    q : float
        The false-discovery rate, in (0, 1).

    Returns
    -------
    (rejected, adjusted)
        Boolean and float arrays shaped like ``pvalues``.
    """
    if not 0 < q < 1:
        raise ValueError(f"q must lie in (0, 1), got {q}")
    p = np.asarray(pvalues, dtype=float)
    flat = p.ravel()
    finite = np.flatnonzero(np.isfinite(flat))
    adjusted = np.full(flat.shape, np.nan)
    rejected = np.zeros(flat.shape, dtype=bool)
    m = finite.size
    if m:
        order = finite[np.argsort(flat[finite], kind="stable")]
        ranked = flat[order] * m / np.arange(1, m + 1)
        adjusted[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
        rejected[order] = adjusted[order] <= q
    return rejected.reshape(p.shape), adjusted.reshape(p.shape)
