"""What a training run returns, and what every saved model records of its samples.

:class:`TrainingResult` is returned by both :func:`helpers.training.train_torch_model` and
:func:`helpers.training.train_xgboost`; :func:`model_extra` is the ``extra`` that both hand to
:func:`helpers.models.save_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.models import Model
from helpers.params import Params, params_as_dict
from helpers.training.samples import Samples

#: Columns of :attr:`TrainingResult.history`.
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "seconds")


@dataclass
class TrainingResult:
    """What a training run returns.

    Attributes
    ----------
    model : SequenceModel or XGBoostModel
        The best model (lowest validation loss), in evaluation mode.
    history : pandas.DataFrame
        One row per epoch (XGBoost: per boosting round): ``epoch`` (from 1), ``train_loss``
        and ``val_loss`` (mean squared error on loss days, (m3 m-3)^2), ``lr`` and ``seconds``
        (NaN for XGBoost rounds).
    best_epoch : int
        The epoch (round) whose model was kept.
    model_path : pathlib.Path
        The saved model (see :func:`helpers.models.load_model`).
    feature_names : list of str
        The model's inputs, in order.
    wall_seconds : float
        Wall time of the call.
    data_wait_fraction : float
        Share of ``wall_seconds`` spent reading the samples and gathering batches.
    pixel_days_per_second : float
        Pixel-days through training per second of wall time (deep models: every day of every
        sequence of every training step; XGBoost: training rows times boosting rounds).
    """

    model: Model
    history: pd.DataFrame
    best_epoch: int
    model_path: Path
    feature_names: list[str]
    wall_seconds: float
    data_wait_fraction: float
    pixel_days_per_second: float


def model_extra(samples: Samples, names: list[str], params: Params) -> dict[str, Any]:
    """The ``extra`` a saved model records: its features, their normalisation statistics, the params."""
    stats = samples.stats.loc[names]
    return {
        "feature_names": names,
        "stats": {"mean": stats["mean"].tolist(), "std": stats["std"].tolist()},
        "params": params_as_dict(params),
    }
