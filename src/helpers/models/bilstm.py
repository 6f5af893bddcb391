"""Bidirectional LSTM (the paper's Bi-LSTM): each day's prediction sees the whole sequence.

One bidirectional ``torch.nn.LSTM`` layer by default (``num_layers`` stacks more, with
dropout between them): a forward and a backward pass over the sequence whose outputs are
concatenated (``2 * hidden_size`` values per day), then dropout and a linear head.
"""

from __future__ import annotations

from torch import Tensor, nn

from helpers.models.base import EncoderHeadModel, recurrent_dropout, regression_head
from helpers.params import ModelParams


def bidirectional_lstm(n_features: int, params: ModelParams) -> nn.LSTM:
    """The bidirectional LSTM shared by :class:`BiLSTM` and the AtLSTM."""
    return nn.LSTM(
        n_features,
        params.hidden_size,
        num_layers=params.num_layers,
        dropout=recurrent_dropout(params),
        batch_first=True,
        bidirectional=True,
    )


class BiLSTM(EncoderHeadModel):
    """Bidirectional LSTM, sequence to sequence.

    Parameters
    ----------
    n_features : int
        Input features per time step.
    params : ModelParams
        Uses ``hidden_size`` (units per direction), ``num_layers`` and ``dropout``.
    """

    name = "bilstm"

    def __init__(self, n_features: int, params: ModelParams) -> None:
        super().__init__(n_features, params)
        self.lstm = bidirectional_lstm(n_features, params)
        self.head = regression_head(2 * params.hidden_size, params.dropout)

    def encode(self, x: Tensor) -> Tensor:
        """Forward and backward states of every day, concatenated: (batch, time, 2 hidden)."""
        states, _ = self.lstm(x)
        return states
