"""Shared machinery of the model zoo: the deep models' base class, seeding and errors.

Every deep model derives from :class:`SequenceModel`, which stores the number of input
features and the :class:`~helpers.params.ModelParams` it was built from, checks the input
shape, and offers :meth:`SequenceModel.predict_sequences` (NumPy in, NumPy out, batched,
without gradients) so that deep models and XGBoost are evaluated by one code path.
:func:`seed_everything` makes a training run repeatable.
"""

from __future__ import annotations

import os
import random
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from helpers import CUBLAS_WORKSPACE
from helpers.errors import SourceError
from helpers.params import ModelParams

PREDICTION_KEY = "sm"
ATTENTION_KEY = "attention"
FEATURE_NAMES_KEY = "feature_names"


class ModelFileError(SourceError):
    """A saved model is missing, unreadable, or does not fit what the caller expects.

    The message starts with the offending path.
    """


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); with ``deterministic``, also
    :func:`deterministic_torch`.

    Parameters
    ----------
    seed : int
        The seed, usually ``Params.seed``.
    deterministic : bool
        Ask torch for deterministic kernels only (an error, not a warning, where an operation
        has none).
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeds libraries that still draw from the global state)
    torch.manual_seed(seed)
    if deterministic:
        deterministic_torch()


def deterministic_torch() -> None:
    """Make torch's results depend on the inputs and the seed alone, on the CPU and on CUDA.

    ``torch.use_deterministic_algorithms(True)`` (an operation without a deterministic
    implementation raises instead of warning), cuDNN's autotuner off and its deterministic
    mode on. CUDA's cuBLAS also needs ``CUBLAS_WORKSPACE_CONFIG`` before CUDA starts:
    importing :mod:`helpers` sets it (``:4096:8``) unless the environment has one.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def regression_head(in_size: int, dropout: float) -> nn.Sequential:
    """Dropout followed by a linear map to one value per time step."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_size, 1))


def recurrent_dropout(params: ModelParams) -> float:
    """Dropout between stacked recurrent layers (none when there is a single layer)."""
    return params.dropout if params.num_layers > 1 else 0.0


class SequenceModel(nn.Module):
    """Base class of the deep models: sequence in, one prediction per time step out.

    Parameters
    ----------
    n_features : int
        Number of input features per time step.
    params : ModelParams
        Hyper-parameters; stored as ``self.params`` so they can be saved with the weights.

    Notes
    -----
    Subclasses set the class attribute ``name`` (their registry key), build their layers in
    ``__init__`` after calling ``super().__init__``, implement ``forward`` and, if their
    constructor takes keyword arguments beyond ``params``, return them from :meth:`options`.
    """

    name: ClassVar[str]

    def __init__(self, n_features: int, params: ModelParams) -> None:
        super().__init__()
        if n_features < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        self.n_features = n_features
        self.params = params

    def options(self) -> dict[str, Any]:
        """Constructor keyword arguments beyond ``params`` (saved beside the weights)."""
        return {}

    @property
    def device(self) -> torch.device:
        """The device holding the model's parameters."""
        return next(self.parameters()).device

    def check_input(self, x: Tensor) -> None:
        """Raise ValueError unless ``x`` has shape (batch, time, n_features)."""
        if x.ndim != 3 or x.shape[-1] != self.n_features:
            raise ValueError(
                f"{self.name}: expected input of shape (batch, time, {self.n_features}), got {tuple(x.shape)}"
            )

    def head_input(self, x: Tensor) -> Tensor:
        """Per-day inputs (batch, time, width) of ``self.head``, the model's last block.

        Monte-Carlo dropout (:mod:`helpers.production`) computes them once and draws only the
        head when the head holds the model's only active dropout.
        """
        raise NotImplementedError(f"{self.name} does not expose its head input")

    def predict_sequences(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Predict soil moisture for every time step of normalised NumPy sequences.

        Parameters
        ----------
        x : numpy.ndarray
            Shape (batch, time, n_features), normalised like the training data.
        batch_size : int
            Sequences per forward pass.

        Returns
        -------
        numpy.ndarray
            float32 predictions of shape (batch, time). The model is run in evaluation
            mode (no dropout) and its previous mode is restored afterwards.
        """
        was_training = self.training
        self.eval()
        chunks = []
        try:
            with torch.inference_mode():
                for start in range(0, len(x), batch_size):
                    batch = torch.as_tensor(x[start : start + batch_size], dtype=torch.float32)
                    chunks.append(self(batch.to(self.device))[PREDICTION_KEY].float().cpu().numpy())
        finally:
            self.train(was_training)
        if not chunks:
            return np.empty(np.shape(x)[:2], dtype=np.float32)
        return np.concatenate(chunks)


class EncoderHeadModel(SequenceModel):
    """A sequence encoder followed by one linear head applied to every day.

    Subclasses set ``self.head`` and implement :meth:`encode`; LSTM, Bi-LSTM and the
    Transformer share this forward pass.
    """

    def encode(self, x: Tensor) -> Tensor:
        """Per-day states (batch, time, width) of normalised inputs (batch, time, n_features)."""
        raise NotImplementedError

    def head_input(self, x: Tensor) -> Tensor:
        """The encoder's per-day states (see :meth:`SequenceModel.head_input`)."""
        self.check_input(x)
        return self.encode(x)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Predict every time step.

        Parameters
        ----------
        x : torch.Tensor
            (batch, time, n_features) float32, normalised.

        Returns
        -------
        dict
            ``"sm"``: (batch, time) predictions.
        """
        self.check_input(x)
        return {PREDICTION_KEY: self.head(self.encode(x)).squeeze(-1)}
