"""helpers.validation on synthetic matched data whose answers are known.

The notebooks 05-08 run end to end on the tiny twin world in tests/test_notebooks.py.
"""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import signal

from helpers.cube import MASK_VALUES
from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.params import load_params
from helpers.validation import (
    baselines,
    collocation,
    matching,
    representative,
    run,
    scores,
    significance,
    tables,
    winter,
)

ROOT = Path(__file__).resolve().parents[1]
DAYS = pd.date_range("1998-01-01", "2003-12-31", freq="D")


def params_with(**validation):
    """params/tiny.yaml with its validation section changed."""
    params = load_params(ROOT / "params" / "tiny.yaml")
    settings = params.validation.model_copy(update=validation)
    return params.model_copy(update={"validation": settings, "period": params.period.model_copy(
        update={"start_year": 1998, "end_year": 2003})})


def ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float = 0.9) -> np.ndarray:
    e = rng.standard_normal(shape)
    return signal.lfilter([1.0], [1.0, -rho], e * np.sqrt(1 - rho**2), axis=-1, zi=e[..., :1] * rho)[0]


def synthetic_matched(n_stations: int = 12, seed: int = 0) -> xr.Dataset:
    """Stations observing a truth with noise; products: a good one, a biased noisy one, a target
    from 2000 only, and a gappy CCI-like one. North of 30 N for half of them."""
    rng = np.random.default_rng(seed)
    shape = (n_stations, DAYS.size)
    truth = 0.25 + 0.06 * ar1(rng, shape, 0.97)
    insitu = truth + 0.02 * ar1(rng, shape, 0.9)
    insitu[:, : 300] = np.nan  # records begin in late 1998
    good = truth + 0.01 * rng.standard_normal(shape)
    poor = truth + 0.05 + 0.04 * ar1(rng, shape, 0.8)
    target = np.where(DAYS.year >= 2000, truth + 0.008 * rng.standard_normal(shape), np.nan)
    cci = np.where(rng.random(shape) < 0.4, np.nan, truth + 0.03 * rng.standard_normal(shape))
    winter_days = DAYS.month.isin([12, 1, 2])
    frozen = np.broadcast_to(winter_days & (DAYS.day < 10), shape).copy()
    lat = np.where(np.arange(n_stations) < n_stations // 2, 45.0, 10.0)
    keys = [f"NET/S{k:02d}" for k in range(n_stations)]
    data = {
        "insitu": insitu,
        "insitu_incl_frozen": np.where(frozen, 0.4 * truth, insitu),
        "frozen_records": np.where(frozen, 24, 0).astype(np.float32),
        "sm_product": good,
        "sm_era5_land": poor,
        "sm_target": target,
        "sm_esa_cci": np.where(frozen, np.nan, cci),
        "product_frozen": np.broadcast_to(winter_days & (DAYS.day < 20), shape),
        "truth": truth,
    }
    return xr.Dataset(
        {name: (("station", "time"), np.asarray(values, dtype=np.float32 if name != "product_frozen" else bool))
         for name, values in data.items()},
        coords={
            "station": keys,
            "time": DAYS,
            "source": ("station", ["ismn"] * n_stations),
            "network": ("station", ["NET"] * n_stations),
            "station_name": ("station", [key.split("/")[1] for key in keys]),
            "lat": ("station", lat),
            "lon": ("station", np.linspace(-100, 100, n_stations)),
            "target_spread_3x3": ("station", np.linspace(0.01, 0.05, n_stations)),
        },
    )


PRODUCTS = ["product", "era5_land", "target", "esa_cci"]


# CDF matching ----------------------------------------------------------------------------------


def test_cdf_matched_series_has_the_reference_quantiles():
    rng = np.random.default_rng(0)
    source = rng.gamma(2.0, 0.05, size=(3000, 3)) + 0.1  # wet-biased, skewed
    reference = rng.beta(2, 5, size=(3000, 3)) * 0.5
    matcher = baselines.CDFMatching().fit(source, reference)
    mapped = matcher.predict(source)
    probabilities = np.linspace(0.02, 0.98, 25)
    np.testing.assert_allclose(np.quantile(mapped, probabilities, axis=0), np.quantile(reference, probabilities, axis=0),
                               atol=0.004)
    assert (np.diff(mapped[np.argsort(source[:, 0]), 0]) >= -1e-12).all()  # monotone
    # beyond the fitted range the mapping continues with the outermost segments' slopes
    edge = matcher.predict(np.array([[source[:, 0].max() + 0.1, 0.2, 0.2]]))
    assert edge[0, 0] > mapped[:, 0].max()
    assert matcher.predict(source[:, 0:1].repeat(3, axis=1)).shape == (3000, 3)


def test_cdf_matching_leaves_cells_without_enough_pairs_empty_and_is_applied_out_of_sample():
    rng = np.random.default_rng(1)
    source = rng.random((400, 2))
    reference = source * 0.5 + 0.1
    reference[5:, 1] = np.nan  # only 5 paired days in column 1
    matcher = baselines.CDFMatching(min_obs=20).fit(source[:200], reference[:200])
    later = matcher.predict(source[200:])
    assert np.isnan(later[:, 1]).all() and matcher.n_obs_.tolist() == [200, 5]
    np.testing.assert_allclose(later[:, 0], source[200:, 0] * 0.5 + 0.1, atol=0.01)
    with pytest.raises(ValueError, match="columns"):
        matcher.predict(source[:, :1])


# Matching --------------------------------------------------------------------------------------


def test_footprint_cells_follow_the_grid_resolution():
    fine = Grid(0.05, -10.0, 30.0, 10.0, 40.0)
    cells = matching.footprint_cells(35.02, 0.02, fine, 9.0)
    assert len(cells) == 4 and {r for r, _ in cells} == {99, 100} and {c for _, c in cells} == {199, 200}
    coarse = Grid(1.5)
    assert matching.footprint_cells(35.02, 0.02, coarse, 9.0) == [coarse_cell := (36, 120)] and coarse_cell
    assert matching.footprint_cells(35.02, 0.02, coarse, None) == [(36, 120)]
    assert matching.footprint_cells(50.0, 0.0, fine, None) == []


def test_stations_off_the_grid_or_on_masked_cells_are_skipped_with_their_reason():
    grid = Grid(1.0, -10.0, 30.0, 10.0, 40.0)
    mask = np.zeros(grid.shape, dtype=int)
    mask[5, 5] = MASK_VALUES["water"]
    meta = pd.DataFrame({
        "key": ["N/a", "N/b", "N/c"], "source": "ismn", "network": "N", "station": ["a", "b", "c"],
        "lat": [35.5, 34.5 + 0.0, 50.0], "lon": [0.5, -4.5, 0.0]})
    cells, skipped, footprints = matching.match_stations(meta, grid, mask, {})
    assert cells["station"].tolist() == ["a"] and footprints["N/a"] == [(4, 10)]
    reasons = dict(zip(skipped["station"], skipped["reason"], strict=True))
    assert "masked cell (water" in reasons["b"] and "outside the grid" in reasons["c"]


def test_read_at_cells_reads_points_of_a_lazy_field_and_averages_footprints():
    values = np.arange(4 * 6 * 8, dtype=np.float32).reshape(4, 6, 8)
    values[:, 2, 3] = np.nan
    field = xr.DataArray(da.from_array(values, chunks=(2, 3, 4)), dims=("time", "lat", "lon"))
    footprints = {"a": [(1, 1)], "b": [(2, 2), (2, 3)], "c": [(2, 3)]}
    out = matching.read_at_cells(field, ["a", "b", "c"], footprints)
    np.testing.assert_array_equal(out[:, 0], values[:, 1, 1])
    np.testing.assert_array_equal(out[:, 1], values[:, 2, 2])  # the NaN cell is left out of the mean
    assert np.isnan(out[:, 2]).all()


# Scores ----------------------------------------------------------------------------------------


def test_scores_use_the_common_sample_and_report_own_samples_and_intervals():
    params = params_with(bootstrap_samples=200)
    matched = synthetic_matched()
    result = scores.score_stations(matched, params, ["ismn"], progress=False)
    table = result.stations
    assert list(table.columns[: len(scores.STATION_COLUMNS)]) == list(scores.STATION_COLUMNS)
    period_i = table[table["period"] == "I"]
    # the common sample is the same for every product of a station and shorter than the own sample of the product
    assert (period_i.groupby("station")["n"].nunique() == 1).all()
    assert (period_i["n_own"] >= period_i["n"]).all() and (period_i["n_own"] > period_i["n"]).any()
    good, poor = (period_i[period_i["product"] == name].set_index("station") for name in ("product", "era5_land"))
    assert (good["ubrmse"] < poor["ubrmse"]).all() and poor["bias"].between(0.03, 0.07).all()  # product minus station
    assert (good["r_ci_low"] <= good["r"]).all() and (good["r"] <= good["r_ci_high"]).all()
    widths = (good["r_ci_high"] - good["r_ci_low"]) / (good["r_ci_iid_high"] - good["r_ci_iid_low"])
    assert (widths > 1.5).all(), "N_eff intervals of autocorrelated series are wider than i.i.d. ones"
    assert (good["n_eff_r"] < good["n"] / 3).all()
    assert (good["rmse_ci_low"] < good["rmse"]).all() and (good["rmse"] < good["rmse_ci_high"]).all()
    # the target exists from 2000: it takes no part in period II (1998-1999)
    assert "target" not in set(table.loc[table["period"] == "II", "product"])


def test_scores_repeat_with_the_seed_and_skip_short_periods_with_a_reason():
    params = params_with(bootstrap_samples=100)
    matched = synthetic_matched(4)
    first = scores.score_stations(matched, params, ["ismn"], progress=False).stations
    again = scores.score_stations(matched, params, ["ismn"], progress=False).stations
    pd.testing.assert_frame_equal(first, again)
    other = scores.score_stations(matched, params.model_copy(update={"seed": 99}), ["ismn"], progress=False).stations
    assert not np.allclose(first["rmse_ci_low"], other["rmse_ci_low"])
    strict = scores.score_stations(matched, params_with(min_days=500), ["ismn"], progress=False)
    assert (strict.stations["period"] == "I").all()
    # period II holds 430 station days: no product has 500 beside the station
    assert strict.skipped["reason"].str.contains(r"period II \(1998-1999 of 1982-1999\): no product with 500 days").all()


def test_station_truth_rows_set_station_error_beside_truth_error():
    params = params_with(bootstrap_samples=50)
    result = scores.score_stations(synthetic_matched(4), params, ["ismn"], progress=False)
    rows = result.truth[result.truth["period"] == "I"].set_index(["station", "product"])
    station = rows.xs("station", level="product")
    assert station["ubrmse_truth"].between(0.01, 0.03).all()  # the stations' own AR(1) error of 0.02
    product = rows.xs("product", level="product")
    assert (product["ubrmse_truth"] < product["ubrmse_station"]).all()


def test_summary_medians_and_representative_rule():
    params = params_with(bootstrap_samples=50)
    matched = synthetic_matched()
    result = scores.score_stations(matched, params, ["ismn"], progress=False)
    flags = representative.representative_stations(matched, params)
    assert flags.all()  # every synthetic station agrees with the target
    strict = representative.representative_stations(
        matched, params.model_copy(update={"validation": params.validation.model_copy(
            update={"representative": params.validation.representative.model_copy(update={"rule": "homogeneity"})})}))
    assert strict.tolist() == (matched["target_spread_3x3"].values <= 0.03).tolist()
    table = result.stations.assign(representative=result.stations["key"].map(flags))
    summary = scores.summary_table(table, {"NET": ["NET"]}, seed=0, n_resamples=200)
    row = summary[(summary["period"] == "I") & (summary["product"] == "product") & (summary["stations"] == "all")].iloc[0]
    assert row["n_stations"] == 12
    assert row["r"] == pytest.approx(table.loc[(table["period"] == "I") & (table["product"] == "product"), "r"].median())
    assert row["r_median_ci_low"] <= row["r"] <= row["r_median_ci_high"]


def test_significance_finds_the_better_product_and_not_a_difference_between_equals():
    params = params_with(bootstrap_samples=300)
    matched = synthetic_matched()
    matched["sm_target"] = matched["sm_product"] + 0.0  # an identical copy: no difference to find
    result = scores.score_stations(matched, params, ["ismn"], pairs=[("product", "era5_land"), ("product", "target")],
                                   progress=False)
    table = result.stations.assign(representative=True)
    sig = significance.significance_table(table, result.tests, {"NET": ["NET"]}, q=0.05)
    assert list(sig.columns[:8]) == list(significance.SIGNIFICANCE_COLUMNS)
    rows = sig[(sig["period"] == "I") & (sig["stations"] == "all")].set_index(["metric", "product_b"])
    for metric in ("r", "ubrmse", "rmse", "abs_bias"):
        assert rows.loc[(metric, "era5_land"), "share_a_better"] > 0.8, metric
        assert rows.loc[(metric, "era5_land"), "share_b_better"] == 0
        assert rows.loc[(metric, "target"), "share_a_better"] == 0 and rows.loc[(metric, "target"), "share_b_better"] == 0
    assert rows.loc[("ubrmse", "era5_land"), "t_pvalue"] < 1e-4


def test_default_pairs_and_explicit_pairs():
    params = params_with()
    products = ["product", "era5_land", "cdf_matched", "no_avhrr", "ablation_reference"]
    pairs = significance.product_pairs(params, products)
    assert ("product", "era5_land") in pairs and ("ablation_reference", "no_avhrr") in pairs
    assert ("cdf_matched", "era5_land") in pairs and ("ablation_reference", "no_era5_land") not in pairs
    assert significance.product_pairs(params_with(significance_pairs=[["era5_land", "cdf_matched"]]), products) == [
        ("era5_land", "cdf_matched")]


# Triple collocation ----------------------------------------------------------------------------------


def test_collocation_table_recovers_the_known_errors():
    params = params_with(bootstrap_samples=100)
    matched = synthetic_matched(3)
    tc = collocation.collocation_table(matched, params, ["ismn"], progress=False)
    rows = tc[(tc["period"] == "I") & (tc["product"] == "product")].set_index(["station", "member"])
    assert set(tc["third"]) == {"esa_cci", "era5_land"}  # CCI's own triplet takes ERA5-Land
    product = rows.xs("product", level="member")
    np.testing.assert_allclose(product["err_std"], product["true_err_std"], atol=0.004)
    assert (product["err_std_ci_low"] <= product["err_std"]).all() and (product["err_std"] <= product["err_std_ci_high"]).all()
    cci = rows.xs("third", level="member")
    np.testing.assert_allclose(cci["err_std"], 0.03, atol=0.006)


# Winter ----------------------------------------------------------------------------------------


def test_winter_selects_northern_stations_and_winter_days_and_splits_strata():
    params = params_with(winter=params_with().validation.winter.model_copy(update={"min_days": 100}))
    matched = synthetic_matched()
    chosen = winter.winter_stations(matched, params)
    assert (chosen["lat"] > 30).all() and chosen.sizes["station"] == 6
    assert set(pd.DatetimeIndex(chosen["time"].values).month) == {12, 1, 2}
    strata = winter.station_strata(chosen)
    assert not (strata["unfrozen"] & strata["frozen_station"]).any()
    assert not (strata["unfrozen"] & strata["frozen_product"]).any()
    assert (strata["frozen_product"] & strata["frozen_station"]).any()  # the frozen strata may overlap
    station_scores = winter.winter_scores(matched, params)
    table = winter.winter_table(matched, params, station_scores)
    row = table[(table["period"] == "I") & (table["product"] == "product")].set_index("stratum")
    assert row.loc["all", "n_stations"] == 6
    # frozen station days are scored against the sensor's liquid-water reading: poor agreement
    assert row.loc["frozen_station", "median_bias"] > 0.1
    coverage = table[(table["stratum"] == "all") & (table["period"] == "I")].set_index("product")["coverage"]
    assert coverage["product"] == 1.0 and coverage["esa_cci"] < 0.6


# Tables and bad input ---------------------------------------------------------------------------------


def test_update_rows_replaces_only_the_given_sources(tmp_path):
    path = tmp_path / "t.csv"
    tables.update_rows(path, pd.DataFrame({"source": ["ismn", "cosmos"], "v": [1, 2]}), ["ismn", "cosmos"])
    tables.update_rows(path, pd.DataFrame({"source": ["ismn"], "v": [3]}), ["ismn"])
    assert pd.read_csv(path).sort_values("v").values.tolist() == [["cosmos", 2], ["ismn", 3]]


def test_a_missing_or_stale_product_is_an_error_naming_it(tmp_path):
    params = load_params(ROOT / "params" / "tiny.yaml").model_copy(update={"outputs_dir": tmp_path})
    with pytest.raises(FileNotFoundError, match=r"product\.zarr"):
        run.check_product(params)
    params.data_dir.mkdir(parents=True)
    xr.Dataset(attrs={"glass_sm_model_digest": "0" * 16}).to_zarr(params.data_dir / "product.zarr", consolidated=True)
    with pytest.raises(SourceError, match=r"atlstm\.pt") as missing_model:
        run.check_product(params)
    assert "notebook 02" in str(missing_model.value)
    (params.data_dir / "atlstm.pt").write_bytes(b"other weights")
    with pytest.raises(SourceError, match="rerun notebook 04") as stale:
        run.check_product(params)
    assert str(stale.value).startswith(str(params.data_dir / "product.zarr"))


def test_a_missing_ablation_model_is_an_error_naming_the_file(tmp_path):
    params = load_params(ROOT / "params" / "tiny.yaml").model_copy(update={"outputs_dir": tmp_path})
    path = baselines.ablation_model_path(params, "no_avhrr")
    assert path.name == "experiment_atlstm_no_avhrr.pt"
    with pytest.raises(SourceError, match="ablation experiment") as error:
        baselines.models_at_cells(params, {"no_avhrr": path}, np.array([0]), np.array([0]))
    assert str(error.value).startswith(str(path))


def test_cdf_product_matches_the_target_over_the_training_years_and_is_rebuilt_when_stale(tiny, tmp_path):
    from helpers.cube import open_cube

    params = tiny.model_copy(update={"outputs_dir": tmp_path})
    params.data_dir.mkdir(parents=True)
    (params.data_dir / "cube.zarr").symlink_to(tiny.cube_path)
    path = baselines.build_cdf_product(params, progress=False)
    product = xr.open_zarr(path, consolidated=True)
    assert product["sm"].attrs["units"] == "m3 m-3" and "training years" in product["sm"].attrs["comment"]
    ds = open_cube(params)
    land = ds["mask"].values == MASK_VALUES["land"]
    row, col = np.argwhere(land)[len(np.argwhere(land)) // 2]
    train = pd.DatetimeIndex(ds["time"].values).year.isin(params.sampling.train_years)
    target = ds["target_sm"].values[train, row, col]
    matched = product["sm"].values[train, row, col]
    paired = np.isfinite(target)
    np.testing.assert_allclose(np.quantile(matched[paired], [0.1, 0.5, 0.9]), np.quantile(target[paired], [0.1, 0.5, 0.9]),
                               atol=0.01)
    assert np.isnan(product["sm"].values[:, ~land]).all()
    key = product.attrs["glass_sm_cdf_key"]
    other = params.model_copy(update={"sampling": params.sampling.model_copy(update={"train_years": [2001]})})
    rebuilt = xr.open_zarr(baselines.build_cdf_product(other, progress=False), consolidated=True)
    assert rebuilt.attrs["glass_sm_cdf_key"] != key
