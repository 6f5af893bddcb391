"""AtLSTM: a Bi-LSTM with an attention module over the sequence (the paper's best model).

For every day ``t`` the model forms an attention distribution over all days ``s`` of the
sequence (scaled dot-product attention, one head)::

    q_t = W_q h_t,   k_s = W_k h_s                     (projections of size attention_size)
    a_ts = softmax_s(q_t . k_s / sqrt(attention_size))  (over the allowed s)
    c_t = sum_s a_ts h_s                                 (context: weighted Bi-LSTM states)
    sm_t = head([h_t, c_t])

where ``h`` are the concatenated forward and backward Bi-LSTM states. Attention runs over
the whole sequence by default, as in the paper. ``attention_window=W`` restricts day ``t`` to
days ``|s - t| <= W`` with a band mask (an ablation of how far the model needs to look); the
weights are still returned as a full (batch, time, time) array, zero outside the band.

Memory: the attention matrix is dense, ``time**2`` values per sequence (0.7 MB in float32 for
a 425-day sequence, about three such arrays kept for the backward pass), so a batch of 256
sequences needs about 0.5 GB for attention; a window does not reduce this.

``forward(x, return_attention=True)`` adds the weights under ``"attention"``;
:func:`attention_by_lag` averages them by lag ``s - t`` for the "attention weight vs lag"
figure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from helpers.models.base import ATTENTION_KEY, PREDICTION_KEY, SequenceModel, regression_head
from helpers.models.bilstm import bidirectional_lstm
from helpers.params import ModelParams


def band_mask(length: int, window: int, device: torch.device | None = None) -> Tensor:
    """Boolean (length, length) mask, True where ``|s - t| <= window``."""
    steps = torch.arange(length, device=device)
    return (steps[None, :] - steps[:, None]).abs() <= window


class AtLSTM(SequenceModel):
    """Bi-LSTM with scaled dot-product attention over the sequence.

    Parameters
    ----------
    n_features : int
        Input features per time step.
    params : ModelParams
        Uses ``hidden_size`` (units per direction), ``num_layers``, ``dropout`` and
        ``attention_size`` (query/key projection size).
    attention_window : int or None
        None (default): every day attends to every day of the sequence. An integer ``W``:
        day ``t`` attends only to days ``t - W .. t + W``.
    """

    name = "atlstm"

    def __init__(self, n_features: int, params: ModelParams, attention_window: int | None = None) -> None:
        super().__init__(n_features, params)
        if attention_window is not None and attention_window < 0:
            raise ValueError(f"attention_window must be None or >= 0, got {attention_window}")
        self.attention_window = attention_window
        state_size = 2 * params.hidden_size
        self.lstm = bidirectional_lstm(n_features, params)
        self.query = nn.Linear(state_size, params.attention_size, bias=False)
        self.key = nn.Linear(state_size, params.attention_size, bias=False)
        self.head = regression_head(2 * state_size, params.dropout)

    def options(self) -> dict[str, Any]:
        """The attention window (saved beside the weights)."""
        return {"attention_window": self.attention_window}

    def _features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Head input ``[h_t, c_t]`` (batch, time, 4 hidden) and the attention weights."""
        self.check_input(x)
        states, _ = self.lstm(x)
        scores = self.query(states) @ self.key(states).transpose(1, 2)
        scores = scores / math.sqrt(self.params.attention_size)
        if self.attention_window is not None:
            allowed = band_mask(x.shape[1], self.attention_window, device=x.device)
            scores = scores.masked_fill(~allowed, float("-inf"))
        attention = torch.softmax(scores, dim=-1)
        return torch.cat([states, attention @ states], dim=-1), attention

    def head_input(self, x: Tensor) -> Tensor:
        """``[h_t, c_t]`` per day (see :meth:`SequenceModel.head_input`)."""
        return self._features(x)[0]

    def forward(self, x: Tensor, return_attention: bool = False) -> dict[str, Tensor]:
        """Predict every time step.

        Parameters
        ----------
        x : torch.Tensor
            (batch, time, n_features) float32, normalised.
        return_attention : bool
            Also return the attention weights.

        Returns
        -------
        dict
            ``"sm"``: (batch, time) predictions; with ``return_attention``, ``"attention"``:
            (batch, time, time) weights of day ``t`` (axis 1) on day ``s`` (axis 2), summing
            to one over the last axis.
        """
        features, attention = self._features(x)
        output = {PREDICTION_KEY: self.head(features).squeeze(-1)}
        if return_attention:
            output[ATTENTION_KEY] = attention
        return output


def attention_by_lag(
    attention: Tensor | np.ndarray, max_lag: int | None = None, scored: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean attention weight as a function of the lag ``s - t`` (days).

    For each lag, the weights ``a[b, t, t + lag]`` are averaged over the sequences ``b`` and
    over the predicted days ``t`` for which ``t + lag`` lies inside the sequence (and, with
    ``scored``, ``scored[b, t]`` holds). NaN at a lag no day contributes to.

    Parameters
    ----------
    attention : torch.Tensor or numpy.ndarray
        (batch, time, time) or (time, time) weights, as returned by ``AtLSTM.forward(x,
        return_attention=True)["attention"]``.
    max_lag : int or None
        Keep lags ``-max_lag .. max_lag`` only (default: all, ``-(time-1) .. time-1``).
    scored : numpy.ndarray of bool, optional
        (batch, time): the predicted days to average over (default: all).

    Returns
    -------
    lags : numpy.ndarray
        Integer lags in ascending order, symmetric around 0 (negative: the past).
    mean_weight : numpy.ndarray
        Mean weight at each lag.
    """
    lags, sums, counts = attention_lag_sums(attention, max_lag, scored)
    return lags, np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)


def attention_lag_sums(
    attention: Tensor | np.ndarray, max_lag: int | None = None, scored: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lags, summed weights and their counts behind :func:`attention_by_lag` (same arguments),
    so that batches can be added up before dividing."""
    if isinstance(attention, Tensor):
        attention = attention.detach().cpu().numpy()
    weights = np.asarray(attention, dtype=np.float64)
    if weights.ndim == 2:
        weights = weights[None]
    if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(f"attention must have shape (batch, time, time), got {weights.shape}")
    batch, length = weights.shape[0], weights.shape[1]
    scored = np.ones((batch, length), dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    if scored.shape != (batch, length):
        raise ValueError(f"scored must have shape {(batch, length)}, got {scored.shape}")
    steps = np.arange(length)
    lag_index = (steps[None, :] - steps[:, None] + length - 1).ravel()  # row t, column s
    per_day = scored.sum(axis=0).astype(np.float64)  # sequences scored on each predicted day t
    summed = (weights * scored[:, :, None]).sum(axis=0)  # (t, s)
    sums = np.bincount(lag_index, weights=summed.ravel(), minlength=2 * length - 1)
    counts = np.bincount(lag_index, weights=np.repeat(per_day, length), minlength=2 * length - 1)
    lags = np.arange(-(length - 1), length)
    if max_lag is not None:
        keep = np.abs(lags) <= max_lag
        lags, sums, counts = lags[keep], sums[keep], counts[keep]
    return lags, sums, counts
