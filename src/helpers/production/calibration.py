"""Fitting and checking ``sm_uncertainty``: the spread head, the calibration factor, the tables.

The protocol keeps the three splits of the samples apart:

1. **Fit** (:func:`fit_spread_head`): the spread head learns the size of the model's error from
   the TRAIN split's residuals by Gaussian likelihood (:func:`helpers.production.uncertainty.gaussian_nll`);
   the VALIDATION split's likelihood stops it.
2. **Calibrate** (:func:`calibrate`): one factor ``k`` per spread method
   (:func:`helpers.metrics.spread_scale_factor`), fitted on the VALIDATION split so that
   ``sm +- z k s`` holds the stated share (90 %) of the targets.
3. **Check**: the TEST split, used for nothing else, gives every figure reported: coverage of
   the clipped interval overall, per main Koeppen-Geiger group and per tercile of the target
   (dry, middle, wet), the correlation between the spread and the absolute error (does a
   wider interval mean a larger error?), and the reliability curves per stratum.

The Monte-Carlo-dropout spread goes through the same steps as the baseline row. Intervals are
clipped to the physical range [0, :data:`helpers.production.apply.SM_MAX`]; as the targets lie
inside it, clipping changes no coverage, only the stated bounds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats

from helpers import inputs, keys, metrics
from helpers.io import atomic_path
from helpers.models import SequenceModel
from helpers.params import Params, SpreadHeadParams
from helpers.production.apply import SM_MAX, Applied, seeded_torch
from helpers.production.files import calibration_path, model_digest, spread_head_path
from helpers.production.uncertainty import (
    SpreadHead,
    dropout_draws,
    dropout_head_spread,
    dropouts,
    gaussian_nll,
    has_linear_dropout_head,
    load_spread_head,
    model_head_width,
    save_spread_head,
    spread_head_identity,
    spread_inputs,
)
from helpers.sampling import SampleStore

log = logging.getLogger(__name__)

#: Stated coverages of the reliability curves.
RELIABILITY_LEVELS = (0.5, 0.68, 0.8, 0.9, 0.95, 0.99)
#: The two spread methods, the baseline last.
METHODS = ("spread_head", "mc_dropout")
#: Names of the target terciles, driest first.
TERCILES = ("dry", "middle", "wet")
#: Sequences per forward pass while gathering estimates.
GATHER_SEQUENCES = 256


def samples_key(samples: SampleStore) -> str:
    """Digest of what the spread head's fitting rows depend on: the locations, their split and
    the training years."""
    table = samples.locations[["row", "col", "split"]].astype(str).to_numpy().tolist()
    return keys.digest({"locations": table, "train_years": [int(y) for y in samples.train_years]})


def _draw_sequences(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if limit is None or n <= limit else np.sort(rng.choice(n, limit, replace=False))


def head_rows(
    applied: Applied, samples: SampleStore, split: str, limit: int | None, rng: np.random.Generator, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The spread head's inputs (n, H + 1) and the residuals ``target - clip(sm)`` (n,) on the
    central days with a target of at most ``limit`` sequences of ``split``, drawn with ``rng``."""
    x, y, central = samples.sequences(split, normalise=False)
    pick = _draw_sequences(len(x), limit, rng)
    x, y, keep = x[pick], y[pick], central[pick] & np.isfinite(y[pick])
    normalised = inputs.normalise(x, applied.mean, applied.scale)
    rows, residuals = [], []
    for start, features, sm in applied.head_features(normalised, batch_size):
        stop = start + len(sm)
        mask = torch.as_tensor(keep[start:stop], device=sm.device)
        clipped = sm.clamp(0.0, SM_MAX)
        rows.append(spread_inputs(features, clipped)[mask].float().cpu())
        target = torch.as_tensor(y[start:stop], device=sm.device)
        residuals.append((target - clipped)[mask].float().cpu())
    return torch.cat(rows), torch.cat(residuals)


def train_spread_head(
    z_train: torch.Tensor,
    r_train: torch.Tensor,
    z_val: torch.Tensor,
    r_val: torch.Tensor,
    settings: SpreadHeadParams,
    seed: int,
    progress: bool = False,
) -> tuple[SpreadHead, list[float]]:
    """Fit a :class:`SpreadHead` to residuals ``r`` of rows ``z`` by Gaussian likelihood.

    Each epoch draws ``settings.rows_per_epoch`` training rows (seeded by ``seed``) in batches
    of ``batch_rows`` for Adam; after each epoch the validation likelihood is computed and the
    best state is kept, stopping after ``patience`` epochs without a better one. Returns the
    head (evaluation mode) and the validation losses per epoch.
    """
    from helpers.progress import progress_bar

    torch.manual_seed(seed)
    head = SpreadHead(z_train.shape[1], settings.hidden_size)
    head.standardise_with(z_train)
    optimiser = torch.optim.Adam(head.parameters(), lr=settings.learning_rate)
    order = torch.Generator().manual_seed(seed)
    best, best_state, since, history = np.inf, None, 0, []
    for _epoch in progress_bar(range(settings.max_epochs), desc="spread head", unit="epoch", disable=not progress):
        head.train()
        drawn = torch.randperm(len(z_train), generator=order)[: settings.rows_per_epoch]
        for start in range(0, len(drawn), settings.batch_rows):
            rows = drawn[start : start + settings.batch_rows]
            loss = gaussian_nll(head.log_variance(z_train[rows]), r_train[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        head.eval()
        with torch.no_grad():
            score = float(gaussian_nll(head.log_variance(z_val), r_val))
        history.append(round(score, 6))
        if score < best - 1e-5:
            best, since = score, 0
            best_state = {key: value.detach().clone() for key, value in head.state_dict().items()}
        else:
            since += 1
            if since >= settings.patience:
                break
    head.load_state_dict(best_state)
    return head.eval(), history


def fit_spread_head(params: Params, samples: SampleStore, applied: Applied, progress: bool = True) -> SpreadHead:
    """The spread head of ``applied``'s model: loaded when :func:`helpers.production.files.spread_head_path`
    holds one fitted with the same identity, else fitted and saved.

    Rows: the central days with a target of at most ``production.spread_head.train_sequences``
    TRAIN sequences (and a quarter as many VALIDATION sequences for early stopping), drawn with the
    run's seed. Each epoch draws ``rows_per_epoch`` rows; Adam minimises the Gaussian negative
    log-likelihood; the state with the best validation likelihood is kept (:func:`train_spread_head`).
    """
    settings = params.production.spread_head
    width = model_head_width(applied.model) + 1
    identity = spread_head_identity(applied.digest, width, params, samples_key(samples))
    path = spread_head_path(params)
    if path.exists():
        head, stored, _ = load_spread_head(path, applied.device)
        changed = keys.differences(stored, identity)
        if not changed:
            return head
        log.warning("%s was fitted with other settings (%s); it is refitted", path, "; ".join(changed))
    rng = np.random.default_rng([params.seed, 7001])
    batch = params.production.batch_size
    z_train, r_train = head_rows(applied, samples, "train", settings.train_sequences, rng, batch)
    z_val, r_val = head_rows(applied, samples, "validation", max(settings.train_sequences // 4, 1), rng, batch)
    head, history = train_spread_head(z_train, r_train, z_val, r_val, settings, params.seed, progress)
    record = {
        "train_rows": len(z_train),
        "validation_rows": len(z_val),
        "epochs": len(history),
        "validation_nll": history,
    }
    save_spread_head(head.cpu(), path, identity, record)
    return head.to(applied.device).eval()


@dataclass
class SplitEstimates:
    """Flat arrays over the central days with a target of one split's sequences."""

    sm: np.ndarray
    target: np.ndarray
    group: np.ndarray
    spreads: dict[str, np.ndarray]


def koppen_groups(params: Params) -> np.ndarray:
    """Main Koeppen-Geiger group letter (A-E) of every cell of the product grid (a real climate
    map shipped with a package, :func:`helpers.world.static.climate_classes`; not the truth)."""
    from helpers.world.static import CLIMATE_NAMES, climate_classes

    letters = np.array([name[0] for name in CLIMATE_NAMES])
    return letters[np.clip(climate_classes(params.to_grid()), 0, None)]


def split_estimates(
    applied: Applied, samples: SampleStore, split: str, params: Params, groups: np.ndarray | None = None
) -> SplitEstimates:
    """Clipped estimate, target, Koeppen group and the uncalibrated spread of each method
    available (``spread_head`` when ``applied`` has one; ``mc_dropout`` when the model has
    dropout) on the central days with a target of ``split``. ``groups``: :func:`koppen_groups`
    (computed when not given)."""
    x, y, central = samples.sequences(split, normalise=False)
    table = samples.sequence_table(split)
    groups = koppen_groups(params) if groups is None else groups
    group = np.broadcast_to(groups[table["row"].to_numpy(), table["col"].to_numpy()][:, None], y.shape)
    keep = central & np.isfinite(y)
    normalised = inputs.normalise(x, applied.mean, applied.scale)
    model = applied.model
    with_dropout = isinstance(model, SequenceModel) and bool(dropouts(model))
    exact = with_dropout and has_linear_dropout_head(model)
    sm = np.empty(y.shape, np.float32)
    spreads = {name: np.full(y.shape, np.nan, np.float32) for name in METHODS}
    with torch.inference_mode():
        for start, features, estimate in applied.head_features(normalised, params.production.batch_size):
            stop = start + len(estimate)
            clipped = estimate.clamp(0.0, SM_MAX)
            sm[start:stop] = clipped.float().cpu().numpy()
            if applied.spread_head is not None:
                spreads["spread_head"][start:stop] = applied.spread_head(spread_inputs(features, clipped)).cpu().numpy()
            if exact:
                spreads["mc_dropout"][start:stop] = dropout_head_spread(model, features).cpu().numpy()
    if with_dropout and not exact and params.production.mc_passes > 1:
        with seeded_torch(params.seed, model.device):
            draws = dropout_draws(model, inputs.fill_missing(normalised), params.production.mc_passes, params.production.batch_size)
        spreads["mc_dropout"] = draws.std(axis=0)
    available = {name: values[keep] for name, values in spreads.items() if np.isfinite(values[keep]).any()}
    return SplitEstimates(sm[keep], y[keep], group[keep], available)


def clipped_interval(sm: np.ndarray, spread: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``sm -+ z spread`` clipped to [0, SM_MAX]."""
    return np.clip(sm - z * spread, 0.0, SM_MAX), np.clip(sm + z * spread, 0.0, SM_MAX)


def coverage(sm: np.ndarray, target: np.ndarray, spread: np.ndarray, z: float) -> float:
    """Share of targets inside the clipped interval (NaN-free triples; NaN without any)."""
    valid = np.isfinite(sm) & np.isfinite(target) & np.isfinite(spread)
    if not valid.any():
        return np.nan
    lower, upper = clipped_interval(sm[valid], spread[valid], z)
    return float(np.mean((target[valid] >= lower) & (target[valid] <= upper)))


def strata(estimates: SplitEstimates, edges: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """Boolean selections: ``(all, all)``, ``(koppen, A..E)``, ``(tercile, dry|middle|wet)``."""
    selections = {("all", "all"): np.ones(estimates.target.shape, bool)}
    for letter in sorted(set(estimates.group.tolist())):
        selections[("koppen", letter)] = estimates.group == letter
    tercile = np.digitize(estimates.target, edges)
    for index, name in enumerate(TERCILES):
        selections[("tercile", name)] = tercile == index
    return selections


@dataclass
class Calibration:
    """Tables of :func:`calibrate`: ``table`` (method x split), ``strata`` (method x test stratum),
    ``curves`` (reliability per method, split and stratum) and the ``record`` written."""

    table: pd.DataFrame
    strata: pd.DataFrame
    curves: pd.DataFrame
    record: dict


def calibrate(
    params: Params, samples: SampleStore, applied: Applied | None = None, level: float = 0.9, progress: bool = True
) -> Calibration:
    """Fit the spread head (``production.uncertainty: spread_head``), the factor of each spread
    method on the VALIDATION split, and report both on the TEST split; write the record of the
    method production uses (:func:`helpers.production.files.calibration_path`).

    ``table`` columns: ``method, split, n, rmse, median_spread, spread_error_r`` (Pearson r of
    the spread with the absolute error), ``coverage_uncalibrated``, ``factor``, ``coverage`` (of
    the clipped interval with the factor) and ``in_product``. ``strata`` columns: ``method,
    stratum_kind, stratum, n, target_min, target_max, rmse, median_spread, spread_error_r,
    coverage`` on the TEST split. ``curves``: ``method, split, stratum_kind, stratum, nominal,
    observed`` for each of :data:`RELIABILITY_LEVELS`.
    """
    if applied is None:
        applied = Applied.load(params, calibrated=False, spread_head=False)
    method = params.production.uncertainty
    if method == "spread_head":
        applied.spread_head = fit_spread_head(params, samples, applied, progress)
        applied.spread_method, applied.spread_head_digest = "spread_head", model_digest(spread_head_path(params))
    z = float(stats.norm.ppf((1 + level) / 2))
    groups = koppen_groups(params)
    by_split = {split: split_estimates(applied, samples, split, params, groups) for split in ("validation", "test")}
    factors = {
        name: metrics.spread_scale_factor(by_split["validation"].sm, by_split["validation"].target, spread, level)
        for name, spread in by_split["validation"].spreads.items()
    }
    rows, strata_rows, curves = [], [], []
    test = by_split["test"]
    edges = np.quantile(test.target, [1 / 3, 2 / 3])
    for name, factor in factors.items():
        for split, estimates in by_split.items():
            spread = estimates.spreads[name]
            error = np.abs(estimates.sm - estimates.target)
            rows.append(
                {
                    "method": name,
                    "split": split,
                    "n": int(estimates.target.size),
                    "rmse": metrics.rmse(estimates.sm, estimates.target),
                    "median_spread": float(np.nanmedian(factor * spread)),
                    "spread_error_r": metrics.pearson_r(spread, error),
                    "coverage_uncalibrated": coverage(estimates.sm, estimates.target, spread, z),
                    "factor": factor,
                    "coverage": coverage(estimates.sm, estimates.target, factor * spread, z),
                    "in_product": name == applied.spread_method,
                }
            )
            selections = strata(estimates, edges) if split == "test" else {("all", "all"): slice(None)}
            for (kind, stratum), pick in selections.items():
                sm, target, scaled = estimates.sm[pick], estimates.target[pick], factor * spread[pick]
                for nominal in RELIABILITY_LEVELS:
                    z_level = float(stats.norm.ppf((1 + nominal) / 2))
                    curves.append(
                        {"method": name, "split": split, "stratum_kind": kind, "stratum": stratum,
                         "nominal": nominal, "observed": coverage(sm, target, scaled, z_level)}
                    )
                if split == "test":
                    strata_rows.append(
                        {
                            "method": name,
                            "stratum_kind": kind,
                            "stratum": stratum,
                            "n": int(target.size),
                            "target_min": float(target.min()) if target.size else np.nan,
                            "target_max": float(target.max()) if target.size else np.nan,
                            "rmse": metrics.rmse(sm, target),
                            "median_spread": float(np.nanmedian(scaled)) if target.size else np.nan,
                            "spread_error_r": metrics.pearson_r(scaled, np.abs(sm - target)),
                            "coverage": coverage(sm, target, scaled, z),
                        }
                    )
    table = pd.DataFrame(rows)
    used = table[table["in_product"]].set_index("split")
    factor = factors.get(applied.spread_method, np.nan)
    record = {
        "model_file": str(applied.path),
        "model_digest": applied.digest,
        "method": applied.spread_method,
        "spread_head_digest": applied.spread_head_digest,
        "level": level,
        "z": z,
        "factor": factor if np.isfinite(factor) else None,
        "fitted_on": "validation",
        "coverage_validation": float(used.loc["validation", "coverage"]) if len(used) else None,
        "coverage_test": float(used.loc["test", "coverage"]) if len(used) else None,
        "coverage_test_uncalibrated": float(used.loc["test", "coverage_uncalibrated"]) if len(used) else None,
    }
    record = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in record.items()}
    with atomic_path(calibration_path(params)) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return Calibration(table, pd.DataFrame(strata_rows), pd.DataFrame(curves), record)
