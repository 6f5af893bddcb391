"""Daily year files of the comparison products (GLEAM4, SiTHv2): finding, decoding, reading (private).

Both products ship one NetCDF per year of daily values whose dimension names, order and
latitude direction differ between versions, so the axes are recognised by name
(:data:`TIME_NAMES`, :data:`LAT_NAMES`, :data:`LON_NAMES`) and the data transposed to
(time, lat, lon) on read. A year file must hold every requested day of its year; files of one
product must share one grid; values must be volumetric fractions after decoding. Every
problem is a :class:`~helpers.errors.SourceError` naming the file (and the days).
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pandas as pd

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources._files import (
    FilePattern,
    check_fraction_values,
    dated_files,
    describe_days,
    require_directory,
)
from helpers.sources._regrid import naming, resample, select_window

logger = logging.getLogger(__name__)

TIME_NAMES = ("time", "t", "date", "day", "days", "doy", "valid_time")
LAT_NAMES = ("lat", "latitude", "lats", "y", "nlat", "rlat")
LON_NAMES = ("lon", "longitude", "lons", "x", "nlon", "rlon")
_PERCENT_WORDS = ("%", "percent")
_DEPTH_UNITS = ("mm", "cm", "m", "kg m-2", "kg/m2", "kg m**-2", "kg/m^2", "mm/d")
_MAX_VALUES_PER_READ = 20_000_000  # bounds memory: days x window cells read at once
#: Monthly and yearly aggregates that share a daily product's prefix (GLEAM ``_MO`` / ``_YR``).
AGGREGATE_SUFFIXES = ("_mo.nc", "_yr.nc")

Decoder = Callable[[np.ndarray], np.ndarray]


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day of ``start..end`` (inclusive)."""
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


def attribute_number(path: Path, where: str, value: Any) -> float:
    """An attribute value (number, 1-element array or numeric string) as a float."""
    try:
        number = float(np.asarray(value).ravel()[0]) if not isinstance(value, str) else float(value.strip())
    except (ValueError, IndexError, TypeError) as exc:
        raise SourceError(path, f"{where} is {value!r}, not a number") from exc
    return number


@dataclass(frozen=True)
class Decoding:
    """How stored values become physical ones (see the module docstring).

    ``divide``: the SiTHv2 ``"scale factor"`` (value = stored / divide); otherwise value =
    stored * ``scale`` + ``offset``. ``fills`` and ``valid_range`` are in stored units.
    ``origin`` says where the decoding came from (used in messages). A file's own
    ``valid_range`` is not applied (values beyond it reach the fraction check, so percent
    content is an error rather than silently masked); a ``valid_range`` given by params is.
    Decoded values are checked to be fractions 0..1 (SourceError naming the file).
    """

    path: Path
    variable: str
    divide: float | None
    scale: float
    offset: float
    fills: tuple[float, ...]
    valid_range: tuple[float, float] | None
    origin: str

    def __call__(self, stored: np.ndarray) -> np.ndarray:
        raw = np.ma.getdata(stored).astype(np.float64)
        bad = ~np.isfinite(raw) | np.ma.getmaskarray(stored)
        for fill in self.fills:
            bad |= raw == fill
        if self.valid_range is not None:
            bad |= (raw < self.valid_range[0]) | (raw > self.valid_range[1])
        values = raw / self.divide if self.divide is not None else raw * self.scale + self.offset
        values[bad] = np.nan
        values = values.astype(np.float32)
        check_fraction_values(
            self.path, values, self.variable,
            expected=f"volumetric fraction m3 m-3 (decoded as {self.origin}; wrong scale?)",
        )
        return values


def cf_decoding(path: Path, variable: netCDF4.Variable) -> Decoding:
    """CF decoding (``scale_factor``, ``add_offset``, ``_FillValue``, ``missing_value``) of ``variable``."""
    variable.set_auto_maskandscale(False)
    attrs = set(variable.ncattrs())
    name = variable.name

    def number(attr: str, default: float) -> float:
        return attribute_number(path, f"{name} {attr}", variable.getncattr(attr)) if attr in attrs else default

    scale, offset = number("scale_factor", 1.0), number("add_offset", 0.0)
    fills = tuple(number(attr, np.nan) for attr in ("_FillValue", "missing_value") if attr in attrs)
    origin = f"CF stored * {scale:g} + {offset:g}" if attrs & {"scale_factor", "add_offset"} else "the values as stored"
    return Decoding(path, name, None, scale, offset, fills, None, origin)


@dataclass
class DailyVariable:
    """A daily variable of one file, its axes found by dimension names.

    ``roles`` gives each dimension's role (``time``, ``lat``, ``lon`` or ``fixed``); fixed
    dimensions are read at ``fixed[dim]`` (a layer index, or 0 for a dimension of size one).
    ``decode`` turns what netCDF4 returns into float32 physical values with NaN.
    """

    path: Path
    variable: netCDF4.Variable
    roles: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    days: list[dt.date]
    decode: Decoder
    fixed: dict[str, int] = field(default_factory=dict)

    @property
    def day_index(self) -> dict[dt.date, int]:
        return {day: k for k, day in enumerate(self.days)}

    def read(self, times: slice, rows: slice, cols: slice) -> np.ndarray:
        """Decoded float32 block (time, lat, lon) of ``times`` x ``rows`` x ``cols``."""
        index: list[slice | int] = []
        kept: list[str] = []
        for name, role in zip(self.variable.dimensions, self.roles, strict=True):
            if role == "fixed":
                index.append(self.fixed[name])
                continue
            index.append({"time": times, "lat": rows, "lon": cols}[role])
            kept.append(role)
        try:
            block = self.variable[tuple(index)]
        except (OSError, RuntimeError, IndexError, ValueError) as exc:
            raise SourceError(
                self.path, f"cannot read {self.variable.name}, file truncated or corrupt? ({exc})"
            ) from exc
        order = [kept.index(role) for role in ("time", "lat", "lon")]
        return self.decode(np.ma.asarray(block).transpose(order))


@contextlib.contextmanager
def open_netcdf(path: Path) -> Iterator[netCDF4.Dataset]:
    """A NetCDF file; SourceError naming it if it cannot be opened (truncated, not NetCDF)."""
    try:
        nc = netCDF4.Dataset(path)
    except OSError as exc:
        raise SourceError(path, f"not a readable NetCDF file, truncated or corrupt? ({exc})") from exc
    try:
        yield nc
    finally:
        nc.close()


def get_variable(nc: netCDF4.Dataset, path: Path, name: str) -> netCDF4.Variable:
    """Variable ``name``; SourceError listing the file's variables if it is absent."""
    if name not in nc.variables:
        raise SourceError(path, f"variable {name} not found; file has: {', '.join(nc.variables) or 'none'}")
    return nc.variables[name]


def check_soil_moisture_units(path: Path, variable: netCDF4.Variable) -> None:
    """SourceError for percent or water-depth units; other units are left to the value check.

    The units of these products are not documented (a fraction written ``m3 m-3``,
    ``m3/m3``, ``1``, ``-`` ...), so only units that cannot be a fraction are rejected.
    """
    units = getattr(variable, "units", None)
    if units is None:
        return
    text = str(units).strip()
    if any(word in text.lower() for word in _PERCENT_WORDS):
        raise SourceError(path, f"{variable.name}: expected volumetric fraction m3 m-3, got percent (units {text!r})")
    if text.lower() in _DEPTH_UNITS:
        raise SourceError(
            path, f"{variable.name}: expected volumetric fraction m3 m-3, got units {text!r} (a water depth?)"
        )


def _role(nc: netCDF4.Dataset, name: str) -> str:
    """``time``, ``lat``, ``lon`` or ``fixed`` for a dimension, by name or coordinate attributes."""
    lower = name.lower()
    coord = nc.variables.get(name)
    units = str(getattr(coord, "units", "")).lower() if coord is not None else ""
    standard = str(getattr(coord, "standard_name", "")).lower() if coord is not None else ""
    if lower in TIME_NAMES or " since " in units or standard == "time":
        return "time"
    if lower in LAT_NAMES or units in ("degrees_north", "degree_north") or standard == "latitude":
        return "lat"
    if lower in LON_NAMES or units in ("degrees_east", "degree_east") or standard == "longitude":
        return "lon"
    return "fixed"


def _coordinate(nc: netCDF4.Dataset, path: Path, dim: str, role: str) -> netCDF4.Variable | None:
    """The coordinate variable of a dimension: same name, else a 1-D variable along it."""
    if dim in nc.variables and nc.variables[dim].dimensions == (dim,):
        return nc.variables[dim]
    names = LAT_NAMES if role == "lat" else LON_NAMES if role == "lon" else TIME_NAMES
    for name, var in nc.variables.items():
        if var.dimensions == (dim,) and name.lower() in names:
            return var
    return None


def _regular_axis(path: Path, values: np.ndarray, what: str) -> np.ndarray:
    if values.size >= 2:
        steps = np.diff(values)
        if not (np.all(steps > 0) or np.all(steps < 0)) or not np.allclose(
            np.abs(steps), abs(steps[0]), rtol=1e-3, atol=0
        ):
            raise SourceError(path, f"{what} is not a regular axis (steps {np.unique(np.round(steps, 6))[:5]})")
    return values


def daily_variable(
    path: Path,
    nc: netCDF4.Dataset,
    variable: netCDF4.Variable,
    year: int,
    decode: Decoder,
    layer: int | None = None,
) -> DailyVariable:
    """Find the time, latitude and longitude dimensions of ``variable`` and its days.

    Other dimensions of size one are read at index 0. With ``layer`` (an index), exactly one
    other dimension of size above one may exist and is read at that index (a layer
    dimension; none at all is allowed for ``layer == 0``); without it, any such dimension is
    a SourceError.
    """
    roles = tuple(_role(nc, dim) for dim in variable.dimensions)
    for role in ("time", "lat", "lon"):
        if roles.count(role) != 1:
            found = ", ".join(f"{d} ({r})" for d, r in zip(variable.dimensions, roles, strict=True))
            raise SourceError(
                path,
                f"{variable.name}: expected one {role} dimension, found {roles.count(role)}; dims: {found}",
            )
    sizes = dict(zip(variable.dimensions, variable.shape, strict=True))
    others = [d for d, r in zip(variable.dimensions, roles, strict=True) if r == "fixed"]
    fixed = {d: 0 for d in others if sizes[d] == 1}
    layered = [d for d in others if sizes[d] > 1]
    if layer is None and layered:
        raise SourceError(
            path, f"{variable.name}: unexpected dimension(s) {', '.join(layered)} besides time, lat and lon"
        )
    if layer is not None:
        if len(layered) > 1:
            raise SourceError(
                path,
                f"{variable.name}: cannot tell the layer dimension among {', '.join(layered)}"
                " (expected one besides time, lat and lon)",
            )
        candidates = layered or [d for d in others if sizes[d] == 1]
        if not candidates and layer != 0:
            raise SourceError(path, f"{variable.name}: no layer dimension, so layer {layer} does not exist")
        if candidates:
            dim = candidates[0]
            if not 0 <= layer < sizes[dim]:
                raise SourceError(
                    path, f"{variable.name}: layer {layer} out of range; dimension {dim} has {sizes[dim]} layers"
                )
            fixed[dim] = layer
    axes = {}
    for dim, role in zip(variable.dimensions, roles, strict=True):
        if role in ("lat", "lon"):
            coord = _coordinate(nc, path, dim, role)
            if coord is None:
                raise SourceError(path, f"{variable.name}: no coordinate variable for dimension {dim} ({role})")
            axes[role] = _regular_axis(path, np.asarray(coord[:], dtype=float), f"{role} axis {coord.name}")
    if axes["lon"].size >= 2 and axes["lon"][1] < axes["lon"][0]:
        raise SourceError(path, f"{variable.name}: longitude descends; expected an ascending longitude axis")
    time_dim = variable.dimensions[roles.index("time")]
    days = _file_days(nc, path, time_dim, sizes[time_dim], year)
    return DailyVariable(path, variable, roles, axes["lat"], axes["lon"], days, decode, fixed)


def _file_days(nc: netCDF4.Dataset, path: Path, dim: str, size: int, year: int) -> list[dt.date]:
    """The day of each step of the time dimension.

    CF ``<unit> since <date>`` values are decoded; without them, values 1..n are days of
    the year, and a time dimension without a coordinate holding exactly the year's days is
    taken as 1 January .. 31 December [open: the time encoding of SiTHv2 is undocumented].
    """
    coord = _coordinate(nc, path, dim, "time")
    n_year = 366 if calendar.isleap(year) else 365
    if coord is None:
        if size == n_year:
            logger.debug("%s: time dimension %s has no coordinate; taken as %d-01-01..12-31", path, dim, year)
            return [dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(size)]
        raise SourceError(path, f"time dimension {dim} has no coordinate and {size} steps, not the {n_year} days of {year}")
    values = np.ma.asarray(coord[:])
    if np.ma.count_masked(values):
        raise SourceError(path, f"time variable {coord.name} has missing values")
    units = str(getattr(coord, "units", ""))
    if " since " in units:
        try:
            stamps = netCDF4.num2date(
                np.asarray(values), units, getattr(coord, "calendar", "standard"), only_use_cftime_datetimes=False
            )
        except (ValueError, TypeError) as exc:
            raise SourceError(path, f"time variable {coord.name}: cannot decode units {units!r} ({exc})") from exc
        days = [dt.date(s.year, s.month, s.day) for s in np.atleast_1d(stamps)]
    elif np.array_equal(np.asarray(values, dtype=float), np.arange(1, size + 1)) and size <= n_year:
        days = [dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(size)]
    else:
        raise SourceError(
            path, f"time variable {coord.name}: units {units!r} are not '<unit> since <date>' nor days of the year"
        )
    others = sorted({d.year for d in days} - {year})
    if others:
        raise SourceError(path, f"time axis holds days of {others}, expected only {year} (shifted time stamps?)")
    if len(set(days)) != len(days):
        repeated = sorted({d for d in days if days.count(d) > 1})
        raise SourceError(path, f"time axis repeats {describe_days(repeated)}")
    return days


def find_year_files(
    directory: Path | str, start: dt.date, end: dt.date, pattern: str, label: str, example: str
) -> dict[int, Path]:
    """Year files of ``start..end`` by year; aggregates (``_MO``/``_YR``) dropped; duplicates an error."""
    directory = require_directory(directory, label, example)
    file_pattern = FilePattern(pattern)
    if not file_pattern.has_date:
        raise SourceError(directory, f"file pattern {pattern!r} has no {{year}} placeholder")
    found: dict[int, Path] = {}
    for date, paths in dated_files(directory, file_pattern, start, end).items():
        year = date if isinstance(date, int) else date.year
        daily = [p for p in paths if not p.name.lower().endswith(AGGREGATE_SUFFIXES)]
        if len(daily) > 1:
            raise SourceError(
                directory,
                f"several {label} files for {year}: {', '.join(str(p) for p in daily)}; expected one"
                " (another version or a copy? narrow the pattern to one)",
            )
        if daily:
            found[year] = daily[0]
    return found


def _same_grid(reference: DailyVariable | None, current: DailyVariable) -> None:
    if reference is None:
        return
    same = reference.lat.shape == current.lat.shape and reference.lon.shape == current.lon.shape
    if same:
        tol = 1e-6 * max(1.0, abs(float(np.ptp(reference.lon))) if reference.lon.size else 1.0)
        same = np.allclose(reference.lat, current.lat, atol=tol) and np.allclose(reference.lon, current.lon, atol=tol)
    if not same:
        raise SourceError(
            current.path,
            f"grid ({_describe_axes(current)}) differs from that of {reference.path} ({_describe_axes(reference)});"
            " expected all files of the series on one grid",
        )


def _describe_axes(var: DailyVariable) -> str:
    def axis(values: np.ndarray) -> str:
        step = abs(values[1] - values[0]) if values.size > 1 else float("nan")
        return f"{values.size} x {step:g} deg from {values[0]:g}" if values.size else "empty"

    return f"lat {axis(var.lat)}, lon {axis(var.lon)}"


def _no_check(path: Path, values: np.ndarray) -> None:
    """Decoded values are checked by :class:`Decoding` itself."""


OpenYear = Callable[[Path, int], contextlib.AbstractContextManager[DailyVariable]]


def _check_years(
    directory: Path, files: dict[int, Path], start: dt.date, end: dt.date, label: str, example: Callable[[int], str]
) -> None:
    lacking = [year for year in range(start.year, end.year + 1) if year not in files]
    if lacking:
        raise SourceError(
            directory,
            f"no {label} file for {', '.join(map(str, lacking))} (needed for {start}..{end}); expected names"
            f" like {example(lacking[0])} under {directory} (a continuous product has no gaps)",
        )


def _year_days(var: DailyVariable, year: int, start: dt.date, end: dt.date) -> list[int]:
    """Indices in ``var``'s time axis of the days of ``year`` within ``start..end``; SourceError if any lacks."""
    first, last = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
    wanted = days_between(first, last)
    index = var.day_index
    lacking = [day for day in wanted if day not in index]
    if lacking:
        raise SourceError(
            var.path,
            f"time axis lacks {describe_days(lacking)} (file has {describe_days(var.days, limit=3)});"
            " expected every day (a continuous product)",
        )
    return [index[day] for day in wanted]


def read_year_files(
    directory: Path,
    files: dict[int, Path],
    grid: Grid,
    start: dt.date,
    end: dt.date,
    open_year: OpenYear,
    label: str,
    example: Callable[[int], str],
    check: Callable[[Path, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Every day of ``start..end`` from year files on ``grid``: float32 (days, nlat, nlon).

    SourceError for a missing year or day, a file on another grid than the first, or values
    that are not fractions (``check`` replaces the default fraction check).
    """
    _check_years(directory, files, start, end, label, example)
    check = check or _no_check
    out = np.full(((end - start).days + 1, *grid.shape), np.nan, dtype=np.float32)
    reference: DailyVariable | None = None
    for year in range(start.year, end.year + 1):
        path = files[year]
        with open_year(path, year) as var:
            _same_grid(reference, var)
            reference = var
            steps = _year_days(var, year, start, end)
            offset = (max(start, dt.date(year, 1, 1)) - start).days
            with naming(path):
                window = select_window(var.lat, var.lon, grid)
            if window.empty:
                continue
            batch = max(1, _MAX_VALUES_PER_READ // (window.shape[0] * window.shape[1]))
            for begin in range(0, len(steps), batch):  # a batch of days at a time: bounded memory
                chunk = np.asarray(steps[begin : begin + batch])
                first = int(chunk.min())
                times = slice(first, int(chunk.max()) + 1)
                block = window.read(lambda rows, cols, times=times, var=var: var.read(times, rows, cols))
                block = block[chunk - first]
                check(path, block)
                with naming(path):
                    out[offset + begin : offset + begin + len(chunk)] = resample(block, window.lat, window.lon, grid)
    return out


def point_index(
    file_lat: np.ndarray, file_lon: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sorted unique rows and columns of the cells holding the points, each point's position in
    them, and which points lie inside the grid (nearest centre within half a cell; longitude
    compared modulo 360, so a 0..360 file serves -180..180 points)."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    half_lat = abs(file_lat[1] - file_lat[0]) / 2 if file_lat.size > 1 else 90.0
    half_lon = abs(file_lon[1] - file_lon[0]) / 2 if file_lon.size > 1 else 180.0
    d_lat = np.abs(file_lat[None, :] - lat[:, None])
    d_lon = np.abs((file_lon[None, :] - lon[:, None] + 180.0) % 360.0 - 180.0)
    row, col = d_lat.argmin(axis=1), d_lon.argmin(axis=1)
    points = np.arange(lat.size)
    inside = (d_lat[points, row] <= half_lat + 1e-9) & (d_lon[points, col] <= half_lon + 1e-9)
    rows, row_of = np.unique(row, return_inverse=True)
    cols, col_of = np.unique(col, return_inverse=True)
    return rows, cols, row_of, col_of, inside


def read_year_points(
    directory: Path,
    files: dict[int, Path],
    lat: np.ndarray,
    lon: np.ndarray,
    dates: pd.DatetimeIndex,
    open_year: OpenYear,
    label: str,
    example: Callable[[int], str],
    check: Callable[[Path, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Values of the cells holding points on each of ``dates``: float32 (days, points).

    Each file is read in hyperslabs spanning the points' cells, a batch of days at a time
    (bounded memory); pointwise fancy indexing of netCDF4 is far slower.
    """
    dates = pd.DatetimeIndex(dates)
    days = list(dates.date)
    _check_years(directory, files, min(days), max(days), label, example)
    check = check or _no_check
    out = np.full((len(days), len(lat)), np.nan, dtype=np.float32)
    reference: DailyVariable | None = None
    index = None
    for year in sorted({day.year for day in days}):
        path = files[year]
        with open_year(path, year) as var:
            _same_grid(reference, var)
            reference = var
            if index is None:
                index = point_index(var.lat, var.lon, lat, lon)
            rows, cols, row_of, col_of, inside = index
            positions = [k for k, day in enumerate(days) if day.year == year]
            steps_of = var.day_index
            lacking = [days[k] for k in positions if days[k] not in steps_of]
            if lacking:
                raise SourceError(path, f"time axis lacks {describe_days(lacking)}; expected every day (a continuous product)")
            if not inside.any():
                continue
            r0, c0 = int(rows[0]), int(cols[0])
            cells = (int(rows[-1]) - r0 + 1) * (int(cols[-1]) - c0 + 1)
            batch = max(1, _MAX_VALUES_PER_READ // cells)
            for begin in range(0, len(positions), batch):
                chunk = positions[begin : begin + batch]
                steps = np.array([steps_of[days[k]] for k in chunk])
                first = int(steps.min())
                block = var.read(slice(first, int(steps.max()) + 1), slice(r0, int(rows[-1]) + 1), slice(c0, int(cols[-1]) + 1))
                picked = block[steps - first][:, rows - r0][:, :, cols - c0]
                values = np.full((len(chunk), len(lat)), np.nan, dtype=np.float32)
                values[:, inside] = picked[:, row_of[inside], col_of[inside]]
                check(path, values)
                out[chunk] = values
    return out
