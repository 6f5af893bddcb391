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
  series; missing days are interpolated in time.
* **Static inputs** (elevation, slope, clay/sand/silt): land cells the source leaves empty take
  the value of the nearest cell that has one.
* **Target** (GLASS-MODIS SM): aggregated by its reader, never filled.
* **Masks** (MCD12C1): a cell is water where at least half its area is IGBP class 0, and
  permanent snow/ice where at least half is class 15; ``mask`` records it.

Every filled value is flagged in ``gap_flag`` (bit masks: see :data:`GAP_FLAGS`). Each year is
read with ``cube.max_gap_days`` of real data from the neighbouring years on either side, so a
gap at New Year is bridged with real values. Gaps longer than ``cube.max_gap_days`` are still
bridged (the models need complete inputs) but flagged as *long*. A cell with no valid value
of an input in the whole window (e.g. an albedo series snow-covered all year) takes the series
of the nearest cell that has one, flagged *from_neighbour*.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage
from tqdm.auto import tqdm

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.params import Params
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

#: Bits of ``gap_flag``: which input was filled on that day in that cell.
GAP_FLAGS = {
    "albedo_filled": 1,
    "albedo_long_gap": 2,
    "lst_filled": 4,
    "lst_long_gap": 8,
    "era5_filled": 16,
    "from_neighbour": 32,
}

MASK_VALUES = {"land": 0, "water": 1, "permanent_snow_ice": 2}

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


# Gap filling ------------------------------------------------------------------------------


def fill_gaps_linear(values: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill NaN gaps along axis 0 by linear interpolation between the nearest valid values.

    For a gap between valid values at steps ``p < t < n``:
    ``x_t = x_p + (x_n - x_p) * (t - p) / (n - p)``; before the first or after the last valid
    value the nearest valid value is held. Series without any valid value stay NaN.

    Parameters
    ----------
    values : array (n_steps, ...)
    max_gap : gaps of more than ``max_gap`` steps (or open-ended ones longer than that) are
        reported in ``long_gap``.

    Returns
    -------
    filled, was_filled, long_gap : arrays shaped like ``values`` (the last two boolean).
    """
    n = values.shape[0]
    flat = values.reshape(n, -1)
    valid_all = np.isfinite(flat)
    filled = flat.copy()
    was_filled = np.zeros(flat.shape, dtype=bool)
    long_gap = np.zeros(flat.shape, dtype=bool)
    # Only series with both gaps and data need work (complete or empty ones stay as they are).
    todo = np.flatnonzero(valid_all.any(axis=0) & ~valid_all.all(axis=0))
    if todo.size:
        part, part_filled, part_long = _fill_columns(flat[:, todo], valid_all[:, todo], max_gap)
        filled[:, todo], was_filled[:, todo], long_gap[:, todo] = part, part_filled, part_long
    shape = values.shape
    return filled.reshape(shape).astype(values.dtype), was_filled.reshape(shape), long_gap.reshape(shape)


def _fill_columns(flat: np.ndarray, valid: np.ndarray, max_gap: int) -> tuple[np.ndarray, ...]:
    """:func:`fill_gaps_linear` on (n_steps, n_series) columns that each hold some data."""
    n = flat.shape[0]
    steps = np.arange(n, dtype=np.int32)[:, None]
    prev = np.maximum.accumulate(np.where(valid, steps, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, steps, n)[::-1], axis=0)[::-1]
    has_prev, has_next = prev >= 0, nxt < n
    x_prev = np.take_along_axis(flat, np.clip(prev, 0, n - 1), axis=0)
    x_next = np.take_along_axis(flat, np.clip(nxt, 0, n - 1), axis=0)
    span = np.maximum(nxt - prev, 1)
    weight = np.where(has_prev & has_next, (steps - prev) / span, 0.0).astype(flat.dtype)
    inner = x_prev + (x_next - x_prev) * weight
    filled = np.where(valid, flat, np.where(has_prev, np.where(has_next, inner, x_prev), x_next))
    was_filled = ~valid
    gap_length = np.where(has_prev, np.where(has_next, nxt - prev - 1, n - 1 - prev), nxt)
    return filled, was_filled, was_filled & (gap_length > max_gap)



def composites_to_daily(
    composites: np.ndarray,
    composite_days: np.ndarray,
    days: np.ndarray,
    max_gap_days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate composites (n_comp, ...) placed at ``composite_days`` to daily ``days``.

    Missing composites are first bridged by :func:`fill_gaps_linear` (a gap is long if it
    spans more than ``max_gap_days``); a day is flagged filled (long) if a composite it is
    interpolated from was filled (long). Days outside the composites hold the nearest one.
    """
    spacing = max(float(np.median(np.diff(composite_days))) if len(composite_days) > 1 else 8.0, 1.0)
    n_comp, shape = composites.shape[0], composites.shape[1:]
    flat = composites.reshape(n_comp, -1)
    active = np.flatnonzero(np.isfinite(flat).any(axis=0))  # series without any value stay NaN
    filled, was_filled, long_gap = fill_gaps_linear(flat[:, active], max(int(max_gap_days // spacing), 0))
    upper = np.clip(np.searchsorted(composite_days, days, side="right"), 1, max(n_comp - 1, 1))
    lower = upper - 1
    if n_comp == 1:
        upper = lower = np.zeros_like(days, dtype=int)
        weight = np.zeros(len(days), dtype=np.float32)
    else:
        gap = composite_days[upper] - composite_days[lower]
        weight = np.clip((days - composite_days[lower]) / gap, 0.0, 1.0).astype(np.float32)
    daily = np.full((len(days), flat.shape[1]), np.nan, dtype=np.float32)
    flag = np.zeros(daily.shape, dtype=bool)
    long_flag = np.zeros(daily.shape, dtype=bool)
    daily[:, active] = filled[lower] * (1 - weight[:, None]) + filled[upper] * weight[:, None]
    flag[:, active] = was_filled[lower] | was_filled[upper]
    long_flag[:, active] = long_gap[lower] | long_gap[upper]
    out_shape = (len(days), *shape)
    return daily.reshape(out_shape), flag.reshape(out_shape), long_flag.reshape(out_shape)


def fill_nearest(field2d: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN cells of ``field2d`` inside ``where`` with the nearest finite cell's value.

    Returns the filled field and the boolean map of filled cells. Works on (..., ny, nx)
    arrays whose NaN pattern is the same along the leading axes.
    """
    invalid = ~np.isfinite(field2d.reshape(-1, *field2d.shape[-2:])).any(axis=0)
    todo = invalid & where
    if not todo.any() or invalid.all():
        return field2d, np.zeros(field2d.shape[-2:], dtype=bool)
    _, (iy, ix) = ndimage.distance_transform_edt(invalid, return_indices=True)
    out = field2d.copy()
    out[..., todo] = field2d[..., iy[todo], ix[todo]]
    return out, todo


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
    """Land cover, masks and static inputs for one tile (2-D arrays)."""
    lc_path = mcd12c1.find_file(params.source_path("mcd12c1"), params.sources.land_cover_year)
    lc = mcd12c1.read(lc_path, tile)
    out = {k: lc[k].values for k in ("land_cover", "water_fraction", "snow_ice_fraction")}
    water = out["water_fraction"] >= MASK_FRACTION
    snow = ~water & (out["snow_ice_fraction"] >= MASK_FRACTION)
    out["mask"] = np.where(water, MASK_VALUES["water"], np.where(snow, MASK_VALUES["permanent_snow_ice"], 0))
    land = ~water
    dem = merit_dem.read(params.source_path("merit_dem"), tile)
    soil = soilgrids.read(params.source_path("soilgrids"), tile)
    for name, source in (("elevation", dem), ("slope", dem), ("clay", soil), ("sand", soil), ("silt", soil)):
        values = source[name].values.astype(np.float32)
        values, _ = fill_nearest(values, land)
        out[name] = np.where(land, values, np.nan).astype(np.float32)
    return out


def _check_not_empty(name: str, directory: Path, values: np.ndarray, land: np.ndarray, tile: Grid,
                     year: int) -> None:
    if land.any() and not np.isfinite(values[..., land]).any():
        raise SourceError(
            directory,
            f"{name}: every value is missing over the {int(land.sum())} land cells of tile {tile.bbox}"
            f" in {year}; expected valid data (check the files of that year and their grid)",
        )


def _read_year(params: Params, tile: Grid, year: int, mask: np.ndarray, report: CubeReport) -> dict[str, np.ndarray]:
    """Daily inputs and target of one tile and year; returns arrays (n_days, ny, nx).

    Inputs are kept on every non-water cell; coverage is counted and checked on unmasked land.
    """
    land = mask != MASK_VALUES["water"]
    checked = mask == MASK_VALUES["land"]
    margin = params.cube.max_gap_days
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    lo, hi = start - dt.timedelta(days=margin), end + dt.timedelta(days=margin)
    first, last = dt.date(params.period.start_year, 1, 1), dt.date(params.period.end_year, 12, 31)
    lo, hi = max(lo, first), min(hi, last)  # files outside the period need not exist
    window_days = _days(lo, hi)
    keep = (window_days >= pd.Timestamp(start)) & (window_days <= pd.Timestamp(end))
    day_numbers = (window_days - window_days[0]).days.to_numpy().astype(float)
    flags = np.zeros((int(keep.sum()), *tile.shape), dtype=np.uint8)
    neighbour = np.zeros(tile.shape, dtype=bool)  # cells whose whole window was empty
    out: dict[str, np.ndarray] = {}
    n_land = int(checked.sum()) * int(keep.sum())

    # Albedo: composites -> daily.
    albedo_dir = params.source_path("glass_albedo")
    albedo = glass_albedo.read(albedo_dir, tile, lo - dt.timedelta(days=16), hi, params.sources.albedo_bands)
    comp_days = ((pd.DatetimeIndex(albedo["time"].values) - window_days[0]).days.to_numpy()
                 + ALBEDO_CENTRE_DAYS).astype(float)
    for band in params.sources.albedo_bands:
        comp = albedo[band].values.astype(np.float32)
        _check_not_empty(band, albedo_dir, comp, checked, tile, year)
        daily, filled, long = composites_to_daily(comp, comp_days, day_numbers, margin)
        daily, borrowed = fill_nearest(daily, land)
        neighbour |= borrowed
        name = albedo_variable(band)
        out[name] = daily[keep]
        flags |= np.where(filled[keep] & land, GAP_FLAGS["albedo_filled"], 0).astype(np.uint8)
        flags |= np.where(long[keep] & land, GAP_FLAGS["albedo_long_gap"], 0).astype(np.uint8)
        in_year = (comp_days >= day_numbers[keep][0]) & (comp_days <= day_numbers[keep][-1] + 1)
        report.add(name, year, int(in_year.sum()) * int(checked.sum()),
                   int(np.isfinite(comp[in_year][:, checked]).sum()), n_land,
                   int((filled[keep] & checked).sum()), int((long[keep] & checked).sum()))

    # LST: daily with gaps.
    lst_dir = params.source_path("glass_lst")
    lst = _on_days(glass_lst.read(lst_dir, tile, lo, hi), window_days)
    _check_not_empty("LST", lst_dir, lst[keep], checked, tile, year)
    filled_lst, was_filled, long = fill_gaps_linear(lst, margin)
    filled_lst, borrowed = fill_nearest(filled_lst, land)
    neighbour |= borrowed
    out["lst"] = filled_lst[keep]
    flags |= np.where(was_filled[keep] & land, GAP_FLAGS["lst_filled"], 0).astype(np.uint8)
    flags |= np.where(long[keep] & land, GAP_FLAGS["lst_long_gap"], 0).astype(np.uint8)
    report.add("lst", year, n_land, int(np.isfinite(lst[keep][:, checked]).sum()), n_land,
               int((was_filled[keep] & checked).sum()), int((long[keep] & checked).sum()))

    # ERA5-Land: spatial then temporal filling.
    era5_dir = params.source_path("era5_land")
    era5 = _on_days(era5_land.read(era5_dir, tile, lo, hi), window_days)
    _check_not_empty("ERA5-Land swvl1", era5_dir, era5[keep], checked, tile, year)
    era5_valid = np.isfinite(era5)
    era5, borrowed = fill_nearest(era5, land)
    neighbour |= borrowed
    era5, _, _ = fill_gaps_linear(era5, margin)
    era5_filled = (~era5_valid & np.isfinite(era5))[keep] & land
    out["era5_sm"] = era5[keep]
    flags |= np.where(era5_filled, GAP_FLAGS["era5_filled"], 0).astype(np.uint8)
    report.add("era5_sm", year, n_land, int(era5_valid[keep][:, checked].sum()), n_land,
               int((era5_filled & checked).sum()), 0)

    # Target: aggregated, never filled; years without files (before 2000) stay empty.
    target_dir = params.source_path("glass_modis_sm")
    if glass_modis_sm.find_files(target_dir, start, end):
        target = glass_modis_sm.read(target_dir, tile, start, end,
                                     min_valid_fraction=params.cube.target_min_valid_fraction)
        out[TARGET] = _on_days(target, window_days[keep])
    else:
        out[TARGET] = np.full((int(keep.sum()), *tile.shape), np.nan, dtype=np.float32)
    report.add(TARGET, year, n_land, int(np.isfinite(out[TARGET][:, checked]).sum()), n_land, 0, 0)

    for name in dynamic_features(params):
        out[name] = np.where(land, out[name], np.nan).astype(np.float32)
    flags |= np.where(neighbour, GAP_FLAGS["from_neighbour"], 0).astype(np.uint8)
    out["gap_flag"] = flags
    return out


def _on_days(data: xr.DataArray, days: pd.DatetimeIndex) -> np.ndarray:
    """Values on exactly ``days`` (NaN for days without a file)."""
    data = data.assign_coords(time=pd.DatetimeIndex(data["time"].values).normalize())
    return data.reindex(time=days).values.astype(np.float32)


def build_cube(params: Params, progress: bool = True, overwrite: bool = False) -> tuple[Path, pd.DataFrame]:
    """Build ``data/cube.zarr`` for ``params``; return its path and the coverage table.

    The store is written under a temporary name and moved into place when complete; an
    existing cube is kept unless ``overwrite``.
    """
    path = params.cube_path
    if path.exists() and not overwrite:
        log.info("cube exists: %s (pass overwrite=True to rebuild)", path)
        return path, read_coverage(params)
    grid = params.to_grid()
    template = _template(params, grid)
    report = CubeReport()
    tiles = list(grid.tiles(params.cube.tile_cells))
    years = params.period.years
    bar = tqdm(total=len(tiles) * (len(years) + 1), desc="cube", unit="tile-year", disable=not progress)
    with atomic_path(path) as tmp:
        template.to_zarr(tmp, compute=False, zarr_format=2, consolidated=True)
        time_index = pd.DatetimeIndex(template["time"].values)
        for rows, cols, tile in tiles:
            static = _read_static(params, tile)
            _write_region(tmp, {k: (("lat", "lon"), v) for k, v in static.items()},
                          {"lat": rows, "lon": cols})
            bar.update()
            if (static["mask"] == MASK_VALUES["water"]).all():
                bar.update(len(years))
                continue
            for year in years:
                values = _read_year(params, tile, year, static["mask"], report)
                t0 = time_index.get_loc(pd.Timestamp(year, 1, 1))
                times = slice(t0, t0 + values["gap_flag"].shape[0])
                _write_region(tmp, {k: (("time", "lat", "lon"), v) for k, v in values.items()},
                              {"time": times, "lat": rows, "lon": cols})
                bar.update()
        coverage = report.table()
        coverage.to_csv(tmp / "coverage.csv", index=False)
    bar.close()
    return path, coverage


def _write_region(store: Path, variables: dict[str, tuple[tuple[str, ...], np.ndarray]],
                  region: dict[str, slice]) -> None:
    xr.Dataset(variables).to_zarr(store, region=region, zarr_format=2)


def read_coverage(params: Params) -> pd.DataFrame:
    """The coverage table written with the cube."""
    return pd.read_csv(params.cube_path / "coverage.csv")


def open_cube(params: Params) -> xr.Dataset:
    """Open the datacube lazily (dask-backed)."""
    if not params.cube_path.exists():
        raise FileNotFoundError(f"{params.cube_path}: no datacube; run notebook 00 (helpers.cube.build_cube)")
    return xr.open_zarr(params.cube_path, consolidated=True)



def nearest_land_cells(ds: xr.Dataset, sites: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """For named (lat, lon) points, the centre of the nearest unmasked land cell of the cube."""
    land = (ds["mask"] == MASK_VALUES["land"]).values
    rows, cols = np.nonzero(land)
    if rows.size == 0:
        raise ValueError("the cube has no unmasked land cell")
    lat, lon = ds["lat"].values[rows], ds["lon"].values[cols]
    out = {}
    for name, (site_lat, site_lon) in sites.items():
        distance = (lat - site_lat) ** 2 + ((lon - site_lon) * np.cos(np.radians(site_lat))) ** 2
        k = int(np.argmin(distance))
        out[name] = (float(lat[k]), float(lon[k]))
    return out


def series_at(ds: xr.Dataset, cells: dict[str, tuple[float, float]], variables: list[str]) -> dict[str, pd.DataFrame]:
    """Daily series of ``variables`` at cell centres: one DataFrame (time x variable) per cell."""
    return {
        name: ds[variables].sel(lat=lat, lon=lon, method="nearest").to_dataframe()[variables]
        for name, (lat, lon) in cells.items()
    }
