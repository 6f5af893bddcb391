"""ERA5-Land volumetric soil water layer 1 (``swvl1``, 0-7 cm) as ECMWF ships it: NetCDF or GRIB.

Provider and products
---------------------
ECMWF for the Copernicus Climate Change Service, from the Climate Data Store (CDS): the
hourly ``reanalysis-era5-land`` (doi:10.24381/cds.e2161bac) [doc: CDS catalogue entry] and the
post-processed ``derived-era5-land-daily-statistics`` (request keys ``daily_statistic``
= ``daily_mean``, ``time_zone`` = ``utc+00:00``, ``frequency`` = ``1_hourly``...) [code:
msalazarcgeo/AOD_Reanalysis:Python_scripts/ECMWF_API_call.py]; the same converter writes both
[doc: ECMWF CKB "GRIB to netCDF conversion on new CDS and ADS systems"].

Files (:data:`PATTERN`)
-----------------------
CDS downloads are named by the user, so files are found by the glob :data:`PATTERN`
(``**/*``: the product folder and every subfolder), keeping the suffixes :data:`SUFFIXES`
(NetCDF ``.nc .nc4``, GRIB ``.grib .grib2 .grb .grb2``), and indexed by their **content**: the
time axis read from each file's metadata (cached by path, modification time and size), never
from its name. Hourly, daily, monthly-cut or yearly-cut files, one or many per year, are all
accepted; the twin world's ``era5_land_swvl1_{year}.nc`` (:func:`create`) too. A file among
them that is not ERA5-Land ``swvl1`` is an error: pass ``pattern`` to select the files.

Variable, units, grid
---------------------
* ``swvl1`` "Volumetric soil water layer 1", ``m**3 m**-3`` [code:
  TUW-GEO/ecmwf_models:src/ecmwf_models/era5/era5-land_lut.csv for the names; the units string
  is ecCodes' for paramId 39, as cfgrib decodes it: checked with a GRIB written by ecCodes].
  ``%`` or valid values above 1 raise :class:`~helpers.errors.SourceError`.
* 0.1 deg grid **nodes**, latitude 90..-90 (descending, inclusive), longitude 0..359.9 in the
  legacy layout [code: TUW-GEO/ecmwf_models:src/ecmwf_models/grid.py, which converts 0..360
  with ``trafo_lon``]. Whether the new CDS NetCDF is 0..359.9 or -180..179.9 is [open], and
  area requests give regional axes, so the axes are read, not assumed: latitude ascending or
  descending, longitude in either frame (ascending), normalised to -180..180; windows wrap
  across the antimeridian on global axes. All files of the folder must share one grid (node
  spacing and extent), else SourceError naming two of them.

Time and layouts
----------------
* Legacy NetCDF: time variable ``time``, ``hours since 1900-01-01 00:00:00.0``, calendar
  ``gregorian`` [issues: ESMValGroup/ESMValCore#3030], values often packed as int16 with
  ``scale_factor``/``add_offset`` and ``_FillValue``/``missing_value`` -32767 [code: ncdump of a
  legacy CDS ERA5 file in third-party code, repository not resolved; for ERA5-Land [open]].
  Packed and float files decode alike (netCDF4's mask-and-scale).
* New-CDS NetCDF (2024+): ``valid_time`` in ``seconds since 1970-01-01``, calendar
  ``proleptic_gregorian``; ``latitude`` carries ``stored_direction`` (ignored: the values are
  read) [issues: ESMValGroup/ESMValCore#3030; ecmwf/cdsapi#129; ArcticSnow/TopoPyScale#114].
* ``expver`` (ERA5 ``0001`` / ERA5T ``0005`` mixed): a dimension or a non-dimension variable
  [issues: ESMValGroup/ESMValTool#3790]. As a variable it only labels the steps and is ignored;
  as a dimension the non-NaN slice of each step is taken [code:
  TUW-GEO/ecmwf_models:src/ecmwf_models/interface.py]: per node, the first finite value with
  ``expver`` in ascending order (final ERA5 before ERA5T).
* ``number``: a scalar coordinate (cfgrib convention) [code: cfgrib dumps in ecmwf/cfgrib
  issues]; whether it is ever a dimension for ERA5-Land is [open]: a length-1 dimension is
  squeezed, a longer one (an ensemble) raises SourceError.
* Monthly means (a ``date`` coordinate [issues: ESMValGroup/ESMValTool#3790]) are refused.
* A time variable without CF ``<unit> since <date>`` units, or in a calendar without real
  dates, raises SourceError naming the file and the variable.

GRIB
----
Read through cfgrib (xarray engine ``cfgrib``, without writing ``.idx`` files), which needs
``cfgrib`` and ``eccodes`` installed; without them a GRIB file raises SourceError saying so.
ECMWF prefers GRIB: the NetCDF "should not be considered a long-term stable format" [doc: ECMWF
CKB page above]. cfgrib may give ``(time, step)`` with a 2-D ``valid_time`` (``time`` = forecast
reference time) [code: JuliaGeo/GRIBDatasets.jl#47, cfgrib output]; the steps are stacked to
their valid times. ERA5-Land GRIB specifics (edition, step layout) are [open]. GRIB has no
windowed reads: each step is decoded whole, so NetCDF reads tile by tile much faster.

Daily values (:func:`read`)
---------------------------
* Days are UTC days of the valid times; a daily-statistics value is the day of its stamp (the
  stamp of those files is [open]; ``time_zone`` must be ``utc+00:00`` for UTC days).
* The daily value is the mean of the distinct valid times of the day, NaN ignored: 24 hourly
  values give the hourly mean, a daily-statistics or daily file's one value is used as it is.
  ``swvl1`` is an instantaneous state, so no accumulation shift applies.
* **Partial days**: with sub-daily data (steps ``s`` apart, so ``86400 / s`` expected a day), a
  day holding fewer steps gets the mean of those it holds, is listed in the result's
  ``attrs["partial_days"]`` (ISO dates) and logged as a warning naming the folder and the days.
* **No silent loss**: a requested day no file holds raises SourceError naming the folder, every
  file found with its first/last day, and the missing days. A valid time held by two files (or
  twice in one) with different values raises SourceError naming both files and the day
  (identical copies, to within the packing step, are accepted). Daily-only and sub-daily files
  for the same days raise SourceError naming both.
* The nodes are interpolated bilinearly to the cell centres of the grid (renormalised over
  valid nodes, so coasts keep values where sea nodes are NaN); a destination coarser than the
  nodes gets the area-weighted mean of a bilinear field at node spacing.
* Memory: only the window (plus one node) is read, for a bounded number of steps at once
  (:data:`_MAX_VALUES_PER_READ` values).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.sources._era5_files import (  # the file patterns and names are public here too
    EXPVER,
    GRIB_SUFFIXES,
    LAT_NAMES,
    LON_NAMES,
    NETCDF_SUFFIXES,
    NUMBER,
    PATTERN,
    SUFFIXES,
    TIME_NAMES,
    VARIABLE,
    FileIndex,
    file_index,
    find_files,
    open_grib,
)
from helpers.sources._files import (
    check_fraction_values,
    describe_days,
    missing_days,
    require_directory,
    time_coordinate,
)
from helpers.sources._regrid import SourceWindow, column_runs, naming, resample, select_window

__all__ = [
    "EXPVER", "GRIB_SUFFIXES", "LABEL", "LAT_NAMES", "LON_NAMES", "NETCDF_SUFFIXES", "NUMBER", "PATTERN",
    "SUFFIXES", "TIME_NAMES", "UNITS", "VARIABLE", "FileIndex", "create", "file_index", "file_name",
    "find_files", "read", "write_window",
]

UNITS = "m**3 m**-3"
LABEL = "ERA5-Land"
_MAX_VALUES_PER_READ = 20_000_000  # bounds memory: steps x window nodes read at once
_LISTED_FILES = 12  # files named in a coverage error
_DAY_SECONDS = 86400

logger = logging.getLogger(__name__)


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




# --- reading -------------------------------------------------------------------------------------


def _read_steps(index: FileIndex, where: np.ndarray, window: SourceWindow) -> np.ndarray:
    """Steps ``where`` (rows of ``index.where``) in the window: (steps, lat descending, lon), float32."""
    lows = where.min(axis=0) if where.size else np.zeros(0, dtype=np.int64)
    highs = where.max(axis=0) + 1 if where.size else np.zeros(0, dtype=np.int64)
    spans = dict(zip(index.time_dims, (slice(int(a), int(b)) for a, b in zip(lows, highs, strict=True)), strict=True))
    order = (*index.time_dims, *((EXPVER,) if index.expver else ()), index.lat_dim, index.lon_dim)
    try:
        if index.format == "netcdf":
            with netCDF4.Dataset(index.path) as nc:
                variable = nc[VARIABLE]

                def block(rows: slice, cols: slice) -> np.ndarray:
                    key = [spans.get(d, rows if d == index.lat_dim else cols if d == index.lon_dim else
                                     slice(None) if d == EXPVER else 0) for d in index.dims]
                    kept = [d for d, k in zip(index.dims, key, strict=True) if not isinstance(k, int)]
                    raw = np.ma.filled(variable[tuple(key)].astype(np.float32), np.nan)
                    return np.transpose(raw, [kept.index(d) for d in order])

                raw = window.read(block)
        else:
            variable = open_grib(index.path)[VARIABLE]
            squeeze = {d: 0 for d in index.dims if d not in order}

            def block(rows: slice, cols: slice) -> np.ndarray:
                part = variable.isel({**spans, **squeeze, index.lat_dim: rows, index.lon_dim: cols})
                return np.asarray(part.transpose(*order).values, dtype=np.float32)

            raw = window.read(block)
    except SourceError:
        raise
    except (OSError, RuntimeError, ValueError, EOFError) as exc:
        raise SourceError(index.path, f"cannot read {VARIABLE}, file truncated or corrupt? ({exc})") from exc
    picked = raw[tuple((where - lows).T)] if index.time_dims else raw[None]
    if index.expver:
        merged = np.full(picked.shape[:1] + picked.shape[2:], np.nan, dtype=np.float32)
        for k in index.expver:  # first finite value per node, ERA5 before ERA5T
            merged = np.where(np.isfinite(merged), merged, picked[:, k])
        picked = merged
    if window.lat.size > 1 and window.lat[0] < window.lat[-1]:
        picked = picked[:, ::-1]
    return picked


def _canonical(window: SourceWindow) -> tuple[np.ndarray, np.ndarray]:
    lat = window.lat[::-1] if window.lat.size > 1 and window.lat[0] < window.lat[-1] else window.lat
    return lat, window.lon


def _relative(path: Path, directory: Path) -> str:
    try:
        return path.relative_to(directory).as_posix()
    except ValueError:
        return str(path)


def _listing(indexes: list[FileIndex], directory: Path) -> str:
    ordered = sorted(indexes, key=lambda i: (i.times[0], str(i.path)))
    parts = [f"{_relative(i.path, directory)} ({i.first_day}..{i.last_day})" for i in ordered[:_LISTED_FILES]]
    more = len(ordered) - _LISTED_FILES
    return ", ".join(parts) + (f", ... and {more} more" if more > 0 else "")


def _check_grids(indexes: list[FileIndex]) -> None:
    first = indexes[0]
    for other in indexes[1:]:
        if other.grid_key != first.grid_key:
            raise SourceError(
                other.path,
                f"grid differs from {first.path}: {other.describe_grid()} here, {first.describe_grid()}"
                " there; expected every ERA5-Land file of the folder on one grid (node spacing and extent)",
            )


def _check_cadences(used: list[tuple[FileIndex, np.ndarray, np.ndarray]]) -> None:
    """Daily-only and sub-daily files must not hold the same days."""
    daily = [(i, t) for i, t, _ in used if i.cadence is not None and i.cadence >= _DAY_SECONDS]
    hourly = [(i, t) for i, t, _ in used if i.cadence is not None and i.cadence < _DAY_SECONDS]
    for one, one_times in daily:
        one_days = set(one_times.astype("datetime64[D]").tolist())
        for other, other_times in hourly:
            common = sorted(one_days & set(other_times.astype("datetime64[D]").tolist()))
            if common:
                raise SourceError(
                    one.path,
                    f"holds daily values for {describe_days(common)} that {other.path} holds as sub-daily"
                    " steps; expected one product (hourly or daily statistics) per day",
                )


def _merge(
    buffer: np.ndarray,
    values: np.ndarray,
    slots: np.ndarray,
    owners: dict[int, list[FileIndex]],
    index: FileIndex,
    stamps: np.ndarray,
) -> None:
    """Put ``values`` in ``buffer[slots]``; a step already held must agree to within the packing."""
    seen = np.isin(slots, np.fromiter(owners, dtype=np.int64, count=len(owners)))
    first = np.zeros(slots.size, dtype=bool)
    first[np.unique(slots, return_index=True)[1]] = True
    fresh = first & ~seen
    buffer[slots[fresh]] = values[fresh]
    for j in np.flatnonzero(fresh):
        owners[int(slots[j])] = [index]
    for j in np.flatnonzero(~fresh):
        slot = int(slots[j])
        held, new = buffer[slot], values[j]
        both = np.isfinite(held) & np.isfinite(new)
        others = owners.setdefault(slot, [])
        if both.any():
            tolerance = max(index.precision, *(o.precision for o in others)) + 1e-6
            worst = float(np.abs(held[both] - new[both]).max())
            if worst > tolerance:
                other = others[0].path if others else index.path
                stamp = np.datetime_as_string(stamps[slot], unit="m")
                raise SourceError(
                    index.path,
                    f"{stamps[slot].astype('datetime64[D]')}: step {stamp} is also in {other} with other values"
                    f" (differences up to {worst:g}); expected each day in one file, or identical copies",
                )
        buffer[slot] = np.where(np.isfinite(held), held, new)
        others.append(index)


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


def read(
    directory: Path | str, grid: Grid, start: dt.date, end: dt.date, pattern: str | None = None
) -> xr.DataArray:
    """Daily ERA5-Land ``swvl1`` of ``start..end`` on ``grid``; see the module docstring.

    Parameters
    ----------
    directory : folder holding the files (at any depth), e.g. ``era5_land_swvl1_{year}.nc`` or
        CDS downloads of any name and time cutting.
    grid : destination grid (usually one tile of the product grid).
    start, end : period (inclusive); the files must hold every day of it.
    pattern : glob of the files under ``directory`` (None: :data:`PATTERN`); only the suffixes
        :data:`SUFFIXES` are kept.

    Returns
    -------
    DataArray ``era5_sm`` (time, lat, lon), float32, m3 m-3, one step per day of the period.
    ``attrs["steps_per_day"]`` is the expected number of steps a day; ``attrs["partial_days"]``
    (ISO dates) lists the days with fewer, when there are any.

    Raises
    ------
    SourceError : no files; an unreadable or foreign file; files of different grids; a day no
        file holds; a step held twice with different values; wrong units.
    """
    directory = require_directory(directory, LABEL, file_name(start.year))
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    indexes = [file_index(path) for path in find_files(directory, pattern)]
    if not indexes:
        raise SourceError(
            directory,
            f"no {LABEL} files matching {pattern or PATTERN!r} with a suffix of {', '.join(SUFFIXES)};"
            f" expected NetCDF or GRIB files of {VARIABLE}, e.g. {file_name(start.year)}",
        )
    _check_grids(indexes)
    lo = np.datetime64(start, "s")
    hi = np.datetime64(end + dt.timedelta(days=1), "s")
    used = []
    for index in indexes:
        inside = (index.times >= lo) & (index.times < hi)
        if inside.any():
            used.append((index, index.times[inside], index.where[inside]))
    found = {day for _, times, _ in used for day in times.astype("datetime64[D]").astype(object).tolist()}
    missing = missing_days(sorted(found), start, end)
    if missing:
        raise SourceError(
            directory,
            f"{LABEL} {VARIABLE} files do not cover {start}..{end}: missing {describe_days(missing)};"
            f" files found ({len(indexes)}): {_listing(indexes, directory)}",
        )
    _check_cadences(used)
    stamps = np.unique(np.concatenate([times for _, times, _ in used]))
    step_days = stamps.astype("datetime64[D]")
    cadences = [i.cadence for i, _, _ in used if i.cadence is not None]
    if not cadences and stamps.size > 1:
        cadences = [int(np.diff(stamps).astype(np.int64).min())]
    cadence = min(cadences) if cadences else _DAY_SECONDS
    per_day = max(1, round(_DAY_SECONDS / cadence)) if cadence < _DAY_SECONDS else 1
    days, counts = np.unique(step_days, return_counts=True)
    partial = days[counts < per_day].astype(object).tolist()
    if partial:
        logger.warning(
            "%s: %s days with fewer than %d steps (their mean is of the steps held): %s",
            directory, LABEL, per_day, describe_days(partial),
        )

    windows = {}
    for index, _, _ in used:
        with naming(index.path):
            windows[index.path] = select_window(index.lat, index.lon, grid)
    reference = used[0][0]
    ref_lat, ref_lon = _canonical(windows[reference.path])
    for index, _, _ in used[1:]:
        lat, lon = _canonical(windows[index.path])
        if lat.shape != ref_lat.shape or lon.shape != ref_lon.shape or not (
            np.allclose(lat, ref_lat) and np.allclose(lon, ref_lon)
        ):
            raise SourceError(index.path, f"window nodes differ from those of {reference.path}: grids differ")

    n_days = (end - start).days + 1
    out = np.full((n_days, *grid.shape), np.nan, dtype=np.float32)
    if ref_lat.size and ref_lon.size:
        most = max(per_day, int(counts.max()))
        days_per_read = max(1, _MAX_VALUES_PER_READ // (most * ref_lat.size * ref_lon.size))
        for first in range(0, n_days, days_per_read):
            block_lo = lo + np.timedelta64(first * _DAY_SECONDS, "s")
            block_hi = min(hi, block_lo + np.timedelta64(days_per_read * _DAY_SECONDS, "s"))
            block = stamps[(stamps >= block_lo) & (stamps < block_hi)]
            buffer = np.full((block.size, ref_lat.size, ref_lon.size), np.nan, dtype=np.float32)
            owners: dict[int, list[FileIndex]] = {}
            for index, times, where in used:
                inside = (times >= block_lo) & (times < block_hi)
                if not inside.any():
                    continue
                values = _read_steps(index, where[inside], windows[index.path])
                check_fraction_values(index.path, values, VARIABLE, expected=UNITS)
                _merge(buffer, values, np.searchsorted(block, times[inside]), owners, index, block)
            block_days = block.astype("datetime64[D]")
            rows = (np.unique(block_days) - np.datetime64(start, "D")).astype(int)
            with naming(reference.path):
                out[rows] = resample(_daily_means(buffer, block_days), ref_lat, ref_lon, grid)
    attrs: dict = {
        "units": "m3 m-3",
        "long_name": "ERA5-Land volumetric soil water layer 1 (0-7 cm), daily mean",
        "steps_per_day": per_day,
    }
    if partial:
        attrs["partial_days"] = [day.isoformat() for day in partial]
    dates = [start + dt.timedelta(days=k) for k in range(n_days)]
    return xr.DataArray(
        out,
        dims=("time", "lat", "lon"),
        coords={"time": time_coordinate(dates), "lat": grid.lat, "lon": grid.lon},
        name="era5_sm",
        attrs=attrs,
    )
