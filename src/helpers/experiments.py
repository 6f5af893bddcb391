"""Experiments of notebook 02: what the paper and its reviewers asked of the model comparison.

Each experiment trains variants of one deep model (``experiments.model``, AtLSTM by default)
or of XGBoost on the sample store of notebook 01, scores them on held-out test locations and
returns a table that the notebook writes to ``tables/experiment_<name>.csv``:

``sequence_length``
    The model learns from short windows of ``L`` days (``experiments.window_lengths``) instead
    of the 426-day sequences, and is scored at the centre of ``L``-day windows centred on the
    same test days as the full-sequence reference (so a bidirectional model sees ``(L - 1) / 2``
    days on each side). Training windows are consecutive crops of the train sequences, every
    crop day with a target in the loss (edges included); the budget is the reference's in
    pixel-days: ``T / L`` times more crops per epoch and per batch, so each length gets the
    same compute, the same number of optimiser steps and about the same number of loss days.
``xgboost_samples``
    XGBoost learns from the train pixel-days divided by each of
    ``experiments.xgboost_sample_factors`` (100: the paper's "100 times fewer samples"), drawn
    at random; the validation rows for early stopping shrink alike.
``ablations``
    The model without the AVHRR inputs (albedo and LST: ``no_avhrr``) and without ERA5-Land SM
    (``no_era5_land``), the reviewers' question whether the product is independent of
    ERA5-Land.
``spatial_split``
    The locations split again the other way (spatial blocks of ``sampling.block_size_deg``
    when the store is split at random, random when it is split by blocks), statistics
    recomputed, the model retrained. Both models are scored on their own test split and on the
    locations that are test locations in both splits, where only the distance to the nearest
    training location differs.
``training_years``
    The model trained on each alternative set of training years
    (``experiments.training_year_sets``), scored on the test locations year by year for every
    sample year, each row marked ``seen`` when its year was a training year.

Budget. Every deep run of the experiments trains with ``experiments.max_epochs`` and
``experiments.sequences_per_epoch`` (None: the ``training`` values), and every comparison is
made against a *reference*: the same model trained on the store as it is, with the same budget
(:func:`train_reference`; the comparison's own model is reused when the budgets agree). One
training run per variant and a single seed: differences smaller than the run-to-run spread
of the training (not measured here) are not evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.cube import dynamic_features
from helpers.params import Params
from helpers.sampling import SampleStore, gather_windows, split_distance_km, split_labels, window_days
from helpers.timings import record_timings
from helpers.training import (
    COMPARISON_COLUMNS,
    ArraySamples,
    TrainingResult,
    evaluate,
    feature_columns,
    predict,
    skill_table,
    train_torch_model,
    train_xgboost,
)

#: Input feature dropped by the no-ERA5-Land ablation.
ERA5_FEATURE = "era5_sm"
SKILL_COLUMNS = list(COMPARISON_COLUMNS[1:])  # subset, n, r, r2, rmse, bias, ubrmse


def experiment_params(params: Params) -> Params:
    """``params`` with the experiments' training budget (``experiments.max_epochs`` and
    ``experiments.sequences_per_epoch`` where set)."""
    settings = params.experiments
    changes = {
        key: value
        for key, value in (
            ("max_epochs", settings.max_epochs),
            ("sequences_per_epoch", settings.sequences_per_epoch),
        )
        if value is not None
    }
    return params.model_copy(update={"training": params.training.model_copy(update=changes)})


@dataclass
class Reference:
    """The experiments' reference: its training run and its test predictions per sample year."""

    result: TrainingResult
    store: SampleStore
    test: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]  # year: (estimate, target, central)

    def stacked(self, years: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Estimate, target and central of the test sequences of ``years`` (default: the store's
        training years), stacked as :meth:`SampleStore.sequences` stacks them."""
        chosen = self.store.train_years if years is None else list(years)
        return stack_years([self.test[year] for year in chosen])

    def skill(self, years: Sequence[int] | None = None) -> pd.DataFrame:
        """Comparison rows (``all``, ``sm_gt_0.4``) on the test sequences of ``years``."""
        return skill_table(*self.stacked(years), self.result.model.name)


def stack_years(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack per-year (estimate, target, central) arrays; shorter years are padded at the end
    (NaN, NaN, False), as the sample store pads them."""
    length = max(part[0].shape[1] for part in parts)
    padded = []
    for estimate, target, central in parts:
        pad = ((0, 0), (0, length - estimate.shape[1]))
        padded.append(
            (
                np.pad(estimate, pad, constant_values=np.nan),
                np.pad(target, pad, constant_values=np.nan),
                np.pad(central, pad, constant_values=False),
            )
        )
    return tuple(np.concatenate([part[i] for part in padded]) for i in range(3))


def train_reference(
    store: SampleStore,
    params: Params,
    run_dir: Path | str,
    trained: Mapping[str, TrainingResult] | None = None,
    progress: bool = True,
) -> Reference:
    """Train ``experiments.model`` on the store with the experiments' budget (or reuse
    ``trained[model]`` when that budget is the comparison's own) and predict the test
    locations of every sample year once."""
    name = params.experiments.model
    budget = experiment_params(params)
    if trained is not None and name in trained and budget.training == params.training:
        result = trained[name]
    else:
        result = train_torch_model(
            name, store, budget, run_dir, label=f"experiment_{name}", progress=progress
        )
    return Reference(result=result, store=store, test=_test_by_year(result, store, store.years))


def _test_by_year(
    result: TrainingResult, store: SampleStore, years: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    _, columns = feature_columns(store, result.feature_names)
    predictions = {}
    for year in years:
        x, y, central = store.sequences("test", years=[year])
        predictions[year] = (predict(result.model, x[..., columns]), y, central)
    return predictions


def _with(table: pd.DataFrame, **columns: object) -> pd.DataFrame:
    """``table`` (comparison rows) without its ``model`` column, led by ``columns``."""
    return pd.concat(
        [pd.DataFrame({key: [value] * len(table) for key, value in columns.items()}), table[SKILL_COLUMNS]],
        axis=1,
    )


# Sequence length ---------------------------------------------------------------------------


def crop_sequences(
    x: np.ndarray, y: np.ndarray, central: np.ndarray, length: int, offset: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive windows of ``length`` days cut from each sequence from day ``offset`` on.

    The ``(T - offset) // length`` windows of every sequence are kept when they hold at least
    one central day with a target; the rest of a sequence is left out.

    Returns
    -------
    x : (n, length, F), y : (n, length), central : (n, length)
    """
    n, days, features = x.shape
    count = (days - offset) // length
    if count < 1:
        raise ValueError(f"no window of {length} days fits after day {offset} of {days}-day sequences")
    stop = offset + count * length
    xs = x[:, offset:stop].reshape(n * count, length, features)
    ys = y[:, offset:stop].reshape(n * count, length)
    cs = central[:, offset:stop].reshape(n * count, length)
    keep = (cs & np.isfinite(ys)).any(axis=1)
    return xs[keep], ys[keep], cs[keep]


def _window_budget(budget: Params, length: int, days: int) -> Params:
    """The budget of full ``days``-day sequences in windows of ``length`` days (equal pixel-days)."""
    training = budget.training
    factor = days / length
    per_epoch = None if training.sequences_per_epoch is None else round(training.sequences_per_epoch * factor)
    changes = {"batch_size": max(1, round(training.batch_size * factor)), "sequences_per_epoch": per_epoch}
    return budget.model_copy(update={"training": training.model_copy(update=changes)})


def sequence_length_experiment(
    store: SampleStore, params: Params, run_dir: Path | str, reference: Reference, progress: bool = True
) -> pd.DataFrame:
    """Skill against the window length ``L`` (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per length and subset: ``window_days`` (the reference: its sequence length),
        ``input`` (``window`` or ``full sequence``), ``train_windows`` and the
        comparison metrics, all scored on the same test days.
    """
    settings = params.experiments
    budget = experiment_params(params)
    rng = np.random.default_rng(params.seed)
    x_test, y_test, central_test = store.sequences("test")
    seq, day = window_days(y_test, central_test, max(settings.window_lengths), settings.window_test_days, rng)
    target = y_test[seq, day][:, None]
    scored = np.ones_like(target, dtype=bool)
    days = x_test.shape[1]
    estimate = reference.stacked()[0][seq, day][:, None]  # the reference's prediction of x_test
    frames = [
        _with(
            skill_table(estimate, target, scored, "reference"),
            window_days=days,
            input="full sequence",
            train_windows=np.nan,
        )
    ]
    pools = {split: _pool(store, split, budget, rng) for split in ("train", "validation")}
    seconds = {"reference": reference.result.wall_seconds}
    for length in settings.window_lengths:
        offset = int(rng.integers(0, length))
        crops = {split: crop_sequences(*pool, length, offset) for split, pool in pools.items()}
        windows = ArraySamples(
            np.concatenate([crops["train"][0], crops["validation"][0]]),
            np.concatenate([crops["train"][1], crops["validation"][1]]),
            np.concatenate([crops["train"][2], crops["validation"][2]]),
            ["train"] * len(crops["train"][0]) + ["validation"] * len(crops["validation"][0]),
            store.feature_names,
            stats=store.stats,
        )
        result = train_torch_model(
            settings.model,
            windows,
            _window_budget(budget, length, days),
            run_dir,
            label=f"experiment_{settings.model}_window_{length:02d}",
            progress=progress,
        )
        centre = predict(result.model, gather_windows(x_test, seq, day, length))[:, (length - 1) // 2]
        frames.append(
            _with(
                skill_table(centre[:, None], target, scored, "window"),
                window_days=length,
                input="window",
                train_windows=len(crops["train"][0]),
            )
        )
        seconds[f"window_{length}"] = result.wall_seconds
    record_timings(params, "experiment_sequence_length", seconds)
    return pd.concat(frames, ignore_index=True)


def _pool(
    store: SampleStore, split: str, budget: Params, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw sequences of a split that the windows are cut from: at most what a full-sequence run
    of the budget draws (train: sequences per epoch times epochs; validation: those kept)."""
    x, y, central = store.sequences(split, normalise=False)
    per_epoch = budget.training.sequences_per_epoch
    keep = None if per_epoch is None else per_epoch * (budget.training.max_epochs if split == "train" else 1)
    if keep is not None and keep < len(x):
        pick = np.sort(rng.choice(len(x), size=keep, replace=False))
        x, y, central = x[pick], y[pick], central[pick]
    return x, y, central


# XGBoost sample size -----------------------------------------------------------------------


def xgboost_samples_experiment(
    store: SampleStore, params: Params, run_dir: Path | str, main: TrainingResult | None = None
) -> pd.DataFrame:
    """XGBoost's skill against the number of training pixel-days.

    Returns
    -------
    pandas.DataFrame
        One row per run and subset: ``fewer_by`` (train pixel-days available divided by the rows
        used), ``train_rows`` and the comparison metrics on the test split. ``main``
        (the comparison's XGBoost, ``training.xgboost_max_rows`` rows) is included when given.
    """
    available = int(store.central_targets("train").size)
    runs: list[tuple[int, TrainingResult]] = []
    if main is not None:
        runs.append((min(available, params.training.xgboost_max_rows), main))
    for factor in params.experiments.xgboost_sample_factors:
        rows = max(1, available // factor)
        runs.append(
            (
                rows,
                train_xgboost(store, params, run_dir, max_rows=rows, label=f"experiment_xgboost_1_{factor}"),
            )
        )
    frames = [
        _with(
            evaluate(result.model, store),
            fewer_by=round(available / rows, 1),
            train_rows=rows,
        )
        for rows, result in runs
    ]
    record_timings(params, "experiment_xgboost_samples", {f"rows_{rows}": result.wall_seconds for rows, result in runs})
    return pd.concat(frames, ignore_index=True).sort_values(["train_rows", "subset"], ignore_index=True)


# Ablations ---------------------------------------------------------------------------------


def ablation_features(params: Params, ablation: str) -> list[str]:
    """The inputs an ablation leaves out: ``no_avhrr`` (albedo and LST) or ``no_era5_land``."""
    if ablation == "no_avhrr":
        return [name for name in dynamic_features(params) if name != ERA5_FEATURE]
    if ablation == "no_era5_land":
        return [ERA5_FEATURE]
    raise ValueError(f"unknown ablation {ablation!r}; expected no_avhrr or no_era5_land")


def ablation_experiment(
    store: SampleStore, params: Params, run_dir: Path | str, reference: Reference, progress: bool = True
) -> pd.DataFrame:
    """The model without groups of inputs, beside the reference with all of them.

    Returns
    -------
    pandas.DataFrame
        Rows per variant and subset: ``variant`` (``all inputs`` or the ablation),
        ``inputs_left_out``, ``n_inputs`` and the comparison metrics on the test split.
    """
    name = params.experiments.model
    budget = experiment_params(params)
    frames = [
        _with(
            reference.skill(),
            variant="all inputs",
            inputs_left_out="",
            n_inputs=len(store.feature_names),
        )
    ]
    seconds = {"all inputs": reference.result.wall_seconds}
    for ablation in params.experiments.ablations:
        left_out = ablation_features(params, ablation)
        kept = [feature for feature in store.feature_names if feature not in left_out]
        result = train_torch_model(
            name,
            store,
            budget,
            run_dir,
            feature_subset=kept,
            label=f"experiment_{name}_{ablation}",
            progress=progress,
        )
        frames.append(
            _with(
                evaluate(result.model, store, feature_subset=kept),
                variant=ablation,
                inputs_left_out=" ".join(left_out),
                n_inputs=len(kept),
            )
        )
        seconds[ablation] = result.wall_seconds
    record_timings(params, "experiment_ablations", seconds)
    return pd.concat(frames, ignore_index=True)


# Spatial split -----------------------------------------------------------------------------


def other_split(store: SampleStore, params: Params) -> tuple[str, np.ndarray]:
    """The split the store was not built with (``blocks`` for a random store, else ``random``),
    drawn with the run's seed and ratios: its name and one label per location."""
    method = "random" if params.sampling.split_method == "blocks" else "blocks"
    return method, split_labels(store.locations["block"].to_numpy(), params, method)


def _distance_to_train(locations: pd.DataFrame) -> tuple[float, float]:
    table = split_distance_km(locations).set_index(["split_a", "split_b"])
    row = table.loc[("test", "train")]
    return float(row["min_km"]), float(row["median_nearest_km"])


def spatial_split_experiment(
    store: SampleStore, params: Params, run_dir: Path | str, reference: Reference, progress: bool = True
) -> tuple[pd.DataFrame, SampleStore]:
    """The model trained on the other split of the locations, beside the reference.

    Returns
    -------
    table : pandas.DataFrame
        Rows per split, test set and subset: ``split_method``, ``test_set`` (``own`` or
        ``shared``: the locations that are test locations in both splits), ``test_locations``,
        ``min_km_to_train`` and ``median_km_to_train`` (from each test location to the nearest
        training location of that split) and the comparison metrics.
    other : SampleStore
        The store seen through the other split (its ``locations`` hold the split, for a map).
    """
    name = params.experiments.model
    method, labels = other_split(store, params)
    other = store.view(split=labels)
    result = train_torch_model(
        name,
        other,
        experiment_params(params),
        run_dir,
        label=f"experiment_{name}_{method}_split",
        progress=progress,
    )
    shared = set(store.locations.index[store.locations["split"] == "test"]) & set(
        other.locations.index[other.locations["split"] == "test"]
    )
    runs = (
        (params.sampling.split_method, store, reference.result, reference.skill()),
        (method, other, result, evaluate(result.model, other)),
    )
    frames = []
    for split_method, view, run, own in runs:
        min_km, median_km = _distance_to_train(view.locations)
        common = dict(
            split_method=split_method,
            min_km_to_train=round(min_km, 1),
            median_km_to_train=round(median_km, 1),
        )
        n_test = int((view.locations["split"] == "test").sum())
        frames.append(_with(own, test_set="own", test_locations=n_test, **common))
        if shared:
            x, y, central = view.sequences("test")
            keep = view.sequence_table("test")["location"].isin(shared).to_numpy()
            _, columns = feature_columns(view, run.feature_names)
            estimate = predict(run.model, x[keep][..., columns])
            frames.append(
                _with(
                    skill_table(estimate, y[keep], central[keep], name),
                    test_set="shared",
                    test_locations=len(shared),
                    **common,
                )
            )
    record_timings(params, "experiment_spatial_split", {method: run.wall_seconds for method, _, run, _ in runs})
    return pd.concat(frames, ignore_index=True), other


# Training years ----------------------------------------------------------------------------


def training_years_experiment(
    store: SampleStore, params: Params, run_dir: Path | str, reference: Reference, progress: bool = True
) -> pd.DataFrame:
    """The model trained on each alternative set of training years, scored year by year.

    Returns
    -------
    pandas.DataFrame
        Rows per training-year set, test year and subset: ``training_years`` (e.g.
        ``2000 2001 2003``), ``test_year``, ``seen`` (the test year was a training year; the
        locations are test locations all the same) and the comparison metrics.
    """
    name = params.experiments.model
    budget = experiment_params(params)
    runs = [(store.train_years, reference.result, store)]
    for years in params.experiments.training_year_sets:
        if sorted(years) == sorted(store.train_years):
            continue
        view = store.view(train_years=years)
        label = f"experiment_{name}_years_{'_'.join(map(str, years))}"
        runs.append(
            (
                list(years),
                train_torch_model(name, view, budget, run_dir, label=label, progress=progress),
                view,
            )
        )
    frames = []
    for years, result, view in runs:
        predictions = (
            reference.test if result is reference.result else _test_by_year(result, view, store.years)
        )
        for year in store.years:
            estimate, target, central = predictions[year]
            frames.append(
                _with(
                    skill_table(estimate, target, central, name),
                    training_years=" ".join(map(str, years)),
                    test_year=year,
                    seen=year in years,
                )
            )
    seconds = {" ".join(map(str, years)): result.wall_seconds for years, result, _ in runs}
    record_timings(params, "experiment_training_years", seconds)
    return pd.concat(frames, ignore_index=True)
