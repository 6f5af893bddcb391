"""In-situ station products: ISMN, COSMOS and SMAP core-site writers and readers."""

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
from helpers.sources import cosmos, ismn, smap_cvs

REAL_ISMN = Path(__file__).parent / "data" / "ismn_real"
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
    table = ismn.read_network(REAL_ISMN, tmp_path / "meta")

    row = table.meta.iloc[0]
    assert (row["network"], row["station"], row["sensor"]) == ("RSMN", "Adamclisi", "Meter-5TM_1_1")
    assert (row["lat"], row["lon"], row["depth_from"], row["depth_to"]) == (44.08829, 27.96591, 0.0, 0.05)
    assert (row["n_raw"], row["n_kept"]) == (287, 172)
    dropped = table.dropped.set_index("flag")["n"]
    assert dropped["D02,D03"] == 37 and dropped["D01,D02,D03"] == 20
    daily = table.data[("RSMN", "Adamclisi")]
    assert daily.index.min() == pd.Timestamp("2024-12-20")
    assert daily.between(0.0, 0.6).all()

    lenient = ismn.read_network(REAL_ISMN, tmp_path / "meta", accepted_flags=("G", "D02", "D03"))
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
    with pytest.raises(SourceError, match=r"depth_to <= 0.05 m"):
        ismn.read_network(tmp_path / "deep", tmp_path / "meta")

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


DAYS = pd.date_range("2016-06-01", periods=6, freq="D")


def test_cosmos_round_trip_keeps_good_days_and_their_depths(tmp_path: Path) -> None:
    sm = np.array([0.21, 0.22, np.nan, 0.24, 0.25, 0.26])
    depth = np.array([20.0, 21.0, 22.0, 23.0, 24.0, 25.0])
    flags = ["G", "G", "G", "G;D03", "G", "C01"]
    cosmos.write_station(
        tmp_path, "COSMOS-UK", "ALIC1", 51.15355, -0.85866, DAYS, sm, depth, flags, elevation_m=80.0
    )
    cosmos.write_station(tmp_path, "COSMOS-UK", "BALRD", 56.93, -2.58, DAYS, sm + 0.1, 30.0, "G")

    table = cosmos.read_network(tmp_path)

    meta = table.meta.set_index("station")
    assert meta.loc["ALIC1", ["lat", "lon", "elevation_m"]].tolist() == [51.15355, -0.85866, 80.0]
    assert meta.loc["ALIC1", ["n_raw", "n_kept", "n_dropped_by_flag", "n_days"]].tolist() == [5, 3, 2, 3]
    assert meta.loc["ALIC1", "median_depth_cm"] == 21.0
    assert meta.loc["ALIC1", "depth_to"] == pytest.approx(0.21)
    alic1 = table.data[("COSMOS-UK", "ALIC1")]
    assert alic1.index.equals(DAYS[[0, 1, 4]].rename("date"))
    np.testing.assert_allclose(alic1, [0.21, 0.22, 0.25])
    np.testing.assert_allclose(table.depth_cm[("COSMOS-UK", "ALIC1")], [20.0, 21.0, 24.0])
    np.testing.assert_allclose(table.depth_cm[("COSMOS-UK", "BALRD")], 30.0)
    assert table.dropped.set_index("flag")["n"].to_dict() == {"C01": 1, "G;D03": 1}


def test_cosmos_percent_files_are_converted_to_fractions(tmp_path: Path) -> None:
    sm = np.array([0.4123, 0.35, 0.3, 0.25, 0.2, 0.15])
    path = cosmos.write_station(tmp_path, "COSMOS-UK", "ALIC1", 51.0, -0.8, DAYS, sm, 14.0, "G", units="%")

    text = path.read_text()
    assert "# units: %" in text and "2016-06-01,41.23," in text
    np.testing.assert_allclose(cosmos.read_network(tmp_path).data[("COSMOS-UK", "ALIC1")], sm, atol=5e-5)


HEADER = "# network: COSMOS\n# station: X1\n# latitude: 40.0\n# longitude: -105.0\n# elevation: 1600\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (HEADER + "# units: m3 m-3\ndate,sm_volumetric,effective_depth_cm,quality_flag\n"
         "2016-06-01,0.31,20.0,G\n2016-06-02,31.0,20.0,G\n", "line 9: sm_volumetric 31.0 outside 0..1 m3 m-3"),
        (HEADER + "# units: m3 m-3\ndate,sm_volumetric,effective_depth_cm,quality_flag\n"
         "2016-06-01,0.31,20.0,G\n2016-06-02,0.3x,20.0,G\n", "line 9: column sm_volumetric: not a number"),
        (HEADER + "# units: m3 m-3\ndate,sm_volumetric,effective_depth_cm,quality_flag\n"
         "2016-06-01,0.31,20.0,G\n06/02/2016,0.3,20.0,G\n", "line 9: column date: not a YYYY-MM-DD date"),
        (HEADER + "# units: m3 m-3\ndate,sm_volumetric,effective_depth_cm,quality_flag\n"
         "2016-06-01,0.31,20.0\n", "line 8: 3 fields, expected 4"),
        (HEADER + "# units: m3 m-3\ndate,sm_volumetric,quality_flag\n2016-06-01,0.31,G\n",
         "missing column\\(s\\) effective_depth_cm"),
        (HEADER + "# units: vol%\ndate,sm_volumetric,effective_depth_cm,quality_flag\n2016-06-01,31,20.0,G\n",
         "line 6: units 'vol%' not one of"),
        (HEADER + "date,sm_volumetric,effective_depth_cm,quality_flag\n2016-06-01,0.31,20.0,G\n",
         "header lacks # units"),
    ],
    ids=["over_one_in_m3", "bad_number", "bad_date", "short_row", "missing_column", "wrong_units", "no_units"],
)  # fmt: skip
def test_cosmos_layout_errors_name_file_and_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "x1.csv"
    path.write_text(text)
    with pytest.raises(SourceError, match=problem) as error:
        cosmos.read_network(tmp_path)
    assert str(error.value).startswith(str(path))


def test_cosmos_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        cosmos.read_network(tmp_path / "absent")
    with pytest.raises(SourceError, match="empty network"):
        cosmos.read_network(tmp_path)
    cosmos.write_station(tmp_path, "COSMOS", "X1", 40.0, -105.0, DAYS, np.full(6, 0.2), 20.0, "G")
    (tmp_path / "copy.csv").write_text((tmp_path / "COSMOS_X1.csv").read_text())
    with pytest.raises(SourceError, match="already read"):
        cosmos.read_network(tmp_path)


def test_smap_sites_round_trip_at_one_scale(tmp_path: Path) -> None:
    sm = np.array([0.25, 0.26, np.nan, 0.28, 0.29, 0.30])
    sensors = np.array([12, 12, 0, 0, 11, 10])
    smap_cvs.write_site(tmp_path, "Little Washita", 1601, 34.9603, -97.9761, DAYS, sm, sensors)
    smap_cvs.write_site(tmp_path, "Walnut Gulch", "1602", 31.7, -110.0, DAYS, sm - 0.1, 8)
    smap_cvs.write_site(tmp_path, "Little Washita", 1601, 34.9, -97.9, DAYS, sm, sensors, scale_km=36)

    table = smap_cvs.read_sites(tmp_path, scale_km=9)

    meta = table.meta.set_index("station")
    assert sorted(meta.index) == ["Little Washita", "Walnut Gulch"]
    washita = meta.loc["Little Washita"]
    assert (washita["site_id"], washita["lat"], washita["lon"], washita["scale_km"]) == (
        "1601",
        34.9603,
        -97.9761,
        9,
    )
    assert washita[["n_raw", "n_kept", "n_dropped_by_flag"]].tolist() == [5, 4, 1]
    assert washita["median_n_sensors"] == 11.5
    series = table.data[("SMAP-CVS", "Little Washita")]
    assert series.index.equals(DAYS[[0, 1, 4, 5]].rename("date"))
    np.testing.assert_allclose(series, [0.25, 0.26, 0.29, 0.30])
    assert table.dropped.values.tolist() == [["SMAP-CVS", "n_sensors<1", 1]]
    assert smap_cvs.read_sites(tmp_path, scale_km=36).meta["lat"].tolist() == [34.9]


def test_smap_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        smap_cvs.read_sites(tmp_path / "absent")
    smap_cvs.write_site(
        tmp_path, "Little Washita", 1601, 34.96, -97.98, DAYS, np.full(6, 0.2), 10, scale_km=36
    )
    with pytest.raises(SourceError, match=r"no SMAP core-site file at 9 km \(scales found: 36 km\)"):
        smap_cvs.read_sites(tmp_path)

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "# site: S\n# site_id: 1\n# latitude: 1\n# longitude: 2\n# scale_km: 9\n"
        "date,sm_upscaled,n_sensors\n2016-06-01,0.2,3\n2016-06-02,25.0,3\n"
    )
    with pytest.raises(SourceError, match=r"line 8: sm_upscaled 25\.0 outside 0\.\.1") as error:
        smap_cvs.read_sites(tmp_path)
    assert str(error.value).startswith(str(bad))

    bad.write_text("# site: S\n# latitude: 1\n# longitude: 2\n# scale_km: 9\ndate,sm_upscaled,n_sensors\n")
    with pytest.raises(SourceError, match="header lacks # site_id"):
        smap_cvs.read_sites(tmp_path)
