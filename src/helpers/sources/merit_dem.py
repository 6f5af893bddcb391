"""MERIT DEM: elevation (m above EGM96) in 5 x 5 degree GeoTIFF tiles, and slope derived from it.

Tiles are named after their lower-left (south-west) corner: ``n30e090_dem.tif`` covers
30-35 N, 90-95 E; ``s05w060_dem.tif`` covers 5 S-0, 60-55 W. Each is float32 in EPSG:4326,
nodata -9999, 6000 x 6000 pixels of 3 arc-seconds in reality (the demo writes coarser tiles).

:func:`read` mosaics the tiles that cover a destination grid and returns

* ``elevation``: mean of the valid pixels in each cell (area-weighted);
* ``slope``: computed at the native resolution from centred differences, with the pixel
  spacing in metres (``dy = R dlat``, ``dx = R dlon cos(lat)``), as
  ``degrees(arctan(hypot(dz/dx, dz/dy)))``, then averaged per cell like elevation.

The mosaic is processed in bands of destination rows so memory stays bounded at 3
arc-seconds. Tiles absent from the directory are treated as ocean (MERIT has no tiles over
sea): their cells are NaN, and the slope of coastal pixels next to them is NaN. A
destination finer than the tiles gets bilinearly interpolated elevation and slope.

A tile that cannot be opened or read (cut short, corrupt) raises
:class:`~helpers.errors.SourceError` naming the tile file.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import xarray as xr
from rasterio.windows import Window

from helpers.errors import SourceError
from helpers.grid import EARTH_RADIUS_KM, Grid, margin_grid
from helpers.sources._files import require_directory
from helpers.sources._geotiff import centre_axes, open_raster, read_band, write_geographic
from helpers.sources._regrid import resample

TILE_DEGREES = 5
NODATA = -9999.0
LABEL = "MERIT DEM"
NAME = re.compile(r"^(?P<ns>[ns])(?P<lat>\d{2})(?P<ew>[ew])(?P<lon>\d{3})_dem\.tif$")
_MAX_MOSAIC_PIXELS = 16_000_000


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


def find_tiles(directory: Path | str) -> dict[tuple[int, int], Path]:
    """Tiles under ``directory`` by lower-left corner (lat_south, lon_west); others ignored."""
    directory = require_directory(directory, LABEL, tile_name(30, 90))
    tiles = {}
    for path in directory.iterdir():
        match = NAME.match(path.name)
        if match:
            lat = int(match["lat"]) * (1 if match["ns"] == "n" else -1)
            lon = int(match["lon"]) * (1 if match["ew"] == "e" else -1)
            tiles[(lat, lon)] = path
    if not tiles:
        raise SourceError(directory, f"no {LABEL} tiles found; expected names like {tile_name(30, 90)}")
    return tiles


def _pixel_size(tiles: dict[tuple[int, int], Path]) -> float:
    path = next(iter(tiles.values()))
    with open_raster(path) as src:
        if src.width != src.height:
            raise SourceError(
                path, f"expected a square 5 x 5 degree tile, got {src.width} x {src.height} pixels"
            )
        return TILE_DEGREES / src.width


def _mosaic(tiles: dict[tuple[int, int], Path], area: Grid) -> np.ndarray:
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
                lat, lon = centre_axes(path, src)
                if not math.isclose(abs(lon[1] - lon[0]), area.resolution, rel_tol=1e-6):
                    raise SourceError(
                        path,
                        f"pixel size {abs(lon[1] - lon[0])} deg differs from other tiles ({area.resolution})",
                    )
                rows = np.flatnonzero((lat > area.south) & (lat < area.north))
                cols = np.flatnonzero((lon > area.west) & (lon < area.east))
                if rows.size == 0 or cols.size == 0:
                    continue
                block = read_band(path, src, Window(cols[0], rows[0], cols.size, rows.size))
                row0 = round((area.north - lat[rows[0]]) / area.resolution - 0.5)
                col0 = round((lon[cols[0]] - area.west) / area.resolution - 0.5)
                nodata = src.nodata if src.nodata is not None else NODATA
                mosaic[row0 : row0 + rows.size, col0 : col0 + cols.size] = np.where(
                    block == nodata, np.nan, block
                )
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


def read(directory: Path | str, grid: Grid) -> xr.Dataset:
    """Elevation (m) and slope (degrees) on ``grid`` from the tiles under ``directory``.

    Returns
    -------
    Dataset with float32 (lat, lon) variables ``elevation`` and ``slope``.
    """
    tiles = find_tiles(directory)
    pixel = _pixel_size(tiles)
    elevation = np.full(grid.shape, np.nan, dtype=np.float32)
    slope = np.full(grid.shape, np.nan, dtype=np.float32)
    row_pixels = max(1.0, grid.resolution / pixel) * (grid.nlon + 2) * max(1.0, grid.resolution / pixel)
    band_rows = max(1, int(_MAX_MOSAIC_PIXELS // row_pixels))
    for row0 in range(0, grid.nlat, band_rows):
        band = grid.window(row0, min(row0 + band_rows, grid.nlat), 0, grid.nlon)
        area = margin_grid(band, pixel, cells=2)  # one pixel for the slope, one for interpolation
        mosaic = _mosaic(tiles, area)
        band_slope = slope_degrees(mosaic, area.lat, pixel)
        rows = slice(row0, row0 + band.nlat)
        elevation[rows] = resample(mosaic, area.lat, area.lon, band)
        slope[rows] = resample(band_slope, area.lat, area.lon, band)
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
