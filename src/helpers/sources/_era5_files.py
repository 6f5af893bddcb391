"""ERA5-Land files as downloaded: finding them and indexing what each holds (private).

Files are found by pattern and kept by suffix (NetCDF or GRIB); each is indexed by its content,
read from metadata only: the valid times of its steps, the time dimensions that hold them (one,
or GRIB's ``time`` and ``step``), its latitude and longitude axes, an ``expver`` dimension and
the packing step. Indexes are cached by (path, modification time, size), so a folder read tile
by tile is indexed once. :mod:`helpers.sources.era5_land` documents the layouts and reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from helpers.errors import SourceError
from helpers.sources._files import (
    check_fraction_units,
    matching_files,
)

VARIABLE = "swvl1"
#: Default file pattern: any file under the folder, at any depth (kept: :data:`SUFFIXES`).
PATTERN = "**/*"
NETCDF_SUFFIXES = (".nc", ".nc4")
GRIB_SUFFIXES = (".grib", ".grib2", ".grb", ".grb2")
SUFFIXES = NETCDF_SUFFIXES + GRIB_SUFFIXES
TIME_NAMES = ("valid_time", "time")
LAT_NAMES = ("latitude", "lat")
LON_NAMES = ("longitude", "lon")
EXPVER = "expver"
NUMBER = "number"

logger = logging.getLogger(__name__)


def find_files(directory: Path | str, pattern: str | None = None) -> list[Path]:
    """NetCDF and GRIB files (:data:`SUFFIXES`) under ``directory`` matching ``pattern``, sorted."""
    found = matching_files(Path(directory), PATTERN if pattern is None else pattern)
    return [path for path, _ in found if path.suffix.lower() in SUFFIXES]


@dataclass(frozen=True, eq=False)
class FileIndex:
    """What one file holds, read from its metadata: valid times, axes, layout.

    ``times`` are the valid times of the steps (datetime64[s], sorted) and ``where`` the index
    of each along the file's time dimensions ``time_dims`` (one, or ``time`` and ``step`` in
    GRIB). ``expver`` is the order in which the slices of an ``expver`` dimension are taken;
    ``precision`` the packing step (``scale_factor`` of an integer variable, else 0).
    """

    path: Path
    format: str  # "netcdf" or "grib"
    times: np.ndarray
    where: np.ndarray
    time_dims: tuple[str, ...]
    dims: tuple[str, ...]
    lat_dim: str
    lon_dim: str
    lat: np.ndarray
    lon: np.ndarray
    expver: tuple[int, ...] = ()
    precision: float = 0.0

    @property
    def days(self) -> np.ndarray:
        """The distinct UTC days of the steps (datetime64[D])."""
        return np.unique(self.times.astype("datetime64[D]"))

    @property
    def first_day(self) -> dt.date | None:
        return self.days[0].astype(object) if self.times.size else None

    @property
    def last_day(self) -> dt.date | None:
        return self.days[-1].astype(object) if self.times.size else None

    @property
    def cadence(self) -> int | None:
        """Smallest spacing of its valid times in seconds; None with fewer than two."""
        gaps = np.diff(np.unique(self.times)).astype(np.int64)
        return int(gaps.min()) if gaps.size else None

    @property
    def grid_key(self) -> tuple:
        """The node set, frame-free: (count, first, last, spacing) of each axis, sorted."""
        return (_axis_key(self.lat), _axis_key((self.lon + 180.0) % 360.0 - 180.0))

    def describe_grid(self) -> str:
        (nlat, lat0, lat1, dlat), (nlon, lon0, lon1, dlon) = self.grid_key
        return f"{nlat} x {nlon} nodes, spacing {dlat} x {dlon} deg, lat {lat0}..{lat1}, lon {lon0}..{lon1}"


def _axis_key(values: np.ndarray) -> tuple:
    nodes = np.sort(np.asarray(values, dtype=float))
    if nodes.size == 0:
        return (0, None, None, None)
    step = round(float(nodes[1] - nodes[0]), 6) if nodes.size > 1 else None
    return (int(nodes.size), round(float(nodes[0]), 4), round(float(nodes[-1]), 4), step)


def _nodes(values: np.ndarray) -> np.ndarray:
    """Axis values in degrees, rounded to 1e-4 deg (float32 axes of legacy files: 10.10000038)."""
    return np.round(np.asarray(np.ma.filled(values, np.nan), dtype=float), 4)


def file_index(path: Path | str) -> FileIndex:
    """The :class:`FileIndex` of a NetCDF or GRIB file, cached by (path, mtime, size).

    Raises SourceError naming the file when it is unreadable (truncated, corrupt), holds no
    ``swvl1``, has units other than a volumetric fraction, time without CF units, or a
    layout this reader does not know.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise SourceError(path, f"cannot read the file ({exc})") from exc
    return _cached_index(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _cached_index(path: Path, mtime_ns: int, size: int) -> FileIndex:
    if path.suffix.lower() in GRIB_SUFFIXES:
        return _index_grib(path)
    return _index_netcdf(path)


def _dim_of(dims: tuple[str, ...], candidates: tuple[str, ...], path: Path, what: str) -> str:
    for name in candidates:
        if name in dims:
            return name
    hint = "; monthly means (a date axis)? expected hourly or daily data" if "date" in dims else ""
    raise SourceError(
        path, f"{VARIABLE} has dims {dims}: no {what} dimension (tried {', '.join(candidates)}){hint}"
    )


def _check_extra_dims(path: Path, dims: tuple[str, ...], known: tuple[str, ...], sizes: dict[str, int]) -> None:
    for name in dims:
        if name in known or name == EXPVER:
            continue
        if name == NUMBER and sizes[name] == 1:
            continue
        what = f"{sizes[name]} ensemble members" if name == NUMBER else f"an unknown dimension {name}"
        raise SourceError(
            path,
            f"{VARIABLE} has dims {dims} with {what}; expected (time, [expver,] latitude, longitude)"
            " with at most a length-1 number",
        )


def _sorted_steps(path: Path, stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valid times (datetime64[s]) sorted, with the index tuple of each in the time dims."""
    flat = stamps.reshape(-1).astype("datetime64[s]")
    where = np.stack(np.unravel_index(np.arange(flat.size), stamps.shape), axis=1) if stamps.ndim else (
        np.zeros((1, 0), dtype=np.int64)
    )
    keep = ~np.isnat(flat)
    flat, where = flat[keep], where[keep]
    order = np.argsort(flat, kind="stable")
    return flat[order], where[order].astype(np.int64)


def _index_netcdf(path: Path) -> FileIndex:
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise SourceError(path, f"not a readable NetCDF file, truncated or corrupt? ({exc})") from exc
    with nc:
        if VARIABLE not in nc.variables:
            raise SourceError(
                path,
                f"variable {VARIABLE} not found; file has: {', '.join(nc.variables)}"
                " (expected ERA5-Land swvl1; pass a pattern to select the swvl1 files of a mixed folder)",
            )
        variable = nc[VARIABLE]
        check_fraction_units(path, getattr(variable, "units", None), VARIABLE)
        dims = tuple(variable.dimensions)
        time_dim = _dim_of(dims, TIME_NAMES, path, "time")
        lat_dim = _dim_of(dims, LAT_NAMES, path, "latitude")
        lon_dim = _dim_of(dims, LON_NAMES, path, "longitude")
        _check_extra_dims(path, dims, (time_dim, lat_dim, lon_dim), dict(zip(dims, variable.shape, strict=True)))
        for name in (time_dim, lat_dim, lon_dim):
            if name not in nc.variables:
                raise SourceError(path, f"coordinate variable {name} not found; file has: {', '.join(nc.variables)}")
        try:
            stamps = _decode_times(path, nc[time_dim])
            lat = _nodes(nc[lat_dim][:])
            lon = _nodes(nc[lon_dim][:])
            expver = _expver_order(nc) if EXPVER in dims else ()
        except (OSError, RuntimeError, IndexError) as exc:
            raise SourceError(path, f"cannot read the coordinates, file truncated or corrupt? ({exc})") from exc
        packed = variable.dtype.kind in "iu"
        precision = abs(float(getattr(variable, "scale_factor", 1.0))) if packed else 0.0
    times, where = _sorted_steps(path, stamps)
    return _checked_index(
        FileIndex(path, "netcdf", times, where, (time_dim,), dims, lat_dim, lon_dim, lat, lon, expver, precision)
    )


def _expver_order(nc: netCDF4.Dataset) -> tuple[int, ...]:
    """Slices of the expver dimension, ERA5 (``0001``) before ERA5T (``0005``) when labelled."""
    size = nc.dimensions[EXPVER].size
    if EXPVER not in nc.variables:
        return tuple(range(size))
    labels = [str(value).strip() for value in np.ravel(nc[EXPVER][:])]
    keys = [int(label) if label.isdigit() else 10**6 + k for k, label in enumerate(labels)]
    return tuple(int(k) for k in np.argsort(keys, kind="stable"))


def _decode_times(path: Path, times: netCDF4.Variable) -> np.ndarray:
    """Valid times (datetime64[s]) of a time variable, from its CF ``units`` and ``calendar``.

    SourceError naming the file and the variable when ``units`` is missing, not a string or
    not ``<unit> since <date>``, or when the calendar has no real dates (e.g. ``360_day``).
    """
    expected = "expected CF units like 'seconds since 1970-01-01' (ERA5-Land: valid_time or time)"
    units = getattr(times, "units", None)
    if not isinstance(units, str):
        got = "no units attribute" if units is None else f"units {units!r} (not a string)"
        raise SourceError(path, f"time variable {times.name}: {got}; {expected}")
    calendar_name = getattr(times, "calendar", "standard")
    values = times[:]
    try:
        stamps = netCDF4.num2date(
            np.ma.getdata(values), units, calendar_name, only_use_cftime_datetimes=False,
            only_use_python_datetimes=True,
        )
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise SourceError(
            path,
            f"time variable {times.name}: cannot decode units {units!r} in calendar {calendar_name!r} ({exc});"
            f" {expected} in a real-date calendar",
        ) from exc
    if np.ma.is_masked(values):
        raise SourceError(path, f"time variable {times.name}: has missing values; expected a value per step")
    return np.array(stamps, dtype="datetime64[s]").reshape(np.shape(values))


def _grib_needs_cfgrib(path: Path) -> None:
    try:
        import cfgrib  # noqa: F401
    except ImportError as exc:
        raise SourceError(
            path,
            "a GRIB file: reading it needs the cfgrib package with ecCodes"
            " (pip install 'cfgrib>=0.9.15' eccodes), or download NetCDF instead",
        ) from exc


@functools.lru_cache(maxsize=8)
def _open_grib_cached(path: Path, mtime_ns: int, size: int, filtered: bool) -> xr.Dataset:
    kwargs: dict = {"indexpath": ""}
    if filtered:
        kwargs["filter_by_keys"] = {"shortName": VARIABLE}
    return xr.open_dataset(path, engine="cfgrib", backend_kwargs=kwargs, cache=False)


def open_grib(path: Path, filtered: bool = True) -> xr.Dataset:
    _grib_needs_cfgrib(path)
    stat = path.stat()
    try:
        return _open_grib_cached(path, stat.st_mtime_ns, stat.st_size, filtered)
    except Exception as exc:  # cfgrib/ecCodes raise many kinds for a bad file
        raise SourceError(path, f"not a readable GRIB file, truncated or corrupt? ({exc})") from exc


def _index_grib(path: Path) -> FileIndex:
    ds = open_grib(path)
    if VARIABLE not in ds.data_vars:
        try:
            names = ", ".join(map(str, open_grib(path, filtered=False).data_vars)) or "nothing"
        except SourceError:
            names = "messages of several layouts (not listed)"
        raise SourceError(path, f"variable {VARIABLE} not found; file has: {names} (expected ERA5-Land swvl1)")
    variable = ds[VARIABLE]
    attrs = variable.attrs
    check_fraction_units(path, attrs.get("units", attrs.get("GRIB_units")), VARIABLE)
    dims = tuple(map(str, variable.dims))
    if "valid_time" not in ds.coords:
        raise SourceError(path, f"no valid_time coordinate (cfgrib); {VARIABLE} has dims {dims}")
    valid = ds["valid_time"]
    time_dims = tuple(map(str, valid.dims))
    lat_dim = _dim_of(dims, LAT_NAMES, path, "latitude (a regular lat/lon grid)")
    lon_dim = _dim_of(dims, LON_NAMES, path, "longitude (a regular lat/lon grid)")
    _check_extra_dims(path, dims, (*time_dims, lat_dim, lon_dim), dict(variable.sizes))
    try:
        stamps = np.asarray(valid.values).astype("datetime64[s]")
        lat = _nodes(ds[lat_dim].values)
        lon = _nodes(ds[lon_dim].values)
    except Exception as exc:
        raise SourceError(path, f"cannot read the GRIB coordinates, truncated or corrupt? ({exc})") from exc
    times, where = _sorted_steps(path, stamps)
    # cfgrib's (time, step) hypercube has cells no message fills (NaN fields): keep the valid
    # times of the messages themselves
    held = np.isin(times, _grib_message_times(path))
    return _checked_index(
        FileIndex(path, "grib", times[held], where[held], time_dims, dims, lat_dim, lon_dim, lat, lon)
    )


def _grib_message_times(path: Path) -> np.ndarray:
    """Valid times (datetime64[s]) of the ``swvl1`` messages, from their headers (ecCodes)."""
    import eccodes  # cfgrib's own dependency

    stamps = []
    try:
        with path.open("rb") as stream:
            while (message := eccodes.codes_grib_new_from_file(stream)) is not None:
                try:
                    if eccodes.codes_get(message, "shortName") == VARIABLE:
                        date = int(eccodes.codes_get(message, "validityDate"))
                        time = int(eccodes.codes_get(message, "validityTime"))
                        stamps.append(
                            np.datetime64(f"{date // 10000:04d}-{date // 100 % 100:02d}-{date % 100:02d}", "s")
                            + np.timedelta64(time // 100 * 3600 + time % 100 * 60, "s")
                        )
                finally:
                    eccodes.codes_release(message)
            rest = stream.read()
    except Exception as exc:  # ecCodes raises its own kinds for a bad message
        raise SourceError(path, f"not a readable GRIB file, truncated or corrupt? ({exc})") from exc
    if b"GRIB" in rest:  # a message begins but does not end: an interrupted download
        raise SourceError(
            path, f"GRIB file truncated or corrupt: {len(rest)} bytes after the last complete message"
        )
    return np.array(stamps, dtype="datetime64[s]")


def _checked_index(index: FileIndex) -> FileIndex:
    if index.times.size == 0:
        raise SourceError(index.path, f"{VARIABLE} has no time steps")
    if index.lon.size > 1 and np.any(np.diff(index.lon) <= 0):
        raise SourceError(
            index.path, f"longitude is not ascending ({index.lon[0]}, {index.lon[1]}, ...); expected ascending nodes"
        )
    if index.lat.size > 1 and not (np.all(np.diff(index.lat) > 0) or np.all(np.diff(index.lat) < 0)):
        raise SourceError(index.path, "latitude is not monotonic; expected ascending or descending nodes")
    return index
