"""The model comparison over seeds (notebook 02): spread, separation from XGBoost, circularity.

One training run per model says little when two models differ by less than the run-to-run
spread of training. With ``training.seeds = k``, every model of the comparison is trained ``k``
times on the same samples and splits, with the seeds ``seed, seed + 1, ...`` (the first run is
the comparison's own, reused), and so is each ablation of ``training.seed_ablations`` (with the
first ``training.ablation_seeds`` of those seeds). Every run
predicts the test split once and is scored against the target and, on the twin world, against
the truth (:func:`seed_runs_table`, ``tables/model_comparison_seed_runs.csv``).
:func:`seed_summary` gives per model, variant, reference and subset the mean, standard
deviation, minimum and maximum over seeds (``tables/model_comparison_seeds.csv``) and whether a
deep model's difference from XGBoost exceeds the seed spread: their R2 ranges over seeds do not
overlap (:func:`separated`).

Circularity (:func:`circularity_table`): the same runs' R2 against the target beside R2 against
the truth. Their difference is skill at reproducing the target that is not skill at the truth
(``surrogate_gap``); the target's own R2 against the truth on the same days is given with it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.comparison import MODEL_ORDER
from helpers.experiments import ablation_features
from helpers.models import is_sequence_model
from helpers.params import Params
from helpers.progress import progress_bar
from helpers.timings import record_timings
from helpers.training import (
    Samples,
    TrainingResult,
    feature_columns,
    predict,
    skill_table,
    train_torch_model,
    train_xgboost,
)

ALL_INPUTS = "all inputs"
REFERENCES = ("target", "truth")
METRICS = ("r2", "rmse", "bias", "r", "ubrmse")
SUMMARY_STATISTICS = ("mean", "std", "min", "max")
RUN_COLUMNS = (
    "model", "variant", "seed", "reference", "subset", "n", "r", "r2", "rmse", "bias", "ubrmse",
    "epochs_run", "best_epoch", "stopped_early",
)  # fmt: skip


def seed_values(params: Params) -> list[int]:
    """The seeds of the comparison: ``seed, seed + 1, ..., seed + training.seeds - 1``."""
    return [params.seed + index for index in range(params.training.seeds)]


def with_seed(params: Params, seed: int) -> Params:
    """``params`` with another ``seed`` (everything else the same)."""
    return params.model_copy(update={"seed": seed})


def run_label(name: str, variant: str, seed: int, params: Params) -> str:
    """File stem of a run's model: the comparison's own names for the first seed and all inputs
    (``atlstm``), else e.g. ``atlstm_no_avhrr_seed43``."""
    stem = name if variant == ALL_INPUTS else f"{name}_{variant}"
    if variant == ALL_INPUTS and seed == params.seed:
        return stem
    return f"{stem}_seed{seed}"


@dataclass
class SeedRun:
    """One training run of the comparison over seeds and its estimate of the test sequences."""

    model: str
    variant: str
    seed: int
    result: TrainingResult
    estimate: np.ndarray

    @property
    def stopped_early(self) -> bool:
        """Early stopping ended the run (not the epoch budget); XGBoost: its rounds stopped early."""
        return self.result.best_epoch < len(self.result.history)


def planned_runs(params: Params, names: Sequence[str] = MODEL_ORDER) -> list[tuple[str, str, int]]:
    """``(model, variant, seed)`` of every run: each model with all inputs for each seed, then
    each of ``training.seed_ablations`` of ``experiments.model`` for the first
    ``training.ablation_seeds`` seeds (all when None)."""
    seeds = seed_values(params)
    runs = [(name, ALL_INPUTS, seed) for seed in seeds for name in names]
    ablation_seeds = seeds[: params.training.ablation_seeds]
    ablations = params.training.seed_ablations
    runs += [(params.experiments.model, ablation, seed) for seed in ablation_seeds for ablation in ablations]
    return runs


def train_seed_runs(
    samples: Samples,
    params: Params,
    run_dir: Path | str,
    first: dict[str, TrainingResult],
    names: Sequence[str] = MODEL_ORDER,
    progress: bool = True,
    first_estimates: Mapping[str, np.ndarray] | None = None,
) -> list[SeedRun]:
    """Train every run of :func:`planned_runs` (reusing ``first``, the comparison's runs with
    ``seed``, and their test predictions ``first_estimates`` when given) and predict the test
    split once with each other run. Wall seconds go to the run's timings."""
    runs, seconds = [], {}

    @functools.cache
    def test_inputs() -> np.ndarray:  # read once, and only when a run needs predicting
        return samples.sequences("test", normalise=True)[0]

    plan = planned_runs(params, names)
    bar = progress_bar(total=len(plan), desc="seeds", unit="run", disable=not progress)
    for name, variant, seed in plan:
        if variant == ALL_INPUTS and seed == params.seed and name in first:
            result = first[name]
            estimate = (first_estimates or {}).get(name)
        else:
            result = _train_run(samples, params, run_dir, name, variant, seed)
            seconds[run_label(name, variant, seed, params)] = result.wall_seconds
            estimate = None
        if estimate is None:
            _, columns = feature_columns(samples, result.feature_names)
            estimate = predict(result.model, test_inputs()[..., columns])
        runs.append(SeedRun(name, variant, seed, result, estimate))
        bar.update()
    bar.close()
    record_timings(params, "training_seeds", seconds)
    return runs


def _train_run(
    samples: Samples, params: Params, run_dir: Path | str, name: str, variant: str, seed: int
) -> TrainingResult:
    """One run of the plan: ``name`` with ``seed``, without the inputs of the ablation ``variant``."""
    kept = None
    if variant != ALL_INPUTS:
        left_out = ablation_features(params, variant)
        kept = [feature for feature in samples.feature_names if feature not in left_out]
    seeded, label = with_seed(params, seed), run_label(name, variant, seed, params)
    if is_sequence_model(name):
        return train_torch_model(name, samples, seeded, run_dir, feature_subset=kept, label=label, progress=False)
    return train_xgboost(samples, seeded, run_dir, feature_subset=kept, label=label)


def seed_runs_table(
    runs: Sequence[SeedRun], target: np.ndarray, central: np.ndarray, truth: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per run, reference and subset (:data:`RUN_COLUMNS`).

    Against the target, the days are the central days with a target (``sm_gt_0.4``: target
    above 0.4 m3 m-3); against the truth, the same days where the truth is known (``sm_gt_0.4``:
    truth above 0.4), so both references score the same estimates on the same days.
    """
    references = {"target": target}
    if truth is not None:
        references["truth"] = np.where(np.isfinite(target), truth, np.nan)
    frames = []
    for run in runs:
        history = run.result.history
        for reference, values in references.items():
            table = skill_table(run.estimate, values, central, run.model)
            frames.append(
                table.assign(
                    variant=run.variant,
                    seed=run.seed,
                    reference=reference,
                    epochs_run=len(history),
                    best_epoch=run.result.best_epoch,
                    stopped_early=run.stopped_early,
                )
            )
    return pd.concat(frames, ignore_index=True).reindex(columns=list(RUN_COLUMNS))


def separated(low_a: float, high_a: float, low_b: float, high_b: float) -> bool:
    """Whether two ranges ``[low, high]`` over seeds are disjoint: the difference of the two
    models then exceeds the spread of either over seeds."""
    return bool(high_a < low_b or high_b < low_a)


def seed_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, spread and range over seeds, and each model's difference from XGBoost.

    Per ``model, variant, reference, subset``: ``n_seeds``, ``n`` (days scored, the same for
    every seed), ``<metric>_<statistic>`` for the metrics :data:`METRICS` and statistics
    :data:`SUMMARY_STATISTICS` (``std`` with ``ddof=1``; NaN for one seed), ``epochs_run_mean``
    and ``all_stopped_early``. Against XGBoost (all inputs, same reference and subset):
    ``r2_minus_xgboost`` and ``rmse_minus_xgboost`` (differences of the means) and
    ``exceeds_seed_spread`` (:func:`separated` on the R2 ranges; empty with one seed).
    """
    keys = ["model", "variant", "reference", "subset"]
    grouped = runs.groupby(keys, sort=False)
    summary = grouped.agg(n_seeds=("seed", "nunique"), n=("n", "first"))
    for metric in METRICS:
        stats = grouped[metric].agg(["mean", lambda v: v.std(ddof=1) if len(v) > 1 else np.nan, "min", "max"])
        stats.columns = [f"{metric}_{name}" for name in SUMMARY_STATISTICS]
        summary = summary.join(stats)
    summary["epochs_run_mean"] = grouped["epochs_run"].mean()
    summary["all_stopped_early"] = grouped["stopped_early"].all()
    summary = summary.reset_index()
    boosted = summary[(summary["model"] == "xgboost") & (summary["variant"] == ALL_INPUTS)]
    boosted = boosted.set_index(["reference", "subset"])
    differences = []
    for row in summary.itertuples(index=False):
        key = (row.reference, row.subset)
        if key not in boosted.index or row.model == "xgboost":
            differences.append((np.nan, np.nan, pd.NA))
            continue
        base = boosted.loc[key]
        spread_known = row.n_seeds > 1 and base["n_seeds"] > 1
        apart = separated(row.r2_min, row.r2_max, base["r2_min"], base["r2_max"]) if spread_known else pd.NA
        differences.append((row.r2_mean - base["r2_mean"], row.rmse_mean - base["rmse_mean"], apart))
    summary[["r2_minus_xgboost", "rmse_minus_xgboost", "exceeds_seed_spread"]] = pd.DataFrame(
        differences, index=summary.index
    )
    return summary


def target_truth_skill(target: np.ndarray, central: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """The target itself scored against the truth on the comparison's test days (rows ``all``
    and ``sm_gt_0.4``, truth above 0.4)."""
    return skill_table(target, np.where(np.isfinite(target), truth, np.nan), central, "target")


def circularity_table(summary: pd.DataFrame, target_skill: pd.DataFrame, target_method: str) -> pd.DataFrame:
    """Agreement with the target beside skill against the truth, per model and variant.

    Columns ``target_method, model, variant, subset, n_seeds, r2_target, r2_target_std,
    r2_truth, r2_truth_std, surrogate_gap, rmse_target, rmse_truth, target_r2_truth,
    target_rmse_truth``: means over seeds; ``surrogate_gap = r2_target - r2_truth``, the part of
    the test R2 against the target that is not skill at the truth; ``target_*_truth`` the
    target's own scores against the truth on the same days.
    """
    keys = ["model", "variant", "subset"]
    def part(reference: str) -> pd.DataFrame:
        rows = summary[summary["reference"] == reference]
        names = {"n_seeds": f"n_seeds_{reference}", "r2_mean": f"r2_{reference}",
                 "r2_std": f"r2_{reference}_std", "rmse_mean": f"rmse_{reference}"}  # fmt: skip
        return rows[keys + list(names)].rename(columns=names)

    frame = part("target").merge(part("truth"), on=keys, how="left", sort=False)
    frame = frame.rename(columns={"n_seeds_target": "n_seeds"}).drop(columns="n_seeds_truth")
    frame["surrogate_gap"] = frame["r2_target"] - frame["r2_truth"]
    own = target_skill.set_index("subset")
    frame["target_r2_truth"] = frame["subset"].map(own["r2"])
    frame["target_rmse_truth"] = frame["subset"].map(own["rmse"])
    frame.insert(0, "target_method", target_method)
    columns = [
        "target_method", "model", "variant", "subset", "n_seeds", "r2_target", "r2_target_std", "r2_truth",
        "r2_truth_std", "surrogate_gap", "rmse_target", "rmse_truth", "target_r2_truth", "target_rmse_truth",
    ]  # fmt: skip
    return frame[columns]


# Runs side by side ----------------------------------------------------------------------------


def _plus_minus(mean: float, std: float, digits: int = 3) -> str:
    return f"{mean:.{digits}f}" if not np.isfinite(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def seeds_markdown(summary: pd.DataFrame, subset: str = "all", variant: str = ALL_INPUTS) -> str:
    """A Markdown table of one subset of ``tables/model_comparison_seeds.csv``: per model and
    reference, R2, RMSE and bias as mean ± standard deviation over seeds, epochs and whether the
    difference from XGBoost exceeds the seed spread."""
    rows = summary[(summary["subset"] == subset) & (summary["variant"] == variant)]
    lines = [
        "| model | reference | seeds | R² | RMSE | bias | epochs | R² − XGBoost | beyond seed spread |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows.itertuples(index=False):
        apart = "" if pd.isna(row.exceeds_seed_spread) else ("yes" if row.exceeds_seed_spread else "no")
        difference = "" if pd.isna(row.r2_minus_xgboost) else f"{row.r2_minus_xgboost:+.4f}"
        lines.append(
            f"| {row.model} | {row.reference} | {row.n_seeds} | {_plus_minus(row.r2_mean, row.r2_std, 4)} "
            f"| {_plus_minus(row.rmse_mean, row.rmse_std, 4)} | {_plus_minus(row.bias_mean, row.bias_std, 4)} "
            f"| {row.epochs_run_mean:.1f} | {difference} | {apart} |"
        )
    return "\n".join(lines)


def circularity_markdown(tables: Sequence[pd.DataFrame], subset: str = "all") -> str:
    """A Markdown table of ``tables/circularity.csv`` of several runs (one kind of target each)."""
    lines = [
        "| target made by | model | inputs | R² vs target | R² vs truth | surrogate gap | target's own R² vs truth |",
        "|---|---|---|---|---|---|---|",
    ]
    for table in tables:
        for row in table[table["subset"] == subset].itertuples(index=False):
            lines.append(
                f"| {row.target_method} | {row.model} | {row.variant} | "
                f"{_plus_minus(row.r2_target, row.r2_target_std, 4)} | {_plus_minus(row.r2_truth, row.r2_truth_std, 4)} "
                f"| {row.surrogate_gap:+.4f} | {row.target_r2_truth:.4f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.convergence RUN_DIR [RUN_DIR ...]``: the seed tables and the
    circularity table of runs of notebook 02 as Markdown (for the README)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.convergence", description=main.__doc__)
    parser.add_argument("run_dirs", nargs="+", type=Path, help="run folders, e.g. outputs/converged")
    args = parser.parse_args(argv)
    circularity = []
    for run_dir in args.run_dirs:
        tables = run_dir / "tables"
        missing = [name for name in ("model_comparison_seeds.csv", "circularity.csv") if not (tables / name).exists()]
        if missing:
            parser.error(f"{tables}: no {', '.join(missing)}; run notebook 02 of that run first")
        summary = pd.read_csv(tables / "model_comparison_seeds.csv")
        circularity.append(pd.read_csv(tables / "circularity.csv"))
        for subset in ("all", "sm_gt_0.4"):
            print(f"\n### {run_dir.name}: subset {subset}\n")
            print(seeds_markdown(summary, subset))
    for subset in ("all", "sm_gt_0.4"):
        print(f"\n### Circularity: subset {subset}\n")
        print(circularity_markdown(circularity, subset))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
