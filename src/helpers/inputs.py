"""The one policy for missing model inputs, used by training, production and importance alike.

The datacube is gap-filled and flagged (:mod:`helpers.cube`), so a model input should never be
missing. Where one still is (a cell no source covers, a read that failed, a user's own
array), the policy is:

* inputs are normalised with the training statistics, ``z = (x - mean) / scale``
  (:func:`normalise`), keeping NaN;
* for a deep model, every non-finite normalised value is set to 0, the training mean of that
  feature (:func:`fill_missing`): a recurrent or attention model cannot skip a value;
* XGBoost receives NaN as it is: trees learn a default branch for missing values;
* production flags every cell-day whose own inputs held a missing value (``sm_flag`` bit
  ``input_missing``), and gives NaN instead of an estimate on the days where none of the
  daily inputs is finite (:func:`no_daily_input`): such an estimate would come from the static
  inputs and the context alone;
* training and importance log how many values were set to the mean (a warning, never silent).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: Value of a missing normalised input for a deep model: the training mean.
FILL_VALUE = 0.0


def normalise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(x - mean) / scale`` along the last (feature) axis as float32, NaN kept."""
    return ((np.asarray(x, dtype=np.float32) - mean) / scale).astype(np.float32)


def missing_days(x: np.ndarray) -> np.ndarray:
    """(n, T) True where any feature of that sequence-day is non-finite; ``x`` is (n, T, F)."""
    return ~np.isfinite(x).all(axis=-1)


def no_daily_input(x: np.ndarray, n_daily: int) -> np.ndarray:
    """(n, T) True where none of the first ``n_daily`` (daily) features is finite."""
    return ~np.isfinite(x[..., :n_daily]).any(axis=-1)


def fill_missing(x: np.ndarray, context: str | None = None) -> np.ndarray:
    """``x`` (normalised) as float32 with every non-finite value set to :data:`FILL_VALUE`.

    With ``context`` (e.g. ``"training atlstm"``), the number of values set is logged as a
    warning when there are any.
    """
    x = np.asarray(x, dtype=np.float32)
    finite = np.isfinite(x)
    if finite.all():
        return x
    if context is not None:
        log.warning(
            "%s: %d of %d input values are missing and set to the training mean",
            context,
            int((~finite).sum()),
            finite.size,
        )
    return np.where(finite, x, np.float32(FILL_VALUE))
