"""The model applied: a loaded model with its normalisation, spread head and calibration.

:meth:`Applied.estimate` turns raw input sequences (n, T, F) into the estimate and the
(uncalibrated) spread of every day, the same way for production, calibration and the seam
checks. Missing inputs follow :mod:`helpers.inputs` (a deep model sees the training mean;
the caller flags the days).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from helpers import inputs
from helpers.cube import feature_names
from helpers.models import Model, SequenceModel, deterministic_torch, load_model
from helpers.params import Params
from helpers.production.files import calibration_path, model_digest, model_file, spread_head_path
from helpers.production.uncertainty import (
    SpreadHead,
    dropout_draws,
    dropouts,
    has_linear_dropout_head,
    linear_head_spread,
    load_spread_head,
    read_calibration,
    spread_inputs,
)
from helpers.training import pick_device, predict

log = logging.getLogger(__name__)

#: Upper bound of ``sm`` (m3 m-3): a porosity no soil exceeds; estimates are clipped to [0, SM_MAX].
SM_MAX = 0.6


def device_of(params: Params) -> str:
    """``production.device`` resolved (:func:`helpers.training.pick_device`): ``cpu`` or ``cuda``."""
    return pick_device(params.production.device, "production.device").type


@contextlib.contextmanager
def seeded_torch(seed: int, device: torch.device | str):
    """Run a block with torch's CPU (and CUDA) generators seeded by ``seed``, restoring them after."""
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@dataclass
class Applied:
    """A loaded model with the normalisation statistics it was trained with.

    ``spread_method`` is how :meth:`estimate` makes the spread: ``spread_head`` (with
    ``spread_head`` fitted for this model file) or ``mc_dropout``. ``uncertainty_factor`` is
    the calibration factor ``k`` of ``sm_uncertainty`` (1 and ``calibrated`` False without a
    calibration record that matches the model and the method); ``precision`` the autocast
    dtype of the forward pass on CUDA (``float32``: none).
    """

    model: Model
    mean: np.ndarray
    scale: np.ndarray
    name: str
    path: Path
    digest: str = ""
    spread_method: str = "mc_dropout"
    spread_head: SpreadHead | None = None
    spread_head_digest: str = ""
    uncertainty_factor: float = 1.0
    calibrated: bool = False
    calibration: dict = field(default_factory=dict)
    precision: str = "float32"

    @classmethod
    def load(
        cls, params: Params, device: str | None = None, calibrated: bool = True, spread_head: bool = True
    ) -> Applied:
        """Load :func:`model_file` on ``device`` (default :func:`device_of`), checking that it
        takes the datacube's features in order, with its spread head (``production.uncertainty:
        spread_head``; a missing or stale head falls back to Monte-Carlo dropout with a warning)
        and its calibration when one matches."""
        path = model_file(params)
        deterministic_torch()
        model, meta = load_model(path, expected_features=feature_names(params), device=device or device_of(params))
        stats = meta["extra"]["stats"]
        std = np.asarray(stats["std"], dtype=np.float32)
        applied = cls(
            model,
            np.asarray(stats["mean"], dtype=np.float32),
            np.where(std > 0, std, 1).astype(np.float32),
            meta["name"],
            path,
            model_digest(path),
            precision=params.production.precision,
        )
        if spread_head and params.production.uncertainty == "spread_head":
            applied.attach_spread_head(params)
        if calibrated:
            applied.attach_calibration(params)
        return applied

    def attach_spread_head(self, params: Params) -> None:
        """Use the spread head of :func:`spread_head_path` when it was fitted for this model file."""
        path = spread_head_path(params)
        if not path.exists():
            log.warning(
                "no spread head for %s (%s): sm_uncertainty falls back to the Monte-Carlo-dropout spread;"
                " fit it with helpers.production.calibrate (notebook 04)",
                self.path.name,
                path,
            )
            return
        head, identity, _ = load_spread_head(path, self.device)
        if identity.get("model_digest") != self.digest:
            log.warning(
                "%s was fitted for another model file: sm_uncertainty falls back to the"
                " Monte-Carlo-dropout spread; refit it with helpers.production.calibrate",
                path,
            )
            return
        self.spread_head, self.spread_method, self.spread_head_digest = head, "spread_head", model_digest(path)

    def attach_calibration(self, params: Params) -> None:
        """Scale the spread by the factor of :func:`read_calibration` when it was fitted for this
        model file and spread method (and spread head)."""
        record = read_calibration(params)
        if record is None:
            return
        fitted_for = (record["model_digest"], record["method"], record.get("spread_head_digest", ""))
        if fitted_for != (self.digest, self.spread_method, self.spread_head_digest):
            log.warning(
                "%s was fitted for another model, spread method or spread head; sm_uncertainty is left"
                " uncalibrated",
                calibration_path(params),
            )
        elif np.isfinite(record["factor"]):
            self.uncertainty_factor, self.calibrated, self.calibration = float(record["factor"]), True, record

    @property
    def device(self) -> torch.device:
        return self.model.device if isinstance(self.model, SequenceModel) else torch.device("cpu")

    def estimate(self, x: np.ndarray, passes: int, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Estimate (n, T) in evaluation mode and its uncalibrated spread, from raw inputs.

        With a spread head, the spread comes from the same forward pass as the estimate. With
        Monte-Carlo dropout and a head made of dropout followed by a linear map (the one-layer
        LSTM, Bi-LSTM and AtLSTM), the spread of infinitely many dropout passes is known
        exactly (:func:`helpers.production.uncertainty.linear_head_spread`); otherwise
        ``passes`` passes are drawn from a torch generator seeded by ``seed``, so that a
        unit's result does not depend on what ran before it. NaN spread without any.
        """
        normalised = inputs.normalise(x, self.mean, self.scale)
        model = self.model
        with self._autocast():
            if self.spread_head is not None:
                return self._with_spread_head(normalised, batch_size)
            if passes < 2 or not isinstance(model, SequenceModel) or not dropouts(model):
                return predict(model, normalised, batch_size=batch_size), np.full(x.shape[:2], np.nan, np.float32)
            normalised = inputs.fill_missing(normalised)
            if has_linear_dropout_head(model):
                return linear_head_spread(model, normalised, batch_size)
            with seeded_torch(seed, model.device):
                draws = dropout_draws(model, normalised, passes, batch_size)
            return predict(model, normalised, batch_size=batch_size), draws.std(axis=0)

    def head_features(self, normalised: np.ndarray, batch_size: int):
        """Yield ``(start, features, sm)`` per batch of normalised sequences: the model's head
        input (the normalised inputs for a model without one) and the estimate, as tensors."""
        model = self.model
        if not isinstance(model, SequenceModel):
            sm = predict(model, normalised, batch_size=batch_size)
            filled = inputs.fill_missing(normalised)
            for start in range(0, len(normalised), batch_size):
                stop = start + batch_size
                yield start, torch.as_tensor(filled[start:stop]), torch.as_tensor(sm[start:stop])
            return
        filled = inputs.fill_missing(normalised)
        model.eval()
        with torch.inference_mode():
            for start in range(0, len(filled), batch_size):
                batch = torch.as_tensor(filled[start : start + batch_size], device=model.device)
                features = model.head_input(batch)
                yield start, features, model.head(features).squeeze(-1)

    def _with_spread_head(self, normalised: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        sm = np.empty(normalised.shape[:2], dtype=np.float32)
        spread = np.empty(normalised.shape[:2], dtype=np.float32)
        with torch.inference_mode():
            for start, features, estimate in self.head_features(normalised, batch_size):
                stop = start + len(estimate)
                sm[start:stop] = estimate.float().cpu().numpy()
                z = spread_inputs(features, estimate.clamp(0.0, SM_MAX))
                spread[start:stop] = self.spread_head(z.to(self.device)).float().cpu().numpy()
        return sm, spread

    def _autocast(self):
        """Mixed precision for the forward passes (``production.precision``), else nothing."""
        if self.precision == "float32" or not isinstance(self.model, SequenceModel):
            return contextlib.nullcontext()
        device_type = torch.device(self.model.device).type
        if device_type == "cpu" and self.precision == "float16":
            raise ValueError("production.precision float16 needs CUDA; use bfloat16 or float32 on the CPU")
        return torch.autocast(device_type=device_type, dtype=getattr(torch, self.precision))
