"""Scoring whole products against the twin world's truth (helpers.truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from helpers import truth
from helpers.cube import MASK_VALUES, open_cube
from helpers.metrics import TRUTH_SKILL_COLUMNS, Z_90, score_all


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


def test_product_truth_skill_per_year_and_climate_group(tiny, tmp_path):
    true_sm = truth.open_truth(tiny)["sm"].sel(time=slice("2000-01-01", "2001-12-31"))
    land = (open_cube(tiny)["mask"] == MASK_VALUES["land"]).values
    wet = (true_sm + 0.01).rename("sm")
    table = truth.product_truth_skill(tiny, {"wet": wet, "same": true_sm}, land, {"wet": xr.full_like(wet, 0.01)},
                                      progress=False)
    assert list(table.columns) == list(TRUTH_SKILL_COLUMNS) and set(table["scope"]) == {"product"}
    rows = table.set_index(["product", "year", "climate"])
    assert set(table["year"]) == {"2000", "2001", "all"}
    assert rows.loc[("wet", "all", "all"), "bias"] == pytest.approx(0.01, abs=1e-6)
    assert rows.loc[("wet", "all", "all"), "r"] == pytest.approx(1.0, abs=1e-6)
    assert rows.loc[("same", "2000", "all"), "rmse"] == pytest.approx(0.0, abs=1e-6)
    assert rows.loc[("wet", "all", "all"), "coverage_90"] == 1.0
    groups = table[(table["year"] == "all") & (table["climate"] != "all")]
    assert set(groups["climate"]) <= set("ABCDE") and len(groups) >= 2 * 3
    per_group = groups[groups["product"] == "wet"]["n"].sum()
    assert per_group == rows.loc[("wet", "all", "all"), "n"] == land.sum() * (366 + 365)

    path = tmp_path / "truth_skill.csv"
    earlier = pd.DataFrame({"product": ["atlstm"], "scope": ["test_split"], "r": [0.9]})
    truth.update_truth_skill(path, earlier)
    truth.update_truth_skill(path, table)
    merged = truth.update_truth_skill(path, table)  # written twice: its rows replaced, not doubled
    assert len(merged) == len(table) + 1 and set(merged["scope"]) == {"test_split", "product"}
