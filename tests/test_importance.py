"""Tests of helpers.importance on small synthetic data (notebook 03 runs in tests/test_notebooks.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import importance
from helpers.models import PREDICTION_KEY, XGBoostModel, get_model
from helpers.models.atlstm import attention_by_lag as lag_means
from helpers.params import ImportanceParams, ModelParams

NAMES = ["era5_sm", "lst", "elevation", "unused"]


def synthetic(n: int = 60, days: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, days, len(NAMES))).astype(np.float32)
    x[..., 2] = rng.normal(size=(n, 1))  # static
    y = (0.25 + 0.08 * x[..., 0] + 0.03 * x[..., 1] + 0.02 * x[..., 2]).astype(np.float32)
    central = np.zeros((n, days), dtype=bool)
    central[:, 5:35] = True
    return x, y, central


@pytest.fixture(scope="module")
def boosted() -> XGBoostModel:
    x, y, central = synthetic()
    rows, target = x[central][:, :3], y[central]
    model = XGBoostModel(3, ModelParams(xgboost_trees=40, xgboost_depth=4))
    model.fit(rows[:1200], target[:1200], rows[1200:], target[1200:], seed=0)
    return model


def test_treeshap_rows_add_up_to_the_prediction_and_match_shap(boosted):
    x, _, central = synthetic(seed=1)
    rows = x[central][:300, :3]
    values, base = importance.xgboost_shap(boosted, rows)
    assert values.shape == (300, 3)
    np.testing.assert_allclose(values.sum(axis=1) + base, boosted.predict(rows), atol=1e-5)
    assert importance.treeshap_difference(boosted, rows[:50]) < 1e-4
    with pytest.raises(ValueError, match="shape"):
        importance.xgboost_shap(boosted, rows[:, :2])


def test_permutation_importance_of_an_input_the_model_cannot_see_is_zero(boosted):
    x, y, central = synthetic(seed=2)
    scores = importance.permutation_importance(
        boosted, x, y, central, NAMES, NAMES[:3], np.random.default_rng(0), repeats=2
    )
    assert list(scores.index) == NAMES
    assert scores["unused"] == 0.0
    assert scores["era5_sm"] > scores["lst"] > 0
    lstm = get_model("lstm", 2, ModelParams(hidden_size=4))
    deep = importance.permutation_importance(
        lstm, x, y, central, NAMES, ["era5_sm", "elevation"], np.random.default_rng(0)
    )
    assert deep["lst"] == 0.0 and deep["unused"] == 0.0 and deep["era5_sm"] != 0.0


class Linear(torch.nn.Module):
    """sm_t = w . x_t: its exact SHAP values are known."""

    def __init__(self, weights: list[float]) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(len(weights), 1, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(torch.tensor([weights]))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {PREDICTION_KEY: self.layer(x).squeeze(-1)}


def test_expected_gradients_of_a_linear_model_are_exact():
    weights = [0.5, -0.2, 0.1, 0.0]
    model = Linear(weights)
    x, _, _ = synthetic(n=5, days=400)
    background = synthetic(n=1, days=400, seed=9)[0]
    result = importance.sequence_shap(model, background, x, nsamples=8)
    positions = importance.explained_positions()
    assert result.values.shape == (5, 4, 4) and list(positions) == [44, 134, 225, 317]
    expected = (x[:, positions] - background[:, positions]) * np.asarray(weights)
    np.testing.assert_allclose(result.values, expected, atol=1e-5)
    prediction = x[:, positions] @ np.asarray(weights)
    np.testing.assert_allclose(result.values.sum(axis=-1) + result.base, prediction, atol=1e-5)
    np.testing.assert_array_equal(result.inputs, x[:, positions])


def test_attention_by_lag_averages_the_weights_of_scored_days():
    params = ModelParams(hidden_size=8, attention_size=4)
    model = get_model("atlstm", 4, params)
    x, y, _ = synthetic(n=6, days=30)
    everything = np.ones(y.shape, dtype=bool)
    frame = importance.attention_by_sm_range(model, x, y, everything, max_lag=5, edges=[0.25])
    weights = model(torch.from_numpy(x), return_attention=True)["attention"]
    np.testing.assert_allclose(weights.detach().sum(-1).numpy(), 1.0, atol=1e-5)
    lags, expected = lag_means(weights, max_lag=5)
    overall = frame[frame["sm_range"] == "all"]
    np.testing.assert_array_equal(overall["lag"], lags)
    np.testing.assert_allclose(overall["weight"], expected, rtol=1e-5)
    assert list(dict.fromkeys(frame["sm_range"])) == ["all", "SM < 0.25", "SM > 0.25"]
    ranges = frame[(frame["lag"] == 0) & (frame["sm_range"] != "all")]
    assert ranges["days"].sum() == overall["days"].iloc[0] == y.size
    with pytest.raises(ValueError, match="AtLSTM"):
        importance.attention_by_sm_range(get_model("lstm", 4, params), x, y, everything, 5, [0.25])


def test_aspect_points_where_the_slope_faces():
    lat = np.array([10.0, 11.0, 12.0])
    rising_north = np.array([[0.0] * 3, [100.0] * 3, [200.0] * 3])
    assert np.allclose(importance.aspect_deg(rising_north, 1.0, lat), 180.0)  # faces south
    assert np.allclose(importance.aspect_deg(rising_north[::-1], 1.0, lat[::-1]), 180.0)
    rising_east = np.tile([0.0, 100.0, 200.0], (3, 1))
    assert np.allclose(importance.aspect_deg(rising_east, 1.0, lat), 270.0)  # faces west
    assert (importance.aspect_deg(np.zeros((3, 3)), 1.0, lat) == 0).all()


def test_tables_by_location_and_by_rank():
    values = np.array([[1.0, -2.0], [3.0, 0.0], [-5.0, 1.0]])
    where = pd.DataFrame({"location": [7, 7, 9], "lat": [1.0, 1.0, 2.0], "lon": [3.0, 3.0, 4.0]})
    table = importance.shap_by_location(values, where, ["a", "b"])
    assert list(table.index) == [7, 9] and list(table["rows"]) == [2, 1]
    assert table.loc[7, "a"] == 2.0 and table.loc[9, "b"] == 1.0
    rows = importance.importance_table(
        [
            ("m", "shap_mean_abs", pd.Series({"a": 0.1, "b": 0.3})),
            ("m", "permutation_rmse", pd.Series({"a": 0.2, "b": -0.1})),
        ]
    )
    assert list(rows.columns) == list(importance.IMPORTANCE_COLUMNS) and list(rows["feature"][:2]) == [
        "b",
        "a",
    ]
    ranked = importance.ranks(rows)
    assert ranked.loc["b", ("shap_mean_abs", "m")] == 1 and ranked.loc["b", ("permutation_rmse", "m")] == 2


@pytest.mark.parametrize("edges", [[0.3, 0.15], [0.0, 0.2], [0.2, 1.2]])
def test_sm_range_edges_must_increase_inside_zero_one(edges):
    with pytest.raises(ValueError, match="sm_range_edges"):
        ImportanceParams(sm_range_edges=edges)
    assert importance.sm_range_labels([0.15, 0.3]) == ["SM < 0.15", "0.15-0.3", "SM > 0.3"]
