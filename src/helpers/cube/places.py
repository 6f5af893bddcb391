"""Places and days in an open datacube: the nearest land cells to points, their series, and the
example day and sites a notebook shows (:mod:`helpers.cube` re-exports these)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from helpers.cube import MASK_VALUES, TARGET
from helpers.grid import EARTH_RADIUS_KM


def nearest_land_cells(
    ds: xr.Dataset, points: Mapping[str, Sequence[float]] | Sequence[Sequence[float]]
) -> pd.DataFrame:
    """The unmasked land cell nearest to each (lat, lon) point, by great-circle distance.

    ``points`` is a mapping of names to (lat, lon) or a sequence of (lat, lon). Returns one
    row per point (indexed by its name, or by its position), columns ``lat, lon`` (the cell
    centre), ``row, col`` (in the cube) and ``distance_km``.
    """
    named = dict(points) if isinstance(points, Mapping) else dict(enumerate(points))
    land_rows, land_cols = np.nonzero(ds["mask"].values == MASK_VALUES["land"])
    if land_rows.size == 0:
        raise ValueError("the datacube has no unmasked land cell")
    lat = np.radians(ds["lat"].values[land_rows])
    lon = np.radians(ds["lon"].values[land_cols])
    rows = []
    for point_lat, point_lon in named.values():
        plat, plon = np.radians(point_lat), np.radians(point_lon)
        cos_angle = np.sin(lat) * np.sin(plat) + np.cos(lat) * np.cos(plat) * np.cos(lon - plon)
        k = int(np.argmax(cos_angle))
        rows.append(
            {
                "lat": float(ds["lat"].values[land_rows[k]]),
                "lon": float(ds["lon"].values[land_cols[k]]),
                "row": int(land_rows[k]),
                "col": int(land_cols[k]),
                "distance_km": float(EARTH_RADIUS_KM * np.arccos(np.clip(cos_angle[k], -1, 1))),
            }
        )
    return pd.DataFrame(rows, index=pd.Index(list(named), name="point"))


def series_at(ds: xr.Dataset, cells: pd.DataFrame, variables: list[str]) -> dict[str, pd.DataFrame]:
    """Daily series of ``variables`` at cells (rows of :func:`nearest_land_cells`): one
    DataFrame (time x variable) per cell, keyed by the cell's index."""
    return {
        name: ds[variables].isel(lat=int(cell.row), lon=int(cell.col)).to_dataframe()[variables]
        for name, cell in cells.iterrows()
    }


def day_in_cube(ds: xr.Dataset, day: str) -> str:
    """``day`` (YYYY-MM-DD) when the cube holds it, else 15 July of the cube's first year with a
    target (or of its first year): the example day of notebook 00 on any configuration."""
    times = pd.DatetimeIndex(ds["time"].values)
    if pd.Timestamp(day) in times:
        return day
    target = ds[TARGET].notnull().any(dim=("lat", "lon")).values
    year = int(times[target][0].year) if target.any() else int(times[0].year)
    return f"{year}-07-15"


def sites_in_cube(ds: xr.Dataset, sites: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """The ``sites`` (name -> [lat, lon]) inside the cube's grid; the grid's centre when none is."""
    lat, lon = ds["lat"].values, ds["lon"].values
    half = abs(float(lat[1] - lat[0])) / 2 if lat.size > 1 else 0.0
    inside = {name: list(point) for name, point in sites.items()
              if lat.min() - half <= point[0] <= lat.max() + half and lon.min() - half <= point[1] <= lon.max() + half}
    return inside or {"grid centre": [float(lat.mean()), float(lon.mean())]}
