"""The notebooks on the tiny twin world, in order: each runs with papermill on the run of the one
before it (kept in one module so that pytest-xdist's ``--dist loadfile`` runs them on one worker,
in order).

Notebook 00 runs in tests/test_end_to_end.py on the session's tiny run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import papermill
import pytest
import xarray as xr

from helpers import sampling
from helpers.cube import feature_names

ROOT = Path(__file__).resolve().parents[1]


# Notebook ------------------------------------------------------------------------------------


def run_notebook(tiny, name: str) -> None:
    """Execute ``notebooks/<name>`` with papermill on the tiny run (copy under its notebooks/)."""
    out = tiny.run_dir / "notebooks" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        ROOT / "notebooks" / name,
        out,
        cwd=ROOT / "notebooks",
        kernel_name="python3",
        parameters={"params_file": str(tiny.outputs_dir.parent / "tiny.yaml"), "run_name": "tiny"},
        progress_bar=False,
    )


@pytest.mark.slow
def test_notebook_01_runs_on_tiny(tiny):
    run_notebook(tiny, "01_sampling.ipynb")
    figures = {p.name for p in (tiny.run_dir / "figures").glob("01_*.png")}
    assert {"01_sample_map.png", "01_target_by_split.png"} <= figures
    splits = pd.read_csv(tiny.run_dir / "tables" / "sample_splits.csv")
    assert list(splits["split"]) == list(sampling.SPLITS) and splits["locations"].sum() > 100
    store = sampling.open_samples(tiny)
    assert store.years == tiny.sample_years and store.train_years == tiny.sampling.train_years


def test_notebook_02_runs_on_tiny(tiny):
    """Model comparison on the samples of notebook 01 (kept in this module so it runs after it)."""
    if not tiny.samples_path.exists():
        sampling.build_samples(tiny, progress=False)
    run_notebook(tiny, "02_model_comparison.ipynb")
    table = pd.read_csv(tiny.run_dir / "tables" / "model_comparison.csv")
    assert list(table.columns) == ["model", "subset", "n", "r", "r2", "rmse", "bias", "ubrmse"]
    assert len(table) == 10 and (table.loc[table["subset"] == "all", "n"] > 0).all()
    skill = pd.read_csv(tiny.run_dir / "tables" / "truth_skill.csv")
    assert len(skill) == 7 and skill["rmse"].notna().all()
    figures = {p.name for p in (tiny.run_dir / "figures").glob("02_*.png")}
    assert {"02_learning_curves.png", "02_density_scatter.png"} <= figures
    settings = tiny.experiments
    assert {f"02_experiment_{name}.png" for name in settings.run} <= figures

    def experiment(name: str) -> pd.DataFrame:
        frame = pd.read_csv(tiny.run_dir / "tables" / f"experiment_{name}.csv")
        assert set(frame["subset"]) == {"all", "sm_gt_0.4"} and frame["rmse"].notna().all()
        return frame[frame["subset"] == "all"]

    lengths = experiment("sequence_length")
    assert list(lengths["window_days"]) == [426, *settings.window_lengths]
    assert lengths["n"].nunique() == 1  # every length scored on the same test days
    sizes = experiment("xgboost_samples")
    assert len(sizes) == 1 + len(settings.xgboost_sample_factors) and sizes["train_rows"].is_monotonic_increasing
    ablations = experiment("ablations")
    assert list(ablations["variant"]) == ["all inputs", *settings.ablations]
    assert list(ablations["n_inputs"]) == [11, 6, 10] and ablations["n"].nunique() == 1
    splits = experiment("spatial_split")
    assert set(splits["split_method"]) == {"random", "blocks"} and set(splits["test_set"]) == {"own", "shared"}
    shared = splits[splits["test_set"] == "shared"]
    assert shared["n"].nunique() == 1  # both models scored on the same locations
    years = experiment("training_years")
    assert len(years) == (1 + len(settings.training_year_sets)) * len(tiny.sample_years)
    assert list(years["seen"]) == [True, True, False, True]  # [2000 2001] and [2001] on 2000, 2001


def test_notebook_03_runs_on_tiny(tiny):
    """Feature importance on the models of notebook 02 (kept in this module so it runs after it)."""
    if not (tiny.data_dir / "xgboost.ubj").exists():
        test_notebook_02_runs_on_tiny(tiny)
    run_notebook(tiny, "03_feature_importance.ipynb")
    table = pd.read_csv(tiny.run_dir / "tables" / "feature_importance.csv")
    assert list(table.columns) == ["model", "feature", "importance", "method"]
    counts = table.groupby(["method", "model"]).size()
    assert (counts == len(feature_names(tiny))).all()
    assert set(table.loc[table["method"] == "shap_mean_abs", "model"]) == {"xgboost", "atlstm"}
    assert set(table.loc[table["method"] == "permutation_rmse", "model"]) == {
        "lstm", "bilstm", "atlstm", "transformer", "xgboost"}
    assert (table.loc[table["method"] == "shap_mean_abs", "importance"] >= 0).all()
    figures = {p.name for p in (tiny.run_dir / "figures").glob("03_*.png")}
    assert figures == {"03_shap_xgboost.png", "03_shap_atlstm.png", "03_feature_importance.png",
                       "03_attention_by_lag.png", "03_importance_maps.png"}


def test_notebook_04_runs_on_tiny(tiny):
    """Production on the AtLSTM of notebook 02 (kept in this module so it runs after it)."""
    if not (tiny.data_dir / "atlstm.pt").exists():
        test_notebook_02_runs_on_tiny(tiny)
    run_notebook(tiny, "04_production.ipynb")
    product = xr.open_zarr(tiny.data_dir / "product.zarr")
    assert product.sizes["time"] == 365 + 366 + 365
    calibration = pd.read_csv(tiny.run_dir / "tables" / "uncertainty_calibration.csv")
    assert list(calibration["split"]) == ["validation", "test"]
    assert calibration.loc[0, "coverage"] == pytest.approx(0.9, abs=0.01)
    assert 0 < calibration.loc[1, "coverage"] <= 1 and calibration["factor"].nunique() == 1
    assert product.attrs["glass_sm_uncertainty_factor"] == pytest.approx(calibration.loc[0, "factor"])
    skill = pd.read_csv(tiny.run_dir / "tables" / "truth_skill.csv", dtype={"year": str})
    assert set(skill["scope"]) == {"test_split", "product"}
    rows = skill[skill["scope"] == "product"]
    assert {"1999", "2000", "2001", "all"} <= set(rows["year"]) and (rows["climate"] != "all").any()
    assert rows.loc[rows["product"].str.startswith("product"), "r"].notna().all()
    annual = xr.open_zarr(tiny.data_dir / "product_annual.zarr")
    assert annual.sizes["time"] == 3 and annual["sm"].attrs["cell_methods"] == "time: mean"
    assert (tiny.data_dir / "product_20000701_20000710.nc").exists()
    jumps = pd.read_csv(tiny.run_dir / "tables" / "year_boundary_jumps.csv")
    assert len(jumps) == 2 * 3 and jumps["ratio"].gt(0).all()  # product, ERA5, truth x 2 boundaries
    figures = {p.name for p in (tiny.run_dir / "figures").glob("04_*.png")}
    assert figures == {"04_uncertainty_reliability.png", "04_maps_jan_jul.png", "04_maps_zoom.png",
                       "04_annual_mean.png", "04_seamless_series.png", "04_run_overlap.png",
                       "04_truth_skill.png"}


VALIDATION_TABLES = ("validation_stations", "validation_summary", "significance", "skipped_stations",
                     "triple_collocation", "station_truth")


def _product_ready(tiny) -> None:
    if not (tiny.data_dir / "product.zarr").exists():
        test_notebook_04_runs_on_tiny(tiny)


def test_notebook_05_runs_on_tiny(tiny):
    """ISMN validation on the product of notebook 04 and the ablation models of notebook 02."""
    _product_ready(tiny)
    run_notebook(tiny, "05_validation_ismn.ipynb")
    tables = tiny.run_dir / "tables"
    stations = pd.read_csv(tables / "validation_stations.csv")
    assert list(stations.columns[:11]) == ["network", "station", "lat", "lon", "period", "product", "n", "r", "bias",
                                          "ubrmse", "rmse"]
    ismn = stations[stations["source"] == "ismn"]
    assert set(ismn["product"]) == set(tiny.validation.products)  # every product appears
    assert ismn[["r_ci_low", "rmse_ci_high", "n_eff_r"]].notna().any().all()
    assert set(ismn["period"]) <= {"I", "II"} and "I" in set(ismn["period"])
    summary = pd.read_csv(tables / "validation_summary.csv")
    assert {"ISMN", "TWIN-NA"} <= set(summary["network"]) and set(summary["stations"]) == {"all", "representative"}
    significance = pd.read_csv(tables / "significance.csv")
    assert list(significance.columns[:8]) == ["network", "period", "metric", "product_a", "product_b", "n_pairs",
                                              "t_pvalue", "wilcoxon_pvalue"]
    assert significance["share_a_better"].between(0, 1).all()
    skipped = pd.read_csv(tables / "skipped_stations.csv")
    assert list(skipped.columns[:3]) == ["network", "station", "reason"]
    tc = pd.read_csv(tables / "triple_collocation.csv")
    assert {"err_std", "true_err_std", "snr_db"} <= set(tc.columns) and set(tc["member"]) == {"station", "product", "third"}
    truth = pd.read_csv(tables / "station_truth.csv")
    assert {"r_truth", "r_station"} <= set(truth.columns) and "station" in set(truth["product"])
    figures = {p.name for p in (tiny.run_dir / "figures").glob("05_*.png")}
    assert figures == {"05_box_plots.png", "05_station_r_map.png", "05_station_series.png",
                       "05_collocation_vs_truth.png", "05_truth_vs_station.png"}


def test_notebook_06_runs_on_tiny(tiny):
    _product_ready(tiny)
    run_notebook(tiny, "06_validation_cosmos.ipynb")
    stations = pd.read_csv(tiny.run_dir / "tables" / "validation_stations.csv")
    assert set(stations["network"]) >= {"COSMOS", "COSMOS-UK", "COSMOS-Europe"}
    assert "ismn" in set(stations["source"]) or not (tiny.run_dir / "notebooks" / "05_validation_ismn.ipynb").exists()
    figures = {p.name for p in (tiny.run_dir / "figures").glob("06_*.png")}
    assert "06_sensing_depth.png" in figures and len(figures) == 4


def test_notebook_07_runs_on_tiny(tiny):
    _product_ready(tiny)
    run_notebook(tiny, "07_validation_smap_cvs.ipynb")
    sites = pd.read_csv(tiny.run_dir / "tables" / "smap_core_sites.csv")
    assert {"site", "product", "best_r", "significant_r"} <= set(sites.columns)
    text = (tiny.run_dir / "notebooks" / "07_validation_smap_cvs.ipynb").read_text()
    assert "**" in text  # the best value per site in bold
    assert (tiny.run_dir / "figures" / "07_site_series.png").exists()


def test_notebook_08_runs_on_tiny(tiny):
    _product_ready(tiny)
    run_notebook(tiny, "08_winter_evaluation.ipynb")
    winter = pd.read_csv(tiny.run_dir / "tables" / "winter.csv")
    assert set(winter["stratum"]) == {"all", "unfrozen", "frozen_product", "frozen_station"}
    coverage = winter[(winter["stratum"] == "all")].set_index(["period", "product"])["coverage"]
    assert (coverage.xs("product", level="product") == 1).all()
    assert (coverage.xs("esa_cci", level="product") < 1).all()
    assert (tiny.run_dir / "figures" / "08_winter_r.png").exists()


def test_matched_store_is_reused_and_rebuilt_when_a_setting_changes(tiny):
    from helpers.validation import run

    _product_ready(tiny)
    path = run.build_matched(tiny, progress=False)
    made = (path / ".zattrs").stat().st_mtime_ns
    assert run.build_matched(tiny, progress=False) == path and (path / ".zattrs").stat().st_mtime_ns == made
    stations = tiny.validation.stations.model_copy(update={"min_hourly_records": 20})
    changed = tiny.model_copy(update={"validation": tiny.validation.model_copy(update={"stations": stations})})
    run.build_matched(changed, progress=False)
    assert (path / ".zattrs").stat().st_mtime_ns != made
    assert '"min_hourly_records": 20' in run.open_matched(changed).attrs["glass_sm_matched_key"]
    run.build_matched(tiny, progress=False)  # back to the run's own settings for what follows
