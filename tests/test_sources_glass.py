"""GLASS readers on files laid out as the provider ships them (tiny global grids)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.io
from fixtures_glass import (
    ALBEDO_SPECS,
    LST_SPEC,
    unscaled,
    write_albedo,
    write_geographic_sm,
    write_lst,
    write_modis_sm,
)

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import _hdf4, glass_albedo, glass_lst, glass_modis_sm

GRID = Grid(10.0)
D1 = dt.date(1998, 1, 1)
D9 = dt.date(1998, 1, 9)
BAND = "ABD_BSA_VIS"


def field(value: float) -> np.ndarray:
    return np.full(GRID.shape, value, dtype=np.float32)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


# ------------------------------------------------------------------ finding files


def test_albedo_year_folders_and_flat(tmp_path: Path) -> None:
    nested, flat = tmp_path / "nested", tmp_path / "flat"
    for root, year_folder in ((nested, True), (flat, False)):
        write_albedo(root, D1, GRID, {BAND: field(0.2)}, year_folder=year_folder)
        write_albedo(root, dt.date(1999, 1, 1), GRID, {BAND: field(0.3)}, year_folder=year_folder)
    assert (nested / "1998" / "GLASS02B05.V04.A1998001.2018062.hdf").is_file()
    for root in (nested, flat):
        ds = glass_albedo.read(root, GRID, D1, dt.date(1999, 1, 8), [BAND])
        assert ds.sizes["time"] == 47  # 46 composites of 1998 and 1999-01-01
        np.testing.assert_allclose(ds[BAND].values[0], 0.2, atol=1e-6)
        np.testing.assert_allclose(ds[BAND].values[-1], 0.3, atol=1e-6)


def test_names_without_processing_date(tmp_path: Path) -> None:
    write_lst(tmp_path, D1, GRID, field(280.0), production=None)
    write_albedo(tmp_path, D1, GRID, {BAND: field(0.2)}, production=None)
    assert (tmp_path / "1998" / "GLASS08B31.V40.A1998001.hdf").is_file()
    lst = glass_lst.read(tmp_path, GRID, D1, D1)
    np.testing.assert_allclose(lst.values[0], 280.0, atol=0.006)
    assert glass_albedo.read(tmp_path, GRID, D1, D1, [BAND])[BAND].shape == (1, *GRID.shape)


def test_latest_processing_date_wins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = write_lst(tmp_path, D1, GRID, field(270.0), production="2019001")
    new = write_lst(tmp_path, D1, GRID, field(290.0), production="2021259", year_folder=False)
    bare = write_lst(tmp_path, D1, GRID, field(250.0), production=None)
    with caplog.at_level(logging.INFO, logger="helpers.sources._glass"):
        assert glass_lst.find_files(tmp_path, D1, D1) == {D1: new}
        out = glass_lst.read(tmp_path, GRID, D1, D1)
    np.testing.assert_allclose(out.values[0], 290.0, atol=0.006)
    text = caplog.text
    assert new.name in text and old.name in text and bare.name in text and "supersedes" in text
    # the same name in two folders cannot be ordered
    twin = tmp_path / "copy" / new.name
    twin.parent.mkdir()
    twin.write_bytes(new.read_bytes())
    with pytest.raises(SourceError, match="same processing date") as error:
        glass_lst.read(tmp_path, GRID, D1, D1)
    assert str(new) in str(error.value) and str(twin) in str(error.value)


def test_user_pattern(tmp_path: Path) -> None:
    path = write_lst(tmp_path, D1, GRID, field(280.0))
    path.rename(tmp_path / "lst_1998001.hdf")
    with pytest.raises(SourceError, match="no GLASS LST files"):
        glass_lst.read(tmp_path, GRID, D1, D1)
    out = glass_lst.read(tmp_path, GRID, D1, D1, pattern="lst_{year}{doy}.hdf")
    assert np.isfinite(out.values).all()


# ------------------------------------------------------------------ HDF-EOS structure


def test_struct_metadata_is_written_and_checked(tmp_path: Path) -> None:
    path = write_albedo(tmp_path, D1, GRID, {BAND: field(0.2)})
    with _hdf4.open_sd(path) as sd:
        text = _hdf4.struct_metadata(sd)
        assert sd.select(BAND).dimensions() == {"YDim:GLASS02B05": 18, "XDim:GLASS02B05": 36}
    assert 'GridName="GLASS02B05"' in text and "UpperLeftPointMtrs=(-180000000.000000,90000000.000000)" in text
    (grid,) = _hdf4.eos_grid_of(path, text)
    assert (grid.xdim, grid.ydim, grid.upper_left, grid.lower_right) == (36, 18, (-180.0, 90.0), (180.0, -90.0))
    assert BAND in grid.fields
    # the demo writer (twin world) writes the same structure, and write_window keeps it
    demo = glass_albedo.create(tmp_path / "demo", D1, GRID)
    glass_albedo.write_window(demo, GRID.window(0, 2, 0, 2), {BAND: np.full((2, 2), 0.5)})
    with _hdf4.open_sd(demo) as sd:
        assert 'GridName="GLASS02B05"' in _hdf4.struct_metadata(sd)
    assert glass_albedo.read_file(demo, GRID, [BAND])[BAND][0, 0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"shape": (18, 72)}, r"YDim x XDim = 18 x 72 in StructMetadata\.0, but SDS ABD_BSA_VIS has shape \(18, 36\)"),
        ({"upper_left": (-180.0, 60.0), "lower_right": (180.0, -60.0)}, "is not global"),
        ({"projection": "GCTP_SNSOID"}, "expected Projection=GCTP_GEO"),
    ],
)
def test_struct_metadata_disagreeing(tmp_path: Path, metadata: dict, message: str) -> None:
    shape = metadata.pop("shape", GRID.shape)
    text = _hdf4.eos_struct_metadata("GLASS02B05", shape, ALBEDO_SPECS, **metadata)
    path = write_albedo(tmp_path, D1, GRID, {BAND: field(0.2)}, struct_metadata=text)
    with pytest.raises(SourceError, match=message) as error:
        glass_albedo.read(tmp_path, GRID, D1, D1, [BAND])
    assert str(error.value).startswith(str(path))


def test_packed_dms() -> None:
    assert _hdf4.packed_dms_to_degrees(-180000000.0) == -180.0
    assert _hdf4.packed_dms_to_degrees(45030000.0) == pytest.approx(45.5)
    assert _hdf4.packed_dms_to_degrees(_hdf4.degrees_to_packed_dms(-0.05)) == pytest.approx(-0.05)


# ------------------------------------------------------------------ decoding


def test_encoding_attributes_then_params_then_error(tmp_path: Path) -> None:
    raw = {BAND: np.full(GRID.shape, 2000, dtype=np.int16)}
    raw[BAND][0, 0] = -1
    with_attrs = write_albedo(tmp_path / "a", D1, GRID, raw=raw)
    # the file's own scale decides, whatever params say
    got = glass_albedo.read_file(with_attrs, GRID, [BAND], encoding={"scale_factor": 0.01})[BAND]
    assert got[0, 1] == pytest.approx(0.2) and np.isnan(got[0, 0])
    bare = write_albedo(tmp_path / "b", D1, GRID, raw=raw, specs=unscaled(ALBEDO_SPECS))
    with pytest.raises(SourceError, match=r"SDS ABD_BSA_VIS has no scale_factor .*sources\.encodings\.glass_albedo") as e:
        glass_albedo.read(tmp_path / "b", GRID, D1, D1, [BAND])
    assert str(e.value).startswith(str(bare))
    encoding = {"scale_factor": 0.0001, "add_offset": 0.0, "fill_value": -1, "valid_range": [0, 10000]}
    got = glass_albedo.read(tmp_path / "b", GRID, D1, D1, [BAND], encoding=encoding)[BAND].values[0]
    assert got[0, 1] == pytest.approx(0.2) and np.isnan(got[0, 0])
    # a wrong scale (the old LVT x0.01) gives albedo far above 1: refused
    with pytest.raises(SourceError, match="expected albedo 0-1"):
        glass_albedo.read(tmp_path / "b", GRID, D1, D1, [BAND], encoding={"scale_factor": 0.01, "fill_value": -1})
    lst = write_lst(tmp_path / "c", D1, GRID, raw=np.full(GRID.shape, 28000, dtype=np.uint16),
                    spec=unscaled([LST_SPEC])[0])
    with pytest.raises(SourceError, match=r"sources\.encodings\.glass_lst") as e:
        glass_lst.read(tmp_path / "c", GRID, D1, D1)
    assert str(e.value).startswith(str(lst))
    out = glass_lst.read(tmp_path / "c", GRID, D1, D1, encoding={"scale_factor": 0.01, "fill_value": 0})
    np.testing.assert_allclose(out.values, 280.0, rtol=1e-6)


def test_missing_band(tmp_path: Path) -> None:
    path = write_albedo(tmp_path, D1, GRID, specs=[s for s in ALBEDO_SPECS if s.name != BAND])
    with pytest.raises(SourceError, match=r"SDS ABD_BSA_VIS not found; file has: ABD_BSA_NIR, .*QC_VIS") as e:
        glass_albedo.read(tmp_path, GRID, D1, D1, [BAND])
    assert str(e.value).startswith(str(path))


def test_wrong_units_and_truncated(tmp_path: Path) -> None:
    celsius = _hdf4.SdsSpec("LST", np.int16, -9999, "land surface temperature", "degC", 0.01, 0.0)
    path = write_lst(tmp_path, D1, GRID, raw=celsius.encode(field(15.0)), spec=celsius)
    with pytest.raises(SourceError, match="expected Kelvin, file says units 'degC'") as e:
        glass_lst.read(tmp_path, GRID, D1, D1)
    assert str(e.value).startswith(str(path))
    path = write_lst(tmp_path, D1, GRID, field(280.0))
    truncate(path)
    with pytest.raises(SourceError, match="truncated or corrupt") as e:
        glass_lst.read(tmp_path, GRID, D1, D1)
    assert str(e.value).startswith(str(path))


# ------------------------------------------------------------------ time axis and grids


def test_missing_days_are_nan_and_flagged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for day in (1, 2, 5):
        write_lst(tmp_path, dt.date(1998, 1, day), GRID, field(280.0 + day))
    with caplog.at_level(logging.WARNING):
        out = glass_lst.read(tmp_path, GRID, D1, dt.date(1998, 1, 6))
    assert out.sizes["time"] == 6
    assert out.attrs["missing_days"] == ["1998-01-03", "1998-01-04", "1998-01-06"]
    assert np.isnan(out.values[[2, 3, 5]]).all() and np.isfinite(out.values[[0, 1, 4]]).all()
    assert str(tmp_path) in caplog.text and "1998-01-03..1998-01-04, 1998-01-06 (3 days)" in caplog.text
    write_albedo(tmp_path / "albedo", D9, GRID, {BAND: field(0.2)})
    ds = glass_albedo.read(tmp_path / "albedo", GRID, D1, dt.date(1998, 1, 20), [BAND])
    assert ds.time.values.astype("datetime64[D]").tolist() == [D1, D9, dt.date(1998, 1, 17)]
    assert ds.attrs["missing_days"] == ["1998-01-01", "1998-01-17"]
    with pytest.raises(SourceError, match="no GLASS LST files between 1990-01-01 and 1990-12-31"):
        glass_lst.read(tmp_path, GRID, dt.date(1990, 1, 1), dt.date(1990, 12, 31))


def test_albedo_off_the_composite_calendar(tmp_path: Path) -> None:
    path = write_albedo(tmp_path, dt.date(1998, 1, 5), GRID, {BAND: field(0.2)})
    with pytest.raises(SourceError, match="not one of the product's dates") as e:
        glass_albedo.read(tmp_path, GRID, D1, dt.date(1998, 1, 31), [BAND])
    assert str(e.value).startswith(str(path))


def test_other_grid_is_refused(tmp_path: Path) -> None:
    first = write_lst(tmp_path, D1, GRID, field(280.0))
    other = write_lst(tmp_path, dt.date(1998, 1, 2), Grid(5.0), np.full(Grid(5.0).shape, 280.0))
    with pytest.raises(SourceError, match="differs from") as e:
        glass_lst.read(tmp_path, GRID, D1, dt.date(1998, 1, 2))
    assert str(e.value).startswith(str(other)) and str(first) in str(e.value)


# ------------------------------------------------------------------ GLASS-MODIS SM


SM_DAY = dt.date(2000, 1, 1)


def test_sm_year_folders_missing_days_and_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    fine = Grid(1.0)
    for day in (0, 2):
        write_modis_sm(tmp_path, SM_DAY + dt.timedelta(days=day), fine, np.full(fine.shape, 0.3, np.float32))
    windows = []
    original = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        windows.append((kwargs.get("window"), self.width, self.height))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    tile = Grid(5.0, west=0, south=0, east=10, north=10)
    with caplog.at_level(logging.WARNING):
        out = glass_modis_sm.read(tmp_path, tile, SM_DAY, SM_DAY + dt.timedelta(days=2))
    assert out.attrs["missing_days"] == ["2000-01-02"] and "2000-01-02 (1 day)" in caplog.text
    assert np.isnan(out.values[1]).all()
    np.testing.assert_allclose(out.values[[0, 2]], 0.3, rtol=1e-6)
    assert len(windows) == 2
    for window, width, height in windows:  # only the tile's rows and columns were read
        assert window is not None and window.width * window.height < width * height / 100


def test_sm_bad_inputs(tmp_path: Path) -> None:
    values = np.full(GRID.shape, 0.3, dtype=np.float32)
    geographic = write_geographic_sm(tmp_path / "geo", SM_DAY, GRID, values)
    with pytest.raises(SourceError, match="expected the MODIS sinusoidal projection") as e:
        glass_modis_sm.read(tmp_path / "geo", GRID, SM_DAY, SM_DAY)
    assert str(e.value).startswith(str(geographic))
    percent = write_modis_sm(tmp_path / "pct", SM_DAY, GRID, values * 100)
    with pytest.raises(SourceError, match="percent") as e:
        glass_modis_sm.read(tmp_path / "pct", GRID, SM_DAY, SM_DAY)
    assert str(e.value).startswith(str(percent))
    truncate(percent)
    with pytest.raises(SourceError, match="truncated") as e:
        glass_modis_sm.read(tmp_path / "pct", GRID, SM_DAY, SM_DAY)
    assert str(e.value).startswith(str(percent))
    with pytest.raises(SourceError, match="no GLASS-MODIS SM files"):
        glass_modis_sm.read(tmp_path / "pct", GRID, dt.date(2001, 1, 1), dt.date(2001, 1, 2))
