"""The spread behind ``sm_uncertainty``: the spread head, and the Monte-Carlo-dropout baseline.

Two ways to say how far an estimate may be from the target:

* **The spread head** (``production.uncertainty: spread_head``, the default): a small network
  :class:`SpreadHead` maps what the model computes for a day (its head input, the per-day
  features the last layer turns into ``sm``) and the estimate itself to the standard deviation
  of the error. It is fitted by Gaussian likelihood on residuals of the TRAIN split
  (:func:`helpers.production.calibration.fit_spread_head`), so it learns *where and when* the
  model errs: wet soils, some climates, days whose inputs are unusual. The model is left
  as it is: the estimate (and so every skill figure) does not change.
* **Monte-Carlo dropout** (``mc_dropout``, kept as the baseline): the spread of predictions
  with dropout active. It describes only how unsure the weights are, and hardly tells a large
  error from a small one.

Either spread is then scaled by one factor fitted on the VALIDATION split
(:mod:`helpers.production.calibration`), whose record :func:`read_calibration` reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from helpers.io import atomic_path
from helpers.models import PREDICTION_KEY, Model, SequenceModel
from helpers.params import Params
from helpers.production.files import calibration_path

#: Kept in the spread head's file; a file of another version is refitted.
SPREAD_HEAD_FORMAT = 1


# Monte-Carlo dropout (the baseline) -----------------------------------------------------------


def dropouts(model: torch.nn.Module) -> list[torch.nn.Dropout]:
    """The model's dropout layers with a non-zero rate."""
    return [m for m in model.modules() if isinstance(m, torch.nn.Dropout) and m.p > 0]


def has_linear_dropout_head(model: SequenceModel) -> bool:
    """True when ``model.head`` is Dropout then Linear and holds the model's only active dropout."""
    head = getattr(model, "head", None)
    return (
        isinstance(head, torch.nn.Sequential)
        and len(head) == 2
        and isinstance(head[0], torch.nn.Dropout)
        and isinstance(head[1], torch.nn.Linear)
        and {id(m) for m in dropouts(model)} <= {id(head[0])}
    )


def dropout_head_spread(model: SequenceModel, features: Tensor) -> Tensor:
    r"""Exact Monte-Carlo-dropout standard deviation of a dropout-linear head, from its input.

    With head input :math:`f`, weights :math:`w` and dropout rate :math:`p`, a dropout pass
    gives :math:`y = b + \sum_i m_i f_i w_i / (1 - p)` with independent
    :math:`m_i \sim \mathrm{Bernoulli}(1 - p)`, hence

    .. math:: E[y] = b + f \cdot w, \qquad \sigma_y = \sqrt{\tfrac{p}{1 - p} \sum_i (f_i w_i)^2}

    the limit of the standard deviation of infinitely many passes, at the cost of none.
    """
    p = float(model.head[0].p)
    weights = model.head[1].weight[0].float()
    return ((p / (1 - p)) * ((features.float() * weights) ** 2).sum(dim=-1)).sqrt()


def linear_head_spread(model: SequenceModel, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Prediction (n, T) and exact dropout spread (:func:`dropout_head_spread`) of normalised ``x``."""
    sm = np.empty(x.shape[:2], dtype=np.float32)
    spread = np.empty(x.shape[:2], dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                batch = torch.as_tensor(x[start : start + batch_size], device=model.device)
                features = model.head_input(batch)
                stop = start + len(batch)
                sm[start:stop] = model.head[1](features).squeeze(-1).float().cpu().numpy()
                spread[start:stop] = dropout_head_spread(model, features).cpu().numpy()
    finally:
        model.train(was_training)
    return sm, spread


def dropout_draws(
    model: SequenceModel, x: np.ndarray, passes: int, batch_size: int, head_only: bool | None = None
) -> np.ndarray:
    """``passes`` predictions (passes, n, T) with the dropout layers active.

    When every active dropout layer sits in ``model.head`` (one-layer LSTM, Bi-LSTM, AtLSTM),
    the head's input is computed once and only the head is drawn ``passes`` times, which gives
    the same distribution at a fraction of the cost; otherwise the whole model runs per pass.
    ``head_only`` forces one way or the other (None: decide as above).
    """
    if head_only is None:
        head_only = hasattr(model, "head") and set(map(id, dropouts(model))) <= set(map(id, dropouts(model.head)))
    model.eval()
    draws = np.empty((passes, *x.shape[:2]), dtype=np.float32)
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = torch.as_tensor(x[start : start + batch_size], device=model.device)
                stop = start + len(batch)
                if head_only:
                    features = model.head_input(batch)
                    model.head.train()
                    for k in range(passes):
                        draws[k, start:stop] = model.head(features).squeeze(-1).float().cpu().numpy()
                    model.head.eval()
                else:
                    for module in dropouts(model):
                        module.train()
                    for k in range(passes):
                        draws[k, start:stop] = model(batch)[PREDICTION_KEY].float().cpu().numpy()
                    model.eval()
    finally:
        model.eval()
    return draws


# The spread head ---------------------------------------------------------------------------------


def gaussian_nll(log_variance: Tensor, residual: Tensor) -> Tensor:
    r"""Mean Gaussian negative log-likelihood of residuals, up to its constant.

    .. math:: L = \frac{1}{n} \sum_i \tfrac12 \left(\log \sigma_i^2 + r_i^2 / \sigma_i^2\right)

    Minimised by :math:`\sigma_i^2 = E[r_i^2]`: a proper scoring rule, so the fitted spread
    follows the size of the error rather than only its average.
    """
    return (0.5 * (log_variance + residual**2 * torch.exp(-log_variance))).mean()


class SpreadHead(nn.Module):
    """Standard deviation of a model's error from the model's per-day features and estimate.

    ``z = [features_t, sm_t]`` (the model's head input, or the normalised inputs for a
    model without one, and the clipped estimate), standardised with the statistics of the
    fitting rows, then ``log sigma_t^2 = MLP(z)`` with two hidden SiLU layers.
    """

    def __init__(self, n_inputs: int, hidden_size: int) -> None:
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(n_inputs))
        self.register_buffer("input_scale", torch.ones(n_inputs))
        self.net = nn.Sequential(
            nn.Linear(n_inputs, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.SiLU(),
            nn.Linear(hidden_size, 1),
        )

    def standardise_with(self, z: Tensor) -> None:
        """Set the input statistics from rows ``z`` (n, n_inputs)."""
        self.input_mean.copy_(z.mean(dim=0))
        self.input_scale.copy_(z.std(dim=0).clamp_min(1e-6))

    def log_variance(self, z: Tensor) -> Tensor:
        """``log sigma^2`` per row (any leading shape)."""
        return self.net((z.float() - self.input_mean) / self.input_scale).squeeze(-1)

    def forward(self, z: Tensor) -> Tensor:
        """The standard deviation ``sigma`` per row."""
        return torch.exp(0.5 * self.log_variance(z))


def spread_inputs(features: Tensor, sm: Tensor) -> Tensor:
    """The spread head's input ``[features, sm]`` (..., H + 1) from features (..., H) and sm (...)."""
    return torch.cat([features.float(), sm.float().unsqueeze(-1)], dim=-1)


def spread_head_identity(model_digest: str, n_inputs: int, params: Params, samples_key: str) -> dict[str, Any]:
    """What a fitted spread head depends on: the model file, its settings, the seed and the samples."""
    return {
        "format": SPREAD_HEAD_FORMAT,
        "model_digest": model_digest,
        "n_inputs": n_inputs,
        "settings": params.production.spread_head.model_dump(mode="json"),
        "seed": params.seed,
        "samples": samples_key,
    }


def save_spread_head(head: SpreadHead, path: Path, identity: dict[str, Any], record: dict[str, Any]) -> None:
    """Write the head's weights with its identity and fitting record (atomically)."""
    state = {key: value.detach().cpu() for key, value in head.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"state": state, "identity": json.dumps(identity), "record": json.dumps(record)}, tmp)


def load_spread_head(path: Path, device: torch.device | str = "cpu") -> tuple[SpreadHead, dict, dict]:
    """The head in ``path``, its identity and its record; ``ValueError`` naming the file if unreadable."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        identity, record = json.loads(saved["identity"]), json.loads(saved["record"])
        head = SpreadHead(int(identity["n_inputs"]), int(identity["settings"]["hidden_size"]))
        head.load_state_dict(saved["state"])
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path}: not a spread head ({exc}); delete it and rerun calibrate") from None
    return head.to(device).eval(), identity, record


def model_head_width(model: Model) -> int:
    """Width of the per-day features the spread head gets from ``model`` (head input or inputs)."""
    if isinstance(model, SequenceModel):
        head = getattr(model, "head", None)
        linear = [m for m in head.modules() if isinstance(m, nn.Linear)] if head is not None else []
        if linear:
            return int(linear[0].in_features)
    return int(model.n_features)


# The calibration record -------------------------------------------------------------------------


def read_calibration(params: Params) -> dict | None:
    """The calibration record of :func:`helpers.production.calibration.calibrate`, or None."""
    path = calibration_path(params)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        missing = {"factor", "model_digest", "level", "method"} - set(record)
        if missing:
            raise ValueError(f"keys {sorted(missing)} missing")
        record["factor"] = float("nan") if record["factor"] is None else float(record["factor"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a calibration record ({exc}); delete it and run calibrate") from None
    return record
