"""Gridded products: each writer/reader pair round-trips, regrids correctly and fails clearly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import rasterio
from pyhdf.SD import SD, SDC
from rasterio.transform import from_origin
from rasterio.windows import Window

from helpers.errors import SourceError
from helpers.grid import EARTH_RADIUS_KM, Grid, coarsen_mean
from helpers.sources import (
    _hdf4,
    era5_land,
    esa_cci,
    glass_albedo,
    glass_lst,
    glass_modis_sm,
    mcd12c1,
    merit_dem,
    soilgrids,
)

DAY = dt.date(2000, 1, 1)
GLOBAL_1 = Grid.global_grid(1.0)


def smooth_field(grid: Grid, base: float = 0.3, amplitude: float = 0.1) -> np.ndarray:
    """A smooth, periodic test field on ``grid``."""
    lat, lon = np.radians(grid.lat)[:, None], np.radians(grid.lon)[None, :]
    return (base + amplitude * np.cos(lat) * np.sin(lon) + 0.5 * amplitude * np.sin(2 * lat)).astype(
        np.float32
    )


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


# ---------------------------------------------------------------- GLASS albedo and LST (HDF4)


@pytest.fixture(scope="module")
def albedo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One composite on the global 1-degree grid, written in two windows."""
    directory = tmp_path_factory.mktemp("albedo")
    path = glass_albedo.create(directory, dt.date(1998, 1, 9), GLOBAL_1)
    vis = smooth_field(GLOBAL_1)
    vis[100, 200] = np.nan
    for rows, cols, tile in GLOBAL_1.tiles(120):
        glass_albedo.write_window(
            path, tile, {"ABD_BSA_VIS": vis[rows, cols], "ABD_WSA_NIR": vis[rows, cols] + 0.1}
        )
    (directory / "README.txt").write_text("not a GLASS file")
    return directory


def test_albedo_names_and_composite_dates() -> None:
    dates = glass_albedo.composite_dates(1998)
    assert len(dates) == 46
    assert dates[1] == dt.date(1998, 1, 9) and dates[-1].timetuple().tm_yday == 361
    assert glass_albedo.file_name(dt.date(1998, 1, 9)) == "GLASS02B05.V04.A1998009.2019001.hdf"
    assert glass_lst.file_name(dt.date(1998, 1, 1)) == "GLASS08B31.V40.A1998001.2021259.hdf"


def test_albedo_file_layout(albedo_dir: Path) -> None:
    sd = SD(str(albedo_dir / glass_albedo.file_name(dt.date(1998, 1, 9))), SDC.READ)
    try:
        assert set(sd.datasets()) == {*glass_albedo.BANDS, "QC"}
        sds = sd.select("ABD_BSA_VIS")
        attributes = sds.attributes()
        assert sds.info()[2] == [180, 360] and sds.info()[3] == SDC.INT16
        assert attributes["scale_factor"] == pytest.approx(1e-4)
        assert attributes["_FillValue"] == -1 and list(attributes["valid_range"]) == [0, 10000]
        assert sds.getcompress()[0] == SDC.COMP_DEFLATE
        assert np.all(sd.select("ABD_BSA_NIR")[:] == -1)
        assert sd.select("QC").info()[3] == SDC.UINT8
    finally:
        sd.end()


def test_albedo_round_trip_and_tiles(albedo_dir: Path) -> None:
    expected = smooth_field(GLOBAL_1)
    ds = glass_albedo.read(
        albedo_dir, GLOBAL_1, dt.date(1998, 1, 1), dt.date(1998, 12, 31), ["ABD_BSA_VIS", "ABD_WSA_NIR"]
    )
    assert ds.time.values.astype("datetime64[D]").tolist() == glass_albedo.composite_dates(1998)
    assert len(ds.attrs["missing_days"]) == 45 and "1998-01-09" not in ds.attrs["missing_days"]
    assert np.isnan(ds.ABD_BSA_VIS.values[0]).all()  # 1998-01-01 has no file: a NaN composite
    vis = ds.ABD_BSA_VIS.values[1]
    assert vis.dtype == np.float32 and np.isnan(vis[100, 200])
    finite = np.isfinite(vis)
    assert finite.sum() == vis.size - 1
    assert np.abs(vis - expected)[finite].max() <= 0.5e-4 + 1e-7
    assert np.nanmax(np.abs(ds.ABD_WSA_NIR.values[1] - expected - 0.1)) <= 0.5e-4 + 1e-6
    tile = GLOBAL_1.window(30, 75, 100, 190)
    tile_ds = glass_albedo.read(albedo_dir, tile, dt.date(1998, 1, 1), dt.date(1998, 1, 31), ["ABD_BSA_VIS"])
    np.testing.assert_array_equal(tile_ds.ABD_BSA_VIS.values[1], vis[30:75, 100:190])


def test_albedo_coarser_destination_is_area_weighted_mean(albedo_dir: Path) -> None:
    path = albedo_dir / glass_albedo.file_name(dt.date(1998, 1, 9))
    native = glass_albedo.read_file(path, GLOBAL_1, ["ABD_BSA_VIS"])["ABD_BSA_VIS"]
    coarse = glass_albedo.read_file(path, Grid(3.0), ["ABD_BSA_VIS"])["ABD_BSA_VIS"]
    np.testing.assert_allclose(coarse, coarsen_mean(native, 3, GLOBAL_1.cell_area_km2()), rtol=1e-6)
    assert not np.allclose(coarse, coarsen_mean(native, 3))  # the area weights matter


def test_albedo_finer_destination_interpolates_across_the_antimeridian(albedo_dir: Path) -> None:
    path = albedo_dir / glass_albedo.file_name(dt.date(1998, 1, 9))
    native = glass_albedo.read_file(path, GLOBAL_1, ["ABD_BSA_VIS"])["ABD_BSA_VIS"]
    tile = Grid(0.5, west=170, south=-10, east=180, north=0)
    fine = glass_albedo.read_file(path, tile, ["ABD_BSA_VIS"])["ABD_BSA_VIS"]
    # the north-east fine cell (0.25 S, 179.75 E) lies between source rows 89 (0.5 N) and 90 (0.5 S)
    # and between columns 359 (179.5 E) and, across the antimeridian, 0 (179.5 W)
    expected = 0.75 * (0.75 * native[90, 359] + 0.25 * native[90, 0]) + 0.25 * (
        0.75 * native[89, 359] + 0.25 * native[89, 0]
    )
    assert fine[0, -1] == pytest.approx(expected, abs=1e-6)
    assert fine[0, -1] != pytest.approx(0.75 * native[90, 359] + 0.25 * native[89, 359], abs=1e-6)


def test_albedo_errors(albedo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="directory not found") as error:
        glass_albedo.read(tmp_path / "nowhere", GLOBAL_1, DAY, DAY)
    assert str(error.value).startswith(str(tmp_path / "nowhere"))
    with pytest.raises(
        SourceError, match=r"no GLASS albedo files .*expected names like GLASS02B05\.V04\.A2005001"
    ):
        glass_albedo.read(albedo_dir, GLOBAL_1, dt.date(2005, 1, 1), dt.date(2005, 12, 31))
    path = albedo_dir / glass_albedo.file_name(dt.date(1998, 1, 9))
    with pytest.raises(SourceError, match="SDS LST not found; file has: ABD_BSA_NIR"):
        glass_lst.read_file(path, GLOBAL_1)
    broken = tmp_path / path.name
    broken.write_bytes(path.read_bytes())
    truncate(broken)
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        glass_albedo.read_file(broken, GLOBAL_1)
    assert str(broken) in str(error.value)


def test_glass_find_files_keeps_latest_production(tmp_path: Path) -> None:
    grid = Grid(10.0)
    old = glass_albedo.create(tmp_path, dt.date(1998, 1, 1), grid)
    new = tmp_path / glass_albedo.file_name(dt.date(1998, 1, 1), production="2020100")
    new.write_bytes(old.read_bytes())
    glass_lst.create(tmp_path, dt.date(1998, 1, 2), grid)
    assert glass_albedo.find_files(tmp_path, dt.date(1998, 1, 1), dt.date(1998, 1, 31)) == {
        dt.date(1998, 1, 1): new
    }
    assert list(glass_lst.find_files(tmp_path, dt.date(1998, 1, 1), dt.date(1998, 1, 31))) == [
        dt.date(1998, 1, 2)
    ]


def test_lst_round_trip_and_empty_window(tmp_path: Path) -> None:
    grid = Grid(2.0)
    lst = 250 + 50 * smooth_field(grid, base=0.5)
    for day in (1, 2):
        path = glass_lst.create(tmp_path, dt.date(1999, 1, day), grid)
        if day == 1:
            glass_lst.write_window(path, grid, lst)
    out = glass_lst.read(tmp_path, grid, dt.date(1999, 1, 1), dt.date(1999, 1, 31))
    assert out.name == "lst" and out.attrs["units"] == "K" and out.sizes["time"] == 31
    assert out.attrs["missing_days"][0] == "1999-01-03" and len(out.attrs["missing_days"]) == 29
    assert np.abs(out.values[0] - lst).max() <= 0.005 + 1e-4
    assert np.isnan(out.values[1]).all()  # an all-missing day is data, not an error


def test_lst_units_are_checked(tmp_path: Path) -> None:
    grid = Grid(2.0)
    celsius = _hdf4.SdsSpec("LST", np.int16, -9999, "land surface temperature", "degC", 0.01, 0.0)
    path = tmp_path / glass_lst.file_name(DAY)
    _hdf4.create(path, grid, [celsius], {"LST": celsius.encode(np.full(grid.shape, 15.0))})
    with pytest.raises(SourceError, match="expected Kelvin, file says units 'degC'"):
        glass_lst.read(tmp_path, grid, DAY, DAY)
    kelvin_label = _hdf4.SdsSpec("LST", np.int16, -9999, "land surface temperature", "K", 0.01, 0.0)
    _hdf4.create(path, grid, [kelvin_label], {"LST": kelvin_label.encode(np.full(grid.shape, 15.0))})
    with pytest.raises(SourceError, match=r"expected Kelvin, decoded values have median 15\.0"):
        glass_lst.read(tmp_path, grid, DAY, DAY)


def test_hdf4_reader_rejects_non_global_shapes(tmp_path: Path) -> None:
    path = tmp_path / glass_lst.file_name(DAY)
    _hdf4.create(path, Grid(1.0, west=0, south=0, east=10, north=10), [glass_lst.SPEC])
    with pytest.raises(SourceError, match=r"shape \(10, 10\) is not a global lat/lon grid"):
        glass_lst.read(tmp_path, GLOBAL_1, DAY, DAY)


# ---------------------------------------------------------------- GLASS-MODIS SM (sinusoidal GeoTIFF)


@pytest.fixture(scope="module")
def target_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of a smooth field written from a 0.5-degree grid at one pixel per cell."""
    directory = tmp_path_factory.mktemp("target")
    fine = Grid(0.5)
    for day in range(3):
        glass_modis_sm.write(
            directory, DAY + dt.timedelta(days=2 * day), fine, smooth_field(fine) + 0.01 * day, subcells=1
        )
    return directory


def test_target_file_geometry(target_dir: Path) -> None:
    with rasterio.open(target_dir / "GLASS_SM_MODIS_A2000001.tif") as src:
        assert src.crs.to_dict()["proj"] == "sinu" and src.crs.to_dict()["R"] == pytest.approx(6371007.181)
        assert (src.width, src.height) == (720, 360)
        assert src.bounds.left == pytest.approx(-20015109.354, abs=0.01)
        assert src.bounds.top == pytest.approx(10007554.677, abs=0.01)
        assert src.nodata == -9999 and src.dtypes[0] == "float32"
        corner = src.read(1, window=Window(0, 0, 5, 5))
        assert np.all(corner == -9999)  # off the sinusoidal map


def test_target_aggregation_reproduces_cell_means(target_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    original = glass_modis_sm._build_mapping
    monkeypatch.setattr(glass_modis_sm, "_build_mapping", lambda *args: built.append(1) or original(*args))
    grid = Grid(3.0, west=-180, south=-60, east=180, north=60)
    out = glass_modis_sm.read(target_dir, grid, DAY, DAY + dt.timedelta(days=10), min_valid_fraction=0.0)
    assert len(built) == 1  # one mapping for all days of the same geometry
    assert out.name == "target_sm" and out.sizes["time"] == 11  # days without files are NaN
    assert out.attrs["missing_days"] == [str(DAY + dt.timedelta(days=k)) for k in (1, 3, *range(5, 11))]
    expected = smooth_field(grid)
    np.testing.assert_allclose(out.values[0], expected, atol=1e-3)
    np.testing.assert_allclose(out.values[4] - out.values[0], 0.02, atol=1e-6)
    tile = grid.window(5, 15, 20, 40)
    tile_out = glass_modis_sm.read(target_dir, tile, DAY, DAY, min_valid_fraction=0.0)
    np.testing.assert_allclose(tile_out.values[0], out.values[0, 5:15, 20:40], rtol=1e-6)


def test_target_valid_fraction_and_tiles(tmp_path: Path) -> None:
    grid = Grid(10.0, west=-180, south=-60, east=180, north=60)
    fine = Grid(2.0)
    fine_values = np.full(fine.shape, 0.25, dtype=np.float32)
    fine_values[20:22, 90:95] = np.nan  # 46-50 N of the 10-degree cell 40-50 N, 0-10 E: 40 % missing
    path = glass_modis_sm.write(tmp_path, DAY, fine, fine_values, subcells=2)
    out = glass_modis_sm.read(tmp_path, grid, DAY, DAY, min_valid_fraction=0.5)
    assert out.values[0, 1, 18] == pytest.approx(0.25)
    np.testing.assert_allclose(out.values[0], 0.25, rtol=1e-6)
    strict = glass_modis_sm.read(tmp_path, grid, DAY, DAY, min_valid_fraction=0.7)
    assert np.isnan(strict.values[0, 1, 18]) and np.isfinite(strict.values[0, 1, 19])
    # the same day split into two tiles (western and eastern halves) reads the same
    tiles = tmp_path / "tiles"
    tiles.mkdir()
    with rasterio.open(path) as src:
        half = src.width // 2
        for index, col0 in enumerate((0, half)):
            window = Window(col0, 0, half, src.height)
            profile = {
                "driver": "GTiff",
                "dtype": "float32",
                "count": 1,
                "width": half,
                "height": src.height,
                "crs": src.crs,
                "transform": src.window_transform(window),
                "nodata": src.nodata,
            }
            with rasterio.open(tiles / f"GLASS_SM_MODIS_A2000001_t{index}.tif", "w", **profile) as dst:
                dst.write(src.read(1, window=window), 1)
    np.testing.assert_array_equal(glass_modis_sm.read(tiles, grid, DAY, DAY).values, out.values)


def test_target_file_pattern_and_errors(tmp_path: Path) -> None:
    grid = Grid(10.0)
    values = np.full(grid.shape, 0.3, dtype=np.float32)
    values[8, 18] = 45.0  # 0-10 N, 0-10 E
    path = glass_modis_sm.write(tmp_path, DAY, grid, values, subcells=2)
    renamed = path.rename(tmp_path / "sm_2000_001.tif")
    with pytest.raises(SourceError, match="no GLASS-MODIS SM files"):
        glass_modis_sm.read(tmp_path, grid, DAY, DAY)
    with pytest.raises(
        SourceError, match=r"expected volumetric fraction m3 m-3, got values up to 45: percent\?"
    ) as error:
        glass_modis_sm.read(tmp_path, grid, DAY, DAY, pattern="sm_{year}_{doy}.tif")
    assert str(error.value).startswith(str(renamed))
    truncate(renamed)
    with pytest.raises(SourceError, match="truncated"):
        glass_modis_sm.read(tmp_path, grid, DAY, DAY, pattern="sm_{year}_{doy}.tif")


# ---------------------------------------------------------------- ERA5-Land (NetCDF nodes)


@pytest.fixture(scope="module")
def era5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Year 1999 on 5-degree nodes: 0.2, markers of 0.5 at (50 N, 170 W) and (0 N, 180 W), a ramp at 0 E."""
    directory = tmp_path_factory.mktemp("era5")
    path = era5_land.create(directory, 1999, 5.0)
    lat = np.arange(90.0, -90.1, -5.0)
    lon = np.arange(-180.0, 180.0, 5.0)
    values = np.full((365, lat.size, lon.size), 0.2, dtype=np.float32)
    values[:, lat.tolist().index(50.0), lon.tolist().index(-170.0)] = 0.5
    values[:, lat.tolist().index(0.0), lon.tolist().index(-180.0)] = 0.5
    values[:, :, lon.tolist().index(0.0)] += np.linspace(0, 0.1, 365, dtype=np.float32)[:, None]
    era5_land.write_window(path, lat, lon, values)
    return directory


def test_era5_file_is_laid_out_as_ecmwf_ships_it(era5_dir: Path) -> None:
    with netCDF4.Dataset(era5_dir / "era5_land_swvl1_1999.nc") as nc:
        assert nc["swvl1"].dimensions == ("valid_time", "latitude", "longitude")
        assert nc["swvl1"].units == "m**3 m**-3" and nc["swvl1"].dtype == np.float32
        assert nc["latitude"][0] == 90 and nc["latitude"][-1] == -90
        assert nc["longitude"][0] == 0 and nc["longitude"][-1] == 355
        assert nc["valid_time"].units == "seconds since 1970-01-01"
        assert nc["swvl1"].filters()["zlib"]
        # the marker written at 170 W sits at longitude node 190 E, latitude row (90 - 50) / 5
        assert nc["swvl1"][0, 8, 38] == pytest.approx(0.5)
        assert np.isnan(nc["swvl1"][0].filled(np.nan)).sum() == 0


def test_era5_read_finds_the_marker_with_bilinear_weights(era5_dir: Path) -> None:
    tile = Grid(5.0, west=-180, south=40, east=-160, north=60)
    out = era5_land.read(era5_dir, tile, dt.date(1999, 3, 1), dt.date(1999, 3, 2))
    assert out.name == "era5_sm" and out.sizes["time"] == 2
    # cells centred at 52.5 N, 172.5 W and 167.5 W each have the marker node as one of four corners
    row = int(np.flatnonzero(tile.lat == 52.5)[0])
    assert out.values[0, row, 1] == pytest.approx(0.2 + 0.3 / 4)
    assert out.values[0, row, 2] == pytest.approx(0.2 + 0.3 / 4)
    assert out.values[0, row, 0] == pytest.approx(0.2)


def test_era5_tile_across_the_antimeridian_matches_the_global_read(era5_dir: Path) -> None:
    start, end = dt.date(1999, 6, 1), dt.date(1999, 6, 3)
    full = era5_land.read(era5_dir, Grid(2.5), start, end)
    tile = Grid(2.5, west=170, south=30, east=180, north=60)
    part = era5_land.read(era5_dir, tile, start, end)
    row, col = tile.offset_in(Grid(2.5))
    np.testing.assert_allclose(part.values, full.values[:, row : row + tile.nlat, col : col + tile.nlon])
    # the cell at 1.25 N, 178.75 E interpolates the marker at 180 W with weight 0.75 * 0.75
    east = era5_land.read(era5_dir, Grid(2.5, west=175, south=0, east=180, north=5), start, end)
    assert east.values[0, 1, 1] == pytest.approx(0.2 + 0.3 * 0.5625)


def test_era5_coarser_destination_and_time_selection(era5_dir: Path) -> None:
    grid = Grid(10.0, west=-20, south=-20, east=20, north=20)
    out = era5_land.read(era5_dir, grid, dt.date(1999, 12, 30), dt.date(1999, 12, 31))
    assert out.time.values.astype("datetime64[D]").tolist() == [dt.date(1999, 12, 30), dt.date(1999, 12, 31)]
    ramp = np.linspace(0, 0.1, 365, dtype=np.float32)[363:]
    # cells next to 0 E hold bilinear points at 2.5 and 7.5 degrees from it: ramp weights 1/2 and 0
    np.testing.assert_allclose(
        out.values[:, :, 1:3], np.broadcast_to(0.2 + ramp[:, None, None] / 4, (2, 4, 2)), rtol=1e-5
    )
    np.testing.assert_allclose(out.values[:, :, [0, 3]], 0.2, rtol=1e-6)


def test_era5_hourly_file_with_time_dimension(tmp_path: Path) -> None:
    path = tmp_path / era5_land.file_name(2001)
    hours = 48
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", hours)
        nc.createDimension("latitude", 19)
        nc.createDimension("longitude", 36)
        time = nc.createVariable("time", "i4", ("time",))
        time.units = "hours since 2001-01-01 00:00:00"
        time[:] = np.arange(hours)
        nc.createVariable("latitude", "f4", ("latitude",))[:] = np.arange(90, -91, -10)
        nc.createVariable("longitude", "f4", ("longitude",))[:] = np.arange(0, 360, 10)
        swvl1 = nc.createVariable(
            "swvl1", "i2", ("time", "latitude", "longitude"), fill_value=np.int16(-32767)
        )
        swvl1.scale_factor, swvl1.add_offset, swvl1.units = 1e-4, 0.0, "m**3 m**-3"
        swvl1[:] = np.broadcast_to((0.1 + np.arange(hours) / 1000)[:, None, None], (hours, 19, 36))
    out = era5_land.read(
        tmp_path, Grid(10.0, west=0, south=0, east=20, north=20), dt.date(2001, 1, 1), dt.date(2001, 1, 2)
    )
    assert out.sizes["time"] == 2
    np.testing.assert_allclose(out.values[:, 0, 0], [0.1 + 11.5 / 1000, 0.1 + 35.5 / 1000], atol=1e-4)


def test_era5_errors(era5_dir: Path, tmp_path: Path) -> None:
    grid = Grid(10.0)
    # files are indexed by content: the error names the folder, the files and the missing days
    with pytest.raises(SourceError, match=r"missing 2000-01-01\.\.2000-01-31") as error:
        era5_land.read(era5_dir, grid, dt.date(1999, 12, 1), dt.date(2000, 1, 31))
    assert "era5_land_swvl1_1999.nc (1999-01-01..1999-12-31)" in str(error.value)
    path = era5_land.create(tmp_path, 2002, 30.0)
    empty = era5_land.read(tmp_path, grid, dt.date(2002, 1, 1), dt.date(2002, 1, 2))
    assert np.isnan(empty.values).all()  # an all-NaN window is returned, not refused
    era5_land.write_window(
        path, np.arange(90, -91, -30.0), np.arange(-180, 180, 30.0), np.full((365, 7, 12), 30.0)
    )
    with pytest.raises(SourceError, match=r"swvl1: expected m\*\*3 m\*\*-3, got values up to 30: percent\?"):
        era5_land.read(tmp_path, grid, dt.date(2002, 1, 1), dt.date(2002, 1, 2))
    with netCDF4.Dataset(path, "a") as nc:
        nc["swvl1"].units = "%"
    with pytest.raises(SourceError, match=r"expected m\*\*3 m\*\*-3, got percent"):
        era5_land.read(tmp_path, grid, dt.date(2002, 1, 1), dt.date(2002, 1, 2))
    with netCDF4.Dataset(path, "a") as nc:
        nc.renameVariable("swvl1", "swvl2")
    with pytest.raises(SourceError, match=r"variable swvl1 not found; file has: .*swvl2"):
        era5_land.read(tmp_path, grid, dt.date(2002, 1, 1), dt.date(2002, 1, 2))
    truncate(path)
    with pytest.raises(SourceError, match="truncated or corrupt"):
        era5_land.read(tmp_path, grid, dt.date(2002, 1, 1), dt.date(2002, 1, 2))


def _era5_file_with_time(tmp_path: Path, time_name: str) -> Path:
    """A 30-degree ERA5-Land file of 2002 whose time variable (and dimension) is ``time_name``."""
    path = era5_land.create(tmp_path, 2002, 30.0)
    if time_name != "valid_time":
        with netCDF4.Dataset(path, "a") as nc:
            nc.renameDimension("valid_time", time_name)
            nc.renameVariable("valid_time", time_name)
    return path


@pytest.mark.parametrize(
    ("time_name", "attribute", "value"),
    [
        ("valid_time", "units", None),  # attribute missing
        ("time", "units", None),
        ("valid_time", "units", "seconds"),  # no reference date
        ("time", "units", "hours since the first of January"),  # reference date unreadable
        ("valid_time", "units", 5),  # a number, not a string
        ("valid_time", "calendar", "martian"),  # a calendar that is not Gregorian
    ],
)
def test_era5_unusable_time_units_name_the_file_and_variable(
    tmp_path: Path, time_name: str, attribute: str, value: object
) -> None:
    path = _era5_file_with_time(tmp_path, time_name)
    with netCDF4.Dataset(path, "a") as nc:
        if value is None:
            nc[time_name].delncattr(attribute)
        else:
            nc[time_name].setncattr(attribute, value)
    with pytest.raises(SourceError, match=rf"time variable {time_name}: .*expected CF units") as error:
        era5_land.read(tmp_path, Grid(30.0), dt.date(2002, 1, 1), dt.date(2002, 1, 2))
    assert error.value.path == path


def test_era5_axis_of_one_node_names_the_file(tmp_path: Path) -> None:
    """A file with a single longitude node cannot be regridded: the error names file and axis."""
    path = tmp_path / era5_land.file_name(2001)
    with netCDF4.Dataset(path, "w") as nc:
        for name, size in (("valid_time", 2), ("latitude", 3), ("longitude", 1)):
            nc.createDimension(name, size)
        time = nc.createVariable("valid_time", "i8", ("valid_time",))
        time.units = "days since 2001-01-01"
        time[:] = [0, 1]
        nc.createVariable("latitude", "f8", ("latitude",))[:] = [10.0, 5.0, 0.0]
        nc.createVariable("longitude", "f8", ("longitude",))[:] = [5.0]
        swvl1 = nc.createVariable("swvl1", "f4", ("valid_time", "latitude", "longitude"))
        swvl1.units = "m**3 m**-3"
        swvl1[:] = 0.2
    with pytest.raises(SourceError, match="longitude axis has 1 value") as error:
        era5_land.read(
            tmp_path, Grid(5.0, west=0, south=0, east=10, north=10), dt.date(2001, 1, 1), dt.date(2001, 1, 2)
        )
    assert error.value.path == path


# ---------------------------------------------------------------- ESA CCI SM (NetCDF cells)


def test_esa_cci_round_trip_and_regridding(tmp_path: Path) -> None:
    grid = Grid(2.0)
    sm = smooth_field(grid)
    sm[:5] = np.nan
    flag = np.zeros(grid.shape, dtype=np.int8)
    for day in (0, 2):
        esa_cci.write(tmp_path, DAY + dt.timedelta(days=day), grid, sm, flag)
    (tmp_path / "notes.nc").write_text("unrelated")
    assert esa_cci.file_name(DAY) == "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20000101000000-fv09.1.nc"
    assert list(esa_cci.find_files(tmp_path, DAY, DAY + dt.timedelta(days=5))) == [
        DAY,
        DAY + dt.timedelta(days=2),
    ]
    same = esa_cci.read(tmp_path, grid, DAY, DAY + dt.timedelta(days=5))
    # every requested day is on the time axis; days without a file are NaN and listed
    assert same.name == "esa_cci_sm" and same.sizes["time"] == 6
    assert same.attrs["missing_days"] == ["2000-01-02", "2000-01-04", "2000-01-05", "2000-01-06"]
    assert np.isnan(same.values[1]).all()
    np.testing.assert_array_equal(same.values[0], sm)
    coarse = esa_cci.read(tmp_path, Grid(6.0), DAY, DAY)
    np.testing.assert_allclose(coarse.values[0], coarsen_mean(sm, 3, grid.cell_area_km2()), rtol=1e-5)
    fine = esa_cci.read(tmp_path, Grid(1.0, west=10, south=10, east=14, north=14), DAY, DAY)
    # the 1-degree centre 11.5 N, 10.5 E: 2-degree centres 11 N (row 39), 13 N (38), 9 E (col 94), 11 E (95)
    assert (grid.lat[39], grid.lat[38], grid.lon[94], grid.lon[95]) == (11, 13, 9, 11)
    expected = 0.75 * (0.25 * sm[39, 94] + 0.75 * sm[39, 95]) + 0.25 * (0.25 * sm[38, 94] + 0.75 * sm[38, 95])
    assert fine.values[0, 2, 0] == pytest.approx(expected, rel=1e-5)


def test_esa_cci_errors(tmp_path: Path) -> None:
    grid = Grid(10.0)
    path = esa_cci.write(tmp_path, DAY, grid, np.full(grid.shape, 0.3), np.zeros(grid.shape))
    with netCDF4.Dataset(path, "a") as nc:
        nc["sm"].units = "percent"
    with pytest.raises(SourceError, match="expected m\\*\\*3 m\\*\\*-3, got percent"):
        esa_cci.read(tmp_path, grid, DAY, DAY)
    with pytest.raises(SourceError, match="no ESA CCI SM files"):
        esa_cci.read(tmp_path, grid, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=3))


# ---------------------------------------------------------------- MERIT DEM (5-degree GeoTIFF tiles)


def test_merit_tile_names() -> None:
    assert merit_dem.tile_name(30, 90) == "n30e090_dem.tif"
    assert merit_dem.tile_name(-5, -60) == "s05w060_dem.tif"
    with pytest.raises(ValueError, match="5-degree tile corner"):
        merit_dem.tile_name(31, 90)


def test_merit_elevation_and_slope_use_metric_spacing(tmp_path: Path) -> None:
    """Four tiles at 55-65 N, 10-20 E of z = g R lon: the metric east gradient is g / cos(lat)."""
    pixels, gradient = 40, 0.02
    size = merit_dem.TILE_DEGREES / pixels
    metres_per_radian = EARTH_RADIUS_KM * 1000
    for lat_south in (55, 60):
        for lon_west in (10, 15):
            lon = lon_west + (np.arange(pixels) + 0.5) * size
            elevation = np.broadcast_to(gradient * metres_per_radian * np.radians(lon), (pixels, pixels))
            merit_dem.write_tile(tmp_path, lat_south, lon_west, elevation)
    grid = Grid(1.0, west=5, south=55, east=25, north=65)
    ds = merit_dem.read(tmp_path, grid)
    assert np.isnan(ds.elevation.sel(lon=slice(5, 10))).all()  # no tiles there: ocean
    inside = ds.sel(lon=slice(10, 20))
    # pixels on the outer rows lack a northern or southern neighbour: their slope is NaN, not guessed
    expected_slope = np.degrees(np.arctan(gradient / np.cos(np.radians(grid.lat[1:-1]))))
    np.testing.assert_allclose(
        inside.slope.values[1:-1], np.broadcast_to(expected_slope[:, None], (8, 10)), rtol=2e-3
    )
    assert np.isfinite(inside.slope.values).all()
    expected = gradient * metres_per_radian * np.radians(inside.lon.values)
    np.testing.assert_allclose(
        inside.elevation.values, np.broadcast_to(expected, inside.elevation.shape), rtol=1e-5
    )
    fine = merit_dem.read(tmp_path, Grid(0.0625, west=12, south=58, east=13, north=59))
    expected_fine = gradient * metres_per_radian * np.radians(fine.lon.values)
    np.testing.assert_allclose(
        fine.elevation.values, np.broadcast_to(expected_fine, fine.elevation.shape), rtol=1e-5
    )


def test_merit_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no MERIT DEM tiles found; expected names like n30e090_dem\.tif"):
        merit_dem.read(tmp_path, Grid(1.0))
    with pytest.raises(SourceError, match="directory not found"):
        merit_dem.read(tmp_path / "missing", Grid(1.0))


def test_merit_truncated_tile_names_the_tile(tmp_path: Path) -> None:
    """A tile cut short opens (its header is intact) but fails when read: SourceError naming it."""
    rng = np.random.default_rng(0)  # incompressible values: the cut falls inside the pixel data
    for lon_west in (10, 15):
        merit_dem.write_tile(tmp_path, 55, lon_west, rng.uniform(0, 500, (40, 40)))
    broken = tmp_path / merit_dem.tile_name(55, 15)
    truncate(broken)
    with rasterio.open(broken) as src:
        assert src.width == 40  # still opens: only reading the pixels fails
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        merit_dem.read(tmp_path, Grid(1.0, west=10, south=55, east=20, north=60))
    assert error.value.path == broken


# ---------------------------------------------------------------- SoilGrids (GeoTIFF, any CRS)


def test_soilgrids_round_trip_and_coarsening(tmp_path: Path) -> None:
    grid = Grid(1.0, west=-20, south=-10, east=40, north=50)
    fields = {prop: 100 * smooth_field(grid, base=0.33, amplitude=0.2) for prop in soilgrids.PROPERTIES}
    for prop, values in fields.items():
        soilgrids.write(tmp_path, prop, grid, values)
    with rasterio.open(tmp_path / "clay_0-5cm_mean.tif") as src:
        assert src.dtypes[0] == "int16" and src.nodata == -32768 and src.tags()["units"] == "g/kg"
    same = soilgrids.read(tmp_path, grid)
    assert np.abs(same.clay.values - fields["clay"]).max() <= 0.05 + 1e-4
    coarse = soilgrids.read(tmp_path, Grid(3.0, west=-15, south=0, east=30, north=45))
    stored = np.rint(fields["sand"] * 10) / 10
    np.testing.assert_allclose(
        coarse.sand.values,
        coarsen_mean(stored[5:50, 5:50], 3, Grid(1.0, -15, 0, 30, 45).cell_area_km2()),
        rtol=1e-5,
    )


def test_soilgrids_projected_file_is_warped(tmp_path: Path) -> None:
    """A Homolosine raster (as the real 250 m product) is averaged onto the lat/lon grid."""
    profile = {
        "driver": "GTiff",
        "dtype": "int16",
        "count": 1,
        "width": 200,
        "height": 200,
        "crs": "+proj=igh +lon_0=0 +x_0=0 +y_0=0 +ellps=WGS84 +units=m",
        "transform": from_origin(0, 2_000_000, 10_000, 10_000),
        "nodata": -32768,
    }
    for prop, grams in (("clay", 250), ("sand", 400), ("silt", 350)):
        with rasterio.open(tmp_path / soilgrids.file_name(prop), "w", **profile) as dst:
            dst.write(np.full((200, 200), grams, dtype=np.int16), 1)
    ds = soilgrids.read(tmp_path, Grid(1.0, west=0, south=0, east=20, north=20))
    assert ds.clay.values[10, 5] == pytest.approx(25.0)
    assert ds.sand.values[10, 5] == pytest.approx(40.0)
    assert np.isnan(ds.silt.values[0, -1])  # outside the raster


def test_soilgrids_errors(tmp_path: Path) -> None:
    grid = Grid(10.0)
    for prop in ("clay", "sand"):
        soilgrids.write(tmp_path, prop, grid, np.full(grid.shape, 30.0))
    with pytest.raises(SourceError, match=r"silt_0-5cm_mean\.tif: file not found"):
        soilgrids.read(tmp_path, grid)
    path = soilgrids.write(tmp_path, "silt", grid, np.full(grid.shape, 40.0))
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(units="%")
    with pytest.raises(SourceError, match="expected mapped units g/kg"):
        soilgrids.read(tmp_path, grid)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(units="g/kg")
        dst.write(np.full(grid.shape, 1500, dtype=np.int16), 1)
    with pytest.raises(SourceError, match=r"expected g/kg in 0..1000"):
        soilgrids.read(tmp_path, grid)


def test_geographic_raster_one_pixel_wide_names_the_file(tmp_path: Path) -> None:
    path = soilgrids.write(
        tmp_path, "clay", Grid(1.0, west=10, south=0, east=11, north=10), np.full((10, 1), 30.0)
    )
    with pytest.raises(SourceError, match="longitude axis has 1 value") as error:
        soilgrids.read_property(tmp_path, "clay", Grid(1.0, west=10, south=0, east=11, north=10))
    assert error.value.path == path


# ---------------------------------------------------------------- MCD12C1 (HDF4 and packaged GeoTIFF)


def test_mcd12c1_majority_and_fractions(tmp_path: Path) -> None:
    grid = Grid(0.5)
    classes = np.full(grid.shape, 10, dtype=np.uint8)
    classes[0:2, 0:2] = [[0, 15], [15, 7]]  # the 1-degree cell at 89.5 N, 179.5 W
    classes[2:4, 0:2] = [[255, 255], [255, 3]]  # fill counts as water
    path = mcd12c1.write(tmp_path, 2019, classes, grid)
    assert mcd12c1.find_file(tmp_path, 2019) == path
    with _hdf4.open_sd(path) as sd:
        assert list(sd.datasets()) == ["Majority_Land_Cover_Type_1"]
    ds = mcd12c1.read(path, Grid(1.0))
    assert ds.land_cover.dtype == np.uint8
    assert ds.land_cover.values[0, 0] == 15 and ds.land_cover.values[1, 0] == 0
    assert ds.water_fraction.values[0, 0] == pytest.approx(0.25) and ds.snow_ice_fraction.values[
        0, 0
    ] == pytest.approx(0.5)
    assert ds.water_fraction.values[1, 0] == pytest.approx(0.75)
    assert ds.land_cover.values[5, 5] == 10 and ds.water_fraction.values[5, 5] == 0
    same = mcd12c1.read(path, Grid(0.5, west=-180, south=88, east=-179, north=90))
    np.testing.assert_array_equal(
        same.land_cover.values, np.where(classes[:4, :2] == 255, 0, classes[:4, :2])
    )
    with pytest.raises(SourceError, match=r"grid resolution 0\.25 deg must be an integer multiple") as error:
        mcd12c1.read(path, Grid(0.25))
    assert error.value.path == path


def test_mcd12c1_destination_one_file_cell_wide(tmp_path: Path) -> None:
    """A destination column of one file cell (an edge tile at the file's resolution) reads like any other."""
    grid = Grid(0.5)
    classes = np.tile(np.arange(grid.nlon, dtype=np.uint8) % 15, (grid.nlat, 1))
    path = mcd12c1.write(tmp_path, 2019, classes, grid)
    column = mcd12c1.read(path, Grid(0.5, west=10, south=0, east=10.5, north=10))
    np.testing.assert_array_equal(column.land_cover.values, classes[160:180, 380:381])
    packaged = mcd12c1.read(mcd12c1.packaged_geotiff(), Grid(0.05, west=-40, south=74, east=-39.95, north=75))
    assert packaged.land_cover.shape == (20, 1) and np.all(packaged.land_cover.values == 15)  # Greenland ice


def test_mcd12c1_packaged_geotiff_greenland_is_ice() -> None:
    path = mcd12c1.packaged_geotiff()
    assert path.name == "MCD12C1.A2019001.006.2020220162300.tif"
    ds = mcd12c1.read(path, Grid(1.0, west=-45, south=70, east=-35, north=76))
    assert ds.snow_ice_fraction.values.mean() > 0.9
    assert ds.land_cover.values.min() == 15


def test_mcd12c1_errors(tmp_path: Path) -> None:
    with pytest.raises(
        SourceError, match=r"no MCD12C1 file for 2005; expected a name like MCD12C1\.A2005001"
    ):
        mcd12c1.find_file(tmp_path, 2005)
    path = tmp_path / "MCD12C1.A2005001.006.2020220162300.hdf"
    _hdf4.create(path, Grid(1.0), [glass_lst.SPEC])
    with pytest.raises(SourceError, match="SDS Majority_Land_Cover_Type_1 not found; file has: LST"):
        mcd12c1.read(path, Grid(1.0))


@pytest.mark.parametrize("shape", [(3, 6), (1, 2)])
def test_mcd12c1_odd_row_count_is_not_a_global_grid(tmp_path: Path, shape: tuple[int, int]) -> None:
    """180 / rows must give cells that tile the globe from the poles; an odd row count does not."""
    path = tmp_path / "MCD12C1.A2019001.006.2020220162300.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        dtype="uint8",
        count=1,
        width=shape[1],
        height=shape[0],
        crs="EPSG:4326",
        transform=from_origin(-180, 90, 360 / shape[1], 180 / shape[0]),
    ) as dst:
        dst.write(np.full(shape, 10, dtype=np.uint8), 1)
    with pytest.raises(
        SourceError, match=rf"array shape \({shape[0]}, {shape[1]}\) is not a global"
    ) as error:
        mcd12c1.read(path, Grid(10.0))
    assert error.value.path == path
