"""Benchmark of the SHAP computations of notebook 03.

XGBoost (the demo's hyper-parameters: 200 trees at most, depth 8) is trained on synthetic
pixel-day rows shaped like the demo's (11 features). Rows explained per second are compared for
the booster's own TreeSHAP (``pred_contribs``, :func:`helpers.importance.xgboost_shap`),
``shap.TreeExplainer`` with its default tree-path-dependent algorithm, and ``shap.TreeExplainer``
with ``feature_perturbation="interventional"`` on 100 background rows. The AtLSTM (demo size)
is explained with ``shap.GradientExplainer`` on 426-day sequences, four explained days each,
against 100 background sequences (:func:`helpers.importance.sequence_shap`, demo's 8 samples).

Usage: ``python benchmarks/bench_importance.py`` (part of ``make bench``). Results go to
``benchmarks/results/importance.json`` and are printed as a Markdown table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from report import report

ROOT = Path(__file__).resolve().parents[1]
FEATURES, DAYS, ROWS, CHECK_ROWS, SEQUENCES = 11, 426, 4000, 500, 32


def timed(function, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    import shap

    from helpers import importance
    from helpers.models import XGBoostModel, get_model
    from helpers.params import load_params

    params = load_params(ROOT / "params" / "demo.yaml")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200_000, FEATURES)).astype(np.float32)
    y = (0.25 + 0.05 * np.tanh(x[:, 0] - x[:, 1]) + 0.02 * x[:, 6] + rng.normal(0, 0.01, len(x))).astype(np.float32)
    model = XGBoostModel(FEATURES, params.models)
    model.fit(x[:150_000], y[:150_000], x[150_000:], y[150_000:], seed=0)
    explained = x[:ROWS]
    (values, _), contribs_s = timed(importance.xgboost_shap, model, explained)
    path_dependent = shap.TreeExplainer(model.booster_)
    reference, path_s = timed(path_dependent.shap_values, explained[:CHECK_ROWS])
    interventional = shap.TreeExplainer(model.booster_, data=x[-100:], feature_perturbation="interventional")
    _, interventional_s = timed(interventional.shap_values, explained[:CHECK_ROWS])
    trees = model.booster_.num_boosted_rounds()
    speed = ROWS / contribs_s
    rows = [
        {"method": f"XGBoost pred_contribs ({trees} trees, depth {params.models.xgboost_depth})",
         "explained": ROWS, "per_s": round(speed), "speed_up_of_pred_contribs": 1.0,
         "max_abs_difference": 0.0},
        {"method": "shap.TreeExplainer, tree_path_dependent", "explained": CHECK_ROWS,
         "per_s": round(CHECK_ROWS / path_s), "speed_up_of_pred_contribs": round(speed / (CHECK_ROWS / path_s), 2),
         "max_abs_difference": float(np.abs(values[:CHECK_ROWS] - reference).max())},
        {"method": "shap.TreeExplainer, interventional (100 background rows)", "explained": CHECK_ROWS,
         "per_s": round(CHECK_ROWS / interventional_s),
         "speed_up_of_pred_contribs": round(speed / (CHECK_ROWS / interventional_s), 2),
         "max_abs_difference": None},
    ]
    atlstm = get_model("atlstm", FEATURES, params.models)
    sequences = rng.normal(size=(SEQUENCES + 100, DAYS, FEATURES)).astype(np.float32)
    _, deep_s = timed(importance.sequence_shap, atlstm, sequences[SEQUENCES:], sequences[:SEQUENCES],
                      nsamples=params.importance.shap_nsamples)
    rows.append({"method": f"AtLSTM GradientExplainer ({params.importance.shap_nsamples} samples, 4 days)",
                 "explained": SEQUENCES * 4, "per_s": round(SEQUENCES * 4 / deep_s, 1),
                 "speed_up_of_pred_contribs": None, "max_abs_difference": None})
    report("importance", "SHAP: explained predictions per second", rows)


if __name__ == "__main__":
    main()
