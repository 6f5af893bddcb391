"""Model comparison (notebook 02): the zoo trained on the same samples, scored on the test split.

Every model of :data:`MODEL_ORDER` is trained by :mod:`helpers.training` on the same sample
store, predicts the held-out test sequences once, and those predictions feed every table and
figure: the comparison table against the target (``tables/model_comparison.csv``, subsets
``all`` and ``sm_gt_0.4``), the density scatter plots, and on the twin world the skill against
the truth (``tables/truth_skill.csv``), where the target itself and the ERA5-Land input are
scored too, so that "agreement with the target" can be set beside "accuracy".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.metrics import TRUTH_SKILL_COLUMNS, score_all
from helpers.models import is_sequence_model
from helpers.params import Params
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

MODEL_ORDER = ("lstm", "bilstm", "atlstm", "transformer", "xgboost")
INPUT_PRODUCT = "era5_sm"


@dataclass
class TestPredictions:
    """Held-out test sequences and every model's estimate of them (arrays (n, T))."""

    target: np.ndarray
    central: np.ndarray
    era5: np.ndarray
    estimates: dict[str, np.ndarray]

    def scored(self) -> np.ndarray:
        """Days that count: the central year with a target value."""
        return self.central & np.isfinite(self.target)


def train_all(
    samples: Samples, params: Params, run_dir: Path, names: Sequence[str] = MODEL_ORDER, progress: bool = True
) -> dict[str, TrainingResult]:
    """Train each named model of the zoo on the same samples (see :mod:`helpers.training`);
    their wall-clock seconds go to the run's timings (:mod:`helpers.timings`), not to a table."""
    results = {}
    for name in names:
        if is_sequence_model(name):
            results[name] = train_torch_model(name, samples, params, run_dir, progress=progress)
        else:
            results[name] = train_xgboost(samples, params, run_dir)
    record_timings(params, "training", {name: result.wall_seconds for name, result in results.items()})
    return results


def training_summary(results: dict[str, TrainingResult]) -> pd.DataFrame:
    """Per model: best epoch, wall time, training throughput and time spent waiting for data
    (for display: the timings depend on the machine, so no result table holds them)."""
    return pd.DataFrame(
        [
            {
                "model": name,
                "best_epoch": r.best_epoch,
                "epochs_run": len(r.history) if name != "xgboost" else np.nan,
                "wall_s": round(r.wall_seconds, 1),
                "pixel_days_per_s": round(r.pixel_days_per_second),
                "data_wait_share": round(r.data_wait_fraction, 3),
            }
            for name, r in results.items()
        ]
    )


def predict_test(results: dict[str, TrainingResult], samples: Samples) -> TestPredictions:
    """Predict the test split once with every model."""
    x, target, central = samples.sequences("test", normalise=True)
    column = list(samples.feature_names).index(INPUT_PRODUCT)
    stats = samples.stats.loc[INPUT_PRODUCT]
    scale = stats["std"] if stats["std"] > 0 else 1.0  # as in normalise(): no spread, only centred
    era5 = x[..., column] * scale + stats["mean"]
    estimates = {}
    for name, result in results.items():
        _, columns = feature_columns(samples, result.feature_names)
        estimates[name] = predict(result.model, x[..., columns])
    return TestPredictions(target=target, central=central, era5=era5, estimates=estimates)


def comparison_table(predictions: TestPredictions) -> pd.DataFrame:
    """``model, subset, n, r, r2, rmse, bias, ubrmse`` for every model on the test split."""
    frames = [
        skill_table(e, predictions.target, predictions.central, name)
        for name, e in predictions.estimates.items()
    ]
    return pd.concat(frames, ignore_index=True)


def scatter_pairs(predictions: TestPredictions) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(target, estimate) on the scored test days, per model, for the density scatter plots."""
    keep = predictions.scored()
    return {name: (predictions.target[keep], e[keep]) for name, e in predictions.estimates.items()}


def truth_skill_table(predictions: TestPredictions, truth: np.ndarray) -> pd.DataFrame:
    """Skill against the twin world's truth on the scored test days (``product, r, bias, ubrmse, rmse``).

    Besides the models, the target (GLASS-MODIS-like) and the ERA5-Land-like input are scored
    on the same days, so every row is comparable.
    """
    keep = predictions.scored() & np.isfinite(truth)
    products = {
        "target (GLASS-MODIS-like)": predictions.target,
        "input ERA5-Land-like": predictions.era5,
        **predictions.estimates,
    }
    rows = [{"product": name} | score_all(values[keep], truth[keep]) for name, values in products.items()]
    table = pd.DataFrame(rows).reindex(columns=list(TRUTH_SKILL_COLUMNS))
    return table.assign(scope="test_split", year="all", climate="all")


def convergence_table(results: dict[str, TrainingResult]) -> pd.DataFrame:
    """Was each model still learning when its training stopped?

    Per model: ``epochs_run`` (XGBoost: boosting rounds), ``best_epoch``, ``best_val_loss``,
    ``last_drop`` (relative fall of the validation loss over the last third of the run,
    ``1 - min(last third) / min(before)``) and ``still_improving`` (the best epoch is one of the
    last two run: a longer budget would likely have helped).
    """
    rows = []
    for name, result in results.items():
        loss = result.history["val_loss"].to_numpy(dtype=float)
        cut = max(1, len(loss) - max(1, len(loss) // 3))
        before, last = loss[:cut], loss[cut:]
        rows.append(
            {
                "model": name,
                "epochs_run": len(loss),
                "best_epoch": result.best_epoch,
                "best_val_loss": float(np.nanmin(loss)),
                "last_drop": float(1 - np.nanmin(last) / np.nanmin(before)) if last.size else np.nan,
                "still_improving": result.best_epoch >= len(loss) - 1,
            }
        )
    return pd.DataFrame(rows)


def deep_vs_xgboost(table: pd.DataFrame, results: dict[str, TrainingResult]) -> pd.DataFrame:
    """Each deep model against XGBoost on the test split (subset ``all``), beside its convergence.

    Columns ``model, r2, r2_minus_xgboost, rmse_minus_xgboost, beats_xgboost`` (higher R2),
    then those of :func:`convergence_table`. Empty without an XGBoost row.
    """
    scores = table[table["subset"] == "all"].set_index("model")
    if "xgboost" not in scores.index:
        return pd.DataFrame()
    boosted = scores.loc["xgboost"]
    deep = [name for name in scores.index if name != "xgboost" and name in results]
    frame = pd.DataFrame(
        {
            "model": deep,
            "r2": scores.loc[deep, "r2"].to_numpy(),
            "r2_minus_xgboost": (scores.loc[deep, "r2"] - boosted["r2"]).to_numpy(),
            "rmse_minus_xgboost": (scores.loc[deep, "rmse"] - boosted["rmse"]).to_numpy(),
        }
    )
    frame["beats_xgboost"] = frame["r2_minus_xgboost"] > 0
    convergence = convergence_table({name: results[name] for name in deep})
    return frame.merge(convergence, on="model")
