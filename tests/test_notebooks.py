"""The notebooks 01-08 on the session's tiny twin world (notebook 00 runs in tests/test_end_to_end.py).

Two module fixtures execute them with papermill, each notebook once, in order: ``trained`` runs
01-04 (samples, models, importance, product), ``validated`` runs 05-08 on 04's outputs. The
tests only check the outputs, so any one of them can be selected alone (``-k 06``) and gets
what it needs, in any order. The runs are recorded in the tiny run folder under a file lock, so
pytest-xdist workers that share that folder run each notebook once between them, with any
``--dist`` mode.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import xgboost
from conftest import write_tiny_params
from filelock import FileLock

from helpers import importance, pipeline, report, sampling
from helpers.cube import feature_names
from helpers.models import load_model
from helpers.params import Params, load_params
from helpers.provenance import provenance_record, write_manifest

ROOT = Path(__file__).resolve().parents[1]
TRAINING_NOTEBOOKS = ("01_sampling.ipynb", "02_model_comparison.ipynb", "03_feature_importance.ipynb",
                      "04_production.ipynb")
VALIDATION_NOTEBOOKS = ("05_validation_ismn.ipynb", "06_validation_cosmos.ipynb", "07_validation_smap_cvs.ipynb",
                        "08_winter_evaluation.ipynb")


# Running the notebooks -----------------------------------------------------------------------


def run_notebook(tiny: Params, name: str) -> None:
    """Execute ``notebooks/<name>`` on the tiny run the way the pipeline does (copy under its notebooks/)."""
    out = tiny.run_dir / "notebooks" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    pipeline.execute_notebook(
        ROOT / "notebooks" / name, out, {"params_file": str(tiny.outputs_dir.parent / "tiny.yaml"), "run_name": "tiny"}
    )


@dataclass
class Runs:
    """Notebooks executed on the tiny run, with the error of each one that failed (or was not run)."""

    params: Params
    errors: dict[str, str]

    def of(self, name: str) -> Params:
        """The run's params once ``name`` ran; fails the calling test (only) if it did not."""
        if name in self.errors:
            pytest.fail(f"{name}: {self.errors[name]}", pytrace=False)
        return self.params


def run_once(tiny: Params, names: Sequence[str], chained: bool) -> Runs:
    """Run ``names`` in order, once per run folder: the outcome is recorded beside the notebooks,
    and a second caller (another module run, another xdist worker) waits for it and reuses it.
    ``chained``: each notebook needs the one before, so none runs after a failure."""
    folder = tiny.run_dir / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / f"ran_{names[0][:2]}_to_{names[-1][:2]}.json"
    with FileLock(str(record) + ".lock"):
        if record.exists():
            return Runs(tiny, json.loads(record.read_text()))
        errors: dict[str, str] = {}
        for name in names:
            if chained and errors:
                errors[name] = f"not run: {next(iter(errors))} failed"
                continue
            try:
                run_notebook(tiny, name)
            except Exception as exc:  # recorded, reported by the tests of that notebook
                errors[name] = f"{type(exc).__name__}: {exc}"
        record.write_text(json.dumps(errors))
    return Runs(tiny, errors)


@pytest.fixture(scope="module")
def trained(tiny) -> Runs:
    """Notebooks 01-04 run once, in order, on the session's tiny run."""
    return run_once(tiny, TRAINING_NOTEBOOKS, chained=True)


@pytest.fixture(scope="module")
def validated(trained) -> Runs:
    """Notebooks 05-08 run once, in order, on the product and the models of 01-04."""
    for name in TRAINING_NOTEBOOKS:
        trained.of(name)
    return run_once(trained.params, VALIDATION_NOTEBOOKS, chained=False)


def test_runs_are_recorded_and_reused(tmp_path, monkeypatch):
    """The fixtures' runner (quick, no notebook runs): once per run folder, and a chain stops at
    its first failure."""
    params = load_params(write_tiny_params(tmp_path))
    calls = []

    def fake(_tiny: Params, name: str) -> None:
        calls.append(name)
        if name == "b":
            raise RuntimeError("cell 3")

    monkeypatch.setattr(sys.modules[__name__], "run_notebook", fake)
    runs = run_once(params, ["a", "b", "c"], chained=True)
    again = run_once(params, ["a", "b", "c"], chained=True)
    loose = run_once(params, ["d", "b", "e"], chained=False)
    assert calls == ["a", "b", "d", "b", "e"]  # the second call reused the record
    assert runs.errors == again.errors == {"b": "RuntimeError: cell 3", "c": "not run: b failed"}
    assert loose.errors == {"b": "RuntimeError: cell 3"}
    assert runs.of("a") is params
    with pytest.raises(pytest.fail.Exception, match="c: not run: b failed"):
        runs.of("c")


# Notebooks 01-04 -----------------------------------------------------------------------------


@pytest.mark.slow
def test_notebook_01_runs_on_tiny(trained):
    tiny = trained.of("01_sampling.ipynb")
    figures = {p.name for p in (tiny.run_dir / "figures").glob("01_*.png")}
    assert {"01_sample_map.png", "01_target_by_split.png"} <= figures
    splits = pd.read_csv(tiny.run_dir / "tables" / "sample_splits.csv")
    assert list(splits["split"]) == list(sampling.SPLITS) and splits["locations"].sum() > 100
    store = sampling.open_samples(tiny)
    assert store.years == tiny.sample_years and store.train_years == tiny.sampling.train_years


@pytest.mark.slow
def test_notebook_02_runs_on_tiny(trained):
    tiny = trained.of("02_model_comparison.ipynb")
    table = pd.read_csv(tiny.run_dir / "tables" / "model_comparison.csv")
    assert list(table.columns) == ["model", "subset", "n", "r", "r2", "rmse", "bias", "ubrmse"]
    assert len(table) == 10
    # every model scored on the same test pixel-days: the central days with a target
    _, y, central = sampling.open_samples(tiny).sequences("test", normalise=False)
    n_all = table.loc[table["subset"] == "all", "n"]
    assert (n_all == int((central & np.isfinite(y)).sum())).all()
    assert table.groupby("subset")["n"].nunique().eq(1).all()
    skill = pd.read_csv(tiny.run_dir / "tables" / "truth_skill.csv")
    skill = skill[skill["scope"] == "test_split"]  # notebook 04 adds its own scope
    assert len(skill) == 7 and skill["rmse"].notna().all()
    assert (skill["n"] == n_all.iloc[0]).all()  # scored against the truth on the same days
    figures = {p.name for p in (tiny.run_dir / "figures").glob("02_*.png")}
    assert {"02_learning_curves.png", "02_density_scatter.png", "02_wet_end_bias.png"} <= figures
    # one seed (tiny's budget): the seed tables hold the comparison's own runs, spread unknown
    seeds = pd.read_csv(tiny.run_dir / "tables" / "model_comparison_seeds.csv")
    assert len(seeds) == 5 * 2 * 2 and (seeds["n_seeds"] == 1).all() and seeds["r2_std"].isna().all()
    own = seeds[(seeds["reference"] == "target")].set_index(["model", "subset"])["r2_mean"]
    np.testing.assert_allclose(own.to_numpy(), table.set_index(["model", "subset"]).loc[own.index, "r2"].to_numpy())
    circularity = pd.read_csv(tiny.run_dir / "tables" / "circularity.csv")
    assert set(circularity["target_method"]) == {"smoothed_truth"} and circularity["r2_truth"].notna().all()
    wet = pd.read_csv(tiny.run_dir / "tables" / "wet_end_bias.csv")
    assert set(wet["binned_by"]) == {"target", "estimate", "truth"}
    sensitivity = pd.read_csv(tiny.run_dir / "tables" / "wet_end_input_sensitivity.csv")
    assert set(sensitivity["input"]) == {"lst", "abd_bsa_vis", "abd_bsa_nir", "era5_sm"}
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


def xgboost_shap_of_notebook_03(tiny: Params) -> tuple[pd.Series, float]:
    """Mean |TreeSHAP| per input of the saved XGBoost on the test rows notebook 03 explains (drawn
    from its stream ``treeshap_rows``), straight from the booster; and the largest gap between
    the base value plus the row's values and the model's prediction."""
    store = sampling.open_samples(tiny)
    x, y, central = store.sequences("test")
    rng = importance.generator(tiny, "treeshap_rows")
    sequences, days = importance.test_rows(x, y, central, tiny.importance.shap_rows, rng)
    rows = x[sequences, days]
    model, _ = load_model(tiny.data_dir / "xgboost.ubj", expected_features=store.feature_names)
    contributions = model.booster_.predict(xgboost.DMatrix(rows), pred_contribs=True)
    gap = float(np.abs(contributions.sum(axis=1) - model.predict(rows)).max())
    return pd.Series(np.abs(contributions[:, :-1]).mean(axis=0), index=store.feature_names), gap


@pytest.mark.slow
def test_notebook_03_runs_on_tiny(trained):
    tiny = trained.of("03_feature_importance.ipynb")
    table = pd.read_csv(tiny.run_dir / "tables" / "feature_importance.csv")
    assert list(table.columns) == ["model", "feature", "importance", "method"]
    counts = table.groupby(["method", "model"]).size()
    assert (counts == len(feature_names(tiny))).all()
    assert set(table.loc[table["method"] == "shap_mean_abs", "model"]) == {"xgboost", "atlstm"}
    assert set(table.loc[table["method"] == "permutation_rmse", "model"]) == {
        "lstm", "bilstm", "atlstm", "transformer", "xgboost"}
    assert all(group.is_monotonic_decreasing for _, group in table.groupby(["method", "model"])["importance"])
    # XGBoost's row: the booster's TreeSHAP on the notebook's rows, each input under its own name
    expected, gap = xgboost_shap_of_notebook_03(tiny)
    shap_rows = table[(table["method"] == "shap_mean_abs") & (table["model"] == "xgboost")]
    got = shap_rows.set_index("feature")["importance"]
    np.testing.assert_allclose(got[expected.index], expected, rtol=1e-5)
    assert gap < 1e-4 and expected.sum() > 0
    figures = {p.name for p in (tiny.run_dir / "figures").glob("03_*.png")}
    assert figures == {"03_shap_xgboost.png", "03_shap_atlstm.png", "03_feature_importance.png",
                       "03_attention_by_lag.png", "03_attention_over_seeds.png", "03_importance_maps.png"}
    curve = pd.read_csv(tiny.run_dir / "tables" / "attention_seeds.csv")
    assert (curve["n_seeds"] == 1).all() and (curve["weight_min"] == curve["weight_max"]).all()


@pytest.mark.slow
def test_notebook_04_runs_on_tiny(trained):
    tiny = trained.of("04_production.ipynb")
    product = xr.open_zarr(tiny.data_dir / "product.zarr")
    assert product.sizes["time"] == 365 + 366 + 365
    calibration = pd.read_csv(tiny.run_dir / "tables" / "uncertainty_calibration.csv")
    assert list(zip(calibration["method"], calibration["split"], strict=True)) == [
        ("spread_head", "validation"), ("spread_head", "test"), ("mc_dropout", "validation"), ("mc_dropout", "test")]
    assert list(calibration["in_product"]) == [True, True, False, False]
    for method, rows in calibration.groupby("method"):
        rows = rows.set_index("split")
        assert rows.loc["validation", "coverage"] == pytest.approx(0.9, abs=0.01), method
        # the factor fitted on the validation split holds on the test split (random split: the
        # same population), scored on the test days of notebook 02
        assert rows.loc["test", "coverage"] == pytest.approx(0.9, abs=0.05) and rows["factor"].nunique() == 1
    comparison = pd.read_csv(tiny.run_dir / "tables" / "model_comparison.csv")
    assert (calibration.loc[calibration["split"] == "test", "n"] == comparison.loc[comparison["subset"] == "all", "n"].iloc[0]).all()
    head = calibration.set_index(["method", "split"]).loc[("spread_head", "validation")]
    assert product.attrs["glass_sm_uncertainty_factor"] == pytest.approx(head["factor"])
    assert product.attrs["glass_sm_uncertainty_method"] == "spread_head" and (tiny.data_dir / "atlstm.spread_head.pt").exists()
    strata = pd.read_csv(tiny.run_dir / "tables" / "uncertainty_strata.csv")
    for _method, rows in strata.groupby("method"):
        total = rows.loc[rows["stratum_kind"] == "all", "n"].item()
        assert rows.loc[rows["stratum_kind"] == "koppen", "n"].sum() == total == calibration.loc[1, "n"]  # test split
        terciles = rows[rows["stratum_kind"] == "tercile"].set_index("stratum")
        assert list(terciles.index) == ["dry", "middle", "wet"] and terciles["n"].sum() == total
        assert terciles.loc["dry", "target_max"] <= terciles.loc["middle", "target_min"] + 1e-6
        assert rows["coverage"].between(0, 1).all()
    lower, upper, sm = (product[k].isel(time=slice(180, 190)).values for k in ("sm_lower", "sm_upper", "sm"))
    assert np.nanmin(lower) >= 0 and np.nanmax(upper) <= 0.6 and (np.isnan(sm) | ((lower <= sm) & (sm <= upper))).all()
    skill = pd.read_csv(tiny.run_dir / "tables" / "truth_skill.csv", dtype={"year": str})
    assert set(skill["scope"]) == {"test_split", "product"}
    rows = skill[skill["scope"] == "product"]
    assert {"1999", "2000", "2001", "all"} <= set(rows["year"]) and (rows["climate"] != "all").any()
    assert rows.loc[rows["product"].str.startswith("product"), "r"].notna().all()
    annual = xr.open_zarr(tiny.data_dir / "product_annual.zarr")
    assert annual.sizes["time"] == 3 and annual["sm"].attrs["cell_methods"] == "time: mean"
    assert (tiny.data_dir / "product_20000701_20000710.nc").exists()
    jumps = pd.read_csv(tiny.run_dir / "tables" / "year_boundary_jumps.csv").set_index("field")
    assert len(jumps) == 2 * 4  # product, ERA5-Land, albedo, truth x 2 boundaries
    np.testing.assert_allclose(jumps["ratio"], jumps["jump"] / jumps["neighbours_median"], rtol=1e-6)
    assert jumps["rank"].between(1, 2 * 15).all()  # among the 30 day pairs of the window
    # the fields made as one continuous series (state carried across years) show no seam; a
    # restart at 1 January stands at 3 times its neighbours and more (tests/test_world_physics.py)
    assert (jumps.loc["ERA5-Land input", "ratio"] < 1.5).all() and (jumps.loc["truth", "ratio"] < 2).all()
    figures = {p.name for p in (tiny.run_dir / "figures").glob("04_*.png")}
    assert figures == {"04_uncertainty_reliability.png", "04_maps_jan_jul.png", "04_maps_zoom.png",
                       "04_annual_mean.png", "04_seamless_series.png", "04_run_overlap.png",
                       "04_truth_skill.png"}


# Notebooks 05-08 -----------------------------------------------------------------------------


@pytest.mark.slow
def test_notebook_05_runs_on_tiny(validated):
    """ISMN validation on the product of notebook 04 and the ablation models of notebook 02."""
    tiny = validated.of("05_validation_ismn.ipynb")
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
    # shares of the stations tested: whole numbers of stations, A and B better at different ones,
    # the representative stations a subset of all
    shares = significance.dropna(subset=["share_a_better"])
    for column in ("share_a_better", "share_b_better"):
        stations_counted = shares[column] * shares["n_tested"]
        np.testing.assert_allclose(stations_counted, stations_counted.round(), atol=1e-9)
    assert (shares["share_a_better"] + shares["share_b_better"] <= 1 + 1e-12).all()
    pair = ["source", "network", "period", "metric", "product_a", "product_b"]
    tested = significance.pivot_table(index=pair, columns="stations", values="n_tested").dropna()
    assert len(tested) > 0 and (tested["representative"] <= tested["all"]).all()
    skipped = pd.read_csv(tables / "skipped_stations.csv")
    assert list(skipped.columns[:3]) == ["network", "station", "reason"]
    tc = pd.read_csv(tables / "triple_collocation.csv")
    assert {"err_std", "true_err_std", "snr_db"} <= set(tc.columns) and set(tc["member"]) == {"station", "product", "third"}
    truth = pd.read_csv(tables / "station_truth.csv")
    assert {"r_truth", "r_station"} <= set(truth.columns) and "station" in set(truth["product"])
    figures = {p.name for p in (tiny.run_dir / "figures").glob("05_*.png")}
    assert figures == {"05_box_plots.png", "05_station_r_map.png", "05_station_series.png",
                       "05_collocation_vs_truth.png", "05_truth_vs_station.png"}


@pytest.mark.slow
def test_notebook_06_runs_on_tiny(validated):
    tiny = validated.of("06_validation_cosmos.ipynb")
    validated.of("05_validation_ismn.ipynb")
    stations = pd.read_csv(tiny.run_dir / "tables" / "validation_stations.csv")
    assert set(stations["network"]) >= {"COSMOS", "COSMOS-UK", "COSMOS-Europe"}
    assert "ismn" in set(stations["source"])  # notebook 05's rows kept when 06 writes its own
    figures = {p.name for p in (tiny.run_dir / "figures").glob("06_*.png")}
    assert "06_sensing_depth.png" in figures and len(figures) == 4


@pytest.mark.slow
def test_notebook_07_runs_on_tiny(validated):
    tiny = validated.of("07_validation_smap_cvs.ipynb")
    sites = pd.read_csv(tiny.run_dir / "tables" / "smap_core_sites.csv")
    assert {"site", "product", "best_r", "significant_r"} <= set(sites.columns)
    text = (tiny.run_dir / "notebooks" / "07_validation_smap_cvs.ipynb").read_text()
    assert "**" in text  # the best value per site in bold
    assert (tiny.run_dir / "figures" / "07_site_series.png").exists()


@pytest.mark.slow
def test_notebook_08_runs_on_tiny(validated):
    tiny = validated.of("08_winter_evaluation.ipynb")
    winter = pd.read_csv(tiny.run_dir / "tables" / "winter.csv")
    assert set(winter["stratum"]) == {"all", "unfrozen", "frozen_product", "frozen_station"}
    coverage = winter[(winter["stratum"] == "all")].set_index(["period", "product"])["coverage"]
    assert (coverage.xs("product", level="product") == 1).all()
    assert (coverage.xs("esa_cci", level="product") < 1).all()
    assert (tiny.run_dir / "figures" / "08_winter_r.png").exists()


@pytest.mark.slow
def test_matched_store_is_reused_and_rebuilt_when_a_setting_changes(validated):
    """On the run's product; after notebooks 05-08 (which read the store), and left as it was."""
    from helpers.validation import run

    tiny = validated.params
    path = run.build_matched(tiny, progress=False)
    made = (path / ".zattrs").stat().st_mtime_ns
    assert run.build_matched(tiny, progress=False) == path and (path / ".zattrs").stat().st_mtime_ns == made
    stations = tiny.validation.stations.model_copy(update={"min_hourly_records": 20})
    changed = tiny.model_copy(update={"validation": tiny.validation.model_copy(update={"stations": stations})})
    run.build_matched(changed, progress=False)
    assert (path / ".zattrs").stat().st_mtime_ns != made
    assert '"min_hourly_records": 20' in run.open_matched(changed).attrs["glass_sm_matched_key"]
    run.build_matched(tiny, progress=False)  # back to the run's own settings


# The HTML report of the tiny run, in a real browser ------------------------------------------


@pytest.mark.slow
def test_report_of_the_run_renders_offline_in_a_browser(validated):
    """The report of notebooks 01-08 (and 00 where it ran): built, then opened in headless
    Chromium: tables and every figure show, the bokeh explorer draws on its canvas and its
    slider moves without a kernel, no JavaScript error and not one request off this machine."""
    from browser import broken_images, chromium_browser, chromium_or_skip, open_page

    for name in VALIDATION_NOTEBOOKS:
        validated.of(name)
    tiny = validated.params
    executed = sorted(p.name for p in (tiny.run_dir / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    entries = [{"name": name, "status": "succeeded", "wall_s": 1.0} for name in executed]
    write_manifest(tiny.run_dir, {**provenance_record(tiny), "status": "succeeded", "notebooks": entries})
    index = report.build_report(tiny.run_dir)

    text = index.read_text()
    titles = [text.index(f"notebooks/{Path(name).stem}.html") for name in executed]
    assert titles == sorted(titles), "the notebooks are listed in run order"
    assert set(TRAINING_NOTEBOOKS + VALIDATION_NOTEBOOKS) <= set(executed)
    for headline in report.HEADLINES:
        if (tiny.run_dir / "tables" / f"{headline.name}.csv").exists():
            assert f'id="{headline.name}"' in text and (index.parent / "tables" / f"{headline.name}.html").exists()
    assert 'id="model_comparison"' in text and 'id="validation_summary"' in text
    assert "External resources" not in text
    assert 'class="note">0 of ' not in text, "every headline table that is in the run shows rows"
    for name in executed:  # one line per finished bar, no widget, no warning a reader must ignore
        outputs = [o for c in nbformat.read(tiny.run_dir / "notebooks" / name, as_version=4).cells
                   for o in c.get("outputs", [])]
        streams = "".join(o.text for o in outputs if o.output_type == "stream")
        assert "\r" not in streams and "Warning" not in streams and "IProgress" not in streams, name
        assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})], name
    pages = sorted((index.parent / "notebooks").glob("*.html"))
    assert [p.stem for p in pages] == [Path(name).stem for name in executed]
    for page in pages:
        assert not report.EXTERNAL_TAG.search(page.read_text()), f"{page.name} loads from the network"

    chromium_or_skip()
    screenshots = tiny.run_dir / "screenshots"
    screenshots.mkdir(exist_ok=True)
    with chromium_browser() as browser:
        page, log = open_page(browser, index.as_uri())
        figures = sorted((tiny.run_dir / "figures").glob("*.png"))
        assert page.locator(".figures img").count() == len(figures) > 10
        assert broken_images(page) == []
        assert page.locator("table.table").count() >= 3
        page.screenshot(path=str(screenshots / "report_index.png"))
        assert log.problems() == []

        page, log = open_page(browser, (index.parent / "notebooks" / "04_production.html").as_uri())
        page.wait_for_timeout(1000)
        assert broken_images(page) == [] and page.locator("img").count() >= 5
        explorer = page.locator("canvas").first
        explorer.scroll_into_view_if_needed()
        title = page.get_by_text(re.compile(r"^time: \d{4}-\d\d-\d\d")).first
        before, day_before = explorer.screenshot(), title.inner_text()
        page.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(1000)
        next_day = (pd.Timestamp(day_before.removeprefix("time: ")) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        assert title.inner_text().startswith(f"time: {next_day}"), "the embedded slider moves to the next day"
        assert explorer.screenshot() != before, "and the map shows that day"
        page.screenshot(path=str(screenshots / "report_04_production.png"))
        assert log.problems() == []
