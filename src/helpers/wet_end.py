"""Why every model underestimates the wettest days (notebook 02): the evidence, as tables.

Three questions, each answered by a small function on the test split:

:func:`conditional_bias`
    Bias by SM range, conditioned three ways. A least-squares model estimates the conditional
    mean ``E[y | x]``; where the inputs do not fully determine ``y``, its estimate is pulled
    towards the mean, so *given a high target* it is low and *given a low target* it is high,
    even when it is unbiased *given its own estimate* (``E[y - e | e]`` near 0: calibrated).
    A wet-end bias that appears when binning by the target (or truth) and vanishes when
    binning by the estimate is this shrinkage, not a defect of the loss or of the range; a
    bias that remains given the estimate is a real miscalibration. The target's own bias
    against the truth by truth range tells whether selecting days on a noisy target is part of
    it (days picked for a high target have, on average, a positive target error).
:func:`wet_share`
    How rare the wet days are among the days the loss sees (class imbalance).
:func:`input_sensitivity`
    How strongly each daily input still follows the truth at each wetness: the slope of the
    input's anomaly (departure from its 31-day running mean within the sequence) on the
    truth's anomaly, by truth range. An input whose slope falls to 0 at the wet end
    (saturates) carries no information there, and no model can recover what it does not see.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage

from helpers.training import WET_THRESHOLD

#: Edges of the SM ranges (m3 m-3) of the wet-end tables.
SM_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0)
ANOMALY_WINDOW_DAYS = 31


def _range_labels(edges: Sequence[float]) -> list[str]:
    return [f"{low:.1f}-{high:.1f}" for low, high in itertools.pairwise(edges)]


def conditional_bias(
    estimates: Mapping[str, np.ndarray],
    target: np.ndarray,
    scored: np.ndarray,
    truth: np.ndarray | None = None,
    edges: Sequence[float] = SM_EDGES,
) -> pd.DataFrame:
    """Mean error by SM range, binned by the target, by the estimate and by the truth.

    Rows per ``model`` and ``binned_by`` (``target``, ``estimate``, ``truth``) and ``sm_range``;
    columns ``n`` and ``bias`` (mean of estimate minus reference over the days of the range:
    reference the target when binned by target or estimate, the truth when binned by truth).
    A row ``model = "target"``, binned by truth, gives the target's own bias against the truth.

    .. math:: b_k = \\frac{1}{n_k} \\sum_{i: c_i \\in [a_k, a_{k+1})} (e_i - y_i)

    with ``c`` the binning variable, ``e`` the estimate and ``y`` the reference.
    """
    labels = _range_labels(edges)
    keep = scored & np.isfinite(target)
    if truth is not None:
        keep &= np.isfinite(truth)
    y = target[keep]
    t = truth[keep] if truth is not None else None
    rows = []

    def add(model: str, binned_by: str, by: np.ndarray, error: np.ndarray) -> None:
        index = np.digitize(by, edges[1:-1])
        for k, label in enumerate(labels):
            inside = index == k
            count = int(inside.sum())
            rows.append(
                {"model": model, "binned_by": binned_by, "sm_range": label, "n": count,
                 "bias": float(error[inside].mean()) if count else np.nan}
            )  # fmt: skip

    for name, estimate in estimates.items():
        e = estimate[keep]
        add(name, "target", y, e - y)
        add(name, "estimate", e, e - y)
        if t is not None:
            add(name, "truth", t, e - t)
    if t is not None:
        add("target", "truth", t, y - t)
    return pd.DataFrame(rows)


def wet_share(target: np.ndarray, threshold: float = WET_THRESHOLD) -> float:
    """Share of the finite ``target`` values (e.g. the loss days of
    :meth:`helpers.sampling.SampleStore.central_targets`) that exceed ``threshold``."""
    values = np.asarray(target)
    values = values[np.isfinite(values)]
    return float((values > threshold).mean()) if values.size else np.nan


def running_anomaly(series: np.ndarray, window: int = ANOMALY_WINDOW_DAYS) -> np.ndarray:
    """Departure of each day from the mean of the ``window`` days around it (NaN-aware), along
    the last axis of ``(n, T)`` sequences.

    .. math:: a_t = x_t - \\frac{\\sum_{|s-t| \\le w/2} x_s}{\\#\\{s: |s-t| \\le w/2, x_s \\text{ finite}\\}}
    """
    values = np.asarray(series, dtype=np.float64)
    finite = np.isfinite(values)
    sums = ndimage.uniform_filter1d(np.where(finite, values, 0.0), window, axis=-1, mode="nearest")
    counts = ndimage.uniform_filter1d(finite.astype(np.float64), window, axis=-1, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite & (counts > 0), values - sums / counts, np.nan)


def input_sensitivity(
    inputs: Mapping[str, np.ndarray],
    truth: np.ndarray,
    scored: np.ndarray,
    edges: Sequence[float] = SM_EDGES,
    window: int = ANOMALY_WINDOW_DAYS,
) -> pd.DataFrame:
    """Slope and correlation of each input's anomaly on the truth's anomaly, by truth range.

    ``inputs``: name to ``(n, T)`` daily values (physical units) aligned with ``truth``.
    Anomalies are departures from the 31-day running mean (:func:`running_anomaly`), so the
    seasonal cycle and each place's level drop out and what remains is the day-to-day response.
    Rows ``input, sm_range, n, slope, r`` (slope: least squares of input anomaly on truth
    anomaly, in input units per m3 m-3).
    """
    truth_anomaly = running_anomaly(truth, window)
    labels = _range_labels(edges)
    index = np.digitize(np.nan_to_num(truth, nan=-1.0), edges[1:-1])
    rows = []
    for name, values in inputs.items():
        anomaly = running_anomaly(values, window)
        usable = scored & np.isfinite(anomaly) & np.isfinite(truth_anomaly) & np.isfinite(truth)
        for k, label in enumerate(labels):
            inside = usable & (index == k)
            a, b = truth_anomaly[inside], anomaly[inside]
            slope = r = np.nan
            if a.size > 2 and a.std() > 0:
                slope = float(np.cov(a, b, bias=True)[0, 1] / a.var())
                r = float(np.corrcoef(a, b)[0, 1]) if b.std() > 0 else np.nan
            rows.append({"input": name, "sm_range": label, "n": int(inside.sum()), "slope": slope, "r": r})
    return pd.DataFrame(rows)
