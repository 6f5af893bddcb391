"""Stations to grid cells, and gridded products read at those cells only.

Matching rules
--------------
* A point station (ISMN, COSMOS) is compared with the product cell that **contains** it.
* A SMAP core site stands for the upscaled average over a ``smap_footprint_km`` (9 km)
  footprint: it is compared with the mean of the ``n x n`` block of cells closest to its
  centre, ``n = max(1, round(footprint / cell size))`` with the cell size taken north-south
  (111.32 km per degree): the paper's 2 x 2 window at 0.05 degree, the containing cell when
  cells are larger than the footprint.
* A station outside the grid, or whose cells are all water or permanent snow/ice in the
  datacube's mask, is not compared; it becomes a row of ``skipped`` with the reason. Masked
  cells inside a footprint are left out of its mean.

Reading at the cells
--------------------
:func:`read_at_cells` takes a (time, lat, lon) DataArray, lazy (dask, Zarr) or not, and
selects the cells pointwise: xarray's vectorised indexing on a dask array reads only the
chunks that hold a station (never a whole map per day), one time chunk at a time. The
result is averaged over each station's footprint.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from helpers.cube import MASK_VALUES
from helpers.grid import Grid

KM_PER_DEGREE = 111.32
MASK_NAMES = {value: name.replace("_", " ") for name, value in MASK_VALUES.items()}
CELL_COLUMNS = ("key", "source", "network", "station", "lat", "lon", "row", "col", "n_cells")


def footprint_cells(lat: float, lon: float, grid: Grid, footprint_km: float | None) -> list[tuple[int, int]]:
    """Cells a station is compared with: the containing cell, or the block covering its footprint.

    Returns
    -------
    list of (row, col)
        Inside the grid; empty when the station lies outside it.
    """
    rows, cols = grid.rows_cols_of(np.array([lat]), np.array([lon]))
    if rows[0] < 0:
        return []
    n = 1 if footprint_km is None else max(1, round(footprint_km / (grid.resolution * KM_PER_DEGREE)))
    if n == 1:
        return [(int(rows[0]), int(cols[0]))]
    # the n x n block whose centre is nearest to the station
    first_row = round((grid.north - lat) / grid.resolution - n / 2)
    first_col = round((lon - grid.west) / grid.resolution - n / 2)
    return [
        (r, c)
        for r in range(first_row, first_row + n)
        for c in range(first_col, first_col + n)
        if 0 <= r < grid.nlat and 0 <= c < grid.nlon
    ]


def match_stations(
    meta: pd.DataFrame, grid: Grid, mask: np.ndarray, footprints_km: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[tuple[int, int]]]]:
    """Cells of every station (see the module docstring).

    Parameters
    ----------
    meta : pandas.DataFrame
        Stations with ``key``, ``source``, ``network``, ``station``, ``lat``, ``lon``.
    grid : Grid
        The product grid.
    mask : numpy.ndarray
        The datacube's ``mask`` (:data:`helpers.cube.MASK_VALUES`), (lat, lon).
    footprints_km : dict
        ``source -> footprint`` for the sources matched to a footprint (SMAP core sites).

    Returns
    -------
    cells : pandas.DataFrame
        One row per matched station: :data:`CELL_COLUMNS` (``row``, ``col``: the containing
        cell; ``n_cells``: unmasked cells of the footprint).
    skipped : pandas.DataFrame
        ``network, station, reason, source`` of the stations not matched.
    footprints : dict
        ``key -> [(row, col), ...]``, the unmasked cells averaged for each station.
    """
    rows, skipped, footprints = [], [], {}
    for station in meta.itertuples():
        cells = footprint_cells(station.lat, station.lon, grid, footprints_km.get(station.source))
        if not cells:
            reason = f"outside the grid {grid.bbox} at {station.lat}, {station.lon}"
            skipped.append((station.network, station.station, reason, station.source))
            continue
        land = [(r, c) for r, c in cells if mask[r, c] == MASK_VALUES["land"]]
        if not land:
            kinds = sorted({MASK_NAMES.get(int(mask[r, c]), str(mask[r, c])) for r, c in cells})
            skipped.append(
                (
                    station.network,
                    station.station,
                    f"on a masked cell ({', '.join(kinds)} in the MCD12C1 mask) at {station.lat}, {station.lon}",
                    station.source,
                )
            )
            continue
        containing = grid.rows_cols_of(np.array([station.lat]), np.array([station.lon]))
        footprints[station.key] = land
        rows.append(
            {
                "key": station.key,
                "source": station.source,
                "network": station.network,
                "station": station.station,
                "lat": float(station.lat),
                "lon": float(station.lon),
                "row": int(containing[0][0]),
                "col": int(containing[1][0]),
                "n_cells": len(land),
            }
        )
    skipped_rows = pd.DataFrame(skipped, columns=["network", "station", "reason", "source"])
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS)), skipped_rows, footprints


def unique_cells(keys: list[str], footprints: dict[str, list[tuple[int, int]]]) -> np.ndarray:
    """The distinct cells of the stations' footprints, (cells, 2) rows and columns, sorted."""
    cells = np.array([cell for key in keys for cell in footprints[key]], dtype=int).reshape(-1, 2)
    return np.unique(cells, axis=0)


def footprint_means(
    values: np.ndarray, cells: np.ndarray, keys: list[str], footprints: dict[str, list[tuple[int, int]]]
) -> np.ndarray:
    """Per station, the mean over its footprint of values given at ``cells`` (:func:`unique_cells`).

    Parameters
    ----------
    values : numpy.ndarray
        (time, cells) series at the cells.

    Returns
    -------
    numpy.ndarray
        float32 (time, stations); NaN where no cell of the footprint has a value.
    """
    index = {(int(r), int(c)): k for k, (r, c) in enumerate(cells)}
    members = [[index[cell] for cell in footprints[key]] for key in keys]
    if all(len(m) == 1 for m in members):
        return np.asarray(values, dtype=np.float32)[:, [m[0] for m in members]]
    out = np.full((values.shape[0], len(keys)), np.nan, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice")
        for k, member in enumerate(members):
            out[:, k] = np.nanmean(values[:, member], axis=1)
    return out


def read_at_cells(
    data: xr.DataArray, keys: list[str], footprints: dict[str, list[tuple[int, int]]]
) -> np.ndarray:
    """Series of a (time, lat, lon) field at each station's cells, averaged over its footprint.

    Parameters
    ----------
    data : xarray.DataArray
        Dims (time, lat, lon) on the product grid, lazy or not.
    keys : list of str
        Stations, in the order of the output's columns.
    footprints : dict
        ``key -> cells`` (:func:`match_stations`).

    Returns
    -------
    numpy.ndarray
        float32 (time, stations); NaN where no cell of the footprint has a value.
    """
    cells = unique_cells(keys, footprints)
    points = data.isel(
        lat=xr.DataArray(cells[:, 0], dims="point"), lon=xr.DataArray(cells[:, 1], dims="point")
    ).transpose(data.dims[0], "point")
    return footprint_means(np.asarray(points.values, dtype=np.float32), cells, keys, footprints)
