"""Feature importance (notebook 03): SHAP, permutation importance and the AtLSTM's attention.

Which inputs do the models rely on, and which days does the AtLSTM look at?

* **XGBoost, TreeSHAP** (:func:`xgboost_shap`): exact Shapley values of the tree ensemble from
  the booster itself, ``Booster.predict(..., pred_contribs=True)``. Per row the values and the
  base value add up to the prediction. :func:`treeshap_difference` compares them with
  ``shap.TreeExplainer``.
* **Deep models, expected gradients** (:func:`sequence_shap`): ``shap.GradientExplainer`` on a
  background of training sequences. The explained outputs are the predictions on four days of
  the central year, mid-January, -April, -July and -October (:data:`EXPLAINED_DAYS_OF_YEAR`).
  The SHAP values of one input over all time steps are summed, giving that input's
  contribution to the day's prediction: a (sequence, day, feature) array comparable with
  XGBoost's (row, feature) one.
* **Permutation importance** (:func:`permutation_importance`): model-agnostic, on test
  sequences. One input's whole series is exchanged between sequences (other locations and
  years). Its importance is the increase of the RMSE against the target on the scored days. A
  feature the model does not take cannot change its predictions, so its importance is exactly 0.
* **Attention** (:func:`attention_by_sm_range`): the AtLSTM's attention weight as a function of the
  lag between the attended day and the predicted day, averaged over test sequences, for all
  predicted days and per range of the target SM on the predicted day.

:func:`importance_table` gathers the mean absolute SHAP values and the permutation
importances into ``tables/feature_importance.csv`` (``model, feature, importance, method``).
:func:`shap_by_location` averages absolute SHAP values per sample location, for maps.
:func:`decoy_check` is the twin-world check: it appends an input that the world's generator
never uses (terrain aspect) to XGBoost's rows and reports how important it appears.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shap
import torch
import xarray as xr
import xgboost

from helpers import inputs
from helpers.comparison import MODEL_ORDER
from helpers.convergence import ALL_INPUTS, run_label, seed_values
from helpers.cube import STATIC_FEATURES, open_cube
from helpers.metrics import rmse
from helpers.models import PREDICTION_KEY, Model, SequenceModel, XGBoostModel, load_model
from helpers.models.atlstm import AtLSTM, attention_lag_sums
from helpers.params import Params
from helpers.sampling import MARGIN_DAYS, SampleStore, tabular_rows
from helpers.training import predict

IMPORTANCE_COLUMNS = ("model", "feature", "importance", "method")
#: Days of the central year whose predictions the deep models' SHAP values explain.
EXPLAINED_DAYS_OF_YEAR = (15, 105, 196, 288)
#: One random stream per computation of notebook 03 (:func:`generator`).
STREAMS = ("treeshap_rows", "shap_background", "shap_sequences", "permutation", "attention")


# XGBoost -----------------------------------------------------------------------------------


def generator(params: Params, computation: str) -> np.random.Generator:
    """The random generator of one computation: ``SeedSequence([seed, k])`` for the ``k``-th
    of :data:`STREAMS`, so that re-running one cell of notebook 03 repeats its rows whatever
    ran before it."""
    if computation not in STREAMS:
        raise ValueError(f"computation must be one of {STREAMS}, got {computation!r}")
    return np.random.default_rng(np.random.SeedSequence([params.seed, STREAMS.index(computation)]))


def xgboost_shap(model: XGBoostModel, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """TreeSHAP values of XGBoost predictions, from the booster itself.

    .. math:: \\hat y_i = \\phi_0 + \\sum_f \\phi_{if}

    Parameters
    ----------
    model : XGBoostModel
    rows : numpy.ndarray
        (n, F) inputs, normalised and in the model's feature order.

    Returns
    -------
    values : numpy.ndarray
        (n, F) SHAP values, m3 m-3.
    base : float
        :math:`\\phi_0`, the expected prediction of the trees.
    """
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != model.n_features:
        raise ValueError(f"rows must have shape (n, {model.n_features}), got {rows.shape}")
    contributions = model.booster_.predict(xgboost.DMatrix(rows), pred_contribs=True)
    return contributions[:, :-1], float(contributions[0, -1])


def treeshap_difference(model: XGBoostModel, rows: np.ndarray) -> float:
    """Largest absolute difference between :func:`xgboost_shap` and ``shap.TreeExplainer``
    (tree-path-dependent) on ``rows``."""
    values, _ = xgboost_shap(model, rows)
    reference = shap.TreeExplainer(model.booster_).shap_values(np.asarray(rows, dtype=np.float32))
    return float(np.abs(values - reference).max())


# Deep models -------------------------------------------------------------------------------


def explained_positions(days_of_year: Sequence[int] = EXPLAINED_DAYS_OF_YEAR) -> np.ndarray:
    """Positions in a sequence (30-day margin first) of the explained days of the year."""
    return MARGIN_DAYS + np.asarray(days_of_year) - 1


class _AtPositions(torch.nn.Module):
    """A deep model's predictions at fixed sequence positions: the outputs SHAP explains."""

    def __init__(self, model: SequenceModel, positions: np.ndarray) -> None:
        super().__init__()
        self.model = model
        self.positions = torch.as_tensor(positions, dtype=torch.long)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[PREDICTION_KEY][:, self.positions]


@dataclass
class SequenceShap:
    """SHAP values of a deep model on some sequences.

    Attributes
    ----------
    values : numpy.ndarray
        (n, days, F): per explained sequence and day, each input's contribution summed over
        all time steps.
    inputs : numpy.ndarray
        (n, days, F): the inputs on the explained day (normalised), for colouring plots.
    base : numpy.ndarray
        (days,): mean prediction over the background, per explained day.
    positions : numpy.ndarray
        Sequence positions of the explained days.
    """

    values: np.ndarray
    inputs: np.ndarray
    base: np.ndarray
    positions: np.ndarray


def sequence_shap(
    model: SequenceModel,
    background: np.ndarray,
    x: np.ndarray,
    nsamples: int,
    seed: int = 0,
    positions: np.ndarray | None = None,
    batch_size: int = 32,
) -> SequenceShap:
    """Expected-gradients SHAP values (``shap.GradientExplainer``) of a deep model.

    Parameters
    ----------
    model : SequenceModel
        Evaluated in evaluation mode (no dropout).
    background : numpy.ndarray
        (m, T, F) normalised training sequences (the expectation is taken over them).
    x : numpy.ndarray
        (n, T, F) normalised sequences to explain.
    nsamples : int
        Background draws (and interpolation points) per explained sequence.
    seed : int
        Seed of the draws.
    positions : numpy.ndarray, optional
        Explained sequence positions (default :func:`explained_positions`).
    batch_size : int
        Sequences per gradient pass.
    """
    positions = explained_positions() if positions is None else np.asarray(positions)
    was_training = model.training
    model.eval()
    try:
        wrapped = _AtPositions(model, positions)
        device = next(model.parameters()).device
        data = torch.as_tensor(inputs.fill_missing(background, "SHAP background"), device=device)
        explainer = shap.GradientExplainer(wrapped, data, batch_size=batch_size)
        explained = torch.as_tensor(inputs.fill_missing(x, "SHAP sequences"), device=device)
        raw = np.asarray(explainer.shap_values(explained, nsamples=nsamples, rseed=seed))  # (n, T, F, days)
        with torch.no_grad():
            base = wrapped(data).mean(dim=0).cpu().numpy()
    finally:
        model.train(was_training)
    values = raw.sum(axis=1).transpose(0, 2, 1)  # (n, days, F)
    return SequenceShap(values=values, inputs=np.asarray(x)[:, positions], base=base, positions=positions)


# Permutation importance --------------------------------------------------------------------


def permutation_importance(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    central: np.ndarray,
    feature_names: Sequence[str],
    model_features: Sequence[str],
    rng: np.random.Generator,
    repeats: int = 1,
) -> pd.Series:
    """Increase of the RMSE (m3 m-3) when one input's series is exchanged between sequences.

    .. math:: I_f = \\frac{1}{R} \\sum_{r=1}^{R} \\mathrm{RMSE}(\\hat y^{(f, r)}, y) - \\mathrm{RMSE}(\\hat y, y)

    where :math:`\\hat y^{(f, r)}` is the prediction after the ``r``-th random permutation of
    feature ``f`` across the sequences, scored on central days with a target.

    Parameters
    ----------
    model : SequenceModel or XGBoostModel
    x : numpy.ndarray
        (n, T, F) normalised test sequences with every feature of ``feature_names``.
    y, central : numpy.ndarray
        (n, T) target and central-day flags.
    feature_names : list of str
        The features of ``x``, in order; each is permuted in turn.
    model_features : list of str
        The features the model takes, in its order (a subset of ``feature_names``).
    rng : numpy.random.Generator
    repeats : int
        Permutations per feature.

    Returns
    -------
    pandas.Series
        Importance per feature of ``feature_names``.
    """
    names = list(feature_names)
    columns = [names.index(name) for name in model_features]
    scored = central & np.isfinite(y)
    baseline = rmse(predict(model, x[..., columns])[scored], y[scored])
    importance = {}
    for k, name in enumerate(names):
        increases = []
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[..., k] = x[rng.permutation(len(x)), :, k]
            increases.append(rmse(predict(model, shuffled[..., columns])[scored], y[scored]) - baseline)
        importance[name] = float(np.mean(increases))
    return pd.Series(importance, name="importance")


# Attention ---------------------------------------------------------------------------------


def sm_range_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the SM ranges cut by ``edges``, e.g. ``SM < 0.15``, ``0.15-0.3``, ``SM > 0.3``."""
    inner = [f"{a:g}-{b:g}" for a, b in itertools.pairwise(edges)]
    return [f"SM < {edges[0]:g}", *inner, f"SM > {edges[-1]:g}"]


def attention_by_sm_range(
    model: AtLSTM,
    x: np.ndarray,
    y: np.ndarray,
    central: np.ndarray,
    max_lag: int,
    edges: Sequence[float],
    batch_size: int = 32,
) -> pd.DataFrame:
    """Mean attention weight against the lag from the predicted day, overall and per SM range.

    :func:`helpers.models.atlstm.attention_by_lag` over the predicted days ``t`` that are
    central days with a target: all of them (``sm_range`` ``all``) and those whose target lies
    in each range cut by ``edges``. Negative lags are the past.

    Returns
    -------
    pandas.DataFrame
        Columns ``sm_range, lag, weight, days`` (``days``: predicted days averaged over).
    """
    if not isinstance(model, AtLSTM):
        raise ValueError(f"attention_by_sm_range needs an AtLSTM, got {type(model).__name__}")
    labels = ["all", *sm_range_labels(edges)]
    totals: list[np.ndarray] = [0.0] * len(labels)  # type: ignore[list-item]
    counts: list[np.ndarray] = [0.0] * len(labels)  # type: ignore[list-item]
    days = np.zeros(len(labels), dtype=int)
    model.eval()
    device = next(model.parameters()).device
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(inputs.fill_missing(x[start : start + batch_size]), device=device)
        with torch.inference_mode():
            weights = model(xb, return_attention=True)["attention"].cpu().numpy()
        target = y[start : start + batch_size]
        scored = central[start : start + batch_size] & np.isfinite(target)
        ranges = np.digitize(np.where(scored, target, 0.0), edges) + 1  # 1.. per range, 0 is "all"
        for index in range(len(labels)):
            keep = scored if index == 0 else scored & (ranges == index)
            lags, sums, count = attention_lag_sums(weights, max_lag, keep)
            totals[index] = totals[index] + sums
            counts[index] = counts[index] + count
            days[index] += int(keep.sum())
    total, count = np.stack(totals), np.stack(counts)
    weight = np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)
    return pd.DataFrame(
        {
            "sm_range": np.repeat(labels, lags.size),
            "lag": np.tile(lags, len(labels)),
            "weight": weight.ravel(),
            "days": days.repeat(lags.size),
        }
    )


def attention_over_seeds(
    params: Params,
    feature_names: Sequence[str],
    x: np.ndarray,
    y: np.ndarray,
    central: np.ndarray,
    max_lag: int,
    near_days: int = 7,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The attention-vs-lag curve of every seed's AtLSTM (:func:`helpers.convergence.seed_values`).

    Each saved AtLSTM of the comparison over seeds (``data/atlstm.pt``, ``data/atlstm_seed<k>.pt``)
    is run on the same sequences (:func:`attention_by_sm_range`, all predicted days).

    Returns
    -------
    curve : pandas.DataFrame
        Per lag: ``weight_mean, weight_std, weight_min, weight_max`` over seeds, ``n_seeds``.
    seeds : pandas.DataFrame
        Per seed: ``weight_lag0`` (on the predicted day itself), ``share_near`` (the attention
        within ``near_days`` days of the predicted day, summed), ``uniform_share_near`` (the same
        for a uniform attention over the sequence, ``(2 near_days + 1) / T``) and
        ``near_vs_uniform`` (their ratio: 1 is flat, above 1 concentrated on adjacent days).
    """
    curves, rows = [], []
    for seed in seed_values(params):
        path = params.data_dir / f"{run_label('atlstm', ALL_INPUTS, seed, params)}.pt"
        if not path.exists():
            continue
        model, _ = load_model(path, expected_features=list(feature_names))
        lags = attention_by_sm_range(model, x, y, central, max_lag, [0.5])
        lags = lags[lags["sm_range"] == "all"]
        curves.append(lags.assign(seed=seed))
        near = lags["lag"].abs() <= near_days
        uniform = (2 * near_days + 1) / x.shape[1]
        share = float(lags.loc[near, "weight"].sum())
        rows.append({"seed": seed, "weight_lag0": float(lags.loc[lags["lag"] == 0, "weight"].iloc[0]),
                     "share_near": share, "uniform_share_near": uniform, "near_vs_uniform": share / uniform})
    if not curves:
        raise FileNotFoundError(f"{params.data_dir}: no trained AtLSTM; run notebook 02 first")
    stacked = pd.concat(curves)
    curve = stacked.groupby("lag")["weight"].agg(
        weight_mean="mean", weight_std=lambda v: v.std(ddof=1) if len(v) > 1 else np.nan,
        weight_min="min", weight_max="max",
    ).reset_index()
    curve["n_seeds"] = len(curves)
    return curve, pd.DataFrame(rows)


# Tables and maps ---------------------------------------------------------------------------


def mean_abs(values: np.ndarray, feature_names: Sequence[str]) -> pd.Series:
    """Mean absolute SHAP value per feature (last axis) over everything else."""
    flat = np.abs(np.asarray(values)).reshape(-1, len(feature_names))
    return pd.Series(flat.mean(axis=0), index=list(feature_names), name="importance")


def importance_table(parts: Sequence[tuple[str, str, pd.Series]]) -> pd.DataFrame:
    """``model, feature, importance, method`` rows from (model, method, importance per feature),
    ranked within each model and method."""
    frames = [
        pd.DataFrame(
            {"model": model, "feature": series.index, "importance": series.to_numpy(), "method": method}
        ).sort_values("importance", ascending=False)
        for model, method, series in parts
    ]
    return pd.concat(frames, ignore_index=True)[list(IMPORTANCE_COLUMNS)]


def test_rows(
    x: np.ndarray, y: np.ndarray, central: np.ndarray, n_rows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n_rows`` (sequence, day) pairs of central days with a target, spread evenly over
    the sequences (``n_rows // n`` days drawn from each, or one day from each of ``n_rows``
    sequences drawn at random): the rows XGBoost's SHAP explains."""
    per_sequence = max(1, n_rows // len(x))
    chosen_sequences = (
        np.sort(rng.choice(len(x), size=n_rows, replace=False)) if n_rows < len(x) else range(len(x))
    )
    sequences, days = [], []
    for index in chosen_sequences:
        usable = np.flatnonzero(central[index] & np.isfinite(y[index]))
        if usable.size:
            chosen = rng.choice(usable, size=min(per_sequence, usable.size), replace=False)
            sequences.append(np.full(chosen.size, index))
            days.append(chosen)
    return np.concatenate(sequences), np.concatenate(days)


def shap_by_location(
    values: np.ndarray, locations: pd.DataFrame, feature_names: Sequence[str]
) -> pd.DataFrame:
    """Mean absolute SHAP value per sample location and feature.

    Parameters
    ----------
    values : numpy.ndarray
        (n, F) SHAP values of rows.
    locations : pandas.DataFrame
        One row per SHAP row with ``location``, ``lat`` and ``lon``.

    Returns
    -------
    pandas.DataFrame
        Indexed by location: ``lat``, ``lon``, ``rows`` and one column per feature.
    """
    frame = pd.DataFrame(np.abs(values), columns=list(feature_names))
    frame[["location", "lat", "lon"]] = locations[["location", "lat", "lon"]].to_numpy()
    grouped = frame.groupby("location")
    table = grouped[list(feature_names)].mean()
    table.insert(0, "rows", grouped.size())
    table.insert(0, "lon", grouped["lon"].first())
    table.insert(0, "lat", grouped["lat"].first())
    return table


# Twin-world check --------------------------------------------------------------------------


def aspect_deg(elevation: np.ndarray, resolution_deg: float, lat: np.ndarray) -> np.ndarray:
    """Terrain aspect (degrees clockwise from north, the direction the slope faces) of a
    (lat, lon) elevation grid, lat ascending or descending as in ``lat``.

    .. math:: \\theta = \\operatorname{atan2}(-\\partial z / \\partial x, -\\partial z / \\partial y)

    with ``x`` east and ``y`` north in metres; flat cells get 0.
    """
    metres = resolution_deg * 111_195.0
    dz_dlat = np.gradient(elevation, axis=0) / metres * np.sign(np.diff(lat).mean())
    dz_dlon = np.gradient(elevation, axis=1) / (metres * np.cos(np.radians(lat))[:, None])
    aspect = np.degrees(np.arctan2(-dz_dlon, -dz_dlat)) % 360
    return np.where((dz_dlat == 0) & (dz_dlon == 0), 0.0, aspect)


def decoy_check(
    store: SampleStore, params: Params, decoy: np.ndarray, name: str = "aspect", shap_rows: int = 2000
) -> pd.Series:
    """Mean absolute SHAP value per input of an XGBoost retrained with one more input.

    The twin world knows what its soil moisture depends on: the generator never uses terrain
    aspect, so an honest importance method should rank it at the bottom. ``decoy`` holds one
    value per sample location (e.g. :func:`aspect_deg` at each location); it is appended to
    every day of the location's sequences, XGBoost is trained as in the comparison
    (:func:`helpers.training.train_xgboost`'s rows and hyper-parameters) and its TreeSHAP values
    are taken on test rows.

    Returns
    -------
    pandas.Series
        Mean absolute SHAP value per input (the decoy last), m3 m-3.
    """
    decoy = np.asarray(decoy, dtype=np.float32)
    if decoy.shape != (len(store.locations),):
        raise ValueError(
            f"decoy must hold one value per sample location ({len(store.locations)}), got {decoy.shape}"
        )
    train_positions = store.locations["split"].to_numpy() == "train"
    mean, std = float(decoy[train_positions].mean()), float(decoy[train_positions].std()) or 1.0
    rng = np.random.default_rng(params.seed)
    arrays = {}
    for split in ("train", "validation", "test"):
        x, y, central = store.sequences(split)
        column = (decoy[store.sequence_table(split)["location"].to_numpy()] - mean) / std
        x = np.concatenate([x, np.broadcast_to(column[:, None, None], (*x.shape[:2], 1))], axis=-1)
        arrays[split] = (x, y, central)
    rows = params.training.xgboost_max_rows
    x_train, y_train = tabular_rows(*arrays["train"], max_rows=rows, rng=rng)
    x_val, y_val = tabular_rows(*arrays["validation"], max_rows=rows, rng=rng)
    model = XGBoostModel(x_train.shape[1], params.models)
    model.fit(x_train, y_train, x_val, y_val, seed=params.seed, n_threads=params.training.num_threads)
    x_test, y_test, central_test = arrays["test"]
    sequences, days = test_rows(x_test, y_test, central_test, shap_rows, rng)
    values, _ = xgboost_shap(model, x_test[sequences, days])
    return mean_abs(values, [*store.feature_names, name])


def location_decoy(params: Params, store: SampleStore, ds: xr.Dataset | None = None) -> np.ndarray:
    """Terrain aspect (degrees) at every sample location, from the datacube's elevation."""
    ds = open_cube(params) if ds is None else ds
    sea_level = np.nan_to_num(ds["elevation"].values.astype(float), nan=0.0)  # water cells: 0 m
    aspect = aspect_deg(sea_level, params.grid.resolution, ds["lat"].values)
    return aspect[store.locations["row"].to_numpy(), store.locations["col"].to_numpy()]


def load_zoo(
    params: Params, feature_names: Sequence[str], names: Sequence[str] = MODEL_ORDER
) -> dict[str, Model]:
    """The comparison's saved models (``data/<name>.pt`` or ``.ubj``) that exist, checked to take
    ``feature_names`` in that order."""
    models = {}
    for name in names:
        suffix = ".ubj" if name == XGBoostModel.name else ".pt"
        path = params.data_dir / f"{name}{suffix}"
        if path.exists():
            models[name], _ = load_model(path, expected_features=list(feature_names))
    if not models:
        raise FileNotFoundError(f"{params.data_dir}: no trained model; run notebook 02 first")
    return models


def ranks(table: pd.DataFrame) -> pd.DataFrame:
    """Rank of every input (1: most important) per model and method, inputs as rows."""
    ranked = table.assign(rank=table.groupby(["model", "method"])["importance"].rank(ascending=False))
    wide = ranked.pivot_table(index="feature", columns=["method", "model"], values="rank")
    return wide.loc[wide.mean(axis=1).sort_values().index].astype(int)


def static_share(table: pd.DataFrame) -> pd.DataFrame:
    """Share of each model's total importance (per method) carried by the static inputs
    (terrain and soil texture), negative importances counted as 0."""
    positive = table.assign(importance=table["importance"].clip(lower=0))
    positive["static"] = positive["feature"].isin(STATIC_FEATURES)
    totals = positive.groupby(["method", "model"])["importance"].sum()
    static = positive[positive["static"]].groupby(["method", "model"])["importance"].sum()
    return (static / totals).rename("static_share").reset_index()
