"""Sequences: one sequence year read from the datacube, and the rows and windows cut from sequences.

:func:`sequence_calendar` lays out the days of one year's sequence (the year and
:data:`MARGIN_DAYS` of each neighbouring year, mirrored where the cube has none) and
:func:`read_points` reads them at a set of cells. :func:`tabular_rows` turns sequences into
pixel-day rows (for XGBoost); :func:`window_days` and :func:`gather_windows` cut short centred
windows from them (the sequence-length experiment). The layout is told in
:mod:`helpers.sampling` (section "Sequences").
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import xarray as xr

from helpers.cube import STATIC_FEATURES, TARGET, dynamic_features
from helpers.params import Params

#: Days of the neighbouring years on each side of a sequence.
MARGIN_DAYS = 30


# Reading the cube --------------------------------------------------------------------------


def sequence_calendar(times: pd.DatetimeIndex, year: int, margin: int = MARGIN_DAYS) -> pd.DataFrame:
    """The days of one year's sequence and where each is read in the cube.

    Parameters
    ----------
    times
        The cube's daily time axis.
    year
        The sequence's year (must be in ``times``).
    margin
        Days of the neighbouring years on each side.

    Returns
    -------
    pandas.DataFrame
        One row per position (``margin + days(year) + margin`` rows): ``date`` (calendar date
        of the position), ``cube_index`` (index in ``times`` of the day read), ``central``
        (the year's own days) and ``mirrored`` (a margin day outside ``times``, read from the
        year's own edge mirrored about 1 January or 31 December).
    """
    times = pd.DatetimeIndex(times).normalize()
    first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    if first not in times or last not in times:
        raise ValueError(
            f"year {year} is not complete in the datacube ({times[0].date()}-{times[-1].date()})"
        )
    dates = pd.date_range(first - pd.Timedelta(days=margin), last + pd.Timedelta(days=margin), freq="D")
    mirrored = ~dates.isin(times)
    before = dates < first
    source = dates.where(~(mirrored & before), first + (first - dates - pd.Timedelta(days=1)))
    source = source.where(~(mirrored & ~before), last - (dates - last - pd.Timedelta(days=1)))
    return pd.DataFrame(
        {
            "date": dates,
            "cube_index": times.get_indexer(source),
            "central": (dates >= first) & (dates <= last),
            "mirrored": mirrored,
        }
    )


def read_points(
    ds: xr.Dataset, params: Params, rows: np.ndarray, cols: np.ndarray, calendar: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, T, F) and target (n, T) of one sequence year at cells (rows, cols).

    One vectorised point selection per call: the cube is read on the time window the
    calendar needs and indexed pointwise at the cells.
    """
    index = calendar["cube_index"].to_numpy()
    window = slice(int(index.min()), int(index.max()) + 1)
    at = {"lat": xr.DataArray(rows, dims="location"), "lon": xr.DataArray(cols, dims="location")}
    daily = [*dynamic_features(params), TARGET]
    series = ds[daily].isel(time=window, **at).to_array("variable").transpose("location", "time", "variable")
    static = ds[list(STATIC_FEATURES)].isel(**at).to_array("variable").transpose("location", "variable")
    series, static = (np.asarray(v, dtype=np.float32) for v in dask.compute(series.data, static.data))
    series = series[:, index - window.start]
    n_days = len(calendar)
    x = np.concatenate([series[..., :-1], np.repeat(static[:, None, :], n_days, axis=1)], axis=-1)
    y = np.where(calendar["mirrored"].to_numpy()[None, :], np.nan, series[..., -1])
    return x, y.astype(np.float32)


# Rows and windows --------------------------------------------------------------------------


def tabular_rows(
    x: np.ndarray,
    y: np.ndarray,
    central: np.ndarray,
    max_rows: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, F) and target (n,) of the central days of sequences that have a target.

    At most ``max_rows`` rows, drawn uniformly without replacement (``rng``, else seed 0) and
    kept in their original order.
    """
    rows = np.flatnonzero(central & np.isfinite(y))
    if max_rows is not None and rows.size > max_rows:
        rng = np.random.default_rng(0) if rng is None else rng
        rows = np.sort(rng.choice(rows, size=max_rows, replace=False))
    return x.reshape(-1, x.shape[-1])[rows], y.reshape(-1)[rows]


def window_days(
    y: np.ndarray, central: np.ndarray, length: int, max_windows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sequence and day indices of central days with a target whose centred window fits.

    A window of ``length = 2k + 1`` days fits when the ``k`` days on each side lie inside the
    sequence. At most ``max_windows`` days are drawn uniformly without replacement (in the
    order drawn). Days chosen for the longest window also fit every shorter one, which is how
    the sequence-length experiment scores every length on the same days.
    """
    if length < 1 or length % 2 == 0:
        raise ValueError(f"length must be odd and positive, got {length}")
    half = (length - 1) // 2
    usable = central & np.isfinite(y)
    usable[:, :half] = False
    usable[:, usable.shape[1] - half :] = False
    seq, day = np.nonzero(usable)
    if seq.size > max_windows:
        pick = rng.choice(seq.size, size=max_windows, replace=False)
        seq, day = seq[pick], day[pick]
    return seq, day


def gather_windows(x: np.ndarray, seq: np.ndarray, day: np.ndarray, length: int) -> np.ndarray:
    """Windows (n, length, F) of ``x`` (sequences, days, F) centred on (``seq``, ``day``)."""
    offsets = np.arange(length) - (length - 1) // 2
    return x[seq[:, None], day[:, None] + offsets[None, :]]

