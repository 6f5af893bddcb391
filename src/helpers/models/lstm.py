"""Unidirectional LSTM: each day's prediction sees only that day and the days before it.

``num_layers`` stacked ``torch.nn.LSTM`` layers (cuDNN on GPU, oneDNN on CPU) with dropout
between them, then dropout and a linear head applied to every time step.
"""

from __future__ import annotations

from torch import Tensor, nn

from helpers.models.base import EncoderHeadModel, recurrent_dropout, regression_head
from helpers.params import ModelParams


class LSTM(EncoderHeadModel):
    """Causal (forward-in-time) LSTM, sequence to sequence.

    Parameters
    ----------
    n_features : int
        Input features per time step.
    params : ModelParams
        Uses ``hidden_size``, ``num_layers`` and ``dropout``.
    """

    name = "lstm"

    def __init__(self, n_features: int, params: ModelParams) -> None:
        super().__init__(n_features, params)
        self.lstm = nn.LSTM(
            n_features,
            params.hidden_size,
            num_layers=params.num_layers,
            dropout=recurrent_dropout(params),
            batch_first=True,
        )
        self.head = regression_head(params.hidden_size, params.dropout)

    def encode(self, x: Tensor) -> Tensor:
        """LSTM states of every day, (batch, time, hidden)."""
        states, _ = self.lstm(x)
        return states
