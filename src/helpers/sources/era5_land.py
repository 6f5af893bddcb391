"""ERA5-Land volumetric soil water layer 1 (``swvl1``, 0-7 cm): yearly NetCDF files.

Files are named ``era5_land_swvl1_{year}.nc`` and laid out as ECMWF ships them: variable
``swvl1`` (units ``m**3 m**-3``) with dims (``valid_time``, ``latitude``, ``longitude``);
latitude *descending* grid nodes 90..-90 (inclusive), longitude nodes 0..360-res; time in
"seconds since 1970-01-01". Older files name the time dimension ``time``; both are accepted.
Packed (scale_factor/add_offset) and plain float files decode alike.

:func:`read` returns daily values on a destination grid:

* hourly files give daily means of the values of each day (the 24 hours, or as many as
  the file holds for that day); daily files are used as they are;
* longitudes are taken to -180..180 and the window wraps across the antimeridian;
* the nodes are interpolated bilinearly to the cell centres of the grid (renormalised over
  valid nodes, so coasts keep values where sea nodes are NaN); a destination coarser than
  the nodes gets the area-weighted mean of a bilinear field at node spacing.

Units are checked: ``%`` or valid values above 1 raise :class:`~helpers.errors.SourceError`.
A year of the period without its file raises SourceError naming the missing file; a time
variable whose ``units`` are missing or not CF ``<unit> since <date>`` raises SourceError
naming the file and the variable.
"""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.sources._files import (
    check_fraction_units,
    check_fraction_values,
    require_directory,
    time_coordinate,
)
from helpers.sources._regrid import column_runs, naming, resample, select_window

VARIABLE = "swvl1"
UNITS = "m**3 m**-3"
LABEL = "ERA5-Land"
TIME_NAMES = ("valid_time", "time")
LAT_NAMES = ("latitude", "lat")
LON_NAMES = ("longitude", "lon")
_MAX_VALUES_PER_READ = 20_000_000  # bounds memory: hourly steps x window nodes read at once


def file_name(year: int) -> str:
    """``era5_land_swvl1_{year}.nc``."""
    return f"era5_land_swvl1_{year}.nc"


def create(directory: Path | str, year: int, resolution: float) -> Path:
    """Create the file of ``year``: daily steps at 00:00, nodes every ``resolution`` degrees, all NaN.

    Returns
    -------
    Path of the new file.
    """
    nlat, nlon = round(180 / resolution) + 1, round(360 / resolution)
    days = 366 if calendar.isleap(year) else 365
    epoch_seconds = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days * 86400
    path = Path(directory) / file_name(year)
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        nc.Conventions = "CF-1.7"
        nc.institution = "European Centre for Medium-Range Weather Forecasts"
        nc.createDimension("valid_time", days)
        nc.createDimension("latitude", nlat)
        nc.createDimension("longitude", nlon)
        time = nc.createVariable("valid_time", "i8", ("valid_time",))
        time.units = "seconds since 1970-01-01"
        time.calendar = "proleptic_gregorian"
        time.standard_name = "time"
        time[:] = epoch_seconds + 86400 * np.arange(days, dtype=np.int64)
        lat = nc.createVariable("latitude", "f8", ("latitude",))
        lat.units, lat.standard_name = "degrees_north", "latitude"
        lat[:] = 90.0 - resolution * np.arange(nlat)
        lon = nc.createVariable("longitude", "f8", ("longitude",))
        lon.units, lon.standard_name = "degrees_east", "longitude"
        lon[:] = resolution * np.arange(nlon)
        swvl1 = nc.createVariable(
            VARIABLE,
            "f4",
            ("valid_time", "latitude", "longitude"),
            zlib=True,
            complevel=4,
            fill_value=np.float32(np.nan),
            chunksizes=(min(days, 32), min(nlat, 128), min(nlon, 128)),
        )
        swvl1.units = UNITS
        swvl1.long_name = "Volumetric soil water layer 1"
    return path


def _node_indices(nodes: np.ndarray, axis: np.ndarray, what: str, period: float | None = None) -> np.ndarray:
    """Index of each coordinate in a regular file axis; ValueError if one is not a node."""
    step = axis[1] - axis[0]
    offsets = (nodes - axis[0]) / step
    if period is not None:
        offsets = offsets % (period / abs(step))
    indices = np.rint(offsets).astype(int)
    if np.any(np.abs(offsets - indices) > 1e-3) or np.any((indices < 0) | (indices >= axis.size)):
        raise ValueError(f"{what} values are not nodes of the file's axis ({axis[0]}, {axis[1]}, ...)")
    return indices


def write_window(path: Path | str, lat_nodes: np.ndarray, lon_nodes: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` (time, nlat, nlon) at the given nodes for every time step of the file.

    Parameters
    ----------
    path : a file made by :func:`create`.
    lat_nodes : latitudes of the rows of ``values`` (file nodes, any order, contiguous).
    lon_nodes : longitudes in -180..180, ascending, contiguous; mapped to the file's 0..360
        indices, and windows that cross 0/360 are written in two parts.
    values : soil moisture (m3 m-3, NaN = missing) of shape (time, nlat, nlon).
    """
    with netCDF4.Dataset(path, "a") as nc:
        lat_axis = np.asarray(nc["latitude"][:], dtype=float)
        lon_axis = np.asarray(nc["longitude"][:], dtype=float)
        rows = _node_indices(np.asarray(lat_nodes, dtype=float), lat_axis, "latitude")
        cols = _node_indices(np.asarray(lon_nodes, dtype=float), lon_axis, "longitude", period=360.0)
        order = np.argsort(rows)
        rows, values = rows[order], np.asarray(values, dtype=np.float32)[:, order, :]
        if np.any(np.diff(rows) != 1):
            raise ValueError("lat_nodes must be contiguous nodes of the file")
        variable = nc[VARIABLE]
        if values.shape[0] != variable.shape[0]:
            raise ValueError(f"values have {values.shape[0]} time steps, the file has {variable.shape[0]}")
        position = 0
        for start, stop in column_runs(cols):
            width = stop - start
            variable[:, rows[0] : rows[-1] + 1, start:stop] = values[:, :, position : position + width]
            position += width


def _name_of(nc: netCDF4.Dataset, candidates: tuple[str, ...], path: Path, what: str) -> str:
    for name in candidates:
        if name in nc.variables:
            return name
    raise SourceError(
        path,
        f"{what} coordinate not found (tried {', '.join(candidates)}); file has: {', '.join(nc.variables)}",
    )


def _time_days(path: Path, times: netCDF4.Variable) -> np.ndarray:
    """Days (datetime64[D]) of the time variable, decoded from its CF ``units`` and ``calendar``.

    SourceError naming the file and the variable when ``units`` is missing, not a string or
    not ``<unit> since <date>``, or when the calendar has no real dates (e.g. ``360_day``).
    """
    expected = "expected CF units like 'seconds since 1970-01-01' (ERA5-Land: valid_time or time)"
    units = getattr(times, "units", None)
    if not isinstance(units, str):
        got = "no units attribute" if units is None else f"units {units!r} (not a string)"
        raise SourceError(path, f"time variable {times.name}: {got}; {expected}")
    calendar = getattr(times, "calendar", "standard")
    try:
        stamps = netCDF4.num2date(
            times[:], units, calendar, only_use_cftime_datetimes=False, only_use_python_datetimes=True
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise SourceError(
            path,
            f"time variable {times.name}: cannot decode units {units!r} in calendar {calendar!r} ({exc});"
            f" {expected} in a real-date calendar",
        ) from exc
    return np.array(stamps, dtype="datetime64[s]").astype("datetime64[D]")


def _read_year(path: Path, grid: Grid, start: dt.date, end: dt.date) -> tuple[list[dt.date], np.ndarray]:
    """Daily fields of one file within ``start..end`` on ``grid``."""
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise SourceError(path, f"not a readable NetCDF file, truncated or corrupt? ({exc})") from exc
    with nc:
        if VARIABLE not in nc.variables:
            raise SourceError(path, f"variable {VARIABLE} not found; file has: {', '.join(nc.variables)}")
        variable = nc[VARIABLE]
        check_fraction_units(path, getattr(variable, "units", None), VARIABLE)
        time_name = _name_of(nc, TIME_NAMES, path, "time")
        lat_name = _name_of(nc, LAT_NAMES, path, "latitude")
        lon_name = _name_of(nc, LON_NAMES, path, "longitude")
        if variable.dimensions != (time_name, lat_name, lon_name):
            raise SourceError(
                path,
                f"{VARIABLE} has dims {variable.dimensions}; expected ({time_name}, {lat_name}, {lon_name})",
            )
        days = _time_days(path, nc[time_name])
        if np.any(np.diff(days) < np.timedelta64(0, "D")):
            raise SourceError(path, f"{time_name} is not sorted")
        with naming(path):
            window = select_window(
                np.asarray(nc[lat_name][:], dtype=float), np.asarray(nc[lon_name][:], dtype=float), grid
            )
        wanted = np.unique(days[(days >= np.datetime64(start)) & (days <= np.datetime64(end))])
        out = np.empty((len(wanted), *grid.shape), dtype=np.float32)
        steps_per_day = max(1, round(days.size / max(np.unique(days).size, 1)))
        days_per_read = max(
            1, _MAX_VALUES_PER_READ // (steps_per_day * max(window.lat.size * window.lon.size, 1))
        )
        if window.empty:
            out[:] = np.nan
            return wanted.astype(object).tolist(), out
        for block in range(0, len(wanted), days_per_read):
            block_days = wanted[block : block + days_per_read]
            steps = np.flatnonzero((days >= block_days[0]) & (days <= block_days[-1]))
            step_slice = slice(int(steps[0]), int(steps[-1]) + 1)
            try:
                raw = window.read(
                    lambda rows, cols, t=step_slice: np.ma.filled(
                        variable[t, rows, cols].astype(np.float32), np.nan
                    )
                )
            except (OSError, RuntimeError) as exc:
                raise SourceError(
                    path, f"cannot read {VARIABLE}, file truncated or corrupt? ({exc})"
                ) from exc
            check_fraction_values(path, raw, VARIABLE, expected=UNITS)
            with naming(path):
                out[block : block + len(block_days)] = resample(
                    _daily_means(raw, days[step_slice]), window.lat, window.lon, grid
                )
    return wanted.astype(object).tolist(), out


def _daily_means(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Mean over the steps of each day (sorted ``days``), ignoring NaN."""
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    if starts.size == days.size:
        return values
    valid = np.isfinite(values)
    sums = np.add.reduceat(np.where(valid, values, 0.0), starts, axis=0)
    counts = np.add.reduceat(valid, starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts).astype(np.float32)


def read(directory: Path | str, grid: Grid, start: dt.date, end: dt.date) -> xr.DataArray:
    """Daily ERA5-Land ``swvl1`` of ``start..end`` on ``grid``.

    Parameters
    ----------
    directory : folder holding ``era5_land_swvl1_{year}.nc``.
    grid : destination grid (usually one tile of the product grid).
    start, end : period (inclusive); every year in it must have its file.

    Returns
    -------
    DataArray ``era5_sm`` (time, lat, lon), float32, m3 m-3.
    """
    directory = require_directory(directory, LABEL, file_name(start.year))
    dates: list[dt.date] = []
    fields = []
    for year in range(start.year, end.year + 1):
        path = directory / file_name(year)
        if not path.is_file():
            raise SourceError(
                path, f"ERA5-Land file for {year} not found; expected {file_name(year)} under {directory}"
            )
        year_dates, values = _read_year(
            path, grid, max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
        )
        dates += year_dates
        fields.append(values)
    return xr.DataArray(
        np.concatenate(fields, axis=0),
        dims=("time", "lat", "lon"),
        coords={"time": time_coordinate(dates), "lat": grid.lat, "lon": grid.lon},
        name="era5_sm",
        attrs={
            "units": "m3 m-3",
            "long_name": "ERA5-Land volumetric soil water layer 1 (0-7 cm), daily mean",
        },
    )
