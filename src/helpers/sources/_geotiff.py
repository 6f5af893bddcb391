"""GeoTIFF helpers shared by the readers of lat/lon rasters (private).

A north-up raster in a geographic CRS is read like any other cell-centre source: its
centre axes go through :func:`~helpers.sources._regrid.select_window` and only that window
is read (columns wrap across the antimeridian for global rasters).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.transform import from_origin
from rasterio.windows import Window

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.sources._regrid import SourceWindow, naming, select_window


@contextlib.contextmanager
def open_raster(path: Path | str) -> Iterator[rasterio.DatasetReader]:
    """Open a raster for reading; SourceError if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(path, "file not found")
    try:
        src = rasterio.open(path)
    except RasterioError as exc:
        raise SourceError(path, f"not a readable GeoTIFF, truncated or corrupt? ({exc})") from exc
    with src:
        yield src


def centre_axes(path: Path, src: rasterio.DatasetReader) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes and longitudes of a north-up raster."""
    transform = src.transform
    if transform.b != 0 or transform.d != 0 or transform.e >= 0:
        raise SourceError(
            path, f"expected a north-up raster without rotation, got geotransform {tuple(transform)}"
        )
    lat = transform.f + (np.arange(src.height) + 0.5) * transform.e
    lon = transform.c + (np.arange(src.width) + 0.5) * transform.a
    return lat, lon


def read_band(path: Path, src: rasterio.DatasetReader, window: Window | None = None) -> np.ndarray:
    """Band 1 (stored values) within ``window`` (default: all of it).

    A file whose header opens but whose pixel data is cut short or corrupt raises
    SourceError naming ``path``.
    """
    try:
        return src.read(1, window=window)
    except RasterioError as exc:
        raise SourceError(path, f"cannot read raster, truncated or corrupt? ({exc})") from exc


def read_geographic(
    path: Path, src: rasterio.DatasetReader, dst: Grid, margin: int = 1
) -> tuple[np.ndarray, SourceWindow]:
    """Band 1 of a geographic raster around ``dst`` (stored values) and the window read.

    SourceError naming ``path`` for an axis of fewer than two pixels or unreadable pixel data.
    """
    lat, lon = centre_axes(path, src)
    with naming(path):
        window = select_window(lat, lon, dst, margin)
    if window.empty:
        return np.empty(window.shape, dtype=src.dtypes[0]), window

    def read_block(rows: slice, cols: slice) -> np.ndarray:
        block = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        return read_band(path, src, block)

    return window.read(read_block), window


def write_geographic(
    path: Path,
    grid: Grid,
    array: np.ndarray,
    nodata: float,
    tags: dict[str, str] | None = None,
    crs: str = "EPSG:4326",
) -> None:
    """Write a single-band, deflate-compressed, tiled GeoTIFF of ``array`` on ``grid`` (atomically)."""
    profile = {
        "driver": "GTiff",
        "dtype": array.dtype.name,
        "count": 1,
        "width": grid.nlon,
        "height": grid.nlat,
        "crs": crs,
        "transform": from_origin(grid.west, grid.north, grid.resolution, grid.resolution),
        "nodata": nodata,
        "compress": "deflate",
    }
    if grid.nlon >= 256 and grid.nlat >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array, 1)
        if tags:
            dst.update_tags(**tags)
