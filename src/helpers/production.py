"""Production: the chosen model applied to every land cell and every day of the requested years.

Per year ``Y`` and tile of ``production.tile_cells`` x ``production.tile_cells`` cells, the
unmasked land cells of the tile are read as sequences of ``30 + days(Y) + 30`` days, exactly
as the training samples (:func:`helpers.sampling.sequence_calendar`): the margins hold the
real neighbouring years' inputs; in the first and last year of the datacube's period, where no
neighbour exists, they mirror the year's own edge. The model predicts every day; the margins
are discarded. Leap years give 426-day sequences.

Each (tile, year) is one unit of work, written into its own region of the Zarr store with
``to_zarr(region=...)``. Spatial Zarr chunks divide the tile, so no two tiles share a chunk.
The store is built as ``data/product.zarr.partial``. A marker file per finished unit
(``.done/<year>_<tile>``) lets a killed run resume where it stopped; the store is renamed to
``data/product.zarr`` when every unit is done. The resumed product is identical to an
uninterrupted one, because each unit's result depends only on its inputs and the model
(tested). Memory does not grow with the grid: a worker holds one tile-year of inputs and one
batch of activations. The batch dominates (the AtLSTM's attention holds a 425 x 425 matrix
per sequence: about 0.5 GB at ``production.batch_size`` 256), so lower the batch size, not the
tile, to save memory.

Devices: ``production.device`` (``auto``: CUDA when torch sees it) and
``production.precision`` (autocast to bfloat16 or float16; float32 by default). A CUDA and a
CPU product agree within 1e-4 m3 m-3 in float32 (test skipped without a GPU).

Variables (CF-1.10):

``sm``
    Volumetric soil moisture (m3 m-3), clipped to [0, porosity limit :data:`SM_MAX`]; NaN on
    water and permanent snow/ice.
``sm_uncertainty``
    Calibrated standard deviation of the estimate, m3 m-3: ``k * s``, where ``s`` is the
    standard deviation of Monte-Carlo-dropout predictions (dropout active, everything else in
    evaluation mode; exact for a dropout-linear head, :func:`linear_head_spread`, else from
    ``production.mc_passes`` passes) and ``k`` the calibration factor of :func:`calibrate`:
    fitted on the VALIDATION split so that ``sm +- 1.645 sm_uncertainty`` holds 90 % of the
    target values, and checked on the TEST split. Dropout alone describes only the model's
    parameter uncertainty and is far too narrow (the demo's ``k`` is several times 1); the
    factor turns it into the spread of the error against the target, assuming that error
    scales with the dropout spread. NaN with ``mc_passes = 1`` or for a model without dropout
    (XGBoost). Without a calibration file ``k = 1`` and the attributes say so.
``sm_flag``
    Bit flags (CF ``flag_masks``): :data:`FLAG_BITS`. Frozen soil is *suspected* where the
    LST input is below 0 degC; ``input_gap_filled`` marks days on which any input of the cell
    was filled in the datacube (``gap_flag`` non-zero: interpolated, long gap, borrowed from a
    neighbour cell, static input from the nearest cell); ``input_missing`` marks days on which
    an input was missing even after the datacube's filling and the model saw its training
    mean instead (:mod:`helpers.inputs`). Days on which none of the daily inputs exists get
    NaN (and the flag), not an estimate made from static inputs alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from scipy import stats
from tqdm.auto import tqdm

from helpers import inputs, keys, metrics
from helpers.cube import MASK_VALUES, cube_key, dynamic_features, feature_names, open_cube
from helpers.io import atomic_path, remove
from helpers.models import PREDICTION_KEY, Model, SequenceModel, deterministic_torch, load_model
from helpers.params import Params
from helpers.provenance import global_attributes
from helpers.sampling import SampleStore, read_points, sequence_calendar
from helpers.training import pick_device, predict, set_threads

log = logging.getLogger(__name__)

#: Bits of ``sm_flag``.
FLAG_BITS = {
    "water": 1,
    "permanent_snow_ice": 2,
    "frozen_suspected": 4,
    "input_gap_filled": 8,
    "input_missing": 16,
}
FROZEN_LST_K = 273.15
SM_MAX = 0.6
TIME_CHUNK = 92
PARTIAL_SUFFIX = ".partial"
#: Attribute of the product holding what made it (canonical JSON of :func:`product_settings`).
PRODUCT_SETTINGS_ATTR = "glass_sm_product_settings"


def product_path(params: Params) -> Path:
    """``<run>/data/product.zarr`` (complete) ; the run in progress is ``product.zarr.partial``."""
    return params.data_dir / "product.zarr"


def model_file(params: Params) -> Path:
    """The model production applies: ``production.model_path`` or ``data/<production.model>``."""
    settings = params.production
    if settings.model_path is not None:
        return settings.model_path
    suffix = ".ubj" if settings.model == "xgboost" else ".pt"
    return params.data_dir / f"{settings.model}{suffix}"


def model_digest(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a model file (its weights)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def calibration_path(params: Params) -> Path:
    """``data/<model file stem>.calibration.json``, written by :func:`calibrate`."""
    path = model_file(params)
    return params.data_dir / f"{path.stem}.calibration.json"


def device_of(params: Params) -> str:
    """``production.device`` resolved (:func:`helpers.training.pick_device`): ``cpu`` or ``cuda``."""
    return pick_device(params.production.device, "production.device").type


@dataclass
class Applied:
    """A loaded model with the normalisation statistics it was trained with.

    ``uncertainty_factor`` is the calibration factor ``k`` of ``sm_uncertainty`` (1 and
    ``calibrated`` False without a matching calibration file); ``precision`` the autocast
    dtype of the forward pass on CUDA (``float32``: none).
    """

    model: Model
    mean: np.ndarray
    scale: np.ndarray
    name: str
    path: Path
    digest: str = ""
    uncertainty_factor: float = 1.0
    calibrated: bool = False
    calibration: dict = field(default_factory=dict)
    precision: str = "float32"

    @classmethod
    def load(cls, params: Params, device: str | None = None, calibrated: bool = True) -> Applied:
        """Load :func:`model_file` on ``device`` (default :func:`device_of`), checking that it
        takes the datacube's features in order, with its calibration when one matches it."""
        path = model_file(params)
        deterministic_torch()
        model, meta = load_model(
            path, expected_features=feature_names(params), device=device or device_of(params)
        )
        stats = meta["extra"]["stats"]
        std = np.asarray(stats["std"], dtype=np.float32)
        applied = cls(
            model,
            np.asarray(stats["mean"], dtype=np.float32),
            np.where(std > 0, std, 1).astype(np.float32),
            meta["name"],
            path,
            model_digest(path),
            precision=params.production.precision,
        )
        calibration = read_calibration(params)
        if calibrated and calibration is not None:
            if calibration["model_digest"] != applied.digest:
                log.warning(
                    "%s was fitted for another model file; sm_uncertainty is left uncalibrated",
                    calibration_path(params),
                )
            elif np.isfinite(calibration["factor"]):
                applied.uncertainty_factor = float(calibration["factor"])
                applied.calibrated = True
                applied.calibration = calibration
        return applied

    def estimate(
        self, x: np.ndarray, passes: int, batch_size: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Prediction (n, T) in evaluation mode and its Monte-Carlo-dropout standard deviation.

        Missing inputs follow :mod:`helpers.inputs` (a deep model sees the training mean;
        the caller flags the days, :func:`produce_unit`). With a head made of dropout
        followed by a linear map (the one-layer LSTM, Bi-LSTM and AtLSTM; the Transformer has
        dropout in its encoder too), the spread of infinitely many dropout passes is known
        exactly (:func:`linear_head_spread`) and comes from the same forward pass as the
        prediction. Otherwise ``passes`` passes are drawn from a torch generator seeded by
        ``seed``, so that a unit's result does not depend on what ran before it.
        """
        normalised = inputs.normalise(x, self.mean, self.scale)
        model = self.model
        with self._autocast():
            if passes < 2 or not isinstance(model, SequenceModel) or not _dropouts(model):
                return predict(model, normalised, batch_size=batch_size), np.full(
                    x.shape[:2], np.nan, np.float32
                )
            normalised = inputs.fill_missing(normalised)
            if _linear_dropout_head(model):
                return linear_head_spread(model, normalised, batch_size)
            with _seeded_torch(seed, model.device):
                draws = _dropout_draws(model, normalised, passes, batch_size)
            return predict(model, normalised, batch_size=batch_size), draws.std(axis=0)

    def _autocast(self):
        """Mixed precision for the forward passes (``production.precision``), else nothing."""
        if self.precision == "float32" or not isinstance(self.model, SequenceModel):
            return contextlib.nullcontext()
        device_type = torch.device(self.model.device).type
        if device_type == "cpu" and self.precision == "float16":
            raise ValueError("production.precision float16 needs CUDA; use bfloat16 or float32 on the CPU")
        return torch.autocast(device_type=device_type, dtype=getattr(torch, self.precision))


@contextlib.contextmanager
def _seeded_torch(seed: int, device: torch.device | str):
    """Run a block with torch's CPU (and CUDA) generators seeded by ``seed``, restoring them after."""
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _linear_dropout_head(model: SequenceModel) -> bool:
    """True when ``model.head`` is Dropout then Linear and holds the model's only active dropout."""
    head = getattr(model, "head", None)
    return (
        isinstance(head, torch.nn.Sequential)
        and len(head) == 2
        and isinstance(head[0], torch.nn.Dropout)
        and isinstance(head[1], torch.nn.Linear)
        and {id(m) for m in _dropouts(model)} <= {id(head[0])}
    )


def linear_head_spread(model: SequenceModel, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Prediction and exact Monte-Carlo-dropout standard deviation of a dropout-linear head.

    With head input :math:`f`, weights :math:`w`, bias :math:`b` and dropout rate :math:`p`,
    a dropout pass gives :math:`y = b + \sum_i m_i f_i w_i / (1 - p)` with independent
    :math:`m_i \sim \mathrm{Bernoulli}(1 - p)`, hence

    .. math:: E[y] = b + f \cdot w, \qquad \sigma_y = \sqrt{\tfrac{p}{1 - p} \sum_i (f_i w_i)^2}

    the limit of the standard deviation of infinitely many passes, at the cost of one pass.
    """
    dropout, linear = model.head[0], model.head[1]
    p = float(dropout.p)
    weights = linear.weight[0]
    sm = np.empty(x.shape[:2], dtype=np.float32)
    spread = np.empty(x.shape[:2], dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                batch = torch.as_tensor(x[start : start + batch_size], device=model.device)
                features = model.head_input(batch)
                stop = start + len(batch)
                sm[start:stop] = linear(features).squeeze(-1).float().cpu().numpy()
                variance = (p / (1 - p)) * ((features.float() * weights.float()) ** 2).sum(dim=-1)
                spread[start:stop] = variance.sqrt().cpu().numpy()
    finally:
        model.train(was_training)
    return sm, spread


def _dropouts(model: torch.nn.Module) -> list[torch.nn.Dropout]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Dropout) and m.p > 0]


def _dropout_draws(
    model: SequenceModel, x: np.ndarray, passes: int, batch_size: int, head_only: bool | None = None
) -> np.ndarray:
    """``passes`` predictions (passes, n, T) with the dropout layers active.

    When every active dropout layer sits in ``model.head`` (one-layer LSTM, Bi-LSTM, AtLSTM),
    the head's input is computed once and only the head is drawn ``passes`` times, which gives
    the same distribution at a fraction of the cost; otherwise the whole model runs per pass.
    ``head_only`` forces one way or the other (None: decide as above).
    """
    if head_only is None:
        head_only = hasattr(model, "head") and set(map(id, _dropouts(model))) <= set(
            map(id, _dropouts(model.head))
        )
    model.eval()
    draws = np.empty((passes, *x.shape[:2]), dtype=np.float32)
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = torch.as_tensor(x[start : start + batch_size], device=model.device)
                stop = start + len(batch)
                if head_only:
                    features = model.head_input(batch)
                    model.head.train()
                    for k in range(passes):
                        draws[k, start:stop] = model.head(features).squeeze(-1).float().cpu().numpy()
                    model.head.eval()
                else:
                    for module in _dropouts(model):
                        module.train()
                    for k in range(passes):
                        draws[k, start:stop] = model(batch)[PREDICTION_KEY].float().cpu().numpy()
                    model.eval()
    finally:
        model.eval()
    return draws


# Calibration of sm_uncertainty --------------------------------------------------------------


def read_calibration(params: Params) -> dict | None:
    """The calibration record of :func:`calibrate`, or None when there is none."""
    path = calibration_path(params)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        missing = {"factor", "model_digest", "level"} - set(record)
        if missing:
            raise ValueError(f"keys {sorted(missing)} missing")
        record["factor"] = float("nan") if record["factor"] is None else float(record["factor"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a calibration record ({exc}); delete it and run calibrate") from None
    return record


def split_estimates(
    applied: Applied, samples: SampleStore, split: str, params: Params
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uncalibrated estimate, dropout spread and target on the valid central days of a split.

    The sequences of ``split`` (training years) go through :meth:`Applied.estimate` as in
    production (clipped to [0, :data:`SM_MAX`]); returns three flat float arrays over the
    pixel-days that have a target.
    """
    x, y, central = samples.sequences(split, normalise=False)
    settings = params.production
    sm, spread = applied.estimate(x, settings.mc_passes, settings.batch_size, params.seed)
    keep = central & np.isfinite(y)
    return np.clip(sm[keep], 0.0, SM_MAX), spread[keep], y[keep]


#: Stated coverages of the reliability curve of :func:`calibrate`.
RELIABILITY_LEVELS = (0.5, 0.68, 0.8, 0.9, 0.95, 0.99)


def calibrate(
    params: Params, samples: SampleStore, applied: Applied | None = None, level: float = 0.9
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit the factor of ``sm_uncertainty`` on the validation split and check it on the test split.

    The factor ``k`` (:func:`helpers.metrics.spread_scale_factor`) makes the interval
    ``sm +- z k s`` (``z = 1.645`` for 90 %) hold a share ``level`` of the VALIDATION targets;
    the TEST split, never used for it, then shows the coverage a user can expect. Writes
    :func:`calibration_path` (read by :meth:`Applied.load` and so by production).

    Returns
    -------
    table : one row per split: ``split, n, rmse, median_spread, spread_error_r`` (Pearson r
        between the spread and the absolute error: does a wider interval mean a larger
        error?), ``coverage_uncalibrated``, ``factor``, ``coverage`` (with the factor).
    curve : the reliability curve: ``split, version`` (``uncalibrated``/``calibrated``),
        ``nominal`` (each of :data:`RELIABILITY_LEVELS`) and ``observed`` coverage.
    """
    applied = Applied.load(params, calibrated=False) if applied is None else applied
    z = float(stats.norm.ppf((1 + level) / 2))
    rows, curve, factor = [], [], np.nan
    for split in ("validation", "test"):
        sm, spread, target = split_estimates(applied, samples, split, params)
        if split == "validation":
            factor = metrics.spread_scale_factor(sm, target, spread, level)
        for version, scale in (("uncalibrated", 1.0), ("calibrated", factor)):
            for nominal in RELIABILITY_LEVELS:
                z_level = float(stats.norm.ppf((1 + nominal) / 2))
                observed = metrics.interval_coverage(sm, target, scale * spread, z_level)
                curve.append({"split": split, "version": version, "nominal": nominal, "observed": observed})
        rows.append(
            {
                "split": split,
                "n": int(target.size),
                "rmse": metrics.rmse(sm, target),
                "median_spread": float(np.nanmedian(spread)) if np.isfinite(spread).any() else np.nan,
                "spread_error_r": metrics.pearson_r(spread, np.abs(sm - target)),
                "coverage_uncalibrated": metrics.interval_coverage(sm, target, spread, z),
                "factor": factor,
                "coverage": metrics.interval_coverage(sm, target, factor * spread, z),
            }
        )
    table = pd.DataFrame(rows)
    record = {
        "model_file": str(applied.path),
        "model_digest": applied.digest,
        "level": level,
        "z": z,
        "factor": None if not np.isfinite(factor) else factor,
        "fitted_on": "validation",
        "coverage_validation": table.loc[0, "coverage"],
        "coverage_test": table.loc[1, "coverage"],
        "coverage_test_uncalibrated": table.loc[1, "coverage_uncalibrated"],
    }
    record = {
        key: (None if isinstance(value, float) and not np.isfinite(value) else value)
        for key, value in record.items()
    }
    with atomic_path(calibration_path(params)) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return table, pd.DataFrame(curve)


# The store ---------------------------------------------------------------------------------


def _template(ds: xr.Dataset, params: Params, times: pd.DatetimeIndex, applied: Applied) -> xr.Dataset:
    import dask.array as da

    shape = (times.size, ds.sizes["lat"], ds.sizes["lon"])
    chunks = (TIME_CHUNK, params.production.chunk_cells, params.production.chunk_cells)
    coords = {"time": times, "lat": ds["lat"].values, "lon": ds["lon"].values}
    product = xr.Dataset(
        {
            "sm": (("time", "lat", "lon"), da.full(shape, np.nan, dtype=np.float32, chunks=chunks)),
            "sm_uncertainty": (
                ("time", "lat", "lon"),
                da.full(shape, np.nan, dtype=np.float32, chunks=chunks),
            ),
            "sm_flag": (("time", "lat", "lon"), da.zeros(shape, dtype=np.uint8, chunks=chunks)),
        },
        coords=coords,
    )
    product["sm"].attrs = {
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "long_name": "surface (0-5 cm) volumetric soil moisture",
        "units": "m3 m-3",
        "valid_min": 0.0,
        "valid_max": SM_MAX,
        "ancillary_variables": "sm_uncertainty sm_flag",
    }
    if applied.calibrated:
        calibration = (
            f"calibrated: Monte-Carlo-dropout spread x {applied.uncertainty_factor:.4g}, the factor that puts"
            f" {applied.calibration['level']:.0%} of the validation-split targets inside sm +-"
            f" {applied.calibration['z']:.3f} sm_uncertainty; test-split coverage"
            f" {applied.calibration['coverage_test']:.3f}"
        )
    else:
        calibration = "NOT calibrated: plain Monte-Carlo-dropout spread, too narrow as an error estimate"
    product["sm_uncertainty"].attrs = {
        "long_name": "standard deviation of the error of sm against the target product",
        "units": "m3 m-3",
        "comment": f"{calibration}; spread of {params.production.mc_passes} dropout passes (exact for a"
        " dropout-linear head); NaN where not available",
        "calibration_factor": applied.uncertainty_factor,
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
        " ERA5-Land SM, terrain and soil texture, one 30+year+30-day sequence per cell and year.",
        {
            "time_coverage_start": str(times[0].date()),
            "time_coverage_end": str(times[-1].date()),
            "time_coverage_resolution": "P1D",
            "glass_sm_model": applied.name,
            "glass_sm_model_file": applied.path.name,
            "glass_sm_model_digest": applied.digest,
            "glass_sm_uncertainty_factor": applied.uncertainty_factor,
        },
    )
    return product


def _unit_name(year: int, tile: int) -> str:
    return f"{year}_{tile:05d}"


def _flags(mask: np.ndarray, lst: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """``sm_flag`` (days, cells) from the cells' mask, daily LST (K) and datacube gap flags."""
    flag = np.zeros(lst.shape, dtype=np.uint8)
    flag |= np.where(mask == MASK_VALUES["water"], FLAG_BITS["water"], 0).astype(np.uint8)[None, :]
    flag |= np.where(mask == MASK_VALUES["permanent_snow_ice"], FLAG_BITS["permanent_snow_ice"], 0).astype(
        np.uint8
    )[None, :]
    flag |= np.where(lst < FROZEN_LST_K, FLAG_BITS["frozen_suspected"], 0).astype(np.uint8)
    flag |= np.where(gap != 0, FLAG_BITS["input_gap_filled"], 0).astype(np.uint8)
    return flag


def produce_unit(
    ds: xr.Dataset, params: Params, applied: Applied, year: int, rows: slice, cols: slice
) -> dict[str, np.ndarray]:
    """``sm``, ``sm_uncertainty`` and ``sm_flag`` (days of ``year``, tile rows, tile cols)."""
    times = pd.DatetimeIndex(ds["time"].values)
    calendar = sequence_calendar(times, year)
    central = calendar["central"].to_numpy()
    days = int(central.sum())
    mask = ds["mask"].isel(lat=rows, lon=cols).values
    shape = (days, mask.shape[0], mask.shape[1])
    out = {
        "sm": np.full(shape, np.nan, dtype=np.float32),
        "sm_uncertainty": np.full(shape, np.nan, dtype=np.float32),
        "sm_flag": np.zeros(shape, dtype=np.uint8),
    }
    in_year = np.flatnonzero(times.year == year)
    lst = ds["lst"].isel(time=in_year, lat=rows, lon=cols).values.reshape(days, -1)
    gap = ds["gap_flag"].isel(time=in_year, lat=rows, lon=cols).values.reshape(days, -1)
    out["sm_flag"][:] = _flags(mask.ravel(), lst, gap).reshape(shape)
    land_rows, land_cols = np.nonzero(mask == MASK_VALUES["land"])
    if land_rows.size == 0:
        return out
    x, _ = read_points(ds, params, land_rows + rows.start, land_cols + cols.start, calendar)
    settings = params.production
    unit_seed = params.seed * 1_000_003 + year * 100_003 + rows.start * 1_009 + cols.start
    sm, spread = applied.estimate(x, settings.mc_passes, settings.batch_size, unit_seed)
    sm, spread = sm[:, central], applied.uncertainty_factor * spread[:, central]
    missing = inputs.missing_days(x)[:, central]
    no_input = inputs.no_daily_input(x, len(dynamic_features(params)))[:, central]
    sm, spread = np.where(no_input, np.nan, np.clip(sm, 0.0, SM_MAX)), np.where(no_input, np.nan, spread)
    out["sm"][:, land_rows, land_cols] = sm.T
    out["sm_uncertainty"][:, land_rows, land_cols] = spread.T
    out["sm_flag"][:, land_rows, land_cols] |= np.where(missing, FLAG_BITS["input_missing"], 0).astype(np.uint8).T
    return out


def produce_tile(
    params: Params,
    partial: Path,
    k: int,
    rows: slice,
    cols: slice,
    year_starts: dict[int, int],
    ds: xr.Dataset | None = None,
    applied: Applied | None = None,
) -> int:
    """Produce and write every unfinished year of tile ``k`` (one task of the dask run).

    The years of a tile run one after the other in one task, because a Zarr time chunk can
    hold the end of one year and the start of the next; tiles never share a chunk, so tasks
    of different tiles write in parallel safely. Without ``ds`` and ``applied`` (on a dask
    worker), the datacube and the model are opened once per worker process and kept.
    """
    ds = _worker_cube(params) if ds is None else ds
    applied = _worker_model(params) if applied is None else applied
    done_dir = partial / ".done"
    for year, start in year_starts.items():
        marker = done_dir / _unit_name(year, k)
        if marker.exists():
            continue
        values = produce_unit(ds, params, applied, year, rows, cols)
        region = {"time": slice(start, start + values["sm"].shape[0]), "lat": rows, "lon": cols}
        frame = xr.Dataset({name: (("time", "lat", "lon"), array) for name, array in values.items()})
        frame.to_zarr(partial, region=region, zarr_format=2)
        marker.touch()
    return k


_WORKER_STATE: dict[tuple[str, str], object] = {}


def _worker_cube(params: Params) -> xr.Dataset:
    key = ("cube", str(params.cube_path))
    if key not in _WORKER_STATE:
        _WORKER_STATE[key] = open_cube(params)
    return _WORKER_STATE[key]  # type: ignore[return-value]


def _worker_model(params: Params) -> Applied:
    key = ("model", str(model_file(params)))
    if key not in _WORKER_STATE:
        torch.set_num_threads(1)  # one thread per worker process: the cluster spreads the cores
        _WORKER_STATE[key] = Applied.load(params)
    return _WORKER_STATE[key]  # type: ignore[return-value]


def _client(settings):  # -> distributed.Client
    """A client of the cluster at ``dask.scheduler_address``, or of a local cluster of processes
    (``dask.n_workers``, default one per core, one thread each)."""
    import os

    from distributed import Client, LocalCluster

    if settings.scheduler_address is not None:
        return Client(settings.scheduler_address)
    workers = settings.n_workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    return _ClusterClient(client, cluster)


class _ClusterClient:
    """Context manager closing a local cluster together with its client."""

    def __init__(self, client, cluster) -> None:
        self.client, self.cluster = client, cluster

    def __enter__(self):
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.cluster.close()


def produce(params: Params, progress: bool = True, ds: xr.Dataset | None = None) -> Path:
    """Write (or finish) ``data/product.zarr`` for ``production.years`` (default: the period).

    A complete product is returned as it is; an interrupted one (``product.zarr.partial``) is
    resumed, skipping finished (tile, year) units. Raises :class:`helpers.models.ModelFileError`
    naming the model file when it is missing or takes other features.
    """
    final = product_path(params)
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    applied = Applied.load(params)
    ds = open_cube(params) if ds is None else ds
    cube_years = sorted(set(pd.DatetimeIndex(ds["time"].values).year))
    years = params.production.years or cube_years
    missing = [y for y in years if y not in cube_years]
    if missing:
        raise ValueError(
            f"production.years {missing} are not in the datacube ({cube_years[0]}-{cube_years[-1]})"
        )
    times = pd.DatetimeIndex(ds["time"].values)
    times = times[times.year.isin(years)]
    wanted = product_settings(applied, params, ds, times)
    for store in (final, partial):
        changed = keys.differences(_stored_settings(store), wanted) if store.exists() else []
        if changed:
            log.warning("%s was made with other settings (%s); it is rebuilt", store, "; ".join(changed))
            remove(store)
    if final.exists():
        log.info("product exists: %s", final)
        return final
    done_dir = partial / ".done"
    if not partial.exists():
        template = _template(ds, params, times, applied)
        template.attrs[PRODUCT_SETTINGS_ATTR] = keys.canonical(wanted)
        template.to_zarr(partial, compute=False, zarr_format=2, consolidated=True)
        done_dir.mkdir()
    year_starts = {year: int(np.flatnonzero(times.year == year)[0]) for year in years}
    tile_list = [(rows, cols) for rows, cols, _ in params.to_grid().tiles(params.production.tile_cells)]
    pending = [
        (k, rows, cols)
        for k, (rows, cols) in enumerate(tile_list)
        if any(not (done_dir / _unit_name(year, k)).exists() for year in years)
    ]
    if len(pending) < len(tile_list):
        log.info("resuming %s: %d of %d tiles done", partial, len(tile_list) - len(pending), len(tile_list))
    bar = tqdm(total=len(pending), desc="production", unit="tile", disable=not progress)
    settings = params.dask
    if settings.scheduler == "synchronous" and settings.scheduler_address is None:
        set_threads(params)
        for k, rows, cols in pending:
            produce_tile(params, partial, k, rows, cols, year_starts, ds=ds, applied=applied)
            bar.update()
    else:
        from distributed import as_completed

        with _client(settings) as client:
            futures = [
                client.submit(produce_tile, params, partial, k, rows, cols, year_starts, pure=False)
                for k, rows, cols in pending
            ]
            for future in as_completed(futures):
                future.result()
                bar.update()
    bar.close()
    remove(done_dir)
    partial.rename(final)
    return final


def product_settings(applied: Applied, params: Params, ds: xr.Dataset, times: pd.DatetimeIndex) -> dict:
    """Everything a product's values and layout depend on (its key, :mod:`helpers.keys`).

    The datacube's key, the model file's digest and its calibration factor, the seed (unit
    seeds of the dropout passes), the days, the resolved device and every production setting
    but the NetCDF export period: ``tile_cells`` names the finished-unit markers and
    ``chunk_cells`` the Zarr layout, so resuming under another value would be wrong.
    """
    settings = params.production.model_dump(mode="json", exclude={"export_start", "export_end"})
    return {
        "cube_key": cube_key(ds),
        "model_digest": applied.digest,
        "uncertainty_factor": round(applied.uncertainty_factor, 10),
        "seed": params.seed,
        "days": [str(times[0].date()), str(times[-1].date()), int(times.size)],
        "device": torch.device(applied.model.device).type if isinstance(applied.model, SequenceModel) else "cpu",
        "production": settings,
        "flag_bits": FLAG_BITS,
    }


def _stored_settings(store: Path) -> dict | None:
    try:
        text = xr.open_zarr(store, consolidated=True).attrs.get(PRODUCT_SETTINGS_ATTR)
        return json.loads(text) if isinstance(text, str) else None
    except (OSError, ValueError, KeyError):
        return None


def open_product(params: Params) -> xr.Dataset:
    """Open the finished product lazily."""
    path = product_path(params)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no product; run notebook 04 (helpers.production.produce)")
    return xr.open_zarr(path, consolidated=True)


# Derived products ---------------------------------------------------------------------------


def annual_path(params: Params) -> Path:
    return params.data_dir / "product_annual.zarr"


def annual_mean(params: Params) -> Path:
    """Write ``data/product_annual.zarr``: the annual mean of ``sm`` beside the daily product.

    Per year and cell: ``sm`` is the mean of the daily values (NaN on masked cells, CF
    ``cell_methods: time: mean``, ``time`` at 1 July with ``time_bnds`` spanning the year);
    ``valid_days`` counts the days averaged and ``frozen_suspected_days`` the days flagged
    frozen, which the mean includes (filter the daily product to leave them out). Computed
    with dask chunk by chunk, so memory stays bounded by the daily product's chunks.
    """
    daily = open_product(params)
    years = daily["time"].dt.year
    sm = daily["sm"].groupby(years).mean("time")
    valid = daily["sm"].notnull().groupby(years).sum("time").astype(np.int16)
    frozen = (
        ((daily["sm_flag"] & FLAG_BITS["frozen_suspected"]) > 0).groupby(years).sum("time").astype(np.int16)
    )
    year_values = sm["year"].values
    centre = pd.to_datetime([f"{y}-07-01" for y in year_values])
    bounds = np.stack(
        [
            pd.to_datetime([f"{y}-01-01" for y in year_values]),
            pd.to_datetime([f"{y + 1}-01-01" for y in year_values]),
        ],
        axis=1,
    )
    annual = xr.Dataset(
        {
            "sm": sm.rename(year="time"),
            "valid_days": valid.rename(year="time"),
            "frozen_suspected_days": frozen.rename(year="time"),
        }
    ).assign_coords(time=centre)
    annual["time_bnds"] = (("time", "nv"), bounds)
    annual["sm"].attrs = {
        **{key: daily["sm"].attrs[key] for key in ("standard_name", "units", "valid_min", "valid_max")},
        "long_name": "annual mean surface (0-5 cm) volumetric soil moisture",
        "cell_methods": "time: mean",
    }
    annual["valid_days"].attrs = {"long_name": "days averaged into sm", "units": "1"}
    annual["frozen_suspected_days"].attrs = {
        "long_name": "days flagged frozen_suspected (LST below 0 degC), included in the mean",
        "units": "1",
    }
    annual["time"].attrs = {"standard_name": "time", "axis": "T", "bounds": "time_bnds"}
    for name in ("lat", "lon"):
        annual[name].attrs = daily[name].attrs
    annual.attrs = {
        **{k: v for k, v in daily.attrs.items() if k != PRODUCT_SETTINGS_ATTR},
        "title": "GLASS-SM annual-mean surface soil moisture",
        "time_coverage_resolution": "P1Y",
    }
    annual = annual.chunk(
        {"time": 1, "lat": params.production.chunk_cells, "lon": params.production.chunk_cells}
    )
    target = annual_path(params)
    with atomic_path(target) as tmp:
        annual.to_zarr(tmp, zarr_format=2, consolidated=True)
    return target


def export_netcdf(params: Params, start: str | None = None, end: str | None = None) -> Path:
    """Write the daily product of ``start``..``end`` (default ``production.export_start/end``)
    to ``data/product_<start>_<end>.nc``: NetCDF-4, compressed, with the product's CF and ACDD
    attributes (time coverage narrowed to the period)."""
    start = start or (params.production.export_start and str(params.production.export_start))
    end = end or (params.production.export_end and str(params.production.export_end))
    if start is None or end is None:
        raise ValueError(
            "export_netcdf needs a period: give start and end, or production.export_start/export_end"
        )
    daily = open_product(params)
    period = daily.sel(time=slice(start, end))
    if period.sizes["time"] == 0:
        raise ValueError(
            f"export period {start}..{end} holds no day of the product"
            f" ({daily.attrs['time_coverage_start']}..{daily.attrs['time_coverage_end']})"
        )
    times = pd.DatetimeIndex(period["time"].values)
    period.attrs = {
        **{k: v for k, v in daily.attrs.items() if k != PRODUCT_SETTINGS_ATTR},
        "time_coverage_start": str(times[0].date()),
        "time_coverage_end": str(times[-1].date()),
    }
    chunks = (min(times.size, 31), min(period.sizes["lat"], 256), min(period.sizes["lon"], 256))
    encoding = {
        name: {
            "zlib": True,
            "complevel": 4,
            "chunksizes": chunks,
            **({"_FillValue": None} if name == "sm_flag" else {}),
        }
        for name in ("sm", "sm_uncertainty", "sm_flag")
    }
    encoding["time"] = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int32"}
    for name in period.data_vars:
        period[name].encoding = {}
    target = params.data_dir / f"product_{times[0]:%Y%m%d}_{times[-1]:%Y%m%d}.nc"
    with atomic_path(target) as tmp:
        period.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    return target


def year_boundary_jumps(
    series: Mapping[str, xr.DataArray], land: np.ndarray, window_days: int = 15
) -> pd.DataFrame:
    """Is the product seamless where one year's run meets the next?

    For every 31 Dec -> 1 Jan boundary inside the series and each named (time, lat, lon)
    field, the land-mean absolute day-to-day change ``mean |x(t+1) - x(t)|`` across the
    boundary is set against the same quantity for the other day pairs within
    ``window_days`` of it. Each year of the product is estimated by its own run, so a seam
    would show as a boundary change far above its neighbours (``ratio`` >> 1 and ``rank`` 1);
    an input such as ERA5-Land, made as one continuous series, gives the natural level.

    Returns one row per field and boundary: ``field, boundary, jump, neighbours_median,
    ratio`` (jump / neighbours' median) and ``rank`` (1 = the largest change in the window).
    """
    rows = []
    for name, values in series.items():
        times = pd.DatetimeIndex(values["time"].values)
        starts = [t for t in times[times.is_year_start] if t != times[0]]
        for boundary in starts:
            position = times.get_loc(boundary)
            lo, hi = max(position - window_days, 0), min(position + window_days, times.size - 1)
            block = values.isel(time=slice(lo, hi + 1)).values[:, land]
            changes = np.nanmean(np.abs(np.diff(block, axis=0)), axis=1)  # change from day k to k+1
            at = position - lo - 1
            others = np.delete(changes, at)
            rows.append(
                {
                    "field": name,
                    "boundary": boundary.date().isoformat(),
                    "jump": float(changes[at]),
                    "neighbours_median": float(np.median(others)),
                    "ratio": float(changes[at] / np.median(others)),
                    "rank": int((changes > changes[at]).sum() + 1),
                }
            )
    return pd.DataFrame(rows)


# Views for notebook 04 ------------------------------------------------------------------------


def monthly_fields(
    product: xr.Dataset, ds: xr.Dataset, year: int, months: Sequence[int], land: np.ndarray
) -> dict[str, xr.DataArray]:
    """Monthly means of the product, the ERA5-Land input and the target (masked cells blank),
    keyed by panel title, month by month: the layout of the paper's Fig. 9."""
    fields: dict[str, xr.DataArray] = {}
    mask = xr.DataArray(land, dims=("lat", "lon"))
    for month in months:
        period = f"{year}-{month:02d}"
        label = pd.Timestamp(year, month, 1).strftime("%b %Y")
        for title, values in (
            ("product", product["sm"]),
            ("ERA5-Land input", ds["era5_sm"]),
            ("target (GLASS-MODIS)", ds["target_sm"]),
        ):
            mean = values.sel(time=period).mean("time").where(mask).compute()
            mean.attrs["units"] = "m3 m-3"
            fields[f"{title}, {label}"] = mean
    return fields


def cell_series(
    product: xr.Dataset, ds: xr.Dataset, cells: pd.DataFrame, extra: Mapping[str, xr.DataArray] | None = None
) -> dict[str, pd.DataFrame]:
    """Daily series at cells (rows of :func:`helpers.cube.nearest_land_cells`): ``product``, its
    ``uncertainty``, the ERA5-Land input, the target and any ``extra`` (time, lat, lon) field,
    over the product's days; keyed by a title with the cell's position."""
    times = product["time"].values
    frames = {}
    for cell in cells.itertuples():
        at = {"lat": cell.row, "lon": cell.col}
        columns = {
            "product": product["sm"].isel(at),
            "uncertainty": product["sm_uncertainty"].isel(at),
            "ERA5-Land input": ds["era5_sm"].isel(at).sel(time=times),
            "target": ds["target_sm"].isel(at).sel(time=times),
            **{name: values.isel(at).sel(time=times) for name, values in (extra or {}).items()},
        }
        frame = pd.DataFrame({name: values.values for name, values in columns.items()}, index=pd.DatetimeIndex(times))
        frames[f"{cell.lat:.2f}°N {cell.lon:.2f}°E"] = frame
    return frames


def run_overlap(
    params: Params, applied: Applied, ds: xr.Dataset, year: int, n_cells: int = 1000
) -> tuple[pd.DataFrame, dict[str, float]]:
    """How much do two yearly runs disagree where their sequences overlap?

    The run of ``year`` ends with 30 days of the next year as margin, and the run of
    ``year + 1`` begins with the last 30 days of ``year``. On these 60 days both runs estimate
    the same cells from the same inputs; only their context differs. The product takes each
    day from the run of its own year, so at 1 January it switches runs: any disagreement there
    is a seam that one continuous run would not have.

    Returns
    -------
    table : per overlap day, ``date``, ``offset`` (days from 1 January of ``year + 1``;
        negative before it), ``disagreement`` (land-mean |run year - run year+1|).
    summary : ``switch_jump`` (mean |product(1 Jan) - product(31 Dec)|, across the runs),
        ``within_run_jump`` (the same change inside each run, averaged over both), and
        ``day_to_day`` (mean |change| between consecutive days inside the runs), m3 m-3.
    """
    times = pd.DatetimeIndex(ds["time"].values)
    if year + 1 not in set(times.year):
        raise ValueError(f"run_overlap: year {year + 1} is not in the datacube, no overlap with {year}")
    land_rows, land_cols = np.nonzero(ds["mask"].values == MASK_VALUES["land"])
    rng = np.random.default_rng(params.seed)
    pick = rng.choice(land_rows.size, min(n_cells, land_rows.size), replace=False)
    rows, cols = land_rows[pick], land_cols[pick]
    estimates = {}
    for run in (year, year + 1):
        calendar = sequence_calendar(times, run)
        x, _ = read_points(ds, params, rows, cols, calendar)
        sm, _ = applied.estimate(x, 1, params.production.batch_size, params.seed)
        estimates[run] = pd.DataFrame(np.clip(sm, 0.0, SM_MAX).T, index=calendar["date"])
    shared = estimates[year].index.intersection(estimates[year + 1].index)
    first, second = estimates[year].loc[shared], estimates[year + 1].loc[shared]
    boundary = pd.Timestamp(year + 1, 1, 1)
    table = pd.DataFrame(
        {
            "date": shared,
            "offset": (shared - boundary).days,
            "disagreement": np.abs(first.to_numpy() - second.to_numpy()).mean(axis=1),
        }
    )
    last_day = boundary - pd.Timedelta(days=1)
    switch = np.abs(estimates[year + 1].loc[boundary] - estimates[year].loc[last_day]).mean()
    within = np.mean([np.abs(e.loc[boundary] - e.loc[last_day]).mean() for e in estimates.values()])
    day_to_day = np.mean([np.abs(np.diff(e.to_numpy(), axis=0)).mean() for e in estimates.values()])
    return table, {"switch_jump": float(switch), "within_run_jump": float(within), "day_to_day": float(day_to_day)}
