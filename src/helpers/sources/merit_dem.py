"""MERIT DEM: elevation (m above EGM96) in 5 x 5 degree GeoTIFF tiles, and slope derived from it.

Provider: Yamazaki Lab, University of Tokyo (hydro.iis.u-tokyo.ac.jp/~yamadai/MERIT_DEM).
Reference: Yamazaki, D. et al. (2017), A high-accuracy map of global terrain elevations,
Geophys. Res. Lett. 44, 5844-5853, doi:10.1002/2017GL072874.

Files
-----
* Tiles of 5 x 5 degrees named after their lower-left (south-west) corner: ``n30e090_dem.tif``
  covers 30-35 N, 90-95 E; ``s05w060_dem.tif`` covers 5 S-0, 60-55 W [doc: MERIT DEM page].
  Each is float32 in EPSG:4326 (WGS 84 lat/lon), 6000 x 6000 pixels of 3 arc-seconds,
  nodata -9999 (sea), heights in metres above the EGM96 geoid [doc: MERIT DEM page]; the
  demo writes coarser tiles. The nodata value is read from each tile's header.
* The provider ships the tiles in 30 x 30 degree tar packages ``dem_tif_n30e090.tar``
  [doc: MERIT DEM download page]; unpacked, a package is a folder of its tiles,
  ``dem_tif_s30e030/s20e055_dem.tif`` [code: a third-party script reading unpacked tiles;
  the folder name is not on the provider's page, so it is not relied on]. Tiles are found
  by :data:`PATTERN` ``**/*_dem.tif`` at any depth: package folders, one flat folder, or any
  other arrangement. Tar packages left packed are not read (the error says to unpack them).
* Tile headers may sit half a pixel off the corner their name gives: MERIT Hydro's tiles
  (same producer and tiling) have their origin at ``corner - 1.5 arc-seconds`` in both axes
  [code: a gdalinfo listing of ``elv_n00e000/n00e005_elv.tif`` in CH-Earth/CWARHM]; whether
  MERIT DEM's do is [open]. Each tile is placed on the 3 arc-second lattice of the corners
  by rounding its origin to the nearest pixel (ties: east and south), the same for every
  tile, so the mosaic has neither gaps nor overlaps; the position error is at most half a
  pixel (45 m), far below a destination cell.

Checks (each a :class:`~helpers.errors.SourceError` naming the tile): a tile name found in
two places (both named); a tile not in EPSG:4326, not square, not 5 x 5 degrees, away from
the corner its name gives by more than half a pixel, or with another pixel size than its
siblings (the first tile in corner order); a tile that cannot be opened or read (cut short,
corrupt).

Reading
-------
:func:`read` mosaics the tiles that cover a destination grid and returns

* ``elevation``: mean of the valid pixels in each cell (area-weighted);
* ``slope``: computed at the native resolution from centred differences, with the pixel
  spacing in metres (``dy = R dlat``, ``dx = R dlon cos(lat)``), as
  ``degrees(arctan(hypot(dz/dx, dz/dy)))``, then averaged per cell like elevation
  [open: the paper names terrain and slope only].

Memory stays bounded: the destination is processed in blocks of cells whose mosaic (at
native resolution, plus a margin of two pixels) holds at most :data:`MAX_MOSAIC_PIXELS`
pixels (one destination cell per block when a cell alone is larger). Tiles absent from the
directory are treated as ocean (MERIT has no tiles over sea): their cells are NaN, and the
slope of coastal pixels next to them is NaN. A destination finer than the tiles gets
bilinearly interpolated elevation and slope.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from rasterio.crs import CRS
from rasterio.windows import Window

from helpers.errors import SourceError
from helpers.grid import EARTH_RADIUS_KM, Grid, margin_grid
from helpers.sources._files import matching_files, require_directory
from helpers.sources._geotiff import open_raster, read_band, write_geographic
from helpers.sources._regrid import resample

TILE_DEGREES = 5
NODATA = -9999.0
LABEL = "MERIT DEM"
#: Tiles at any depth under the product folder (the unpacked ``dem_tif_*`` packages).
PATTERN = "**/*_dem.tif"
PACKAGE_GLOB = "**/dem_tif_*.tar"
NAME = re.compile(r"^(?P<ns>[ns])(?P<lat>\d{2})(?P<ew>[ew])(?P<lon>\d{3})_dem\.tif$")
MAX_MOSAIC_PIXELS = 16_000_000
_WGS84 = CRS.from_epsg(4326)
_log = logging.getLogger(__name__)


def tile_name(lat_south: int, lon_west: int) -> str:
    """Name of the tile whose lower-left corner is (``lat_south``, ``lon_west``), e.g. ``n30e090_dem.tif``."""
    if (
        lat_south % TILE_DEGREES
        or lon_west % TILE_DEGREES
        or not (-90 <= lat_south < 90 and -180 <= lon_west < 180)
    ):
        raise ValueError(f"tile corner ({lat_south}, {lon_west}) is not a 5-degree tile corner")
    ns, ew = ("n" if lat_south >= 0 else "s"), ("e" if lon_west >= 0 else "w")
    return f"{ns}{abs(lat_south):02d}{ew}{abs(lon_west):03d}_dem.tif"


def package_name(lat_south: int, lon_west: int) -> str:
    """Folder (and, with ``.tar``, package) of the 30-degree package holding a tile, e.g. ``dem_tif_n30e090``."""
    lat30, lon30 = math.floor(lat_south / 30) * 30, math.floor(lon_west / 30) * 30
    return "dem_tif_" + tile_name(lat30, lon30).removesuffix("_dem.tif")


def write_tile(directory: Path | str, lat_south: int, lon_west: int, elevation: np.ndarray) -> Path:
    """Write one tile; the pixel size is ``5 / nx`` degrees.

    Parameters
    ----------
    directory : folder of the tiles (created if missing).
    lat_south, lon_west : lower-left corner (multiples of 5 degrees).
    elevation : (ny, nx) metres with ny == nx, NaN = no data.

    Returns
    -------
    Path of the GeoTIFF.
    """
    elevation = np.asarray(elevation, dtype=np.float32)
    ny, nx = elevation.shape
    if ny != nx:
        raise ValueError(f"a tile has square pixels: expected ny == nx, got {elevation.shape}")
    grid = Grid(TILE_DEGREES / nx, lon_west, lat_south, lon_west + TILE_DEGREES, lat_south + TILE_DEGREES)
    path = Path(directory) / tile_name(lat_south, lon_west)
    write_geographic(
        path, grid, np.where(np.isfinite(elevation), elevation, NODATA).astype(np.float32), NODATA
    )
    return path


def _corner(name: str) -> tuple[int, int] | None:
    match = NAME.match(name)
    if match is None:
        return None
    lat = int(match["lat"]) * (1 if match["ns"] == "n" else -1)
    lon = int(match["lon"]) * (1 if match["ew"] == "e" else -1)
    if lat % TILE_DEGREES or lon % TILE_DEGREES or not (-90 <= lat < 90 and -180 <= lon < 180):
        return None
    return lat, lon


def find_tiles(directory: Path | str, pattern: str | None = None) -> dict[tuple[int, int], Path]:
    """Tiles under ``directory`` by lower-left corner (lat_south, lon_west).

    Parameters
    ----------
    directory : product folder; tiles are searched at any depth.
    pattern : file pattern relative to it (default :data:`PATTERN`); files it matches whose
        name is not a tile name are ignored (logged).

    Raises
    ------
    SourceError
        no tile found (mentioning packed ``dem_tif_*.tar`` packages if there are some), or
        one tile name in two places (naming both).
    """
    directory = require_directory(directory, LABEL, tile_name(30, 90))
    tiles: dict[tuple[int, int], Path] = {}
    ignored = []
    for path, _ in matching_files(directory, pattern or PATTERN):
        corner = _corner(path.name)
        if corner is None:
            ignored.append(path.name)
            continue
        if corner in tiles:
            raise SourceError(path, f"duplicate {LABEL} tile {path.name}: also at {tiles[corner]}; keep one")
        tiles[corner] = path
    if ignored:
        _log.warning("%s: ignored %d file(s) that are not tile names: %s", directory, len(ignored), ignored[:5])
    if not tiles:
        packages = sorted(p.name for p in directory.glob(PACKAGE_GLOB))
        hint = f"; found packed {', '.join(packages[:4])}: unpack them (tar -xf) here" if packages else ""
        raise SourceError(
            directory,
            f"no {LABEL} tiles found; expected names like {tile_name(30, 90)} (pattern {pattern or PATTERN!r}){hint}",
        )
    return dict(sorted(tiles.items()))


def _check_tile(
    path: Path, src: rasterio.DatasetReader, corner: tuple[int, int], pixel: float | None, reference: Path
) -> float:
    """The tile's pixel size (degrees) after checking CRS, shape and position; SourceError naming it."""
    crs = src.crs
    if crs is None or not crs.is_geographic or not (crs == _WGS84 or crs.to_epsg() == 4326):
        raise SourceError(path, f"expected EPSG:4326 (WGS 84 lat/lon) like every {LABEL} tile, got CRS {crs}")
    transform = src.transform
    if transform.b != 0 or transform.d != 0 or transform.e >= 0:
        raise SourceError(path, f"expected a north-up tile without rotation, got geotransform {tuple(transform)}")
    size = transform.a
    if not math.isclose(size, -transform.e, rel_tol=1e-6) or src.width != src.height:
        raise SourceError(
            path, f"expected a square 5 x 5 degree tile, got {src.width} x {src.height} pixels of"
            f" {transform.a:g} x {-transform.e:g} deg"
        )
    if pixel is not None and not math.isclose(size, pixel, rel_tol=1e-6):
        raise SourceError(path, f"pixel size {size:g} deg differs from its siblings' {pixel:g} deg ({reference.name})")
    if abs(src.width * size - TILE_DEGREES) > size * 1.001:
        raise SourceError(path, f"expected a 5 x 5 degree tile, got {src.width * size:g} degrees a side")
    lat_south, lon_west = corner
    west, north = transform.c, transform.f
    if abs(west - lon_west) > size * 0.501 or abs(north - (lat_south + TILE_DEGREES)) > size * 0.501:
        raise SourceError(
            path,
            f"tile's north-west corner is ({north:g} N, {west:g} E); its name gives"
            f" ({lat_south + TILE_DEGREES} N, {lon_west} E)",
        )
    return size


def _pixel_size(tiles: dict[tuple[int, int], Path]) -> tuple[float, Path]:
    """Pixel size of the first tile (the reference for its siblings) and that tile."""
    corner, path = next(iter(tiles.items()))
    with open_raster(path) as src:
        return _check_tile(path, src, corner, None, path), path


def _mosaic(tiles: dict[tuple[int, int], Path], area: Grid, reference: Path) -> np.ndarray:
    """Elevation on ``area`` (a grid at the tiles' pixel size) from the tiles it touches; NaN elsewhere."""
    mosaic = np.full(area.shape, np.nan, dtype=np.float32)
    first_lat = math.floor(area.south / TILE_DEGREES) * TILE_DEGREES
    first_lon = math.floor(area.west / TILE_DEGREES) * TILE_DEGREES
    for lat_south in range(first_lat, math.ceil(area.north / TILE_DEGREES) * TILE_DEGREES, TILE_DEGREES):
        for lon_west in range(first_lon, math.ceil(area.east / TILE_DEGREES) * TILE_DEGREES, TILE_DEGREES):
            path = tiles.get((lat_south, lon_west))
            if path is None:
                continue
            with open_raster(path) as src:
                _check_tile(path, src, (lat_south, lon_west), area.resolution, reference)
                # the tile's first row and column on the area's lattice (nearest pixel, ties east/south)
                row_start = math.floor((area.north - src.transform.f) / area.resolution + 0.5 + 1e-6)
                col_start = math.floor((src.transform.c - area.west) / area.resolution + 0.5 + 1e-6)
                r0, r1 = max(0, row_start), min(area.nlat, row_start + src.height)
                c0, c1 = max(0, col_start), min(area.nlon, col_start + src.width)
                if r0 >= r1 or c0 >= c1:
                    continue
                block = read_band(path, src, Window(c0 - col_start, r0 - row_start, c1 - c0, r1 - r0))
                nodata = src.nodata if src.nodata is not None else NODATA
                mosaic[r0:r1, c0:c1] = np.where(block == nodata, np.nan, block)
    return mosaic


def slope_degrees(elevation: np.ndarray, lat: np.ndarray, pixel_degrees: float) -> np.ndarray:
    """Slope (degrees) of an elevation grid with rows at latitudes ``lat`` and square pixels in degrees.

    ``slope = degrees(arctan(hypot(dz/dx, dz/dy)))`` with centred differences (one-sided at
    the edges), ``dy = R * radians(pixel)`` and ``dx = dy * cos(lat)``. NaN where a
    neighbour is missing.
    """
    dy = EARTH_RADIUS_KM * 1000 * math.radians(pixel_degrees)
    dx = dy * np.maximum(np.cos(np.radians(lat)), 1e-6)
    if elevation.shape[0] < 2 or elevation.shape[1] < 2:
        return np.full(elevation.shape, np.nan, dtype=np.float32)
    dz_dy = np.gradient(elevation, axis=0) / dy
    dz_dx = np.gradient(elevation, axis=1) / dx[:, None]
    return np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype(np.float32)


def blocks(grid: Grid, pixel: float) -> Iterator[tuple[slice, slice, Grid]]:
    """Blocks of ``grid`` whose native-resolution mosaic holds at most :data:`MAX_MOSAIC_PIXELS` pixels.

    Yields ``(row_slice, col_slice, block_grid)``; a block is at least one cell.
    """
    ratio = max(1.0, grid.resolution / pixel)
    cells = max(1, int(MAX_MOSAIC_PIXELS // (ratio * ratio)))
    block_cols = min(grid.nlon, cells)
    block_rows = max(1, min(grid.nlat, cells // block_cols))
    for row0 in range(0, grid.nlat, block_rows):
        row1 = min(row0 + block_rows, grid.nlat)
        for col0 in range(0, grid.nlon, block_cols):
            col1 = min(col0 + block_cols, grid.nlon)
            yield slice(row0, row1), slice(col0, col1), grid.window(row0, row1, col0, col1)


def read(directory: Path | str, grid: Grid, pattern: str | None = None) -> xr.Dataset:
    """Elevation (m) and slope (degrees) on ``grid`` from the tiles under ``directory``.

    Parameters
    ----------
    directory : product folder (tiles at any depth, see :func:`find_tiles`).
    grid : destination grid.
    pattern : file pattern of the tiles (default :data:`PATTERN`).

    Returns
    -------
    Dataset with float32 (lat, lon) variables ``elevation`` and ``slope``.
    """
    tiles = find_tiles(directory, pattern)
    pixel, reference = _pixel_size(tiles)
    elevation = np.full(grid.shape, np.nan, dtype=np.float32)
    slope = np.full(grid.shape, np.nan, dtype=np.float32)
    for rows, cols, block in blocks(grid, pixel):
        area = margin_grid(block, pixel, cells=2)  # one pixel for the slope, one for interpolation
        mosaic = _mosaic(tiles, area, reference)
        block_slope = slope_degrees(mosaic, area.lat, pixel)
        elevation[rows, cols] = resample(mosaic, area.lat, area.lon, block)
        slope[rows, cols] = resample(block_slope, area.lat, area.lon, block)
    return xr.Dataset(
        {
            "elevation": (
                ("lat", "lon"),
                elevation,
                {"units": "m", "long_name": "mean elevation above EGM96"},
            ),
            "slope": (("lat", "lon"), slope, {"units": "degree", "long_name": "mean terrain slope"}),
        },
        coords={"lat": grid.lat, "lon": grid.lon},
        attrs={"source": "MERIT DEM, slope at native resolution then averaged"},
    )
