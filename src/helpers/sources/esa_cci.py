"""ESA CCI SM COMBINED (comparison product): daily NetCDF files at 0.25 degree.

Provider: ESA Climate Change Initiative Soil Moisture (TU Wien for the processing),
https://climate.esa.int/en/projects/soil-moisture/, archived at CEDA in year folders.
Facts are tagged with their source: [code: TUW-GEO/esa_cci_sm metadata ini
``esa_cci_sm_v09_COMBINED.ini`` and ``interface.py``] unless stated otherwise.

Files
    ``<YYYY>/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-<YYYYMMDD>000000-fv09.1.nc`` in year
    folders [code]; earlier versions differ only by ``fv`` (e.g. ``fv07.1``) [code:
    70iscoolest/aggregate-0.25-degree-daily-ESA-CCI-soil-moisture... README]. :data:`PATTERN`
    matches year folders and flat folders alike. Several versions of one day: the highest
    ``fv`` wins, and a warning says which days mixed versions; two files of one day and
    version (a copy) are a :class:`~helpers.errors.SourceError`.
Grid and dimensions
    0.25 deg global (1440 x 720), dims ``(time=1, lat, lon)``; latitude stored north to
    south (descending) [code: the reader flips it with ``np.flipud``], longitude -180..180
    [code: global attributes]. The reader takes the direction from the coordinates. All
    files of a read must share one grid (SourceError naming both files otherwise).
Variables
    ``sm``: "Volumetric Soil Moisture", m3 m-3, valid_range 0..1, ``_FillValue`` -9999.0
    [code]. The ACTIVE product holds percent of saturation [code: TUW-GEO c3s_sm metadata]:
    percent units (or an ``ACTIVE`` file name) raise SourceError, as do valid values above 1.
    ``t0``: observation time, days since 1970-01-01 00:00:00 UTC, fill -9999.0 [code]; read
    only on request (``observation_time=True``: a ``t0_hour`` coordinate, hours UTC after
    the start of the file's day, averaged like ``sm`` over the cells that have ``sm``).
    ``flag`` (int8 bit field, ``_FillValue`` 127) [code]: 0 no_data_inconsistency_detected;
    1 (bit 0) snow_coverage_or_temperature_below_zero; 2 (bit 1) dense_vegetation; 4 (bit 2)
    others_no_convergence_in_the_model_thus_no_valid_sm_estimates; 8 (bit 3)
    soil_moisture_value_exceeds_physical_boundary; 16 (bit 4)
    weight_of_measurement_below_threshold; 32 (bit 5) all_datasets_deemed_unreliable;
    64 (bit 6) barren_ground_advisory_flag; bit 7 not_used. Also in the files and not
    read: ``sm_uncertainty``, ``freqbandID``, ``sensor``, ``dnflag``, ``mode`` [code].
Flags
    ``mask_flags`` (an int of flag bits; default 0) sets ``sm`` to NaN where any of those
    bits is set (and where ``flag`` is its fill). The default rejects nothing beyond what
    ``sm`` already lacks: the product leaves ``sm`` missing where a flag means "no estimate"
    (snow or frozen soil, dense vegetation, no convergence), and the other bits accompany
    valid estimates as advisories (bit 6 alone would remove every desert), so rejecting
    them is a choice of the study, not of the reader. The reader does check the file
    against the flag's documented meaning: a cell with bit 2 ("thus no valid sm estimates")
    and a valid ``sm`` is a SourceError (flag meanings of another version, or a corrupt
    file).
Time
    CCI has real gaps (days without a file). :func:`read` returns every requested day:
    days without a file are all-NaN, listed in ``attrs["missing_days"]`` (ISO dates) and
    named in a logged warning; :func:`read_points` gives them NaN and warns likewise. A
    period without any file is a SourceError.

:func:`read` regrids each day to a destination grid (area-weighted mean from a finer grid,
bilinear from a coarser one).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.sources._files import (
    FilePattern,
    check_fraction_units,
    check_fraction_values,
    dated_files,
    describe_days,
    missing_days,
    no_files_error,
    require_directory,
    time_coordinate,
)
from helpers.sources._regrid import column_runs, naming, resample, select_window

logger = logging.getLogger(__name__)

LABEL = "ESA CCI SM"
VERSION = "09.1"
#: Provider default: daily files in year folders (flat folders match too).
PATTERN = "**/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{year}{month}{day}000000-fv*.nc"
_VERSION_IN_NAME = re.compile(r"-fv(?P<version>\d+(?:\.\d+)*)\.nc$")
FILL = np.float32(-9999.0)
FLAG_FILL = np.int8(127)
FLAG_VALUES = np.array([0, 1, 2, 4, 8, 16, 32, 64], dtype=np.int8)
FLAG_MEANINGS = (
    "no_data_inconsistency_detected snow_coverage_or_temperature_below_zero dense_vegetation "
    "others_no_convergence_in_the_model_thus_no_valid_sm_estimates soil_moisture_value_exceeds_physical_boundary "
    "weight_of_measurement_below_threshold all_datasets_deemed_unreliable barren_ground_advisory_flag"
)
#: Flag bit 2: "others_no_convergence_in_the_model_thus_no_valid_sm_estimates".
FLAG_NO_ESTIMATE = 4
T0_UNITS = "days since 1970-01-01"
_EPOCH = dt.date(1970, 1, 1)


def file_name(date: dt.date) -> str:
    """``ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{YYYYMMDD}000000-fv09.1.nc``."""
    return f"ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{date:%Y%m%d}000000-fv{VERSION}.nc"


def write(
    directory: Path | str,
    date: dt.date,
    grid: Grid,
    sm: np.ndarray,
    flag: np.ndarray,
    t0: np.ndarray | None = None,
) -> Path:
    """Write the file of ``date`` (flat in ``directory``; the reader also finds year folders).

    Parameters
    ----------
    directory : folder of the product (created if missing).
    date : the day.
    grid : lat/lon grid of the fields (0.25 degree in reality).
    sm : soil moisture (m3 m-3, NaN = missing), shape ``grid.shape``.
    flag : int8 flags (0 = fine), shape ``grid.shape``.
    t0 : observation times (days since 1970-01-01, NaN = none), shape ``grid.shape``;
        optional (the variable is written only when given).

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
        if t0 is not None:
            t0_var = nc.createVariable("t0", "f8", ("time", "lat", "lon"), zlib=True, complevel=1, fill_value=-9999.0)
            t0_var.units = "days since 1970-01-01 00:00:00 UTC"
            t0_var.long_name = "Observation Timestamp"
            t0_var[0] = np.where(np.isfinite(t0), t0, -9999.0)
    return path


def _version(path: Path) -> tuple[int, ...] | None:
    match = _VERSION_IN_NAME.search(path.name)
    return None if match is None else tuple(int(part) for part in match["version"].split("."))


def find_files(
    directory: Path | str, start: dt.date, end: dt.date, pattern: str | None = None
) -> dict[dt.date, Path]:
    """Files of ``start..end`` (inclusive) by date; unrelated files are ignored.

    Where a day has files of several product versions (``fv`` in the name), the highest
    wins and a warning names the days concerned; two files of one day and one version are
    a SourceError naming both.
    """
    directory = require_directory(directory, LABEL, file_name(start))
    file_pattern = FilePattern(pattern or PATTERN)
    if not ("{doy}" in file_pattern.text or {"{month}", "{day}"} <= set(re.findall(r"\{\w+\}", file_pattern.text))):
        raise SourceError(directory, f"file pattern {file_pattern.text!r} must give the day ({{month}}{{day}} or {{doy}})")
    found: dict[dt.date, Path] = {}
    mixed: list[dt.date] = []
    for date, paths in dated_files(directory, file_pattern, start, end).items():
        if isinstance(date, int):
            continue
        if len(paths) > 1:
            ranked = sorted(paths, key=lambda p: (_version(p) or (), p.name), reverse=True)
            top = [p for p in ranked if _version(p) == _version(ranked[0])]
            if len(top) > 1:
                raise SourceError(
                    top[0], f"another file holds the same day and version: {', '.join(str(p) for p in top[1:])}"
                )
            mixed.append(date)
            found[date] = ranked[0]
        else:
            found[date] = paths[0]
    if mixed:
        example = found[mixed[0]]
        logger.warning(
            "%s: %s have files of several versions; the highest fv wins (e.g. %s)",
            directory, describe_days(mixed), example.name,
        )
    return found


def _open(path: Path) -> netCDF4.Dataset:
    """A CCI file, checked to hold ``sm`` (time, lat, lon), ``lat`` and ``lon`` (errors name the file)."""
    if "-ACTIVE-" in path.name.upper():
        raise SourceError(path, "ACTIVE product (percent of saturation); expected the COMBINED product in m3 m-3")
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise SourceError(path, f"not a readable NetCDF file, truncated or corrupt? ({exc})") from exc
    for name in ("sm", "lat", "lon"):
        if name not in nc.variables:
            nc.close()
            raise SourceError(path, f"variable {name} not found; file has: {', '.join(nc.variables)}")
    dims = nc["sm"].dimensions
    if len(dims) != 3 or dims[1:] != ("lat", "lon"):
        nc.close()
        raise SourceError(path, f"sm has dims {dims}; expected (time, lat, lon)")
    return nc


_Reference = tuple[Path, np.ndarray, np.ndarray]


def _axes(nc: netCDF4.Dataset, path: Path, reference: _Reference | None) -> tuple[np.ndarray, np.ndarray]:
    """The file's lat/lon axes; SourceError if they differ from the ``reference`` file's."""
    lat, lon = np.asarray(nc["lat"][:], dtype=float), np.asarray(nc["lon"][:], dtype=float)
    if reference is not None:
        other, ref_lat, ref_lon = reference
        same = lat.shape == ref_lat.shape and lon.shape == ref_lon.shape
        if not (same and np.allclose(lat, ref_lat, atol=1e-5) and np.allclose(lon, ref_lon, atol=1e-5)):
            raise SourceError(
                path,
                f"grid ({lat.size} lat x {lon.size} lon from {lat[0]:g}, {lon[0]:g}) differs from that of {other}"
                f" ({ref_lat.size} x {ref_lon.size} from {ref_lat[0]:g}, {ref_lon[0]:g}); expected one grid",
            )
    return lat, lon


def _read_day(
    nc: netCDF4.Dataset,
    path: Path,
    date: dt.date,
    block: Callable[[str], np.ma.MaskedArray],
    mask_flags: int,
    observation_time: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``sm`` (and with ``observation_time`` the hour of observation) of a block of one file.

    ``block(name)`` reads variable ``name`` over the block's cells (lat, lon). ``sm`` is
    float32 with NaN, checked against units, fractions and flag bit 2, masked by ``mask_flags``.
    """
    sm_var = nc["sm"]
    check_fraction_units(path, getattr(sm_var, "units", None), "sm")
    # only the fill is masked: netCDF4 would also mask values beyond valid_range (0..1),
    # hiding percent values from the fraction check
    sm_var.set_auto_mask(False)
    fills = [float(sm_var.getncattr(a)) for a in ("_FillValue", "missing_value") if a in sm_var.ncattrs()]
    try:
        sm = np.asarray(np.ma.getdata(block("sm")), dtype=np.float32)
        for fill in fills:
            sm[sm == np.float32(fill)] = np.nan
        flag = None
        if "flag" in nc.variables:
            flag = np.ma.filled(block("flag"), FLAG_FILL).astype(np.int16) & 0xFF
        elif mask_flags:
            raise SourceError(path, f"variable flag not found (mask_flags={mask_flags}); file has: {', '.join(nc.variables)}")
        t0 = np.ma.filled(block("t0").astype(np.float64), np.nan) if observation_time and "t0" in nc.variables else None
    except (OSError, RuntimeError, IndexError) as exc:
        raise SourceError(path, f"cannot read sm/flag, file truncated or corrupt? ({exc})") from exc
    check_fraction_values(path, sm, "sm")
    if flag is not None:
        is_fill = flag == int(FLAG_FILL)
        contradicts = ((flag & FLAG_NO_ESTIMATE) != 0) & ~is_fill & np.isfinite(sm)
        if contradicts.any():
            meaning = _flag_meaning(nc["flag"], FLAG_NO_ESTIMATE)
            raise SourceError(
                path,
                f"flag bit 2 (value 4, {meaning!r}) is set where sm holds values ({int(contradicts.sum())} cells);"
                " expected sm missing there (flag meanings of another version, or a corrupt file)",
            )
        if mask_flags:
            sm[((flag & int(mask_flags)) != 0) | is_fill] = np.nan
    hour = None
    if observation_time:
        if t0 is None:
            raise SourceError(path, "variable t0 not found (observation_time=True)")
        units = str(getattr(nc["t0"], "units", ""))
        if not units.startswith(T0_UNITS):
            raise SourceError(path, f"t0 units are {units!r}; expected {T0_UNITS!r} ...")
        hour = ((t0 - (date - _EPOCH).days) * 24.0).astype(np.float32)
        hour[~np.isfinite(sm)] = np.nan
    return sm, hour


def _flag_meaning(flag: netCDF4.Variable, value: int) -> str:
    """The file's own meaning of one flag value (from flag_values/flag_masks and flag_meanings)."""
    meanings = str(getattr(flag, "flag_meanings", "")).split()
    values = getattr(flag, "flag_values", getattr(flag, "flag_masks", None))
    if values is None or len(meanings) != np.size(values):
        return "others_no_convergence_in_the_model_thus_no_valid_sm_estimates"
    by_value = dict(zip(np.atleast_1d(values).astype(int).tolist(), meanings, strict=True))
    return by_value.get(value, "?")


def _file_date(path: Path) -> dt.date:
    match = re.search(r"(\d{8})000000", path.name)
    return dt.datetime.strptime(match[1], "%Y%m%d").date() if match else _EPOCH


def _read_grid(
    path: Path,
    grid: Grid,
    mask_flags: int = 0,
    observation_time: bool = False,
    reference: _Reference | None = None,
    date: dt.date | None = None,
) -> tuple[np.ndarray, np.ndarray | None, _Reference]:
    nc = _open(path)
    with nc:
        lat, lon = _axes(nc, path, reference)
        with naming(path):
            window = select_window(lat, lon, grid)
        if window.empty:
            empty = np.full(grid.shape, np.nan, dtype=np.float32)
            return empty, (empty.copy() if observation_time else None), (path, lat, lon)
        sm, hour = _read_day(
            nc, path, date or _file_date(path),
            lambda name: np.ma.concatenate(
                [np.ma.asarray(nc[name][0, window.rows, a:b]) for a, b in column_runs(window.cols)], axis=-1
            ),
            mask_flags, observation_time,
        )
    with naming(path):
        sm = resample(sm, window.lat, window.lon, grid)
        hour = None if hour is None else resample(hour, window.lat, window.lon, grid)
    return sm, hour, (path, lat, lon)


def read_file(path: Path | str, grid: Grid, mask_flags: int = 0) -> np.ndarray:
    """Soil moisture of one file on ``grid``: float32 (nlat, nlon), NaN where missing.

    ``mask_flags``: flag bits whose cells become NaN (see the module docstring; default none).
    """
    return _read_grid(Path(path), grid, mask_flags)[0]


def read(
    directory: Path | str,
    grid: Grid,
    start: dt.date,
    end: dt.date,
    pattern: str | None = None,
    mask_flags: int = 0,
    observation_time: bool = False,
) -> xr.DataArray:
    """Daily ESA CCI soil moisture of ``start..end`` on ``grid``.

    Parameters
    ----------
    pattern : file pattern under ``directory`` (None: :data:`PATTERN`).
    mask_flags : flag bits to reject (e.g. ``64`` for barren ground); default none.
    observation_time : also return the mean observation hour as coordinate ``t0_hour``.

    Returns
    -------
    DataArray ``esa_cci_sm`` (time, lat, lon), float32, m3 m-3, one step per day of
    ``start..end``; days without a file are NaN and listed in ``attrs["missing_days"]``.
    """
    directory = Path(directory)
    files = find_files(directory, start, end, pattern)
    if not files:
        raise no_files_error(directory, LABEL, start, end, file_name(start))
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    values = np.full((len(days), *grid.shape), np.nan, dtype=np.float32)
    hours = np.full_like(values, np.nan) if observation_time else None
    reference = None
    for date, path in files.items():
        sm, hour, reference = _read_grid(path, grid, mask_flags, observation_time, reference, date)
        values[(date - start).days] = sm
        if hours is not None:
            hours[(date - start).days] = hour
    lacking = _warn_missing(directory, list(files), start, end)
    out = xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"time": time_coordinate(days), "lat": grid.lat, "lon": grid.lon},
        name="esa_cci_sm",
        attrs={
            "units": "m3 m-3",
            "long_name": "ESA CCI SM COMBINED volumetric soil moisture",
            "missing_days": [day.isoformat() for day in lacking],
            "mask_flags": int(mask_flags),
        },
    )
    if hours is not None:
        out.coords["t0_hour"] = (("time", "lat", "lon"), hours, {"units": "hours after 00:00 UTC of the day",
                                                                "long_name": "mean observation time (t0)"})
    return out


def _warn_missing(directory: Path, found: list[dt.date], start: dt.date, end: dt.date) -> list[dt.date]:
    lacking = missing_days(found, start, end)
    if lacking:
        logger.warning("%s: no %s file for %s; those days are NaN", directory, LABEL, describe_days(lacking))
    return lacking


def read_points(
    directory: Path | str,
    lat: np.ndarray,
    lon: np.ndarray,
    dates: pd.DatetimeIndex,
    pattern: str | None = None,
    mask_flags: int = 0,
) -> np.ndarray:
    """Soil moisture of the CCI cells containing points, on each of ``dates``.

    Each file is read in one hyperslab, the window spanning the points' cells (pointwise
    fancy indexing of netCDF4 reads element by element, hundreds of times slower). Days
    without a file are NaN (a logged warning names them).

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Points, degrees (longitude -180..180).
    dates : pandas.DatetimeIndex
        Days.
    pattern, mask_flags : as for :func:`read`.

    Returns
    -------
    numpy.ndarray
        float32 (days, points), m3 m-3; NaN where the file has no estimate, a point lies
        outside the file's grid, or the day has no file.
    """
    directory = Path(directory)
    dates = pd.DatetimeIndex(dates)
    first, last = dates.min().date(), dates.max().date()
    files = find_files(directory, first, last, pattern)
    if not files:
        raise no_files_error(directory, LABEL, first, last, file_name(first))
    out = np.full((dates.size, len(lat)), np.nan, dtype=np.float32)
    position: dict[dt.date, list[int]] = {}
    for k, day in enumerate(dates.date):
        position.setdefault(day, []).append(k)
    lacking = [day for day in position if day not in files]
    if lacking:
        logger.warning("%s: no %s file for %s; those days are NaN", directory, LABEL, describe_days(lacking))
    index: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    reference: _Reference | None = None
    for day, path in files.items():
        if day not in position:
            continue
        nc = _open(path)
        with nc:
            file_lat, file_lon = _axes(nc, path, reference)
            reference = (path, file_lat, file_lon)
            if index is None:
                index = _point_index(file_lat, file_lon, lat, lon)
            rows, cols, row_of, col_of, inside = index
            if not inside.any():
                continue
            r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            sm, _ = _read_day(
                nc, path, day,
                lambda name, nc=nc, r=slice(r0, r1), c=slice(c0, c1): np.ma.asarray(nc[name][0, r, c]),
                mask_flags, False,
            )
        block = sm[np.ix_(rows - r0, cols - c0)]
        values = np.full(len(lat), np.nan, dtype=np.float32)
        values[inside] = block[row_of[inside], col_of[inside]]
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
