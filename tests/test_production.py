"""Tests of helpers.production on the shared tiny twin world (an untrained small AtLSTM).

Most tests produce 2000 alone with ``blend_days`` 0 (one run per tile); the blending of yearly
runs, and its resume, are tested on 2000-2001 with the default blend."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

import helpers.production as production
import helpers.production.run as production_run
from helpers.cube import MASK_VALUES, feature_names, open_cube
from helpers.models import ModelFileError, get_model, save_model, seed_everything
from helpers.params import ModelParams, load_params

YEAR = 2000  # a leap year with real neighbouring years on both sides


@pytest.fixture(scope="module")
def setup(tiny, tmp_path_factory):
    """A model file fitted to the tiny cube's features and a function making run params."""
    folder = tmp_path_factory.mktemp("production")
    names = feature_names(tiny)
    ds = open_cube(tiny)
    seed_everything(0)
    model = get_model("atlstm", len(names), ModelParams(hidden_size=8, attention_size=4, dropout=0.2))
    sample = ds[names[:-5]].isel(time=slice(0, 60)).to_array().values
    static = ds[names[-5:]].to_array().values
    means = [float(np.nanmean(v)) for v in [*sample, *static]]
    stds = [float(np.nanstd(v)) for v in [*sample, *static]]
    path = save_model(
        model, folder / "model.pt", extra={"feature_names": names, "stats": {"mean": means, "std": stds}}
    )

    def make(name: str, dask: dict | None = None, **changes):
        settings = {
            "model_path": str(path),
            "years": [YEAR],
            "tile_cells": 45,
            "chunk_cells": 15,
            "mc_passes": 3,
            "blend_days": 0,
        }
        return load_params(
            tiny.outputs_dir.parent / "tiny.yaml",
            outputs_dir=str(folder / name),
            production=settings | changes,
            dask=dask or {"scheduler": "synchronous"},
        )

    return make, ds, path


def dies_on_call(n: int, unit):
    """``unit`` (``produce_unit``) that raises KeyboardInterrupt on its ``n``-th call: a killed run."""
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt("killed")
        return unit(*args, **kwargs)

    return wrapped


def test_product_covers_the_year_with_masks_flags_and_cf_attributes(setup):
    make, ds, _ = setup
    params = make("plain")
    product = xr.open_zarr(production.produce(params, progress=False, ds=ds))
    assert product.sizes["time"] == 366 and (pd.DatetimeIndex(product["time"].values).year == YEAR).all()
    sm, flag = product["sm"].values, product["sm_flag"].values
    mask = ds["mask"].values
    land = mask == MASK_VALUES["land"]
    assert np.isfinite(sm[:, land]).all()  # no hole: every land cell-day estimated
    assert sm[:, land].std(axis=1).min() > 0  # the cells differ on every day (no constant fill)
    assert np.isnan(sm[:, ~land]).all()
    water = mask == MASK_VALUES["water"]
    assert (flag[:, water] & production.FLAG_BITS["water"]).all()
    assert not (
        flag[:, land] & (production.FLAG_BITS["water"] | production.FLAG_BITS["permanent_snow_ice"])
    ).any()
    lst = ds["lst"].sel(time=str(YEAR)).values
    frozen = (flag & production.FLAG_BITS["frozen_suspected"]) > 0
    np.testing.assert_array_equal(frozen, lst < production.FROZEN_LST_K)
    spread = product["sm_uncertainty"].values[:, land]
    assert np.isfinite(spread).all() and (spread > 0).mean() > 0.9
    # The interval's bounds: sm -+ z sigma, clipped to the physical range.
    lower, upper, estimate = (product[k].values[:, land] for k in ("sm_lower", "sm_upper", "sm"))
    np.testing.assert_allclose(lower, np.clip(estimate - 1.6448536 * spread, 0, production.SM_MAX), atol=1e-6)
    np.testing.assert_allclose(upper, np.clip(estimate + 1.6448536 * spread, 0, production.SM_MAX), atol=1e-6)
    assert (lower >= 0).all() and (upper <= production.SM_MAX).all() and (lower <= estimate).all()
    assert product["sm"].attrs["standard_name"] == "volume_fraction_of_condensed_water_in_soil"
    assert product["sm"].attrs["units"] == "m3 m-3" and "flag_masks" in product["sm_flag"].attrs
    assert product.attrs["Conventions"].startswith("CF-1.10") and product.attrs["glass_sm_model"] == "atlstm"
    assert not params.data_dir.joinpath("product.zarr.partial").exists()


def test_killed_production_resumes_to_the_same_product(setup, monkeypatch):
    """Blended over 2000-2001 and killed between the two years of a tile: the resumed tile
    recomputes its 2000 run for the blend and ends bit-identical to an uninterrupted run."""
    make, ds, _ = setup
    # Land kept in a box across tiles 0, 1, 4 and 5 only (water elsewhere), to keep the five
    # two-year products of this test cheap.
    box = np.zeros(ds["mask"].shape, dtype=bool)
    box[25:65, 30:60] = True
    ds = ds.assign(mask=ds["mask"].where(box, MASK_VALUES["water"]))
    blended = {"years": [2000, 2001], "blend_days": 60}
    reference = xr.open_zarr(production.produce(make("whole", **blended), progress=False, ds=ds)).load()
    params = make("killed", **blended)
    original = production_run.produce_unit
    monkeypatch.setattr(production_run, "produce_unit", dies_on_call(4, original))  # tile 1, year 2001
    with pytest.raises(KeyboardInterrupt):
        production.produce(params, progress=False, ds=ds)
    partial = params.data_dir / "product.zarr.partial"
    assert partial.exists() and not production.product_path(params).exists()
    assert sorted(p.name for p in (partial / ".done").iterdir()) == ["2000_00000", "2000_00001", "2001_00000"]
    monkeypatch.setattr(production_run, "produce_unit", original)
    resumed = xr.open_zarr(production.produce(params, progress=False, ds=ds)).load()
    for name in production.VARIABLES:
        np.testing.assert_array_equal(resumed[name].values, reference[name].values)
    # A job of 2001 alone blends with the 2000 run all the same: the record does not depend on
    # how it is cut into jobs.
    alone = xr.open_zarr(production.produce(make("alone", years=[2001], blend_days=60), progress=False, ds=ds))
    np.testing.assert_array_equal(alone["sm"].values, reference["sm"].sel(time="2001").values)
    # Blending touches only the days within 30 days of a 1 January with runs on both sides (the
    # cube holds 1999-2001): a product without it agrees elsewhere.
    switched = xr.open_zarr(production.produce(make("switched", years=[2000, 2001]), progress=False, ds=ds)).load()
    times = pd.DatetimeIndex(reference["time"].values)
    window = (times <= "2000-01-30") | ((times >= "2000-12-02") & (times <= "2001-01-30"))  # 1999 | 2000 | 2001
    land = ds["mask"].values == MASK_VALUES["land"]
    np.testing.assert_array_equal(reference["sm"].values[~window], switched["sm"].values[~window])
    assert not np.allclose(reference["sm"].values[window][:, land], switched["sm"].values[window][:, land])
    at = times.get_loc(pd.Timestamp("2001-01-01"))

    def jump(product):
        return np.abs(product["sm"].values[at, land] - product["sm"].values[at - 1, land]).mean()

    assert jump(reference) < 0.5 * jump(switched)  # an untrained model's runs disagree much


def test_a_partial_product_made_with_other_tiles_is_rebuilt_not_resumed(setup, monkeypatch, caplog):
    """Before, the product's key left out tile_cells and chunk_cells: a resume after a change
    took the finished-unit markers of the old tiles for the new ones and left NaN holes."""
    make, ds, _ = setup
    retiled = {"tile_cells": 30, "chunk_cells": 15}
    reference = xr.open_zarr(production.produce(make("retiled_reference", **retiled), progress=False, ds=ds))
    original = production_run.produce_unit
    monkeypatch.setattr(production_run, "produce_unit", dies_on_call(3, original))
    with pytest.raises(KeyboardInterrupt):
        production.produce(make("retiled"), progress=False, ds=ds)
    monkeypatch.setattr(production_run, "produce_unit", original)
    with caplog.at_level("WARNING"):
        resumed = xr.open_zarr(production.produce(make("retiled", **retiled), progress=False, ds=ds))
    assert "production.tile_cells: 45 -> 30" in caplog.text and resumed["sm"].encoding["chunks"][1:] == (15, 15)
    np.testing.assert_allclose(resumed["sm"].values, reference["sm"].values, atol=1e-6)
    np.testing.assert_array_equal(resumed["sm_flag"].values, reference["sm_flag"].values)


def test_a_tile_without_daily_inputs_gives_nan_and_the_missing_flag(setup):
    make, ds, _ = setup
    params = make("empty")
    applied = production.Applied.load(params)
    rows, cols = slice(45, 90), slice(45, 90)
    blank = ds.isel(lat=slice(0, 90), lon=slice(0, 90)).copy()
    for name in feature_names(params)[:-5]:
        blank[name] = blank[name].where(False)
    out = production.produce_unit(blank.load(), params, applied, YEAR, rows, cols)
    land = ds["mask"].isel(lat=rows, lon=cols).values == MASK_VALUES["land"]
    missing = (out["sm_flag"] & production.FLAG_BITS["input_missing"]) > 0
    assert land.any() and missing[:, land].all() and not missing[:, ~land].any()
    assert np.isnan(out["sm"]).all() and np.isnan(out["sm_uncertainty"]).all()


def test_a_missing_input_is_flagged_on_its_days_and_the_estimate_kept(setup):
    make, ds, _ = setup
    params = make("holes")
    applied = production.Applied.load(params)
    rows, cols = slice(0, 45), slice(0, 45)
    holed = ds.isel(lat=rows, lon=cols).load()
    gone = pd.date_range(f"{YEAR}-03-01", f"{YEAR}-03-10")
    holed["lst"] = holed["lst"].where(~holed["time"].isin(gone))
    out = production.produce_unit(holed, params, applied, YEAR, rows, cols)
    full = production.produce_unit(ds.isel(lat=rows, lon=cols).load(), params, applied, YEAR, rows, cols)
    land = holed["mask"].values == MASK_VALUES["land"]
    days = pd.date_range(f"{YEAR}-01-01", f"{YEAR}-12-31")
    missing = (out["sm_flag"] & production.FLAG_BITS["input_missing"]) > 0
    np.testing.assert_array_equal(missing[:, land].all(axis=1), days.isin(gone))
    assert not missing[:, land][~days.isin(gone)].any() and not (full["sm_flag"] & 16).any()
    assert np.isfinite(out["sm"][:, land]).all()
    assert not np.allclose(out["sm"][days.isin(gone)][:, land], full["sm"][days.isin(gone)][:, land])


def test_head_only_dropout_draws_equal_whole_model_draws():
    model = get_model("atlstm", 3, ModelParams(hidden_size=4, attention_size=2, dropout=0.3))
    x = np.random.default_rng(0).normal(size=(5, 20, 3)).astype(np.float32)
    torch.manual_seed(1)
    fast = production.dropout_draws(model, x, 3, 2, head_only=True)
    torch.manual_seed(1)
    slow = production.dropout_draws(model, x, 3, 2, head_only=False)
    np.testing.assert_allclose(fast, slow, atol=1e-6)
    assert fast.std(axis=0).mean() > 0 and not model.training


def test_missing_or_mismatched_model_files_are_named(setup, tmp_path):
    make, ds, _ = setup
    with pytest.raises(ModelFileError, match=r"nowhere\.pt"):
        production.produce(make("missing", model_path=str(tmp_path / "nowhere.pt")), progress=False, ds=ds)
    other = get_model("lstm", 3, ModelParams(hidden_size=4))
    wrong = save_model(other, tmp_path / "other.pt", extra={"feature_names": ["a", "b", "c"]})
    with pytest.raises(ModelFileError, match=r"other\.pt"):
        production.produce(make("wrong", model_path=str(wrong)), progress=False, ds=ds)
    with pytest.raises(ValueError, match=r"production.years \[1990\] lie outside period"):
        make("years", years=[1990])
    outside = make("years", years=[YEAR]).model_copy(update={"production": make("y").production.model_copy(
        update={"years": [1990]})})
    with pytest.raises(ValueError, match="not in the datacube"):
        production.produce(outside, progress=False, ds=ds)


def test_a_local_dask_cluster_writes_the_same_product(setup, tiny):
    make, ds, _ = setup
    reference = xr.open_zarr(production.produce(make("serial"), progress=False, ds=ds)).load()
    params = make("cluster", dask={"scheduler": "local", "n_workers": 2})
    params.data_dir.mkdir(parents=True, exist_ok=True)
    params.cube_path.symlink_to(tiny.cube_path, target_is_directory=True)
    product = xr.open_zarr(production.produce(params, progress=False)).load()
    for name in production.VARIABLES:
        np.testing.assert_array_equal(product[name].values, reference[name].values)


def test_exact_dropout_spread_of_a_linear_head_matches_many_passes():
    seed_everything(0)
    model = get_model("atlstm", 3, ModelParams(hidden_size=6, attention_size=2, dropout=0.3))
    x = np.random.default_rng(1).normal(size=(4, 15, 3)).astype(np.float32)
    sm, spread = production.linear_head_spread(model, x, batch_size=2)
    np.testing.assert_allclose(sm, model.predict_sequences(x), atol=1e-6)
    draws = production.dropout_draws(model, x, 4000, 4)
    np.testing.assert_allclose(spread, draws.std(axis=0), rtol=0.08)
    np.testing.assert_allclose(sm, draws.mean(axis=0), atol=4 * spread.max() / np.sqrt(4000) + 1e-6)


def test_calibration_file_scales_the_uncertainty_and_a_new_factor_rebuilds_the_product(setup, caplog):
    make, ds, path = setup
    params = make("calibrated")
    plain = xr.open_zarr(production.produce(params, progress=False, ds=ds)).load()
    assert plain.attrs["glass_sm_uncertainty_factor"] == 1.0
    assert "NOT calibrated" in plain["sm_uncertainty"].attrs["comment"]
    record = {"model_digest": production.model_digest(path), "method": "mc_dropout", "factor": 2.5, "level": 0.9,
              "z": 1.645, "coverage_test": 0.88}
    production.calibration_path(params).write_text(json.dumps(record))
    scaled = xr.open_zarr(production.produce(params, progress=False, ds=ds)).load()
    assert scaled.attrs["glass_sm_uncertainty_factor"] == 2.5
    np.testing.assert_allclose(scaled["sm_uncertainty"], 2.5 * plain["sm_uncertainty"], rtol=1e-6)
    np.testing.assert_array_equal(scaled["sm"], plain["sm"])
    production.calibration_path(params).write_text(json.dumps(record | {"model_digest": "0" * 16}))
    with caplog.at_level("WARNING"):
        again = xr.open_zarr(production.produce(params, progress=False, ds=ds))
    assert again.attrs["glass_sm_uncertainty_factor"] == 1.0 and "another model" in caplog.text


def test_annual_mean_and_netcdf_export_match_the_daily_product(setup):
    make, ds, _ = setup
    params = make("derived", export_start="2000-02-27", export_end="2000-03-02")
    daily = xr.open_zarr(production.produce(params, progress=False, ds=ds)).load()
    annual = xr.open_zarr(production.annual_mean(params)).load()
    assert annual.sizes["time"] == 1 and str(annual["time"].values[0])[:10] == "2000-07-01"
    np.testing.assert_allclose(annual["sm"][0], daily["sm"].mean("time"), rtol=1e-5)
    land = ds["mask"].values == MASK_VALUES["land"]
    assert (annual["valid_days"][0].values[land] == 366).all() and (annual["valid_days"][0].values[~land] == 0).all()
    assert annual["sm"].attrs["cell_methods"] == "time: mean" and annual["time"].attrs["bounds"] == "time_bnds"
    exported = production.export_netcdf(params)
    assert exported.name == "product_20000227_20000302.nc"
    with xr.open_dataset(exported) as nc:
        assert nc.sizes["time"] == 5  # 27, 28, 29 February, 1, 2 March of a leap year
        xr.testing.assert_equal(nc["sm"].load(), daily["sm"].sel(time=slice("2000-02-27", "2000-03-02")))
        assert nc.attrs["time_coverage_start"] == "2000-02-27" and nc["sm"].attrs["units"] == "m3 m-3"
    with pytest.raises(ValueError, match="holds no day"):
        production.export_netcdf(params, "1995-01-01", "1995-01-31")


def test_run_overlap_compares_two_runs_on_their_shared_days(setup):
    make, ds, _ = setup
    params = make("overlap", blend_days=60)
    applied = production.Applied.load(params)
    overlap = production.run_overlap(params, applied, ds, 1999, n_cells=50)
    table, summary = overlap.table, overlap.summary
    assert len(table) == 60 and table["offset"].min() == -30 and table["offset"].max() == 29
    at = table.set_index("offset")["disagreement"]
    assert (at > 0).all()  # the runs see other context, so they differ on every shared day
    # Triangle inequality across the switch: 1 Jan of one run to 31 Dec of the other.
    assert summary["switch_jump"] <= summary["within_run_jump"] + (at[-1] + at[0]) / 2 + 1e-7
    # The blend is the weighted mean of the two runs, with the weight of the later run rising.
    first, second, blended = (overlap.series[k].to_numpy() for k in ("run 1999", "run 2000", "blended"))
    weight = table["weight"].to_numpy()[:, None]
    np.testing.assert_allclose(blended, (1 - weight) * first + weight * second, atol=1e-6)
    assert (np.diff(table["weight"]) > 0).all()
    with pytest.raises(ValueError, match="not in the datacube"):
        production.run_overlap(params, applied, ds, 2001)


def test_blend_weights_rise_smoothly_and_symmetrically():
    for days in (2, 10, 60):
        w = production.blend_weights(days)
        assert w.shape == (days,) and (np.diff(w) > 0).all() and 0 < w[0] < 0.5 < w[-1] < 1
        np.testing.assert_allclose(w + w[::-1], 1.0, atol=1e-6)
        assert np.abs(np.diff(w)).max() <= np.pi / (2 * days) + 1e-6
    assert production.blend_weights(0).size == 0


def test_blended_year_uses_its_own_run_away_from_new_year_and_neighbours_near_it():
    days = pd.date_range("2000-11-01", "2001-02-28")
    runs = {
        year: production.YearRun(days, np.full((1, days.size), value, np.float32), np.full((1, days.size), value / 10, np.float32))
        for year, value in ((2000, 0.1), (2001, 0.3))
    }
    own = days[days.year == 2001]
    sm, spread = production.blended_year(2001, own, runs, 20)
    assert sm[0, own.get_loc("2001-01-11")] == pytest.approx(0.3) and sm[0, -1] == pytest.approx(0.3)
    w = production.blend_weights(20)[10:]  # 1-10 January: the second half of the 20-day window
    np.testing.assert_allclose(sm[0, :10], 0.1 * (1 - w) + 0.3 * w, rtol=1e-6)
    assert sm[0, 0] == pytest.approx(0.2, abs=0.01)  # at the turn of the year both runs count alike
    np.testing.assert_allclose(spread, sm / 10, rtol=1e-6)
    alone, _ = production.blended_year(2001, own, {2001: runs[2001]}, 20)  # the record's first year
    np.testing.assert_allclose(alone, 0.3)


def test_year_boundary_jumps_find_a_seam_and_not_a_smooth_series():
    times = pd.date_range("2000-01-01", "2001-12-31", freq="D")
    smooth = np.sin(np.arange(times.size) / 20.0)[:, None, None] * np.ones((1, 2, 2))
    seamed = smooth + np.where(times.year == 2001, 0.5, 0.0)[:, None, None]
    fields = {name: xr.DataArray(v, dims=("time", "lat", "lon"), coords={"time": times})
              for name, v in (("smooth", smooth), ("seamed", seamed))}
    table = production.year_boundary_jumps(fields, np.ones((2, 2), dtype=bool)).set_index("field")
    assert table.loc["seamed", "rank"] == 1 and table.loc["seamed", "ratio"] > 10
    assert table.loc["smooth", "ratio"] < 1.5 and table.loc["smooth", "boundary"] == "2001-01-01"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cpu_and_gpu_products_agree(setup):
    """The tolerance stated in the README: 1e-4 m3 m-3 for sm and sm_uncertainty in float32."""
    make, ds, _ = setup
    cpu = xr.open_zarr(production.produce(make("on_cpu", device="cpu"), progress=False, ds=ds)).load()
    gpu = xr.open_zarr(production.produce(make("on_gpu", device="cuda"), progress=False, ds=ds)).load()
    for name in ("sm", "sm_uncertainty"):
        np.testing.assert_allclose(gpu[name], cpu[name], atol=1e-4, equal_nan=True)
    xr.testing.assert_equal(gpu["sm_flag"], cpu["sm_flag"])


def test_production_sequences_take_their_margins_from_the_neighbouring_years(setup, monkeypatch):
    """The inputs a unit feeds the model: 30 days of December 1999, the 366 days of 2000, 30 days
    of January 2001, read from the datacube at the tile's land cells."""
    make, ds, _ = setup
    params = make("margins")
    applied = production.Applied.load(params)
    seen = []

    def spy(x, passes, batch_size, seed):
        seen.append(x.copy())
        return np.zeros(x.shape[:2], np.float32), np.zeros(x.shape[:2], np.float32)

    monkeypatch.setattr(applied, "estimate", spy)
    rows, cols = next(params.to_grid().tiles(45))[:2]
    production.produce_unit(ds, params, applied, YEAR, rows, cols)
    x = seen[0]  # the unit's own run (blend_days 0: the only one)
    assert x.shape[1] == 30 + 366 + 30
    land_rows, land_cols = np.nonzero(ds["mask"].isel(lat=rows, lon=cols).values == MASK_VALUES["land"])
    era5 = ds["era5_sm"].isel(lat=rows, lon=cols).values[:, land_rows, land_cols]
    era5_column = feature_names(params).index("era5_sm")
    times = pd.DatetimeIndex(ds["time"].values)
    december = np.flatnonzero((times >= "1999-12-02") & (times <= "1999-12-31"))
    january = np.flatnonzero((times >= "2001-01-01") & (times <= "2001-01-30"))
    np.testing.assert_array_equal(x[:, :30, era5_column], era5[december].T)
    np.testing.assert_array_equal(x[:, -30:, era5_column], era5[january].T)
    np.testing.assert_array_equal(x[:, 30:-30, era5_column], era5[times.year == YEAR].T)
