"""Access to the twin world's TRUE soil moisture, for scoring and illustration only.

The truth exists only on the embedded twin world. No estimation step (cube, sampling,
training, production) may read it; this module is the one place outside
:mod:`helpers.world` that opens it, and a test checks that no other module mentions the
truth folder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from helpers.params import Params


def has_truth(params: Params) -> bool:
    """True when the run is on the twin world and its truth is on disk."""
    return params.world is not None and (params.truth_dir / "truth.zarr").exists()


def open_truth(params: Params) -> xr.Dataset:
    """The truth store (``sm``, ``sm_root``, ``frozen`` on the product grid), lazily."""
    if not has_truth(params):
        raise FileNotFoundError(
            f"{params.truth_dir / 'truth.zarr'}: no twin-world truth for run {params.run_name!r}"
            " (real-data runs have none; on the twin world run notebook 00 first)"
        )
    return xr.open_zarr(params.truth_dir / "truth.zarr", consolidated=True)


def truth_sequences(
    params: Params, table: pd.DataFrame, calendars: dict[int, pd.DataFrame], length: int
) -> np.ndarray:
    """The TRUE surface SM on the days of sample sequences, aligned with their targets.

    Parameters
    ----------
    table : one row per sequence with the cube ``row``, ``col`` and ``year`` (as returned by
        ``SampleStore.sequence_table``), in the order of ``SampleStore.sequences``.
    calendars : year -> the sequence calendar (``SampleStore.calendar``), with ``date``.
    length : sequence length T of the arrays to align with (shorter years padded with NaN).

    Returns
    -------
    float32 array (n_sequences, length); NaN on padding and on dates outside the truth.
    """
    sm = open_truth(params)["sm"]
    times = pd.DatetimeIndex(sm["time"].values)
    out = np.full((len(table), length), np.nan, dtype=np.float32)
    for year, rows in table.groupby("year").indices.items():
        dates = pd.DatetimeIndex(calendars[int(year)]["date"])
        index = times.get_indexer(dates)
        inside = np.flatnonzero(index >= 0)
        points = sm.isel(
            time=xr.DataArray(index[inside], dims="day"),
            lat=xr.DataArray(table["row"].to_numpy()[rows], dims="sequence"),
            lon=xr.DataArray(table["col"].to_numpy()[rows], dims="sequence"),
        ).transpose("sequence", "day")
        out[np.ix_(rows, inside)] = points.values
    return out
