"""Comparison products (ESA CCI SM, GLEAM4, SiTHv2) read from files with the real structure."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
from fixtures_comparison import (
    cci_name,
    gleam_path,
    sith_path,
    write_cci,
    write_gleam,
    write_sith,
    year_days,
)

from helpers.errors import SourceError
from helpers.grid import Grid, coarsen_mean
from helpers.sources import _yearfiles, esa_cci, gleam, sith

GRID = Grid(1.0, west=0, south=40, east=20, north=50)  # 10 x 20 cells
COARSE = Grid(2.0, west=0, south=40, east=20, north=50)
LATS = np.array([49.5, 45.5, 40.5, 0.0])  # the last point lies outside the files' grid
LONS = np.array([0.5, 10.5, 19.5, 5.0])


def field(day: int = 0, grid: Grid = GRID, base: float = 0.25) -> np.ndarray:
    """A smooth field of fractions that changes from day to day."""
    lat, lon = grid.lat[:, None], grid.lon[None, :]
    return (base + 0.01 * (lat - 40) + 0.005 * lon + 0.002 * day).astype(np.float32)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def cells(values: np.ndarray) -> np.ndarray:
    """``values`` (days, lat, lon) on GRID at the first three points of LATS/LONS."""
    rows, cols = GRID.rows_cols_of(LATS[:3], LONS[:3])
    return values[:, rows, cols]


# ----------------------------------------------------------------------------------- ESA CCI SM

D0 = dt.date(2019, 12, 31)
D1 = dt.date(2020, 1, 1)


def test_cci_year_folders_north_south_round_trip(tmp_path: Path) -> None:
    first, second = field(0), field(1)
    first[0, :5] = np.nan
    paths = [write_cci(tmp_path, D0, GRID, first), write_cci(tmp_path, D1, GRID, second)]
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "2019/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20191231000000-fv09.1.nc",
        "2020/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20200101000000-fv09.1.nc",
    ]
    with netCDF4.Dataset(paths[0]) as nc:
        assert nc["lat"][0] > nc["lat"][-1] and nc["sm"].dimensions == ("time", "lat", "lon")
    assert esa_cci.find_files(tmp_path, D0, D1) == {D0: paths[0], D1: paths[1]}
    same = esa_cci.read(tmp_path, GRID, D0, D1)
    np.testing.assert_array_equal(same.values, np.stack([first, second]))
    assert same.attrs["missing_days"] == []
    coarse = esa_cci.read(tmp_path, COARSE, D0, D1)
    np.testing.assert_allclose(coarse.values[1], coarsen_mean(second, 2, GRID.cell_area_km2()), rtol=1e-6)
    points = esa_cci.read_points(tmp_path, LATS, LONS, pd.DatetimeIndex([D0, D1]))
    np.testing.assert_array_equal(points[:, :3], cells(np.stack([first, second])))
    assert np.isnan(points[:, 3]).all()
    hours = esa_cci.read(tmp_path, GRID, D0, D0, observation_time=True)["t0_hour"]
    assert np.nanmin(hours) == np.nanmax(hours) == 12.0 and np.isnan(hours.values[0, 0, :5]).all()


def test_cci_flat_folder_and_pattern_override(tmp_path: Path) -> None:
    write_cci(tmp_path, D0, GRID, field(), year_folder=False)
    assert list(esa_cci.find_files(tmp_path, D0, D0)) == [D0]
    assert esa_cci.find_files(tmp_path, D0, D0, pattern="{year}/*-{year}{month}{day}000000-fv*.nc") == {}


def test_cci_flags_are_checked_and_masked_on_request(tmp_path: Path) -> None:
    sm = field()
    flag = np.zeros(GRID.shape, np.int8)
    flag[2, 3] = 64  # barren ground advisory: an estimate comes with it
    flag[4, 4] = 64 | 16
    path = write_cci(tmp_path, D0, GRID, sm, flag)
    kept = esa_cci.read(tmp_path, GRID, D0, D0).values[0]
    np.testing.assert_array_equal(kept, sm)
    masked = esa_cci.read(tmp_path, GRID, D0, D0, mask_flags=64).values[0]
    assert np.isnan(masked[2, 3]) and np.isnan(masked[4, 4]) and np.isfinite(masked).sum() == sm.size - 2
    only_low_weight = esa_cci.read_file(path, GRID, mask_flags=16)
    assert np.isnan(only_low_weight[4, 4]) and np.isfinite(only_low_weight[2, 3])
    points = esa_cci.read_points(tmp_path, np.array([47.5]), np.array([3.5]), pd.DatetimeIndex([D0]), mask_flags=64)
    assert np.isnan(points).all()
    flag[5, 5] = 4  # "no convergence ... thus no valid sm estimates" beside a valid sm
    path = write_cci(tmp_path, D0, GRID, sm, flag)
    with pytest.raises(SourceError, match=r"flag bit 2.*no_valid_sm_estimates.*1 cells") as error:
        esa_cci.read(tmp_path, GRID, D0, D0)
    assert error.value.path == path


def test_cci_highest_version_wins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_cci(tmp_path, D0, GRID, field(base=0.1), version="08.1")
    newest = write_cci(tmp_path, D0, GRID, field(base=0.3), version="09.1")
    write_cci(tmp_path, D1, GRID, field(base=0.1), version="08.1")
    with caplog.at_level(logging.WARNING):
        assert esa_cci.find_files(tmp_path, D0, D1)[D0] == newest
    assert "several versions" in caplog.text and "2019-12-31" in caplog.text and "2020-01-01" not in caplog.text
    np.testing.assert_allclose(esa_cci.read(tmp_path, GRID, D0, D0).values[0], field(base=0.3))
    (tmp_path / "copy").mkdir()
    copy = (tmp_path / "copy" / newest.name)
    copy.write_bytes(newest.read_bytes())
    with pytest.raises(SourceError, match="same day and version"):
        esa_cci.find_files(tmp_path, D0, D0)


def test_cci_missing_days_are_flagged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_cci(tmp_path, D0, GRID, field())
    write_cci(tmp_path, D0 + dt.timedelta(days=2), GRID, field(2))
    with caplog.at_level(logging.WARNING):
        out = esa_cci.read(tmp_path, GRID, D0, D0 + dt.timedelta(days=2))
    assert out.sizes["time"] == 3 and out.attrs["missing_days"] == ["2020-01-01"]
    assert np.isnan(out.values[1]).all() and np.isfinite(out.values[[0, 2]]).all()
    assert str(tmp_path) in caplog.text and "2020-01-01" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        points = esa_cci.read_points(tmp_path, LATS, LONS, pd.date_range(D0, periods=3))
    assert np.isnan(points[1]).all() and np.isfinite(points[[0, 2], :3]).all() and "2020-01-01" in caplog.text
    with pytest.raises(SourceError, match="no ESA CCI SM files"):
        esa_cci.read(tmp_path, GRID, dt.date(2021, 1, 1), dt.date(2021, 1, 3))


def test_cci_bad_inputs_name_the_file(tmp_path: Path) -> None:
    active = write_cci(tmp_path / "active", D0, GRID, field() * 100, product="ACTIVE")
    with pytest.raises(SourceError, match="ACTIVE product") as error:
        esa_cci.read(tmp_path / "active", GRID, D0, D0, pattern="**/ESACCI-*-{year}{month}{day}000000-fv*.nc")
    assert error.value.path == active
    path = write_cci(tmp_path / "units", D0, GRID, field())
    with netCDF4.Dataset(path, "a") as nc:
        nc["sm"].units = "percent of saturation"
    with pytest.raises(SourceError, match="got percent") as error:
        esa_cci.read(tmp_path / "units", GRID, D0, D0)
    assert error.value.path == path
    path = write_cci(tmp_path / "values", D0, GRID, field() * 100)
    with pytest.raises(SourceError, match="percent") as error:
        esa_cci.read_points(tmp_path / "values", LATS, LONS, pd.DatetimeIndex([D0]))
    assert error.value.path == path
    path = write_cci(tmp_path / "variable", D0, GRID, field())
    with netCDF4.Dataset(path, "a") as nc:
        nc.renameVariable("sm", "soil_moisture")
    with pytest.raises(SourceError, match="variable sm not found") as error:
        esa_cci.read(tmp_path / "variable", GRID, D0, D0)
    assert error.value.path == path
    path = write_cci(tmp_path / "truncated", D0, GRID, field())
    truncate(path)
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        esa_cci.read(tmp_path / "truncated", GRID, D0, D0)
    assert error.value.path == path
    first = write_cci(tmp_path / "grid", D0, GRID, field())
    other = write_cci(tmp_path / "grid", D1, Grid(0.5, west=0, south=40, east=20, north=50), field(grid=Grid(0.5, 0, 40, 20, 50)))
    with pytest.raises(SourceError, match="differs from that of") as error:
        esa_cci.read(tmp_path / "grid", GRID, D0, D1)
    assert error.value.path == other and str(first) in str(error.value)
    with pytest.raises(SourceError, match="differs from that of"):
        esa_cci.read_points(tmp_path / "grid", LATS, LONS, pd.DatetimeIndex([D0, D1]))


# ---------------------------------------------------------------------------------------- GLEAM4


def gleam_year(year: int, grid: Grid = GRID, base: float = 0.2) -> np.ndarray:
    days = len(year_days(year))
    values = np.stack([field(k % 50, grid, base) for k in range(days)])
    values[:, 0, 0] = np.nan  # sea
    return values


def test_gleam_round_trip_ignores_monthly_and_yearly_files(tmp_path: Path) -> None:
    v2019, v2020 = gleam_year(2019), gleam_year(2020, base=0.3)
    daily = [write_gleam(tmp_path, 2019, GRID, v2019), write_gleam(tmp_path, 2020, GRID, v2020)]
    assert daily[0].relative_to(tmp_path).as_posix() == "v4.1a/daily/2019/SMs_2019_GLEAM_v4.1a.nc"
    write_gleam(tmp_path, 2019, COARSE, gleam_year(2019, COARSE)[:12], suffix="_MO")
    write_gleam(tmp_path, 2019, COARSE, gleam_year(2019, COARSE)[:1], suffix="_YR")
    # an aggregate beside the daily file, matched by a broad override pattern
    write_gleam(tmp_path, 2019, COARSE, gleam_year(2019, COARSE)[:12], path=daily[0].with_name("SMs_2019_GLEAM_v4.1a_MO.nc"))
    assert gleam.find_files(tmp_path, dt.date(2019, 1, 1), dt.date(2020, 12, 31)) == {2019: daily[0], 2020: daily[1]}
    assert gleam.find_files(tmp_path, dt.date(2019, 1, 1), dt.date(2019, 1, 1), pattern="**/SMs_{year}_*.nc") == {
        2019: daily[0]
    }
    start, end = dt.date(2019, 12, 30), dt.date(2020, 1, 2)
    out = gleam.read(tmp_path, GRID, start, end)
    assert out.name == "gleam_sm" and out.dims == ("time", "lat", "lon") and out.sizes["time"] == 4
    np.testing.assert_array_equal(out.values, np.concatenate([v2019[-2:], v2020[:2]]))
    coarse = gleam.read(tmp_path, COARSE, start, start)
    np.testing.assert_allclose(coarse.values[0], coarsen_mean(v2019[-2], 2, GRID.cell_area_km2()), rtol=1e-6)
    dates = pd.date_range(start, end)
    points = gleam.read_points(tmp_path, LATS, LONS, dates)
    np.testing.assert_array_equal(points[:, :3], cells(out.values))
    assert points.shape == (4, 4) and np.isnan(points[:, 3]).all()


def test_gleam_reads_in_batches_of_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = gleam_year(2019)
    write_gleam(tmp_path, 2019, GRID, values)
    start, end = dt.date(2019, 1, 1), dt.date(2019, 1, 5)
    whole = gleam.read(tmp_path, GRID, start, end).values
    points = gleam.read_points(tmp_path, LATS, LONS, pd.date_range(start, end))
    monkeypatch.setattr(_yearfiles, "_MAX_VALUES_PER_READ", 300)  # about one day of the window at a time
    np.testing.assert_array_equal(gleam.read(tmp_path, GRID, start, end).values, whole)
    np.testing.assert_array_equal(gleam.read_points(tmp_path, LATS, LONS, pd.date_range(start, end)), points)
    np.testing.assert_array_equal(whole, values[:5])


def test_gleam_v3_dimension_order_gives_the_same_values(tmp_path: Path) -> None:
    values = gleam_year(2019)
    write_gleam(tmp_path / "v4", 2019, GRID, values, lat_ascending=True)
    v3 = write_gleam(tmp_path / "v3", 2019, GRID, values, layout="v3", path=tmp_path / "v3" / "SMs_2019_GLEAM_v3.8a.nc")
    with netCDF4.Dataset(v3) as nc:
        assert nc["SMs"].dimensions == ("time", "lon", "lat") and nc["lat"][0] > nc["lat"][-1]
    day = dt.date(2019, 3, 1)
    new = gleam.read(tmp_path / "v4", GRID, day, day + dt.timedelta(days=3))
    old = gleam.read(tmp_path / "v3", GRID, day, day + dt.timedelta(days=3), pattern="SMs_{year}_GLEAM_v3*.nc")
    np.testing.assert_array_equal(new.values, old.values)
    np.testing.assert_array_equal(new.values, values[59:63])
    dates = pd.date_range(day, periods=4)
    np.testing.assert_array_equal(
        gleam.read_points(tmp_path / "v4", LATS, LONS, dates),
        gleam.read_points(tmp_path / "v3", LATS, LONS, dates, pattern="SMs_{year}_GLEAM_v3*.nc"),
    )


def test_gleam_missing_year_or_days_is_an_error(tmp_path: Path) -> None:
    write_gleam(tmp_path, 2019, GRID, gleam_year(2019))
    with pytest.raises(SourceError, match="no GLEAM4 SMs file for 2020") as error:
        gleam.read(tmp_path, GRID, dt.date(2019, 12, 31), dt.date(2020, 1, 1))
    assert error.value.path == tmp_path
    short = write_gleam(tmp_path, 2020, GRID, gleam_year(2020)[:40], days=year_days(2020, count=40))
    with pytest.raises(SourceError, match=r"lacks 2020-02-10\.\.2020-02-11") as error:
        gleam.read(tmp_path, GRID, dt.date(2020, 2, 8), dt.date(2020, 2, 11))
    assert error.value.path == short
    with pytest.raises(SourceError, match="lacks 2020-02-10") as error:
        gleam.read_points(tmp_path, LATS, LONS, pd.date_range("2020-02-08", "2020-02-11"))
    assert error.value.path == short


def test_gleam_bad_inputs_name_the_file(tmp_path: Path) -> None:
    day = dt.date(2019, 5, 1)
    path = write_gleam(tmp_path / "var", 2019, GRID, gleam_year(2019)[:130], variable="SMrz",
                       path=gleam_path(tmp_path / "var", 2019))
    with pytest.raises(SourceError, match=r"variable SMs not found; file has:.*SMrz") as error:
        gleam.read(tmp_path / "var", GRID, day, day)
    assert error.value.path == path
    path = write_gleam(tmp_path / "units", 2019, GRID, gleam_year(2019)[:130], units="%")
    with pytest.raises(SourceError, match="got percent") as error:
        gleam.read(tmp_path / "units", GRID, day, day)
    assert error.value.path == path
    path = write_gleam(tmp_path / "values", 2019, GRID, gleam_year(2019)[:130] * 100, units=None)
    with pytest.raises(SourceError, match="percent") as error:
        gleam.read_points(tmp_path / "values", LATS, LONS, pd.DatetimeIndex([day]))
    assert error.value.path == path
    path = write_gleam(tmp_path / "truncated", 2019, GRID, gleam_year(2019))
    truncate(path)
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        gleam.read(tmp_path / "truncated", GRID, day, day)
    assert error.value.path == path
    fine = Grid(0.5, west=0, south=40, east=20, north=50)
    first = write_gleam(tmp_path / "grid", 2019, GRID, gleam_year(2019))
    other = write_gleam(tmp_path / "grid", 2020, fine, np.stack([field(0, fine)] * 366))
    with pytest.raises(SourceError, match="differs from that of") as error:
        gleam.read(tmp_path / "grid", GRID, dt.date(2019, 12, 31), dt.date(2020, 1, 1))
    assert error.value.path == other and str(first) in str(error.value)
    with pytest.raises(SourceError, match="differs from that of"):
        gleam.read_points(tmp_path / "grid", LATS, LONS, pd.date_range("2019-12-31", "2020-01-01"))
    write_gleam(tmp_path / "grid", 2019, GRID, gleam_year(2019), version="4.2a")
    with pytest.raises(SourceError, match="several GLEAM4 SMs files for 2019"):
        gleam.find_files(tmp_path / "grid", day, day)


# ---------------------------------------------------------------------------------------- SiTHv2


def sith_layers(days: int, grid: Grid = GRID) -> np.ndarray:
    """Three layers (surface wettest-changing, deeper smoother), days x grid, with a sea cell."""
    layers = np.stack([np.stack([field(k % 30, grid, base) for k in range(days)]) for base in (0.2, 0.3, 0.4)])
    layers[:, :, 0, 0] = np.nan
    return layers


@pytest.mark.parametrize(
    ("dims", "string_attributes", "time_coordinate"),
    [
        (("layer", "time", "lon", "lat"), False, "cf"),
        (("time", "lon", "lat", "layer"), True, "doy"),
        (("lon", "lat", "layer", "time"), False, "none"),
    ],
)
def test_sith_non_cf_decoding_transposed_dims_and_layers(
    tmp_path: Path, dims: tuple[str, ...], string_attributes: bool, time_coordinate: str
) -> None:
    layers = sith_layers(365)
    path = write_sith(tmp_path, 2019, GRID, layers, dims=dims, string_attributes=string_attributes,
                      time_coordinate=time_coordinate, depths=[0.05, 0.5, 1.5])
    assert path.relative_to(tmp_path).as_posix() == "Daily/2019/SM.SiTHv2.A2019.nc"
    with netCDF4.Dataset(path) as nc:
        assert "Fill Value" in nc.ncattrs() and "scale factor" in nc["SM"].ncattrs()
    start, end = dt.date(2019, 6, 1), dt.date(2019, 6, 3)
    surface = sith.read(tmp_path, GRID, start, end)
    assert surface.name == "sith_sm" and surface.dims == ("time", "lat", "lon") and surface.attrs["layer"] == 0
    assert surface.attrs["layer_dimension"] == "layer" and surface.attrs["layer_coordinate"] == "0.05 m"
    np.testing.assert_allclose(surface.values, layers[0, 151:154], atol=5e-4)
    assert np.isnan(surface.values[:, 0, 0]).all()  # "Fill Value"
    deep = sith.read(tmp_path, GRID, start, end, layer=2)
    np.testing.assert_allclose(deep.values, layers[2, 151:154], atol=5e-4)
    points = sith.read_points(tmp_path, LATS, LONS, pd.date_range(start, end), layer=1)
    np.testing.assert_allclose(points[:, :3], cells(layers[1, 151:154]), atol=5e-4)
    assert np.isnan(points[:, 3]).all()
    with pytest.raises(SourceError, match="layer 3 out of range"):
        sith.read(tmp_path, GRID, start, end, layer=3)


def test_sith_single_layer_and_encoding_fallback(tmp_path: Path) -> None:
    layers = sith_layers(365)[:1]
    day = dt.date(2019, 2, 1)
    write_sith(tmp_path / "one", 2019, GRID, layers, dims=("time", "lon", "lat"))
    np.testing.assert_allclose(sith.read(tmp_path / "one", GRID, day, day).values[0], layers[0, 31], atol=5e-4)
    with pytest.raises(SourceError, match="no layer dimension"):
        sith.read(tmp_path / "one", GRID, day, day, layer=1)
    path = write_sith(tmp_path / "bare", 2019, GRID, layers * 1000, dims=("time", "lon", "lat"), scale=None)
    with pytest.raises(SourceError, match=r"without a 'scale factor'.*sources.encodings.sith") as error:
        sith.read(tmp_path / "bare", GRID, day, day)
    assert error.value.path == path
    encoding = {"scale_factor": 0.001, "add_offset": 0.0, "fill_value": None, "valid_range": None}
    decoded = sith.read(tmp_path / "bare", GRID, day, day, encoding=encoding).values[0]
    np.testing.assert_allclose(decoded, layers[0, 31], atol=5e-4)  # global "Fill Value" still applies
    assert np.isnan(decoded[0, 0])


def test_sith_bad_inputs_name_the_file(tmp_path: Path) -> None:
    layers = sith_layers(365)
    day = dt.date(2019, 2, 1)
    path = write_sith(tmp_path / "scale", 2019, GRID, layers, scale=1000.0)
    with netCDF4.Dataset(path, "a") as nc:
        nc["SM"].setncattr("scale factor", 10.0)  # a wrong scale gives values of 20..60
    with pytest.raises(SourceError, match=r"scale factor.*10.*wrong scale\?.*percent\?") as error:
        sith.read(tmp_path / "scale", GRID, day, day)
    assert error.value.path == path
    path = write_sith(tmp_path / "units", 2019, GRID, layers, units="%")
    with pytest.raises(SourceError, match="got percent") as error:
        sith.read(tmp_path / "units", GRID, day, day)
    assert error.value.path == path
    path = write_sith(tmp_path / "ambiguous", 2019, GRID, layers)
    with netCDF4.Dataset(path, "a") as nc:  # a second extra dimension of size > 1
        nc.createDimension("ensemble", 2)
        var = nc.createVariable("SM2", "i2", ("ensemble", *nc["SM"].dimensions))
        var.setncattr("scale factor", 1000.0)
    with pytest.raises(SourceError, match="cannot tell the layer dimension among ensemble, layer") as error:
        sith.read(tmp_path / "ambiguous", GRID, day, day, variable="SM2")
    assert error.value.path == path
    path = write_sith(tmp_path / "var", 2019, GRID, layers)
    with netCDF4.Dataset(path, "a") as nc:
        nc.renameVariable("SM", "ET")
    with pytest.raises(SourceError, match="variable SM not found") as error:
        sith.read(tmp_path / "var", GRID, day, day)
    assert error.value.path == path
    path = write_sith(tmp_path / "truncated", 2019, GRID, layers)
    truncate(path)
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        sith.read(tmp_path / "truncated", GRID, day, day)
    assert error.value.path == path
    short = write_sith(tmp_path / "days", 2019, GRID, layers[:, :20], days=year_days(2019, count=20))
    with pytest.raises(SourceError, match=r"lacks 2019-01-21\.\.2019-02-01") as error:
        sith.read(tmp_path / "days", GRID, dt.date(2019, 1, 15), day)
    assert error.value.path == short
    with pytest.raises(SourceError, match="no SiTHv2 SM file for 2018") as error:
        sith.read_points(tmp_path / "days", LATS, LONS, pd.date_range("2018-12-31", "2019-01-01"))
    assert error.value.path == tmp_path / "days"
    fine = Grid(0.5, west=0, south=40, east=20, north=50)
    first = write_sith(tmp_path / "grid", 2019, GRID, layers)
    other = write_sith(tmp_path / "grid", 2020, fine, sith_layers(366, fine))
    assert other == sith_path(tmp_path / "grid", 2020)
    with pytest.raises(SourceError, match="differs from that of") as error:
        sith.read(tmp_path / "grid", GRID, dt.date(2019, 12, 31), dt.date(2020, 1, 1))
    assert error.value.path == other and str(first) in str(error.value)


def test_cci_name_of_the_fixture_matches_the_module() -> None:
    assert cci_name(D0) == esa_cci.file_name(D0)


def test_gleam_and_sith_are_read_at_the_stations_of_a_validation_run(tmp_path: Path) -> None:
    """``validation.products`` may name gleam and sith (real data): read at the stations' cells."""
    from helpers.params import load_params
    from helpers.validation.run import PRODUCT_LABELS, _product_at_stations

    write_gleam(tmp_path / "gleam" / "v4.1a" / "daily" / "2019", 2019, GRID, gleam_year(2019))
    layers = np.stack([gleam_year(2019, base=b) for b in (0.3, 0.35, 0.4)])
    write_sith(tmp_path / "sith", 2019, GRID, layers)
    root = Path(__file__).resolve().parents[1]
    params = load_params(root / "params" / "paper.yaml", data_root=str(tmp_path))
    assert {"gleam", "sith"} <= set(params.validation.products) and {"gleam", "sith"} <= set(PRODUCT_LABELS)
    cells = pd.DataFrame({"key": ["a", "b", "c"], "lat": LATS[:3], "lon": LONS[:3]})
    times = pd.date_range("2019-03-01", "2019-03-05")
    got = {name: _product_at_stations(params, name, None, None, cells, {}, times) for name in ("gleam", "sith")}
    np.testing.assert_allclose(got["gleam"], gleam.read_points(tmp_path / "gleam", LATS[:3], LONS[:3], times))
    np.testing.assert_allclose(got["sith"], sith.read_points(tmp_path / "sith", LATS[:3], LONS[:3], times))
    assert got["gleam"].shape == (5, 3) and np.isfinite(got["sith"][:, 1:]).all()  # the first point is sea
