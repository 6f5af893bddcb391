"""The embedded twin world: the real Earth with synthetic, physically coupled dynamics.

:func:`generate_world` writes a complete set of input files for a run configuration that has
a ``world`` section, in the real products' formats (see :mod:`helpers.sources`), and keeps the
TRUE soil moisture apart in ``data/truth/``. It is what ``make demo`` runs on when no real data
are available, and because the truth is known every product can be scored against it.

What is real and what is synthetic
----------------------------------
* Real (from PyPI packages): land, water and permanent snow/ice from MODIS MCD12C1 2019 (the
  paper's mask product, written out as the real 0.05 degree HDF4 file), elevation (pvlib's
  global 1/12 degree DEM), Koeppen-Geiger climate classes and dense-vegetation mask (the ESA CCI
  SM ancillary grid shipped with smecv-grid). See :mod:`helpers.world.static`.
* Synthetic: soil texture, daily weather, a two-layer water balance giving the true surface SM
  (:mod:`helpers.world.weather`, :mod:`helpers.world.hydrology`), and every observation
  derived from it with its real counterpart's errors (:mod:`helpers.world.observe`).

The target, two ways (``world.target_method``): ``smoothed_truth`` (default) is the truth
smoothed a little, plus noise (:func:`observe.target_like`); ``station_model`` is made the way
GLASS-MODIS SM is made, an XGBoost model fitted to the ISMN-like stations from MODIS-like
inputs, ERA5-like SM and the static fields and applied to every cell
(:mod:`helpers.world.fitted_target`), so that a model trained on it can be checked for
surrogate skill against the truth. Its inputs are saved year by year while the world is
simulated and removed once the target is written.

How it runs
-----------
Year by year, with a one-year spin-up of the soil state. Within a year, land pixels are
simulated tile by tile (``world.tile_cells``) so the physics' memory is bounded; one year of
each gridded observation is then assembled on the full grid and written. The raw folder and
the truth folder are written under temporary names and moved into place when complete.

Randomness comes from ``numpy.random.SeedSequence([seed, year, tile, stream])``, so a run is
repeatable for given params (the tile size is part of them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from helpers import keys
from helpers.grid import Grid, coarsen_mean
from helpers.io import atomic_path
from helpers.params import Params
from helpers.progress import progress_bar
from helpers.provenance import global_attributes
from helpers.sources import (
    era5_land,
    esa_cci,
    glass_albedo,
    glass_lst,
    glass_modis_sm,
    mcd12c1,
    merit_dem,
    soilgrids,
)
from helpers.world import fitted_target, hydrology, observe, static, weather
from helpers.world.stations import Stations, place_stations, write_stations

log = logging.getLogger(__name__)

MIN_DEM_SUBCELLS = 4


def dem_subcells(resolution: float) -> int:
    """Fine DEM cells per grid cell side: the smallest count >= :data:`MIN_DEM_SUBCELLS` whose
    cells tile a MERIT 5-degree tile exactly (4 at 1 or 0.05 degree, 6 at 1.5 degree)."""
    for count in range(MIN_DEM_SUBCELLS, 10 * MIN_DEM_SUBCELLS):
        per_tile = MERIT_TILE_DEG * count / resolution
        if abs(per_tile - round(per_tile)) < 1e-6:
            return count
    raise ValueError(f"grid.resolution {resolution}: no DEM cell size tiles a {MERIT_TILE_DEG}-degree MERIT tile")
SOIL_SUBCELLS = 2
MERIT_TILE_DEG = 5
ALBEDO_BANDS = glass_albedo.BANDS
MODIS_INPUTS = ("modis_lst", "modis_albedo_vis", "modis_albedo_nir", "modis_vegetation")
STATION_MODEL = "station_model"
_STREAMS = {
    "weather": 1,
    "hydrology": 2,
    "albedo": 3,
    "lst": 4,
    "target": 5,
    "era5": 6,
    "cci": 7,
    "stations": 8,
    "clouds": 9,
    "modis": 10,
}


def _rng(params: Params, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([params.seed, *keys]))


#: The record a complete world leaves in its raw folder: what made it (:func:`world_settings`).
WORLD_RECORD = "WORLD_COMPLETE"
#: Version of the world's generator, part of its settings: raise it when a change of the
#: simulation changes the files, so that a world made by the older code is rebuilt.
#: 2: the synoptic weather continues across 1 January (no seam in the forcing at year ends).
GENERATOR_VERSION = 2


def world_settings(params: Params) -> dict:
    """Everything the world's files depend on: the generator version, the world section, grid,
    period, seed and sources."""
    if params.world is None:
        raise ValueError(f"params {params.run_name!r} have no world section: they describe real data")
    return {
        "generator": GENERATOR_VERSION,
        "world": params.world.model_dump(mode="json"),
        "grid": params.grid.model_dump(mode="json"),
        "period": params.period.model_dump(mode="json"),
        "seed": params.seed,
        "sources": params.sources.model_dump(mode="json"),
    }


def stored_world(raw_dir: Path) -> dict | None:
    """The record of the world in ``raw_dir`` (``settings`` and ``digest``), None without one.

    A world of an older version, whose record is not JSON, has none (it is rebuilt)."""
    path = Path(raw_dir) / WORLD_RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and {"settings", "digest"} <= set(record) else None


def world_exists(params: Params) -> bool:
    """True when the raw inputs and the truth of this run are complete on disk and were made
    with the settings ``params`` give now (:func:`world_settings`)."""
    record = stored_world(params.raw_dir)
    return (
        record is not None
        and not keys.differences(record["settings"], world_settings(params))
        and (params.truth_dir / "truth.zarr").exists()
    )


def generate_world(params: Params, progress: bool = True, overwrite: bool = False) -> Path:
    """Generate the twin world's input files and truth for ``params``; return the raw folder.

    An existing complete world is kept when it was made with the same :func:`world_settings`;
    one made with other settings is rebuilt, with a warning naming what changed.
    """
    wanted = world_settings(params)
    if not overwrite:
        record = stored_world(params.raw_dir)
        changed = keys.differences(record and record["settings"], wanted)
        if not changed and (params.truth_dir / "truth.zarr").exists():
            log.info("twin world exists: %s", params.raw_dir)
            return params.raw_dir
        if record is not None or params.raw_dir.exists():
            log.warning("rebuilding the twin world in %s: %s", params.raw_dir, "; ".join(changed) or "no truth")
    grid = params.to_grid()
    with atomic_path(params.raw_dir) as raw, atomic_path(params.truth_dir) as truth:
        statics = _write_static_products(params, grid, raw)
        stations = place_stations(params, statics, _rng(params, 0, _STREAMS["stations"]))
        _simulate_years(params, grid, statics, stations, raw, truth, progress)
        record = {"run_name": params.run_name, "settings": wanted, "digest": keys.digest(wanted)}
        (raw / WORLD_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return params.raw_dir


# Static products ---------------------------------------------------------------------------


def _write_static_products(params: Params, grid: Grid, raw: Path) -> static.StaticFields:
    """Write MCD12C1, MERIT-like DEM tiles and SoilGrids-like texture; return static fields."""
    cmg = Grid.global_grid(0.05)
    packaged = mcd12c1.packaged_geotiff()
    import rasterio

    with rasterio.open(packaged) as src:
        classes = src.read(1)
    mcd12c1.write(raw / params.sources.mcd12c1, params.sources.land_cover_year, classes, cmg)
    land_cover = mcd12c1.read(packaged, grid)
    fields = static.build_static(
        grid,
        land_cover["land_cover"].values,
        land_cover["water_fraction"].values,
        land_cover["snow_ice_fraction"].values,
        params.seed,
        dem_subcells=dem_subcells(params.grid.resolution),
    )
    _write_dem_tiles(params, grid, fields, raw / params.sources.merit_dem)
    fine = Grid(grid.resolution / SOIL_SUBCELLS, *grid.bbox)
    lat2d, lon2d = np.meshgrid(fine.lat, fine.lon, indexing="ij")
    clay, sand, silt = static.texture_at(lat2d, lon2d, params.seed)
    fine_land = np.repeat(np.repeat(fields.land, SOIL_SUBCELLS, 0), SOIL_SUBCELLS, 1)
    for prop, values in (("clay", clay), ("sand", sand), ("silt", silt)):
        soilgrids.write(raw / params.sources.soilgrids, prop, fine, np.where(fine_land, values, np.nan))
    return fields


def _write_dem_tiles(params: Params, grid: Grid, fields: static.StaticFields, directory: Path) -> None:
    """MERIT-like 5x5 degree tiles wherever the tile holds land of the grid."""
    res = grid.resolution / dem_subcells(grid.resolution)
    rows, cols = np.nonzero(fields.land)
    south_edges = (np.floor(grid.lat[rows] / MERIT_TILE_DEG) * MERIT_TILE_DEG).astype(int)
    west_edges = (np.floor(grid.lon[cols] / MERIT_TILE_DEG) * MERIT_TILE_DEG).astype(int)
    for south, west in sorted(set(zip(south_edges.tolist(), west_edges.tolist(), strict=True))):
        box = (west, south, west + MERIT_TILE_DEG, south + MERIT_TILE_DEG)
        elevation = static.fine_elevation(box, res, params.seed)
        if np.isfinite(elevation).any():
            merit_dem.write_tile(directory, south, west, elevation)


# Dynamics ----------------------------------------------------------------------------------


@dataclass
class _YearArrays:
    """One year of full-grid fields, filled tile by tile."""

    truth: np.ndarray
    truth_root: np.ndarray
    frozen: np.ndarray
    snow: np.ndarray
    lst: np.ndarray
    albedo: dict[str, np.ndarray]
    modis: dict[str, np.ndarray] | None = None

    @classmethod
    def empty(cls, n_days: int, n_composites: int, shape: tuple[int, int], modis: bool = False) -> _YearArrays:
        """NaN-filled arrays; ``modis``: also the MODIS-like inputs of a station-model target."""
        nan = lambda n: np.full((n, *shape), np.nan, dtype=np.float32)  # noqa: E731
        return cls(
            nan(n_days),
            nan(n_days),
            np.zeros((n_days, *shape), bool),
            np.zeros((n_days, *shape), bool),
            nan(n_days),
            {b: nan(n_composites) for b in ALBEDO_BANDS},
            {name: nan(n_days) for name in MODIS_INPUTS} if modis else None,
        )


def _simulate_years(
    params: Params,
    grid: Grid,
    fields: static.StaticFields,
    stations: Stations,
    raw: Path,
    truth_dir: Path,
    progress: bool,
) -> None:
    world = params.world
    assert world is not None
    years = params.period.years
    tiles = [t for t in grid.tiles(world.tile_cells) if fields.land[t[0], t[1]].any()]
    states: dict[int, hydrology.SoilState] = {}
    era5_state: dict[str, np.ndarray] = {}
    truth_store = truth_dir / "truth.zarr"
    _truth_template(params, grid).to_zarr(truth_store, compute=False, zarr_format=2, consolidated=True)
    site_rows, site_cols = stations.cells()
    site_series: dict[str, list[np.ndarray]] = {k: [] for k in ("sm", "sm_root", "frozen", "snow", "tair")}
    fitted = world.target_method == STATION_MODEL
    target_inputs = truth_dir / "_station_model_inputs" if fitted else None
    bar = progress_bar(total=(len(years) + 1) * len(tiles), desc="twin world", unit="tile-year", disable=not progress)
    # The first pass over the first year only spins the soil state (and the weather) up.
    large_scale = None
    for pass_index, year in enumerate([years[0], *years]):
        dates = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        starts = glass_albedo.composite_dates(year)
        arrays = _YearArrays.empty(len(dates), len(starts), grid.shape, modis=fitted)
        tair_grid = np.full((len(dates), *grid.shape), np.nan, dtype=np.float32)
        large_scale = weather.large_scale_anomalies(dates, params.seed, year, previous=large_scale)
        for index, (rows, cols, _) in enumerate(tiles):
            _simulate_tile(
                params, fields, index, rows, cols, year, dates, starts, large_scale, states, arrays, tair_grid
            )
            bar.update()
        if pass_index == 0:
            continue
        _write_year(params, grid, fields, year, dates, starts, arrays, raw, era5_state, target_inputs)
        _write_truth_year(truth_store, dates, arrays, pd.DatetimeIndex(_period_days(params)))
        for key, values in (
            ("sm", arrays.truth),
            ("sm_root", arrays.truth_root),
            ("frozen", arrays.frozen),
            ("snow", arrays.snow),
            ("tair", tair_grid),
        ):
            site_series[key].append(values[:, site_rows, site_cols])
    bar.close()
    full = {key: np.concatenate(values, axis=0) for key, values in site_series.items()}
    point_series = write_stations(params, fields, stations, full, raw, _rng(params, 0, _STREAMS["stations"], 1))
    if target_inputs is not None:
        _write_station_model_target(params, grid, fields, stations, point_series, target_inputs, raw, progress)


def _simulate_tile(
    params: Params,
    fields: static.StaticFields,
    index: int,
    rows: slice,
    cols: slice,
    year: int,
    dates: pd.DatetimeIndex,
    starts: list[dt.date],
    large_scale: weather.LargeScaleAnomalies,
    states: dict[int, hydrology.SoilState],
    arrays: _YearArrays,
    tair_grid: np.ndarray,
) -> None:
    """Simulate the land pixels of one tile for one year and scatter the results."""
    world = params.world
    assert world is not None
    grid = fields.grid
    local = fields.land[rows, cols]
    pix_rows, pix_cols = np.nonzero(local)
    pix_rows, pix_cols = pix_rows + rows.start, pix_cols + cols.start
    lat, lon = grid.lat[pix_rows], grid.lon[pix_cols]
    soil = hydrology.SoilPixels.from_static(fields, pix_rows, pix_cols)
    met = weather.generate_weather(
        lat,
        lon,
        fields.elevation_m[pix_rows, pix_cols],
        fields.climate_class[pix_rows, pix_cols],
        dates,
        _rng(params, year, index, _STREAMS["weather"]),
        large_scale,
    )
    state = states.get(index) or hydrology.initial_state(soil)
    sim, states[index] = hydrology.simulate(met, soil, state)
    clear = observe.clear_sky_mask(met.cloud_fraction, _rng(params, year, index, _STREAMS["clouds"]))
    snow = sim.swe_mm > 1.0
    daily = observe.albedo_daily(
        sim.sm,
        sim.vegetation,
        sim.swe_mm,
        soil.sand,
        list(dates.date),
        world.satellite_changes,
        _rng(params, year, index, _STREAMS["albedo"]),
    )
    composites = observe.composite_8day(daily, clear, snow, list(dates.date), starts)
    lst = observe.lst_like(
        sim.sm,
        met.tair_c,
        met.shortwave_wm2,
        sim.vegetation,
        soil.porosity,
        clear,
        _rng(params, year, index, _STREAMS["lst"]),
    )
    if arrays.modis is not None:
        modis = fitted_target.modis_like_inputs(
            sim.sm, sim.vegetation, sim.swe_mm, met.tair_c, met.shortwave_wm2, soil.sand, soil.porosity,
            dates, _rng(params, year, index, _STREAMS["modis"]), calibration_seed=params.seed,
        )  # fmt: skip
        for name in MODIS_INPUTS:
            arrays.modis[name][:, pix_rows, pix_cols] = modis[name]
    arrays.truth[:, pix_rows, pix_cols] = sim.sm
    arrays.truth_root[:, pix_rows, pix_cols] = sim.sm_root
    arrays.frozen[:, pix_rows, pix_cols] = sim.frozen
    arrays.snow[:, pix_rows, pix_cols] = snow
    arrays.lst[:, pix_rows, pix_cols] = lst
    tair_grid[:, pix_rows, pix_cols] = met.tair_c
    for band in ALBEDO_BANDS:
        arrays.albedo[band][:, pix_rows, pix_cols] = composites[band]


def _period_days(params: Params) -> pd.DatetimeIndex:
    return pd.date_range(f"{params.period.start_year}-01-01", f"{params.period.end_year}-12-31", freq="D")


def _truth_template(params: Params, grid: Grid) -> xr.Dataset:
    import dask.array as da

    time = _period_days(params)
    shape = (len(time), grid.nlat, grid.nlon)
    chunks = (min(366, len(time)), min(grid.nlat, 120), min(grid.nlon, 120))
    ds = xr.Dataset(
        {
            "sm": (("time", "lat", "lon"), da.full(shape, np.nan, dtype=np.float32, chunks=chunks)),
            "sm_root": (("time", "lat", "lon"), da.full(shape, np.nan, dtype=np.float32, chunks=chunks)),
            "frozen": (("time", "lat", "lon"), da.zeros(shape, dtype=np.uint8, chunks=chunks)),
        },
        coords={"time": time, "lat": grid.lat, "lon": grid.lon},
    )
    ds["sm"].attrs = {
        "long_name": "TRUE surface (0-5 cm) soil moisture of the twin world",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "units": "m3 m-3",
    }
    ds["sm_root"].attrs = {"long_name": "TRUE 5-50 cm soil moisture of the twin world", "units": "m3 m-3"}
    ds["frozen"].attrs = {
        "long_name": "soil frozen (1) in the twin world",
        "flag_values": np.array([0, 1], "u1"),
        "flag_meanings": "thawed frozen",
    }
    ds.attrs = global_attributes(
        params,
        title="Twin-world truth",
        summary="The TRUE soil moisture of the synthetic twin world. Known only because the world is"
        " synthetic; no estimation step reads this store.",
    )
    return ds


def _write_truth_year(
    store: Path, dates: pd.DatetimeIndex, arrays: _YearArrays, period: pd.DatetimeIndex
) -> None:
    t0 = period.get_loc(dates[0])
    region = {"time": slice(t0, t0 + len(dates)), "lat": slice(None), "lon": slice(None)}
    xr.Dataset(
        {
            "sm": (("time", "lat", "lon"), arrays.truth),
            "sm_root": (("time", "lat", "lon"), arrays.truth_root),
            "frozen": (("time", "lat", "lon"), arrays.frozen.astype(np.uint8)),
        }
    ).to_zarr(store, region=region, zarr_format=2)


def node_means(
    field: np.ndarray, grid: Grid, node_resolution: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area means of a global-grid field around ERA5-style nodes.

    ERA5-Land values sit on grid *nodes* at multiples of ``node_resolution`` (latitudes
    90..-90 inclusive, longitudes -180..180-res here). A node's value is the area-weighted
    mean of the field over the box of half a node spacing around it. When the spacing is an
    odd number of cells the box edges fall on cell centres, so the field is first refined by
    two; polar boxes are half outside the globe (padded with NaN).

    Returns (values (..., n_lat_nodes, n_lon_nodes), node latitudes descending, node longitudes).
    """
    if any(abs(v / node_resolution - round(v / node_resolution)) > 1e-6 for v in grid.bbox):
        raise ValueError(f"grid bbox {grid.bbox} is not aligned on the node spacing {node_resolution}")
    k = round(node_resolution / grid.resolution)
    if k % 2:  # refine by two so that the boxes' edges fall on cell edges
        fine, fine_res = np.repeat(np.repeat(field.astype(np.float32), 2, axis=-2), 2, axis=-1), grid.resolution / 2
    else:
        fine, fine_res, k = field.astype(np.float32), grid.resolution, k // 2
    # Now a box is 2k cells of `fine` wide and its edges lie k cells off the node.
    rows_pad = np.full((*fine.shape[:-2], k, fine.shape[-1]), np.nan, dtype=np.float32)
    fine = np.concatenate([rows_pad, fine, rows_pad], axis=-2)
    if grid.west == -180.0 and grid.east == 180.0:
        fine = np.roll(fine, k, axis=-1)  # the first box straddles the date line
    else:
        cols_pad = np.full((*fine.shape[:-1], k), np.nan, dtype=np.float32)
        fine = np.concatenate([cols_pad, fine, cols_pad], axis=-1)
    centres = grid.north + node_resolution / 2 - (np.arange(fine.shape[-2]) + 0.5) * fine_res
    weights = np.clip(np.cos(np.radians(centres)), 1e-9, None)
    means = coarsen_mean(fine, 2 * k, weights)
    node_lat = grid.north - np.arange(means.shape[-2]) * node_resolution
    node_lon = grid.west + np.arange(means.shape[-1]) * node_resolution
    return means, node_lat, node_lon


def _write_year(
    params: Params,
    grid: Grid,
    fields: static.StaticFields,
    year: int,
    dates: pd.DatetimeIndex,
    starts: list[dt.date],
    arrays: _YearArrays,
    raw: Path,
    era5_state: dict[str, np.ndarray] | None = None,
    target_inputs: Path | None = None,
) -> None:
    """Write one year of every gridded observation in its product's format.

    ``era5_state`` carries the ERA5-Land-like series from one year into the next
    (:func:`observe.era5_like`), so that it has no seam at the turn of the year. With
    ``target_inputs`` (a station-model target) the target is not written here: the year's
    inputs of the station model are saved there instead (:func:`_write_station_model_target`).
    """
    world = params.world
    assert world is not None
    src = params.sources
    land = fields.land
    for day, date in enumerate(dates.date):
        glass_lst.create(raw / src.glass_lst, date, grid, arrays.lst[day])
    for index, start in enumerate(starts):
        glass_albedo.create(raw / src.glass_albedo, start, grid, {b: arrays.albedo[b][index] for b in ALBEDO_BANDS})

    if year >= world.target_start_year and target_inputs is None:
        target = np.full_like(arrays.truth, np.nan)
        target[:, land] = observe.target_like(
            arrays.truth[:, land], _rng(params, year, 0, _STREAMS["target"])
        )
        for day, date in enumerate(dates.date):
            glass_modis_sm.write(raw / src.glass_modis_sm, date, grid, target[day], world.target_subcells)

    # ERA5-Land-like: truth averaged onto coarse nodes, then smoothed and wet-biased.
    bias = np.full(grid.shape, np.nan, dtype=np.float32)
    bias[land] = observe.wet_bias_field(fields.climate_class[land], fields.clay[land])
    sm_nodes, node_lat, node_lon = node_means(arrays.truth, grid, world.era5_resolution)
    root_nodes, _, _ = node_means(arrays.truth_root, grid, world.era5_resolution)
    bias_nodes, _, _ = node_means(bias, grid, world.era5_resolution)
    has_land = np.isfinite(sm_nodes).all(axis=0)
    era5 = np.full_like(sm_nodes, np.nan)
    era5[:, has_land] = observe.era5_like(
        sm_nodes[:, has_land],
        root_nodes[:, has_land],
        bias_nodes[has_land],
        _rng(params, year, 0, _STREAMS["era5"]),
        era5_state,
    )
    path = era5_land.create(raw / src.era5_land, year, world.era5_resolution)
    era5_land.write_window(path, node_lat, node_lon, era5)
    if target_inputs is not None and year >= world.target_start_year:
        _save_station_model_inputs(
            fields, arrays, era5, node_lat, node_lon, world.era5_resolution, dates, target_inputs / f"{year}.npy"
        )

    # ESA-CCI-like: coarse cells, noisier, gaps over frozen/snow/dense vegetation.
    factor = round(world.cci_resolution / grid.resolution)
    area = grid.cell_area_km2()
    cci_grid = grid.coarsened(factor)
    sm_cells = coarsen_mean(arrays.truth, factor, area)
    frozen_cells = coarsen_mean(np.where(land, arrays.frozen, np.nan).astype(np.float32), factor, area) > 0.5
    snow_cells = coarsen_mean(np.where(land, arrays.snow, np.nan).astype(np.float32), factor, area) > 0.5
    dense = (
        coarsen_mean(np.where(land, fields.dense_vegetation, np.nan).astype(np.float32), factor, area) > 0.5
    )
    observed = np.isfinite(sm_cells).all(axis=0)
    cci_sm = np.full_like(sm_cells, np.nan)
    cci_flag = np.zeros(sm_cells.shape, dtype=np.int8)
    cci_sm[:, observed], cci_flag[:, observed] = observe.cci_like(
        sm_cells[:, observed],
        frozen_cells[:, observed],
        snow_cells[:, observed],
        np.broadcast_to(dense[observed], (len(dates), int(observed.sum()))),
        _rng(params, year, 0, _STREAMS["cci"]),
    )
    for day, date in enumerate(dates.date):
        esa_cci.write(raw / src.esa_cci, date, cci_grid, cci_sm[day], cci_flag[day])


# A target made the way GLASS-MODIS SM is made ---------------------------------------------


def _save_station_model_inputs(
    fields: static.StaticFields,
    arrays: _YearArrays,
    era5_nodes: np.ndarray,
    node_lat: np.ndarray,
    node_lon: np.ndarray,
    node_resolution: float,
    dates: pd.DatetimeIndex,
    path: Path,
) -> None:
    """One year of the station model's inputs on the land cells (days, cells, F) to ``path``."""
    assert arrays.modis is not None
    grid = fields.grid
    rows, cols = np.nonzero(fields.land)
    node_rows, node_cols = fitted_target.node_index(
        grid.lat[rows], grid.lon[cols], float(node_lat[0]), float(node_lon[0]), node_resolution, node_lat.size,
        node_lon.size,
    )  # fmt: skip
    statics = {
        "elevation": fields.elevation_m[rows, cols],
        "slope": fields.slope_deg[rows, cols],
        "clay": fields.clay[rows, cols],
        "sand": fields.sand[rows, cols],
    }
    modis = {name: values[:, rows, cols] for name, values in arrays.modis.items()}
    stack = fitted_target.year_features(modis, era5_nodes[:, node_rows, node_cols], statics, dates)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, stack)


def _write_station_model_target(
    params: Params,
    grid: Grid,
    fields: static.StaticFields,
    stations: Stations,
    point_series: dict[str, np.ndarray],
    inputs_dir: Path,
    raw: Path,
    progress: bool,
) -> None:
    """Fit the station model to the ISMN-like stations and write its target from
    ``world.target_start_year`` on (:mod:`helpers.world.fitted_target`); the saved inputs are
    removed afterwards."""
    world = params.world
    assert world is not None
    period = _period_days(params)
    years = [year for year in params.period.years if year >= world.target_start_year]
    year_starts = {year: period.get_loc(pd.Timestamp(year, 1, 1)) for year in years}
    land_index = np.full(grid.shape, -1)
    land_index[fields.land] = np.arange(int(fields.land.sum()))
    table = stations.table.iloc[point_series["sites"]]
    cells = land_index[table["row"].to_numpy(), table["col"].to_numpy()]
    days = period.to_numpy()[:, None]
    recorded = (days >= table["start"].to_numpy("datetime64[ns]")[None, :]) & (
        days <= table["end"].to_numpy("datetime64[ns]")[None, :]
    )
    usable = recorded & (point_series["flags"] == "G") & (cells >= 0)[None, :]
    stacks = {year: np.load(inputs_dir / f"{year}.npy", mmap_mode="r") for year in years}
    rows = fitted_target.station_rows(stacks, year_starts, np.maximum(cells, 0), point_series["values"], usable)
    model = fitted_target.fit_station_model(rows, params.seed, params.training.num_threads)
    log.info("station-model target: XGBoost fitted to %d station-days of %d ISMN-like stations", len(rows),
             int(usable.any(axis=0).sum()))
    land = fields.land
    bar = progress_bar(total=len(years), desc="station-model target", unit="year", disable=not progress)
    for year in years:
        values = fitted_target.apply_station_model(model, np.asarray(stacks[year]))
        target = np.full((values.shape[0], *grid.shape), np.nan, dtype=np.float32)
        target[:, land] = values
        dates = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        for day, date in enumerate(dates.date):
            glass_modis_sm.write(raw / params.sources.glass_modis_sm, date, grid, target[day], world.target_subcells)
        bar.update()
    bar.close()
    del stacks
    shutil.rmtree(inputs_dir)
