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
  ``max_epochs``); ``sequences_per_epoch`` draws that many training sequences at random per
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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from helpers import inputs, keys
from helpers.io import atomic_path
from helpers.metrics import SCORES, score_all
from helpers.models import (
    PREDICTION_KEY,
    Model,
    SequenceModel,
    XGBoostModel,
    get_model,
    is_sequence_model,
    save_model,
    seed_everything,
)
from helpers.params import Params, params_as_dict
from helpers.sampling import SPLITS, SampleStore, tabular_rows

log = logging.getLogger(__name__)

#: Wet-day subset of :func:`evaluate`: reference target above this, m3 m-3.
WET_THRESHOLD = 0.4
SUBSETS = ("all", f"sm_gt_{WET_THRESHOLD}")
#: Columns of :func:`evaluate`'s table (``tables/model_comparison.csv``).
COMPARISON_COLUMNS = ("model", "subset", *SCORES)
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "seconds")
CHECKPOINT_FORMAT = "glass-sm training checkpoint"
#: Share of the free GPU memory that the training and validation arrays may take on the GPU.
GPU_DATA_SHARE = 0.25


# Samples held in memory ------------------------------------------------------------------


class ArraySamples:
    """In-memory samples with the reading methods of :class:`helpers.sampling.SampleStore`.

    Parameters
    ----------
    x : array_like
        Raw inputs, (n, T, F).
    y : array_like
        Target, (n, T), NaN where missing.
    central : array_like of bool
        (n, T) or (T,): the days a loss or a score may use.
    split : array_like of str
        (n,): ``"train"``, ``"validation"`` or ``"test"`` per sequence.
    feature_names : list of str, optional
        Default ``feature_0``, ``feature_1`` ...
    stats : pandas.DataFrame, optional
        ``mean`` and ``std`` per feature to normalise with, e.g. those of the sample store the
        arrays were cut from; by default computed from the central days of train sequences.

    Attributes
    ----------
    feature_names : list of str
    stats : pandas.DataFrame
        ``mean`` and ``std`` per feature (index), from central days of train sequences.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        central: np.ndarray,
        split: Sequence[str] | np.ndarray,
        feature_names: Sequence[str] | None = None,
        stats: pd.DataFrame | None = None,
    ) -> None:
        self.x = np.asarray(x, dtype=np.float32)
        self.y = np.asarray(y, dtype=np.float32)
        if self.x.ndim != 3 or self.y.shape != self.x.shape[:2]:
            raise ValueError(f"x must be (n, T, F) and y (n, T); got {self.x.shape} and {self.y.shape}")
        self.central = np.broadcast_to(np.asarray(central, dtype=bool), self.y.shape)
        self.split = np.asarray(split, dtype=str)
        if self.split.shape != (len(self.x),) or not np.isin(self.split, SPLITS).all():
            raise ValueError(f"split must hold one of {SPLITS} per sequence ({len(self.x)})")
        names = (
            [f"feature_{i}" for i in range(self.x.shape[2])] if feature_names is None else list(feature_names)
        )
        if len(names) != self.x.shape[2]:
            raise ValueError(f"{len(names)} feature names for {self.x.shape[2]} features")
        self.feature_names = names
        train = self.split == "train"
        if not train.any():
            raise ValueError("no train sequence: the normalisation statistics need some")
        if stats is not None:
            missing = [name for name in names if name not in stats.index]
            if missing or not {"mean", "std"} <= set(stats.columns):
                raise ValueError(f"stats must hold 'mean' and 'std' for every feature; missing {missing}")
            self.stats = stats.loc[names, ["mean", "std"]].copy()
            return
        days = self.x[train][self.central[train]]
        self.stats = pd.DataFrame(
            {"mean": np.nanmean(days, axis=0), "std": np.nanstd(days, axis=0)},
            index=pd.Index(names, name="feature"),
        )

    def __repr__(self) -> str:
        counts = {split: int((self.split == split).sum()) for split in SPLITS}
        return f"ArraySamples({self.x.shape}, sequences: {counts})"

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` per feature (last axis); a feature without spread is only centred."""
        std = self.stats["std"].to_numpy()
        return ((x - self.stats["mean"].to_numpy()) / np.where(std > 0, std, 1.0)).astype(np.float32)

    def sequences(
        self, split: str, years: Sequence[int] | None = None, normalise: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All sequences of a split: ``x`` (n, T, F), ``y`` (n, T) with NaN, ``central`` (n, T).

        ``years`` must be None: the arrays carry no calendar.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if years is not None:
            raise ValueError("ArraySamples have no years; pass years=None")
        pick = self.split == split
        x = self.x[pick]
        return (self.normalise(x) if normalise else x), self.y[pick], self.central[pick].copy()

    def tabular(
        self,
        split: str,
        max_rows: int | None = None,
        rng: np.random.Generator | None = None,
        years: Sequence[int] | None = None,
        normalise: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows (n, F) and target (n,) of central days with a target; at most ``max_rows``, drawn at random."""
        return tabular_rows(*self.sequences(split, years, normalise), max_rows=max_rows, rng=rng)

Samples = SampleStore | ArraySamples


# Shared pieces ---------------------------------------------------------------------------


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


def pick_device(setting: str = "auto", key: str = "training.device") -> torch.device:
    """The torch device of a device setting (``training.device``, ``production.device``).

    Parameters
    ----------
    setting : {"auto", "cpu", "cuda"}
        ``auto`` is ``cuda`` when a GPU is available, else ``cpu``.
    key : str
        The params key the setting comes from, for the error message.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        For another setting, or ``cuda`` without a usable GPU.
    """
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cpu":
        return torch.device("cpu")
    if setting == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{key} is 'cuda' but torch sees no usable GPU; use 'auto' or 'cpu'")
        return torch.device("cuda")
    raise ValueError(f"{key} must be 'auto', 'cpu' or 'cuda', got {setting!r}")


def feature_columns(
    samples: Samples, feature_subset: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """The features a model uses and their columns in the samples.

    Parameters
    ----------
    samples : SampleStore or ArraySamples
    feature_subset : list of str, optional
        Names to keep (None: all). They are returned in the samples' order.

    Returns
    -------
    names : list of str
    columns : numpy.ndarray of int

    Raises
    ------
    ValueError
        For an empty subset, a repeated name or a name the samples do not have.
    """
    names = list(samples.feature_names)
    if feature_subset is None:
        return names, np.arange(len(names))
    subset = list(feature_subset)
    unknown = [name for name in subset if name not in names]
    if not subset or unknown or len(set(subset)) != len(subset):
        raise ValueError(
            f"feature_subset must be distinct names among {names}; got {subset}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    columns = np.array(sorted(names.index(name) for name in subset))
    return [names[i] for i in columns], columns


def _model_extra(samples: Samples, names: list[str], params: Params) -> dict[str, Any]:
    stats = samples.stats.loc[names]
    return {
        "feature_names": names,
        "stats": {"mean": stats["mean"].tolist(), "std": stats["std"].tolist()},
        "params": params_as_dict(params),
    }


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the days where ``mask`` is True.

    .. math:: L = \\frac{\\sum_{s,t} m_{st} (\\hat y_{st} - y_{st})^2}{\\max(1, \\sum_{s,t} m_{st})}

    Parameters
    ----------
    prediction, target : torch.Tensor
        (batch, time); ``target`` may hold anything (NaN included) where ``mask`` is False.
    mask : torch.Tensor of bool
        (batch, time): central days with a valid target.

    Returns
    -------
    torch.Tensor
        A scalar; 0 when no day is masked in.
    """
    squared = torch.where(mask, (prediction - torch.where(mask, target, prediction)) ** 2, 0.0)
    return squared.sum() / mask.sum().clamp(min=1)


# The deep-model loop ---------------------------------------------------------------------


class _SplitTensors:
    """One split's normalised sequences as tensors, gathered by index arrays.

    With ``keep``, only that many sequences, drawn once at random with ``seed``, are held.
    """

    def __init__(
        self,
        samples: Samples,
        split: str,
        columns: np.ndarray,
        device: torch.device,
        keep: int | None = None,
        seed: int = 0,
    ) -> None:
        x, y, central = samples.sequences(split, normalise=True)
        if len(x) == 0:
            raise ValueError(f"the {split} split holds no sequence")
        if keep is not None and keep < len(x):
            pick = np.sort(np.random.default_rng(seed).choice(len(x), size=keep, replace=False))
            x, y, central = x[pick], y[pick], central[pick]
        mask = central & np.isfinite(y)
        if not mask.any():
            raise ValueError(f"the {split} split has no central day with a target")
        self.loss_days = mask.sum(axis=1)
        self.x = torch.from_numpy(np.ascontiguousarray(inputs.fill_missing(x[..., columns], f"{split} split")))
        self.y = torch.from_numpy(np.where(mask, y, 0).astype(np.float32))
        self.mask = torch.from_numpy(mask)
        self.device = device
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if self.nbytes < GPU_DATA_SHARE * free:
                self.x, self.y, self.mask = (t.to(device) for t in (self.x, self.y, self.mask))

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in (self.x, self.y, self.mask))

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pick = torch.from_numpy(index).to(self.x.device)
        return tuple(t[pick].to(self.device, non_blocking=True) for t in (self.x, self.y, self.mask))


def _epoch_order(n: int, seed: int, epoch: int, per_epoch: int | None) -> np.ndarray:
    rng = np.random.default_rng([seed, epoch])
    if per_epoch is None:
        return rng.permutation(n)
    return rng.choice(n, size=per_epoch, replace=per_epoch > n)


def _train_epoch(
    model: SequenceModel,
    optimizer: torch.optim.Optimizer,
    data: _SplitTensors,
    order: np.ndarray,
    batch_size: int,
    grad_clip: float | None,
) -> tuple[float, float]:
    """One pass over ``order``; returns the mean loss per loss day and the seconds spent gathering."""
    model.train()
    total = torch.zeros((), device=data.device)
    wait = 0.0
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        tick = perf_counter()
        x, y, mask = data.batch(index)
        wait += perf_counter() - tick
        optimizer.zero_grad(set_to_none=True)
        loss = masked_mse(model(x)[PREDICTION_KEY], y, mask)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total += loss.detach() * int(data.loss_days[index].sum())
    return total.item() / max(int(data.loss_days[order].sum()), 1), wait


def _mean_loss(model: SequenceModel, data: _SplitTensors, batch_size: int) -> tuple[float, float]:
    """Masked MSE over a whole split (evaluation mode); returns it and the seconds spent gathering."""
    model.eval()
    total = torch.zeros((), device=data.device)
    wait = 0.0
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            tick = perf_counter()
            x, y, mask = data.batch(np.arange(start, min(start + batch_size, len(data))))
            wait += perf_counter() - tick
            total += masked_mse(model(x)[PREDICTION_KEY], y, mask) * mask.sum()
    return total.item() / int(data.loss_days.sum()), wait


def checkpoint_path(run_dir: Path | str, label: str) -> Path:
    """Where :func:`train_torch_model` keeps the checkpoint of a run: ``data/checkpoints/<label>.pt``."""
    return Path(run_dir) / "data" / "checkpoints" / f"{label}.pt"


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}


def _load_checkpoint(path: Path, identity: dict[str, Any]) -> dict[str, Any]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a training checkpoint")
    differs = [key for key, value in identity.items() if checkpoint.get(key) != value]
    if differs:
        raise ValueError(
            f"{path}: checkpoint of another run (different {', '.join(differs)}); "
            "delete it or pass resume=False"
        )
    return checkpoint


def _save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def train_torch_model(
    name: str,
    samples: Samples,
    params: Params,
    run_dir: Path | str,
    feature_subset: Sequence[str] | None = None,
    progress: bool = True,
    resume: bool = False,
    label: str | None = None,
) -> TrainingResult:
    """Train a deep model of the zoo with early stopping, checkpoints and the best model saved.

    Parameters
    ----------
    name : str
        Registry name: "lstm", "bilstm", "atlstm" or "transformer".
    samples : SampleStore or ArraySamples
        Its ``train`` sequences are learnt from, its ``validation`` ones (at most
        ``training.sequences_per_epoch`` of them, drawn once) drive early stopping and the
        learning-rate schedule.
    params : Params
        ``seed``, ``models`` (hyper-parameters) and ``training`` (the loop).
    run_dir : path-like
        The run folder; files go to ``run_dir/data`` (see the module docstring).
    feature_subset : list of str, optional
        Train on these features only (see :func:`feature_columns`).
    progress : bool
        Show a progress bar of epochs with the train and validation losses.
    resume : bool
        Continue from the run's checkpoint if there is one and it was made by the same run
        (:func:`checkpoint_identity`: model, features, hyper-parameters, training settings,
        seed and samples); a finished run is then only saved again.
    label : str, optional
        File stem of the model and its checkpoint (default: ``name``).

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        For a model that is not a deep one, an unknown feature, an empty train or validation
        split, or a checkpoint of another run.
    """
    started = perf_counter()
    if not is_sequence_model(name):
        raise ValueError(f"{name!r} is not a deep model; train it with train_xgboost")
    training = params.training
    label = label or name
    set_threads(params)
    device = pick_device(training.device)
    names, columns = feature_columns(samples, feature_subset)
    train = _SplitTensors(samples, "train", columns, device)
    validation = _SplitTensors(
        samples, "validation", columns, device, keep=training.sequences_per_epoch, seed=params.seed
    )
    wait = perf_counter() - started
    seed_everything(params.seed)
    run = _Run.start(name, len(names), params, device)
    identity = checkpoint_identity(name, names, samples, params)
    ckpt = checkpoint_path(run_dir, label)
    if resume and ckpt.exists():
        run.resume(_load_checkpoint(ckpt, identity), device)
        log.info("%s: resumed after epoch %d from %s", label, run.state["epoch"], ckpt)
    wait += run.epochs(train, validation, params, lambda: _save_checkpoint(ckpt, identity | run.checkpoint(device)),
                       label, progress)
    run.model.load_state_dict(run.best_state)
    run.model.eval()
    path = save_model(
        run.model, Path(run_dir) / "data" / f"{label}.pt", extra=_model_extra(samples, names, params)
    )
    wall = perf_counter() - started
    return TrainingResult(
        model=run.model,
        history=pd.DataFrame(run.state["history"], columns=list(HISTORY_COLUMNS)),
        best_epoch=run.state["best_epoch"],
        model_path=path,
        feature_names=names,
        wall_seconds=wall,
        data_wait_fraction=wait / wall,
        pixel_days_per_second=run.pixel_days / wall,
    )


def set_threads(params: Params) -> None:
    """Pin torch's CPU threads to ``training.num_threads``."""
    torch.set_num_threads(params.training.num_threads)


def checkpoint_identity(name: str, features: list[str], samples: Samples, params: Params) -> dict[str, Any]:
    """What a checkpoint must share with a run to be resumed by it.

    The model and its features and hyper-parameters, the training settings (but the device:
    a run may move to a GPU), the seed, and the samples: their training years, the digest of
    the split of their sequences and of their normalisation statistics (which the training
    locations and years determine).
    """
    split = samples.locations["split"].to_numpy() if isinstance(samples, SampleStore) else samples.split
    return {
        "model_name": name,
        "feature_names": features,
        "model_params": params.models.model_dump(mode="json"),
        "training": params.training.model_dump(mode="json", exclude={"device"}),
        "seed": params.seed,
        "samples": {
            "train_years": [int(y) for y in getattr(samples, "train_years", [])],
            "split": keys.digest({"split": np.asarray(split, dtype=str).tolist()}),
            "stats": keys.digest({"stats": samples.stats[["mean", "std"]].to_numpy().round(7).tolist()}),
        },
    }


@dataclass
class _Run:
    """A deep model's training run: model, optimiser, schedule and the loop's state."""

    model: SequenceModel
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    state: dict[str, Any]
    best_state: dict[str, torch.Tensor]
    pixel_days: int = 0

    @classmethod
    def start(cls, name: str, n_features: int, params: Params, device: torch.device) -> _Run:
        training = params.training
        model = get_model(name, n_features, params.models).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=training.lr_factor, patience=training.lr_patience
        )
        state = {"epoch": 0, "best_epoch": 0, "best_loss": float("inf"), "stale": 0, "history": []}
        return cls(model, optimizer, scheduler, state, _cpu_state(model))

    def resume(self, checkpoint: dict[str, Any], device: torch.device) -> None:
        """Continue from a checkpoint of the same run (:func:`checkpoint_identity` checked)."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if device.type == "cuda" and checkpoint["cuda_rng"] is not None:
            torch.cuda.set_rng_state(checkpoint["cuda_rng"], device)
        self.best_state = checkpoint["best_state"]
        self.state = {key: checkpoint[key] for key in self.state}

    def checkpoint(self, device: torch.device) -> dict[str, Any]:
        """The state to save after an epoch (with the identity added by the caller)."""
        return self.state | {
            "format": CHECKPOINT_FORMAT,
            "model": _cpu_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "best_state": self.best_state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        }

    def epochs(
        self,
        train: _SplitTensors,
        validation: _SplitTensors,
        params: Params,
        save: Callable[[], None],
        label: str,
        progress: bool,
    ) -> float:
        """Train until ``max_epochs`` or early stopping, saving after each epoch; returns the
        seconds spent gathering batches."""
        training, state, wait = params.training, self.state, 0.0
        bar = tqdm(total=training.max_epochs, initial=state["epoch"], desc=label, unit="epoch", disable=not progress)
        while state["epoch"] < training.max_epochs and state["stale"] < training.patience:
            tick = perf_counter()
            order = _epoch_order(len(train), params.seed, state["epoch"], training.sequences_per_epoch)
            learning_rate = self.optimizer.param_groups[0]["lr"]
            train_loss, train_wait = _train_epoch(
                self.model, self.optimizer, train, order, training.batch_size, training.grad_clip
            )
            val_loss, val_wait = _mean_loss(self.model, validation, training.batch_size)
            self.scheduler.step(val_loss)
            wait += train_wait + val_wait
            self.pixel_days += len(order) * train.x.shape[1]
            state["epoch"] += 1
            if val_loss < state["best_loss"]:
                state.update(best_epoch=state["epoch"], best_loss=val_loss, stale=0)
                self.best_state = _cpu_state(self.model)
            else:
                state["stale"] += 1
            state["history"].append({"epoch": state["epoch"], "train_loss": train_loss, "val_loss": val_loss,
                                     "lr": learning_rate, "seconds": perf_counter() - tick})
            save()
            bar.set_postfix(train_loss=f"{train_loss:.3g}", val_loss=f"{val_loss:.3g}", lr=f"{learning_rate:.2g}")
            bar.update()
        bar.close()
        if state["stale"] >= training.patience:
            log.info("%s: early stop after epoch %d (best %d)", label, state["epoch"], state["best_epoch"])
        return wait


# XGBoost ---------------------------------------------------------------------------------


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
        model, Path(run_dir) / "data" / f"{label}.ubj", extra=_model_extra(samples, names, params)
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


# Prediction and skill --------------------------------------------------------------------


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
