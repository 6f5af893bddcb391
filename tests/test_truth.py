"""Scoring whole products against the twin world's truth (helpers.truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from helpers import truth
from helpers.cube import MASK_VALUES, open_cube
from helpers.metrics import TRUTH_SKILL_COLUMNS, Z_90, score_all
from helpers.truth import climate_groups


def test_moments_give_the_metrics_of_score_all_in_pieces():
    rng = np.random.default_rng(1)
    reference = rng.uniform(0.05, 0.45, 5000)
    estimate = reference + rng.normal(0.02, 0.03, 5000)
    estimate[::97] = np.nan
    moments = truth.Moments()
    for part in np.array_split(np.arange(5000), 7):
        moments.add(estimate[part], reference[part], np.full(part.size, 0.03))
    expected = score_all(estimate, reference)
    got = moments.scores()
    assert got["n"] == expected["n"]
    for name in ("r", "bias", "ubrmse", "rmse"):
        assert got[name] == pytest.approx(expected[name], rel=1e-9)
    inside = np.abs(estimate - reference) <= Z_90 * 0.03
    assert got["coverage_90"] == pytest.approx(inside[np.isfinite(estimate)].mean())
    assert np.isnan(truth.Moments().scores()["r"])


def _expected_scores(estimate: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """bias, RMSE, ubRMSE and r of pixel-day pairs, straight from their definitions (float64)."""
    keep = np.isfinite(estimate) & np.isfinite(true)
    x, y = estimate[keep].astype(np.float64), true[keep].astype(np.float64)
    d = x - y
    return {"n": int(keep.sum()), "bias": d.mean(), "rmse": np.sqrt((d * d).mean()),
            "ubrmse": (d - d.mean()).std(), "r": np.corrcoef(x, y)[0, 1]}


def test_product_truth_skill_per_year_and_climate_group(tiny, tmp_path):
    true_sm = truth.open_truth(tiny)["sm"].sel(time=slice("2000-01-01", "2001-12-31"))
    land = (open_cube(tiny)["mask"] == MASK_VALUES["land"]).values
    wet = (true_sm + 0.01).rename("sm")
    # an estimate with known, independent errors: scored against the truth it must give the
    # scores computed here (scored against itself, or on shifted days, it would not)
    rng = np.random.default_rng(3)
    noisy = (true_sm + rng.normal(0.005, 0.02, true_sm.shape).astype(np.float32)).rename("sm")
    table = truth.product_truth_skill(tiny, {"wet": wet, "noisy": noisy}, land, {"wet": xr.full_like(wet, 0.01)},
                                      progress=False)
    assert list(table.columns) == list(TRUTH_SKILL_COLUMNS) and set(table["scope"]) == {"product"}
    rows = table.set_index(["product", "year", "climate"])
    assert set(table["year"]) == {"2000", "2001", "all"}
    assert rows.loc[("wet", "all", "all"), "bias"] == pytest.approx(0.01, abs=1e-6)
    assert rows.loc[("wet", "all", "all"), "r"] == pytest.approx(1.0, abs=1e-6)
    assert rows.loc[("wet", "all", "all"), "coverage_90"] == 1.0
    assert np.isnan(rows.loc[("noisy", "all", "all"), "coverage_90"])  # no spread given

    true_values, noisy_values = true_sm.values[:, land], noisy.values[:, land]
    in_2000 = (true_sm["time"].dt.year == 2000).values
    groups = climate_groups(tiny)[land]
    for (year, climate), days, cells in (
        (("2000", "all"), in_2000, slice(None)),
        (("all", "all"), slice(None), slice(None)),
        (("all", "D"), slice(None), groups == "D"),
    ):
        expected = _expected_scores(noisy_values[days][:, cells], true_values[days][:, cells])
        got = rows.loc[("noisy", year, climate)]
        assert got["n"] == expected["n"], (year, climate)
        for name in ("bias", "rmse", "ubrmse", "r"):
            assert got[name] == pytest.approx(expected[name], rel=1e-6), (year, climate, name)
    assert rows.loc[("noisy", "all", "all"), "rmse"] == pytest.approx(np.hypot(0.005, 0.02), rel=0.01)

    groups_rows = table[(table["year"] == "all") & (table["climate"] != "all")]
    assert set(groups_rows["climate"]) <= set("ABCDE") and len(groups_rows) >= 2 * 3
    per_group = groups_rows[groups_rows["product"] == "wet"]["n"].sum()
    assert per_group == rows.loc[("wet", "all", "all"), "n"] == land.sum() * (366 + 365)

    path = tmp_path / "truth_skill.csv"
    earlier = pd.DataFrame({"product": ["atlstm"], "scope": ["test_split"], "r": [0.9]})
    truth.update_truth_skill(path, earlier)
    truth.update_truth_skill(path, table)
    merged = truth.update_truth_skill(path, table)  # written twice: its rows replaced, not doubled
    assert len(merged) == len(table) + 1 and set(merged["scope"]) == {"test_split", "product"}
