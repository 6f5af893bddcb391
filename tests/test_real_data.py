"""The real configuration on files laid out as the providers ship them (tests/real_tree.py).

``params/paper.yaml``, extended to a 1 x 1 degree region and two years, runs notebooks 00-04 on
the sample tree; ``--check`` reports what is there and what is not, with and without the data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from real_tree import BBOX, YEARS, build_real_tree, write_region_params

from helpers import inventory
from helpers.cube import GAP_FLAGS
from helpers.params import load_params
from helpers.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def region_params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("real_sample")
    build_real_tree(folder / "data")
    return write_region_params(folder / "region.yaml", folder / "data", folder / "out")


def check(params_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers.pipeline", str(params_file), "--check"],
                          capture_output=True, text=True, cwd=ROOT)


def test_check_reports_every_product_of_the_sample_tree(region_params):
    result = check(region_params)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "7 of 7 required products complete." in out
    assert "[ok] ERA5-Land" in out and "years 2003-2004 (2 years)" in out
    assert "pattern: **/GLASS08B31.V40.A{year}{doy}*.hdf" in out
    assert "7200 x 3600 cells (0.05 deg) in SDS Majority_Land_Cover_Type_1" in out
    assert "+proj=igh" in out  # SoilGrids' Homolosine tiles, found through their VRT
    assert "[absent (optional)] ESA CCI SM" in out and "Traceback" not in result.stderr


def test_check_names_what_is_missing_and_where_to_get_it(region_params, tmp_path):
    params = load_params(region_params)
    data = tmp_path / "data"
    data.mkdir()
    for product in ("glass_albedo", "merit_dem", "soilgrids", "mcd12c1"):
        (data / product).symlink_to(params.source_path(product), target_is_directory=True)
    (data / "era5_land").mkdir()  # an empty folder
    (data / "glass_lst" / "2002").mkdir(parents=True)  # a file of another year only
    first_lst = sorted(params.source_path("glass_lst").rglob("*.hdf"))[0]
    (data / "glass_lst" / "2002" / first_lst.name.replace("A2003", "A2002")).symlink_to(first_lst)
    partial = tmp_path / "partial.yaml"
    partial.write_text(region_params.read_text().replace(str(params.data_root), str(data)))
    result = check(partial)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    out = result.stdout
    assert "[MISSING] GLASS AVHRR land-surface temperature" in out
    assert "for 2003-2004 (2 years)" in out and "years 2002 (1 year)" in out  # LST: found 2002 only
    assert f"missing: folder {data / 'glass_modis_sm'} not found" in out
    assert "2003 (0 of 365 days), 2004 (0 of 366 days)" in out  # ERA5-Land: an empty folder
    assert "get it:  Copernicus Climate Data Store" in out
    assert "4 of 7 required products complete; missing: glass_lst, glass_modis_sm, era5_land." in out
    found = {f.product.key: f for f in inventory.inventory(load_params(partial))}
    assert not found["glass_lst"].complete and found["glass_albedo"].complete


@pytest.mark.slow
def test_paper_params_run_notebooks_00_to_04_on_the_sample_tree(region_params):
    manifest = run_pipeline(region_params, only=["00", "01", "02", "03", "04"], report=False)
    assert manifest["status"] == "succeeded"
    params = load_params(region_params)
    assert params.grid.resolution == 0.05 and params.sources.albedo_bands == load_params(
        ROOT / "params" / "paper.yaml").sources.albedo_bands

    cube = xr.open_zarr(params.cube_path)
    assert cube.sizes["lat"] == cube.sizes["lon"] == 20
    assert float(cube["lon"].min()) == pytest.approx(BBOX[0] + 0.025)
    land = (cube["mask"] == 0).values
    assert land.sum() > 300  # the real 2019 MCD12C1 map: this square is land, with a few lakes
    coverage = pd.read_csv(params.cube_path / "coverage.csv").set_index(["variable", "year"])
    assert (coverage.loc["era5_sm", "valid_share"] == 1.0).all()  # three ERA5-Land layouts, no day lost
    assert (coverage.loc["lst", "filled_share"] > 0.5).all()  # three of four days had no file
    lst = cube["lst"].values[:, land]
    assert np.isfinite(lst).all() and 250 < np.nanmean(lst) < 300
    flags = cube["gap_flag"].values[:, land]
    assert ((flags & GAP_FLAGS["lst_filled"]) > 0).mean() > 0.5  # flagged on the days without a file

    product = xr.open_zarr(params.data_dir / "product.zarr")
    assert set(pd.DatetimeIndex(product["time"].values).year) == set(YEARS)
    sm = product["sm"].values[:, land]
    assert np.isfinite(sm).all() and 0.0 <= sm.min() and sm.max() <= 1.0
