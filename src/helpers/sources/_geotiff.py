"""GeoTIFF helpers shared by the readers of lat/lon rasters (private).

A north-up raster in a geographic CRS is read like any other cell-centre source: its
centre axes go through :func:`~helpers.sources._regrid.select_window` and only that window
is read (columns wrap across the antimeridian for global rasters).

Tiles of one raster (SoilGrids' 250 m tiles without their VRT, say) open as one dataset
through :func:`open_mosaic`: a GDAL VRT built in memory from the tiles' headers (GDAL's
Python bindings are not needed), which reads pixels only where asked. :func:`mosaic_xml`
refuses tiles of another CRS, pixel size, data type or nodata than the first, tiles off the
first tile's pixel lattice, and overlapping tiles, each with a SourceError naming the tile.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
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


# --- mosaics of tiles -------------------------------------------------------------------------

_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "int16": "Int16",
    "uint16": "UInt16",
    "int32": "Int32",
    "uint32": "UInt32",
    "float32": "Float32",
    "float64": "Float64",
}
_LATTICE_TOLERANCE = 1e-3  # in pixels


@dataclass(frozen=True)
class TileHeader:
    """What a mosaic needs to know of one single-band tile (read from its header only)."""

    path: Path
    crs_wkt: str
    transform: tuple[float, ...]
    width: int
    height: int
    dtype: str
    nodata: float | None
    tags: tuple[tuple[str, str], ...]

    @property
    def pixel(self) -> tuple[float, float]:
        return (self.transform[0], -self.transform[4])

    @property
    def origin(self) -> tuple[float, float]:
        """(west, north) edges of the tile."""
        return (self.transform[2], self.transform[5])


def _header(path: Path) -> TileHeader:
    with open_raster(path) as src:
        transform = src.transform
        if transform.b != 0 or transform.d != 0 or transform.e >= 0:
            raise SourceError(path, f"expected a north-up tile without rotation, got geotransform {tuple(transform)}")
        if src.crs is None:
            raise SourceError(path, "tile has no coordinate reference system: truncated or corrupt?")
        return TileHeader(
            path=path,
            crs_wkt=src.crs.to_wkt(),
            transform=tuple(transform)[:6],
            width=src.width,
            height=src.height,
            dtype=src.dtypes[0],
            nodata=src.nodata,
            tags=tuple(sorted(src.tags().items())),
        )


@functools.lru_cache(maxsize=16)
def _headers_cached(stamps: tuple[tuple[str, int, int], ...]) -> tuple[TileHeader, ...]:
    return tuple(_header(Path(name)) for name, _, _ in stamps)


def tile_headers(paths: list[Path] | tuple[Path, ...]) -> tuple[TileHeader, ...]:
    """Headers of ``paths`` (sorted), cached until a file changes (a mosaic is read tile by tile)."""
    stamps = []
    for path in sorted(Path(p) for p in paths):
        try:
            stat = path.stat()
        except OSError:
            raise SourceError(path, "file not found") from None
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return _headers_cached(tuple(stamps))


def mosaic_xml(headers: tuple[TileHeader, ...]) -> str:
    """A GDAL VRT (XML text) that mosaics ``headers`` on their common pixel lattice.

    SourceError naming the tile at fault for a tile of another CRS, pixel size, data type or
    nodata than the first, off the first tile's pixel lattice, or overlapping another tile
    (the same area twice: a duplicate). Sources are absolute paths.
    """
    if not headers:
        raise ValueError("a mosaic needs at least one tile")
    first = headers[0]
    px, py = first.pixel
    reference = CRS.from_wkt(first.crs_wkt)
    offsets = []
    for tile in headers:
        if tile.crs_wkt != first.crs_wkt and CRS.from_wkt(tile.crs_wkt) != reference:
            raise SourceError(tile.path, f"CRS differs from the other tiles' ({first.path.name}): {tile.crs_wkt[:80]}")
        if not (math.isclose(tile.pixel[0], px, rel_tol=1e-6) and math.isclose(tile.pixel[1], py, rel_tol=1e-6)):
            raise SourceError(
                tile.path, f"pixel size {tile.pixel} differs from the other tiles' {first.pixel} ({first.path.name})"
            )
        if tile.dtype != first.dtype or tile.nodata != first.nodata:
            raise SourceError(
                tile.path,
                f"data type {tile.dtype} / nodata {tile.nodata} differ from the other tiles'"
                f" {first.dtype} / {first.nodata} ({first.path.name})",
            )
        col = (tile.origin[0] - first.origin[0]) / px
        row = (first.origin[1] - tile.origin[1]) / py
        if abs(col - round(col)) > _LATTICE_TOLERANCE or abs(row - round(row)) > _LATTICE_TOLERANCE:
            raise SourceError(tile.path, f"tile is not on the pixel lattice of the other tiles ({first.path.name})")
        offsets.append((round(col), round(row), tile.width, tile.height))
    box = np.array(offsets, dtype=np.int64)
    col0, row0 = box[:, 0], box[:, 1]
    col1, row1 = col0 + box[:, 2], row0 + box[:, 3]
    for start in range(0, len(headers), 1024):  # pairwise overlap test in chunks (bounded memory)
        block = slice(start, start + 1024)
        overlap = (
            (col0[block, None] < col1[None, :])
            & (col0[None, :] < col1[block, None])
            & (row0[block, None] < row1[None, :])
            & (row0[None, :] < row1[block, None])
        )
        overlap[np.arange(overlap.shape[0]), np.arange(start, start + overlap.shape[0])] = False
        if overlap.any():
            i, j = np.argwhere(overlap)[0]
            raise SourceError(
                headers[start + i].path, f"tile overlaps {headers[j].path}: the same area twice (a duplicate?)"
            )
    west, north = float(first.origin[0] + col0.min() * px), float(first.origin[1] - row0.min() * py)
    width, height = int(col1.max() - col0.min()), int(row1.max() - row0.min())
    nodata = "" if first.nodata is None else f"<NoDataValue>{float(first.nodata)!r}</NoDataValue>"
    sources = "".join(
        f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(str(tile.path))}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
        f'<DstRect xOff="{c - col0.min()}" yOff="{r - row0.min()}" xSize="{w}" ySize="{h}"/></SimpleSource>'
        for tile, (c, r, w, h) in zip(headers, offsets, strict=True)
    )
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f"<SRS>{escape(first.crs_wkt)}</SRS>"
        f"<GeoTransform>{west!r}, {float(px)!r}, 0, {north!r}, 0, {-float(py)!r}</GeoTransform>"
        f'<VRTRasterBand dataType="{_GDAL_TYPES[first.dtype]}" band="1">{nodata}{sources}</VRTRasterBand>'
        "</VRTDataset>"
    )


@contextlib.contextmanager
def open_mosaic(paths: list[Path] | tuple[Path, ...]) -> Iterator[rasterio.DatasetReader]:
    """Open tiles as one raster (an in-memory GDAL VRT; pixels are read only when asked for).

    See :func:`mosaic_xml` for the checks. Tile headers are cached until a tile changes.
    """
    xml = mosaic_xml(tile_headers(paths))
    with MemoryFile(xml.encode(), ext=".vrt") as memory, memory.open() as src:
        yield src


def vrt_sources(path: Path) -> list[Path]:
    """The source files a GDAL VRT file names (resolved against the VRT's folder where relative)."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as exc:
        raise SourceError(path, f"not a readable GDAL VRT (XML), truncated or corrupt? ({exc})") from exc
    out = []
    for element in root.iter("SourceFilename"):
        name = (element.text or "").strip()
        relative = element.get("relativeToVRT", "0") == "1"
        out.append(path.parent / name if relative else Path(name))
    return out


def missing_vrt_sources(path: Path) -> list[Path]:
    """The sources of the VRT ``path`` that do not exist."""
    return [source for source in vrt_sources(path) if not source.is_file()]


def first_unreadable(paths: list[Path], bounds: tuple[float, float, float, float] | None = None) -> Path | None:
    """The first of ``paths`` (tiles) that cannot be opened or read in full; None if all read.

    Only tiles intersecting ``bounds`` (left, bottom, right, top in the tiles' CRS) are read
    when it is given. Meant for error paths: it names the tile behind a failed mosaic read.
    """
    for path in paths:
        try:
            with rasterio.open(path) as src:
                if bounds is not None:
                    left, bottom, right, top = src.bounds
                    if right <= bounds[0] or left >= bounds[2] or top <= bounds[1] or bottom >= bounds[3]:
                        continue
                src.read(1)
        except RasterioError:
            return Path(path)
    return None
