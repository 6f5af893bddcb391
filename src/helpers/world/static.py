"""Static fields of the twin world: terrain, climate classes, soil texture and hydraulics.

The twin world is the real Earth: its elevation comes from the 1/12 degree DEM packaged with
``pvlib`` (``pvlib/data/Altitude.h5``), its Koeppen-Geiger climate classes (Peel et al. 2007)
and dense-vegetation mask from the ESA CCI SM mask packaged with ``smecv-grid``
(``ESA-CCI-SOILMOISTURE-LAND_AND_RAINFOREST_MASK-fvMR01.0.nc``, 0.1 degree), its land cover from
MCD12C1 (read by the caller). Everything finer than these sources is synthetic but
deterministic:

* :func:`fine_elevation` is the real DEM interpolated to any grid plus small-scale relief, a
  sum of random Fourier modes in lat/lon whose amplitude grows with the local relief of the
  real DEM. It is a function of the point, the resolution and the seed only, so tiles of one
  grid agree with the whole grid.
* :func:`texture_at` gives clay, sand and silt (percent) at any points: smooth random fields
  in additive log-ratio form (always positive, summing to 100), shifted by a smoothed climate
  index (arid regions sandier, humid tropics more clayey).
* :func:`build_static` puts it all on a product grid: elevation and slope are cell means of
  the fine DEM (slope computed on the fine DEM with metric spacing, then averaged), exactly
  what a MERIT reader aggregating the written fine tiles gets; hydraulic properties follow
  the pedotransfer functions of Saxton & Rawls (2006).

Example
-------
>>> grid = Grid(0.5, west=0.0, south=40.0, east=10.0, north=50.0)
>>> static = build_static(grid, land_cover, water_fraction, snow_ice_fraction, seed=42)
>>> soil = static.field_capacity[static.land]
"""

from __future__ import annotations

import functools
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import h5py
import netCDF4
import numpy as np
from scipy import ndimage

from helpers.errors import SourceError
from helpers.grid import EARTH_RADIUS_KM, Grid, interp_bilinear, regrid

DEM_RESOLUTION = 1.0 / 12.0
DEM_NODATA = 255
CCI_MASK_RESOLUTION = 0.1
CLIMATE_NAMES = (
    "Af Am Aw BWh BWk BSh BSk Csa Csb Csc Cwa Cwb Cwc Cfa Cfb Cfc "
    "Dsa Dsb Dsc Dsd Dwa Dwb Dwc Dwd Dfa Dfb Dfc Dfd ET EF"
).split()
# Per Koeppen class: aridity and humid-tropics indices (0-1) that shift the soil texture, and
# the cap on the peak green vegetation fraction the climate allows.
CLIMATE_ARIDITY = np.array(
    [0, 0, 0.15, 1, 1, 0.65, 0.6, 0.35, 0.25, 0.1, 0.15, 0.15, 0.1, 0.05, 0.05, 0,
     0.35, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0],
    dtype=np.float32,
)  # fmt: skip
CLIMATE_TROPICS = np.array(
    [1, 0.9, 0.6, 0, 0, 0.1, 0, 0, 0, 0, 0.2, 0.15, 0.1, 0.1, 0, 0] + [0] * 14, dtype=np.float32
)
CLIMATE_VEGETATION_CAP = np.array(
    [1, 1, 0.85, 0.12, 0.15, 0.45, 0.5, 0.65, 0.8, 0.85, 0.85, 0.85, 0.8, 0.9, 0.9, 0.8,
     0.6, 0.7, 0.7, 0.6, 0.85, 0.8, 0.75, 0.7, 0.9, 0.9, 0.8, 0.7, 0.4, 0],
    dtype=np.float32,
)  # fmt: skip
# Peak green fraction per IGBP class 0-16 (water, forests 1-5, shrublands, savannas, grassland,
# wetland, cropland, urban, mosaic, snow/ice, barren).
IGBP_VEGETATION_MAX = np.array(
    [0, 0.95, 0.9, 0.9, 0.9, 0.9, 0.6, 0.35, 0.65, 0.5, 0.55, 0.6, 0.75, 0.3, 0.7, 0, 0.05],
    dtype=np.float32,
)
ORGANIC_MATTER_PERCENT = 2.5  # (choice) one value everywhere
RESIDUAL_FRACTION_OF_WILTING_POINT = 0.35  # (choice) Saxton & Rawls give no residual content
CLIMATE_FILL_RADIUS_DEG = 3.0
TEXTURE_CLIMATE_RESOLUTION = 0.5
TEXTURE_CLIMATE_SIGMA_CELLS = 2.0
TEXTURE_CLIMATE_MARGIN_DEG = 5.0
_POINTS_PER_BATCH = 65536


@dataclass
class StaticFields:
    """Static fields of the twin world on ``grid``; every array is (nlat, nlon).

    Attributes
    ----------
    grid : the product grid.
    land : bool, modelled cells (water fraction < 0.5).
    land_cover : uint8, IGBP class (MCD12C1).
    snow_ice : bool, permanent snow and ice (snow/ice fraction >= 0.5).
    elevation_m, slope_deg : cell means of the fine DEM and of its slope.
    climate_class : int8, Koeppen-Geiger (Peel 2007) id 0-29 (see ``CLIMATE_NAMES``), -1 off land.
    dense_vegetation : bool, ESA CCI SM dense-vegetation (high VOD) mask.
    clay, sand, silt : percent, summing to 100.
    porosity, field_capacity, wilting_point, residual : m3 m-3.
    vegetation_max : peak green vegetation fraction (0-1).
    """

    grid: Grid
    land: np.ndarray
    land_cover: np.ndarray
    snow_ice: np.ndarray
    elevation_m: np.ndarray
    slope_deg: np.ndarray
    climate_class: np.ndarray
    dense_vegetation: np.ndarray
    clay: np.ndarray
    sand: np.ndarray
    silt: np.ndarray
    porosity: np.ndarray
    field_capacity: np.ndarray
    wilting_point: np.ndarray
    residual: np.ndarray
    vegetation_max: np.ndarray


def build_static(
    grid: Grid,
    land_cover: np.ndarray,
    water_fraction: np.ndarray,
    snow_ice_fraction: np.ndarray,
    seed: int,
    dem_subcells: int = 4,
) -> StaticFields:
    """Build the static fields of the twin world on ``grid``.

    Parameters
    ----------
    grid : the product grid (any bbox).
    land_cover : (nlat, nlon) IGBP classes on ``grid`` (0 water ... 16 barren).
    water_fraction, snow_ice_fraction : (nlat, nlon) fractions 0-1 on ``grid``.
    seed : world seed (small-scale relief and texture).
    dem_subcells : fine DEM cells per grid cell side; elevation and slope are their means.

    Returns
    -------
    StaticFields
        Cells where the fine DEM is all ocean (tiny islands, coasts the DEM misses, south of
        85 S) get elevation and slope 0. Climate classes come from the nearest classified
        0.1 degree cell within 3 degrees, else from latitude.
    """
    land = np.asarray(water_fraction) < 0.5
    land_cover = np.asarray(land_cover).astype(np.uint8)
    elevation, slope = _terrain(grid, seed, dem_subcells)
    elevation = np.where(np.isfinite(elevation), elevation, 0.0).astype(np.float32)
    slope = np.where(np.isfinite(slope), slope, 0.0).astype(np.float32)
    climate, dense_vegetation = _climate_and_dense_vegetation(grid)
    climate = np.where(land, climate, -1).astype(np.int8)
    clay, sand, silt = texture_at(grid.lat[:, None], grid.lon[None, :], seed)
    porosity, field_capacity, wilting_point, residual = saxton_rawls(clay, sand)
    cover_max = IGBP_VEGETATION_MAX[np.clip(land_cover, 0, IGBP_VEGETATION_MAX.size - 1)]
    climate_cap = np.where(climate >= 0, CLIMATE_VEGETATION_CAP[np.maximum(climate, 0)], 0.0)
    return StaticFields(
        grid=grid,
        land=land,
        land_cover=land_cover,
        snow_ice=np.asarray(snow_ice_fraction) >= 0.5,
        elevation_m=elevation,
        slope_deg=slope,
        climate_class=climate,
        dense_vegetation=dense_vegetation & land,
        clay=clay,
        sand=sand,
        silt=silt,
        porosity=porosity,
        field_capacity=field_capacity,
        wilting_point=wilting_point,
        residual=residual,
        vegetation_max=np.minimum(cover_max, climate_cap).astype(np.float32),
    )


def saxton_rawls(
    clay: np.ndarray, sand: np.ndarray, organic_matter: float = ORGANIC_MATTER_PERCENT
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Porosity, field capacity, wilting point and residual content from texture.

    Saxton, K. E. & Rawls, W. J. (2006), Soil water characteristic estimates by texture and
    organic matter for hydrologic solutions, Soil Sci. Soc. Am. J. 70, 1569-1578, eqs. 1-5
    (S, C decimal fractions, OM percent)::

        t1500 = -0.024 S + 0.487 C + 0.006 OM + 0.005 S OM - 0.013 C OM + 0.068 S C + 0.031
        theta_1500 = t1500 + 0.14 t1500 - 0.02
        t33 = -0.251 S + 0.195 C + 0.011 OM + 0.006 S OM - 0.027 C OM + 0.452 S C + 0.299
        theta_33 = t33 + 1.283 t33^2 - 0.374 t33 - 0.015
        ts33 = 0.278 S + 0.034 C + 0.022 OM - 0.018 S OM - 0.027 C OM - 0.584 S C + 0.078
        theta_s33 = ts33 + 0.636 ts33 - 0.107
        theta_s = theta_33 + theta_s33 - 0.097 S + 0.043

    Porosity is ``theta_s``, field capacity ``theta_33``, wilting point ``theta_1500``; the
    residual content (air-dry surface soil), which the paper does not give, is taken as
    ``0.35 theta_1500`` (choice).

    Parameters
    ----------
    clay, sand : percent.
    organic_matter : percent by weight.

    Returns
    -------
    porosity, field_capacity, wilting_point, residual : float32 arrays, m3 m-3.
    """
    s = np.asarray(sand, dtype=np.float64) / 100.0
    c = np.asarray(clay, dtype=np.float64) / 100.0
    om = organic_matter
    t1500 = -0.024 * s + 0.487 * c + 0.006 * om + 0.005 * s * om - 0.013 * c * om + 0.068 * s * c + 0.031
    wilting = t1500 + (0.14 * t1500 - 0.02)
    t33 = -0.251 * s + 0.195 * c + 0.011 * om + 0.006 * s * om - 0.027 * c * om + 0.452 * s * c + 0.299
    field = t33 + (1.283 * t33**2 - 0.374 * t33 - 0.015)
    ts33 = 0.278 * s + 0.034 * c + 0.022 * om - 0.018 * s * om - 0.027 * c * om - 0.584 * s * c + 0.078
    porosity = field + ts33 + (0.636 * ts33 - 0.107) - 0.097 * s + 0.043
    residual = RESIDUAL_FRACTION_OF_WILTING_POINT * wilting
    return tuple(a.astype(np.float32) for a in (porosity, field, wilting, residual))


def saturated_conductivity_mm_h(
    porosity: np.ndarray, field_capacity: np.ndarray, wilting_point: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Saturated hydraulic conductivity and the Campbell exponent B (Saxton & Rawls 2006).

    ``B = (ln 1500 - ln 33) / (ln theta_33 - ln theta_1500)``, ``lambda = 1/B`` and
    ``Ks = 1930 (theta_s - theta_33)^(3 - lambda)`` in mm h-1 (eqs. 15-16).

    Returns
    -------
    ks_mm_h, b : float32 arrays.
    """
    b = (math.log(1500.0) - math.log(33.0)) / (np.log(field_capacity) - np.log(wilting_point))
    ks = 1930.0 * np.maximum(porosity - field_capacity, 1e-3) ** (3.0 - 1.0 / b)
    return ks.astype(np.float32), b.astype(np.float32)


def fine_elevation(bbox: tuple[float, float, float, float], resolution: float, seed: int) -> np.ndarray:
    """Elevation (m) on the regular grid of ``resolution`` degrees covering ``bbox``.

    The real 1/12 degree DEM interpolated bilinearly, plus small-scale relief: a sum of random
    Fourier modes in lat/lon (wavelengths 0.01-1 degree, amplitude proportional to the
    wavelength, integer cycles around the globe in longitude) of standard deviation
    ``3 m + 0.25 * local relief`` (max minus min of the real DEM over 3x3 cells). Modes too
    short for ``resolution`` are tapered out (no aliasing). Each value depends only on its
    point, ``resolution`` and ``seed``, never on the bbox. NaN over ocean (where less than
    half of the bilinear weight falls on DEM land).

    Parameters
    ----------
    bbox : (west, south, east, north), edges multiples of ``resolution``.
    resolution : cell size in degrees.
    seed : world seed.

    Returns
    -------
    float32 array (nlat, nlon), row 0 northernmost.
    """
    grid = Grid(resolution, *bbox)
    dem_lat, dem_lon, dem = _read_dem(grid.bbox, margin_cells=3)
    land = np.isfinite(dem)
    land_share = interp_bilinear(land.astype(np.float32), dem_lat, dem_lon, grid.lat, grid.lon)
    base = interp_bilinear(dem, dem_lat, dem_lon, grid.lat, grid.lon)
    at_sea_level = np.where(land, dem, 0.0)
    relief = ndimage.maximum_filter(at_sea_level, size=3, mode="nearest") - ndimage.minimum_filter(
        at_sea_level, size=3, mode="nearest"
    )
    local_relief = interp_bilinear(relief, dem_lat, dem_lon, grid.lat, grid.lon)
    modes = _fourier_modes(seed, "relief", 64, 0.01, 1.0, spectral_exponent=1.0)
    small_scale = _evaluate_modes(modes, grid.lat[:, None], grid.lon[None, :], resolution)
    elevation = base + (3.0 + 0.25 * local_relief) * small_scale
    return np.where(land_share >= 0.5, elevation, np.nan).astype(np.float32)


def texture_at(lat: np.ndarray, lon: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topsoil (0-5 cm) clay, sand and silt percentages at any points.

    Additive log-ratio form with silt as the reference::

        ln(sand/silt) = 0.55 z1 + 1.3 aridity - 0.4 tropics
        ln(clay/silt) = -0.7 + 0.4 z2 + 0.8 tropics - 0.2 aridity

    with ``z1, z2`` unit-variance random Fourier fields (wavelengths 0.5-10 degrees) and
    ``aridity``, ``tropics`` the climate indices of the Koeppen classes averaged to 0.5 degree
    and smoothed with a Gaussian of 1 degree. The three fractions are positive and sum to 100.
    Values depend only on the points and the seed (resolution and tiling independent).

    Parameters
    ----------
    lat, lon : arrays broadcastable to a common shape, degrees. ``lat[:, None]`` with
        ``lon[None, :]`` evaluates a grid (fast path).
    seed : world seed.

    Returns
    -------
    clay, sand, silt : float32 arrays of the broadcast shape, percent.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    shape = np.broadcast_shapes(lat.shape, lon.shape)
    aridity, tropics = _climate_indices_at(lat, lon)
    z_sand = _evaluate_modes(_fourier_modes(seed, "sand", 32, 0.5, 10.0, 0.5), lat, lon)
    z_clay = _evaluate_modes(_fourier_modes(seed, "clay", 32, 0.5, 10.0, 0.5), lat, lon)
    sand_ratio = np.exp(0.55 * z_sand + 1.3 * aridity - 0.4 * tropics)
    clay_ratio = np.exp(-0.7 + 0.4 * z_clay + 0.8 * tropics - 0.2 * aridity)
    silt = 100.0 / (1.0 + sand_ratio + clay_ratio)
    clay = np.broadcast_to(clay_ratio * silt, shape).astype(np.float32)
    sand = np.broadcast_to(sand_ratio * silt, shape).astype(np.float32)
    return clay, sand, (100.0 - clay - sand).astype(np.float32)


@dataclass(frozen=True)
class _Modes:
    """Random Fourier modes ``sum_k a_k cos(kx_k lon + ky_k lat + phase_k)``."""

    kx: np.ndarray
    ky: np.ndarray
    phase: np.ndarray
    amplitude: np.ndarray


def _fourier_modes(
    seed: int, name: str, count: int, shortest: float, longest: float, spectral_exponent: float
) -> _Modes:
    """Modes with log-uniform wavelengths (degrees), amplitude ~ wavelength**exponent, unit std."""
    rng = np.random.default_rng([seed, *name.encode()])
    wavelength = 10.0 ** rng.uniform(math.log10(shortest), math.log10(longest), count)
    direction = rng.uniform(0.0, math.pi, count)
    cycles_around_globe = np.round(360.0 * np.cos(direction) / wavelength)
    kx = 2.0 * math.pi * cycles_around_globe / 360.0
    ky = 2.0 * math.pi * np.sin(direction) / wavelength
    amplitude = wavelength**spectral_exponent
    amplitude /= math.sqrt(float(np.sum(amplitude**2)) / 2.0)
    return _Modes(kx, ky, rng.uniform(0.0, 2.0 * math.pi, count), amplitude)


def _evaluate_modes(
    modes: _Modes, lat: np.ndarray, lon: np.ndarray, resolution: float | None = None
) -> np.ndarray:
    """Evaluate modes at points; on a grid (lat (n, 1), lon (1, m)) as one matrix product.

    With ``resolution``, modes with fewer than 4 samples per wavelength along an axis are
    tapered linearly to zero at the Nyquist limit.
    """
    amplitude = modes.amplitude
    if resolution is not None:
        nyquist_share = np.maximum(np.abs(modes.kx), np.abs(modes.ky)) * resolution / math.pi
        amplitude = amplitude * np.clip(2.0 * (1.0 - nyquist_share), 0.0, 1.0)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if _is_grid(lat, lon):
        lat, lon = lat[:, :1], lon[:1, :]
        along_lon = lon[0][:, None] * modes.kx + modes.phase
        along_lat = lat[:, 0][:, None] * modes.ky
        return (np.cos(along_lat) * amplitude) @ np.cos(along_lon).T - (
            np.sin(along_lat) * amplitude
        ) @ np.sin(along_lon).T
    shape = np.broadcast_shapes(lat.shape, lon.shape)
    lat_flat = np.broadcast_to(lat, shape).ravel()
    lon_flat = np.broadcast_to(lon, shape).ravel()
    out = np.empty(lat_flat.size)
    for start in range(0, lat_flat.size, _POINTS_PER_BATCH):
        batch = slice(start, start + _POINTS_PER_BATCH)
        angle = lon_flat[batch, None] * modes.kx + lat_flat[batch, None] * modes.ky + modes.phase
        out[batch] = np.cos(angle) @ amplitude
    return out.reshape(shape)


def _is_grid(lat: np.ndarray, lon: np.ndarray) -> bool:
    """Whether (lat, lon) describe a grid: (n, 1) x (1, m), or a meshgrid with ``indexing="ij"``."""
    if lat.ndim != 2 or lon.ndim != 2:
        return False
    if lat.shape[1] == 1 and lon.shape[0] == 1:
        return True
    return lat.shape == lon.shape and bool(np.all(lat == lat[:, :1]) and np.all(lon == lon[:1, :]))


def _package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package (located without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(package, "package not installed; it ships data the twin world needs")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise SourceError(path, f"data file missing from the installed package {package!r}")
    return path


def _read_dem(
    bbox: tuple[float, float, float, float], margin_cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pvlib DEM window covering ``bbox`` plus a margin: (lat, lon, metres with NaN at sea)."""
    west, south, east, north = bbox
    rows = _index_range(90.0 - north, 90.0 - south, DEM_RESOLUTION, margin_cells, 2160)
    cols = _index_range(west + 180.0, east + 180.0, DEM_RESOLUTION, margin_cells, 4320)
    raw = _packaged_dem()[rows, cols]
    metres = np.where(raw == DEM_NODATA, np.nan, raw.astype(np.float32) * 28.0 - 450.0)
    lat = 90.0 - (np.arange(rows.start, rows.stop) + 0.5) * DEM_RESOLUTION
    lon = -180.0 + (np.arange(cols.start, cols.stop) + 0.5) * DEM_RESOLUTION
    return lat, lon, metres.astype(np.float32)


@functools.lru_cache(maxsize=1)
def _packaged_dem() -> np.ndarray:
    """pvlib's global DEM codes (2160 x 4320 uint8, 9 MB), read once per process: the world
    asks for many small windows (one per DEM tile written)."""
    path = _package_file("pvlib", "data", "Altitude.h5")
    try:
        with h5py.File(path, "r") as file:
            codes = file["Altitude"][...]
    except (OSError, KeyError) as exc:
        raise SourceError(path, f"cannot read dataset 'Altitude': {exc}") from exc
    if codes.shape != (2160, 4320):
        raise SourceError(path, f"dataset 'Altitude' has shape {codes.shape}, expected (2160, 4320)")
    codes.flags.writeable = False
    return codes


def _index_range(start: float, stop: float, resolution: float, margin: int, size: int) -> slice:
    """Cells of ``resolution`` covering [start, stop] (offsets from the array origin) plus margin."""
    first = math.floor(start / resolution + 1e-9) - margin
    last = math.ceil(stop / resolution - 1e-9) + margin
    return slice(max(first, 0), min(last, size))


def _terrain(grid: Grid, seed: int, subcells: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell means of the fine DEM and of its slope (degrees) on ``grid``."""
    fine_res = grid.resolution / subcells
    halo = Grid(
        fine_res,
        west=max(-180.0, grid.west - fine_res),
        south=max(-90.0, grid.south - fine_res),
        east=min(180.0, grid.east + fine_res),
        north=min(90.0, grid.north + fine_res),
    )
    elevation = fine_elevation(halo.bbox, fine_res, seed)
    spacing_m = math.radians(fine_res) * EARTH_RADIUS_KM * 1000.0
    dz_dy, dz_dx = np.gradient(elevation.astype(np.float64), spacing_m, spacing_m)
    dz_dx /= np.maximum(np.cos(np.radians(halo.lat)), 1e-3)[:, None]
    slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype(np.float32)
    return regrid(elevation, halo, grid), regrid(slope, halo, grid)


def _read_cci_mask(
    bbox: tuple[float, float, float, float], margin_cells: int, variables: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A window of the ESA CCI SM 0.1 degree mask file: (lat, lon, {variable: float array})."""
    west, south, east, north = bbox
    rows = _index_range(90.0 - north, 90.0 - south, CCI_MASK_RESOLUTION, margin_cells, 1800)
    cols = _index_range(west + 180.0, east + 180.0, CCI_MASK_RESOLUTION, margin_cells, 3600)
    path = _package_file(
        "smecv_grid", "definition_files", "ESA-CCI-SOILMOISTURE-LAND_AND_RAINFOREST_MASK-fvMR01.0.nc"
    )
    try:
        with netCDF4.Dataset(path) as dataset:
            values = {
                name: np.ma.filled(dataset[name][rows, cols].astype(np.float32), np.nan) for name in variables
            }
    except (OSError, IndexError) as exc:
        raise SourceError(str(path), f"cannot read {variables}: {exc}") from exc
    lat = 90.0 - (np.arange(rows.start, rows.stop) + 0.5) * CCI_MASK_RESOLUTION
    lon = -180.0 + (np.arange(cols.start, cols.stop) + 0.5) * CCI_MASK_RESOLUTION
    return lat, lon, values


def _climate_and_dense_vegetation(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Koeppen class (nearest classified 0.1 degree cell within 3 degrees, else by latitude)
    and the dense-vegetation mask at the cell centres of ``grid``."""
    margin = round(CLIMATE_FILL_RADIUS_DEG / CCI_MASK_RESOLUTION)
    lat, lon, values = _read_cci_mask(grid.bbox, margin, ("climate_class", "high_vod"))
    climate = values["climate_class"]
    unclassified = ~np.isfinite(climate)
    filled = np.full_like(climate, np.nan)
    if not unclassified.all():
        distance, (near_rows, near_cols) = ndimage.distance_transform_edt(unclassified, return_indices=True)
        filled = np.where(distance <= margin, climate[near_rows, near_cols], np.nan)
    rows = _cell_index(90.0 - grid.lat, 90.0 - (lat[0] + CCI_MASK_RESOLUTION / 2), lat.size)[:, None]
    cols = _cell_index(grid.lon + 180.0, lon[0] - CCI_MASK_RESOLUTION / 2 + 180.0, lon.size)[None, :]
    at_centres = filled[rows, cols]
    fallback = np.broadcast_to(_climate_by_latitude(grid.lat)[:, None], grid.shape)
    climate_class = np.where(np.isfinite(at_centres), at_centres, fallback).astype(np.int8)
    return climate_class, values["high_vod"][rows, cols] == 1


def _cell_index(offset: np.ndarray, window_offset: float, size: int) -> np.ndarray:
    """Index, inside a window of the 0.1 degree mask, of the cell holding each point."""
    absolute = np.floor(offset / CCI_MASK_RESOLUTION + 1e-6).astype(int)
    return np.clip(absolute - round(window_offset / CCI_MASK_RESOLUTION), 0, size - 1)


def _climate_by_latitude(lat: np.ndarray) -> np.ndarray:
    """A plausible Koeppen class for land far from any classified cell (small islands)."""
    band = np.abs(lat)
    names = np.select([band < 15, band < 35, band < 55, band < 66], ["Af", "Cfa", "Cfb", "Dfc"], default="ET")
    return np.array([CLIMATE_NAMES.index(str(name)) for name in names.ravel()]).reshape(lat.shape)


def _climate_indices_at(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed aridity and humid-tropics indices at points (bilinear on a 0.5 degree grid)."""
    res = TEXTURE_CLIMATE_RESOLUTION
    block = round(res / CCI_MASK_RESOLUTION)
    coarse = Grid(
        res,
        west=max(-180.0, math.floor((float(np.min(lon)) - TEXTURE_CLIMATE_MARGIN_DEG) / res) * res),
        south=max(-90.0, math.floor((float(np.min(lat)) - TEXTURE_CLIMATE_MARGIN_DEG) / res) * res),
        east=min(180.0, math.ceil((float(np.max(lon)) + TEXTURE_CLIMATE_MARGIN_DEG) / res) * res),
        north=min(90.0, math.ceil((float(np.max(lat)) + TEXTURE_CLIMATE_MARGIN_DEG) / res) * res),
    )
    _, _, values = _read_cci_mask(coarse.bbox, 0, ("climate_class",))
    climate = values["climate_class"]
    classified = np.isfinite(climate)
    ids = np.where(classified, climate, 0).astype(int)
    indices = []
    for table in (CLIMATE_ARIDITY, CLIMATE_TROPICS):
        index = np.where(classified, table[ids], 0.0)
        blocks = (coarse.nlat, block, coarse.nlon, block)
        weight = classified.reshape(blocks).mean(axis=(1, 3))
        mean = index.reshape(blocks).mean(axis=(1, 3))
        smooth_weight = ndimage.gaussian_filter(weight, TEXTURE_CLIMATE_SIGMA_CELLS, mode="nearest")
        smooth = ndimage.gaussian_filter(mean, TEXTURE_CLIMATE_SIGMA_CELLS, mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            field = np.where(smooth_weight > 1e-3, smooth / smooth_weight, 0.0)
        indices.append(_sample_bilinear(field, coarse, lat, lon))
    return indices[0], indices[1]


def _sample_bilinear(field: np.ndarray, grid: Grid, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a field on ``grid`` at arbitrary points (clamped at the edges)."""
    row = np.clip((grid.north - lat) / grid.resolution - 0.5, 0.0, grid.nlat - 1.0)
    col = np.clip((lon - grid.west) / grid.resolution - 0.5, 0.0, grid.nlon - 1.0)
    row0 = np.minimum(np.floor(row).astype(int), max(grid.nlat - 2, 0))
    col0 = np.minimum(np.floor(col).astype(int), max(grid.nlon - 2, 0))
    fr, fc = row - row0, col - col0
    row1 = np.minimum(row0 + 1, grid.nlat - 1)
    col1 = np.minimum(col0 + 1, grid.nlon - 1)
    return (
        field[row0, col0] * (1 - fr) * (1 - fc)
        + field[row0, col1] * (1 - fr) * fc
        + field[row1, col0] * fr * (1 - fc)
        + field[row1, col1] * fr * fc
    )


def climate_classes(grid: Grid) -> np.ndarray:
    """Koeppen-Geiger class id (index into :data:`CLIMATE_NAMES`) at every cell centre of
    ``grid``, land or not (the classes the twin world is built on)."""
    return _climate_and_dense_vegetation(grid)[0]
