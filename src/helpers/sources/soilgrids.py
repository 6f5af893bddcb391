"""SoilGrids 2.0 soil texture (clay, sand, silt) of the 0-5 cm layer: one GeoTIFF per property.

Files are named ``{prop}_0-5cm_mean.tif`` and hold int16 values in the product's mapped
units, g/kg (divide by 10 for percent), nodata -32768. The real 250 m product is in the
Interrupted Goode Homolosine projection; coarser EPSG:4326 aggregates exist, and the demo
writes EPSG:4326.

:func:`read` returns percent on a destination grid:

* geographic rasters are read window by window and regridded like every other cell source
  (area-weighted mean from finer cells, bilinear from coarser ones);
* projected rasters (Homolosine) go through a GDAL warped VRT onto the destination grid in
  EPSG:4326 with average resampling (the mean of the valid source pixels in each cell).

Checks: valid values must lie in 0..1000 g/kg. A file in percent (values up to 100) cannot
be told apart from g/kg data by its values alone (sandy soils have clay below 100 g/kg), so
the reader relies on a ``units`` tag where there is one: :func:`write` tags ``units=g/kg``,
and a tag naming other units (such as ``%``) raises :class:`~helpers.errors.SourceError`.
Untagged files (the real product) are taken to be in g/kg.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.transform import from_origin
from rasterio.vrt import WarpedVRT

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources._files import require_directory
from helpers.sources._geotiff import open_raster, read_geographic, write_geographic
from helpers.sources._regrid import naming, resample

PROPERTIES = ("clay", "sand", "silt")
NODATA = -32768
UNITS = "g/kg"
GRAMS_PER_KG_UNITS = ("g/kg", "g kg-1", "g kg**-1", "g.kg-1")
MAX_GRAMS_PER_KG = 1000
LABEL = "SoilGrids"


def file_name(prop: str) -> str:
    """``{prop}_0-5cm_mean.tif``."""
    if prop not in PROPERTIES:
        raise ValueError(f"unknown SoilGrids property {prop!r}; expected one of {PROPERTIES}")
    return f"{prop}_0-5cm_mean.tif"


def write(directory: Path | str, prop: str, grid: Grid, values_percent: np.ndarray) -> Path:
    """Write ``prop`` (percent, NaN = missing) on ``grid`` as int16 g/kg in EPSG:4326.

    Returns
    -------
    Path of the GeoTIFF (tagged ``units=g/kg``).
    """
    values = np.asarray(values_percent, dtype=np.float64)
    if values.shape != grid.shape:
        raise ValueError(f"values have shape {values.shape}, grid is {grid.shape}")
    grams = np.where(np.isfinite(values), np.rint(np.clip(values, 0, 100) * 10), NODATA).astype(np.int16)
    path = Path(directory) / file_name(prop)
    write_geographic(path, grid, grams, NODATA, tags={"units": UNITS, "depth": "0-5cm", "statistic": "mean"})
    return path


def _check_units(path: Path, tags: dict[str, str]) -> None:
    units = tags.get("units")
    if units is not None and units.strip().lower() not in GRAMS_PER_KG_UNITS:
        raise SourceError(path, f"expected mapped units g/kg (SoilGrids), file says units {units!r}")


def read_property(directory: Path | str, prop: str, grid: Grid) -> np.ndarray:
    """One property on ``grid`` in percent: float32 (nlat, nlon), NaN where missing."""
    path = Path(directory) / file_name(prop)
    with open_raster(path) as src:
        _check_units(path, src.tags())
        nodata = src.nodata if src.nodata is not None else NODATA
        if src.crs is not None and src.crs.is_geographic:
            raw, window = read_geographic(path, src, grid)
            grams = np.where(raw == nodata, np.nan, raw.astype(np.float32))
            _check_range(path, grams)
            with naming(path):
                return resample(grams, window.lat, window.lon, grid) / 10
        try:
            with WarpedVRT(
                src,
                crs="EPSG:4326",
                transform=from_origin(grid.west, grid.north, grid.resolution, grid.resolution),
                width=grid.nlon,
                height=grid.nlat,
                resampling=Resampling.average,
                src_nodata=nodata,
                nodata=nodata,
            ) as vrt:
                raw = vrt.read(1)
        except RasterioError as exc:
            raise SourceError(
                path, f"cannot warp raster to EPSG:4326, truncated or corrupt? ({exc})"
            ) from exc
        grams = np.where(raw == nodata, np.nan, raw.astype(np.float32))
        _check_range(path, grams)
        return grams / 10


def _check_range(path: Path, grams: np.ndarray) -> None:
    valid = grams[np.isfinite(grams)]
    if valid.size and (valid.min() < 0 or valid.max() > MAX_GRAMS_PER_KG):
        raise SourceError(
            path,
            f"expected g/kg in 0..{MAX_GRAMS_PER_KG}, got values from {valid.min():g} to {valid.max():g}",
        )


def read(directory: Path | str, grid: Grid) -> xr.Dataset:
    """Clay, sand and silt (percent) of the 0-5 cm layer on ``grid``.

    Parameters
    ----------
    directory : folder holding ``{prop}_0-5cm_mean.tif`` for clay, sand and silt.
    grid : destination grid (usually one tile of the product grid).

    Returns
    -------
    Dataset with float32 (lat, lon) variables ``clay``, ``sand``, ``silt`` in percent.
    """
    directory = require_directory(directory, LABEL, file_name("clay"))
    data_vars = {
        prop: (
            ("lat", "lon"),
            read_property(directory, prop, grid).astype(np.float32),
            {"units": "%", "long_name": f"{prop} content, 0-5 cm"},
        )
        for prop in PROPERTIES
    }
    return xr.Dataset(
        data_vars, coords={"lat": grid.lat, "lon": grid.lon}, attrs={"source": "SoilGrids 2.0, 0-5 cm mean"}
    )
