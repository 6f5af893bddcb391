"""Tests of helpers.production on the shared tiny twin world (one year, an untrained small AtLSTM)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

import helpers.production as production
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
        }
        return load_params(
            tiny.outputs_dir.parent / "tiny.yaml",
            outputs_dir=str(folder / name),
            production=settings | changes,
            dask=dask or {"scheduler": "synchronous"},
        )

    return make, ds, path


def test_product_covers_the_year_with_masks_flags_and_cf_attributes(setup):
    make, ds, _ = setup
    params = make("plain")
    product = xr.open_zarr(production.produce(params, progress=False, ds=ds))
    assert product.sizes["time"] == 366 and (pd.DatetimeIndex(product["time"].values).year == YEAR).all()
    sm, flag = product["sm"].values, product["sm_flag"].values
    mask = ds["mask"].values
    land = mask == MASK_VALUES["land"]
    assert (
        np.isfinite(sm[:, land]).all()
        and (sm[:, land] >= 0).all()
        and (sm[:, land] <= production.SM_MAX).all()
    )
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
    assert product["sm"].attrs["standard_name"] == "volume_fraction_of_condensed_water_in_soil"
    assert product["sm"].attrs["units"] == "m3 m-3" and "flag_masks" in product["sm_flag"].attrs
    assert product.attrs["Conventions"].startswith("CF-1.10") and product.attrs["glass_sm_model"] == "atlstm"
    assert not params.data_dir.joinpath("product.zarr.partial").exists()


def test_killed_production_resumes_to_the_same_product(setup, monkeypatch):
    make, ds, _ = setup
    reference = xr.open_zarr(production.produce(make("whole"), progress=False, ds=ds)).load()
    params = make("killed")
    calls = {"n": 0}
    original = production.produce_unit

    def dies_on_the_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(production, "produce_unit", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        production.produce(params, progress=False, ds=ds)
    partial = params.data_dir / "product.zarr.partial"
    assert partial.exists() and not production.product_path(params).exists()
    assert len(list((partial / ".done").iterdir())) == 3
    monkeypatch.setattr(production, "produce_unit", original)
    resumed = xr.open_zarr(production.produce(params, progress=False, ds=ds)).load()
    for name in ("sm", "sm_uncertainty", "sm_flag"):
        np.testing.assert_array_equal(resumed[name].values, reference[name].values)


def test_a_tile_without_inputs_gives_flags_and_estimates_not_a_crash(setup):
    make, ds, _ = setup
    params = make("empty")
    applied = production.Applied.load(params)
    rows, cols = slice(45, 90), slice(45, 90)
    blank = ds.copy()
    for name in feature_names(params)[:-5]:
        blank[name] = ds[name].where(False)
    out = production.produce_unit(blank.load(), params, applied, YEAR, rows, cols)
    land = ds["mask"].isel(lat=rows, lon=cols).values == MASK_VALUES["land"]
    assert land.any() and np.isfinite(out["sm"][:, land]).all()
    assert np.isnan(out["sm"][:, ~land]).all()


def test_head_only_dropout_draws_equal_whole_model_draws():
    model = get_model("atlstm", 3, ModelParams(hidden_size=4, attention_size=2, dropout=0.3))
    x = np.random.default_rng(0).normal(size=(5, 20, 3)).astype(np.float32)
    torch.manual_seed(1)
    fast = production._dropout_draws(model, x, 3, 2, head_only=True)
    torch.manual_seed(1)
    slow = production._dropout_draws(model, x, 3, 2, head_only=False)
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
    with pytest.raises(ValueError, match="not in the datacube"):
        production.produce(make("years", years=[1990]), progress=False, ds=ds)


def test_a_local_dask_cluster_writes_the_same_product(setup, tiny):
    make, ds, _ = setup
    reference = xr.open_zarr(production.produce(make("serial"), progress=False, ds=ds)).load()
    params = make("cluster", dask={"scheduler": "local", "n_workers": 2})
    params.data_dir.mkdir(parents=True, exist_ok=True)
    params.cube_path.symlink_to(tiny.cube_path, target_is_directory=True)
    product = xr.open_zarr(production.produce(params, progress=False)).load()
    for name in ("sm", "sm_uncertainty", "sm_flag"):
        np.testing.assert_array_equal(product[name].values, reference[name].values)


def test_exact_dropout_spread_of_a_linear_head_matches_many_passes():
    seed_everything(0)
    model = get_model("atlstm", 3, ModelParams(hidden_size=6, attention_size=2, dropout=0.3))
    x = np.random.default_rng(1).normal(size=(4, 15, 3)).astype(np.float32)
    sm, spread = production.linear_head_spread(model, x, batch_size=2)
    np.testing.assert_allclose(sm, model.predict_sequences(x), atol=1e-6)
    draws = production._dropout_draws(model, x, 4000, 4)
    np.testing.assert_allclose(spread, draws.std(axis=0), rtol=0.08)
    np.testing.assert_allclose(sm, draws.mean(axis=0), atol=4 * spread.max() / np.sqrt(4000) + 1e-6)
