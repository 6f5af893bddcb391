"""The analysis-ready datacube: every input on the product grid, daily, gap-free, flagged.

:func:`build_cube` reads each product through its reader in :mod:`helpers.sources`, tile by
tile and year by year so that memory is bounded by ``cube.tile_cells`` whatever the grid
size, and writes one Zarr store (``data/cube.zarr``, consolidated metadata, chunked
``(366 days, chunk_cells, chunk_cells)`` for time-series access). What happens to each input:

* **Albedo** (8-day composites): composites missing for a cell (clouds, snow) are bridged by
  linear interpolation between the neighbouring valid composites; each composite is placed at
  its centre (``acquisition date + 3.5 days``, a choice: the paper does not say) and the
  series is interpolated linearly to daily values.
* **LST** (daily): gaps are bridged by linear interpolation in time; at the ends of the read
  window the nearest valid value is held.
* **ERA5-Land SM**: bilinear interpolation from its nodes to the cell centres (by the reader);
  land cells with no land node around them (small islands, coasts) take the nearest cell's
  series; missing days are interpolated in time, and gaps longer than ``cube.max_gap_days``
  (a truncated year, say) are flagged *era5_long_gap*.
* **Static inputs** (elevation, slope, clay/sand/silt): land cells the source leaves empty take
  the value of the nearest cell that has one, recorded per input in ``static_flag`` and on every
  day in ``gap_flag`` (*static_filled*). A tile whose unmasked land cells a source leaves empty
  altogether is an error (MERIT DEM, for one, ends at 60 deg S).
* **Target** (GLASS-MODIS SM): aggregated by its reader, never filled.
* **Masks** (MCD12C1): a cell is water where at least half its area is IGBP class 0, and
  permanent snow/ice where at least half is class 15; ``mask`` records it.

Every filled value is flagged in ``gap_flag`` (bit masks: see :data:`GAP_FLAGS`). Each year is
read with ``cube.max_gap_days`` of real data from the neighbouring years on either side, so a
gap at New Year is bridged with real values. Gaps longer than ``cube.max_gap_days`` are still
bridged (the models need complete inputs) but flagged as *long*. A cell with no valid value
of an input in the whole window (e.g. an albedo series snow-covered all year) takes the series
of the nearest cell that has one, flagged *from_neighbour*.

The cube records what made it (:func:`cube_settings`: grid, period, sources, cube section and
the inputs' identity) and its digest (:func:`cube_key`, read by the samples and the product,
whose keys include it). :func:`build_cube` rebuilds a cube made with other settings, with a
warning naming them; :func:`open_cube` refuses one.

With ``dask.scheduler_address`` set, each tile is one task on that cluster (:func:`build_tile`:
it reads its sources and writes its own Zarr chunks); otherwise the build runs in this process.
:mod:`helpers.cube.places` finds cells and days in an open cube (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from helpers import keys
from helpers.cube.filling import composites_to_daily, fill_gaps_linear, fill_nearest
from helpers.errors import SourceError, StaleArtefactError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.params import Params
from helpers.progress import progress_bar
from helpers.provenance import global_attributes
from helpers.sources import (
    era5_land,
    glass_albedo,
    glass_lst,
    glass_modis_sm,
    mcd12c1,
    merit_dem,
    soilgrids,
)

log = logging.getLogger(__name__)

STATIC_FEATURES = ("elevation", "slope", "clay", "sand", "silt")
TARGET = "target_sm"
TIME_CHUNK = 366
MASK_FRACTION = 0.5
ALBEDO_CENTRE_DAYS = 3.5
#: Days of albedo composites read on each side of a year (within the period). A gap (polar
#: night, a snowy or cloudy winter) is bridged between the valid composites around it; were
#: each year to read only its own days and a short margin, a gap across 1 January would be
#: held at the last value seen by one year and the first seen by the next, and the input would
#: jump at every new year. Gaps up to this long are bridged the same way from both sides.
ALBEDO_CONTEXT_DAYS = 184
#: Version of the datacube's readers, part of its settings: raise it when a change of the
#: reading or filling changes the values, so that a cube made by the older code is rebuilt.
#: 2: albedo composites read over ALBEDO_CONTEXT_DAYS around each year.
#: 3: readers of the products as their providers ship them (patterns, encodings, coverage checks).
READER_VERSION = 3

#: Bits of ``gap_flag``: which input was filled on that day in that cell.
GAP_FLAGS = {
    "albedo_filled": 1,
    "albedo_long_gap": 2,
    "lst_filled": 4,
    "lst_long_gap": 8,
    "era5_filled": 16,
    "from_neighbour": 32,
    "static_filled": 64,
    "era5_long_gap": 128,
}

#: Bits of ``static_flag``: which static input a cell took from the nearest cell that has one.
STATIC_FLAGS = {"elevation": 1, "slope": 2, "clay": 4, "sand": 8, "silt": 16}

MASK_VALUES = {"land": 0, "water": 1, "permanent_snow_ice": 2}

#: Attributes of the cube holding what made it (canonical JSON) and its digest.
SETTINGS_ATTR = "glass_sm_cube_settings"
KEY_ATTR = "glass_sm_cube_key"

_ATTRS: dict[str, dict[str, str]] = {
    "lst": {
        "long_name": "AVHRR land surface temperature (GLASS), gap-filled",
        "standard_name": "surface_temperature",
        "units": "K",
    },
    "era5_sm": {
        "long_name": "ERA5-Land volumetric soil water layer 1 (0-7 cm)",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "units": "m3 m-3",
    },
    TARGET: {
        "long_name": "GLASS-MODIS surface (0-5 cm) soil moisture aggregated to the grid (training target)",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "units": "m3 m-3",
    },
    "elevation": {"long_name": "mean elevation (MERIT DEM)", "standard_name": "surface_altitude", "units": "m"},
    "slope": {"long_name": "mean terrain slope (from MERIT DEM at native resolution)", "units": "degree"},
    "clay": {"long_name": "clay content 0-5 cm (SoilGrids)", "units": "%"},
    "sand": {"long_name": "sand content 0-5 cm (SoilGrids)", "units": "%"},
    "silt": {"long_name": "silt content 0-5 cm (SoilGrids)", "units": "%"},
    "land_cover": {"long_name": "IGBP land cover, majority class (MODIS MCD12C1)", "units": "1"},
    "water_fraction": {"long_name": "share of the cell that is water (IGBP 0)", "units": "1"},
    "snow_ice_fraction": {"long_name": "share of the cell that is permanent snow and ice (IGBP 15)", "units": "1"},
}


def albedo_variable(band: str) -> str:
    """Cube name of an albedo SDS, e.g. ``ABD_BSA_VIS`` -> ``abd_bsa_vis``."""
    return band.lower()


def dynamic_features(params: Params) -> list[str]:
    """Names of the daily input features in the cube, in the models' order."""
    return [albedo_variable(b) for b in params.sources.albedo_bands] + ["lst", "era5_sm"]


def feature_names(params: Params) -> list[str]:
    """All model input features: daily ones, then static ones."""
    return [*dynamic_features(params), *STATIC_FEATURES]


# Building the cube -----------------------------------------------------------------------


@dataclass
class CubeReport:
    """What the cube build found: valid shares before filling, per input and year."""

    rows: list[dict] = field(default_factory=list)

    def add(self, variable: str, year: int, steps: int, valid: int, days: int, filled: int, long: int) -> None:
        """Record one tile-year: source steps (composites or days) and how many were valid,
        and the daily land cell-days and how many of them were filled (in long gaps)."""
        self.rows.append({"variable": variable, "year": year, "steps": steps, "valid": valid,
                          "land_cell_days": days, "filled": filled, "long_gap_filled": long})

    def table(self) -> pd.DataFrame:
        """Per variable and year: share of source steps valid, share of cell-days filled."""
        columns = ["variable", "year", "land_cell_days", "valid_share", "filled_share", "long_gap_share"]
        if not self.rows:
            return pd.DataFrame(columns=columns)
        df = pd.DataFrame(self.rows).groupby(["variable", "year"], as_index=False).sum()
        steps = df["steps"].where(df["steps"] > 0)
        days = df["land_cell_days"].where(df["land_cell_days"] > 0)
        df["valid_share"] = (df["valid"] / steps).round(4)
        df["filled_share"] = (df["filled"] / days).round(4)
        df["long_gap_share"] = (df["long_gap_filled"] / days).round(4)
        return df[columns]


def _days(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D")


def _template(params: Params, grid: Grid) -> xr.Dataset:
    """Lazy, NaN-filled dataset with the cube's full shape, coordinates and attributes."""
    import dask.array as da

    time = _days(dt.date(params.period.start_year, 1, 1), dt.date(params.period.end_year, 12, 31))
    c = params.cube.chunk_cells
    dyn_chunks = (min(TIME_CHUNK, len(time)), c, c)
    shape3 = (len(time), grid.nlat, grid.nlon)
    data_vars = {}
    for name in [*dynamic_features(params), TARGET]:
        data_vars[name] = (("time", "lat", "lon"), da.full(shape3, np.nan, dtype=np.float32, chunks=dyn_chunks))
    data_vars["gap_flag"] = (("time", "lat", "lon"), da.zeros(shape3, dtype=np.uint8, chunks=dyn_chunks))
    for name in (*STATIC_FEATURES, "water_fraction", "snow_ice_fraction"):
        data_vars[name] = (("lat", "lon"), da.full(grid.shape, np.nan, dtype=np.float32, chunks=(c, c)))
    data_vars["land_cover"] = (("lat", "lon"), da.full(grid.shape, 255, dtype=np.uint8, chunks=(c, c)))
    data_vars["static_flag"] = (("lat", "lon"), da.zeros(grid.shape, dtype=np.uint8, chunks=(c, c)))
    data_vars["mask"] = (("lat", "lon"), da.full(grid.shape, MASK_VALUES["water"], dtype=np.uint8, chunks=(c, c)))
    ds = xr.Dataset(data_vars, coords={"time": time, "lat": grid.lat, "lon": grid.lon})
    ds["lat"].attrs = {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}
    ds["lon"].attrs = {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}
    ds["time"].attrs = {"standard_name": "time", "axis": "T"}
    for name, attrs in _ATTRS.items():
        if name in ds:
            ds[name].attrs = dict(attrs)
    for band in params.sources.albedo_bands:
        ds[albedo_variable(band)].attrs = {
            "long_name": f"AVHRR {band} albedo (GLASS), interpolated from 8-day composites to daily",
            "standard_name": "surface_albedo",
            "units": "1",
        }
    ds["gap_flag"].attrs = {
        "long_name": "inputs filled on this day",
        "flag_masks": np.array(list(GAP_FLAGS.values()), dtype=np.uint8),
        "flag_meanings": " ".join(GAP_FLAGS),
    }
    ds["static_flag"].attrs = {
        "long_name": "static inputs taken from the nearest cell that has one",
        "flag_masks": np.array(list(STATIC_FLAGS.values()), dtype=np.uint8),
        "flag_meanings": " ".join(f"{name}_filled" for name in STATIC_FLAGS),
    }
    ds["mask"].attrs = {
        "long_name": "MCD12C1 mask",
        "flag_values": np.array(list(MASK_VALUES.values()), dtype=np.uint8),
        "flag_meanings": " ".join(MASK_VALUES),
    }
    ds["land_cover"].attrs["flag_values"] = np.arange(17, dtype=np.uint8)
    ds.attrs = global_attributes(
        params,
        title="GLASS-SM analysis-ready input datacube",
        summary="Model inputs and training target on the product grid, daily, gap-filled and flagged.",
        extra={
            "gap_filling": __doc__.split("What happens to each input:")[1].strip(),
            "time_coverage_resolution": "P1D",
        },
    )
    return ds


def _read_static(params: Params, tile: Grid) -> dict[str, np.ndarray]:
    """Land cover, masks and static inputs for one tile (2-D arrays), with ``static_flag``.

    A land cell the static source leaves empty takes the nearest cell's value and its bit of
    :data:`STATIC_FLAGS`; a tile whose unmasked land cells get no value at all from a source
    is an error (nothing near enough to borrow from).
    """
    lc_path = mcd12c1.find_file(params.source_path("mcd12c1"), params.sources.land_cover_year,
                                pattern=params.source_pattern("mcd12c1"))
    lc = mcd12c1.read(lc_path, tile)
    out = {k: lc[k].values for k in ("land_cover", "water_fraction", "snow_ice_fraction")}
    water = out["water_fraction"] >= MASK_FRACTION
    snow = ~water & (out["snow_ice_fraction"] >= MASK_FRACTION)
    out["mask"] = np.where(water, MASK_VALUES["water"], np.where(snow, MASK_VALUES["permanent_snow_ice"], 0))
    land, unmasked = ~water, out["mask"] == MASK_VALUES["land"]
    flags = np.zeros(tile.shape, dtype=np.uint8)
    sources = {"merit_dem": merit_dem.read(params.source_path("merit_dem"), tile,
                                           pattern=params.source_pattern("merit_dem"))}
    sources["soilgrids"] = soilgrids.read(params.source_path("soilgrids"), tile,
                                          pattern=params.source_pattern("soilgrids"))
    for name, product in (("elevation", "merit_dem"), ("slope", "merit_dem"), ("clay", "soilgrids"),
                          ("sand", "soilgrids"), ("silt", "soilgrids")):
        values = sources[product][name].values.astype(np.float32)
        if unmasked.any() and not np.isfinite(values).any():
            raise SourceError(
                params.source_path(product),
                f"{name}: no value for any of the {int(unmasked.sum())} unmasked land cells of tile"
                f" {tile.bbox}, nor near them; expected the source to cover the grid (MERIT DEM ends at"
                " 60 deg S: set grid.bbox's south edge to -60 or provide the missing tiles)",
            )
        values, filled = fill_nearest(values, land)
        flags |= np.where(filled, STATIC_FLAGS[name], 0).astype(np.uint8)
        out[name] = np.where(land, values, np.nan).astype(np.float32)
    out["static_flag"] = flags
    return out


def _check_not_empty(name: str, directory: Path, values: np.ndarray, land: np.ndarray, tile: Grid,
                     year: int) -> None:
    if land.any() and not np.isfinite(values[..., land]).any():
        raise SourceError(
            directory,
            f"{name}: every value is missing over the {int(land.sum())} land cells of tile {tile.bbox}"
            f" in {year}; expected valid data (check the files of that year and their grid)",
        )


@dataclass
class _YearWindow:
    """One tile-year being read: its days with the margins, and what the readers add to."""

    tile: Grid
    year: int
    land: np.ndarray  # cells whose inputs are kept (every non-water cell)
    checked: np.ndarray  # cells whose coverage is counted and checked (unmasked land)
    days: pd.DatetimeIndex  # the year and up to cube.max_gap_days of its neighbours
    keep: np.ndarray  # days of the year itself
    report: CubeReport
    flags: np.ndarray = field(init=False)
    neighbour: np.ndarray = field(init=False)  # cells whose whole window of an input was empty

    def __post_init__(self) -> None:
        self.flags = np.zeros((int(self.keep.sum()), *self.tile.shape), dtype=np.uint8)
        self.neighbour = np.zeros(self.tile.shape, dtype=bool)

    @property
    def day_numbers(self) -> np.ndarray:
        return (self.days - self.days[0]).days.to_numpy().astype(float)

    @property
    def land_cell_days(self) -> int:
        return int(self.checked.sum()) * int(self.keep.sum())

    def flag(self, where: np.ndarray, bit: str) -> None:
        """Set :data:`GAP_FLAGS` ``bit`` on the year's days where ``where`` (window days) holds."""
        self.flags |= np.where(where[self.keep] & self.land, GAP_FLAGS[bit], 0).astype(np.uint8)

    def record(self, name: str, steps: int, valid: int, filled: np.ndarray, long: np.ndarray) -> None:
        """Add one input's counts over the year's unmasked land cell-days to the report."""
        self.report.add(name, self.year, steps, valid, self.land_cell_days,
                        int((filled[self.keep] & self.checked).sum()), int((long[self.keep] & self.checked).sum()))


def _read_year(params: Params, tile: Grid, year: int, mask: np.ndarray, report: CubeReport) -> dict[str, np.ndarray]:
    """Daily inputs and target of one tile and year; returns arrays (n_days, ny, nx).

    Inputs are kept on every non-water cell; coverage is counted and checked on unmasked land.
    """
    margin = params.cube.max_gap_days
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    first, last = dt.date(params.period.start_year, 1, 1), dt.date(params.period.end_year, 12, 31)
    lo = max(start - dt.timedelta(days=margin), first)  # files outside the period need not exist
    hi = min(end + dt.timedelta(days=margin), last)
    days = _days(lo, hi)
    keep = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
    window = _YearWindow(tile, year, mask != MASK_VALUES["water"], mask == MASK_VALUES["land"], days, keep, report)
    out = {**_read_albedo(params, window), **_read_lst(params, window), **_read_era5(params, window)}
    out[TARGET] = _read_target(params, window)
    for name in dynamic_features(params):
        out[name] = np.where(window.land, out[name], np.nan).astype(np.float32)
    window.flags |= np.where(window.neighbour, GAP_FLAGS["from_neighbour"], 0).astype(np.uint8)
    out["gap_flag"] = window.flags
    return out


def _read_albedo(params: Params, window: _YearWindow) -> dict[str, np.ndarray]:
    """Albedo bands: 8-day composites bridged and interpolated to the window's days.

    The composites are read over :data:`ALBEDO_CONTEXT_DAYS` on each side of the year (within
    the period), so that a gap across 1 January is bridged between the same composites in
    both years' windows and the daily series runs on without a step."""
    margin = params.cube.max_gap_days
    directory = params.source_path("glass_albedo")
    first, last = dt.date(params.period.start_year, 1, 1), dt.date(params.period.end_year, 12, 31)
    context = dt.timedelta(days=ALBEDO_CONTEXT_DAYS)
    start = max(dt.date(window.year, 1, 1) - context, first)
    before = first - dt.timedelta(days=16)  # composites just before the period bridge its first days
    if start == first and glass_albedo.find_files(directory, before, first - dt.timedelta(days=1),
                                                  pattern=params.source_pattern("glass_albedo")):
        start = before
    end = min(dt.date(window.year, 12, 31) + context, last)
    albedo = glass_albedo.read(directory, window.tile, start, end, params.sources.albedo_bands,
                               pattern=params.source_pattern("glass_albedo"),
                               encoding=params.source_encoding("glass_albedo"))
    comp_days = ((pd.DatetimeIndex(albedo["time"].values) - window.days[0]).days.to_numpy()
                 + ALBEDO_CENTRE_DAYS).astype(float)
    day_numbers = window.day_numbers
    in_year = (comp_days >= day_numbers[window.keep][0]) & (comp_days <= day_numbers[window.keep][-1] + 1)
    out = {}
    for band in params.sources.albedo_bands:
        comp = albedo[band].values.astype(np.float32)
        _check_not_empty(band, directory, comp, window.checked, window.tile, window.year)
        daily, filled, long = composites_to_daily(comp, comp_days, day_numbers, margin)
        daily, borrowed = fill_nearest(daily, window.land)
        window.neighbour |= borrowed
        name = albedo_variable(band)
        out[name] = daily[window.keep]
        window.flag(filled, "albedo_filled")
        window.flag(long, "albedo_long_gap")
        valid = int(np.isfinite(comp[in_year][:, window.checked]).sum())
        window.record(name, int(in_year.sum()) * int(window.checked.sum()), valid, filled, long)
    return out


def _read_lst(params: Params, window: _YearWindow) -> dict[str, np.ndarray]:
    """LST: daily, gaps bridged in time."""
    directory = params.source_path("glass_lst")
    lst = _on_days(glass_lst.read(directory, window.tile, window.days[0].date(), window.days[-1].date(),
                                  pattern=params.source_pattern("glass_lst"),
                                  encoding=params.source_encoding("glass_lst")), window.days)
    _check_not_empty("LST", directory, lst[window.keep], window.checked, window.tile, window.year)
    filled, was_filled, long = fill_gaps_linear(lst, params.cube.max_gap_days)
    filled, borrowed = fill_nearest(filled, window.land)
    window.neighbour |= borrowed
    window.flag(was_filled, "lst_filled")
    window.flag(long, "lst_long_gap")
    valid = int(np.isfinite(lst[window.keep][:, window.checked]).sum())
    window.record("lst", window.land_cell_days, valid, was_filled, long)
    return {"lst": filled[window.keep]}


def _read_era5(params: Params, window: _YearWindow) -> dict[str, np.ndarray]:
    """ERA5-Land SM: cells without a land node borrow the nearest cell's series, then missing
    days are bridged in time (longer gaps than ``cube.max_gap_days`` flagged long)."""
    directory = params.source_path("era5_land")
    era5 = _on_days(era5_land.read(directory, window.tile, window.days[0].date(), window.days[-1].date(),
                                   pattern=params.source_pattern("era5_land")), window.days)
    _check_not_empty("ERA5-Land swvl1", directory, era5[window.keep], window.checked, window.tile, window.year)
    valid = np.isfinite(era5)
    era5, borrowed = fill_nearest(era5, window.land)
    window.neighbour |= borrowed
    era5, in_time, long = fill_gaps_linear(era5, params.cube.max_gap_days)
    filled = ~valid & np.isfinite(era5)
    long &= filled & in_time
    window.flag(filled, "era5_filled")
    window.flag(long, "era5_long_gap")
    window.record("era5_sm", window.land_cell_days, int(valid[window.keep][:, window.checked].sum()), filled, long)
    return {"era5_sm": era5[window.keep]}


def _read_target(params: Params, window: _YearWindow) -> np.ndarray:
    """The target, aggregated by its reader and never filled; years without files (before
    2000) stay empty."""
    directory = params.source_path("glass_modis_sm")
    start, end = dt.date(window.year, 1, 1), dt.date(window.year, 12, 31)
    pattern = params.source_pattern("glass_modis_sm")
    if glass_modis_sm.find_files(directory, start, end, pattern=pattern):
        target = glass_modis_sm.read(directory, window.tile, start, end,
                                     min_valid_fraction=params.cube.target_min_valid_fraction, pattern=pattern,
                                     encoding=params.source_encoding("glass_modis_sm"))
        values = _on_days(target, window.days[window.keep])
    else:
        values = np.full((int(window.keep.sum()), *window.tile.shape), np.nan, dtype=np.float32)
    valid = int(np.isfinite(values[:, window.checked]).sum())
    window.report.add(TARGET, window.year, window.land_cell_days, valid, window.land_cell_days, 0, 0)
    return values


def _on_days(data: xr.DataArray, days: pd.DatetimeIndex) -> np.ndarray:
    """Values on exactly ``days`` (NaN for days without a file)."""
    data = data.assign_coords(time=pd.DatetimeIndex(data["time"].values).normalize())
    return data.reindex(time=days).values.astype(np.float32)


#: Sources the datacube is made from (``sources.<name>`` folders under the raw folder).
CUBE_SOURCES = ("glass_albedo", "glass_lst", "era5_land", "glass_modis_sm", "mcd12c1", "merit_dem", "soilgrids")


def cube_settings(params: Params) -> dict:
    """What the datacube's values and layout depend on (its key, :mod:`helpers.keys`).

    The readers' version, the grid, period, ``sources`` and ``cube`` sections, and the inputs: on the twin world the
    digest of the world's settings (:func:`helpers.world.world_settings`: the world is rebuilt
    whenever they change, so its files are what they say); on real data an inventory of the
    source files (their paths under the raw folder and sizes), so that a file added, removed
    or replaced is seen.
    """
    if params.world is not None:
        from helpers.world import world_settings  # the world's settings only, never its truth

        inputs = {"world": keys.digest(world_settings(params))}
    else:
        inputs = {"files": keys.digest({name: _inventory(params.source_path(name)) for name in CUBE_SOURCES})}
    return {
        "readers": READER_VERSION,
        "grid": params.grid.model_dump(mode="json"),
        "period": params.period.model_dump(mode="json"),
        "sources": params.sources.model_dump(mode="json"),
        "cube": params.cube.model_dump(mode="json"),
        "inputs": inputs,
        "gap_flags": GAP_FLAGS,
    }


def _inventory(path: Path) -> list[tuple[str, int]]:
    """(relative path, size) of every file under ``path`` (a file or a folder), sorted."""
    if path.is_file():
        return [(path.name, path.stat().st_size)]
    if not path.is_dir():
        return []
    return sorted((str(f.relative_to(path)), f.stat().st_size) for f in path.rglob("*") if f.is_file())


def stored_cube_settings(path: Path) -> dict | None:
    """The settings recorded in an existing cube (None when it has none or cannot be read)."""
    try:
        text = zarr.open_group(path, mode="r", zarr_format=2).attrs.get(SETTINGS_ATTR)
    except (OSError, ValueError, KeyError, zarr.errors.GroupNotFoundError):
        return None
    return json.loads(text) if isinstance(text, str) else None


def build_cube(params: Params, progress: bool = True, overwrite: bool = False) -> tuple[Path, pd.DataFrame]:
    """Build ``data/cube.zarr`` for ``params``; return its path and the coverage table.

    The store is written under a temporary name and moved into place when complete. An
    existing cube is kept when it was made with the same :func:`cube_settings` (unless
    ``overwrite``), and rebuilt with a warning naming what changed when not.
    """
    path = params.cube_path
    wanted = cube_settings(params)
    if path.exists() and not overwrite:
        changed = keys.differences(stored_cube_settings(path), wanted)
        if not changed:
            log.info("cube exists: %s (pass overwrite=True to rebuild)", path)
            return path, read_coverage(params)
        log.warning("rebuilding %s: it was made with other settings (%s)", path, "; ".join(changed))
    grid = params.to_grid()
    template = _template(params, grid)
    template.attrs[SETTINGS_ATTR] = keys.canonical(wanted)
    template.attrs[KEY_ATTR] = keys.digest(wanted)
    report = CubeReport()
    tiles = list(grid.tiles(params.cube.tile_cells))
    years = params.period.years
    bar = progress_bar(total=len(tiles) * (len(years) + 1), desc="cube", unit="tile-year", disable=not progress)
    with atomic_path(path) as tmp:
        template.to_zarr(tmp, compute=False, zarr_format=2, consolidated=True)
        year_starts = {year: int(pd.DatetimeIndex(template["time"].values).get_loc(pd.Timestamp(year, 1, 1)))
                       for year in years}
        if params.dask.scheduler_address is None:
            for rows, cols, tile in tiles:
                report.rows += build_tile(params, tmp, rows, cols, tile, year_starts, bar.update)
        else:
            report.rows += _build_tiles_on_cluster(params, tmp, tiles, year_starts, bar)
        coverage = report.table()
        coverage.to_csv(tmp / "coverage.csv", index=False)
    bar.close()
    return path, coverage


def build_tile(params: Params, store: Path, rows: slice, cols: slice, tile: Grid, year_starts: dict[int, int],
               advance: Callable[[int], object] | None = None) -> list[dict]:
    """Read one tile's static inputs and every year, write them into ``store``; return its report rows.

    One task of a cluster build: tiles own whole Zarr chunks (``cube.tile_cells`` is a multiple
    of ``cube.chunk_cells``), so tiles written at once by several workers never share a chunk.
    ``advance(n)`` is told of each finished step (the static read, then each year).
    """
    advance = advance or (lambda n=1: None)
    report = CubeReport()
    static = _read_static(params, tile)
    _write_region(store, {k: (("lat", "lon"), v) for k, v in static.items()}, {"lat": rows, "lon": cols})
    advance(1)
    years = params.period.years
    if (static["mask"] == MASK_VALUES["water"]).all():
        advance(len(years))
        return report.rows
    static_filled = np.where(static["static_flag"] > 0, GAP_FLAGS["static_filled"], 0).astype(np.uint8)
    for year in years:
        values = _read_year(params, tile, year, static["mask"], report)
        values["gap_flag"] |= static_filled
        t0 = year_starts[year]
        times = slice(t0, t0 + values["gap_flag"].shape[0])
        _write_region(store, {k: (("time", "lat", "lon"), v) for k, v in values.items()},
                      {"time": times, "lat": rows, "lon": cols})
        advance(1)
    return report.rows


def _build_tiles_on_cluster(params: Params, store: Path, tiles: list, year_starts: dict[int, int], bar) -> list[dict]:
    """Every tile as one task on the dask-distributed cluster at ``dask.scheduler_address``.

    The workers read the source files and write the store themselves, so both must lie on a
    file system every worker sees under the same paths (as on an HPC cluster's shared disk).
    """
    from distributed import as_completed

    from helpers.production.run import cluster_client

    rows_out: list[dict] = []
    per_tile = len(params.period.years) + 1
    with cluster_client(params.dask) as client:
        futures = [client.submit(build_tile, params, store, rows, cols, tile, year_starts, pure=False)
                   for rows, cols, tile in tiles]
        for future in as_completed(futures):
            rows_out += future.result()
            bar.update(per_tile)
    return rows_out


def _write_region(store: Path, variables: dict[str, tuple[tuple[str, ...], np.ndarray]],
                  region: dict[str, slice]) -> None:
    xr.Dataset(variables).to_zarr(store, region=region, zarr_format=2)


def read_coverage(params: Params) -> pd.DataFrame:
    """The coverage table written with the cube."""
    return pd.read_csv(params.cube_path / "coverage.csv")


def open_cube(params: Params) -> xr.Dataset:
    """Open the datacube lazily (dask-backed); refuse one made with other settings.

    Raises
    ------
    FileNotFoundError
        Without a cube.
    helpers.errors.StaleArtefactError
        When the cube was made with other :func:`cube_settings` than ``params`` give (it
        names what changed; notebook 00 rebuilds it).
    """
    path = params.cube_path
    if not path.exists():
        raise FileNotFoundError(f"{path}: no datacube; run notebook 00 (helpers.cube.build_cube)")
    changed = keys.differences(stored_cube_settings(path), cube_settings(params))
    if changed:
        raise StaleArtefactError(
            f"{path}: made with other settings ({'; '.join(changed)}); run notebook 00 to rebuild it"
        )
    return xr.open_zarr(path, consolidated=True)


def cube_key(ds: xr.Dataset) -> str | None:
    """The key (settings digest) of an open datacube, for the artefacts made from it."""
    return ds.attrs.get(KEY_ATTR)


# Places in a cube: re-exported from helpers.cube.places (notebooks call them as cube.*); imported
# last because places reads this module's MASK_VALUES and TARGET.
from helpers.cube.places import day_in_cube, nearest_land_cells, series_at, sites_in_cube  # noqa: E402, F401
