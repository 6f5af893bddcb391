"""The product's Zarr store: its variables and CF attributes, flags, key and opening.

The store is built as ``data/product.zarr.partial`` (:data:`PARTIAL_SUFFIX`) from the lazy
:func:`template` and renamed when every unit is written (:mod:`helpers.production.run`). Its
attribute :data:`PRODUCT_SETTINGS_ATTR` holds :func:`product_settings`, the key that decides
whether a store on disk can be reused or resumed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch
import xarray as xr
from scipy import stats

from helpers import keys
from helpers.cube import MASK_VALUES, cube_key
from helpers.models import SequenceModel
from helpers.params import Params
from helpers.production.apply import SM_MAX, Applied
from helpers.production.files import product_path
from helpers.provenance import global_attributes

#: Bits of ``sm_flag``.
FLAG_BITS = {
    "water": 1,
    "permanent_snow_ice": 2,
    "frozen_suspected": 4,
    "input_gap_filled": 8,
    "input_missing": 16,
}
FROZEN_LST_K = 273.15
#: Days per Zarr chunk along time.
TIME_CHUNK = 92
PARTIAL_SUFFIX = ".partial"
#: Global attribute holding :func:`product_settings` (JSON).
PRODUCT_SETTINGS_ATTR = "glass_sm_product_settings"
#: Stated coverage of ``sm_lower`` .. ``sm_upper`` when no calibration record gives one.
DEFAULT_LEVEL = 0.9
#: The product's variables, in the order they are written.
VARIABLES = ("sm", "sm_uncertainty", "sm_lower", "sm_upper", "sm_flag")


def interval_level(applied: Applied) -> tuple[float, float]:
    """Stated coverage and its standard-normal quantile ``z`` of ``sm_lower`` .. ``sm_upper``."""
    level = float(applied.calibration.get("level", DEFAULT_LEVEL))
    return level, float(applied.calibration.get("z", stats.norm.ppf((1 + level) / 2)))


def uncertainty_comment(applied: Applied, params: Params) -> str:
    """What ``sm_uncertainty`` is, in words, for its CF ``comment``."""
    if applied.spread_method == "spread_head":
        spread = "spread head (the model's error spread learned by Gaussian likelihood on train-split residuals)"
    else:
        spread = (
            f"Monte-Carlo-dropout spread ({params.production.mc_passes} passes; exact for a dropout-linear head)"
        )
    if applied.calibrated:
        calibration = (
            f"calibrated: x {applied.uncertainty_factor:.4g}, the factor that puts"
            f" {applied.calibration['level']:.0%} of the validation-split targets inside sm +-"
            f" {applied.calibration['z']:.3f} sm_uncertainty; test-split coverage"
            f" {applied.calibration['coverage_test']:.3f}"
        )
    else:
        calibration = "NOT calibrated (factor 1): no calibration record matches this model and spread"
    return f"{spread}; {calibration}; NaN where not available"


def template(ds: xr.Dataset, params: Params, times: pd.DatetimeIndex, applied: Applied) -> xr.Dataset:
    """The lazy, empty product (dask arrays) with every attribute, to create the store from."""
    import dask.array as da

    shape = (times.size, ds.sizes["lat"], ds.sizes["lon"])
    chunks = (TIME_CHUNK, params.production.chunk_cells, params.production.chunk_cells)
    coords = {"time": times, "lat": ds["lat"].values, "lon": ds["lon"].values}

    def empty(dtype, fill):
        return (("time", "lat", "lon"), da.full(shape, fill, dtype=dtype, chunks=chunks))

    product = xr.Dataset(
        {name: empty(np.float32, np.nan) for name in VARIABLES[:-1]} | {"sm_flag": empty(np.uint8, 0)},
        coords=coords,
    )
    blend = params.production.blend_days
    product["sm"].attrs = {
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "long_name": "surface (0-5 cm) volumetric soil moisture",
        "units": "m3 m-3",
        "valid_min": 0.0,
        "valid_max": SM_MAX,
        "ancillary_variables": "sm_uncertainty sm_lower sm_upper sm_flag",
        "comment": (
            f"one run per year; within {blend // 2} days of 1 January the runs of the two years are blended"
            " with raised-cosine weights (helpers.production.seams)"
            if blend
            else "one run per year, switched at 1 January (production.blend_days 0)"
        ),
    }
    product["sm_uncertainty"].attrs = {
        "long_name": "standard deviation of the error of sm against the target product",
        "units": "m3 m-3",
        "comment": uncertainty_comment(applied, params),
        "calibration_factor": applied.uncertainty_factor,
        "spread_method": applied.spread_method,
    }
    level, z = interval_level(applied)
    for name, side, sign in (("sm_lower", "lower", "-"), ("sm_upper", "upper", "+")):
        product[name].attrs = {
            "long_name": f"{side} bound of the {level:.0%} interval of sm",
            "units": "m3 m-3",
            "valid_min": 0.0,
            "valid_max": SM_MAX,
            "comment": f"sm {sign} {z:.3f} sm_uncertainty, clipped to the physical range [0, {SM_MAX}]",
        }
    product["sm_flag"].attrs = {
        "long_name": "quality flags of sm",
        "flag_masks": np.array(list(FLAG_BITS.values()), dtype=np.uint8),
        "flag_meanings": " ".join(FLAG_BITS),
        "comment": f"frozen_suspected: LST input below {FROZEN_LST_K} K; masks from MODIS MCD12C1;"
        " input_gap_filled: an input filled in the datacube (its gap_flag); input_missing: an input"
        " missing even so, replaced by its training mean (sm NaN where no daily input exists)",
    }
    product["time"].attrs = {"standard_name": "time", "axis": "T"}
    product["lat"].attrs = {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}
    product["lon"].attrs = {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}
    product.attrs = global_attributes(
        params,
        "GLASS-SM seamless daily surface soil moisture",
        f"Daily 0-5 cm soil moisture from the {applied.name} model applied to AVHRR albedo and LST,"
        " ERA5-Land SM, terrain and soil texture, one 30+year+30-day sequence per cell and year,"
        " consecutive years blended over their shared days.",
        {
            "time_coverage_start": str(times[0].date()),
            "time_coverage_end": str(times[-1].date()),
            "time_coverage_resolution": "P1D",
            "glass_sm_model": applied.name,
            "glass_sm_model_file": applied.path.name,
            "glass_sm_model_digest": applied.digest,
            "glass_sm_uncertainty_method": applied.spread_method,
            "glass_sm_uncertainty_factor": applied.uncertainty_factor,
        },
    )
    return product


def flags(mask: np.ndarray, lst: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """``sm_flag`` (days, cells) from the cells' mask, daily LST (K) and datacube gap flags."""
    flag = np.zeros(lst.shape, dtype=np.uint8)
    flag |= np.where(mask == MASK_VALUES["water"], FLAG_BITS["water"], 0).astype(np.uint8)[None, :]
    flag |= np.where(mask == MASK_VALUES["permanent_snow_ice"], FLAG_BITS["permanent_snow_ice"], 0).astype(
        np.uint8
    )[None, :]
    flag |= np.where(lst < FROZEN_LST_K, FLAG_BITS["frozen_suspected"], 0).astype(np.uint8)
    flag |= np.where(gap != 0, FLAG_BITS["input_gap_filled"], 0).astype(np.uint8)
    return flag


def product_settings(applied: Applied, params: Params, ds: xr.Dataset, times: pd.DatetimeIndex) -> dict:
    """Everything a product's values and layout depend on (its key, :mod:`helpers.keys`).

    The datacube's key, the model file's digest, the spread method, the spread head's digest
    and the calibration factor, the seed (unit seeds of the dropout passes), the days, the
    resolved device and every production setting but the NetCDF export period: ``tile_cells``
    names the finished-unit markers and ``chunk_cells`` the Zarr layout, so resuming under
    another value would be wrong.
    """
    settings = params.production.model_dump(mode="json", exclude={"export_start", "export_end"})
    return {
        "cube_key": cube_key(ds),
        "model_digest": applied.digest,
        "spread_method": applied.spread_method,
        "spread_head_digest": applied.spread_head_digest,
        "uncertainty_factor": round(applied.uncertainty_factor, 10),
        "seed": params.seed,
        "days": [str(times[0].date()), str(times[-1].date()), int(times.size)],
        "device": torch.device(applied.model.device).type if isinstance(applied.model, SequenceModel) else "cpu",
        "production": settings,
        "flag_bits": FLAG_BITS,
        "variables": list(VARIABLES),
    }


def stored_settings(store) -> dict | None:
    """The :func:`product_settings` a store on disk was made with (None if it has none)."""
    try:
        text = xr.open_zarr(store, consolidated=True).attrs.get(PRODUCT_SETTINGS_ATTR)
        return json.loads(text) if isinstance(text, str) else None
    except (OSError, ValueError, KeyError):
        return None


def new_store(ds: xr.Dataset, params: Params, times: pd.DatetimeIndex, applied: Applied, wanted: dict, path) -> None:
    """Create the empty store at ``path`` with its key ``wanted`` and the finished-unit folder."""
    product = template(ds, params, times, applied)
    product.attrs[PRODUCT_SETTINGS_ATTR] = keys.canonical(wanted)
    product.to_zarr(path, compute=False, zarr_format=2, consolidated=True)
    (path / ".done").mkdir()


def open_product(params: Params) -> xr.Dataset:
    """Open the finished product lazily."""
    path = product_path(params)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no product; run notebook 04 (helpers.production.produce)")
    return xr.open_zarr(path, consolidated=True)
