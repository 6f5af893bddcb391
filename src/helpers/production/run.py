"""Running production: units of work, the dask cluster, Zarr region writing and resume.

Per tile of ``production.tile_cells`` x ``production.tile_cells`` cells, the unmasked land
cells are read as one sequence per year (:func:`year_run`), exactly as the training samples
(:func:`helpers.sampling.sequence_calendar`), and the product of each year is its own run,
blended near 1 January with the neighbouring years' runs (:mod:`helpers.production.seams`).

A tile's years run one after the other in one task, keeping the runs a year shares with its
neighbours in memory (at most three), so each run is computed once. Each (tile, year) is one
unit, written into its own region of the Zarr store with ``to_zarr(region=...)``; spatial
chunks divide the tile, so no two tiles share a chunk and tiles write in parallel safely. The
store is built as ``data/product.zarr.partial``; a marker file per finished unit
(``.done/<year>_<tile>``) lets a killed run resume where it stopped, and the store is renamed
to ``data/product.zarr`` when every unit is done. A unit's values depend only on its inputs,
the model and the seeds of its runs, so a resumed product is identical to an uninterrupted one
(tested): a resumed tile recomputes the one run it needs from before the kill.

Memory does not grow with the grid: a worker holds three runs of one tile and one batch of
activations. The batch dominates (the AtLSTM's attention holds a 425 x 425 matrix per
sequence: about 0.5 GB at ``production.batch_size`` 256), so lower the batch size, not the
tile, to save memory.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from helpers import inputs, keys
from helpers.cube import MASK_VALUES, dynamic_features, open_cube
from helpers.io import remove
from helpers.params import Params
from helpers.production.apply import SM_MAX, Applied
from helpers.production.files import model_file, product_path
from helpers.production.seams import YearRun, blended_year, runs_needed
from helpers.production.store import (
    FLAG_BITS,
    PARTIAL_SUFFIX,
    flags,
    interval_level,
    new_store,
    product_settings,
    stored_settings,
)
from helpers.progress import progress_bar
from helpers.sampling import read_points, sequence_calendar
from helpers.training import set_threads

log = logging.getLogger(__name__)


def unit_name(year: int, tile: int) -> str:
    """The finished-unit marker's name of (year, tile)."""
    return f"{year}_{tile:05d}"


def unit_seed(params: Params, year: int, rows: slice, cols: slice) -> int:
    """Seed of the dropout passes of one tile's run of ``year``."""
    return params.seed * 1_000_003 + year * 100_003 + rows.start * 1_009 + cols.start


def year_run(ds: xr.Dataset, params: Params, applied: Applied, year: int, rows: slice, cols: slice) -> YearRun:
    """The run of ``year`` over the tile's land cells: estimate, raw spread, and the days of the
    year with a missing input or none (:mod:`helpers.inputs`)."""
    times = pd.DatetimeIndex(ds["time"].values)
    calendar = sequence_calendar(times, year)
    land_rows, land_cols = np.nonzero(ds["mask"].isel(lat=rows, lon=cols).values == MASK_VALUES["land"])
    x, _ = read_points(ds, params, land_rows + rows.start, land_cols + cols.start, calendar)
    settings = params.production
    sm, spread = applied.estimate(x, settings.mc_passes, settings.batch_size, unit_seed(params, year, rows, cols))
    own = x[:, calendar["central"].to_numpy()]
    missing, no_input = inputs.missing_days(own), inputs.no_daily_input(own, len(dynamic_features(params)))
    return YearRun(pd.DatetimeIndex(calendar["date"]), sm, spread, missing, no_input)


def produce_unit(
    ds: xr.Dataset,
    params: Params,
    applied: Applied,
    year: int,
    rows: slice,
    cols: slice,
    runs: dict[int, YearRun] | None = None,
) -> dict[str, np.ndarray]:
    """The product's variables (days of ``year``, tile rows, tile cols).

    ``runs`` (year -> :class:`YearRun` of this tile) is a cache the caller keeps between the
    years of a tile; the runs it lacks are computed and added.
    """
    runs = {} if runs is None else runs
    times = pd.DatetimeIndex(ds["time"].values)
    in_year = np.flatnonzero(times.year == year)
    days = pd.DatetimeIndex(times[in_year]).normalize()
    mask = ds["mask"].isel(lat=rows, lon=cols).values
    shape = (days.size, mask.shape[0], mask.shape[1])
    out = {name: np.full(shape, np.nan, dtype=np.float32) for name in ("sm", "sm_uncertainty", "sm_lower", "sm_upper")}
    lst = ds["lst"].isel(time=in_year, lat=rows, lon=cols).values.reshape(days.size, -1)
    gap = ds["gap_flag"].isel(time=in_year, lat=rows, lon=cols).values.reshape(days.size, -1)
    out["sm_flag"] = flags(mask.ravel(), lst, gap).reshape(shape)
    land_rows, land_cols = np.nonzero(mask == MASK_VALUES["land"])
    if land_rows.size == 0:
        return out
    blend_days = params.production.blend_days
    for needed in runs_needed(year, sorted(set(times.year)), blend_days):
        if needed not in runs:
            runs[needed] = year_run(ds, params, applied, needed, rows, cols)
    sm, spread = blended_year(year, days, runs, blend_days)
    missing, no_input = runs[year].missing, runs[year].no_input
    sm = np.where(no_input, np.nan, np.clip(sm, 0.0, SM_MAX))
    spread = np.where(no_input, np.nan, applied.uncertainty_factor * spread)
    _, z = interval_level(applied)
    out["sm"][:, land_rows, land_cols] = sm.T
    out["sm_uncertainty"][:, land_rows, land_cols] = spread.T
    out["sm_lower"][:, land_rows, land_cols] = np.clip(sm - z * spread, 0.0, SM_MAX).T
    out["sm_upper"][:, land_rows, land_cols] = np.clip(sm + z * spread, 0.0, SM_MAX).T
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
    hold the end of one year and the start of the next and because neighbouring years share
    runs. Without ``ds`` and ``applied`` (on a dask worker), the datacube and the model are
    opened once per worker process and kept.
    """
    ds = worker_cube(params) if ds is None else ds
    applied = worker_model(params) if applied is None else applied
    done_dir = partial / ".done"
    runs: dict[int, YearRun] = {}
    for year, start in year_starts.items():
        marker = done_dir / unit_name(year, k)
        if marker.exists():
            continue
        values = produce_unit(ds, params, applied, year, rows, cols, runs)
        for old in [y for y in runs if y < year]:
            del runs[old]  # the next year needs this year's run and the next one's only
        region = {"time": slice(start, start + values["sm"].shape[0]), "lat": rows, "lon": cols}
        frame = xr.Dataset({name: (("time", "lat", "lon"), array) for name, array in values.items()})
        frame.to_zarr(partial, region=region, zarr_format=2)
        marker.touch()
    return k


_WORKER_STATE: dict[tuple[str, str], object] = {}


def worker_cube(params: Params) -> xr.Dataset:
    """The datacube, opened once per worker process."""
    key = ("cube", str(params.cube_path))
    if key not in _WORKER_STATE:
        _WORKER_STATE[key] = open_cube(params)
    return _WORKER_STATE[key]  # type: ignore[return-value]


def worker_model(params: Params) -> Applied:
    """The applied model, loaded once per worker process (one torch thread each)."""
    key = ("model", str(model_file(params)))
    if key not in _WORKER_STATE:
        torch.set_num_threads(1)  # one thread per worker process: the cluster spreads the cores
        _WORKER_STATE[key] = Applied.load(params)
    return _WORKER_STATE[key]  # type: ignore[return-value]


def cluster_client(settings):  # -> distributed.Client
    """A client of the cluster at ``dask.scheduler_address``, or of a local cluster of processes
    (``dask.n_workers``, default one per core, one thread each)."""
    import os

    from distributed import Client, LocalCluster

    if settings.scheduler_address is not None:
        return Client(settings.scheduler_address)
    workers = settings.n_workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return _ClusterClient(Client(cluster), cluster)


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
    resumed, skipping finished (tile, year) units. A store made with other settings (its key,
    :func:`helpers.production.store.product_settings`) is rebuilt with a warning naming each
    changed setting. Raises :class:`helpers.models.ModelFileError` naming the model file when
    it is missing or takes other features.
    """
    final = product_path(params)
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    applied = Applied.load(params)
    ds = open_cube(params) if ds is None else ds
    cube_years = sorted(set(pd.DatetimeIndex(ds["time"].values).year))
    years = params.production.years or cube_years
    missing = [y for y in years if y not in cube_years]
    if missing:
        raise ValueError(f"production.years {missing} are not in the datacube ({cube_years[0]}-{cube_years[-1]})")
    times = pd.DatetimeIndex(ds["time"].values)
    times = times[times.year.isin(years)]
    wanted = product_settings(applied, params, ds, times)
    for store in (final, partial):
        changed = keys.differences(stored_settings(store), wanted) if store.exists() else []
        if changed:
            log.warning("%s was made with other settings (%s); it is rebuilt", store, "; ".join(changed))
            remove(store)
    if final.exists():
        log.info("product exists: %s", final)
        return final
    done_dir = partial / ".done"
    if not partial.exists():
        new_store(ds, params, times, applied, wanted, partial)
    year_starts = {year: int(np.flatnonzero(times.year == year)[0]) for year in sorted(years)}
    tile_list = [(rows, cols) for rows, cols, _ in params.to_grid().tiles(params.production.tile_cells)]
    pending = [
        (k, rows, cols)
        for k, (rows, cols) in enumerate(tile_list)
        if any(not (done_dir / unit_name(year, k)).exists() for year in years)
    ]
    if len(pending) < len(tile_list):
        log.info("resuming %s: %d of %d tiles done", partial, len(tile_list) - len(pending), len(tile_list))
    bar = progress_bar(total=len(pending), desc="production", unit="tile", disable=not progress)
    settings = params.dask
    if settings.scheduler == "synchronous" and settings.scheduler_address is None:
        set_threads(params)
        for k, rows, cols in pending:
            produce_tile(params, partial, k, rows, cols, year_starts, ds=ds, applied=applied)
            bar.update()
    else:
        from distributed import as_completed

        with cluster_client(settings) as client:
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
