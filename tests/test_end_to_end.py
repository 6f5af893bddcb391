"""End to end on params/tiny.yaml: twin world -> files in real formats -> readers -> datacube.

The tiny run is the session fixture ``tiny`` of conftest.py (its cube is built while the truth
is out of reach); notebook 00 is executed on it by papermill at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from conftest import write_tiny_params

from helpers import cube, inventory, keys, pipeline
from helpers.errors import MissingInputsError, SourceError
from helpers.params import load_params
from helpers.sources import cosmos_europe, cosmos_uk, glass_lst, ismn, smap_cvs
from helpers.world import generate_world, node_means, world_exists

ROOT = Path(__file__).resolve().parents[1]


def test_world_writes_every_product_in_its_format(tiny):
    raw = tiny.raw_dir
    expected = {
        "glass_albedo": "GLASS02B05.V04.A2000009.*.hdf",
        "glass_lst": "GLASS08B31.V40.A2000001.*.hdf",
        "glass_modis_sm": "GLASS_SM_MODIS_A2000001.tif",
        "era5_land": "era5_land_swvl1_1999.nc",
        "merit_dem": "n45e005_dem.tif",
        "soilgrids": "clay_0-5cm_mean.tif",
        "mcd12c1": "MCD12C1.A2019001*.hdf",
        "esa_cci": "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20000101000000-*.nc",
    }
    for folder, pattern in expected.items():
        assert list((raw / folder).glob(pattern)), f"no {pattern} in {raw / folder}"
    assert not list((raw / "glass_modis_sm").glob("GLASS_SM_MODIS_A1999*.tif")), "target before 2000"
    era5 = xr.open_dataset(raw / "era5_land" / "era5_land_swvl1_2000.nc")
    assert "valid_time" in era5.dims and era5["latitude"][0] == 90 and float(era5["longitude"].max()) > 180
    assert inventory.missing_inputs(tiny) == []


def test_station_files_read_back_through_the_real_readers(tiny, tmp_path):
    raw = tiny.raw_dir
    points = ismn.read_network(raw / "ismn", tmp_path / "ismn_meta", exclude_networks=["COSMOS"], min_records=12)
    assert set(points.meta["network"]) == {"TWIN-NA", "TWIN-EU", "TWIN-GLOBAL"}
    assert len(points.data) >= 30 and points.skipped.empty
    assert all(series.between(0, 0.7).all() for series in points.data.values())
    frozen_drops = points.dropped[points.dropped["flag"].str.startswith("D")]["n"].sum()
    assert frozen_drops > 0, "frozen-soil flags D0x are expected in winter"
    assert (points.meta["n_days_short"] > 0).any(), "outages leave partial days"
    intervals = points.meta.groupby("network")["record_interval_h"].median()
    assert intervals["TWIN-NA"] == 1 and intervals["TWIN-GLOBAL"] == 3
    crns = ismn.read_network(raw / "ismn", tmp_path / "ismn_meta", networks=["COSMOS"], depth_from_only=True)
    assert len(crns.data) == tiny.world.cosmos_networks["COSMOS"].stations
    assert crns.meta["depth_to"].between(0.1, 0.4).all()
    uk = cosmos_uk.read_network(raw / "cosmos_uk")
    assert len(uk.data) == tiny.world.cosmos_networks["COSMOS-UK"].stations
    assert uk.meta["depth_to"].median() > 0.22 and set(uk.dropped["flag"]) == {"I"}
    europe = cosmos_europe.read_network(raw / "cosmos_europe", min_records=12)
    assert len(europe.data) == tiny.world.cosmos_networks["COSMOS-Europe"].stations
    sites = smap_cvs.read_sites(raw / "smap_cvs")
    assert list(sites.meta["station"]) == [site for site, *_ in smap_cvs.CORE_SITES[: tiny.world.smap_sites]]
    assert sites.meta.loc[sites.meta["station"] == "Walnut Gulch", "site_id"].item() == "1601"


def test_cube_is_complete_flagged_and_cf(tiny):
    ds = cube.open_cube(tiny)
    land = (ds["mask"] == cube.MASK_VALUES["land"]).values
    assert land.sum() > 500
    for name in cube.dynamic_features(tiny):
        values = ds[name].values[:, land]
        assert np.isfinite(values).all(), f"{name} has gaps over unmasked land"
        assert ds[name].attrs["units"]
    for name in cube.STATIC_FEATURES:
        assert np.isfinite(ds[name].values[land]).all(), name
    target = ds[cube.TARGET]
    assert np.isnan(target.sel(time="1999").values).all()
    assert np.isfinite(target.sel(time="2000").values[:, land]).mean() > 0.9
    flags = ds["gap_flag"].values[:, land]
    assert (flags & cube.GAP_FLAGS["lst_filled"]).any(), "clouds must leave LST gaps to fill"
    assert ds.attrs["Conventions"].startswith("CF-1.10")
    assert ds["era5_sm"].attrs["standard_name"] == "volume_fraction_of_condensed_water_in_soil"
    assert not (ds["mask"].values[ds["water_fraction"].values >= 0.5] != cube.MASK_VALUES["water"]).any()
    coverage = cube.read_coverage(tiny)
    assert set(coverage["variable"]) >= {"lst", "era5_sm", cube.TARGET}
    # every filled value is flagged: the flags' shares over unmasked land are the report's
    report = coverage.set_index(["variable", "year"])
    flags_2000 = ds["gap_flag"].sel(time="2000").values[:, land]
    for variable, bit in (("lst", "lst"), (cube.dynamic_features(tiny)[0], "albedo")):
        for column, kind in (("filled_share", "filled"), ("long_gap_share", "long_gap")):
            share = ((flags_2000 & cube.GAP_FLAGS[f"{bit}_{kind}"]) > 0).mean()
            assert share == pytest.approx(report.loc[(variable, 2000), column], abs=1e-4), (variable, kind)
    lst = report.loc[("lst", 2000)]
    assert lst["filled_share"] > 0.1 and lst["valid_share"] + lst["filled_share"] == pytest.approx(1, abs=2e-4)


def test_cube_inputs_run_on_across_new_year(tiny):
    """Each year of the cube is read in its own window. Before, a gap in the albedo composites
    across 1 January (a snowy or cloudy winter) was held at the last value one year saw and the
    first value the next year saw, and the albedo jumped 20x its usual day-to-day change at
    every new year; its 1 January change must now be an ordinary day's. On 1 January 2001 the
    AVHRR-like sensor changes platform (``world.satellite_changes``): there the albedo must
    step, as the real record does, which shows that the check sees a step."""
    ds = cube.open_cube(tiny)
    land = (ds["mask"] == cube.MASK_VALUES["land"]).values
    times = pd.DatetimeIndex(ds["time"].values)
    platform_change = pd.Timestamp("2001-01-01")
    assert platform_change.date() in tiny.world.satellite_changes
    steps = []
    for name in cube.dynamic_features(tiny):
        values = ds[name].values[:, land]
        changes = np.nanmean(np.abs(np.diff(values, axis=0)), axis=1)  # day k -> k + 1
        for boundary in (pd.Timestamp("2000-01-01"), platform_change):
            at = times.get_loc(boundary) - 1
            ratio = changes[at] / np.median(np.delete(changes[at - 15 : at + 16], 15))
            if boundary == platform_change and name.startswith("abd_"):
                steps.append(ratio)  # each band's calibration changes by its own draw
            else:
                assert ratio < 3, (name, boundary.date(), ratio)
    assert max(steps) > 3, steps


def test_cube_inputs_relate_to_the_truth_as_designed(tiny):
    from helpers.truth import open_truth

    ds = cube.open_cube(tiny).sel(time="2000")
    truth = open_truth(tiny)["sm"].sel(time="2000")
    land = (ds["mask"] == 0).values
    era5, target, true = (a.values[:, land] for a in (ds["era5_sm"], ds[cube.TARGET], truth))
    assert np.nanmean(era5 - true) > 0.02, "ERA5-like input must be wet-biased"
    assert np.nanmean(np.abs(target - true)) < np.nanmean(np.abs(era5 - true))


def test_world_is_deterministic_by_seed_and_rebuilt_when_its_settings_change(tmp_path, caplog):
    """Same seed, same world; an existing world is kept for the same settings and rebuilt, with
    a warning naming the change, for other ones (before: kept whatever the params said)."""
    # one year on a 6-degree grid: the same code paths as the tiny world's, in a third of the time
    one_year = {"period": {"start_year": 2000, "end_year": 2000}, "grid": {"resolution": 6.0},
                "sampling": {"stride": 1, "train_years": [2000]}, "experiments": {"training_year_sets": []}}
    day = dt.date(2000, 7, 1)

    def read(params):
        lst = glass_lst.read(params.source_path("glass_lst"), params.to_grid(), day, day).values
        return lst, xr.open_zarr(params.truth_dir / "truth.zarr")["sm"].isel(time=180).values

    runs = {}
    for name in ("a", "b"):
        params = load_params(write_tiny_params(tmp_path / name, seed=3, **one_year))
        generate_world(params, progress=False)
        runs[name] = read(params)
    np.testing.assert_array_equal(runs["a"][0], runs["b"][0])
    np.testing.assert_array_equal(runs["a"][1], runs["b"][1])

    record_file = params.raw_dir / "WORLD_COMPLETE"
    record = json.loads(record_file.read_text())
    assert record["digest"] == keys.digest(record["settings"]) and world_exists(params)
    stamp = record_file.stat().st_mtime_ns
    generate_world(params, progress=False)  # same settings: kept
    assert record_file.stat().st_mtime_ns == stamp
    reseeded = params.model_copy(update={"seed": 4})
    assert not world_exists(reseeded)
    with caplog.at_level(logging.WARNING, logger="helpers.world"):
        generate_world(reseeded, progress=False)
    assert "seed: 3 -> 4" in caplog.text and json.loads(record_file.read_text())["settings"]["seed"] == 4
    assert not np.array_equal(np.nan_to_num(read(reseeded)[1]), np.nan_to_num(runs["a"][1]))


def test_node_means_are_area_means_around_nodes():
    from helpers.grid import Grid

    grid = Grid(1.0)
    field = np.ones(grid.shape, dtype=np.float32)
    for spacing in (2.0, 3.0):
        means, lat, lon = node_means(field, grid, spacing)
        assert means.shape == (round(180 / spacing) + 1, round(360 / spacing))
        assert lat[0] == 90 and lat[-1] == -90 and lon[0] == -180
        np.testing.assert_allclose(means, 1.0)
    marked = np.zeros(grid.shape, dtype=np.float32)
    marked[grid.rows_cols_of(np.array([10.5]), np.array([20.5]))] = 1.0
    means, lat, lon = node_means(marked, grid, 2.0)
    row, col = int(np.argmax(means.max(axis=1))), int(np.argmax(means.max(axis=0)))
    assert (lat[row], lon[col]) in {(10.0, 20.0), (12.0, 20.0), (10.0, 22.0), (12.0, 22.0)}


def test_bad_input_names_the_file_and_leaves_no_cube(tiny, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(tiny.raw_dir, raw)
    victim = sorted((raw / "glass_lst").glob("GLASS08B31.V40.A2000100.*.hdf"))[0]
    victim.write_bytes(victim.read_bytes()[:200])
    params = load_params(write_tiny_params(tmp_path, data_root=str(raw), run_name="broken"))
    with pytest.raises(SourceError) as info:
        cube.build_cube(params, progress=False)
    assert victim.name in str(info.value)
    assert not params.cube_path.exists()
    assert not list(params.data_dir.glob(".*tmp*")), "temporary cube left behind"


def test_real_configuration_lists_missing_inputs(tmp_path):
    paper = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    paper["data_root"] = str(tmp_path / "nothing_here")
    paper["outputs_dir"] = str(tmp_path / "out")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(paper))
    with pytest.raises(MissingInputsError) as info:
        inventory.check_inputs(load_params(path))
    message = str(info.value)
    assert "7 required input(s) not found" in message
    assert "GLASS AVHRR albedo" in message and "doi:" in message
    result = subprocess.run([sys.executable, "-m", "helpers.pipeline", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "ERA5-Land" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_notebook_00_runs_on_tiny(tiny):
    out = tiny.run_dir / "notebooks" / "00_data_prep.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    params_file = tiny.outputs_dir.parent / "tiny.yaml"
    pipeline.execute_notebook(
        ROOT / "notebooks" / "00_data_prep.ipynb", out,
        {"params_file": str(params_file), "run_name": "tiny", "example_day": "2000-07-15"},
    )
    figures = {p.name for p in (tiny.run_dir / "figures").glob("*.png")}
    assert {"00_inputs_one_day.png", "00_masks.png", "00_series_at_sites.png", "00_coverage.png"} <= figures
    assert (tiny.run_dir / "tables" / "input_coverage.csv").exists()


def test_truth_sequences_align_with_calendars(tiny):
    import pandas as pd

    from helpers.truth import open_truth, truth_sequences

    table = pd.DataFrame({"row": [10, 40], "col": [100, 20], "year": [2000, 2001]})
    calendars = {
        2000: pd.DataFrame({"date": pd.date_range("1999-12-30", periods=5)}),
        2001: pd.DataFrame({"date": pd.date_range("2001-12-29", periods=5)}),  # runs past the period
    }
    out = truth_sequences(tiny, table, calendars, length=6)
    sm = open_truth(tiny)["sm"]
    np.testing.assert_array_equal(out[0, :5], sm.sel(time=slice("1999-12-30", "2000-01-03")).values[:, 10, 100])
    np.testing.assert_array_equal(out[1, :3], sm.sel(time=slice("2001-12-29", "2001-12-31")).values[:, 40, 20])
    assert np.isnan(out[1, 3:]).all() and np.isnan(out[:, 5]).all()
