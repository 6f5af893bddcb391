"""Gap filling of the datacube's inputs: pure functions on NumPy arrays.

:func:`fill_gaps_linear` bridges gaps in time, :func:`composites_to_daily` turns 8-day
composites into daily values, :func:`fill_nearest` fills cells from the nearest cell that has
a value. Each returns what it filled, so that :mod:`helpers.cube` can flag every fill.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def fill_gaps_linear(values: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill NaN gaps along axis 0 by linear interpolation between the nearest valid values.

    For a gap between valid values at steps ``p < t < n``:
    ``x_t = x_p + (x_n - x_p) * (t - p) / (n - p)``; before the first or after the last valid
    value the nearest valid value is held. Series without any valid value stay NaN.

    Parameters
    ----------
    values : array (n_steps, ...)
    max_gap : gaps of more than ``max_gap`` steps (or open-ended ones longer than that) are
        reported in ``long_gap``.

    Returns
    -------
    filled, was_filled, long_gap : arrays shaped like ``values`` (the last two boolean).
    """
    n = values.shape[0]
    flat = values.reshape(n, -1)
    valid_all = np.isfinite(flat)
    filled = flat.copy()
    was_filled = np.zeros(flat.shape, dtype=bool)
    long_gap = np.zeros(flat.shape, dtype=bool)
    # Only series with both gaps and data need work (complete or empty ones stay as they are).
    todo = np.flatnonzero(valid_all.any(axis=0) & ~valid_all.all(axis=0))
    if todo.size:
        part, part_filled, part_long = _fill_columns(flat[:, todo], valid_all[:, todo], max_gap)
        filled[:, todo], was_filled[:, todo], long_gap[:, todo] = part, part_filled, part_long
    shape = values.shape
    return filled.reshape(shape).astype(values.dtype), was_filled.reshape(shape), long_gap.reshape(shape)


def _fill_columns(flat: np.ndarray, valid: np.ndarray, max_gap: int) -> tuple[np.ndarray, ...]:
    """:func:`fill_gaps_linear` on (n_steps, n_series) columns that each hold some data."""
    n = flat.shape[0]
    steps = np.arange(n, dtype=np.int32)[:, None]
    prev = np.maximum.accumulate(np.where(valid, steps, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, steps, n)[::-1], axis=0)[::-1]
    has_prev, has_next = prev >= 0, nxt < n
    x_prev = np.take_along_axis(flat, np.clip(prev, 0, n - 1), axis=0)
    x_next = np.take_along_axis(flat, np.clip(nxt, 0, n - 1), axis=0)
    span = np.maximum(nxt - prev, 1)
    weight = np.where(has_prev & has_next, (steps - prev) / span, 0.0).astype(flat.dtype)
    inner = x_prev + (x_next - x_prev) * weight
    filled = np.where(valid, flat, np.where(has_prev, np.where(has_next, inner, x_prev), x_next))
    was_filled = ~valid
    gap_length = np.where(has_prev, np.where(has_next, nxt - prev - 1, n - 1 - prev), nxt)
    return filled, was_filled, was_filled & (gap_length > max_gap)


def composites_to_daily(
    composites: np.ndarray,
    composite_days: np.ndarray,
    days: np.ndarray,
    max_gap_days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate composites (n_comp, ...) placed at ``composite_days`` to daily ``days``.

    Missing composites are first bridged by :func:`fill_gaps_linear` (a gap is long if it
    spans more than ``max_gap_days``); a day is flagged filled (long) if a composite it is
    interpolated from was filled (long). Days outside the composites hold the nearest one.
    """
    spacing = max(float(np.median(np.diff(composite_days))) if len(composite_days) > 1 else 8.0, 1.0)
    n_comp, shape = composites.shape[0], composites.shape[1:]
    flat = composites.reshape(n_comp, -1)
    active = np.flatnonzero(np.isfinite(flat).any(axis=0))  # series without any value stay NaN
    filled, was_filled, long_gap = fill_gaps_linear(flat[:, active], max(int(max_gap_days // spacing), 0))
    upper = np.clip(np.searchsorted(composite_days, days, side="right"), 1, max(n_comp - 1, 1))
    lower = upper - 1
    if n_comp == 1:
        upper = lower = np.zeros_like(days, dtype=int)
        weight = np.zeros(len(days), dtype=np.float32)
    else:
        gap = composite_days[upper] - composite_days[lower]
        weight = np.clip((days - composite_days[lower]) / gap, 0.0, 1.0).astype(np.float32)
    daily = np.full((len(days), flat.shape[1]), np.nan, dtype=np.float32)
    flag = np.zeros(daily.shape, dtype=bool)
    long_flag = np.zeros(daily.shape, dtype=bool)
    daily[:, active] = filled[lower] * (1 - weight[:, None]) + filled[upper] * weight[:, None]
    flag[:, active] = was_filled[lower] | was_filled[upper]
    long_flag[:, active] = long_gap[lower] | long_gap[upper]
    out_shape = (len(days), *shape)
    return daily.reshape(out_shape), flag.reshape(out_shape), long_flag.reshape(out_shape)


def fill_nearest(field2d: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN cells of ``field2d`` inside ``where`` with the nearest finite cell's value.

    Returns the filled field and the boolean map of filled cells. Works on (..., ny, nx)
    arrays whose NaN pattern is the same along the leading axes.
    """
    invalid = ~np.isfinite(field2d.reshape(-1, *field2d.shape[-2:])).any(axis=0)
    todo = invalid & where
    if not todo.any() or invalid.all():
        return field2d, np.zeros(field2d.shape[-2:], dtype=bool)
    _, (iy, ix) = ndimage.distance_transform_edt(invalid, return_indices=True)
    out = field2d.copy()
    out[..., todo] = field2d[..., iy[todo], ix[todo]]
    return out, todo
