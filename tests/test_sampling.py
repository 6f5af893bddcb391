"""Tests of helpers.sampling on a small synthetic datacube (notebook 01 runs in tests/test_notebooks.py).

The synthetic cube (1 degree, 30 x 30 cells, 1999-2001) encodes where every value comes from:
``lst`` is the cube's day index, ``era5_sm`` and ``elevation`` encode the cell's row and column,
and ``abd_bsa_vis`` carries a marker on 1 January 2001, so a sequence shows which cube days and
cells it was read from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from helpers import sampling
from helpers.cube import MASK_VALUES, STATIC_FEATURES, TARGET, dynamic_features, feature_names
from helpers.grid import EARTH_RADIUS_KM, Grid
from helpers.params import Params

ROOT = Path(__file__).resolve().parents[1]
BBOX = [0.0, 30.0, 30.0, 60.0]
YEARS = [1999, 2000, 2001]
MARKER = 123.0
SPARSE_ROWS = (10, 11)  # rows whose target exists on too few days of 2000


def make_params(folder: Path, **sampling_changes) -> Params:
    sampling_section = {"stride": 2, "train_years": YEARS, **sampling_changes}
    return Params.model_validate(
        {
            "run_name": "synthetic",
            "seed": 5,
            "outputs_dir": folder,
            "data_root": folder / "raw",
            "grid": {"resolution": 1.0, "bbox": BBOX},
            "period": {"start_year": YEARS[0], "end_year": YEARS[-1]},
            "sampling": sampling_section,
        }
    )


def synthetic_cube(params: Params) -> xr.Dataset:
    grid = Grid(1.0, *BBOX)
    time = pd.date_range(f"{YEARS[0]}-01-01", f"{YEARS[-1]}-12-31", freq="D")
    shape = (time.size, *grid.shape)
    rng = np.random.default_rng(0)
    rows, cols = np.indices(grid.shape)
    cell_code = (rows * 1000 + cols).astype(np.float32)
    data = {}
    for name in dynamic_features(params):
        data[name] = rng.uniform(0.05, 0.5, shape).astype(np.float32)
    data["lst"] = np.broadcast_to(np.arange(time.size, dtype=np.float32)[:, None, None], shape).copy()
    data["era5_sm"] = np.broadcast_to(cell_code, shape).copy()
    first_albedo = dynamic_features(params)[0]
    data[first_albedo][time.get_loc(pd.Timestamp("2001-01-01"))] = MARKER
    target = rng.uniform(0.05, 0.45, shape).astype(np.float32)
    target[rng.random(shape) < 0.1] = np.nan
    in_2000 = np.flatnonzero(time.year == 2000)
    target[in_2000[: int(0.6 * in_2000.size)], SPARSE_ROWS[0] : SPARSE_ROWS[1] + 1] = np.nan
    mask = np.zeros(grid.shape, dtype=np.uint8)
    mask[:, 24:] = MASK_VALUES["water"]
    mask[:4, :6] = MASK_VALUES["permanent_snow_ice"]
    variables = {name: (("time", "lat", "lon"), values) for name, values in data.items()}
    variables[TARGET] = (("time", "lat", "lon"), np.where(mask == 0, target, np.nan))
    for k, name in enumerate(STATIC_FEATURES):
        values = cell_code + 10000 if name == "elevation" else rng.uniform(k, k + 1, grid.shape)
        variables[name] = (("lat", "lon"), values.astype(np.float32))
    variables["mask"] = (("lat", "lon"), mask)
    ds = xr.Dataset(variables, coords={"time": time, "lat": grid.lat, "lon": grid.lon})
    return ds.chunk({"time": 366, "lat": 8, "lon": 8})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    params = make_params(folder)
    ds = synthetic_cube(params)
    sampling.build_samples(params, ds=ds, progress=False)
    return params, ds, sampling.open_samples(params)


def feature(name: str, params: Params) -> int:
    return feature_names(params).index(name)


# Locations and splits ----------------------------------------------------------------------


def test_locations_on_stride_unmasked_land_with_target(built):
    params, ds, store = built
    loc = sampling.sample_locations(ds, params)
    assert (loc["row"] % 2 == 0).all() and (loc["col"] % 2 == 0).all()
    assert (ds["mask"].values[loc["row"], loc["col"]] == 0).all()
    assert not loc["row"].isin(SPARSE_ROWS).any(), "rows without the target on half of 2000 kept"
    expected = np.zeros((30, 30), dtype=bool)
    expected[::2, :24:2] = True
    expected[:4, :6] = False
    expected[list(SPARSE_ROWS)] = False
    assert len(loc) == expected.sum()
    np.testing.assert_allclose(loc["lat"], ds["lat"].values[loc["row"]])
    np.testing.assert_allclose(loc["lon"], ds["lon"].values[loc["col"]])
    pd.testing.assert_frame_equal(store.locations, loc, check_dtype=False)


def test_random_split_is_disjoint_complete_seeded_and_in_ratio(built):
    params, ds, _ = built
    loc = sampling.sample_locations(ds, params)
    assert set(loc["split"]) == set(sampling.SPLITS) and loc.index.is_unique
    counts = loc["split"].value_counts()
    for split, ratio in zip(sampling.SPLITS, params.sampling.split_ratios, strict=True):
        assert abs(counts[split] - ratio * len(loc)) <= 1
    again = sampling.sample_locations(ds, params)
    pd.testing.assert_series_equal(loc["split"], again["split"])
    other_seed = sampling.sample_locations(ds, params.model_copy(update={"seed": 6}))
    assert (other_seed["split"] != loc["split"]).any()


def test_block_split_keeps_blocks_whole(built, tmp_path):
    _, ds, _ = built
    params = make_params(tmp_path, split_method="blocks", block_size_deg=5.0)
    loc = sampling.sample_locations(ds, params)
    assert (loc.groupby("block")["split"].nunique() == 1).all()
    assert loc["block"].nunique() > 12
    largest_block = loc["block"].value_counts().max()
    counts = loc["split"].value_counts()
    for split, ratio in zip(sampling.SPLITS, params.sampling.split_ratios, strict=True):
        assert abs(counts[split] - ratio * len(loc)) <= largest_block
    np.testing.assert_array_equal(
        sampling.block_ids(np.array([57.5, 52.5]), np.array([2.0, 7.0]), 5.0), [6 * 72 + 36, 7 * 72 + 37]
    )


def test_split_distances_match_haversine_and_stride(built, tmp_path):
    params, ds, _ = built
    loc = sampling.sample_locations(ds, params)
    table = sampling.assert_samples_apart(loc, params)
    train, test = loc[loc["split"] == "train"], loc[loc["split"] == "test"]
    p1, p2 = np.radians(test["lat"].to_numpy())[:, None], np.radians(train["lat"].to_numpy())[None, :]
    dlon = np.radians(test["lon"].to_numpy()[:, None] - train["lon"].to_numpy()[None, :])
    haversine = (
        2
        * EARTH_RADIUS_KM
        * np.arcsin(np.sqrt(np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2))
    )
    row = table.set_index(["split_a", "split_b"]).loc[("test", "train")]
    assert row["min_km"] == pytest.approx(haversine.min(), rel=1e-6)
    assert row["median_nearest_km"] == pytest.approx(np.median(haversine.min(axis=1)), rel=1e-6)
    # random split: adjacent stride cells (2 degrees apart) end up in different splits
    assert row["min_km"] < 2 * np.pi / 180 * EARTH_RADIUS_KM * 1.001
    assert (table["min_km"] >= table["spacing_km"] * (1 - 1e-6)).all()
    blocks = sampling.sample_locations(ds, make_params(tmp_path, split_method="blocks", block_size_deg=10.0))
    block_table = sampling.split_distance_km(blocks).set_index(["split_a", "split_b"])
    assert block_table.loc[("test", "train"), "median_nearest_km"] > row["median_nearest_km"]
    duplicated = pd.concat(
        [loc, loc.iloc[[0]].assign(split="test" if loc["split"].iloc[0] != "test" else "train")]
    )
    with pytest.raises(AssertionError, match="closer than the stride spacing"):
        sampling.assert_samples_apart(duplicated, params)


# Sequences ---------------------------------------------------------------------------------


def test_margins_come_from_the_neighbouring_years(built):
    params, ds, store = built
    times = pd.DatetimeIndex(ds["time"].values)
    x, _, central = store.sequences("train", years=[2000], normalise=False)
    assert x.shape[1] == 30 + 366 + 30
    expected_days = np.arange(
        times.get_loc(pd.Timestamp("1999-12-02")), times.get_loc(pd.Timestamp("2001-01-30")) + 1
    )
    np.testing.assert_array_equal(
        x[:, :, feature("lst", params)], np.broadcast_to(expected_days, x.shape[:2])
    )
    albedo = x[:, :, feature(dynamic_features(params)[0], params)]
    assert (albedo[:, 30 + 366] == MARKER).all()
    assert (albedo[:, : 30 + 366] != MARKER).all() and (albedo[:, 30 + 366 + 1 :] != MARKER).all()
    assert central[0, 30:396].all() and not central[0, :30].any() and not central[0, 396:].any()
    calendar = store.calendar(2000)
    assert not calendar["mirrored"].any()
    assert calendar["date"].iloc[0] == pd.Timestamp("1999-12-02")


def test_margins_are_mirrored_and_flagged_at_the_ends_of_the_period(built):
    params, ds, store = built
    lst = feature("lst", params)
    x, y, _ = store.sequences("test", years=[1999], normalise=False)
    assert x.shape[1] == 425
    np.testing.assert_array_equal(x[0, :30, lst], np.arange(29, -1, -1))  # 30 Jan ... 1 Jan 1999
    np.testing.assert_array_equal(x[0, 30:60, lst], np.arange(30))
    first = store.calendar(1999)
    assert first["mirrored"].to_numpy()[:30].all() and not first["mirrored"].to_numpy()[30:].any()
    assert np.isnan(y[:, :30]).all()
    x, y, _ = store.sequences("test", years=[2001], normalise=False)
    last_day = len(ds["time"]) - 1
    np.testing.assert_array_equal(x[0, -30:, lst], np.arange(last_day, last_day - 30, -1))
    assert store.calendar(2001)["mirrored"].to_numpy()[-30:].all() and np.isnan(y[:, -30:]).all()
    calendar = sampling.sequence_calendar(pd.DatetimeIndex(ds["time"].values), 2001)
    assert calendar["date"].iloc[-1] == pd.Timestamp("2002-01-30")


def test_sequences_read_the_right_cells_and_pad_leap_years(built):
    params, ds, store = built
    x, y, central = store.sequences("validation", years=[1999, 2000], normalise=False)
    table = store.sequence_table("validation", years=[1999, 2000])
    assert (
        x.shape == (len(table), 426, len(feature_names(params))) and y.shape == central.shape == x.shape[:2]
    )
    code = (table["row"] * 1000 + table["col"]).to_numpy()
    np.testing.assert_array_equal(x[:, 100, feature("era5_sm", params)], code)
    np.testing.assert_array_equal(x[:, 7, feature("elevation", params)], code + 10000)
    target = ds[TARGET].values
    first = table.iloc[0]
    day = pd.DatetimeIndex(ds["time"].values).get_loc(pd.Timestamp(f"{first['year']}-03-01"))
    np.testing.assert_array_equal(y[0, 30 + 59], target[day, first["row"], first["col"]])
    short = (table["year"] == 1999).to_numpy()
    assert np.isnan(y[short, 425]).all() and not central[short, 425].any()
    np.testing.assert_array_equal(x[short, 425], x[short, 424])
    frame = store.sequence_frame(int(first["location"]), int(first["year"]))
    np.testing.assert_array_equal(frame[feature_names(params)].to_numpy(), x[0, : len(frame)])
    assert frame.index[30] == pd.Timestamp(f"{first['year']}-01-01") and frame["central"].sum() == 365


def stats_with_cells_scaled(
    store: sampling.SampleStore, ds: xr.Dataset, splits: tuple[str, ...], folder: Path
) -> pd.DataFrame:
    """Statistics of a store rebuilt from a cube whose inputs are x10 at the locations of ``splits``."""
    params = make_params(folder)
    chosen = store.locations[store.locations["split"].isin(splits)]
    changed = ds.copy(deep=True).load()
    for name in feature_names(params):
        changed[name].values[..., chosen["row"].to_numpy(), chosen["col"].to_numpy()] *= 10
    sampling.build_samples(params, ds=changed, progress=False)
    return sampling.open_samples(params).stats


def test_normalisation_statistics_come_from_train_only(built, tmp_path):
    _, ds, store = built
    x, _, central = store.sequences("train", normalise=False)
    pixel_days = x[central]
    np.testing.assert_allclose(store.stats["mean"], pixel_days.mean(axis=0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(store.stats["std"], pixel_days.std(axis=0, dtype=np.float64), rtol=1e-5)
    held_out_scaled = stats_with_cells_scaled(store, ds, ("validation", "test"), tmp_path / "held_out")
    pd.testing.assert_frame_equal(held_out_scaled, store.stats)
    train_scaled = stats_with_cells_scaled(store, ds, ("train",), tmp_path / "train")
    assert not np.allclose(train_scaled["mean"], store.stats["mean"])
    normalised, _, _ = store.sequences("train")
    assert np.abs(normalised[central].mean(axis=0)).max() < 1e-3


def test_tabular_rows_are_the_valid_central_target_days(built):
    params, _, store = built
    x, y, central = store.sequences("train", normalise=False)
    valid = central & np.isfinite(y)
    X, target = store.tabular("train")
    assert X.shape == (valid.sum(), len(feature_names(params))) and target.shape == (valid.sum(),)
    np.testing.assert_array_equal(X, x[valid])
    np.testing.assert_array_equal(target, y[valid])
    small_X, small_y = store.tabular("train", max_rows=500, rng=np.random.default_rng(3))
    assert small_X.shape == (500, X.shape[1]) and np.isfinite(small_y).all()
    assert np.isin(small_X[:, feature("lst", params)], X[:, feature("lst", params)]).all()


def test_windows_are_centred_on_the_target_day(built):
    params, ds, store = built
    lst = feature("lst", params)
    rng = np.random.default_rng(0)
    sequences, target, central = store.sequences("test", years=[2000], normalise=False)
    seq, day = sampling.window_days(target, central, 9, 300, rng)
    x, y = sampling.gather_windows(sequences, seq, day, 9), target[seq, day]
    assert x.shape == (300, 9, len(feature_names(params))) and np.isfinite(y).all()
    np.testing.assert_array_equal(x[:, :, lst] - x[:, 4:5, lst], np.broadcast_to(np.arange(-4, 5), (300, 9)))
    days = x[:, 4, lst].astype(int)
    rows, cols = (
        x[:, 4, feature("era5_sm", params)].astype(int) // 1000,
        x[:, 4, feature("era5_sm", params)].astype(int) % 1000,
    )
    np.testing.assert_array_equal(y, ds[TARGET].values[days, rows, cols])
    one = sampling.gather_windows(sequences, *sampling.window_days(target, central, 1, 10, rng), 1)
    assert one.shape == (10, 1, x.shape[2])
    with pytest.raises(ValueError, match="odd"):
        sampling.window_days(target, central, 4, 10, rng)


def test_existing_store_is_kept_and_unknown_split_rejected(built):
    params, ds, store = built
    stamp = params.samples_path.stat().st_mtime_ns
    assert sampling.build_samples(params, ds=ds, progress=False) == params.samples_path
    assert params.samples_path.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="split must be one of"):
        store.sequences("training")
    assert set(store.summary()["split"]) == set(sampling.SPLITS)


def test_window_days_chosen_for_the_longest_window_fit_every_shorter_one(built):
    _, _, store = built
    x, y, central = store.sequences("test", normalise=False)
    seq, day = sampling.window_days(y, central, 61, 200, np.random.default_rng(0))
    assert seq.size == 200 and central[seq, day].all() and np.isfinite(y[seq, day]).all()
    assert (day >= 30).all() and (day < x.shape[1] - 30).all()
    for length in (1, 5, 61):
        windows = sampling.gather_windows(x, seq, day, length)
        assert windows.shape == (200, length, x.shape[2])
        np.testing.assert_array_equal(windows[:, (length - 1) // 2], x[seq, day])


def test_view_with_another_split_recomputes_statistics_from_its_train_locations(built):
    _, _, store = built
    rotate = {"train": "test", "validation": "train", "test": "validation"}
    labels = store.locations["split"].map(rotate).to_numpy()
    view = store.view(split=labels)
    assert (view.locations["split"].to_numpy() == labels).all()
    assert (store.locations["split"].to_numpy() != labels).all()  # the store itself is unchanged
    x, _, central = store.sequences("validation", normalise=False)  # the view's train locations
    np.testing.assert_allclose(view.stats["mean"], x[central].mean(axis=0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(view.stats["std"], x[central].std(axis=0, dtype=np.float64), rtol=1e-5)
    assert not np.allclose(view.stats["mean"], store.stats["mean"])
    raw_test, _, _ = view.sequences("test", normalise=False)
    np.testing.assert_array_equal(raw_test, store.sequences("train", normalise=False)[0])
    with pytest.raises(ValueError, match="one of"):
        store.view(split=labels[:-1])


def test_view_with_other_training_years(built):
    _, _, store = built
    view = store.view(train_years=[2000])
    assert view.train_years == [2000] and store.train_years == YEARS
    x, _, central = view.sequences("train", normalise=False)
    assert len(x) == (store.locations["split"] == "train").sum()
    np.testing.assert_allclose(view.stats["mean"], x[central].mean(axis=0, dtype=np.float64), rtol=1e-6)
    assert len(view.sequences("test", years=[1999, 2001])[0]) == 2 * (store.locations["split"] == "test").sum()
    with pytest.raises(ValueError, match="not in the samples"):
        store.view(train_years=[1998])


def test_store_built_with_other_settings_is_rebuilt(built, tmp_path):
    _, ds, _ = built
    params = make_params(tmp_path)
    sampling.build_samples(params, ds=ds, progress=False)
    assert sampling.store._stale_reasons(params.samples_path, params, ds) == []
    blocks = make_params(tmp_path, split_method="blocks", block_size_deg=5.0)
    reasons = sampling.store._stale_reasons(params.samples_path, blocks, ds)
    assert any("sampling" in reason for reason in reasons)
    sampling.build_samples(blocks, ds=ds, progress=False)
    rebuilt = sampling.open_samples(blocks)
    assert rebuilt.locations.groupby("block")["split"].nunique().max() == 1


def test_store_summary_is_the_section_on_sequences_of_the_package_docstring():
    summary = sampling.store.store_summary()
    assert summary.startswith("For training year ``Y``") and summary.endswith("(``normalise=True``).")
    assert "Store layout" not in summary and "Sequences" not in summary.splitlines()[0]
