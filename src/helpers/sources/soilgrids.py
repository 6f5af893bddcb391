"""SoilGrids 2.0 soil texture (clay, sand, silt) of the 0-5 cm layer, mean prediction.

Provider: ISRIC - World Soil Information. Reference: Poggio, L. et al. (2021), SoilGrids 2.0:
producing soil information for the globe with quantified spatial uncertainty, SOIL 7,
217-240, doi:10.5194/soil-7-217-2021.

What the files hold
-------------------
* Properties ``clay``, ``sand``, ``silt``, layer ``0-5cm``, statistic ``mean``; stored as
  integers in the product's *mapped units*, g/kg (divide by 10 for percent) [doc: ISRIC
  SoilGrids FAQ, "mapped units" table]. Nodata is read from each file's header (-32768 when
  the header has none) [open: the value itself].
* The 250 m product is in the Interrupted Goode Homolosine projection, proj string
  ``+proj=igh +lat_0=0 +lon_0=0 +datum=WGS84 +units=m +no_defs`` [doc: ISRIC SoilGrids
  WebDAV how-to, which uses this string for the maps].

How ISRIC serves them (and which layouts :func:`find_source` accepts)
----------------------------------------------------------------------
Searched under the product folder at any depth, in this order of priority:

1. a single GeoTIFF, :data:`PATTERN` = ``**/{property}_0-5cm_mean*.tif``: the coarser
   aggregates of ISRIC's ``data_aggregated/1000m/<prop>/<prop>_0-5cm_mean_1000.tif`` and
   ``data_aggregated/5000m/<prop>/<prop>_0-5cm_mean_5000.tif`` [code: third-party probes of
   files.isric.org; their projection (Homolosine) is open, so any CRS is accepted], a
   GeoTIFF exported from the VRT (any CRS, e.g. EPSG:4326 copies), or the twin world's
   ``{prop}_0-5cm_mean.tif``. Two different such files for one property (say ``_1000`` and
   ``_5000``) are ambiguous: SourceError listing them (set ``pattern`` to choose one);
2. a VRT, :data:`VRT_PATTERN` = ``**/{property}_0-5cm_mean.vrt``, as the WebDAV serves
   ``https://files.isric.org/soilgrids/latest/data/<prop>/<prop>_0-5cm_mean.vrt`` [doc: ISRIC
   WebDAV how-to], with its tiles where the VRT points (relative paths
   ``<prop>_0-5cm_mean/tileSG-<nnn>-<nnn>/tileSG-<nnn>-<nnn>_<i>-<j>.tif``) [code: third-party
   download scripts; the tile naming is not in ISRIC's documentation]. Tiles the VRT names
   but that are absent are only an error where the destination needs them (SourceError
   listing them);
3. tiles without a VRT, :data:`TILE_PATTERN` = ``**/{property}_0-5cm_mean/**/*.tif`` (any
   GeoTIFF under the property's tile folder, whatever its name): mosaicked through a GDAL
   VRT built in memory. Tiles must share CRS, pixel size, data type, nodata and pixel
   lattice and may not overlap (SourceError naming the tile).

A ``pattern`` argument (``sources.patterns["soilgrids"]`` in the params) replaces the three
stages: it may hold ``{property}``, replaced by each property's name before matching (the
file-pattern placeholders ``{year}`` etc. do not apply); without ``{property}`` the files
whose path holds the property's name as a word (``clay_...``, ``.../clay/...``) are that
property's. One match is read as it is (GeoTIFF or VRT), several as the tiles of one mosaic.

Reading
-------
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

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.transform import from_origin
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources._files import matching_files, require_directory
from helpers.sources._geotiff import (
    first_unreadable,
    open_mosaic,
    open_raster,
    read_geographic,
    tile_headers,
    vrt_sources,
    write_geographic,
)
from helpers.sources._regrid import naming, resample

PROPERTIES = ("clay", "sand", "silt")
#: Single GeoTIFF of a property (first choice); ``{property}`` stands for its name.
PATTERN = "**/{property}_0-5cm_mean*.tif"
#: ISRIC's VRT of the 250 m tiles (second choice).
VRT_PATTERN = "**/{property}_0-5cm_mean.vrt"
#: Tiles of the 250 m product without their VRT (last choice).
TILE_PATTERN = "**/{property}_0-5cm_mean/**/*.tif"
IGH_PROJ = "+proj=igh +lat_0=0 +lon_0=0 +datum=WGS84 +units=m +no_defs"
NODATA = -32768
UNITS = "g/kg"
GRAMS_PER_KG_UNITS = ("g/kg", "g kg-1", "g kg**-1", "g.kg-1")
MAX_GRAMS_PER_KG = 1000
LABEL = "SoilGrids"


@dataclass(frozen=True)
class PropertySource:
    """Where one property's data lies: ``kind`` is ``geotiff``, ``vrt`` or ``tiles``."""

    prop: str
    kind: str
    paths: tuple[Path, ...]

    @property
    def path(self) -> Path:
        """The file to name in messages (for tiles: their common folder)."""
        if self.kind != "tiles":
            return self.paths[0]
        parents = {p.parent for p in self.paths}
        return parents.pop() if len(parents) == 1 else Path(_common_parent(self.paths))


def _common_parent(paths: tuple[Path, ...]) -> str:
    parts = [p.parent.parts for p in paths]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return str(Path(*common)) if common else "/"


def file_name(prop: str) -> str:
    """``{prop}_0-5cm_mean.tif`` (the twin world's single GeoTIFF of ``prop``)."""
    _check_property(prop)
    return f"{prop}_0-5cm_mean.tif"


def _check_property(prop: str) -> None:
    if prop not in PROPERTIES:
        raise ValueError(f"unknown SoilGrids property {prop!r}; expected one of {PROPERTIES}")


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


def _matches(directory: Path, text: str, prop: str) -> list[Path]:
    if "{property}" in text:
        return [path for path, _ in matching_files(directory, text.replace("{property}", prop))]
    word = re.compile(rf"(^|[/_.-]){re.escape(prop)}([/_.-]|$)")
    return [
        path for path, _ in matching_files(directory, text) if word.search(path.relative_to(directory).as_posix())
    ]


def find_property(directory: Path | str, prop: str, pattern: str | None = None) -> list[Path]:
    """The files of ``prop`` under ``directory``: one GeoTIFF, one VRT, or the tiles of a mosaic.

    See :func:`find_source` (which also says which of the three it is) for the order and errors.
    """
    return list(find_source(directory, prop, pattern).paths)


def find_source(directory: Path | str, prop: str, pattern: str | None = None) -> PropertySource:
    """Where ``prop`` lies under ``directory``: see the module docstring for the order.

    Raises
    ------
    SourceError
        nothing found (naming the expected ``{prop}_0-5cm_mean.tif`` and the other layouts
        looked for), or two single GeoTIFFs for one property (listing them).
    """
    _check_property(prop)
    directory = require_directory(directory, LABEL, file_name(prop))
    if pattern is not None:
        found = _matches(directory, pattern, prop)
        if not found:
            raise SourceError(
                directory, f"no {LABEL} {prop} files match the pattern {pattern!r} (with {{property}} = {prop})"
            )
        if len(found) == 1:
            return PropertySource(prop, "vrt" if found[0].suffix.lower() == ".vrt" else "geotiff", (found[0],))
        vrts = [p for p in found if p.suffix.lower() == ".vrt"]
        if vrts:
            raise SourceError(
                vrts[0], f"pattern {pattern!r} matches a VRT and other files for {prop}: {_listing(found)}"
            )
        return PropertySource(prop, "tiles", tuple(found))
    singles = _matches(directory, PATTERN, prop)
    if len(singles) > 1:
        raise SourceError(
            directory,
            f"ambiguous {LABEL} {prop}: several single GeoTIFFs {_listing(singles)}; keep one or set"
            f" sources.patterns.soilgrids (e.g. '**/{{property}}_0-5cm_mean_1000.tif')",
        )
    if singles:
        return PropertySource(prop, "geotiff", (singles[0],))
    vrts = _matches(directory, VRT_PATTERN, prop)
    if len(vrts) > 1:
        raise SourceError(directory, f"ambiguous {LABEL} {prop}: several VRTs {_listing(vrts)}")
    if vrts:
        return PropertySource(prop, "vrt", (vrts[0],))
    tiles = _matches(directory, TILE_PATTERN, prop)
    if tiles:
        return PropertySource(prop, "tiles", tuple(tiles))
    raise SourceError(
        directory / file_name(prop),
        f"file not found; nor any {PATTERN.replace('{property}', prop)},"
        f" {VRT_PATTERN.replace('{property}', prop)} or tiles {TILE_PATTERN.replace('{property}', prop)}"
        f" under {directory}",
    )


def find_sources(directory: Path | str, pattern: str | None = None) -> dict[str, PropertySource]:
    """:func:`find_source` for clay, sand and silt."""
    return {prop: find_source(directory, prop, pattern) for prop in PROPERTIES}


def _listing(paths: list[Path], limit: int = 6) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _check_units(path: Path, tags: dict[str, str]) -> None:
    units = tags.get("units")
    if units is not None and units.strip().lower() not in GRAMS_PER_KG_UNITS:
        raise SourceError(path, f"expected mapped units g/kg (SoilGrids), file says units {units!r}")


@contextlib.contextmanager
def _open(source: PropertySource) -> Iterator[tuple[Path, rasterio.DatasetReader]]:
    """The raster of ``source`` and the path to name in its messages."""
    if source.kind == "tiles":
        headers = tile_headers(source.paths)
        for header in headers:
            _check_units(header.path, dict(header.tags))
        with open_mosaic(source.paths) as src:
            yield source.path, src
        return
    with open_raster(source.paths[0]) as src:
        yield source.paths[0], src


def read_property(directory: Path | str, prop: str, grid: Grid, pattern: str | None = None) -> np.ndarray:
    """One property on ``grid`` in percent: float32 (nlat, nlon), NaN where missing."""
    return _read_source(find_source(directory, prop, pattern), grid)


def _read_source(source: PropertySource, grid: Grid) -> np.ndarray:
    with _open(source) as (path, src):
        _check_units(path, src.tags())
        nodata = src.nodata if src.nodata is not None else NODATA
        try:
            if src.crs is not None and src.crs.is_geographic:
                raw, window = read_geographic(path, src, grid)
                grams = np.where(raw == nodata, np.nan, raw.astype(np.float32))
                _check_range(path, grams)
                with naming(path):
                    return resample(grams, window.lat, window.lon, grid) / 10
            if src.crs is None:
                raise SourceError(path, f"raster has no CRS; expected Homolosine ({IGH_PROJ}) or lat/lon")
            raw = _warp(path, src, grid, nodata)
        except SourceError as exc:
            raise _explain(source, src, grid, exc) from exc
        grams = np.where(raw == nodata, np.nan, raw.astype(np.float32))
        _check_range(path, grams)
        return grams / 10


def _warp(path: Path, src: rasterio.DatasetReader, grid: Grid, nodata: float) -> np.ndarray:
    """Average of the valid source pixels in each cell of ``grid`` (EPSG:4326)."""
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
            return vrt.read(1)
    except RasterioError as exc:
        raise SourceError(path, f"cannot warp raster to EPSG:4326, truncated or corrupt? ({exc})") from exc


def _explain(source: PropertySource, src: rasterio.DatasetReader, grid: Grid, error: SourceError) -> SourceError:
    """``error``, or for a VRT or mosaic, an error naming the absent or unreadable tile behind it."""
    if source.kind == "geotiff":
        return error
    owner = source.paths[0] if source.kind == "vrt" else source.path
    tiles = vrt_sources(source.paths[0]) if source.kind == "vrt" else list(source.paths)
    missing = [tile for tile in tiles if not tile.is_file()]
    if missing and source.kind == "vrt":
        return SourceError(owner, f"cannot read: {len(missing)} tile(s) it names are absent: {_listing(missing)}")
    try:
        bounds = transform_bounds("EPSG:4326", src.crs, *grid.bbox, densify_pts=21)
    except (RasterioError, ValueError):
        bounds = None
    if bounds is not None and not all(np.isfinite(bounds)):
        bounds = None
    bad = first_unreadable(tiles, bounds)
    if bad is None:
        return error
    return SourceError(bad, f"cannot read tile, truncated or corrupt? (a tile of {owner})")


def _check_range(path: Path, grams: np.ndarray) -> None:
    valid = grams[np.isfinite(grams)]
    if valid.size and (valid.min() < 0 or valid.max() > MAX_GRAMS_PER_KG):
        raise SourceError(
            path,
            f"expected g/kg in 0..{MAX_GRAMS_PER_KG}, got values from {valid.min():g} to {valid.max():g}",
        )


def read(directory: Path | str, grid: Grid, pattern: str | None = None) -> xr.Dataset:
    """Clay, sand and silt (percent) of the 0-5 cm layer on ``grid``.

    Parameters
    ----------
    directory : product folder (any layout of the module docstring, at any depth).
    grid : destination grid (usually one tile of the product grid).
    pattern : file pattern replacing the default search; may hold ``{property}``.

    Returns
    -------
    Dataset with float32 (lat, lon) variables ``clay``, ``sand``, ``silt`` in percent; its
    ``sources`` attribute names the file (or tile folder) each came from.
    """
    directory = require_directory(directory, LABEL, file_name("clay"))
    data_vars, used = {}, []
    for prop in PROPERTIES:
        source = find_source(directory, prop, pattern)
        used.append(f"{prop}: {source.path}")
        data_vars[prop] = (
            ("lat", "lon"),
            _read_source(source, grid).astype(np.float32),
            {"units": "%", "long_name": f"{prop} content, 0-5 cm"},
        )
    return xr.Dataset(
        data_vars,
        coords={"lat": grid.lat, "lon": grid.lon},
        attrs={"source": "SoilGrids 2.0, 0-5 cm mean", "sources": "; ".join(used)},
    )
