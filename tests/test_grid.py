"""Tests of helpers.grid: geometry, tiling and regridding."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.grid import (
    Grid,
    coarsen_mean,
    grid_from_centres,
    interp_bilinear,
    margin_grid,
    regrid,
)


def test_global_grid_geometry():
    grid = Grid.global_grid(0.05)
    assert grid.shape == (3600, 7200)
    assert grid.lat[0] == pytest.approx(89.975)
    assert grid.lon[0] == pytest.approx(-179.975)
    assert np.all(np.diff(grid.lat) < 0)
    total = grid.cell_area_km2().sum() * grid.nlon
    assert total == pytest.approx(4 * np.pi * 6371.0072**2, rel=1e-9)


def test_bbox_must_align_with_resolution():
    with pytest.raises(ValueError, match="not a multiple"):
        Grid(0.5, west=-10.2, south=0, east=10, north=10)
    with pytest.raises(ValueError, match="west < east"):
        Grid(1.0, west=10, south=0, east=-10, north=10)


def test_tiles_cover_grid_once():
    grid = Grid(1.0, west=-20, south=-10, east=25, north=30)
    seen = np.zeros(grid.shape, dtype=int)
    for rows, cols, tile in grid.tiles(16):
        seen[rows, cols] += 1
        assert tile.offset_in(grid) == (rows.start, cols.start)
        assert tile.shape == (rows.stop - rows.start, cols.stop - cols.start)
    assert np.all(seen == 1)


def test_rows_cols_of_points():
    grid = Grid(1.0, west=0, south=0, east=10, north=10)
    rows, cols = grid.rows_cols_of(np.array([9.5, 0.1, 11.0]), np.array([0.5, 9.9, 5.0]))
    assert rows.tolist() == [0, 9, -1]
    assert cols.tolist() == [0, 9, -1]


def test_grid_from_centres_roundtrip():
    grid = Grid(0.25, west=-5, south=40, east=5, north=50)
    assert grid_from_centres(grid.lat, grid.lon) == grid
    with pytest.raises(ValueError, match="regular"):
        grid_from_centres(np.array([0.0, 1.0, 3.0]), np.array([0.0, 1.0, 2.0]))


def test_coarsen_mean_is_area_weighted_and_nan_aware():
    fine = Grid(0.5, west=0, south=0, east=2, north=80)
    field = np.tile(fine.lat[:, None], (1, fine.nlon)).astype(np.float32)
    coarse = coarsen_mean(field, 2, fine.cell_area_km2())
    # The area-weighted mean latitude of a block lies south of the plain mean (cells
    # nearer the equator are larger).
    plain = field.reshape(80, 2, 2, 2).mean(axis=(1, 3))
    assert np.all(coarse < plain)
    # Conservation: the area integral is unchanged.
    coarse_grid = fine.coarsened(2)
    fine_total = (field * fine.cell_area_km2()[:, None]).sum()
    coarse_total = (coarse * coarse_grid.cell_area_km2()[:, None]).sum()
    assert coarse_total == pytest.approx(fine_total, rel=1e-6)
    field[0, 0] = np.nan
    partial = coarsen_mean(field, 2, fine.cell_area_km2())
    assert np.isfinite(partial[0, 0])
    strict = coarsen_mean(field, 2, fine.cell_area_km2(), min_valid_fraction=0.8)
    assert np.isnan(strict[0, 0]) and np.isfinite(strict[1, 0])


def test_interp_bilinear_reproduces_linear_field_and_handles_nan():
    src = Grid(1.0, west=0, south=0, east=10, north=10)
    dst = Grid(0.25, west=2, south=2, east=8, north=8)
    lat2d, lon2d = np.meshgrid(src.lat, src.lon, indexing="ij")
    field = (2 * lat2d + 3 * lon2d).astype(np.float32)
    out = interp_bilinear(field, src.lat, src.lon, dst.lat, dst.lon)
    expected = 2 * dst.lat[:, None] + 3 * dst.lon[None, :]
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    field[5, 5] = np.nan
    out_nan = interp_bilinear(field, src.lat, src.lon, dst.lat, dst.lon)
    assert np.all(np.isfinite(out_nan))


def test_regrid_dispatch_and_margin():
    src = Grid(0.5, west=-10, south=-10, east=10, north=10)
    field = np.random.default_rng(0).random((3, *src.shape)).astype(np.float32)
    same = regrid(field, src, src.window(4, 8, 4, 10))
    np.testing.assert_array_equal(same, field[:, 4:8, 4:10])
    coarse = regrid(field, src, Grid(1.0, west=-10, south=-10, east=10, north=10))
    assert coarse.shape == (3, 20, 20)
    with pytest.raises(ValueError, match="integer factor"):
        regrid(field, src, Grid(0.75, west=-9, south=-9, east=9, north=9))
    tile = Grid(0.05, west=1.0, south=2.0, east=1.5, north=2.5)
    wide = margin_grid(tile, 0.1)
    assert wide.bbox == (0.9, 1.9, 1.6, 2.6)
