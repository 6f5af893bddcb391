"""Prediction with any model of the zoo, and its skill on a held-out split.

:func:`predict` runs a deep model or XGBoost on (n, T, F) normalised sequences;
:func:`evaluate` scores a model on the central days of the validation or test split (never
the training split) and :func:`skill_table` gives the rows of ``tables/model_comparison.csv``
(all days, and wet days above :data:`WET_THRESHOLD`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers import inputs
from helpers.metrics import SCORES, score_all
from helpers.models import Model, SequenceModel
from helpers.training.samples import Samples, feature_columns

#: Wet-day subset of :func:`evaluate`: reference target above this, m3 m-3.
WET_THRESHOLD = 0.4
SUBSETS = ("all", f"sm_gt_{WET_THRESHOLD}")
#: Columns of :func:`evaluate`'s table (``tables/model_comparison.csv``).
COMPARISON_COLUMNS = ("model", "subset", *SCORES)


def predict(model: Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Soil moisture for every day of normalised sequences, with any model of the zoo.

    Parameters
    ----------
    model : SequenceModel or XGBoostModel
        A deep model runs in evaluation mode, without gradients, in batches, on the device
        holding its weights (missing inputs set to the training mean, the policy of
        :mod:`helpers.inputs`); XGBoost predicts every day as a row, missing values as NaN.
    x : numpy.ndarray
        (n, T, F) inputs normalised with the training statistics, features in the model's
        order.
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    numpy.ndarray
        (n, T) float32.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[2] != model.n_features:
        raise ValueError(f"{model.name}: expected x of shape (n, T, {model.n_features}), got {x.shape}")
    if isinstance(model, SequenceModel):
        return model.predict_sequences(inputs.fill_missing(x), batch_size=batch_size)
    return model.predict_sequences(x, batch_size=batch_size)


def evaluate(
    model: Model,
    samples: Samples,
    split: str = "test",
    feature_subset: Sequence[str] | None = None,
    label: str | None = None,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Skill of a model on the central days with a target of a held-out split.

    Parameters
    ----------
    model : SequenceModel or XGBoostModel
    samples : SampleStore or ArraySamples
    split : {"test", "validation"}
        Never ``"train"``: reported skill comes from locations the model did not learn.
    feature_subset : list of str, optional
        The features the model was trained on (see :func:`feature_columns`).
    label : str, optional
        The ``model`` column (default: the model's registry name).
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    pandas.DataFrame
        Two rows, subsets ``all`` and ``sm_gt_0.4`` (reference target above
        :data:`WET_THRESHOLD`), columns :data:`COMPARISON_COLUMNS` (metrics of
        :func:`helpers.metrics.score_all`, estimate = model, reference = target).
    """
    if split == "train":
        raise ValueError("evaluate: skill is never computed on the train split; use 'test' or 'validation'")
    names, columns = feature_columns(samples, feature_subset)
    if model.n_features != len(names):
        raise ValueError(
            f"{model.name} takes {model.n_features} features; the feature subset has {len(names)}"
        )
    x, y, central = samples.sequences(split, normalise=True)
    estimate = predict(model, x[..., columns], batch_size=batch_size)
    return skill_table(estimate, y, central, label or model.name)


def skill_table(estimate: np.ndarray, target: np.ndarray, central: np.ndarray, label: str) -> pd.DataFrame:
    """Rows ``all`` and ``sm_gt_0.4`` of the comparison table for predicted sequences.

    Scored on central days with a finite target; the wet subset keeps the days whose target
    exceeds :data:`WET_THRESHOLD`. Columns :data:`COMPARISON_COLUMNS`.
    """
    scored = central & np.isfinite(target)
    rows = [
        {"model": label, "subset": subset} | score_all(estimate[keep], target[keep])
        for subset, keep in zip(SUBSETS, (scored, scored & (target > WET_THRESHOLD)), strict=True)
    ]
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
