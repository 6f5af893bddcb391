"""A target made the way GLASS-MODIS SM is made (``world.target_method: station_model``).

The real training target is itself a machine-learning product: GLASS-MODIS SM (Zhang et al.
2023) is an XGBoost model fitted to in-situ soil moisture from MODIS optical and thermal
inputs, ERA5-Land SM and static terrain and soil inputs, then applied to every pixel from 2000
on. A model trained on it may learn that model rather than the soil moisture. So that this can
be measured, the twin world can make its target the same way:

1. **MODIS-like inputs** of the truth (:func:`modis_like_inputs`), daily and gap-free (the
   GLASS MODIS products are gap-filled): LST with 0.5 K retrieval noise (AVHRR-like: 1 K, with
   cloud gaps), black-sky visible and near-infrared albedo with half the AVHRR-like retrieval
   noise and one platform (no NOAA calibration steps), and a vegetation index (the green
   fraction plus N(0, 0.02)). The same observation operators as the AVHRR-like inputs
   (:mod:`helpers.world.observe`), drawn from their own random stream.
2. **ERA5-like SM** at each cell: the ERA5-like value of the node whose box holds the cell.
3. **Static inputs**: elevation, slope, clay and sand of the cell, and the day of year.
4. **Fitted** (:func:`fit_station_model`): XGBoost regression of the ISMN-like point stations'
   daily values (flag ``G``, days of the station's record period from
   ``world.target_start_year`` on) on those inputs at the station's cell. The stations carry
   their representativeness offsets and gains, noise and frozen-soil readings (flagged, so
   left out), as real stations do.
5. **Applied** to every land cell and day from ``world.target_start_year`` and clipped to
   [0.01, 0.6] m3 m-3 (:func:`apply_station_model`).

What the fitted target gets wrong is therefore a smooth function of its inputs, shared with
the AVHRR-era model's inputs (ERA5-like SM, terrain, soil; LST and albedo of the same surface),
rather than the smoothed truth's independent noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost

from helpers.world import observe

#: Inputs of the station model, in order.
FEATURES = (
    "modis_lst", "modis_albedo_vis", "modis_albedo_nir", "modis_vegetation", "era5_sm",
    "elevation", "slope", "clay", "sand", "day_of_year",
)  # fmt: skip
MODIS_LST_NOISE_K = 0.5
MODIS_ALBEDO_NOISE_SCALE = 0.5
VEGETATION_INDEX_NOISE = 0.02
TARGET_RANGE = (0.01, observe.ISMN_PLAUSIBLE_MAX)
#: XGBoost settings of the station model.
XGBOOST_SETTINGS = {
    "n_estimators": 400,
    "max_depth": 6,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "tree_method": "hist",
}


def modis_like_inputs(
    sm: np.ndarray,
    vegetation: np.ndarray,
    swe_mm: np.ndarray,
    tair_c: np.ndarray,
    shortwave_wm2: np.ndarray,
    sand: np.ndarray,
    porosity: np.ndarray,
    dates: pd.DatetimeIndex,
    rng: np.random.Generator,
    calibration_seed: int,
) -> dict[str, np.ndarray]:
    """Daily, gap-free MODIS-like LST (K), albedo and vegetation index of one tile's pixels.

    Arrays (n_days, n_pixels) of the truth (see :mod:`helpers.world.hydrology`); returns
    ``{"modis_lst", "modis_albedo_vis", "modis_albedo_nir", "modis_vegetation"}`` float32.
    """
    clear = np.ones(np.shape(sm), dtype=bool)
    lst = observe.lst_like(sm, tair_c, shortwave_wm2, vegetation, porosity, clear, rng, noise_k=MODIS_LST_NOISE_K)
    albedo = observe.albedo_daily(
        sm, vegetation, swe_mm, sand, dates, [], rng, calibration_seed=calibration_seed,
        noise_scale=MODIS_ALBEDO_NOISE_SCALE,
    )  # fmt: skip
    index = vegetation + VEGETATION_INDEX_NOISE * rng.standard_normal(np.shape(vegetation), dtype=np.float32)
    return {
        "modis_lst": lst.astype(np.float32),
        "modis_albedo_vis": albedo["ABD_BSA_VIS"],
        "modis_albedo_nir": albedo["ABD_BSA_NIR"],
        "modis_vegetation": np.clip(index, 0.0, 1.0).astype(np.float32),
    }


def node_index(lat: np.ndarray, lon: np.ndarray, north: float, west: float, resolution: float,
               n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Row and column of the node (latitudes ``north - i res``, longitudes ``west + j res``) whose
    box of half a spacing around it holds each point (the longitude wraps)."""
    rows = np.clip(np.rint((north - np.asarray(lat)) / resolution).astype(int), 0, n_lat - 1)
    cols = np.rint((np.asarray(lon) - west) / resolution).astype(int) % n_lon
    return rows, cols


def year_features(
    modis: dict[str, np.ndarray],
    era5_cells: np.ndarray,
    statics: dict[str, np.ndarray],
    dates: pd.DatetimeIndex,
) -> np.ndarray:
    """The station model's inputs (:data:`FEATURES`) for one year of land cells: (days, cells, F).

    ``modis`` and ``era5_cells``: (days, cells); ``statics``: ``elevation, slope, clay, sand``
    of the cells."""
    n_days, n_cells = era5_cells.shape
    stack = np.empty((n_days, n_cells, len(FEATURES)), dtype=np.float32)
    for k, name in enumerate(FEATURES):
        if name in modis:
            stack[..., k] = modis[name]
        elif name == "era5_sm":
            stack[..., k] = era5_cells
        elif name == "day_of_year":
            stack[..., k] = np.asarray(dates.day_of_year, dtype=np.float32)[:, None]
        else:
            stack[..., k] = statics[name][None, :]
    return stack


@dataclass
class StationRows:
    """Training rows of the station model: inputs at the stations' cells and their daily values."""

    features: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


def station_rows(
    features_by_year: dict[int, np.ndarray],
    year_starts: dict[int, int],
    station_cells: np.ndarray,
    values: np.ndarray,
    usable: np.ndarray,
) -> StationRows:
    """Rows (station, day) whose value is usable, with the inputs of the station's cell.

    ``features_by_year[year]``: (days, land cells, F); ``year_starts[year]``: index of the year's
    first day in the period; ``station_cells``: land-cell index per station; ``values`` and
    ``usable``: (period days, stations).
    """
    parts_x, parts_y = [], []
    for year, stack in features_by_year.items():
        days = slice(year_starts[year], year_starts[year] + stack.shape[0])
        keep = usable[days] & np.isfinite(values[days])
        day_index, station_index = np.nonzero(keep)
        parts_x.append(stack[day_index, station_cells[station_index]])
        parts_y.append(values[days][day_index, station_index])
    if not parts_x or sum(len(part) for part in parts_y) == 0:
        raise ValueError(
            "world.target_method station_model: no usable ISMN-like station day from"
            " world.target_start_year on; add stations (world.ismn_stations) or years"
        )
    return StationRows(np.concatenate(parts_x), np.concatenate(parts_y).astype(np.float32))


def fit_station_model(rows: StationRows, seed: int, threads: int) -> xgboost.XGBRegressor:
    """XGBoost (:data:`XGBOOST_SETTINGS`) fitted to the station rows (squared error)."""
    model = xgboost.XGBRegressor(**XGBOOST_SETTINGS, random_state=seed, n_jobs=threads)
    model.fit(rows.features, rows.values)
    return model


def apply_station_model(model: xgboost.XGBRegressor, stack: np.ndarray) -> np.ndarray:
    """The station model on one year of land cells (days, cells, F), clipped to
    :data:`TARGET_RANGE`: (days, cells) float32."""
    n_days, n_cells, n_features = stack.shape
    values = model.predict(stack.reshape(-1, n_features)).reshape(n_days, n_cells)
    return np.clip(values, *TARGET_RANGE).astype(np.float32)
