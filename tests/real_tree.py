"""A small sample tree laid out exactly as the real products ship, for running params/paper.yaml.

:func:`build_real_tree` writes, under one ``data_root``, every input of the datacube in its
provider's folder layout, file names, formats, attributes, scale factors, fill values and
projections (the fixture writers ``tests/fixtures_*.py``, each structural fact with its source),
for a small region and two years (production blends the runs of neighbouring years). It is not downloaded and its values are synthetic: smooth
seasonal fields loosely coupled (wetter soil is cooler and darker). It proves that the real
path runs (patterns, year folders, HDF-EOS grids, the ERA5-Land layouts, Homolosine tiles,
MCD12C1 classes from the real 2019 map) and says nothing about the science.

What is reduced, so that the tree is written in seconds: the GLASS files are global grids of
1 degree (the readers infer the resolution from the array shape; real files are 0.05 degree),
MERIT tiles have 0.01-degree pixels (real: 3 arc-seconds), SoilGrids tiles 1 km (real: 250 m),
and the GLASS products have gaps (every second albedo composite, every fourth LST day), which
the datacube bridges and flags as it does real gaps. ERA5-Land comes in three layouts: the
legacy CDS NetCDF (hourly, packed int16, ``time``), the new data store's daily statistics
(``valid_time``, one file per month) and GRIB (daily values in one file across the turn of the
year), all cut to the region as a CDS ``area`` request returns them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import yaml
from fixtures_era5 import daily, hourly, write_daily_statistics, write_grib, write_legacy_netcdf
from fixtures_glass import write_albedo, write_lst
from fixtures_static import write_mcd12c1_hdf, write_merit_package, write_soilgrids_webdav
from pyproj import Transformer
from rasterio.transform import from_origin

from helpers.grid import Grid
from helpers.sources import glass_albedo, mcd12c1
from helpers.sources._geotiff import open_raster

ROOT = Path(__file__).resolve().parents[1]
#: The sample region (west, south, east, north): 1 x 1 degree in the western Alps' foreland.
BBOX = (5.0, 45.0, 6.0, 46.0)
YEARS = (2003, 2004)
TRAIN_YEAR = 2003
GLASS_RESOLUTION = 1.0


def _days(year: int) -> np.ndarray:
    return np.arange(366 if calendar.isleap(year) else 365)


def _soil_moisture(day_of_year: np.ndarray, lat: np.ndarray, lon: np.ndarray, year: int) -> np.ndarray:
    """A seasonal soil-moisture field (days, lat, lon), m3 m-3: wet winters, dry summers."""
    season = np.cos(2 * np.pi * (day_of_year[:, None, None] - 30) / 365.25)
    space = 0.03 * np.sin(np.radians(lat)[None, :, None] * 40) + 0.02 * np.cos(np.radians(lon)[None, None, :] * 30)
    weather = 0.02 * np.sin(day_of_year[:, None, None] / 7.0 + year)
    return (0.28 + 0.08 * season + space + weather).astype(np.float32)


def _write_glass(root: Path, grid: Grid) -> None:
    lat, lon = grid.lat, grid.lon
    for year in YEARS:
        for k, date in enumerate(glass_albedo.composite_dates(year)):
            if k % 2:
                continue  # real archives have gaps; the datacube bridges and flags them
            doy = np.array([date.timetuple().tm_yday])
            wet = _soil_moisture(doy, lat, lon, year)[0]
            base = 0.25 - 0.3 * (wet - 0.28)
            values = {"ABD_BSA_VIS": base * 0.5, "ABD_BSA_NIR": base * 1.2,
                      "ABD_WSA_VIS": base * 0.55, "ABD_WSA_NIR": base * 1.25}
            write_albedo(root / "glass_albedo", date, grid, values)
        for day in _days(year)[::4]:
            date = dt.date(year, 1, 1) + dt.timedelta(days=int(day))
            season = np.cos(2 * np.pi * (day - 200) / 365.25)
            kelvin = (283.0 + 12.0 * season - 0.2 * (lat[:, None] - 45.0) + 0.0 * lon[None, :]).astype(np.float32)
            write_lst(root / "glass_lst", date, grid, kelvin)


#: MODIS sinusoidal: a sphere of R = 6371007.181 m, and the 1 km product's pixel of 926.625433 m
#: (the MODIS land tile grid: 1200 pixels over a 10-degree tile of 1111950.5197 m) [doc: MODIS land
#: grid definitions]; the GLASS-MODIS SM files use the MODIS sinusoidal projection at 1 km [doc].
MODIS_SPHERE_M = 6371007.181
MODIS_1KM_PIXEL_M = 926.625433


def _write_sinusoidal_day(path: Path, date: dt.date, values_at: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """One day of GLASS-MODIS SM cut to the region: float32 m3 m-3, NoData -9999, MODIS sinusoidal."""
    west, south, east, north = BBOX
    r, px = MODIS_SPHERE_M, MODIS_1KM_PIXEL_M
    y_top = np.ceil(r * np.radians(north) / px) * px
    y_bottom = np.floor(r * np.radians(south) / px) * px
    widest = np.cos(np.radians(min(abs(south), abs(north)) if south * north > 0 else 0.0))
    x_left = np.floor(r * np.radians(west) * widest / px) * px
    x_right = np.ceil(r * np.radians(east) * widest / px) * px
    ny, nx = round(float(y_top - y_bottom) / px), round(float(x_right - x_left) / px)
    y = y_top - (np.arange(ny) + 0.5) * px
    x = x_left + (np.arange(nx) + 0.5) * px
    lat = np.degrees(y / r)[:, None] * np.ones((1, nx))
    lon = np.degrees(x[None, :] / (r * np.cos(np.radians(lat))))
    inside = (lat >= south) & (lat <= north) & (lon >= west) & (lon <= east)
    data = np.where(inside, values_at(lat, lon), -9999.0).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    crs = f"+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R={r} +units=m +no_defs"
    with rasterio.open(path, "w", driver="GTiff", dtype="float32", count=1, width=nx, height=ny, crs=crs,
                       transform=from_origin(x_left, y_top, px, px), nodata=-9999.0, compress="deflate") as dst:
        dst.write(data, 1)


def _write_target(root: Path) -> None:
    """GLASS-MODIS SM of the training year, every second day, one file per day in year folders
    (the naming is not documented: the reader's default pattern ``**/*A{year}{doy}*.tif``)."""
    for year in (TRAIN_YEAR,):
        for day in _days(year)[::2]:
            date = dt.date(year, 1, 1) + dt.timedelta(days=int(day))

            def values_at(lat: np.ndarray, lon: np.ndarray, day: int = int(day), year: int = year) -> np.ndarray:
                return _soil_moisture(np.array([day]), lat[:, 0], lon[0], year)[0] + 0.0 * lon

            _write_sinusoidal_day(root / "glass_modis_sm" / f"{year}" / f"GLASS_SM_MODIS_A{date:%Y%j}.tif", date,
                                  values_at)


def _write_era5(root: Path) -> None:
    """Two years in three layouts, each cut to the region plus a margin of nodes (a CDS ``area``
    request): January-April of the first year hourly in the legacy NetCDF, May-August as daily
    statistics in monthly files, and from September on one GRIB file of daily values across the
    turn of the year."""
    folder = root / "era5_land"
    lat = np.round(np.arange(BBOX[3] + 0.3, BBOX[1] - 0.31, -0.1), 1)
    lon = np.round(np.arange(BBOX[0] - 0.3, BBOX[2] + 0.31, 0.1), 1)
    year = YEARS[0]
    start, may, september = dt.date(year, 1, 1), dt.date(year, 5, 1), dt.date(year, 9, 1)
    times = hourly(start, (may - start).days)
    day_of_year = (times - np.datetime64(f"{year}-01-01")).astype("timedelta64[h]").astype(float) / 24.0
    write_legacy_netcdf(folder / f"era5_land_{year}_jan-apr_hourly.nc", times, lat, lon,
                        _soil_moisture(day_of_year, lat, lon, year))
    for month in range(5, 9):
        first = dt.date(year, month, 1)
        count = calendar.monthrange(year, month)[1]
        offset = first.timetuple().tm_yday - 1
        write_daily_statistics(folder / f"{year}-{month:02d}_daily_mean.nc", daily(first, count), lat, lon,
                               _soil_moisture(np.arange(offset, offset + count), lat, lon, year))
    offset = (september - start).days
    count = (dt.date(YEARS[-1], 12, 31) - september).days + 1
    write_grib(folder / f"swvl1_{year}09-{YEARS[-1]}12.grib", daily(september, count), lat, lon,
               _soil_moisture(np.arange(offset, offset + count) % 365, lat, lon, year))


def _write_static(root: Path, region: Grid) -> None:
    south, west = int(BBOX[1] // 5 * 5), int(BBOX[0] // 5 * 5)
    n = 500  # 0.01-degree pixels over the 5-degree tile
    centres = south + 5 - (np.arange(n) + 0.5) * 0.01
    relief = 400.0 + 900.0 * np.clip((centres - south) / 5, 0, 1)[:, None] * np.hanning(n)[None, :]
    write_merit_package(root / "merit_dem", {(south, west): relief.astype(np.float32)})

    to_igh = Transformer.from_crs("EPSG:4326", "+proj=igh +lat_0=0 +lon_0=0 +datum=WGS84 +units=m +no_defs",
                                  always_xy=True)
    corners = [to_igh.transform(x, y) for x in (BBOX[0] - 0.2, BBOX[2] + 0.2) for y in (BBOX[1] - 0.2, BBOX[3] + 0.2)]
    pixel = 1000.0
    west_m = np.floor(min(c[0] for c in corners) / pixel) * pixel
    north_m = np.ceil(max(c[1] for c in corners) / pixel) * pixel
    nx = int(np.ceil((max(c[0] for c in corners) - west_m) / pixel))
    ny = int(np.ceil((north_m - min(c[1] for c in corners)) / pixel))
    gradient = np.linspace(0, 1, nx)[None, :] * np.ones((ny, 1))
    for prop, grams in {"clay": 180 + 120 * gradient, "sand": 420 - 150 * gradient, "silt": 400 + 30 * gradient}.items():
        write_soilgrids_webdav(root / "soilgrids", prop, grams.astype(np.float32), west_m, north_m, pixel, tile=40)

    with open_raster(mcd12c1.packaged_geotiff()) as src:
        classes = src.read(1)
    write_mcd12c1_hdf(root / "mcd12c1", 2019, classes)


def build_real_tree(root: Path) -> Path:
    """Write the sample tree under ``root`` (the ``data_root``) and return it."""
    region = Grid(0.05, *BBOX)
    _write_glass(root, Grid.global_grid(GLASS_RESOLUTION))
    _write_target(root)
    _write_era5(root)
    _write_static(root, region)
    return root


def write_region_params(path: Path, data_root: Path, outputs_dir: Path) -> Path:
    """A params file that extends ``params/paper.yaml`` to the sample tree's region and years, with the
    training budgets of ``params/tiny.yaml`` (the point is the real path, not the science)."""
    tiny = yaml.safe_load((ROOT / "params" / "tiny.yaml").read_text())
    override = {
        "extends": str(ROOT / "params" / "paper.yaml"),
        "run_name": "real_sample",
        "data_root": str(data_root),
        "outputs_dir": str(outputs_dir),
        "grid": {"bbox": list(BBOX)},
        "period": {"start_year": YEARS[0], "end_year": YEARS[-1]},
        "cube": {"tile_cells": 20, "chunk_cells": 10},
        "sampling": {"stride": 1, "train_years": [TRAIN_YEAR]},
        "models": tiny["models"],
        "training": tiny["training"],
        "experiments": {**tiny["experiments"], "training_year_sets": [], "window_lengths": [1],
                        "run": ["sequence_length"]},
        "importance": tiny["importance"],
        "production": {"tile_cells": 20, "chunk_cells": 10, "batch_size": 64,
                       "export_start": f"{TRAIN_YEAR}-07-01", "export_end": f"{TRAIN_YEAR}-07-03"},
        "dask": {"scheduler": "synchronous"},
        "validation": {"period_i": [YEARS[0], YEARS[-1]]},
    }
    path.write_text(yaml.safe_dump(override, sort_keys=False))
    return path
