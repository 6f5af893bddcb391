"""GLASS-MODIS soil moisture (training target): daily GeoTIFFs in the MODIS sinusoidal projection.

Provider: GLASS (Zhang Y., Liang S. et al. 2023, ESSD 15, 2055): 1 km, daily, 2000-2020,
0-5 cm volumetric soil moisture (m3 m-3), GeoTIFF in the MODIS sinusoidal projection, NoData
-9999 [doc: ESSD paper and the product page]. File naming, tiling, data type and scale are
[open] (no reader or provider text was found), so:

* files are found by :data:`PATTERN` ``**/*A{year}{doy}*.tif`` (any name holding
  ``A<YYYY><DOY>``, at any folder depth), a :class:`~helpers.sources._files.FilePattern` glob
  that params ``sources.patterns.glass_modis_sm`` overrides; a day may have several files
  (tiles), all read;
* NoData is the file's own NoData tag, else the documented -9999; float files are taken as
  m3 m-3; integer files need a scale: GDAL's band scale/offset where set, else ``encoding``
  (``scale_factor``, ``add_offset``, ``fill_value``), else SourceError.

The projection must be the MODIS sinusoidal one on a sphere (R = 6371007.181 m):
``x = R lon cos(lat)``, ``y = R lat`` (angles in radians), centred on lon 0; another CRS
(e.g. EPSG:4326) is a SourceError. The demo (:func:`write`) names its global images
``GLASS_SM_MODIS_A<YYYY><DOY>.tif``.

:func:`read` aggregates the sinusoidal pixels to the cells of a lat/lon grid: a pixel belongs
to the cell containing its centre's geographic position, and a cell's value is the mean of
its valid pixels (the projection is equal-area, so this is the area-weighted mean). Cells
whose valid share of pixels is below ``min_valid_fraction`` are NaN. The pixel -> cell mapping
is built once per (file geometry, grid) and reused for every day, and only the window of rows
and columns of each file that cover the grid is read (the 1 km product is never loaded whole).
Values outside 0..1 raise :class:`~helpers.errors.SourceError` (a product in percent, say).

Missing days. :func:`read` returns every day of the period; days without a file are all-NaN,
listed in ``attrs["missing_days"]`` (ISO dates) and logged as a warning naming the folder and
the days. A period without any file is a SourceError.

Reading::

    sm = glass_modis_sm.read(directory, tile_grid, date(2000, 1, 1), date(2000, 12, 31))
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import tifffile
import xarray as xr
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.transform import from_origin
from rasterio.windows import Window

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.sources._files import (
    check_fraction_values,
    dated_files,
    describe_days,
    no_files_error,
    require_directory,
    time_coordinate,
)

log = logging.getLogger(__name__)

SPHERE_RADIUS_M = 6371007.181
SINUSOIDAL_PROJ = f"+proj=sinu +R={SPHERE_RADIUS_M} +nadgrids=@null +wktext"
HALF_WIDTH_M = math.pi * SPHERE_RADIUS_M
HALF_HEIGHT_M = HALF_WIDTH_M / 2
NODATA = -9999.0
LABEL = "GLASS-MODIS SM"
#: Default file pattern: any GeoTIFF whose name holds ``A<YYYY><DOY>``, at any folder depth [open].
PATTERN = "**/*A{year}{doy}*.tif"
#: ModelPixelScale, ModelTiepoint, GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams, GDAL_NODATA.
_GEOTIFF_TAG_CODES = (33550, 33922, 34735, 34736, 34737, 42113)


def file_name(date: dt.date) -> str:
    """Name of the global image of ``date``, e.g. ``GLASS_SM_MODIS_A2000001.tif``."""
    return f"GLASS_SM_MODIS_A{date:%Y%j}.tif"


def _pixel_lat_lon(y: np.ndarray, x: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Geographic position (degrees) of sinusoidal coordinates; lon beyond +-180 off the map."""
    lat = y / radius
    with np.errstate(divide="ignore", invalid="ignore"):
        lon = x[None, :] / (radius * np.cos(lat)[:, None])
    return np.degrees(lat), np.degrees(lon)


def _image_shape(grid: Grid, subcells: int) -> tuple[int, int]:
    """(height, width) of the global sinusoidal image for ``subcells`` pixels per cell side."""
    pixel = SPHERE_RADIUS_M * math.radians(grid.resolution / subcells)
    return round(2 * HALF_HEIGHT_M / pixel), round(2 * HALF_WIDTH_M / pixel)


@functools.lru_cache(maxsize=4)
def _georeference_tags(resolution: float, subcells: int) -> tuple:
    """GeoTIFF georeferencing tags (CRS, transform, NoData) of the global sinusoidal image.

    GDAL derives them once per geometry (it costs ~15 ms per file, most of a day's write);
    each daily file is then written with tifffile carrying the same tags.
    """
    height, width = _image_shape(Grid(resolution), subcells)
    pixel = SPHERE_RADIUS_M * math.radians(resolution / subcells)
    profile = {"driver": "GTiff", "dtype": "float32", "count": 1, "width": width, "height": height,
               "crs": CRS.from_proj4(SINUSOIDAL_PROJ), "nodata": NODATA,
               "transform": from_origin(-HALF_WIDTH_M, HALF_HEIGHT_M, pixel, pixel)}
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "template.tif"
        with rasterio.open(template, "w", **profile):
            pass
        with tifffile.TiffFile(template) as tif:
            tags = tif.pages[0].tags.values()
            return tuple((t.code, t.dtype, t.count, t.value) for t in tags if t.code in _GEOTIFF_TAG_CODES)


@functools.lru_cache(maxsize=4)
def _pixel_cells(grid: Grid, subcells: int) -> tuple[int, np.ndarray]:
    """Flat index of the ``grid`` cell holding each sinusoidal pixel centre (-1: none).

    Only the image rows that can meet the grid are mapped: returns (first row, index array).
    Computed once per geometry and reused for every day written.
    """
    pixel = SPHERE_RADIUS_M * math.radians(grid.resolution / subcells)
    height, width = _image_shape(grid, subcells)
    first = max(int((HALF_HEIGHT_M - SPHERE_RADIUS_M * math.radians(grid.north)) / pixel) - 1, 0)
    last = min(math.ceil((HALF_HEIGHT_M - SPHERE_RADIUS_M * math.radians(grid.south)) / pixel) + 1, height)
    x = -HALF_WIDTH_M + (np.arange(width) + 0.5) * pixel
    y = HALF_HEIGHT_M - (np.arange(first, last) + 0.5) * pixel
    lat, lon = _pixel_lat_lon(y, x, SPHERE_RADIUS_M)
    rows, cols = grid.rows_cols_of(np.broadcast_to(lat[:, None], lon.shape), lon)
    cells = np.where(rows >= 0, rows * grid.nlon + cols, -1).astype(np.int64)
    cells.setflags(write=False)
    return first, cells


def write(directory: Path | str, date: dt.date, grid: Grid, values: np.ndarray, subcells: int) -> Path:
    """Write the global sinusoidal image of ``date`` from ``values`` on a lat/lon ``grid``.

    Parameters
    ----------
    directory : folder of the product (created if missing).
    date : the day.
    grid : lat/lon grid of ``values``.
    values : soil moisture (m3 m-3, NaN = missing), shape ``grid.shape``.
    subcells : sinusoidal pixels per grid cell side; the pixel size is
        ``R * radians(grid.resolution / subcells)`` metres.

    Returns
    -------
    Path of the GeoTIFF. Each pixel takes the value of the cell containing its centre;
    pixels off the sinusoidal map or outside ``grid`` are NoData (-9999).
    """
    values = np.asarray(values, dtype=np.float32)
    if values.shape != grid.shape:
        raise ValueError(f"values have shape {values.shape}, grid is {grid.shape}")
    first_row, cells = _pixel_cells(grid, subcells)
    image = np.full((_image_shape(grid, subcells)), NODATA, dtype=np.float32)
    mapped = np.append(values.ravel(), np.nan)[cells]  # index -1 (no cell) reads the trailing NaN
    image[first_row : first_row + cells.shape[0]] = np.where(np.isfinite(mapped), mapped, NODATA)
    path = Path(directory) / file_name(date)
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, image, photometric="minisblack", compression="zlib", compressionargs={"level": 1},
                         tile=(256, 256), maxworkers=2, extratags=_georeference_tags(grid.resolution, subcells))
    return path


def find_files(
    directory: Path | str, start: dt.date, end: dt.date, pattern: str | None = None
) -> dict[dt.date, list[Path]]:
    """Files of ``start..end`` by date; a day may have several (tiles).

    ``pattern`` is a :class:`~helpers.sources._files.FilePattern` glob relative to
    ``directory`` with ``{year}`` and ``{doy}`` (or ``{month}`` and ``{day}``) placeholders
    (None: :data:`PATTERN`); files that do not match are ignored.
    """
    directory = require_directory(directory, LABEL, file_name(start))
    pattern = pattern or PATTERN
    found = dated_files(directory, pattern, start, end)
    for date, paths in found.items():
        if not isinstance(date, dt.date):
            raise SourceError(paths[0], f"file pattern {pattern!r} gives no day; expected {{doy}} or {{month}}{{day}}")
    return found  # type: ignore[return-value]


@dataclass(frozen=True)
class _Mapping:
    """Pixels of a file window and the grid cells (flat indices) they fall in."""

    window: Window
    pixels: np.ndarray
    cells: np.ndarray
    pixels_per_cell: np.ndarray


def _sphere_radius(path: Path, crs: CRS | None) -> float:
    if crs is None:
        raise SourceError(path, "file has no CRS: truncated, or not a GLASS-MODIS SM GeoTIFF?")
    params = crs.to_dict()
    if params.get("proj") != "sinu":
        raise SourceError(path, f"expected the MODIS sinusoidal projection (+proj=sinu), file has CRS {crs}")
    if any(float(params.get(key, 0.0)) != 0.0 for key in ("lon_0", "x_0", "y_0")):
        raise SourceError(
            path, f"expected a sinusoidal projection centred on lon 0 without offsets, got {params}"
        )
    return float(params.get("R", params.get("a", SPHERE_RADIUS_M)))


def _build_mapping(path: Path, src: rasterio.DatasetReader, grid: Grid) -> _Mapping:
    """Pixel -> cell mapping of a file's geometry for ``grid``, on the file rows/cols covering it."""
    radius = _sphere_radius(path, src.crs)
    transform = src.transform
    if transform.b != 0 or transform.d != 0:
        raise SourceError(path, f"rotated geotransforms are not supported: {transform}")
    x0, pixel_x, y0, pixel_y = transform.c, transform.a, transform.f, -transform.e
    south, north = math.radians(grid.south), math.radians(grid.north)
    cos_low = min(math.cos(south), math.cos(north))
    cos_high = 1.0 if south <= 0 <= north else max(math.cos(south), math.cos(north))
    x_candidates = [
        radius * math.radians(lon) * c for lon in (grid.west, grid.east) for c in (cos_low, cos_high)
    ]
    row0 = max(0, math.floor((y0 - radius * north) / pixel_y))
    row1 = min(src.height, math.ceil((y0 - radius * south) / pixel_y))
    col0 = max(0, math.floor((min(x_candidates) - x0) / pixel_x))
    col1 = min(src.width, math.ceil((max(x_candidates) - x0) / pixel_x))
    window = Window(col0, row0, max(col1 - col0, 0), max(row1 - row0, 0))
    y = y0 - (np.arange(row0, row0 + window.height) + 0.5) * pixel_y
    x = x0 + (np.arange(col0, col0 + window.width) + 0.5) * pixel_x
    lat, lon = _pixel_lat_lon(y, x, radius)
    rows, cols = grid.rows_cols_of(np.broadcast_to(lat[:, None], lon.shape), lon)
    flat = (rows * grid.nlon + cols).ravel()
    pixels = np.flatnonzero(rows.ravel() >= 0)
    cells = flat[pixels]
    return _Mapping(window, pixels, cells, np.bincount(cells, minlength=grid.nlat * grid.nlon))


def _decode(path: Path, src: rasterio.DatasetReader, data: np.ndarray, encoding: dict | None) -> np.ndarray:
    """Stored pixels to float64 soil moisture with NaN for NoData (see module docstring)."""
    nodata = src.nodata if src.nodata is not None else NODATA
    if np.issubdtype(data.dtype, np.integer):
        encoding = encoding or {}
        if encoding.get("fill_value") is not None and src.nodata is None:
            nodata = encoding["fill_value"]
        scale, offset = float(src.scales[0]), float(src.offsets[0])
        if (scale, offset) == (1.0, 0.0):
            if encoding.get("scale_factor") is None:
                raise SourceError(
                    path,
                    f"integer GeoTIFF ({data.dtype}) without a scale: expected float32 m3 m-3, "
                    "or give the encoding (scale_factor, add_offset, fill_value) of the stored integers",
                )
            scale, offset = float(encoding["scale_factor"]), float(encoding.get("add_offset") or 0.0)
        invalid = data == nodata
        values = data * scale + offset
    else:
        values = data.astype(np.float64)
        invalid = ~np.isfinite(values) | (values == nodata)
    return np.where(invalid, np.nan, values)


def read(
    directory: Path | str,
    grid: Grid,
    start: dt.date,
    end: dt.date,
    min_valid_fraction: float = 0.5,
    *,
    pattern: str | None = None,
    encoding: dict | None = None,
) -> xr.DataArray:
    """Daily soil moisture of ``start..end`` aggregated to ``grid``.

    Parameters
    ----------
    directory : folder of the product.
    grid : destination lat/lon grid (usually one tile of the product grid).
    start, end : period (inclusive).
    min_valid_fraction : minimum share of a cell's pixels that must be valid.
    pattern : FilePattern glob of the files (params ``sources.patterns.glass_modis_sm``;
        None: :data:`PATTERN`).
    encoding : scale_factor, add_offset, fill_value of integer files without GDAL scale
        metadata (unused for float files).

    Returns
    -------
    DataArray ``target_sm`` (time, lat, lon), float32, m3 m-3, ``time`` = every day of the
    period; days without files are NaN and listed (ISO) in ``attrs["missing_days"]``.
    """
    files = find_files(directory, start, end, pattern)
    if not files:
        raise no_files_error(Path(directory), LABEL, start, end, file_name(start))
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    ncells = grid.nlat * grid.nlon
    mappings: dict[tuple, _Mapping] = {}
    out = np.full((len(days), *grid.shape), np.nan, dtype=np.float32)
    for index, day in enumerate(days):
        if day not in files:
            continue
        sums = np.zeros(ncells)
        counts = np.zeros(ncells)
        totals = np.zeros(ncells)
        for path in files[day]:
            try:
                with rasterio.open(path) as src:
                    key = (tuple(src.transform), src.width, src.height, src.crs.to_wkt() if src.crs else None)
                    if key not in mappings:
                        mappings[key] = _build_mapping(path, src, grid)
                    mapping = mappings[key]
                    if mapping.cells.size == 0:
                        continue
                    stored = src.read(1, window=mapping.window).ravel()[mapping.pixels]
                    data = _decode(path, src, stored, encoding)
            except RasterioError as exc:
                raise SourceError(path, f"cannot read GeoTIFF, truncated or corrupt? ({exc})") from exc
            valid = np.isfinite(data)
            check_fraction_values(path, data[valid], "soil moisture")
            sums += np.bincount(mapping.cells[valid], weights=data[valid], minlength=ncells)
            counts += np.bincount(mapping.cells[valid], minlength=ncells)
            totals += mapping.pixels_per_cell
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts
        mean[(counts == 0) | (counts < min_valid_fraction * totals)] = np.nan
        out[index] = mean.reshape(grid.shape)
    missing = [day for day in days if day not in files]
    if missing:
        log.warning("%s: no %s file for %s of %s..%s; those days are NaN", directory, LABEL,
                    describe_days(missing), start, end)
    return xr.DataArray(
        out,
        dims=("time", "lat", "lon"),
        coords={"time": time_coordinate(days), "lat": grid.lat, "lon": grid.lon},
        name="target_sm",
        attrs={
            "units": "m3 m-3",
            "long_name": "GLASS-MODIS surface soil moisture, cell mean of sinusoidal pixels",
            "min_valid_fraction": min_valid_fraction,
            "missing_days": [d.isoformat() for d in missing],
        },
    )
