"""ESA CCI SM COMBINED (comparison product): daily NetCDF files at 0.25 degree.

Files are named ``ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{YYYYMMDD}000000-fv09.1.nc`` (any
product version is accepted when reading) and hold ``sm`` (m3 m-3, float32, ``_FillValue``
-9999) and ``flag`` (int8, 0 = no inconsistency detected) with dims (time = 1, lat, lon):
latitude descending cell centres, longitude -180..180. ``sm`` is already missing where the
product has no estimate (frozen soil, snow, dense vegetation), so the reader does not use
``flag``.

:func:`read` regrids each day to a destination grid (area-weighted mean from a finer grid,
bilinear from a coarser one); days without a file are absent from ``time``. A units
attribute in percent, or valid values above 1, raise :class:`~helpers.errors.SourceError`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.sources._files import (
    check_fraction_units,
    check_fraction_values,
    no_files_error,
    require_directory,
    time_coordinate,
)
from helpers.sources._regrid import naming, resample, select_window

LABEL = "ESA CCI SM"
VERSION = "09.1"
NAME = re.compile(r"^ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-(?P<ymd>\d{8})000000-fv[\d.]+\.nc$")
FILL = np.float32(-9999.0)
FLAG_FILL = np.int8(127)
FLAG_VALUES = np.array([0, 1, 2, 4, 8, 16, 32, 64], dtype=np.int8)
FLAG_MEANINGS = (
    "no_inconsistency_detected snow_or_frozen_soil dense_vegetation retrieval_failed "
    "value_out_of_physical_range low_measurement_weight all_inputs_unreliable barren_ground"
)


def file_name(date: dt.date) -> str:
    """``ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{YYYYMMDD}000000-fv09.1.nc``."""
    return f"ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{date:%Y%m%d}000000-fv{VERSION}.nc"


def write(directory: Path | str, date: dt.date, grid: Grid, sm: np.ndarray, flag: np.ndarray) -> Path:
    """Write the file of ``date``.

    Parameters
    ----------
    directory : folder of the product (created if missing).
    date : the day.
    grid : lat/lon grid of the fields (0.25 degree in reality).
    sm : soil moisture (m3 m-3, NaN = missing), shape ``grid.shape``.
    flag : int8 flags (0 = fine), shape ``grid.shape``.

    Returns
    -------
    Path of the new file.
    """
    sm = np.asarray(sm, dtype=np.float32)
    if sm.shape != grid.shape or np.shape(flag) != grid.shape:
        raise ValueError(
            f"sm {sm.shape} and flag {np.shape(flag)} must both have the grid's shape {grid.shape}"
        )
    path = Path(directory) / file_name(date)
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        nc.title = "ESA CCI Surface Soil Moisture Product (COMBINED)"
        nc.product_version = VERSION
        nc.createDimension("time", 1)
        nc.createDimension("lat", grid.nlat)
        nc.createDimension("lon", grid.nlon)
        time = nc.createVariable("time", "f8", ("time",))
        time.units = "days since 1970-01-01 00:00:00 UTC"
        time.calendar = "standard"
        time[:] = (date - dt.date(1970, 1, 1)).days
        lat = nc.createVariable("lat", "f4", ("lat",))
        lat.units, lat.standard_name = "degrees_north", "latitude"
        lat[:] = grid.lat
        lon = nc.createVariable("lon", "f4", ("lon",))
        lon.units, lon.standard_name = "degrees_east", "longitude"
        lon[:] = grid.lon
        sm_var = nc.createVariable("sm", "f4", ("time", "lat", "lon"), zlib=True, complevel=1, fill_value=FILL)
        sm_var.units = "m3 m-3"
        sm_var.long_name = "Volumetric Soil Moisture"
        sm_var[0] = np.where(np.isfinite(sm), sm, FILL)
        flag_var = nc.createVariable("flag", "i1", ("time", "lat", "lon"), zlib=True, complevel=1, fill_value=FLAG_FILL)
        flag_var.long_name = "Flag"
        flag_var.flag_values = FLAG_VALUES
        flag_var.flag_meanings = FLAG_MEANINGS
        flag_var[0] = np.asarray(flag, dtype=np.int8)
    return path


def find_files(directory: Path | str, start: dt.date, end: dt.date) -> dict[dt.date, Path]:
    """Files of ``start..end`` (inclusive) by date; unrelated files are ignored.

    Where a day has files of several product versions, the last by name wins.
    """
    directory = require_directory(directory, LABEL, file_name(start))
    found: dict[dt.date, Path] = {}
    for path in sorted(directory.iterdir()):
        match = NAME.match(path.name)
        if match is None:
            continue
        try:
            date = dt.datetime.strptime(match["ymd"], "%Y%m%d").date()
        except ValueError:
            continue
        if start <= date <= end:
            found[date] = path
    return dict(sorted(found.items()))


def _open(path: Path) -> netCDF4.Dataset:
    """A CCI file, checked to hold ``sm``, ``lat`` and ``lon`` (errors name the file)."""
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise SourceError(path, f"not a readable NetCDF file, truncated or corrupt? ({exc})") from exc
    for name in ("sm", "lat", "lon"):
        if name not in nc.variables:
            nc.close()
            raise SourceError(path, f"variable {name} not found; file has: {', '.join(nc.variables)}")
    return nc


def read_file(path: Path | str, grid: Grid) -> np.ndarray:
    """Soil moisture of one file on ``grid``: float32 (nlat, nlon), NaN where missing."""
    path = Path(path)
    with _open(path) as nc:
        sm = nc["sm"]
        check_fraction_units(path, getattr(sm, "units", None), "sm")
        with naming(path):
            window = select_window(
                np.asarray(nc["lat"][:], dtype=float), np.asarray(nc["lon"][:], dtype=float), grid
            )
        if window.empty:
            raw = np.empty(window.shape, dtype=np.float32)
        else:
            try:
                raw = window.read(
                    lambda rows, cols: np.ma.filled(sm[0, rows, cols].astype(np.float32), np.nan)
                )
            except (OSError, RuntimeError) as exc:
                raise SourceError(path, f"cannot read sm, file truncated or corrupt? ({exc})") from exc
    check_fraction_values(path, raw, "sm")
    with naming(path):
        return resample(raw, window.lat, window.lon, grid)


def read(directory: Path | str, grid: Grid, start: dt.date, end: dt.date) -> xr.DataArray:
    """Daily ESA CCI soil moisture of ``start..end`` on ``grid``.

    Returns
    -------
    DataArray ``esa_cci_sm`` (time, lat, lon), float32, m3 m-3; days without a file are absent.
    """
    files = find_files(directory, start, end)
    if not files:
        raise no_files_error(Path(directory), LABEL, start, end, file_name(start))
    values = np.stack([read_file(path, grid) for path in files.values()])
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"time": time_coordinate(list(files)), "lat": grid.lat, "lon": grid.lon},
        name="esa_cci_sm",
        attrs={"units": "m3 m-3", "long_name": "ESA CCI SM COMBINED volumetric soil moisture"},
    )


def read_points(
    directory: Path | str, lat: np.ndarray, lon: np.ndarray, dates: pd.DatetimeIndex
) -> np.ndarray:
    """Soil moisture of the CCI cells containing points, on each of ``dates``.

    Each file is read in one hyperslab, the window spanning the points' cells (pointwise
    fancy indexing of netCDF4 reads element by element, hundreds of times slower). Days
    without a file are NaN.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Points, degrees (longitude -180..180).
    dates : pandas.DatetimeIndex
        Days.

    Returns
    -------
    numpy.ndarray
        float32 (days, points), m3 m-3; NaN where the file has no estimate, a point lies
        outside the file's grid, or the day has no file.
    """
    dates = pd.DatetimeIndex(dates)
    files = find_files(directory, dates[0].date(), dates[-1].date())
    if not files:
        raise no_files_error(Path(directory), LABEL, dates[0].date(), dates[-1].date(), file_name(dates[0].date()))
    out = np.full((dates.size, len(lat)), np.nan, dtype=np.float32)
    position = {day: k for k, day in enumerate(dates.date)}
    index: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    for day, path in files.items():
        with _open(path) as nc:
            if index is None:
                index = _point_index(np.asarray(nc["lat"][:], float), np.asarray(nc["lon"][:], float), lat, lon)
            rows, cols, row_of, col_of, inside = index
            if day not in position or not inside.any():
                continue
            try:
                window = nc["sm"][0, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
                block = np.ma.filled(window.astype(np.float32), np.nan)[np.ix_(rows - rows[0], cols - cols[0])]
            except (OSError, RuntimeError, IndexError) as exc:
                raise SourceError(path, f"cannot read sm, file truncated or corrupt? ({exc})") from exc
        values = np.full(len(lat), np.nan, dtype=np.float32)
        values[inside] = block[row_of[inside], col_of[inside]]
        check_fraction_values(path, values, "sm")
        out[position[day]] = values
    return out


def _point_index(
    file_lat: np.ndarray, file_lon: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sorted unique rows and columns of the cells holding the points, each point's position
    in them, and which points lie inside the file's grid (nearest centre within half a cell)."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    half_lat = abs(file_lat[1] - file_lat[0]) / 2 if file_lat.size > 1 else 90.0
    half_lon = abs(file_lon[1] - file_lon[0]) / 2 if file_lon.size > 1 else 180.0
    row = np.abs(file_lat[None, :] - lat[:, None]).argmin(axis=1)
    col = np.abs(file_lon[None, :] - lon[:, None]).argmin(axis=1)
    inside = (np.abs(file_lat[row] - lat) <= half_lat + 1e-9) & (np.abs(file_lon[col] - lon) <= half_lon + 1e-9)
    rows, row_of = np.unique(row, return_inverse=True)
    cols, col_of = np.unique(col, return_inverse=True)
    return rows, cols, row_of, col_of, inside
