"""The comparison over seeds (helpers.convergence) and the wet-end evidence (helpers.wet_end)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_training import CENTRAL, SPLIT, make_params, synthetic_arrays

from helpers import convergence, wet_end
from helpers.errors import ParamsError
from helpers.params import load_params
from helpers.training import ArraySamples, TrainingResult, predict

CUBE_NAMES = ["abd_bsa_vis", "lst", "era5_sm", "elevation", "clay"]


def fake_run(model: str, seed: int, estimate: np.ndarray, variant: str = convergence.ALL_INPUTS,
             epochs: int = 6, best: int = 3) -> convergence.SeedRun:  # fmt: skip
    history = pd.DataFrame({"epoch": range(1, epochs + 1), "val_loss": np.linspace(1, 0.5, epochs)})
    result = TrainingResult(None, history, best, None, [], 1.0, 0.0, 1.0)
    return convergence.SeedRun(model, variant, seed, result, estimate.astype(np.float32))


def test_seeds_labels_and_the_runs_planned(tmp_path):
    params = make_params(tmp_path, seeds=3, seed_ablations=["no_era5_land"])
    seeds = convergence.seed_values(params)
    assert seeds == [params.seed, params.seed + 1, params.seed + 2]
    assert convergence.run_label("atlstm", convergence.ALL_INPUTS, params.seed, params) == "atlstm"
    assert convergence.run_label("atlstm", "no_avhrr", params.seed, params) == f"atlstm_no_avhrr_seed{params.seed}"
    assert convergence.run_label("lstm", convergence.ALL_INPUTS, seeds[1], params) == f"lstm_seed{seeds[1]}"
    plan = convergence.planned_runs(params, ["lstm", "xgboost"])
    assert len(plan) == 3 * 2 + 3 and plan[-1] == ("atlstm", "no_era5_land", seeds[2])
    assert convergence.with_seed(params, 99).seed == 99 and params.seed != 99
    first_only = make_params(tmp_path, seeds=3, seed_ablations=["no_avhrr", "no_era5_land"], ablation_seeds=1)
    ablations = [run for run in convergence.planned_runs(first_only, ["lstm"]) if run[1] != convergence.ALL_INPUTS]
    assert ablations == [("atlstm", "no_avhrr", params.seed), ("atlstm", "no_era5_land", params.seed)]


def test_the_params_reject_bad_seed_settings(tmp_path):
    with pytest.raises(ParamsError, match="seeds"):
        make_params(tmp_path, seeds=0)
    with pytest.raises(ParamsError, match="seed_ablations"):
        make_params(tmp_path, seed_ablations=["no_lst"])
    with pytest.raises(ParamsError, match=r"ablation_seeds \(4\) must not exceed training.seeds \(3\)"):
        make_params(tmp_path, seeds=3, ablation_seeds=4)
    with pytest.raises(ParamsError, match="target_method"):
        load_params("params/tiny.yaml", world={"target_method": "copy_truth"})


def test_the_summary_tells_a_real_difference_from_the_seed_spread():
    rng = np.random.default_rng(0)
    target = rng.uniform(0.05, 0.5, (20, 30)).astype(np.float32)
    central = np.ones_like(target, dtype=bool)
    truth = target + rng.normal(0, 0.01, target.shape).astype(np.float32)
    runs = []
    for k, seed in enumerate((1, 2, 3)):
        runs.append(fake_run("xgboost", seed, target + rng.normal(0, 0.05, target.shape)))
        # far better than XGBoost whatever the seed
        runs.append(fake_run("atlstm", seed, target + rng.normal(0, 0.01, target.shape)))
        # as good as XGBoost: noise of the same size
        runs.append(fake_run("lstm", seed, target + rng.normal(0, 0.05 + 0.001 * k, target.shape)))
    table = convergence.seed_runs_table(runs, target, central, truth)
    assert list(table.columns) == list(convergence.RUN_COLUMNS)
    assert set(table["reference"]) == {"target", "truth"} and len(table) == 9 * 2 * 2
    summary = convergence.seed_summary(table).set_index(["model", "reference", "subset"])
    assert (summary["n_seeds"] == 3).all() and summary["all_stopped_early"].all()
    assert summary.loc[("atlstm", "target", "all"), "exceeds_seed_spread"]
    assert not summary.loc[("lstm", "target", "all"), "exceeds_seed_spread"]
    assert pd.isna(summary.loc[("xgboost", "target", "all"), "exceeds_seed_spread"])
    assert summary.loc[("atlstm", "target", "all"), "r2_minus_xgboost"] > 0.1
    spread = summary.loc[("atlstm", "target", "all")]
    assert spread["r2_min"] <= spread["r2_mean"] <= spread["r2_max"] and spread["r2_std"] > 0
    # one seed: the spread is unknown, not zero
    single = convergence.seed_summary(table[table["seed"] == 1]).set_index(["model", "reference", "subset"])
    assert single["r2_std"].isna().all() and single["exceeds_seed_spread"].isna().all()


def test_circularity_measures_what_agreement_with_the_target_owes_to_its_errors():
    """A model that copies a target with a systematic error agrees with it perfectly and is only
    as good as the target against the truth: the whole gap is surrogate skill."""
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.05, 0.5, (30, 40)).astype(np.float32)
    target = (truth + 0.08 * np.sin(truth * 20)).astype(np.float32)  # errors a function of the state
    central = np.ones_like(truth, dtype=bool)
    runs = [fake_run("atlstm", seed, target + rng.normal(0, 0.002, target.shape)) for seed in (1, 2)]
    summary = convergence.seed_summary(convergence.seed_runs_table(runs, target, central, truth))
    own = convergence.target_truth_skill(target, central, truth)
    table = convergence.circularity_table(summary, own, "station_model").set_index("subset")
    row = table.loc["all"]
    assert row["target_method"] == "station_model" and row["n_seeds"] == 2
    assert row["r2_target"] > 0.99 and row["r2_truth"] < row["r2_target"] - 0.1
    assert row["surrogate_gap"] == pytest.approx(row["r2_target"] - row["r2_truth"])
    assert row["r2_truth"] == pytest.approx(row["target_r2_truth"], abs=0.02)


def test_seed_runs_train_each_seed_and_reuse_the_first(tmp_path):
    x, y = synthetic_arrays()
    samples = ArraySamples(x, y, CENTRAL, SPLIT, CUBE_NAMES)
    params = make_params(tmp_path, max_epochs=2, seeds=2, seed_ablations=["no_era5_land"])
    first = {"lstm": convergence.train_torch_model("lstm", samples, params, tmp_path, progress=False)}
    known = {"lstm": np.zeros((12, x.shape[1]), np.float32)}  # the comparison's own predictions, reused
    runs = convergence.train_seed_runs(samples, params, tmp_path, first, names=["lstm", "xgboost"], progress=False,
                                       first_estimates=known)
    labels = [(run.model, run.variant, run.seed) for run in runs]
    assert labels == [(m, v, s) for m, v, s in convergence.planned_runs(params, ["lstm", "xgboost"])]
    assert runs[0].result is first["lstm"] and runs[0].estimate is known["lstm"]
    second_lstm = runs[2]
    assert second_lstm.seed == params.seed + 1 and (tmp_path / "data" / f"lstm_seed{params.seed + 1}.pt").exists()
    first_estimate = predict(first["lstm"].model, samples.sequences("test")[0])
    assert not np.allclose(first_estimate, second_lstm.estimate)  # another seed, another model
    ablated = runs[-1]
    assert ablated.variant == "no_era5_land" and "era5_sm" not in ablated.result.feature_names
    assert all(run.estimate.shape == (12, x.shape[1]) for run in runs)


def test_a_calibrated_conditional_mean_is_biased_only_when_binned_by_the_target():
    """Shrinkage: e = E[y | x] is unbiased given e, low given a high y and high given a low y."""
    rng = np.random.default_rng(2)
    signal = rng.uniform(0.05, 0.45, 200_000)
    target = signal + rng.normal(0, 0.05, signal.size)
    estimate = signal  # the conditional mean of the target given what the model sees
    scored = np.ones(signal.size, dtype=bool)
    bias = wet_end.conditional_bias({"model": estimate}, target, scored, truth=signal)
    by = bias[bias["model"] == "model"].set_index(["binned_by", "sm_range"])["bias"]
    assert by[("target", "0.4-0.5")] < -0.02 and by[("target", "0.0-0.1")] > 0.02
    assert abs(by[("estimate", "0.4-0.5")]) < 0.005 and abs(by[("estimate", "0.1-0.2")]) < 0.005
    assert abs(by[("truth", "0.3-0.4")]) < 1e-6  # the estimate is the truth here
    target_rows = bias[bias["model"] == "target"]
    assert set(target_rows["binned_by"]) == {"truth"}
    assert wet_end.wet_share(target) == pytest.approx((target > 0.4).mean())
    assert wet_end.wet_share(np.array([0.5, np.nan, 0.1, 0.2])) == pytest.approx(1 / 3)  # NaN left out


def test_input_sensitivity_finds_an_input_that_saturates():
    rng = np.random.default_rng(3)
    days = np.arange(400)
    truth = 0.25 + 0.2 * np.sin(days / 9.0)[None, :] + rng.normal(0, 0.03, (50, days.size))
    saturating = -40.0 * np.minimum(truth, 0.3) + rng.normal(0, 0.05, truth.shape)
    linear = 2.0 * truth
    table = wet_end.input_sensitivity({"lst": saturating, "era5": linear}, truth, np.ones(truth.shape, bool))
    slope = table.set_index(["input", "sm_range"])["slope"]
    assert slope[("lst", "0.1-0.2")] < -20 and abs(slope[("lst", "0.4-0.5")]) < 5
    assert slope[("era5", "0.1-0.2")] == pytest.approx(2.0, rel=0.05)
    assert slope[("era5", "0.4-0.5")] == pytest.approx(2.0, rel=0.1)


def test_running_anomaly_removes_the_level_and_keeps_gaps():
    series = np.full((2, 50), 0.3)
    series[1, 10] = np.nan
    anomaly = wet_end.running_anomaly(series, 11)
    assert np.isnan(anomaly[1, 10]) and np.allclose(np.nan_to_num(anomaly), 0.0)


def test_min_delta_stops_a_run_whose_gains_are_too_small(tmp_path):
    """Before: any fall of the validation loss, however small, restarted the patience."""
    x, y = synthetic_arrays()
    samples = ArraySamples(x, y, CENTRAL, SPLIT, CUBE_NAMES)
    params = make_params(tmp_path, max_epochs=12, patience=2, min_delta=0.9)
    result = convergence.train_torch_model("lstm", samples, params, tmp_path, progress=False)
    loss = result.history["val_loss"].to_numpy()
    assert len(loss) == result.best_epoch + 2 < 12  # stopped by the patience, not the budget
    best = loss[result.best_epoch - 1]
    assert (loss[result.best_epoch :] >= best * 0.1).all()  # none of the later epochs was 90 % better


def test_the_runs_side_by_side_as_markdown(tmp_path, capsys):
    rng = np.random.default_rng(5)
    truth = rng.uniform(0.05, 0.5, (10, 20)).astype(np.float32)
    central = np.ones_like(truth, dtype=bool)
    folders = []
    for method, error in (("smoothed_truth", 0.01), ("station_model", 0.06)):
        target = truth + rng.normal(0, error, truth.shape).astype(np.float32)
        runs = [fake_run(model, seed, target + rng.normal(0, 0.02, truth.shape))
                for seed in (1, 2) for model in ("atlstm", "xgboost")]  # fmt: skip
        summary = convergence.seed_summary(convergence.seed_runs_table(runs, target, central, truth))
        table = convergence.circularity_table(summary, convergence.target_truth_skill(target, central, truth), method)
        folder = tmp_path / method / "tables"
        folder.mkdir(parents=True)
        summary.to_csv(folder / "model_comparison_seeds.csv", index=False)
        table.to_csv(folder / "circularity.csv", index=False)
        folders.append(str(folder.parent))
    assert convergence.main(folders) == 0
    printed = capsys.readouterr().out
    assert "| station_model | atlstm | all inputs |" in printed and "surrogate gap" in printed
    assert printed.count("beyond seed spread") == 4  # two runs, two subsets
    with pytest.raises(SystemExit):
        convergence.main([str(tmp_path / "nowhere")])
    assert "no model_comparison_seeds.csv" in capsys.readouterr().err
