"""ERA5-Land ``swvl1`` read as ECMWF ships it: layouts, time cuttings, GRIB, and clear failures."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from fixtures_era5 import (
    daily,
    hourly,
    truncate,
    write_cds_netcdf,
    write_daily_statistics,
    write_grib,
    write_legacy_netcdf,
)

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import era5_land

# a CDS "area" request on the 0.1 deg nodes: 6 x 6 nodes, latitude descending as ECMWF ships it
LAT = np.round(np.arange(50.0, 49.45, -0.1), 1)
LON = np.round(np.arange(10.0, 10.55, 0.1), 1)
TILE = Grid(0.1, west=10.1, south=49.6, east=10.4, north=49.9)
JAN1 = dt.date(2001, 1, 1)

try:
    import cfgrib  # noqa: F401

    HAVE_CFGRIB = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_CFGRIB = False
needs_cfgrib = pytest.mark.skipif(not HAVE_CFGRIB, reason="cfgrib/eccodes not installed (pip install cfgrib eccodes)")


def constant(times: np.ndarray, value) -> np.ndarray:
    """Fields equal in space, ``value(k)`` at step k: bilinear regridding keeps them exactly."""
    per_step = np.array([value(k) for k in range(times.size)], dtype=np.float32)
    return np.broadcast_to(per_step[:, None, None], (times.size, LAT.size, LON.size)).copy()


def ramp(times: np.ndarray) -> np.ndarray:
    return constant(times, lambda k: 0.1 + k / 1000)


def day_means(values: np.ndarray, per_day: int = 24) -> np.ndarray:
    return values[:, 0, 0].reshape(-1, per_day).mean(axis=1)


def read(directory: Path, start: dt.date, end: dt.date, **kwargs):
    return era5_land.read(directory, TILE, start, end, **kwargs)


# ---------------------------------------------------------------- layouts


def test_legacy_hourly_packed_netcdf(tmp_path: Path) -> None:
    times = hourly(JAN1, 3)
    values = ramp(times)
    write_legacy_netcdf(tmp_path / "adaptor.mars.internal-1690000000.nc", times, LAT, LON, values)
    out = read(tmp_path, JAN1, dt.date(2001, 1, 3))
    assert out.name == "era5_sm" and out.dtype == np.float32 and out.shape == (3, 3, 3)
    np.testing.assert_allclose(out.values[:, 1, 1], day_means(values), atol=1e-5)
    assert out.attrs["steps_per_day"] == 24 and "partial_days" not in out.attrs
    # a period inside the file: only its days
    inner = read(tmp_path, dt.date(2001, 1, 2), dt.date(2001, 1, 2))
    np.testing.assert_allclose(inner.values[0], day_means(values)[1], atol=1e-5)


def test_new_layout_with_expver_dimension_and_number(tmp_path: Path) -> None:
    times = hourly(JAN1, 2)
    truth = ramp(times)
    both = np.full((times.size, 2, LAT.size, LON.size), np.nan, dtype=np.float32)
    both[:30, 0] = truth[:30]  # ERA5 (0001) for the first steps, ERA5T (0005) after: NaN halves
    both[30:, 1] = truth[30:]
    write_cds_netcdf(
        tmp_path / "data_stream-oper.nc", times, LAT, LON, both,
        expver=["0001", "0005"], expver_dimension=True, number_dimension=True,
    )
    out = read(tmp_path, JAN1, dt.date(2001, 1, 2))
    np.testing.assert_allclose(out.values[:, 0, 0], day_means(truth), rtol=1e-6)


def test_new_layout_with_expver_variable_and_scalar_number(tmp_path: Path) -> None:
    times = hourly(JAN1, 2)
    values = ramp(times)
    path = write_cds_netcdf(
        tmp_path / "a" / "b" / "download.nc", times, LAT, LON, values, expver=["0001"] * 24 + ["0005"] * 24
    )
    with netCDF4.Dataset(path) as nc:
        assert nc["latitude"].stored_direction == "decreasing" and nc["number"].shape == ()
    out = read(tmp_path, JAN1, dt.date(2001, 1, 2))
    np.testing.assert_allclose(out.values[:, 2, 0], day_means(values), rtol=1e-6)


def test_daily_statistics_file_is_used_as_it_is(tmp_path: Path) -> None:
    days = daily(JAN1, 5)
    values = constant(days, lambda k: 0.2 + k / 100)
    write_daily_statistics(tmp_path / "derived-era5-land-daily-statistics.nc", days, LAT, LON, values)
    out = read(tmp_path, dt.date(2001, 1, 2), dt.date(2001, 1, 4))
    np.testing.assert_allclose(out.values[:, 0, 2], [0.21, 0.22, 0.23], rtol=1e-6)
    assert out.attrs["steps_per_day"] == 1
    assert out.time.values.astype("datetime64[D]").tolist() == [
        dt.date(2001, 1, 2), dt.date(2001, 1, 3), dt.date(2001, 1, 4)
    ]


def test_monthly_cut_files_across_a_year_boundary(tmp_path: Path) -> None:
    """December (legacy, packed) and January (new layout) downloads in year folders."""
    december, january = hourly(dt.date(2000, 12, 1), 31), hourly(JAN1, 31)
    dec_values, jan_values = ramp(december) * 0.5, ramp(january) * 0.5 + 0.1
    write_legacy_netcdf(tmp_path / "2000" / "swvl1_200012.nc", december, LAT, LON, dec_values)
    write_cds_netcdf(tmp_path / "2001" / "swvl1_200101.nc", january, LAT, LON, jan_values)
    out = read(tmp_path, dt.date(2000, 12, 30), dt.date(2001, 1, 2))
    expected = np.r_[day_means(dec_values)[-2:], day_means(jan_values)[:2]]
    np.testing.assert_allclose(out.values[:, 1, 2], expected, atol=2e-5)


def test_longitude_frames_and_latitude_order_read_alike(tmp_path: Path) -> None:
    """A global 10-degree node grid stored 0..350 descending and -180..170 ascending."""
    lat = np.arange(90.0, -90.1, -10.0)
    lon360 = np.arange(0.0, 360.0, 10.0)
    times = daily(JAN1, 2)
    field = (0.2 + 0.1 * np.cos(np.radians(lat))[:, None] * np.sin(np.radians(lon360))[None, :]).astype(np.float32)
    field[:, lon360.tolist().index(180.0)] = 0.6  # a marker on the antimeridian
    legacy = np.broadcast_to(field, (2, *field.shape))
    write_legacy_netcdf(tmp_path / "a" / "legacy.nc", times, lat, lon360, legacy, packed=False)
    order = np.argsort((lon360 + 180) % 360 - 180)
    write_cds_netcdf(
        tmp_path / "b" / "new.nc", times, lat[::-1], np.sort((lon360 + 180) % 360 - 180),
        legacy[:, ::-1][:, :, order],
    )
    for grid in (Grid(5.0, west=170, south=-10, east=180, north=10), Grid(5.0, west=-180, south=0, east=-170, north=20),
                 Grid(10.0)):
        a = era5_land.read(tmp_path / "a", grid, JAN1, JAN1)
        b = era5_land.read(tmp_path / "b", grid, JAN1, JAN1)
        np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
    # the cell at 2.5 N, 177.5 E interpolates the nodes at 0/10 N and 170 E/180 (the marker)
    east = era5_land.read(tmp_path / "b", Grid(5.0, west=175, south=0, east=180, north=5), JAN1, JAN1)
    node = {(la, lo): field[lat.tolist().index(la), lon360.tolist().index(lo)] for la in (0.0, 10.0)
            for lo in (170.0, 180.0)}
    expected = sum(node[la, lo] * (0.75 if la == 0 else 0.25) * (0.75 if lo == 180 else 0.25) for la, lo in node)
    assert east.values[0, 0, 0] == pytest.approx(expected, rel=1e-5)


@needs_cfgrib
@pytest.mark.parametrize("forecast_steps", [False, True])
def test_grib_hourly_analyses_and_time_step_layout(tmp_path: Path, forecast_steps: bool) -> None:
    times = hourly(JAN1, 2)
    values = ramp(times)
    holed = values.copy()
    holed[5, 0, 0] = np.nan  # a missing node (bitmap), outside the cells checked below
    write_grib(tmp_path / "era5-land.grib", times, LAT, LON, holed, forecast_steps=forecast_steps)
    index = era5_land.file_index(tmp_path / "era5-land.grib")
    assert index.format == "grib" and index.times.size == 48
    assert len(index.time_dims) == (2 if forecast_steps else 1)
    out = read(tmp_path, JAN1, dt.date(2001, 1, 2))
    np.testing.assert_allclose(out.values[:, 1, 1], day_means(values), atol=1e-5)
    assert not list(tmp_path.glob("*.idx"))  # cfgrib wrote no index file into the data folder


def test_grib_without_cfgrib_says_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "swvl1_2001.grib2"
    path.write_bytes(b"GRIB" + bytes(100))
    monkeypatch.setitem(sys.modules, "cfgrib", None)  # import cfgrib -> ImportError
    with pytest.raises(SourceError, match="needs the cfgrib package") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == path


def test_partial_days_are_kept_flagged_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    times = np.r_[hourly(JAN1, 1), hourly(dt.date(2001, 1, 2), 1, range(12))]  # the 2nd holds 12 hours
    values = ramp(times)
    write_cds_netcdf(tmp_path / "cut_at_noon.nc", times, LAT, LON, values)
    with caplog.at_level(logging.WARNING, logger="helpers.sources.era5_land"):
        out = read(tmp_path, JAN1, dt.date(2001, 1, 2))
    assert out.attrs["partial_days"] == ["2001-01-02"]
    np.testing.assert_allclose(out.values[:, 0, 0], [values[:24, 0, 0].mean(), values[24:, 0, 0].mean()], rtol=1e-6)
    assert str(tmp_path) in caplog.text and "2001-01-02" in caplog.text


def test_identical_copies_of_a_day_are_accepted(tmp_path: Path) -> None:
    times = hourly(JAN1, 2)
    values = ramp(times)
    write_cds_netcdf(tmp_path / "new" / "jan.nc", times, LAT, LON, values)
    write_legacy_netcdf(tmp_path / "old" / "jan.nc", times[24:], LAT, LON, values[24:])  # packed copy
    out = read(tmp_path, JAN1, dt.date(2001, 1, 2))
    np.testing.assert_allclose(out.values[:, 0, 0], day_means(values), atol=1e-5)


def test_index_is_by_content_and_follows_a_rewritten_file(tmp_path: Path) -> None:
    path = write_daily_statistics(tmp_path / "renamed_by_user_1999.nc", daily(JAN1, 2), LAT, LON,
                                  constant(daily(JAN1, 2), lambda k: 0.3))
    assert era5_land.file_index(path).first_day == JAN1
    write_daily_statistics(path, daily(dt.date(2002, 6, 1), 2), LAT, LON, constant(daily(JAN1, 2), lambda k: 0.3))
    assert era5_land.file_index(path).first_day == dt.date(2002, 6, 1)
    (tmp_path / "notes.txt").write_text("not data")  # other suffixes are not ERA5 files
    assert era5_land.find_files(tmp_path) == [path]


def test_pattern_selects_the_files_of_a_mixed_folder(tmp_path: Path) -> None:
    days = daily(JAN1, 1)
    write_daily_statistics(tmp_path / "swvl1" / "day.nc", days, LAT, LON, constant(days, lambda k: 0.25))
    write_legacy_netcdf(tmp_path / "lsm.nc", days, LAT, LON, constant(days, lambda k: 1.0), variable="lsm")
    with pytest.raises(SourceError, match=r"variable swvl1 not found; file has: .*lsm") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == tmp_path / "lsm.nc"
    out = read(tmp_path, JAN1, JAN1, pattern="swvl1/*.nc")
    np.testing.assert_allclose(out.values, 0.25)


def test_twin_world_files_still_read(tmp_path: Path) -> None:
    path = era5_land.create(tmp_path, 2001, 30.0)
    era5_land.write_window(path, np.arange(90, -91, -30.0), np.arange(-180, 180, 30.0), np.full((365, 7, 12), 0.3))
    out = era5_land.read(tmp_path, Grid(30.0), dt.date(2001, 12, 30), dt.date(2001, 12, 31))
    np.testing.assert_allclose(out.values, 0.3, rtol=1e-6)


# ---------------------------------------------------------------- failures name the file or folder


def test_coverage_error_names_folder_file_and_missing_days(tmp_path: Path) -> None:
    days = daily(JAN1, 1)
    write_daily_statistics(tmp_path / "one_day.nc", days, LAT, LON, constant(days, lambda k: 0.2))
    with pytest.raises(SourceError) as error:
        read(tmp_path, JAN1, dt.date(2001, 1, 5))
    message = str(error.value)
    assert message.startswith(str(tmp_path)) and error.value.path == tmp_path
    assert "one_day.nc (2001-01-01..2001-01-01)" in message
    assert "missing 2001-01-02..2001-01-05 (4 days)" in message


def test_gap_between_files_is_an_error(tmp_path: Path) -> None:
    for start, name in ((JAN1, "first.nc"), (dt.date(2001, 1, 5), "second.nc")):
        days = daily(start, 2)
        write_daily_statistics(tmp_path / name, days, LAT, LON, constant(days, lambda k: 0.2))
    with pytest.raises(SourceError, match=r"missing 2001-01-03\.\.2001-01-04 \(2 days\)") as error:
        read(tmp_path, JAN1, dt.date(2001, 1, 6))
    assert "first.nc (2001-01-01..2001-01-02)" in str(error.value)
    assert "second.nc (2001-01-05..2001-01-06)" in str(error.value)


def test_a_day_in_two_files_with_other_values_is_an_error(tmp_path: Path) -> None:
    write_daily_statistics(tmp_path / "a.nc", daily(JAN1, 2), LAT, LON, constant(daily(JAN1, 2), lambda k: 0.2))
    later = daily(dt.date(2001, 1, 2), 2)
    write_daily_statistics(tmp_path / "b.nc", later, LAT, LON, constant(later, lambda k: 0.3))
    with pytest.raises(SourceError, match="2001-01-02") as error:
        read(tmp_path, JAN1, dt.date(2001, 1, 3))
    assert "a.nc" in str(error.value) and "b.nc" in str(error.value)


def test_daily_and_hourly_files_of_the_same_days_are_an_error(tmp_path: Path) -> None:
    days, hours = daily(JAN1, 2), hourly(JAN1, 2)
    write_daily_statistics(tmp_path / "daily.nc", days, LAT, LON, constant(days, lambda k: 0.2))
    write_cds_netcdf(tmp_path / "hourly.nc", hours, LAT, LON, ramp(hours))
    with pytest.raises(SourceError, match=r"daily\.nc") as error:
        read(tmp_path, JAN1, dt.date(2001, 1, 2))
    assert "hourly.nc" in str(error.value) and "2001-01-01" in str(error.value)


def test_a_file_of_another_grid_is_an_error(tmp_path: Path) -> None:
    days = daily(JAN1, 1)
    write_daily_statistics(tmp_path / "fine.nc", days, LAT, LON, constant(days, lambda k: 0.2))
    coarse_lat, coarse_lon = np.arange(50.0, 48.9, -0.25), np.arange(10.0, 11.1, 0.25)
    coarse = np.full((1, coarse_lat.size, coarse_lon.size), 0.2, dtype=np.float32)
    write_daily_statistics(tmp_path / "coarse.nc", daily(dt.date(2001, 1, 2), 1), coarse_lat, coarse_lon, coarse)
    with pytest.raises(SourceError, match="grid differs") as error:
        read(tmp_path, JAN1, dt.date(2001, 1, 2))
    assert "fine.nc" in str(error.value) and "coarse.nc" in str(error.value)


def test_wrong_variable_names_the_file(tmp_path: Path) -> None:
    times = hourly(JAN1, 1)
    path = write_legacy_netcdf(tmp_path / "stl1.nc", times, LAT, LON, ramp(times) + 270, variable="stl1")
    with pytest.raises(SourceError, match=r"variable swvl1 not found; file has: .*stl1") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == path


def test_percent_units_and_values_name_the_file(tmp_path: Path) -> None:
    times = hourly(JAN1, 1)
    path = write_cds_netcdf(tmp_path / "pct.nc", times, LAT, LON, ramp(times) * 100, units="%")
    with pytest.raises(SourceError, match=r"expected m\*\*3 m\*\*-3, got percent") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == path
    write_cds_netcdf(path, times, LAT, LON, ramp(times) * 100)  # fraction units, percent values
    with pytest.raises(SourceError, match="percent") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == path


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    times = hourly(JAN1, 2)
    path = write_cds_netcdf(tmp_path / "cut.nc", times, LAT, LON, ramp(times))
    truncate(path)
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == path


@needs_cfgrib
def test_truncated_grib_names_the_file(tmp_path: Path) -> None:
    times = hourly(JAN1, 2)
    path = write_grib(tmp_path / "cut.grib", times, LAT, LON, ramp(times))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3 + 50])  # cut inside a message
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        read(tmp_path, JAN1, dt.date(2001, 1, 2))
    assert error.value.path == path
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 50])  # cut between messages: days lost
    with pytest.raises(SourceError, match=r"missing 2001-01-01\.\.2001-01-02|missing 2001-01-02") as error:
        read(tmp_path, JAN1, dt.date(2001, 1, 2))
    assert "cut.grib (2001-01-01..2001-01-01)" in str(error.value)


def test_time_without_units_names_the_file_and_variable(tmp_path: Path) -> None:
    times = hourly(JAN1, 1)
    path = write_cds_netcdf(tmp_path / "no_units.nc", times, LAT, LON, ramp(times), time_units=None)
    with pytest.raises(SourceError, match="time variable valid_time: no units attribute") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == path


def test_no_files_and_ensembles_name_the_folder_or_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no ERA5-Land files") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == tmp_path
    path = tmp_path / "ens.nc"
    with netCDF4.Dataset(path, "w") as nc:
        for name, size in (("number", 2), ("valid_time", 1), ("latitude", LAT.size), ("longitude", LON.size)):
            nc.createDimension(name, size)
        nc.createVariable("valid_time", "i8", ("valid_time",)).units = "seconds since 1970-01-01"
        nc.createVariable("latitude", "f8", ("latitude",))[:] = LAT
        nc.createVariable("longitude", "f8", ("longitude",))[:] = LON
        nc.createVariable("swvl1", "f4", ("number", "valid_time", "latitude", "longitude"))
    with pytest.raises(SourceError, match="2 ensemble members") as error:
        read(tmp_path, JAN1, JAN1)
    assert error.value.path == path
