"""Source windows and resampling onto a destination grid, shared by the gridded readers.

A reader describes its source by the coordinate axes of its array (cell centres or grid
nodes, latitude in either order, longitude ascending). :func:`select_window` finds the rows
and columns that cover a destination :class:`~helpers.grid.Grid` plus a margin of source
cells, following longitude across the antimeridian when the source is global (columns then
wrap, and :meth:`SourceWindow.read` reads them as contiguous runs). :func:`resample` puts the
window on the destination grid:

* source cells aligned with the destination and finer by an integer factor (or equal):
  area-weighted :func:`~helpers.grid.coarsen_mean` of the valid cells;
* source finer but not aligned (grid nodes, odd factors): bilinear interpolation to a grid
  ``k`` times finer than the destination, then the area-weighted mean of each ``k`` x ``k``
  block;
* source coarser: bilinear interpolation (:func:`~helpers.grid.interp_bilinear`), NaN beyond
  half a source cell outside the source's extent.

A source axis these functions cannot use (fewer than two values) raises :class:`AxisError`,
which knows no file: readers run them inside :func:`naming` ``(path)``, which re-raises it as
a :class:`~helpers.errors.SourceError` naming the file.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.errors import SourceError
from helpers.grid import Grid, coarsen_mean, interp_bilinear

_TOLERANCE = 1e-3  # in source cells


class AxisError(ValueError):
    """A source coordinate axis cannot be regridded; re-raised by :func:`naming` with the file."""


@contextlib.contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """Re-raise an :class:`AxisError` of the block as a SourceError naming ``path``."""
    try:
        yield
    except AxisError as exc:
        raise SourceError(path, str(exc)) from exc


@dataclass(frozen=True)
class SourceWindow:
    """Rows and (possibly wrapping) columns of a source array, with their coordinates.

    ``lat_spacing`` and ``lon_spacing`` are the source's cell (or node) spacing in degrees,
    known even when the window holds a single row or column.
    """

    rows: slice
    cols: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    lat_spacing: float
    lon_spacing: float

    @property
    def empty(self) -> bool:
        return self.lat.size == 0 or self.lon.size == 0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.lat.size, self.lon.size)

    def read(self, read_block: Callable[[slice, slice], np.ndarray]) -> np.ndarray:
        """Read the window with ``read_block(rows, cols)`` run by run of contiguous columns."""
        parts = [read_block(self.rows, slice(start, stop)) for start, stop in column_runs(self.cols)]
        return np.concatenate(parts, axis=-1)


def column_runs(cols: np.ndarray) -> list[tuple[int, int]]:
    """Split ascending-by-one column indices (that may wrap to 0) into ``(start, stop)`` runs."""
    if cols.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(cols) != 1) + 1
    return [(int(run[0]), int(run[-1]) + 1) for run in np.split(cols, breaks)]


def spacing(coords: np.ndarray, what: str = "coordinate") -> float:
    """Regular spacing of a coordinate axis (absolute value); AxisError if it has under two values."""
    if coords.size < 2:
        raise AxisError(
            f"{what} axis has {coords.size} value(s); expected a regular axis of at least two cells or nodes"
        )
    return float(abs(coords[1] - coords[0]))


def select_window(src_lat: np.ndarray, src_lon: np.ndarray, dst: Grid, margin: int = 1) -> SourceWindow:
    """Rows and columns of a source covering ``dst`` plus ``margin`` source cells.

    Parameters
    ----------
    src_lat, src_lon : 1-D source coordinates (centres or nodes); longitude ascending, in any
        frame (-180..180 or 0..360). A longitude axis spanning 360 degrees is periodic; a
        regional one is taken to the -180..180 frame where it stays ascending there.
    dst : the destination grid.
    margin : number of extra source cells on each side.

    Raises AxisError if a source axis has fewer than two values.
    """
    lat = np.asarray(src_lat, dtype=float)
    lon = np.asarray(src_lon, dtype=float)
    lat_res, lon_res = spacing(lat, "latitude"), spacing(lon, "longitude")
    pad_lat = (margin + _TOLERANCE) * lat_res
    inside = np.flatnonzero((lat >= dst.south - pad_lat) & (lat <= dst.north + pad_lat))
    rows = slice(int(inside[0]), int(inside[-1]) + 1) if inside.size else slice(0, 0)
    pad_lon = (margin + _TOLERANCE) * lon_res
    if abs(lon.size * lon_res - 360.0) < lon_res / 2:
        first = math.ceil((dst.west - pad_lon - lon[0]) / lon_res)
        last = math.floor((dst.east + pad_lon - lon[0]) / lon_res)
        steps = np.arange(first, last + 1)
        cols = steps % lon.size
        window_lon = lon[0] + steps * lon_res
    else:
        shifted = (lon + 180.0) % 360.0 - 180.0  # a regional 0..360 axis in the -180..180 frame
        if np.all(np.diff(shifted) > 0):
            lon = shifted
        cols = np.flatnonzero((lon >= dst.west - pad_lon) & (lon <= dst.east + pad_lon))
        window_lon = lon[cols]
    return SourceWindow(
        rows=rows, cols=cols, lat=lat[rows], lon=window_lon, lat_spacing=lat_res, lon_spacing=lon_res
    )


def _on_cell_centres(coords: np.ndarray, resolution: float, origin: float) -> bool:
    offsets = (coords - origin) / resolution - 0.5
    return bool(np.all(np.abs(offsets - np.rint(offsets)) < _TOLERANCE))


def place_on_grid(
    field: np.ndarray, lat: np.ndarray, lon: np.ndarray, grid: Grid, fill: float = np.nan
) -> np.ndarray:
    """Put a field whose cell centres lie on ``grid``'s centres into an array of ``grid``'s shape.

    Cells of ``grid`` that the field does not cover get ``fill``.
    """
    if lat[0] < lat[-1]:
        lat, field = lat[::-1], field[..., ::-1, :]
    rows = np.rint((grid.north - lat) / grid.resolution - 0.5).astype(int)
    cols = np.rint((lon - grid.west) / grid.resolution - 0.5).astype(int)
    dtype = np.float32 if np.isnan(fill) else field.dtype
    out = np.full((*field.shape[:-2], grid.nlat, grid.nlon), fill, dtype=dtype)
    keep_rows = np.flatnonzero((rows >= 0) & (rows < grid.nlat))
    keep_cols = np.flatnonzero((cols >= 0) & (cols < grid.nlon))
    if keep_rows.size and keep_cols.size:
        src_rows = slice(keep_rows[0], keep_rows[-1] + 1)
        src_cols = slice(keep_cols[0], keep_cols[-1] + 1)
        dst_rows = slice(rows[keep_rows[0]], rows[keep_rows[-1]] + 1)
        dst_cols = slice(cols[keep_cols[0]], cols[keep_cols[-1]] + 1)
        out[..., dst_rows, dst_cols] = field[..., src_rows, src_cols]
    return out


def aligned_factor(lat: np.ndarray, lon: np.ndarray, dst: Grid) -> int | None:
    """Integer factor by which aligned source cells are finer than ``dst``; None if not aligned."""
    resolution = spacing(lon)
    ratio = dst.resolution / resolution
    factor = round(ratio)
    if factor < 1 or not math.isclose(ratio, factor, rel_tol=1e-6):
        return None
    if not (_on_cell_centres(lat, resolution, 90.0) and _on_cell_centres(lon, resolution, -180.0)):
        return None
    return factor


def resample(
    field: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    dst: Grid,
    min_valid_fraction: float = 0.0,
) -> np.ndarray:
    """Resample ``field`` (..., lat.size, lon.size) onto ``dst``; see the module docstring.

    Returns float32 (..., dst.nlat, dst.nlon) with NaN where nothing valid contributes.
    AxisError for a window of one source cell (no spacing to interpolate with).
    """
    lead = field.shape[:-2]
    if lat.size == 0 or lon.size == 0:
        return np.full((*lead, *dst.shape), np.nan, dtype=np.float32)
    field = field.astype(np.float32, copy=False)
    resolution = spacing(lon, "longitude") if lon.size > 1 else spacing(lat, "latitude")
    factor = aligned_factor(lat, lon, dst) if lon.size > 1 and lat.size > 1 else None
    if factor is not None:
        fine = Grid(dst.resolution / factor, *dst.bbox)
        canvas = place_on_grid(field, lat, lon, fine)
        if factor == 1:
            return canvas
        return coarsen_mean(canvas, factor, fine.cell_area_km2(), min_valid_fraction)
    k = max(1, math.ceil(dst.resolution / resolution - 1e-6))
    target = dst if k == 1 else Grid(dst.resolution / k, *dst.bbox)
    values = interp_bilinear(field, lat, lon, target.lat, target.lon)
    half = resolution / 2 + 1e-9
    outside_lat = (target.lat < lat.min() - half) | (target.lat > lat.max() + half)
    outside_lon = (target.lon < lon.min() - half) | (target.lon > lon.max() + half)
    values[..., outside_lat, :] = np.nan
    values[..., outside_lon] = np.nan
    if k == 1:
        return values
    return coarsen_mean(values, k, target.cell_area_km2(), min_valid_fraction)
