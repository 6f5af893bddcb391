"""Static inputs as their providers ship them: MERIT DEM packages, SoilGrids WebDAV and aggregates, MCD12C1."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from fixtures_static import (
    IGH,
    write_mcd12c1_hdf,
    write_merit_package,
    write_merit_tile,
    write_soilgrids_aggregate,
    write_soilgrids_geographic,
    write_soilgrids_webdav,
)
from rasterio.crs import CRS
from rasterio.warp import transform as warp_points

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import mcd12c1, merit_dem, soilgrids


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


# ---------------------------------------------------------------- MERIT DEM

PIXELS = 20  # real tiles: 6000


def plane(lat_south: int, lon_west: int, n: int = PIXELS) -> np.ndarray:
    """Elevation = 100 * lon + 10 * lat at pixel centres (a plane: its cell means are exact)."""
    size = merit_dem.TILE_DEGREES / n
    lat = lat_south + merit_dem.TILE_DEGREES - (np.arange(n) + 0.5) * size
    lon = lon_west + (np.arange(n) + 0.5) * size
    return (100 * lon[None, :] + 10 * lat[:, None]).astype(np.float32)


def test_merit_tiles_in_package_folders_across_packages(tmp_path: Path) -> None:
    """Tiles of two 30-degree packages (``dem_tif_n30e060``, ``dem_tif_n30e090``) mosaic seamlessly."""
    corners = [(30, 85), (30, 90), (35, 85), (35, 90)]
    paths = write_merit_package(tmp_path, {corner: plane(*corner) for corner in corners})
    assert {p.parent.name for p in paths} == {"dem_tif_n30e060", "dem_tif_n30e090"}
    assert set(merit_dem.find_tiles(tmp_path)) == set(corners)
    grid = Grid(1.0, west=85, south=30, east=95, north=40)
    ds = merit_dem.read(tmp_path, grid)
    expected = 100 * grid.lon[None, :] + 10 * grid.lat[:, None]
    np.testing.assert_allclose(ds.elevation.values, expected, rtol=1e-5)
    assert np.isfinite(ds.slope.values[1:-1]).all()  # no seam between the packages


def test_merit_half_pixel_registered_tiles_leave_no_gap(tmp_path: Path) -> None:
    """Headers half a pixel off the named corner (as MERIT Hydro's) are snapped alike: no gap, no overlap."""
    corners = [(30, 85), (30, 90)]
    write_merit_package(tmp_path, {c: plane(*c) for c in corners}, half_pixel_shift=True)
    grid = Grid(1.0, west=85, south=30, east=95, north=35)
    ds = merit_dem.read(tmp_path, grid)
    expected = 100 * grid.lon[None, :] + 10 * grid.lat[:, None]
    assert np.isfinite(ds.elevation.values).all()
    pixel = merit_dem.TILE_DEGREES / PIXELS  # at most half a pixel of shift in each axis
    np.testing.assert_allclose(ds.elevation.values, expected, atol=110 * pixel / 2 + 1e-3)


def test_merit_duplicate_tile_names_both(tmp_path: Path) -> None:
    first = write_merit_tile(tmp_path / "dem_tif_n30e090", 30, 90, plane(30, 90))
    second = write_merit_tile(tmp_path / "copy", 30, 90, plane(30, 90))
    with pytest.raises(SourceError, match=r"duplicate MERIT DEM tile n30e090_dem\.tif") as error:
        merit_dem.find_tiles(tmp_path)
    assert str(first) in str(error.value) and str(second) in str(error.value)


@pytest.mark.parametrize("crs", ["EPSG:3857", "+proj=longlat +ellps=clrk66 +no_defs"])
def test_merit_tile_of_another_crs_is_named(tmp_path: Path, crs: str) -> None:
    write_merit_tile(tmp_path, 30, 90, plane(30, 90))
    bad = write_merit_tile(tmp_path, 30, 95, plane(30, 95), crs=crs)
    with pytest.raises(SourceError, match="expected EPSG:4326") as error:
        merit_dem.read(tmp_path, Grid(1.0, west=90, south=30, east=100, north=35))
    assert error.value.path == bad and bad.name in str(error.value)


def test_merit_tile_with_another_pixel_size_is_named(tmp_path: Path) -> None:
    write_merit_tile(tmp_path, 30, 90, plane(30, 90))
    bad = write_merit_tile(tmp_path, 30, 95, plane(30, 95, n=PIXELS // 2))
    with pytest.raises(SourceError, match=r"differs from its siblings' 0\.25 deg") as error:
        merit_dem.read(tmp_path, Grid(1.0, west=90, south=30, east=100, north=35))
    assert error.value.path == bad and "n30e090_dem.tif" in str(error.value)


def test_merit_tile_away_from_its_named_corner_is_named(tmp_path: Path) -> None:
    write_merit_tile(tmp_path, 30, 90, plane(30, 90))
    bad = write_merit_tile(tmp_path, 30, 90, plane(30, 90), name="n35e090_dem.tif")  # holds 30-35 N
    with pytest.raises(SourceError, match="its name gives") as error:
        merit_dem.read(tmp_path, Grid(1.0, west=90, south=30, east=95, north=40))
    assert error.value.path == bad


def test_merit_truncated_tile_in_a_package_is_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    paths = write_merit_package(tmp_path, {(30, 90): rng.uniform(0, 900, (40, 40)), (30, 95): plane(30, 95, 40)})
    truncate(paths[0])
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        merit_dem.read(tmp_path, Grid(1.0, west=90, south=30, east=100, north=35))
    assert error.value.path == paths[0] and "n30e090_dem.tif" in str(error.value)


def test_merit_packed_packages_say_unpack(tmp_path: Path) -> None:
    (tmp_path / "dem_tif_n30e090.tar").write_bytes(b"\0" * 512)
    with pytest.raises(SourceError, match=r"no MERIT DEM tiles found.*dem_tif_n30e090\.tar: unpack them"):
        merit_dem.find_tiles(tmp_path)


def test_merit_pattern_override(tmp_path: Path) -> None:
    write_merit_tile(tmp_path / "wanted", 30, 90, plane(30, 90))
    write_merit_tile(tmp_path / "other", 30, 90, plane(30, 90))
    tiles = merit_dem.find_tiles(tmp_path, pattern="wanted/*_dem.tif")
    assert tiles == {(30, 90): tmp_path / "wanted" / "n30e090_dem.tif"}
    ds = merit_dem.read(tmp_path, Grid(1.0, west=90, south=30, east=95, north=35), pattern="wanted/*_dem.tif")
    assert np.isfinite(ds.elevation.values).all()


def test_merit_memory_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a small pixel budget the mosaics stay under it, and the result does not change."""
    corners = [(30, 85), (30, 90), (35, 85), (35, 90)]
    rng = np.random.default_rng(2)
    write_merit_package(tmp_path, {c: plane(*c) + rng.uniform(0, 50, (PIXELS, PIXELS)) for c in corners})
    grid = Grid(0.5, west=85, south=30, east=95, north=40)
    whole = merit_dem.read(tmp_path, grid)
    sizes = []
    real_mosaic = merit_dem._mosaic

    def spy(tiles, area, reference):
        sizes.append(area.nlat * area.nlon)
        return real_mosaic(tiles, area, reference)

    monkeypatch.setattr(merit_dem, "_mosaic", spy)
    monkeypatch.setattr(merit_dem, "MAX_MOSAIC_PIXELS", 40)  # 10 cells of 2 x 2 pixels
    banded = merit_dem.read(tmp_path, grid)
    assert len(sizes) == 40 and max(sizes) <= (2 * 10 + 4) * (2 + 4)
    np.testing.assert_allclose(banded.elevation.values, whole.elevation.values, rtol=1e-6)
    np.testing.assert_allclose(banded.slope.values, whole.slope.values, rtol=1e-5, equal_nan=True)


# ---------------------------------------------------------------- SoilGrids 2.0

SOIL_GRID = Grid(0.5, west=0, south=0, east=5, north=5)
GRAMS = {"clay": 250, "sand": 400, "silt": 350}


def _igh_box() -> tuple[float, float]:
    """North-west corner (Homolosine metres) of a box that covers 0-5 N, 0-5 E with room to spare."""
    xs, ys = warp_points(CRS.from_epsg(4326), CRS.from_string(IGH), [-1.0, 6.0], [6.0, -1.0])
    return xs[0], ys[0]


def write_webdav(root: Path, pixel: float = 25_000.0) -> dict[str, tuple[Path, list[Path]]]:
    west, north = _igh_box()
    n = 32
    out = {}
    for prop, grams in GRAMS.items():
        values = np.full((n, n), float(grams))
        values[:, :8] = np.nan  # a nodata strip in the west: cells there stay NaN, not zero
        out[prop] = write_soilgrids_webdav(root, prop, values, west, north, pixel, tile=8)
    return out


def test_soilgrids_webdav_vrt_then_tiles_without_it(tmp_path: Path) -> None:
    written = write_webdav(tmp_path)
    vrt, tiles = written["clay"]
    assert vrt.relative_to(tmp_path).as_posix() == "clay/clay_0-5cm_mean.vrt"
    assert tiles[0].relative_to(tmp_path).as_posix() == (
        "clay/clay_0-5cm_mean/tileSG-001-001/tileSG-001-001_1-1.tif"
    )
    source = soilgrids.find_source(tmp_path, "clay")
    assert source.kind == "vrt" and source.paths == (vrt,)
    ds = soilgrids.read(tmp_path, SOIL_GRID)
    for prop, grams in GRAMS.items():
        assert np.isnan(ds[prop].values[:, 0]).all()  # 0-0.5 E lies in the nodata strip: NaN, not 0
        np.testing.assert_allclose(ds[prop].values[:, 1:], grams / 10, rtol=1e-5)
    for prop in GRAMS:
        written[prop][0].unlink()  # tiles only: mosaicked through a VRT built in memory
    source = soilgrids.find_source(tmp_path, "sand")
    assert source.kind == "tiles" and len(source.paths) == 16
    again = soilgrids.read(tmp_path, SOIL_GRID)
    np.testing.assert_allclose(again.sand.values, ds.sand.values, equal_nan=True)


def test_soilgrids_vrt_with_absent_tiles_lists_them(tmp_path: Path) -> None:
    written = write_webdav(tmp_path)
    vrt, tiles = written["clay"]
    for tile in tiles[5:7]:
        tile.unlink()
    with pytest.raises(SourceError, match=r"2 tile\(s\) it names are absent") as error:
        soilgrids.read_property(tmp_path, "clay", SOIL_GRID)
    assert error.value.path == vrt and tiles[5].name in str(error.value)


def test_soilgrids_aggregate_and_epsg4326_copy(tmp_path: Path) -> None:
    west, north = _igh_box()
    for prop, grams in GRAMS.items():
        write_soilgrids_aggregate(tmp_path / "a", prop, np.full((80, 80), float(grams)), west, north, 10_000)
        write_soilgrids_geographic(tmp_path / "b", prop, np.full((10, 10), float(grams)), 0.0, 5.0, 0.5)
    assert soilgrids.find_property(tmp_path / "a", "silt")[0].relative_to(tmp_path / "a").as_posix() == (
        "data_aggregated/10000m/silt/silt_0-5cm_mean_10000.tif"
    )
    projected = soilgrids.read(tmp_path / "a", SOIL_GRID)
    geographic = soilgrids.read(tmp_path / "b", SOIL_GRID)
    for prop, grams in GRAMS.items():
        np.testing.assert_allclose(projected[prop].values, grams / 10, rtol=1e-5)
        np.testing.assert_allclose(geographic[prop].values, grams / 10, rtol=1e-5)


def test_soilgrids_single_file_comes_before_the_vrt(tmp_path: Path) -> None:
    write_webdav(tmp_path)
    single = soilgrids.write(tmp_path, "clay", SOIL_GRID, np.full(SOIL_GRID.shape, 12.3))
    assert soilgrids.find_property(tmp_path, "clay") == [single]
    assert soilgrids.read(tmp_path, SOIL_GRID).clay.values[0, 0] == pytest.approx(12.3)


def test_soilgrids_ambiguous_single_files_are_listed(tmp_path: Path) -> None:
    west, north = _igh_box()
    one = write_soilgrids_aggregate(tmp_path, "clay", np.full((8, 8), 250.0), west, north, 100_000)
    two = write_soilgrids_aggregate(tmp_path, "clay", np.full((80, 80), 250.0), west, north, 10_000)
    with pytest.raises(SourceError, match="ambiguous SoilGrids clay") as error:
        soilgrids.find_property(tmp_path, "clay")
    assert one.name in str(error.value) and two.name in str(error.value)
    chosen = soilgrids.find_property(tmp_path, "clay", pattern="**/{property}_0-5cm_mean_10000.tif")
    assert chosen == [two]


def test_soilgrids_pattern_without_property_selects_by_name(tmp_path: Path) -> None:
    for prop in GRAMS:
        write_soilgrids_geographic(tmp_path / "exports", prop, np.full((10, 10), 300.0), 0.0, 5.0, 0.5, "_wgs84")
    sources = soilgrids.find_sources(tmp_path, pattern="exports/*_wgs84.tif")
    assert {prop: s.paths[0].name for prop, s in sources.items()} == {
        prop: f"{prop}_0-5cm_mean_wgs84.tif" for prop in GRAMS
    }


def test_soilgrids_percent_units_tag_names_the_file(tmp_path: Path) -> None:
    path = soilgrids.write(tmp_path, "clay", SOIL_GRID, np.full(SOIL_GRID.shape, 30.0))
    import rasterio

    with rasterio.open(path, "r+") as dst:
        dst.update_tags(units="%")
    with pytest.raises(SourceError, match="expected mapped units g/kg") as error:
        soilgrids.read_property(tmp_path, "clay", SOIL_GRID)
    assert error.value.path == path and path.name in str(error.value)


def test_soilgrids_truncated_files_are_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    west, north = _igh_box()
    single = write_soilgrids_aggregate(tmp_path / "a", "clay", rng.uniform(0, 900, (200, 200)), west, north, 4000)
    truncate(single)
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        soilgrids.read_property(tmp_path / "a", "clay", SOIL_GRID)
    assert error.value.path == single


@pytest.mark.parametrize("with_vrt", [True, False])
def test_soilgrids_tile_cut_short_is_named(tmp_path: Path, with_vrt: bool) -> None:
    """A tile whose header is intact but whose pixels are cut short: the tile is named, not only the VRT."""
    west, north = _igh_box()
    grams = np.random.default_rng(5).uniform(0, 900, (400, 400))  # incompressible: the cut hits pixels
    vrt, tiles = write_soilgrids_webdav(tmp_path, "clay", grams, west, north, 2000, 200)
    if not with_vrt:
        vrt.unlink()
    tiles[0].write_bytes(tiles[0].read_bytes()[: int(tiles[0].stat().st_size * 0.7)])
    with pytest.raises(SourceError, match="cannot read tile, truncated or corrupt") as error:
        soilgrids.read_property(tmp_path, "clay", SOIL_GRID)
    assert error.value.path == tiles[0]


def test_soilgrids_overlapping_tiles_are_named(tmp_path: Path) -> None:
    west, north = _igh_box()
    _, tiles = write_soilgrids_webdav(tmp_path, "clay", np.full((16, 16), 250.0), west, north, 25_000, 8)
    (tmp_path / "clay" / "clay_0-5cm_mean.vrt").unlink()
    copy = tiles[0].parent.parent / "tileSG-009-009" / "tileSG-009-009_1-1.tif"
    copy.parent.mkdir()
    copy.write_bytes(tiles[0].read_bytes())
    with pytest.raises(SourceError, match="the same area twice") as error:
        soilgrids.read_property(tmp_path, "clay", SOIL_GRID)
    assert tiles[0].name in str(error.value) and copy.name in str(error.value)


# ---------------------------------------------------------------- MCD12C1

CMG_10 = Grid(10.0)  # real files: 0.05 deg, 3600 x 7200


def classes_10deg() -> np.ndarray:
    classes = np.full(CMG_10.shape, 10, dtype=np.uint8)
    classes[0, :] = 15
    classes[17, :] = 15
    classes[8:10, 0:4] = 0
    return classes


def test_mcd12c1_hdf_eos_file_and_collection_choice(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = write_mcd12c1_hdf(tmp_path, 2019, classes_10deg(), "006", "2020220162300")
    new_classes = classes_10deg()
    new_classes[5, 5] = 16
    new = write_mcd12c1_hdf(tmp_path, 2019, new_classes, "061", "2022170020638")
    assert new.relative_to(tmp_path).as_posix() == "2019.01.01/MCD12C1.A2019001.061.2022170020638.hdf"
    with caplog.at_level(logging.INFO, logger="helpers.sources.mcd12c1"):
        assert mcd12c1.find_file(tmp_path, 2019) == new
    assert "collection 061 chosen" in caplog.text and "006" in caplog.text
    ds = mcd12c1.read(new, Grid(10.0, west=-130, south=30, east=-120, north=40))
    assert ds.land_cover.item() == 16
    assert old.exists()


def test_mcd12c1_same_collection_twice_is_ambiguous(tmp_path: Path) -> None:
    one = write_mcd12c1_hdf(tmp_path, 2019, classes_10deg(), "061", "2022170020638")
    two = write_mcd12c1_hdf(tmp_path / "copy", 2019, classes_10deg(), "061", "2023000000000")
    with pytest.raises(SourceError, match="ambiguous MCD12C1 2019") as error:
        mcd12c1.find_file(tmp_path, 2019)
    assert one.name in str(error.value) and two.name in str(error.value)


def test_mcd12c1_missing_year_lists_years_found(tmp_path: Path) -> None:
    for year in (2001, 2010):
        write_mcd12c1_hdf(tmp_path, year, classes_10deg())
    with pytest.raises(SourceError, match=r"no MCD12C1 file for 2019.*years found: 2001, 2010") as error:
        mcd12c1.find_file(tmp_path, 2019)
    assert "MCD12C1.A2019001" in str(error.value)


def test_mcd12c1_geotiff_copy_when_no_hdf(tmp_path: Path) -> None:
    copy = tmp_path / mcd12c1.PACKAGED_FILE
    copy.write_bytes(mcd12c1.packaged_geotiff().read_bytes())
    assert mcd12c1.find_file(tmp_path, 2019) == copy
    hdf = write_mcd12c1_hdf(tmp_path, 2019, classes_10deg())
    assert mcd12c1.find_file(tmp_path, 2019) == hdf


def test_mcd12c1_wrong_grid_wrong_coding_truncated(tmp_path: Path) -> None:
    other = write_mcd12c1_hdf(tmp_path / "a", 2019, classes_10deg(), grid_name="MOD12Q1")
    with pytest.raises(SourceError, match="HDF-EOS grid MOD12Q1; expected MOD12C1") as error:
        mcd12c1.read(other, Grid(10.0))
    assert error.value.path == other
    coded = classes_10deg()
    coded[3, 3] = 17  # MCD12Q1's LC_Type1 water
    bad = write_mcd12c1_hdf(tmp_path / "b", 2019, coded)
    with pytest.raises(SourceError, match="values 17 are not IGBP classes") as error:
        mcd12c1.read(bad, Grid(10.0))
    assert bad.name in str(error.value)
    cut = write_mcd12c1_hdf(tmp_path / "c", 2019, np.random.default_rng(4).integers(0, 17, (180, 360)))
    truncate(cut)
    with pytest.raises(SourceError, match="truncated or corrupt") as error:
        mcd12c1.read(cut, Grid(1.0))
    assert error.value.path == cut


@pytest.mark.parametrize(
    ("region", "grid", "check"),
    [
        ("Greenland ice sheet", Grid(1.0, west=-45, south=70, east=-35, north=76), "ice"),
        ("Lake Victoria", Grid(0.5, west=32.5, south=-1.5, east=33.5, north=-0.5), "water"),
        ("Libyan Sahara", Grid(1.0, west=20, south=22, east=26, north=26), "barren"),
    ],
)
def test_packaged_geotiff_real_facts(region: str, grid: Grid, check: str) -> None:
    """The real 2019 map: what every atlas shows."""
    ds = mcd12c1.read(mcd12c1.packaged_geotiff(), grid)
    if check == "ice":
        assert (ds.land_cover.values == 15).all() and ds.snow_ice_fraction.values.min() > 0.95
    elif check == "water":
        assert (ds.land_cover.values == 0).all() and ds.water_fraction.values.min() > 0.95
    else:
        assert (ds.land_cover.values == 16).all() and ds.water_fraction.values.max() == 0


def test_packaged_geotiff_netherlands() -> None:
    """IJsselmeer is water, the Randstad (Amsterdam-Rotterdam) urban, Greenland-style ice absent."""
    ds = mcd12c1.read(mcd12c1.packaged_geotiff(), Grid(0.5, west=4.5, south=51.5, east=6.5, north=53.0))
    ijsselmeer = ds.sel(lat=52.75, lon=5.25)
    assert ijsselmeer.land_cover.item() == 0 and ijsselmeer.water_fraction.item() > 0.5
    assert ds.sel(lat=52.25, lon=4.75).land_cover.item() == 13  # urban and built-up
    assert ds.snow_ice_fraction.values.max() == 0


def test_soilgrids_geographic_tiles_by_pattern_are_mosaicked(tmp_path: Path) -> None:
    """Several files matching a params pattern are one mosaic, here of EPSG:4326 tiles."""
    for prop, grams in GRAMS.items():
        for west in (0.0, 2.5):
            folder = tmp_path / f"{prop}_tiles"
            write_soilgrids_geographic(folder, prop, np.full((10, 5), float(grams)), west, 5.0, 0.5, f"_{west:g}")
    sources = soilgrids.find_sources(tmp_path, pattern="{property}_tiles/*.tif")
    assert all(s.kind == "tiles" and len(s.paths) == 2 for s in sources.values())
    ds = soilgrids.read(tmp_path, SOIL_GRID, pattern="{property}_tiles/*.tif")
    for prop, grams in GRAMS.items():
        np.testing.assert_allclose(ds[prop].values, grams / 10, rtol=1e-5)
