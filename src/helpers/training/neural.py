"""The deep models' training loop (torch): device, loss, epochs, early stopping and checkpoints.

:func:`train_torch_model` trains any deep model of the zoo (``lstm``, ``bilstm``, ``atlstm``,
``transformer``) with :func:`masked_mse`, saves the best epoch's model and checkpoints every
epoch (:func:`checkpoint_path`, :func:`checkpoint_identity`) so that ``resume=True`` ends as an
uninterrupted run would. :func:`pick_device` and :func:`set_threads` say where torch runs,
for training and for production alike. The loop is told in :mod:`helpers.training`.
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

from helpers import inputs, keys
from helpers.io import atomic_path
from helpers.models import (
    PREDICTION_KEY,
    SequenceModel,
    get_model,
    is_sequence_model,
    save_model,
    seed_everything,
)
from helpers.params import Params
from helpers.progress import progress_bar
from helpers.sampling import SampleStore
from helpers.training.result import HISTORY_COLUMNS, TrainingResult, model_extra
from helpers.training.samples import Samples, feature_columns

log = logging.getLogger(__name__)

#: The ``format`` entry of a training checkpoint.
CHECKPOINT_FORMAT = "glass-sm training checkpoint"
#: ReduceLROnPlateau's relative threshold when ``training.min_delta`` is 0 (torch's default).
LR_SCHEDULE_THRESHOLD = 1e-4
#: Share of the free GPU memory that the training and validation arrays may take on the GPU.
GPU_DATA_SHARE = 0.25


# Where torch runs ------------------------------------------------------------------------


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


def set_threads(params: Params) -> None:
    """Pin torch's CPU threads to ``training.num_threads``."""
    torch.set_num_threads(params.training.num_threads)


# The deep-model loop ---------------------------------------------------------------------


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
        run.model, Path(run_dir) / "data" / f"{label}.pt", extra=model_extra(samples, names, params)
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
            optimizer,
            factor=training.lr_factor,
            patience=training.lr_patience,
            threshold=training.min_delta or LR_SCHEDULE_THRESHOLD,
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
        bar = progress_bar(total=training.max_epochs, initial=state["epoch"], desc=label, unit="epoch", disable=not progress)
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
            if val_loss < state["best_loss"] * (1.0 - training.min_delta):
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


# Checkpoints -----------------------------------------------------------------------------


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
