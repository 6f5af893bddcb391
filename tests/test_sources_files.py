"""File patterns: how every reader finds a product's files under its folder."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from helpers.sources._files import FilePattern, dated_files, describe_days, matching_files, missing_days


def touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_a_pattern_finds_files_in_year_folders_and_flat_and_reads_their_dates(tmp_path):
    touch(tmp_path, "1982/GLASS08B31.V40.A1982001.2021259.hdf", "GLASS08B31.V40.A1982002.hdf",
          "1982/GLASS08B31.V40.A1982367.2021259.hdf",  # day 367 does not exist: ignored
          "1982/GLASS02B05.V04.A1982001.hdf", "1982/README.txt")
    pattern = FilePattern("**/GLASS08B31.V40.A{year}{doy}*.hdf")
    found = dated_files(tmp_path, pattern, dt.date(1982, 1, 1), dt.date(1982, 12, 31))
    assert list(found) == [dt.date(1982, 1, 1), dt.date(1982, 1, 2)]
    assert found[dt.date(1982, 1, 1)][0].parent.name == "1982"
    by_day = dated_files(tmp_path, "**/*A{year}{doy}*.hdf", dt.date(1982, 1, 1), dt.date(1982, 1, 1))
    assert len(by_day[dt.date(1982, 1, 1)]) == 2  # both products: the reader decides what that means


def test_placeholders_repeat_and_name_years_or_days(tmp_path):
    touch(tmp_path, "2001/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20010305000000-fv09.1.nc",
          "2002/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20010306000000-fv09.1.nc",  # wrong year folder
          "SMs_2019_GLEAM_v4.1a.nc", "SMs_2019_GLEAM_v4.1a_MO.nc")
    cci = FilePattern("{year}/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{year}{month}{day}000000-fv*.nc")
    found = dated_files(tmp_path, cci, dt.date(2001, 1, 1), dt.date(2001, 12, 31))
    assert list(found) == [dt.date(2001, 3, 5)]
    years = dated_files(tmp_path, "SMs_{year}_GLEAM_v4.[0-9]a.nc", dt.date(2019, 1, 1), dt.date(2019, 12, 31))
    assert list(years) == [2019] and [p.name for p in years[2019]] == ["SMs_2019_GLEAM_v4.1a.nc"]


def test_bad_patterns_are_refused():
    with pytest.raises(ValueError, match=r"unknown placeholder \{date\}"):
        FilePattern("{date}.nc")
    with pytest.raises(ValueError, match="relative"):
        FilePattern("/data/*.nc")
    with pytest.raises(ValueError, match=r"no \{year\} placeholder"):
        dated_files(__import__("pathlib").Path("."), "*.nc", dt.date(2000, 1, 1), dt.date(2000, 1, 2))


def test_the_listing_sees_files_added_later(tmp_path):
    touch(tmp_path, "2000/a_2000001.nc")
    pattern = FilePattern("**/a_{year}{doy}.nc")
    assert len(matching_files(tmp_path, pattern)) == 1
    time.sleep(0.01)
    touch(tmp_path, "2000/a_2000002.nc")
    assert len(matching_files(tmp_path, pattern)) == 2


def test_missing_days_are_described_as_runs():
    days = missing_days([dt.date(2001, 1, 1), dt.date(2001, 1, 4)], dt.date(2001, 1, 1), dt.date(2001, 1, 6))
    assert describe_days(days) == "2001-01-02..2001-01-03, 2001-01-05..2001-01-06 (4 days)"
    assert describe_days([]) == "none"
