"""Tests of the datacube's gap filling, interpolation and (end to end) its build."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.cube import composites_to_daily, fill_gaps_linear, fill_nearest


def test_fill_gaps_linear_interpolates_and_flags():
    x = np.array([1.0, np.nan, np.nan, 4.0, np.nan, 6.0, np.nan], dtype=np.float32)
    filled, was_filled, long_gap = fill_gaps_linear(x, max_gap=1)
    np.testing.assert_allclose(filled, [1, 2, 3, 4, 5, 6, 6])
    assert was_filled.tolist() == [False, True, True, False, True, False, True]
    # the two-day gap is longer than max_gap; the trailing open gap (1 day) is not
    assert long_gap.tolist() == [False, True, True, False, False, False, False]


def test_fill_gaps_linear_multidimensional_and_all_missing():
    x = np.full((5, 2, 3), np.nan, dtype=np.float32)
    x[0, 0, 0], x[4, 0, 0] = 0.0, 4.0
    filled, was_filled, _ = fill_gaps_linear(x, max_gap=10)
    np.testing.assert_allclose(filled[:, 0, 0], [0, 1, 2, 3, 4])
    assert np.isnan(filled[:, 1, 1]).all() and not was_filled[:, 1, 1].any()


def test_composites_to_daily_linear_between_centres():
    days = np.arange(0, 24, dtype=float)
    centres = np.array([3.5, 11.5, 19.5])
    comps = np.array([0.1, np.nan, 0.3], dtype=np.float32)[:, None]
    daily, flagged, long_gap = composites_to_daily(comps, centres, days, max_gap_days=30)
    assert daily[:4, 0] == pytest.approx([0.1] * 4)  # held before the first centre
    assert daily[11, 0] == pytest.approx(0.1 + 0.2 * 7.5 / 16, rel=1e-5)
    assert flagged[5, 0] and flagged[18, 0] and not long_gap.any()
    # days between valid composites with no gap between them are not flagged
    daily2, flagged2, _ = composites_to_daily(np.array([[0.1], [0.2], [0.3]], np.float32), centres, days, 30)
    assert not flagged2.any()
    assert np.all(np.diff(daily2[:, 0]) >= 0)


def test_fill_nearest_only_inside_where():
    field = np.array([[1.0, np.nan, np.nan], [np.nan, np.nan, 9.0]], dtype=np.float32)
    where = np.array([[True, True, False], [False, True, True]])
    out, filled = fill_nearest(field, where)
    assert out[0, 1] == 1.0 and out[1, 1] == 9.0
    assert np.isnan(out[0, 2]) and np.isnan(out[1, 0])
    assert filled.tolist() == [[False, True, False], [False, True, False]]


def test_the_cube_builds_on_a_dask_cluster_as_it_does_in_process(tiny, tmp_path):
    """``dask.scheduler_address`` set: every tile is a task on that cluster; the cube is the same."""
    import xarray as xr
    from conftest import write_tiny_params
    from distributed import LocalCluster

    from helpers.cube import build_cube
    from helpers.params import load_params

    one_year = {"period": {"start_year": 2000, "end_year": 2000}, "data_root": str(tiny.raw_dir),
                "sampling": {"stride": 1, "train_years": [2000]}, "experiments": {"training_year_sets": []}}
    serial = load_params(write_tiny_params(tmp_path / "serial", **one_year))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        clustered = load_params(write_tiny_params(tmp_path / "cluster", **one_year,
                                                  dask={"scheduler_address": cluster.scheduler_address}))
        path, coverage = build_cube(clustered, progress=False)
    reference, reference_coverage = build_cube(serial, progress=False)
    assert len(list(clustered.to_grid().tiles(clustered.cube.tile_cells))) == 2
    with xr.open_zarr(path) as built, xr.open_zarr(reference) as expected:
        xr.testing.assert_identical(built.load().drop_attrs(), expected.load().drop_attrs())
        assert built.attrs["glass_sm_cube_key"] == expected.attrs["glass_sm_cube_key"]
    assert coverage.equals(reference_coverage)
