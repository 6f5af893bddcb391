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
(tested). Memory is bounded by the tile: one tile-year of inputs, whatever the grid size.

Variables (CF-1.10; MISSION.md section 4):

``sm``
    Volumetric soil moisture (m3 m-3), clipped to [0, porosity limit :data:`SM_MAX`]; NaN on
    water and permanent snow/ice.
``sm_uncertainty``
    Standard deviation of Monte-Carlo-dropout predictions (dropout active, everything else in
    evaluation mode), m3 m-3: exact for a dropout-linear head (:func:`linear_head_spread`),
    else from ``production.mc_passes`` passes. NaN with ``mc_passes = 1`` or for a model
    without dropout (XGBoost). Its calibration on the test split is not checked yet.
``sm_flag``
    Bit flags (CF ``flag_masks``): :data:`FLAG_BITS`. Frozen soil is *suspected* where the
    LST input is below 0 degC; ``input_gap_filled`` marks days on which any input of the cell
    was filled in the datacube.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from tqdm.auto import tqdm

from helpers.cube import MASK_VALUES, feature_names, open_cube
from helpers.io import remove
from helpers.models import PREDICTION_KEY, Model, SequenceModel, load_model
from helpers.params import Params
from helpers.provenance import global_attributes
from helpers.sampling import _read_points, sequence_calendar
from helpers.training import predict

log = logging.getLogger(__name__)

#: Bits of ``sm_flag``.
FLAG_BITS = {"water": 1, "permanent_snow_ice": 2, "frozen_suspected": 4, "input_gap_filled": 8}
FROZEN_LST_K = 273.15
SM_MAX = 0.6
TIME_CHUNK = 92
PARTIAL_SUFFIX = ".partial"


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


@dataclass
class Applied:
    """A loaded model with the normalisation statistics it was trained with."""

    model: Model
    mean: np.ndarray
    scale: np.ndarray
    name: str
    path: Path

    @classmethod
    def load(cls, params: Params) -> Applied:
        """Load :func:`model_file`, checking that it takes the datacube's features in order."""
        path = model_file(params)
        model, meta = load_model(path, expected_features=feature_names(params))
        stats = meta["extra"]["stats"]
        std = np.asarray(stats["std"], dtype=np.float32)
        return cls(
            model,
            np.asarray(stats["mean"], dtype=np.float32),
            np.where(std > 0, std, 1).astype(np.float32),
            meta["name"],
            path,
        )

    def estimate(
        self, x: np.ndarray, passes: int, batch_size: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Prediction (n, T) in evaluation mode and its Monte-Carlo-dropout standard deviation.

        With a head made of dropout followed by a linear map (the one-layer LSTM, Bi-LSTM and
        AtLSTM; the Transformer has dropout in its encoder too), the spread of infinitely many
        dropout passes is known exactly (:func:`linear_head_spread`) and comes from the same
        forward pass as the prediction. Otherwise ``passes`` passes are drawn, with torch
        seeded by ``seed`` so that a unit's result does not depend on what ran before it.
        """
        normalised = np.nan_to_num((x - self.mean) / self.scale).astype(np.float32)
        model = self.model
        if passes < 2 or not isinstance(model, SequenceModel) or not _dropouts(model):
            return predict(model, normalised, batch_size=batch_size), np.full(x.shape[:2], np.nan, np.float32)
        if _linear_dropout_head(model):
            return linear_head_spread(model, normalised, batch_size)
        torch.manual_seed(seed)
        draws = _dropout_draws(model, normalised, passes, batch_size)
        return predict(model, normalised, batch_size=batch_size), draws.std(axis=0)


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
                sm[start:stop] = linear(features).squeeze(-1).cpu().numpy()
                variance = (p / (1 - p)) * ((features * weights) ** 2).sum(dim=-1)
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
    """
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
                        draws[k, start:stop] = model.head(features).squeeze(-1).cpu().numpy()
                    model.head.eval()
                else:
                    for module in _dropouts(model):
                        module.train()
                    for k in range(passes):
                        draws[k, start:stop] = model(batch)[PREDICTION_KEY].cpu().numpy()
                    model.eval()
    finally:
        model.eval()
    return draws


# The store ---------------------------------------------------------------------------------


def tiles(shape: tuple[int, int], tile_cells: int) -> list[tuple[slice, slice]]:
    """(row, column) slices of the tiles covering a grid, row by row."""
    return [
        (slice(r, min(r + tile_cells, shape[0])), slice(c, min(c + tile_cells, shape[1])))
        for r in range(0, shape[0], tile_cells)
        for c in range(0, shape[1], tile_cells)
    ]


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
    product["sm_uncertainty"].attrs = {
        "long_name": "standard deviation of Monte-Carlo-dropout estimates of sm",
        "units": "m3 m-3",
        "comment": f"{params.production.mc_passes} passes with dropout active; NaN where not available",
    }
    product["sm_flag"].attrs = {
        "long_name": "quality flags of sm",
        "flag_masks": np.array(list(FLAG_BITS.values()), dtype=np.uint8),
        "flag_meanings": " ".join(FLAG_BITS),
        "comment": f"frozen_suspected: LST input below {FROZEN_LST_K} K; masks from MODIS MCD12C1",
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
    x, _ = _read_points(ds, params, land_rows + rows.start, land_cols + cols.start, calendar)
    settings = params.production
    unit_seed = params.seed * 1_000_003 + year * 100_003 + rows.start * 1_009 + cols.start
    sm, spread = applied.estimate(x, settings.mc_passes, settings.batch_size, unit_seed)
    out["sm"][:, land_rows, land_cols] = np.clip(sm[:, central], 0.0, SM_MAX).T
    out["sm_uncertainty"][:, land_rows, land_cols] = spread[:, central].T
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
    if final.exists():
        log.info("product exists: %s", final)
        return final
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
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    done_dir = partial / ".done"
    if not partial.exists():
        _template(ds, params, times, applied).to_zarr(
            partial, compute=False, zarr_format=2, consolidated=True
        )
        done_dir.mkdir()
    elif not pd.DatetimeIndex(xr.open_zarr(partial, consolidated=True)["time"].values).equals(times):
        raise ValueError(f"{partial}: an interrupted product for other years; delete it to start again")
    year_starts = {year: int(np.flatnonzero(times.year == year)[0]) for year in years}
    tile_list = tiles(ds["mask"].shape, params.production.tile_cells)
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


def open_product(params: Params) -> xr.Dataset:
    """Open the finished product lazily."""
    path = product_path(params)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no product; run notebook 04 (helpers.production.produce)")
    return xr.open_zarr(path, consolidated=True)
