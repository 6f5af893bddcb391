"""Training: one loop for every deep model of the zoo, XGBoost on pixel-day rows, test skill.

User guide
----------
::

    store = open_samples(params)                       # helpers.sampling (or ArraySamples)
    result = train_torch_model("atlstm", store, params, params.run_dir)
    result.history                                     # epoch, train_loss, val_loss, lr, seconds
    boosted = train_xgboost(store, params, params.run_dir)
    table = pd.concat([evaluate(result.model, store), evaluate(boosted.model, store)])

The deep models (``lstm``, ``bilstm``, ``atlstm``, ``transformer``) share one loop driven by
``params.training`` (:class:`~helpers.params.TrainingParams`):

* the split's normalised sequences are loaded once; each step gathers a mini-batch of
  ``batch_size`` sequences by an index array (non-finite inputs become 0, the training mean);
* the loss is :func:`masked_mse`: only central days (the year, not its margins) with a valid
  target count;
* Adam (``learning_rate``, ``weight_decay``), gradient-norm clipping (``grad_clip``),
  ``ReduceLROnPlateau`` on the validation loss (``lr_factor``, ``lr_patience``) and early
  stopping after ``patience`` epochs without a better validation loss (at most
  ``max_epochs``; "better" is a fall of at least ``min_delta`` relative to the best, for both); ``sequences_per_epoch`` draws that many training sequences at random per
  epoch, and keeps a fixed random subset of that many validation sequences, to bound the
  time of a demo;
* epoch ``k`` shuffles with ``numpy.random.default_rng([seed, k])`` and torch's random state
  is checkpointed, so a run is repeatable (deterministic kernels on the CPU) and a resumed
  run ends as an uninterrupted one would.

Files, under ``run_dir/data``: ``<label>.pt`` (the best epoch's weights, written by
:func:`helpers.models.save_model` with ``extra`` = ``feature_names``, ``stats`` and
``params``) and ``checkpoints/<label>.pt`` (after every epoch: model, optimiser, scheduler,
random state, history and best weights). ``label`` defaults to the model name; give another
one for variants such as an ablation. ``resume=True`` continues from the checkpoint.

XGBoost (:func:`train_xgboost`) learns from pixel-day rows (``samples.tabular``, at most
``xgboost_max_rows``) of the same normalised features, in the same order, with early stopping
on validation rows. :func:`predict` runs any model on (n, T, F) sequences;
:func:`evaluate` scores a model on the central days of the validation or test split (never
the training split) for all days and for wet days (target above 0.4 m3 m-3), as the rows of
``tables/model_comparison.csv``.

``feature_subset`` (a list of feature names) trains and evaluates on those features only,
kept in the samples' order, e.g. without the AVHRR or ERA5-Land inputs; the saved model
records exactly its features.

Without :mod:`helpers.sampling`, :class:`ArraySamples` offers the same reading methods on
in-memory arrays.
Modules
-------
==============  ==========================================================================
``samples``     :class:`ArraySamples`, the :data:`Samples` type and :func:`feature_columns`
``result``      :class:`TrainingResult`, and what every saved model records of its samples
``neural``      the deep models' loop: device, loss, epochs, early stopping, checkpoints
``boosted``     :func:`train_xgboost` on pixel-day rows
``evaluation``  :func:`predict`, :func:`evaluate` and :func:`skill_table`
==============  ==========================================================================
"""

from helpers.training.boosted import train_xgboost
from helpers.training.evaluation import (
    COMPARISON_COLUMNS,
    SUBSETS,
    WET_THRESHOLD,
    evaluate,
    predict,
    skill_table,
)
from helpers.training.neural import (
    CHECKPOINT_FORMAT,
    GPU_DATA_SHARE,
    checkpoint_identity,
    checkpoint_path,
    masked_mse,
    pick_device,
    set_threads,
    train_torch_model,
)
from helpers.training.result import HISTORY_COLUMNS, TrainingResult
from helpers.training.samples import ArraySamples, Samples, feature_columns

__all__ = [
    "CHECKPOINT_FORMAT",
    "COMPARISON_COLUMNS",
    "GPU_DATA_SHARE",
    "HISTORY_COLUMNS",
    "SUBSETS",
    "WET_THRESHOLD",
    "ArraySamples",
    "Samples",
    "TrainingResult",
    "checkpoint_identity",
    "checkpoint_path",
    "evaluate",
    "feature_columns",
    "masked_mse",
    "pick_device",
    "predict",
    "set_threads",
    "skill_table",
    "train_torch_model",
    "train_xgboost",
]
