"""XGBoost, the benchmark, trained on pixel-day rows of the same normalised features.

:func:`train_xgboost` draws at most ``training.xgboost_max_rows`` rows of central days with a
target from the train and validation splits (``samples.tabular``), boosts with early stopping
on the validation rows and saves the model as ``run_dir/data/<label>.ubj``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd

from helpers.models import XGBoostModel, get_model, save_model
from helpers.params import Params
from helpers.training.result import TrainingResult, model_extra
from helpers.training.samples import Samples, feature_columns


def train_xgboost(
    samples: Samples,
    params: Params,
    run_dir: Path | str,
    feature_subset: Sequence[str] | None = None,
    max_rows: int | None = None,
    label: str | None = None,
) -> TrainingResult:
    """Train the XGBoost benchmark on pixel-day rows of the same normalised features.

    Parameters
    ----------
    samples : SampleStore or ArraySamples
        Rows of central days with a target: ``train`` to learn, ``validation`` for early
        stopping.
    params : Params
        ``seed``, ``models`` (trees, depth, learning rate) and ``training`` (``num_threads``,
        ``xgboost_max_rows``).
    run_dir : path-like
        The run folder; the model goes to ``run_dir/data/<label>.ubj``.
    feature_subset : list of str, optional
        Train on these features only (see :func:`feature_columns`).
    max_rows : int, optional
        Rows drawn at random from each split (default ``training.xgboost_max_rows``), e.g.
        100 times fewer for the paper's small-sample experiment.
    label : str, optional
        File stem of the model (default ``"xgboost"``).

    Returns
    -------
    TrainingResult
        ``history`` has one row per boosting round (losses are the squared RMSE).
    """
    started = perf_counter()
    label = label or XGBoostModel.name
    names, columns = feature_columns(samples, feature_subset)
    rows = max_rows or params.training.xgboost_max_rows
    rng = np.random.default_rng(params.seed)
    x_train, y_train = samples.tabular("train", max_rows=rows, rng=rng, normalise=True)
    x_val, y_val = samples.tabular("validation", max_rows=rows, rng=rng, normalise=True)
    wait = perf_counter() - started
    model = get_model(XGBoostModel.name, len(names), params.models)
    model.fit(
        x_train[:, columns],
        y_train,
        x_val[:, columns],
        y_val,
        seed=params.seed,
        n_threads=params.training.num_threads,
    )
    path = save_model(
        model, Path(run_dir) / "data" / f"{label}.ubj", extra=model_extra(samples, names, params)
    )
    rounds = len(model.history_["train"])
    history = pd.DataFrame(
        {
            "epoch": np.arange(1, rounds + 1),
            "train_loss": np.square(model.history_["train"]),
            "val_loss": np.square(model.history_["validation"]),
            "lr": params.models.xgboost_learning_rate,
            "seconds": np.nan,
        }
    )
    wall = perf_counter() - started
    return TrainingResult(
        model=model,
        history=history,
        best_epoch=model.best_iteration_ + 1,
        model_path=path,
        feature_names=names,
        wall_seconds=wall,
        data_wait_fraction=wait / wall,
        pixel_days_per_second=len(y_train) * rounds / wall,
    )
