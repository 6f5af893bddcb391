"""Writers of tiny static-input files with the structure their providers ship (tests only).

Each structural fact carries its source in a comment: [doc] provider documentation, [code]
third-party public reader or download code, [open] not settled (the reader must not rely on
it). Sizes are tiny (a few pixels a side) so that tests stay fast; the real sizes are noted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from pyhdf.SD import SD, SDC
from rasterio.transform import from_origin

from helpers.sources import mcd12c1, merit_dem, soilgrids

# ---------------------------------------------------------------- MERIT DEM

MERIT_NODATA = -9999.0  # [doc: MERIT DEM page: sea = -9999]


def write_merit_tile(
    directory: Path,
    lat_south: int,
    lon_west: int,
    elevation: np.ndarray,
    *,
    half_pixel_shift: bool = False,
    crs: str = "EPSG:4326",
    name: str | None = None,
) -> Path:
    """One tile ``<ns><lat>< ew><lon>_dem.tif`` as the provider ships it, in ``directory``.

    Real tiles: 6000 x 6000 float32 pixels of 3 arc-seconds over 5 x 5 degrees, EPSG:4326,
    nodata -9999, metres above EGM96 [doc: MERIT DEM page]; deflate-compressed strips of one
    row ("Block=6000x1"), AREA_OR_POINT=Area [code: gdalinfo of a MERIT Hydro tile in
    CH-Earth/CWARHM, same producer]. ``half_pixel_shift`` moves the origin half a pixel west
    and south of the named corner, as that MERIT Hydro listing shows [code; open for MERIT DEM].
    """
    elevation = np.asarray(elevation, dtype=np.float32)
    n = elevation.shape[0]
    pixel = merit_dem.TILE_DEGREES / n
    shift = pixel / 2 if half_pixel_shift else 0.0
    path = Path(directory) / (name or merit_dem.tile_name(lat_south, lon_west))
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        dtype="float32",
        count=1,
        width=n,
        height=n,
        crs=crs,
        transform=from_origin(lon_west - shift, lat_south + merit_dem.TILE_DEGREES - shift, pixel, pixel),
        nodata=MERIT_NODATA,
        compress="deflate",
        blockysize=1,
    ) as dst:
        dst.write(np.where(np.isfinite(elevation), elevation, MERIT_NODATA).astype(np.float32), 1)
        dst.update_tags(AREA_OR_POINT="Area")
    return path


def write_merit_package(root: Path, tiles: dict[tuple[int, int], np.ndarray], **kwargs) -> list[Path]:
    """Tiles unpacked from their 30-degree packages: ``root/dem_tif_n30e090/n30e090_dem.tif``.

    The packages are ``dem_tif_<corner of 30 deg>.tar`` [doc: MERIT DEM download page]; that
    they unpack to a folder of the same name is [code: a third-party script reading
    ``dem_tif_s30e030/s20e055_dem.tif``].
    """
    return [
        write_merit_tile(Path(root) / merit_dem.package_name(lat, lon), lat, lon, values, **kwargs)
        for (lat, lon), values in tiles.items()
    ]


# ---------------------------------------------------------------- SoilGrids 2.0

SOIL_NODATA = -32768  # [open: ISRIC's int16 nodata; read from the header]
IGH = soilgrids.IGH_PROJ  # [doc: ISRIC WebDAV how-to's proj string for Homolosine]


def _write_int16(path: Path, grams: np.ndarray, crs: str, west: float, north: float, pixel: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        dtype="int16",
        count=1,
        width=grams.shape[1],
        height=grams.shape[0],
        crs=crs,
        transform=from_origin(west, north, pixel, pixel),
        nodata=SOIL_NODATA,
        compress="deflate",
    ) as dst:
        dst.write(np.where(np.isfinite(grams), grams, SOIL_NODATA).astype(np.int16), 1)
    return path


def write_soilgrids_webdav(
    root: Path, prop: str, grams: np.ndarray, west: float, north: float, pixel: float, tile: int
) -> tuple[Path, list[Path]]:
    """``root/<prop>/<prop>_0-5cm_mean.vrt`` and its tiles, as ISRIC's WebDAV serves them.

    ``grams`` (g/kg, NaN = nodata) covers the mosaic whose north-west corner is
    (``west``, ``north``) in Homolosine metres; it is cut into ``tile`` x ``tile`` tiles named
    ``<prop>_0-5cm_mean/tileSG-<nnn>-<nnn>/tileSG-<nnn>-<nnn>_<i>-<j>.tif`` [code: third-party
    download scripts list ``clay_0-5cm_mean/tileSG-025-032/tileSG-025-032_3-1.tif`` with
    ``_<1-4>-<1-4>`` sub-tiles; the numbering scheme itself is open, so this one is made up].
    The VRT names them relative to itself [code: a third-party preflight script resolves
    ``./<prop>_<depth>_mean/tileSG-XXX-YYY/<file>.tif`` against the VRT's folder]. Values are
    int16 in mapped units g/kg, untagged [doc: ISRIC FAQ for the units]. Real tiles are 250 m.
    """
    folder = Path(root) / prop
    name = f"{prop}_0-5cm_mean"
    ny, nx = grams.shape
    tiles, sources = [], []
    for r, row0 in enumerate(range(0, ny, tile)):
        for c, col0 in enumerate(range(0, nx, tile)):
            block = grams[row0 : row0 + tile, col0 : col0 + tile]
            group = f"tileSG-{1 + r // 4:03d}-{1 + c // 4:03d}"
            relative = f"{name}/{group}/{group}_{1 + r % 4}-{1 + c % 4}.tif"
            path = _write_int16(
                folder / relative, block, IGH, west + col0 * pixel, north - row0 * pixel, pixel
            )
            tiles.append(path)
            sources.append(
                f'<SimpleSource><SourceFilename relativeToVRT="1">{relative}</SourceFilename>'
                f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{block.shape[1]}"'
                f' ySize="{block.shape[0]}"/><DstRect xOff="{col0}" yOff="{row0}" xSize="{block.shape[1]}"'
                f' ySize="{block.shape[0]}"/></SimpleSource>'
            )
    wkt = rasterio.crs.CRS.from_string(IGH).to_wkt()
    vrt = folder / f"{name}.vrt"
    vrt.write_text(
        f'<VRTDataset rasterXSize="{nx}" rasterYSize="{ny}"><SRS>{wkt}</SRS>'
        f"<GeoTransform>{west}, {pixel}, 0, {north}, 0, {-pixel}</GeoTransform>"
        f'<VRTRasterBand dataType="Int16" band="1"><NoDataValue>{SOIL_NODATA}</NoDataValue>'
        + "".join(sources)
        + "</VRTRasterBand></VRTDataset>"
    )
    return vrt, tiles


def write_soilgrids_aggregate(
    root: Path, prop: str, grams: np.ndarray, west: float, north: float, metres: int
) -> Path:
    """``root/data_aggregated/<metres>m/<prop>/<prop>_0-5cm_mean_<metres>.tif`` in Homolosine.

    The path [code: third-party probes of files.isric.org list
    ``data_aggregated/1000m/phh2o/phh2o_0-5cm_mean_1000.tif`` and ``.../5000m/..._5000.tif``];
    its CRS (Homolosine here) is [open].
    """
    path = Path(root) / "data_aggregated" / f"{metres}m" / prop / f"{prop}_0-5cm_mean_{metres}.tif"
    return _write_int16(path, grams, IGH, west, north, float(metres))


def write_soilgrids_geographic(
    root: Path, prop: str, grams: np.ndarray, west: float, north: float, degrees: float, suffix: str = ""
) -> Path:
    """An EPSG:4326 copy ``root/<prop>_0-5cm_mean<suffix>.tif`` (a user's export; naming [open])."""
    path = Path(root) / f"{prop}_0-5cm_mean{suffix}.tif"
    return _write_int16(path, grams, "EPSG:4326", west, north, degrees)


# ---------------------------------------------------------------- MCD12C1

def mcd12c1_struct_metadata(nlat: int, nlon: int) -> str:
    """HDF-EOS2 ``StructMetadata.0`` of a global geographic grid named ``MOD12C1``.

    Grid name [code: ``HDF4_EOS:EOS_GRID:"MCD12C1...hdf":MOD12C1:<SDS>`` in third-party
    scripts]; GCTP_GEO with corners in packed degrees (DDDMMMSSS.SS) is the HDF-EOS
    convention of MODIS CMG grids [code; the exact text of MCD12C1's block is open].
    """
    return (
        "GROUP=SwathStructure\nEND_GROUP=SwathStructure\nGROUP=GridStructure\n\tGROUP=GRID_1\n"
        f'\t\tGridName="MOD12C1"\n\t\tXDim={nlon}\n\t\tYDim={nlat}\n'
        "\t\tUpperLeftPointMtrs=(-180000000.000000,90000000.000000)\n"
        "\t\tLowerRightMtrs=(180000000.000000,-90000000.000000)\n"
        "\t\tProjection=GCTP_GEO\n\t\tGridOrigin=HDFE_GD_UL\n\tEND_GROUP=GRID_1\n"
        "END_GROUP=GridStructure\nGROUP=PointStructure\nEND_GROUP=PointStructure\nEND\n"
    )


def write_mcd12c1_hdf(
    directory: Path,
    year: int,
    classes: np.ndarray,
    collection: str = "006",
    production: str = "2020220162300",
    year_folder: bool = True,
    grid_name: str = "MOD12C1",
) -> Path:
    """``directory/<YYYY>.01.01/MCD12C1.A<YYYY>001.<collection>.<production>.hdf``.

    Name [doc: LP DAAC naming, e.g. ``MCD12C1.A2019001.006.2020220162300.hdf``]; the
    ``YYYY.01.01`` folder of LP DAAC's archive [code: a README's download URL
    ``.../MOTA/MCD12C1.006/2019.01.01/MCD12C1.A2019001.006.2020220162300.hdf``]. SDS
    ``Majority_Land_Cover_Type_1`` uint8, IGBP 0..16, fill 255, and
    ``Majority_Land_Cover_Type_1_Assessment`` uint8 percent [doc: MCD12 user guide]; real
    arrays are 3600 x 7200, row 0 at 90 N. Dimension names ``YDim:MOD12C1``/``XDim:MOD12C1``
    follow the HDF-EOS convention [code]. ``Land_Cover_Type_1_Percent`` is left out (its
    dimension order is [open]).
    """
    classes = np.asarray(classes, dtype=np.uint8)
    folder = Path(directory) / (f"{year}.01.01" if year_folder else "")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / mcd12c1.file_name(year, production=production, collection=collection)
    sd = SD(str(path), SDC.WRITE | SDC.CREATE)
    try:
        text = mcd12c1_struct_metadata(*classes.shape).replace('"MOD12C1"', f'"{grid_name}"')
        sd.attr("StructMetadata.0").set(SDC.CHAR8, text)
        for name, values, long_name, units, valid in (
            (mcd12c1.SDS_NAME, classes, "Majority_Land_Cover_Type_1", "class number", (0, 16)),
            (
                "Majority_Land_Cover_Type_1_Assessment",
                np.full(classes.shape, 90, dtype=np.uint8),
                "Majority_Land_Cover_Type_1_Assessment",
                "percent in integers",
                (0, 100),
            ),
        ):
            sds = sd.create(name, SDC.UINT8, classes.shape)
            sds.dim(0).setname(f"YDim:{grid_name}")
            sds.dim(1).setname(f"XDim:{grid_name}")
            sds.setfillvalue(255)
            sds.setrange(*valid)
            sds.long_name = long_name
            sds.units = units
            sds.setcompress(SDC.COMP_DEFLATE, 1)
            sds[:] = values
            sds.endaccess()
    finally:
        sd.end()
    return path
