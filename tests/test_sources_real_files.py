"""Readers on real files that installed packages ship (offline): real structure, real errors.

* ``smecv_grid`` ships ESA CCI SM's own grid definition files (0.25 degree land masks):
  the CCI files we write must sit on exactly that grid, latitude north to south.
* ``cartopy`` ships a real HadISST1 NetCDF (``sst`` in degC, 1 degree, latitude descending):
  given to the soil-moisture readers, it must be refused with the file named.
* ``xarray``'s test data hold a real GRIB2 file (temperature and geopotential on pressure
  levels): the ERA5-Land reader must refuse it by name, not read something else.

The ISMN package's station files (``tests/data/ismn_real``) and the MCD12C1 2019 GeoTIFF of
the PyPI wheel are read in tests/test_sources_stations.py and tests/test_sources_static.py.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import era5_land, esa_cci


def package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        pytest.skip(f"{package} does not ship {'/'.join(parts)} in this version")
    return path


def test_cci_files_lie_on_the_real_cci_grid(tmp_path):
    real = package_file("smecv_grid", "definition_files", "ESA-CCI-SOILMOISTURE-LAND_AND_RAINFOREST_MASK-fv04.2.nc")
    grid = Grid.global_grid(0.25)
    path = esa_cci.write(tmp_path, dt.date(2000, 1, 1), grid, np.full(grid.shape, 0.2, np.float32),
                         np.zeros(grid.shape, np.int8))
    with netCDF4.Dataset(real) as definition, netCDF4.Dataset(path) as ours:
        np.testing.assert_allclose(ours["lat"][:], definition["lat"][:])  # 89.875 .. -89.875
        np.testing.assert_allclose(ours["lon"][:], definition["lon"][:])  # -179.875 .. 179.875
        assert ours["sm"].dimensions[1:] == definition["land"].dimensions == ("lat", "lon")


def test_a_real_netcdf_of_another_variable_is_refused_by_name(tmp_path):
    sst = package_file("cartopy", "data", "netcdf", "HadISST1_SST_update.nc")
    era5 = tmp_path / "era5"
    era5.mkdir()
    shutil.copy(sst, era5 / sst.name)
    with pytest.raises(SourceError, match=r"HadISST1_SST_update\.nc") as info:
        era5_land.read(era5, Grid(1.0, 0, 40, 10, 50), dt.date(2000, 1, 1), dt.date(2000, 1, 2))
    assert "swvl1" in str(info.value)
    with pytest.raises(SourceError, match=r"HadISST1_SST_update\.nc: .*\bsm\b"):
        esa_cci.read_file(sst, Grid(1.0, 0, 40, 10, 50))


def test_a_real_grib_file_of_other_fields_is_refused_by_name(tmp_path):
    pytest.importorskip("cfgrib")
    grib = package_file("xarray", "tests", "data", "example.grib")
    era5 = tmp_path / "era5"
    era5.mkdir()
    shutil.copy(grib, era5 / grib.name)
    with pytest.raises(SourceError, match=r"example\.grib") as info:
        era5_land.read(era5, Grid(1.0, 0, 40, 10, 50), dt.date(2017, 1, 1), dt.date(2017, 1, 2))
    assert "swvl1" in str(info.value)
    assert sorted(p.name for p in era5.iterdir()) == ["example.grib"], "no index file left in the data folder"
