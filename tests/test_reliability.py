"""No silent wrong results: every fill flagged, nothing stale reused, one seed one result.

Each test here fails on the code before its mend (named in the test's docstring).
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from conftest import write_tiny_params
from test_training import CENTRAL, NAMES, SPLIT, make_params, synthetic_arrays

import helpers.cube as cube
import helpers.models.xgboost as xgboost_model
from helpers import importance, inputs, keys
from helpers.errors import SourceError, StaleArtefactError
from helpers.grid import EARTH_RADIUS_KM, Grid
from helpers.models import deterministic_torch, seed_everything
from helpers.params import load_params
from helpers.sampling import sample_locations
from helpers.training import ArraySamples, train_torch_model, train_xgboost
from helpers.world import generate_world

ONE_YEAR = {
    "period": {"start_year": 2000, "end_year": 2000},
    "sampling": {"stride": 1, "train_years": [2000]},
    "experiments": {"training_year_sets": []},
}


# 1. Every filled or missing input is visible --------------------------------------------------


def test_one_policy_for_missing_inputs():
    """Before: three ad-hoc ``nan_to_num`` calls; now one helper that also says what it filled."""
    x = np.ones((2, 3, 4), dtype=np.float32)
    x[0, 1, 2] = np.nan
    x[1, :, :2] = np.inf
    filled = inputs.fill_missing(x)
    assert filled[0, 1, 2] == inputs.FILL_VALUE and np.isfinite(filled).all() and filled.dtype == np.float32
    np.testing.assert_array_equal(inputs.missing_days(x), [[False, True, False], [True, True, True]])
    np.testing.assert_array_equal(inputs.no_daily_input(x, 2), [[False, False, False], [True, True, True]])
    assert inputs.fill_missing(filled) is filled  # nothing to fill: no copy


def test_static_fills_are_flagged_and_a_tile_without_a_source_is_an_error(tiny, monkeypatch):
    """Before: static values borrowed from the nearest cell had no flag, and a tile with no
    static value at all stayed NaN without a word."""
    tile = next(tiny.to_grid().tiles(45))[2]
    real_read = cube.merit_dem.read
    before = cube._read_static(tiny, tile)
    elevation_bit = cube.STATIC_FLAGS["elevation"]
    land = (before["mask"] == cube.MASK_VALUES["land"]) & ~((before["static_flag"] & elevation_bit) > 0)
    land_cell = tuple(np.argwhere(land)[0])

    def with_hole(path, grid, **kwargs):
        dem = real_read(path, grid, **kwargs)
        values = dem["elevation"].values.copy()
        values[land_cell] = np.nan
        return dem.assign(elevation=(dem["elevation"].dims, values))

    monkeypatch.setattr(cube.merit_dem, "read", with_hole)
    static = cube._read_static(tiny, tile)
    flagged = (static["static_flag"] & elevation_bit) > 0
    assert flagged.sum() == ((before["static_flag"] & elevation_bit) > 0).sum() + 1 and flagged[land_cell]
    assert np.isfinite(static["elevation"][land_cell])
    np.testing.assert_array_equal(
        static["static_flag"] & ~np.uint8(elevation_bit), before["static_flag"] & ~np.uint8(elevation_bit)
    )

    monkeypatch.setattr(cube.merit_dem, "read", lambda path, grid, **kwargs: real_read(path, grid, **kwargs) * np.nan)
    with pytest.raises(SourceError, match="elevation: no value for any of the"):
        cube._read_static(tiny, tile)


def test_a_truncated_era5_year_is_flagged_as_a_long_gap(tiny, monkeypatch):
    """Before: ERA5-Land had no long-gap bit, so months held constant showed only as a share."""
    tile = next(tiny.to_grid().tiles(45))[2]
    real_read = cube.era5_land.read

    def truncated(path, grid, start, end, **kwargs):
        data = real_read(path, grid, start, end, **kwargs)
        return data.where(data["time"] < np.datetime64("2000-10-01"))

    monkeypatch.setattr(cube.era5_land, "read", truncated)
    mask = cube._read_static(tiny, tile)["mask"]
    out = cube._read_year(tiny, tile, 2000, mask, cube.CubeReport())
    land = mask != cube.MASK_VALUES["water"]
    days = pd.date_range("2000-01-01", "2000-12-31")
    long = (out["gap_flag"] & cube.GAP_FLAGS["era5_long_gap"]) > 0
    # A gap reaching the end of the read window: long once it exceeds max_gap_days.
    assert long[:, land].any(axis=1)[days >= pd.Timestamp("2000-11-15")].all()
    assert not long[days < pd.Timestamp("2000-10-01")].any()


# 2. Nothing stale is reused -------------------------------------------------------------------


def test_a_cube_made_with_other_settings_is_refused_and_rebuilt(tmp_path, caplog):
    """Before: ``open_cube`` and ``build_cube`` took an existing cube whatever the settings."""
    params = load_params(write_tiny_params(tmp_path / "b", **ONE_YEAR))
    generate_world(params, progress=False)
    cube.build_cube(params, progress=False)
    key = cube.cube_key(cube.open_cube(params))
    assert key == keys.digest(cube.cube_settings(params))
    changed = params.model_copy(update={"cube": params.cube.model_copy(update={"max_gap_days": 10})})
    with pytest.raises(StaleArtefactError, match="max_gap_days"):
        cube.open_cube(changed)
    with caplog.at_level(logging.WARNING, logger="helpers.cube"):
        cube.build_cube(changed, progress=False)
    assert "rebuilding" in caplog.text and "max_gap_days" in caplog.text
    assert cube.cube_key(cube.open_cube(changed)) not in (None, key)


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path):
    """Before: the identity held only the model, features and hyper-parameters, so a run with
    another seed, training settings or samples continued the checkpoint."""
    x, y = synthetic_arrays()
    samples = ArraySamples(x, y, CENTRAL, SPLIT, NAMES)
    params = make_params(tmp_path, max_epochs=1)
    train_torch_model("lstm", samples, params, tmp_path, progress=False)
    others = {
        "seed": params.model_copy(update={"seed": params.seed + 1}),
        "training": make_params(tmp_path, max_epochs=1, learning_rate=0.02),
    }
    for changed, other in others.items():
        with pytest.raises(ValueError, match=rf"checkpoint of another run.*{changed}"):
            train_torch_model("lstm", samples, other, tmp_path, progress=False, resume=True)
    resplit = ArraySamples(x, y, CENTRAL, np.roll(SPLIT, 3), NAMES)
    with pytest.raises(ValueError, match=r"checkpoint of another run.*samples"):
        train_torch_model("lstm", resplit, params, tmp_path, progress=False, resume=True)


def test_experiment_only_years_do_not_choose_the_sample_locations(tiny):
    """Before: locations needed the target in every sample year, the experiment's included."""
    ds = cube.open_cube(tiny).load()
    times = pd.DatetimeIndex(ds["time"].values)
    target = ds[cube.TARGET].values.copy()
    target[np.ix_(times.year == 2001, np.arange(target.shape[1]) < target.shape[1] // 2)] = np.nan
    holed = ds.assign({cube.TARGET: (ds[cube.TARGET].dims, target)})
    years = {"train_years": [2000]}
    main = tiny.model_copy(update={"sampling": tiny.sampling.model_copy(update=years)})
    with_experiment = main.model_copy(
        update={"experiments": main.experiments.model_copy(update={"training_year_sets": [[2001]]})}
    )
    assert with_experiment.sample_years == [2000, 2001]
    pd.testing.assert_frame_equal(sample_locations(holed, main), sample_locations(holed, with_experiment))


# 3. Same seed, same result ----------------------------------------------------------------------


def test_xgboost_threads_are_pinned_for_the_quantile_sketch_too(tmp_path, monkeypatch):
    """Before: ``QuantileDMatrix`` took every core, whatever ``training.num_threads`` said."""
    x, y = synthetic_arrays()
    samples = ArraySamples(x, y, CENTRAL, SPLIT, NAMES)
    seen = []
    real = xgboost_model.xgboost.QuantileDMatrix

    def spy(*args, **kwargs):
        seen.append(kwargs.get("nthread"))
        return real(*args, **kwargs)

    monkeypatch.setattr(xgboost_model.xgboost, "QuantileDMatrix", spy)
    params = make_params(tmp_path, num_threads=1)
    train_xgboost(samples, params, tmp_path)
    assert seen == [1, 1] and params.training.num_threads == 1


def test_torch_is_deterministic_not_merely_warned():
    """Before: ``use_deterministic_algorithms(True, warn_only=True)``: only a warning."""
    seed_everything(3)
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    import os

    assert os.environ["CUBLAS_WORKSPACE_CONFIG"]  # set on importing helpers, before CUDA starts
    deterministic_torch()  # idempotent


def test_each_importance_computation_has_its_own_stream(tiny):
    """Before: one generator shared by the cells of notebook 03, so re-running one cell moved
    the rows of the next."""
    first = importance.generator(tiny, "permutation").integers(0, 1000, 5)
    importance.generator(tiny, "shap_background").integers(0, 1000, 50)  # another cell in between
    again = importance.generator(tiny, "permutation").integers(0, 1000, 5)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, importance.generator(tiny, "attention").integers(0, 1000, 5))
    with pytest.raises(ValueError, match="computation must be one of"):
        importance.generator(tiny, "everything")


def test_settings_differences_name_each_changed_key():
    wanted = {"seed": 1, "grid": {"resolution": 2.0}, "years": (2000, 2001)}
    assert keys.differences({"seed": 1, "grid": {"resolution": 2.0}, "years": [2000, 2001]}, wanted) == []
    assert keys.differences({"seed": 2, "grid": {"resolution": 2.0}, "years": [2000]}, wanted) == [
        "seed: 2 -> 1",
        "years: [2000] -> [2000, 2001]",
    ]
    assert keys.differences(None, wanted) == ["no record of the settings that made it"]
    assert keys.digest(wanted) == keys.digest(dict(reversed(wanted.items())))
    assert len(keys.digest({"date": dt.date(2000, 1, 1)})) == 16


def test_nearest_land_cell_is_the_great_circle_nearest():
    """One nearest-cell search (great circle) for the whole project; before, the cube's used a
    flat-Earth distance that picks the wrong cell near the poles."""
    grid = Grid(1.0)
    mask = np.ones(grid.shape, dtype=np.uint8)
    for lat, lon in ((75.5, 90.5), (71.5, 0.5)):  # 15.2 and 14.0 degrees of arc from 85.5N 0.5E
        rows, cols = grid.rows_cols_of(np.array([lat]), np.array([lon]))
        mask[rows[0], cols[0]] = cube.MASK_VALUES["land"]
    ds = xr.Dataset({"mask": (("lat", "lon"), mask)}, coords={"lat": grid.lat, "lon": grid.lon})
    cells = cube.nearest_land_cells(ds, {"point": (85.5, 0.5)})
    assert (cells.loc["point", "lat"], cells.loc["point", "lon"]) == (71.5, 0.5)
    assert cells.loc["point", "distance_km"] == pytest.approx(np.radians(14.0) * EARTH_RADIUS_KM, rel=1e-6)
