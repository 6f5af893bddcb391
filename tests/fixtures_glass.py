"""Writers of GLASS files with the real products' structure, for tests and sample trees.

Every structural fact carries its source: [doc] provider documentation, [code] public reader
code of others, [open] not settled (the value here is a stand-in and the readers must not
depend on it). Grids are global and tiny (e.g. 10 deg) so tests stay fast; the real grids are
the 0.05 deg CMG (7200 x 3600) for GLASS AVHRR and 1 km sinusoidal for GLASS-MODIS SM.

Sample tree the writers make (``root`` = the product folder)::

    glass_albedo/<YYYY>/GLASS02B05.V04.A<YYYY><DOY>.<YYYYDDD>.hdf
    glass_lst/<YYYY>/GLASS08B31.V40.A<YYYY><DOY>.<YYYYDDD>.hdf
    glass_modis_sm/<YYYY>/GLASS_SM_MODIS_A<YYYY><DOY>.tif      (naming [open])
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from helpers.grid import Grid
from helpers.sources import _hdf4, glass_albedo, glass_modis_sm

# Albedo: SDS names [code: NASA-LIS/LISF readGLASSalbedoObs.F90]; int16, scale 0.0001,
# valid 0-10000, negative values are fill [code: NASA-LIS/LISF]; the exact _FillValue is
# [open] (-1 here, negative as LIS expects); QC SDS ``QC_VIS`` [code: NASA-LIS/LISF], its type
# [open] (uint8 here).
ALBEDO_SPECS = [
    _hdf4.SdsSpec(band, np.int16, -1, f"albedo {band}", "1", 0.0001, 0.0, (0, 10000))
    for band in glass_albedo.BANDS
] + [_hdf4.SdsSpec("QC_VIS", np.uint8, 255, "quality control, bits 0-1 overall quality", "1")]
# LST: SDS ``LST`` [code: felixschulz385/growth-and-temperature glass.py]; uint16 in 0.01 K
# [code: the same crawler compares raw values with 27315/30315]; _FillValue 0 and no
# valid_range [open].
LST_SPEC = _hdf4.SdsSpec("LST", np.uint16, 0, "land surface temperature", "K", 0.01, 0.0)
# HDF-EOS grid names: ``GLASS02B05`` [code: NASA-LIS/LISF]; the LST one is [open].
ALBEDO_GRID = "GLASS02B05"
LST_GRID = "GLASS08B31"
# Processing-date tokens as real names carry them: ``.2018062`` [code: NASA-LIS/LISF comment],
# ``.2021259`` for LST [open: any 7 digits; the crawler says the token cannot be predicted].
ALBEDO_PRODUCTION = "2018062"
LST_PRODUCTION = "2021259"


def _folder(root: Path, date: dt.date, year_folder: bool) -> Path:
    # Year sub-folders, no day folder [code: growth-and-temperature; NASA-LIS/LISF].
    return Path(root) / f"{date:%Y}" if year_folder else Path(root)


def unscaled(specs: list[_hdf4.SdsSpec]) -> list[_hdf4.SdsSpec]:
    """``specs`` without scale_factor/add_offset attributes (files that carry none)."""
    return [dataclasses.replace(s, scale_factor=None, add_offset=None) for s in specs]


def write_albedo(
    root: Path,
    date: dt.date,
    grid: Grid,
    values: dict[str, np.ndarray] | None = None,
    *,
    production: str | None = ALBEDO_PRODUCTION,
    year_folder: bool = True,
    specs: list[_hdf4.SdsSpec] | None = None,
    grid_name: str | None = ALBEDO_GRID,
    struct_metadata: str | None = None,
    raw: dict[str, np.ndarray] | None = None,
) -> Path:
    """An HDF4-EOS albedo file: bands from ``values`` (0-1, NaN fill) or stored ``raw`` integers."""
    specs = specs or ALBEDO_SPECS
    by_name = {s.name: s for s in ALBEDO_SPECS}
    data = {name: by_name[name].encode(v) for name, v in (values or {}).items()}
    data.update(raw or {})
    name = f"GLASS02B05.V04.A{date:%Y%j}" + (f".{production}" if production else "") + ".hdf"
    path = _folder(root, date, year_folder) / name
    _hdf4.create(path, grid, specs, data, grid_name=grid_name, struct_metadata=struct_metadata)
    return path


def write_lst(
    root: Path,
    date: dt.date,
    grid: Grid,
    kelvin: np.ndarray | None = None,
    *,
    production: str | None = LST_PRODUCTION,
    year_folder: bool = True,
    spec: _hdf4.SdsSpec = LST_SPEC,
    grid_name: str | None = LST_GRID,
    struct_metadata: str | None = None,
    raw: np.ndarray | None = None,
) -> Path:
    """An HDF4-EOS LST file from ``kelvin`` (K, NaN fill) or stored ``raw`` integers."""
    data = {"LST": raw} if raw is not None else ({"LST": LST_SPEC.encode(kelvin)} if kelvin is not None else None)
    name = f"GLASS08B31.V40.A{date:%Y%j}" + (f".{production}" if production else "") + ".hdf"
    path = _folder(root, date, year_folder) / name
    _hdf4.create(path, grid, [spec], data, grid_name=grid_name, struct_metadata=struct_metadata)
    return path


def write_modis_sm(
    root: Path, date: dt.date, grid: Grid, values: np.ndarray, subcells: int = 2, *, year_folder: bool = True
) -> Path:
    """A GLASS-MODIS SM GeoTIFF: float32 m3 m-3, NoData -9999, MODIS sinusoidal [doc: ESSD 15, 2055];
    the name ``GLASS_SM_MODIS_A<YYYY><DOY>.tif`` and the year folder are [open]."""
    return glass_modis_sm.write(_folder(root, date, year_folder), date, grid, values, subcells)


def write_geographic_sm(root: Path, date: dt.date, grid: Grid, values: np.ndarray) -> Path:
    """A wrong-projection file: the same values as an EPSG:4326 GeoTIFF named like the product."""
    path = Path(root) / glass_modis_sm.file_name(date)
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "dtype": "float32", "count": 1, "width": grid.nlon, "height": grid.nlat,
               "crs": "EPSG:4326", "transform": from_origin(grid.west, grid.north, grid.resolution, grid.resolution),
               "nodata": -9999.0}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.where(np.isfinite(values), values, -9999.0).astype(np.float32), 1)
    return path
