"""In-situ station products: ISMN (COSMOS US included), COSMOS-UK, COSMOS-Europe and SMAP core sites.

Real files: the ISMN samples of the ``ismn`` package (tests/data/ismn_real, README there). The
other providers' layouts are copied by small files in tests/data/providers (the source of each
layout fact is listed in tests/data/providers/README.md and in the readers' docstrings).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ismn.interface import ISMN_Interface

from helpers.errors import SourceError
from helpers.sources import cosmos_europe, cosmos_uk, ismn, smap_cvs

REAL_ISMN = Path(__file__).parent / "data" / "ismn_real"
PROVIDERS = Path(__file__).parent / "data" / "providers"
HOURS = pd.date_range("2012-03-01", periods=4 * 24, freq="h")
DAY_LEVELS = np.array([0.10, 0.20, 0.30, 0.40])  # good records of day d hold DAY_LEVELS[d]


@pytest.fixture
def hourly() -> tuple[np.ndarray, list[str]]:
    """Four days of hourly values and flags: flagged records hold 0.9, one record is missing."""
    values = np.repeat(DAY_LEVELS, 24)
    flags = ["G"] * len(values)
    for index, flag in [(3, "D01"), (30, "D02,D03"), (31, "D02,D03"), (50, "C01")]:
        values[index] = 0.9
        flags[index] = flag
    values[60] = np.nan
    return values, flags


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # raised inside the ismn package
def test_ismn_package_reads_the_written_files(tmp_path: Path, hourly: tuple[np.ndarray, list[str]]) -> None:
    values, flags = hourly
    static = {"land_cover_cci": 130, "climate_kg": "Cfa", "clay_fraction": 21.0, "sand_fraction": 40.0}
    path = ismn.write_station(
        tmp_path / "ismn",
        "TWIN_NET",
        "Alpha",
        45.12345,
        -120.54321,
        312.0,
        0.0,
        0.05,
        HOURS,
        values,
        flags,
        static=static,
    )
    assert path.parent == tmp_path / "ismn" / "TWIN_NET" / "Alpha"
    assert path.name == "TWIN-NET_TWIN-NET_Alpha_sm_0.000000_0.050000_TwinProbe_20120301_20120304.stm"

    with contextlib.redirect_stdout(io.StringIO()):
        interface = ISMN_Interface(tmp_path / "ismn", meta_path=tmp_path / "meta")
    station = interface["TWIN_NET"]["Alpha"]
    assert (station.lat, station.lon, station.elev) == (45.12345, -120.54321, 312.0)
    (sensor,) = station.sensors.values()
    assert (sensor.instrument, sensor.variable) == ("TwinProbe", "soil_moisture")
    assert (sensor.depth.start, sensor.depth.end) == (0.0, 0.05)
    frame = sensor.read_data()
    valid = ~np.isnan(values)
    np.testing.assert_array_equal(frame.index, HOURS[valid])
    np.testing.assert_allclose(frame["soil_moisture"], values[valid], atol=5e-5)
    assert frame["soil_moisture_flag"].tolist() == list(np.array(flags)[valid])
    assert sensor.metadata["lc_2010"].val == 130
    assert sensor.metadata["climate_KG"].val == "Cfa"
    assert sensor.metadata["clay_fraction"].val == 21.0


def test_ismn_read_network_keeps_good_shallow_records_as_daily_means(
    tmp_path: Path, hourly: tuple[np.ndarray, list[str]]
) -> None:
    values, flags = hourly
    root = tmp_path / "ismn"
    ismn.write_station(root, "NET", "Alpha", 10.5, 20.25, 100.0, 0.0, 0.05, HOURS, values, flags)
    ismn.write_station(root, "NET", "Alpha", 10.5, 20.25, 100.0, 0.1, 0.1, HOURS, values + 0.05, flags)
    ismn.write_station(root, "NET", "Beta", -30.0, 140.0, 5.0, 0.05, 0.05, HOURS, values, flags, sensor="P1")
    ismn.write_station(
        root, "NET", "Beta", -30.0, 140.0, 5.0, 0.05, 0.05, HOURS, values + 0.02, flags, sensor="P2"
    )

    table = ismn.read_network(root, tmp_path / "meta")

    meta = table.meta.set_index("station")
    assert list(meta.index) == ["Alpha", "Beta"]
    assert meta.loc["Alpha", ["lat", "lon", "elevation_m"]].tolist() == [10.5, 20.25, 100.0]
    assert meta.loc["Alpha", ["depth_from", "depth_to"]].tolist() == [
        0.0,
        0.05,
    ]  # the 0.10 m sensor is left out
    assert meta.loc["Beta", "sensor"] == "P1;P2"
    assert meta.loc["Alpha", ["n_raw", "n_kept", "n_dropped_by_flag", "n_days"]].tolist() == [95, 91, 4, 4]
    assert meta.loc["Beta", "n_kept"] == 2 * 91
    alpha = table.data[("NET", "Alpha")]
    assert alpha.index.equals(pd.date_range("2012-03-01", periods=4, freq="D", name="date"))
    np.testing.assert_allclose(alpha, DAY_LEVELS, atol=5e-5)
    np.testing.assert_allclose(table.data[("NET", "Beta")], DAY_LEVELS + 0.01, atol=5e-5)
    dropped = table.dropped.set_index("flag")["n"]
    assert dropped.to_dict() == {"C01": 3, "D01": 3, "D02,D03": 6}  # over the three shallow sensors
    assert table.summary()["n_dropped_by_flag"].tolist() == [12]


def test_ismn_combined_flag_is_kept_only_when_every_code_is_accepted(
    tmp_path: Path, hourly: tuple[np.ndarray, list[str]]
) -> None:
    values, flags = hourly
    ismn.write_station(tmp_path / "ismn", "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, flags)

    table = ismn.read_network(tmp_path / "ismn", tmp_path / "meta", accepted_flags=("G", "D02", "D03"))

    assert table.meta["n_kept"].tolist() == [93]
    assert set(table.dropped["flag"]) == {"D01", "C01"}
    day_two = (22 * DAY_LEVELS[1] + 2 * 0.9) / 24  # the two D02,D03 records now count
    assert table.data[("NET", "Alpha")].iloc[1] == pytest.approx(day_two, abs=5e-5)


def test_ismn_network_without_good_flags_is_reported_not_silently_empty(
    tmp_path: Path, hourly: tuple[np.ndarray, list[str]]
) -> None:
    values, _ = hourly
    root = tmp_path / "ismn"
    ismn.write_station(root, "CHECKED", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, ["G"] * len(values))
    ismn.write_station(
        root, "UNCHECKED", "Gamma", 4.0, 5.0, 6.0, 0.0, 0.05, HOURS, values, ["U"] * len(values)
    )

    with pytest.warns(UserWarning, match=r"UNCHECKED: .* dropped all 95 records"):
        table = ismn.read_network(root, tmp_path / "meta", accepted_flags=("G",))

    assert ("UNCHECKED", "Gamma") not in table.data
    assert ("CHECKED", "Alpha") in table.data
    gamma = table.meta.set_index("station").loc["Gamma"]
    assert (gamma["n_raw"], gamma["n_kept"], gamma["n_days"]) == (95, 0, 0)
    assert table.dropped.values.tolist() == [["UNCHECKED", "U", 95]]
    summary = table.summary().set_index("network")
    assert summary.loc["UNCHECKED", ["n_stations", "n_with_data"]].tolist() == [1, 0]


def test_ismn_reads_a_real_station_file(tmp_path: Path) -> None:
    table = ismn.read_network(REAL_ISMN, tmp_path / "meta", networks=["RSMN"])

    row = table.meta.iloc[0]
    assert (row["network"], row["station"], row["sensor"]) == ("RSMN", "Adamclisi", "Meter-5TM_1_1")
    assert (row["lat"], row["lon"], row["depth_from"], row["depth_to"]) == (44.08829, 27.96591, 0.0, 0.05)
    assert (row["n_raw"], row["n_kept"]) == (287, 172)
    dropped = table.dropped.set_index("flag")["n"]
    assert dropped["D02,D03"] == 37 and dropped["D01,D02,D03"] == 20
    daily = table.data[("RSMN", "Adamclisi")]
    assert daily.index.min() == pd.Timestamp("2024-12-20")
    assert daily.between(0.0, 0.6).all()

    lenient = ismn.read_network(REAL_ISMN, tmp_path / "meta", networks=["RSMN"], accepted_flags=("G", "D02", "D03"))
    assert lenient.meta["n_kept"].tolist() == [172 + 38 + 37 + 11]


def test_ismn_reads_a_zipped_archive(tmp_path: Path, hourly: tuple[np.ndarray, list[str]]) -> None:
    values, flags = hourly
    ismn.write_station(tmp_path / "ismn", "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, flags)
    archive = shutil.make_archive(str(tmp_path / "download"), "zip", tmp_path / "ismn")

    table = ismn.read_network(archive, tmp_path / "meta")

    np.testing.assert_allclose(table.data[("NET", "Alpha")], DAY_LEVELS, atol=5e-5)


def test_ismn_metadata_cache_follows_new_files(tmp_path: Path, hourly: tuple[np.ndarray, list[str]]) -> None:
    values, flags = hourly
    root = tmp_path / "ismn"
    ismn.write_station(root, "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, flags)
    assert len(ismn.read_network(root, tmp_path / "meta").meta) == 1

    ismn.write_station(root, "NET", "Beta", 1.5, 2.5, 3.0, 0.0, 0.05, HOURS, values, flags)

    assert ismn.read_network(root, tmp_path / "meta").meta["station"].tolist() == ["Alpha", "Beta"]


def test_ismn_rewriting_a_sensor_replaces_its_file(
    tmp_path: Path, hourly: tuple[np.ndarray, list[str]]
) -> None:
    values, flags = hourly
    root = tmp_path / "ismn"
    ismn.write_station(root, "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, flags)
    later = HOURS + pd.Timedelta(days=365)
    newest = ismn.write_station(root, "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, later, values, flags)

    assert sorted(path.name for path in newest.parent.glob("*.stm")) == [newest.name]
    assert ismn.read_network(root, tmp_path / "meta").data[("NET", "Alpha")].index[0] == pd.Timestamp(
        "2013-03-01"
    )


def test_ismn_reader_errors_name_the_archive(tmp_path: Path, hourly: tuple[np.ndarray, list[str]]) -> None:
    values, flags = hourly
    with pytest.raises(SourceError, match="no such folder") as missing:
        ismn.read_network(tmp_path / "absent", tmp_path / "meta")
    assert str(missing.value).startswith(str(tmp_path / "absent"))

    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="empty network"):
        ismn.read_network(tmp_path / "empty", tmp_path / "meta")

    ismn.write_station(tmp_path / "deep", "NET", "Alpha", 1.0, 2.0, 3.0, 0.1, 0.2, HOURS, values, flags)
    deep = ismn.read_network(tmp_path / "deep", tmp_path / "meta")
    assert deep.data == {} and deep.meta.empty
    assert deep.skipped.values.tolist() == [
        ["NET", "Alpha", "no soil_moisture sensor with depth_to <= 0.05 m (found: 0.1-0.2 m)"]
    ]

    loose = tmp_path / "loose" / "NET"
    loose.mkdir(parents=True)
    (loose / "NET_NET_Alpha_sm_0.000000_0.050000_X_20120301_20120301.stm").write_text("x\n")
    with pytest.raises(SourceError, match="NETWORK/STATION"):
        ismn.read_network(tmp_path / "loose", tmp_path / "meta")


def test_ismn_writer_rejects_what_the_layout_cannot_hold(
    tmp_path: Path, hourly: tuple[np.ndarray, list[str]]
) -> None:
    values, flags = hourly
    with pytest.raises(ValueError, match="station"):
        ismn.write_station(tmp_path, "NET", "Al_pha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, flags)
    with pytest.raises(ValueError, match="whole centimetres"):
        ismn.write_station(tmp_path, "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.025, HOURS, values, flags)
    with pytest.raises(ValueError, match="differ in length"):
        ismn.write_station(tmp_path, "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values[:-1], flags)
    with pytest.raises(ValueError, match="climate_kg"):
        ismn.write_station(
            tmp_path,
            "NET",
            "Alpha",
            1.0,
            2.0,
            3.0,
            0.0,
            0.05,
            HOURS,
            values,
            flags,
            static={"climate_kg": "Xx"},
        )
    assert not list(tmp_path.rglob("*.stm"))




def test_ismn_days_need_enough_hourly_records_and_follow_the_day_boundary(tmp_path: Path) -> None:
    # 48 hourly records of two UTC days; on day 2 only 10 hours (00-09 UTC) have a value
    times = pd.date_range("2012-03-01", periods=48, freq="h")
    values = np.where(times.day == 1, 0.1, 0.3)
    keep = (times.day == 1) | (times.hour < 10)
    ismn.write_station(tmp_path / "ismn", "NET", "West", 1.0, -90.0, 3.0, 0.0, 0.05, times[keep], values[keep], ["G"] * keep.sum())

    utc = ismn.read_network(tmp_path / "ismn", tmp_path / "meta", min_records=12)
    daily = utc.daily[("NET", "West")]
    assert daily["n_records"].tolist() == [24, 10]
    assert daily["sm"].iloc[0] == pytest.approx(0.1) and np.isnan(daily["sm"].iloc[1])  # 10 < 12 records
    assert utc.meta[["n_days", "n_days_short"]].values.tolist() == [[1, 1]]

    # at 90 W the local solar day begins at 06 UTC: local 1 March holds 06-23 UTC of 1 March and
    # 00-05 UTC of 2 March (18 records of 0.1, 6 of 0.3); local 29 February the first 6 hours
    solar = ismn.read_network(tmp_path / "ismn", tmp_path / "meta", min_records=12, day_boundary="local_solar")
    local = solar.daily[("NET", "West")]
    assert local["n_records"].tolist() == [6, 24, 4]
    assert local.loc["2012-03-01", "sm"] == pytest.approx((18 * 0.1 + 6 * 0.3) / 24, abs=5e-5)
    assert np.isnan(local.loc["2012-02-29", "sm"]) and np.isnan(local.loc["2012-03-02", "sm"])


def test_ismn_record_rule_scales_with_the_sensor_interval(tmp_path: Path) -> None:
    times = pd.date_range("2012-03-01", periods=16, freq="3h")  # two days, 8 records each
    ismn.write_station(tmp_path / "ismn", "NET", "Coarse", 1.0, 0.0, 3.0, 0.0, 0.05, times, np.full(16, 0.2), ["G"] * 16)
    table = ismn.read_network(tmp_path / "ismn", tmp_path / "meta", min_records=12)
    assert table.meta["record_interval_h"].tolist() == [3.0]
    assert table.daily[("NET", "Coarse")]["sm"].notna().all()  # 8 >= ceil(12 / 3)


def test_ismn_frozen_records_are_counted_and_kept_apart(tmp_path: Path, hourly: tuple[np.ndarray, list[str]]) -> None:
    values, flags = hourly
    ismn.write_station(tmp_path / "ismn", "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, flags)
    daily = ismn.read_network(tmp_path / "ismn", tmp_path / "meta").daily[("NET", "Alpha")]
    assert daily["frozen_records"].tolist() == [1, 2, 0, 0]  # D01 on day 1, D02,D03 twice on day 2
    assert daily["sm"].iloc[1] == pytest.approx(DAY_LEVELS[1], abs=5e-5)
    assert daily["sm_incl_frozen"].iloc[1] == pytest.approx((22 * DAY_LEVELS[1] + 2 * 0.9) / 24, abs=5e-5)


def test_real_cosmos_stations_in_ismn_format_are_read_by_their_depth_from(tmp_path: Path) -> None:
    point = ismn.read_network(REAL_ISMN, tmp_path / "meta", networks=["COSMOS"])
    assert point.data == {} and set(point.skipped["station"]) == {"ARM-1", "Barrow-ARM"}

    table = ismn.read_network(REAL_ISMN, tmp_path / "meta", networks=["COSMOS"], depth_from_only=True, min_records=12)
    meta = table.meta.set_index("station")
    assert meta.loc["ARM-1", ["depth_from", "depth_to", "sensor"]].tolist() == [0.0, 0.19, "Cosmic-ray-Probe"]
    assert meta.loc["Barrow-ARM", "depth_to"] == 0.21
    assert meta.loc["ARM-1", "n_raw"] == 6865 and meta.loc["ARM-1", "n_kept"] == 6514
    arm = table.daily[("COSMOS", "ARM-1")]
    assert arm.index.min() == pd.Timestamp("2017-08-10") and arm["sm"].dropna().between(0.0, 0.6).all()
    assert (arm["frozen_records"] > 0).any()  # D03 records of the ISMN sample


def test_cosmos_uk_provider_layout(tmp_path: Path) -> None:
    table = cosmos_uk.read_network(PROVIDERS / "cosmos_uk")

    meta = table.meta.set_index("station")
    assert list(meta.index) == ["ALIC1"]
    assert meta.loc["ALIC1", ["lat", "lon", "site_name"]].tolist() == [51.15355, -0.85866, "Alice Holt"]
    daily = table.daily[("COSMOS-UK", "ALIC1")]
    # -9999 on 3 June is missing; 5 June is flagged I (infilled) and dropped
    assert daily.index.equals(pd.DatetimeIndex(["2016-06-01", "2016-06-02", "2016-06-04", "2016-06-05", "2016-06-06"], name="date"))
    np.testing.assert_allclose(daily["sm"].dropna(), [0.4123, 0.4087, 0.3995, 0.3750])
    np.testing.assert_allclose(daily["depth_cm"].dropna(), [14.2, 14.4, 14.9, 15.6])
    assert table.dropped.set_index("flag")["n"].to_dict() == {"I": 1}
    assert meta.loc["ALIC1", "depth_to"] == pytest.approx(0.1465)
    (reason,) = table.skipped["reason"]
    assert "COSMOS-UK_BALRD_HydroSoil_Daily_2013-2019.csv" in reason and "missing column(s) COSMOS_VWC" in reason


def test_cosmos_uk_writer_round_trip_and_folder_errors(tmp_path: Path) -> None:
    days = pd.date_range("2000-01-01", periods=5, freq="D")
    cosmos_uk.write_site(tmp_path, "UKT01", days, [0.3, np.nan, 0.32, 0.33, 0.34], [20, 20, 21, 22, 23], ["", "M", "", "I", ""])
    sites = pd.DataFrame({"SITE_ID": ["UKT01"], "SITE_NAME": ["t"], "LATITUDE": [52.0], "LONGITUDE": [-1.0],
                          "START_DATE": ["2000-01-01"], "END_DATE": ["2000-01-05"], "LAND_COVER": ["Grassland"]})
    cosmos_uk.write_site_metadata(tmp_path, sites, 2000, 2000)
    daily = cosmos_uk.read_network(tmp_path).daily[("COSMOS-UK", "UKT01")]
    np.testing.assert_allclose(daily["sm"].dropna(), [0.3, 0.32, 0.34])
    with pytest.raises(SourceError, match="no such folder"):
        cosmos_uk.read_network(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="SiteMetadata"):
        cosmos_uk.read_network(tmp_path / "empty")


def test_cosmos_europe_provider_layout(tmp_path: Path) -> None:
    table = cosmos_europe.read_network(PROVIDERS / "cosmos_europe", min_records=12)

    meta = table.meta.set_index("station")
    assert meta.loc["SEC001", ["lat", "lon", "elevation_m", "site_name"]].tolist() == [50.86906, 6.44967, 103.0, "Selhausen"]
    daily = table.daily[("COSMOS-Europe", "SEC001")]
    # day 1: 23 records (one empty); day 2: 20 (4 hours flagged Flag_Snow_ERA5)
    assert daily["n_records"].tolist() == [23, 20]
    np.testing.assert_allclose(daily["sm"], [0.25, 0.30])
    np.testing.assert_allclose(daily["depth_cm"], [20.0, 18.0])
    assert table.dropped.set_index("flag")["n"].to_dict() == {"Flag_Snow_ERA5": 4}
    assert table.skipped.values.tolist()[0][:2] == ["COSMOS-Europe", "KIE001"]
    assert "station file missing" in table.skipped["reason"].iloc[0]


def test_cosmos_europe_missing_column_is_a_skipped_station(tmp_path: Path) -> None:
    shutil.copytree(PROVIDERS / "cosmos_europe", tmp_path / "release")
    station = tmp_path / "release" / "processed_crns_data_and_diagnostics_rev1" / "SEC001.csv"
    frame = pd.read_csv(station).drop(columns=["Footprint_Depth_m"])
    frame.to_csv(station, index=False)
    table = cosmos_europe.read_network(tmp_path / "release")
    assert table.data == {} and "missing column(s) Footprint_Depth_m" in table.skipped["reason"].iloc[0]
    with pytest.raises(SourceError, match="station list"):
        cosmos_europe.read_network(tmp_path)


def test_smap_nsidc_0712_provider_layout(tmp_path: Path) -> None:
    table = smap_cvs.read_sites(PROVIDERS / "smap_cvs", scale_km=9)

    meta = table.meta.set_index("station")
    assert list(meta.index) == ["Walnut Gulch"]  # site 1601 (the 36 km file is not read)
    assert meta.loc["Walnut Gulch", ["site_id", "lat", "lon", "scale_km"]].tolist() == ["1601", 31.72, -110.05, 9]
    daily = table.data[("SMAP-CVS", "Walnut Gulch")]
    np.testing.assert_allclose(daily, [0.102, (0.098 + 0.096) / 2])  # -9999 on 3 April is missing
    assert table.skipped.values.tolist() == [["SMAP-CVS", "7777", "site 7777 is not in the site list (no position)"]]
    assert smap_cvs.read_sites(PROVIDERS / "smap_cvs", scale_km=36).data[("SMAP-CVS", "Walnut Gulch")].tolist() == [0.2]
    with pytest.raises(SourceError, match="SMAPL2SMA"):
        smap_cvs.read_sites(PROVIDERS / "smap_cvs", product="SMAPL2SMA")


def test_smap_writer_round_trip_with_a_site_list(tmp_path: Path) -> None:
    times = pd.date_range("2000-01-01 12:00", periods=4, freq="12h")
    smap_cvs.write_matchups(tmp_path, "2018.10.01", "9001", times, np.array([0.2, 0.22, np.nan, 0.3]), np.full(4, 0.25))
    smap_cvs.write_sites(tmp_path, pd.DataFrame({"site_id": ["9001"], "site": ["Yanco"], "latitude": [-34.86], "longitude": [146.11]}))
    daily = smap_cvs.read_sites(tmp_path).data[("SMAP-CVS", "Yanco")]
    np.testing.assert_allclose(daily, [0.2, 0.22, 0.3])
    (tmp_path / "2018.10.01" / "NSIDC-0712_90010901_SMAPL2SMP_T1_20000101_20000102.txt").write_text("t\nYr, Mo, Day\n")
    table = smap_cvs.read_sites(tmp_path)
    assert table.data == {} and "missing column(s) Hr, Min, WASM" in table.skipped["reason"].iloc[0]


def test_ismn_malformed_file_is_a_skipped_row_not_a_crash(tmp_path: Path, hourly: tuple[np.ndarray, list[str]]) -> None:
    values, flags = hourly
    root = tmp_path / "ismn"
    ismn.write_station(root, "NET", "Alpha", 1.0, 2.0, 3.0, 0.0, 0.05, HOURS, values, flags)
    broken = root / "NET" / "Beta" / "NET_NET_Beta_sm_0.000000_0.050000_X_20120301_20120301.stm"
    broken.parent.mkdir(parents=True)
    broken.write_text("this is not an ISMN file\n")
    with pytest.warns(UserWarning, match="malformed"):
        table = ismn.read_network(root, tmp_path / "meta")
    assert ("NET", "Alpha") in table.data
    (row,) = table.skipped.itertuples(index=False)
    assert (row.network, row.station) == ("NET", "Beta") and "cannot read this file" in row.reason
