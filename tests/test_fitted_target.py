"""The twin world's second kind of target: a station model, made the way GLASS-MODIS SM is made."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from conftest import ROOT, write_tiny_params

from helpers import keys
from helpers.params import load_params
from helpers.sources import glass_modis_sm
from helpers.world import fitted_target, generate_world, world_settings


def test_cells_take_the_node_whose_box_holds_them():
    rows, cols = fitted_target.node_index(
        np.array([89.9, 88.4, 0.2, -89.9]), np.array([-179.9, 178.6, 1.4, 2.9]), 90.0, -180.0, 3.0, 61, 120
    )
    assert rows.tolist() == [0, 1, 30, 60]
    assert cols.tolist() == [0, 0, 60, 61]  # 178.6 is nearer -180 + 360: the longitude wraps


def test_year_features_are_stacked_in_the_models_order():
    dates = pd.date_range("2000-01-01", periods=3)
    modis = {name: np.full((3, 2), k, np.float32) for k, name in enumerate(fitted_target.FEATURES[:4])}
    statics = {name: np.array([10.0, 20.0]) for name in ("elevation", "slope", "clay", "sand")}
    stack = fitted_target.year_features(modis, np.full((3, 2), 0.3), statics, dates)
    assert stack.shape == (3, 2, len(fitted_target.FEATURES)) and stack.dtype == np.float32
    assert stack[0, 0, :4].tolist() == [0, 1, 2, 3]
    assert stack[1, 1, fitted_target.FEATURES.index("era5_sm")] == pytest.approx(0.3)
    assert stack[2, 0, fitted_target.FEATURES.index("day_of_year")] == 3
    assert stack[0, 1, fitted_target.FEATURES.index("clay")] == 20


def test_the_station_model_learns_from_usable_station_days_only():
    rng = np.random.default_rng(0)
    n_days, n_cells = 100, 5
    stack = rng.uniform(0, 1, (n_days, n_cells, len(fitted_target.FEATURES))).astype(np.float32)
    cells = np.array([0, 3])
    values = 0.1 + 0.4 * stack[:, cells, fitted_target.FEATURES.index("era5_sm")]
    usable = np.ones(values.shape, dtype=bool)
    usable[:50, 1] = False  # outside the second station's record
    rows = fitted_target.station_rows({2000: stack}, {2000: 0}, cells, values, usable)
    assert len(rows) == 150 and rows.features.shape == (150, len(fitted_target.FEATURES))
    model = fitted_target.fit_station_model(rows, seed=1, threads=1)
    applied = fitted_target.apply_station_model(model, stack)
    assert applied.shape == (n_days, n_cells)
    low, high = fitted_target.TARGET_RANGE
    assert applied.min() >= low and applied.max() <= high
    expected = 0.1 + 0.4 * stack[..., fitted_target.FEATURES.index("era5_sm")]
    assert np.corrcoef(applied.ravel(), expected.ravel())[0, 1] > 0.9  # it carries to cells it never saw
    with pytest.raises(ValueError, match="no usable ISMN-like station day"):
        fitted_target.station_rows({2000: stack}, {2000: 0}, cells, values, np.zeros_like(usable))


def test_modis_like_inputs_are_gap_free_and_repeatable():
    rng_values = np.random.default_rng(4)
    shape = (20, 6)
    sm = rng_values.uniform(0.05, 0.4, shape).astype(np.float32)
    args = (sm, np.full(shape, 0.3, np.float32), np.zeros(shape, np.float32), np.full(shape, 15.0, np.float32),
            np.full(shape, 250.0, np.float32), np.full(6, 40.0, np.float32), np.full(6, 0.45, np.float32),
            pd.date_range("2001-03-01", periods=20))  # fmt: skip
    first = fitted_target.modis_like_inputs(*args, np.random.default_rng(1), calibration_seed=3)
    again = fitted_target.modis_like_inputs(*args, np.random.default_rng(1), calibration_seed=3)
    assert set(first) == set(fitted_target.FEATURES[:4])
    for name, values in first.items():
        assert np.isfinite(values).all() and np.array_equal(values, again[name]), name
    # wetter soil, cooler surface: the thermal signal the station model learns from
    assert np.corrcoef(sm.ravel(), first["modis_lst"].ravel())[0, 1] < -0.5


@pytest.mark.slow
def test_a_station_model_world_writes_a_target_fitted_to_its_stations(tmp_path):
    tiny_world = yaml.safe_load((ROOT / "params" / "tiny.yaml").read_text())["world"]
    params = load_params(
        write_tiny_params(
            tmp_path,
            period={"start_year": 2000, "end_year": 2000},
            sampling={"stride": 1, "train_years": [2000]},
            experiments={"training_year_sets": []},
            world=tiny_world | {"target_method": "station_model"},
        )
    )
    assert world_settings(params)["world"]["target_method"] == "station_model"
    smoothed = params.model_copy(update={"world": params.world.model_copy(update={"target_method": "smoothed_truth"})})
    assert keys.digest(world_settings(smoothed)) != keys.digest(world_settings(params))  # another world
    generate_world(params, progress=False)
    assert not (params.truth_dir / "_station_model_inputs").exists()
    folder = params.raw_dir / params.sources.glass_modis_sm
    grid = params.to_grid()
    days = pd.date_range("2000-01-01", "2000-12-31")
    assert len(list(folder.glob("*.tif"))) == len(days)
    truth = xr.open_zarr(params.truth_dir / "truth.zarr")["sm"].sel(time=days).values
    target = glass_modis_sm.read(folder, grid, days[0].date(), days[-1].date()).values
    land = np.isfinite(truth)
    # the sinusoidal files lose some coastal and polar cells on the way back to the grid, as the
    # smoothed-truth target does
    assert np.isfinite(target[land]).mean() > 0.8
    low, high = fitted_target.TARGET_RANGE
    assert np.nanmin(target) >= low - 1e-6 and np.nanmax(target) <= high + 1e-6
    r = np.corrcoef(target[land & np.isfinite(target)], truth[land & np.isfinite(target)])[0, 1]
    assert 0.6 < r < 0.99  # a model of the stations: close to the truth, far from a copy of it
