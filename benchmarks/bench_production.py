"""Benchmark of production (:mod:`helpers.production`): throughput, memory and projections.

Everything is measured on this machine, in one invocation of this script, with the demo run of
``make demo`` (``outputs/demo/data/cube.zarr``, 1.5 degree, and the trained
``outputs/demo/data/atlstm.pt``); no figure is written into the script and nothing timed is
asserted. Pixel-days are land cells (``mask`` = land) x days of the produced year (2001: 365),
i.e. the days that end up in the product. The "range" of a repeated figure is its min-max over
the repeats.

Production runs with ``production.blend_days: 0`` (one run per produced year, switched at
1 January) unless a row says otherwise: that is the steady state of a long record, where a
tile's years share their runs in memory and each yearly run is computed once. With the default
blend, a job that produces one year Y of a cube holding Y-1 and Y+1 computes three runs per
tile (Y-1, Y, Y+1) for the days it blends; one extra row measures that.

Two grids: the demo grid (120 x 240 cells) and a grid four times larger (240 x 480, 0.75
degree), synthetic: the demo cube's 2000-2002 (the produced year and both neighbours, so that
the margins are read from real neighbouring years as on the demo grid) repeated 2 x 2 in space
on new 0.75-degree coordinates, with the demo cube's variables, attributes, dtypes, encodings
and chunk shapes, and the settings record (the cube's key) of the demo params on that grid, so
that :func:`helpers.cube.open_cube` accepts it (with ``--quick``, the crop is made the same way).

1. The bare model on production's own batches, per grid: the inputs of 2001 are read exactly
   as production reads them, tile by tile (``params.to_grid().tiles(production.tile_cells)``,
   the tile's land cells, :func:`helpers.sampling.sequence_calendar` and
   :func:`helpers.sampling.read_points`: 30 + 365 + 30 days x the cube's features, float32),
   and kept in memory, one array per tile. Then :meth:`helpers.production.Applied.estimate`
   (``production.mc_passes``, ``production.batch_size``; estimate and spread, by the method
   production uses: the spread head when the demo has one, else Monte-Carlo dropout, named in
   the rows) runs over every tile in turn, so the batches are exactly production's, each
   tile's last partial batch included: one warm-up pass over all tiles, then several timed
   passes; the median and the range of the passes are given. Torch's CPU threads are those
   of the synchronous production (:func:`helpers.training.set_threads`). On the demo grid the
   forward pass alone (:func:`helpers.training.predict` on the same normalised tiles) is given
   too, and, on a machine with CUDA, the bare model on the GPU as well as on the CPU (the 4x
   grid's bare model runs on production's device only).
2. End-to-end throughput: :func:`helpers.production.produce` writes year 2001 in a fresh
   subprocess, right after the bare model of the same grid: on the demo grid with
   ``dask.scheduler: synchronous`` (one process), with the default local cluster (one worker
   process per core, one torch thread each; its start-up is counted, as a user pays it), and
   synchronous with the default ``blend_days`` (three runs per tile, see above); on the 4x grid
   synchronous. The time is that of the whole ``produce`` call: model loading, the Zarr
   template, reading the cube, the model, the blend, the flags and the writes. One run each.
   The ratio synchronous production / bare model (median) is the share of the model's speed
   that the pipeline keeps, given for both grids, with the project's goal (at least 0.85 on
   the 4x grid) said met or not; the range beside it comes from the bare model's range.
3. The sliding-window alternative of per-day LSTM tools: one 31-day sequence ending on each
   predicted day (the 30 days before it and the day itself), so every predicted pixel-day
   costs a 31-step pass. In each of several repeats, one full production batch
   (``production.batch_size`` of the demo grid's 425-day sequences, from the tiles above) and
   the windows of the days of its first few cells (in batches holding the same number of input
   days as production's batches: ``batch_size x 425 / 31`` windows) go through
   ``Applied.estimate`` on the CPU, one after the other; only the central days of a sequence
   and the last day of a window count. The speed-up of a repeat is the sequences' pixel-days/s
   over the windows'; the median and range of the repeats are given (after one warm-up).
4. Peak memory: the peak resident set size of the subprocess that runs the synchronous
   production (``VmHWM`` of ``/proc/self/status``, read by the subprocess itself; with it the
   size after the imports, before ``produce``), on both grids. Not ``ru_maxrss``: Linux carries
   it over fork and exec, so a child's figure (and its parent's ``RUSAGE_CHILDREN``) is at
   least the parent's size at the fork, here that of the process holding the in-memory tiles
   (they are released before each production subprocess starts). Production's memory should
   not grow with the grid: it is bounded by the runs of one tile and, mostly, one batch of
   activations (``production.batch_size``).
5. Last, the time for one global 0.05-degree year (7200 x 3600 cells, times the demo grid's
   land share) and for 1982-2021 at the best measured end-to-end throughput of the
   ``blend_days: 0`` runs, naming its run and device.

How the runs reach the demo data without touching it: each run's params are the demo params
copied with ``model_copy(update=...)`` (as :mod:`helpers.experiments` changes nested sections):
``outputs_dir`` a scratch folder under ``.bench_tmp/production``, ``production.years=[2001]``,
``production.model_path`` the demo's ``atlstm.pt``, ``production.blend_days`` and the
``dask.scheduler`` of the run. A run's datacube is always ``<outputs_dir>/<run_name>/data/cube.zarr``
(``Params.cube_path`` is derived, not a setting), so the scratch run's ``data/cube.zarr`` is a
symbolic link to the cube, and its spread head and calibration files
(:func:`helpers.production.spread_head_path`, :func:`helpers.production.calibration_path`),
when the demo has them, links to the demo's: the bare model and the pipeline load the same
model, spread method and calibration (a calibration record this code cannot read, of an older
format, is left out, so that production does not refuse it; the bare model's rows say so). Without
the demo's spread head, both fall back to Monte-Carlo dropout (with a warning). The real pipeline, dask workers included (they open the
cube from the params), thus reads the real cube, and the product is written in the scratch
folder, never beside the demo's. ``.bench_tmp/production`` is removed afterwards.

With ``--quick`` (a check that the script works, not a measurement), the grids are a 60 x 60
crop of the demo cube and its 2 x 2 repetition, the sliding-window sample is small, and the
results go to ``results/production_quick.json`` so that they never replace real ones.

Usage: ``python benchmarks/bench_production.py [--quick]`` (part of ``make bench``; needs the
demo run, and stops at once when the demo cube was made with other settings than the demo
params give now, which production would refuse; ``--quick`` only notes it). Meant to take about 10 minutes on 2 idle cores (most of it the bare model's passes
over the 4x grid); the last row gives its wall time. Results go to
``benchmarks/results/production.json`` and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from report import report

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "outputs" / "demo" / "data"
SCRATCH = ROOT / ".bench_tmp" / "production"
YEAR = 2001
NEIGHBOURS = (YEAR - 1, YEAR + 1)  # years of the synthetic cube
WINDOW = 31  # days of a sliding-window sequence
GOAL = 0.85  # the project's goal for production / bare model on the 4x grid
GLOBAL_CELLS = 7200 * 3600  # the 0.05-degree global grid
LONG_RUN = (1982, 2021)
QUICK_CROP = (slice(60, 120), slice(120, 180))  # one 60 x 60 tile of the demo grid (--quick)
# timed passes of the bare model over a grid's tiles; repeats and cells of the sliding windows
FULL = {"bare_repeats": 3, "window_repeats": 5, "window_cells": 48}
QUICK = {"bare_repeats": 3, "window_repeats": 3, "window_cells": 4}


LINK_NOTES: set[str] = set()  # demo files that could not be linked into the scratch runs, and why


def note(text: str) -> None:
    print(f"[bench_production] {text}", file=sys.stderr, flush=True)


# Params and cubes --------------------------------------------------------------------------


def run_params(outputs_dir: Path, scheduler: str, grid: dict | None = None, blend_days: int | None = 0):
    """The demo params for one benchmark run: year 2001, the demo model, outputs under ``outputs_dir``.

    ``blend_days`` is set to the given value (0: one run per year); None keeps the default.
    """
    from helpers.params import GridParams, load_params

    params = load_params(ROOT / "params" / "demo.yaml")
    production = {"years": [YEAR], "model_path": DEMO / "atlstm.pt"}
    if blend_days is not None:
        production["blend_days"] = blend_days
    updates = {
        "outputs_dir": Path(outputs_dir),
        "run_name": "bench",
        "production": params.production.model_copy(update=production),
        "dask": params.dask.model_copy(update={"scheduler": scheduler}),
    }
    if grid is not None:
        updates["grid"] = GridParams(**grid)
    return params.model_copy(update=updates)


def link_run(
    outputs_dir: Path, cube: Path, scheduler: str, grid: dict | None = None, blend_days: int | None = 0
):
    """A scratch run whose ``data/cube.zarr`` links to ``cube`` and whose spread head and
    calibration files link to the demo's (when it has them); returns its params."""
    from helpers import production

    params = run_params(outputs_dir, scheduler, grid, blend_days)
    params.data_dir.mkdir(parents=True, exist_ok=True)
    params.cube_path.symlink_to(cube.resolve(), target_is_directory=True)
    for path in (production.spread_head_path(params), production.calibration_path(params)):
        demo_file = DEMO / path.name
        if demo_file.exists():
            path.symlink_to(demo_file.resolve())
    try:
        production.read_calibration(params)
    except ValueError as exc:  # a record of an older format: production would refuse it
        path = production.calibration_path(params)
        path.unlink()
        demo_file = (DEMO / path.name).relative_to(ROOT)
        LINK_NOTES.add(f"{str(exc).replace(str(path), str(demo_file))}: not linked, so uncalibrated")
    return params


def stale_demo_cube() -> str:
    """What differs between the demo cube's recorded settings and the benchmark's params ('' if nothing)."""
    from helpers import keys
    from helpers.cube import cube_settings, stored_cube_settings

    wanted = cube_settings(run_params(SCRATCH, "synchronous"))
    return "; ".join(keys.differences(stored_cube_settings(DEMO / "cube.zarr"), wanted))


def synthetic_cube(source: Path, dest: Path, factor: int, crop: tuple[slice, slice] | None) -> dict:
    """Write the demo cube's years ``NEIGHBOURS`` repeated ``factor x factor`` in space to ``dest``.

    Variables, attributes, dtypes, fill values and chunk shapes are the source's; the new
    cells are ``factor`` times smaller. The cube's recorded settings and key are those of the
    benchmark's params on the new grid (:func:`helpers.cube.cube_settings`), so that
    :func:`helpers.cube.open_cube` accepts it. Returns the ``grid`` section (resolution, bbox).
    """
    import dask.array as da
    import xarray as xr

    from helpers import keys
    from helpers.cube import KEY_ATTR, SETTINGS_ATTR, cube_settings

    src = xr.open_zarr(source, consolidated=True).sel(time=slice(str(NEIGHBOURS[0]), str(NEIGHBOURS[1])))
    if crop is not None:
        src = src.isel(lat=crop[0], lon=crop[1])
    coords = {"time": src["time"].variable.copy()}
    for name in ("lat", "lon"):
        values = src[name].values
        step = float(values[1] - values[0]) / factor
        edge = values[0] - factor * step / 2
        coords[name] = (name, edge + step * (np.arange(values.size * factor) + 0.5), src[name].attrs)
    data, encoding = {}, {}
    for name, var in src.data_vars.items():
        reps = (1,) * (var.ndim - 2) + (factor, factor)
        chunks = tuple(min(c, n * r) for c, n, r in zip(var.encoding["chunks"], var.shape, reps, strict=True))
        data[name] = (var.dims, da.tile(var.data, reps).rechunk(chunks), var.attrs)
        encoding[name] = {"chunks": chunks}
        if "_FillValue" in var.encoding:
            encoding[name]["_FillValue"] = var.encoding["_FillValue"]
    cube = xr.Dataset(data, coords=coords, attrs=src.attrs)
    cube["time"].encoding = {
        k: v for k, v in src["time"].encoding.items() if k in ("units", "calendar", "dtype")
    }
    cube.attrs["comment"] = f"benchmark cube: the demo cube repeated {factor} x {factor} in space"
    lat, lon = cube["lat"].values, cube["lon"].values
    res = abs(float(lon[1] - lon[0]))
    grid = {
        "resolution": res,
        "bbox": [
            float(lon.min() - res / 2),
            float(lat.min() - res / 2),
            float(lon.max() + res / 2),
            float(lat.max() + res / 2),
        ],
    }
    # open_cube refuses a cube whose recorded settings differ from the params': record those
    # of the benchmark's params on this grid (the demo's, but for the grid), as build_cube does.
    settings = cube_settings(run_params(dest.parent, "synchronous", grid))
    cube.attrs[SETTINGS_ATTR], cube.attrs[KEY_ATTR] = keys.canonical(settings), keys.digest(settings)
    cube.to_zarr(dest, zarr_format=2, consolidated=True, encoding=encoding)
    return grid


# Production in a subprocess ----------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process's address space (MB): VmHWM, else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux, bytes on macOS


def produce_child(config: dict) -> None:
    """Run ``produce`` for one scratch run in this (fresh) process; print a JSON record."""
    sys.path.insert(0, str(ROOT / "src"))
    import xarray as xr

    from helpers.cube import MASK_VALUES, open_cube
    from helpers.production import VARIABLES, device_of, produce

    params = run_params(
        Path(config["outputs_dir"]), config["scheduler"], config["grid"], config["blend_days"]
    )
    before = peak_rss_mb()
    start = time.perf_counter()
    path = produce(params, progress=False)
    seconds = time.perf_counter() - start
    product = xr.open_zarr(path, consolidated=True)
    ds = open_cube(params)
    land = int((ds["mask"].values == MASK_VALUES["land"]).sum())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "land_cells": land,
                "days": int(product.sizes["time"]),
                "shape": list(ds["mask"].shape),
                "device": device_of(params),
                "blend_days": params.production.blend_days,
                "spread_method": product["sm_uncertainty"].attrs.get("spread_method", "?"),
                "variables": [name for name in VARIABLES if name in product],
                "peak_rss_mb": peak_rss_mb(),
                "rss_before_produce_mb": before,
            }
        )
    )


def produce_in_subprocess(
    outputs_dir: Path, scheduler: str, grid: dict | None, blend_days: int | None = 0
) -> dict:
    config = {"outputs_dir": str(outputs_dir), "scheduler": scheduler, "grid": grid, "blend_days": blend_days}
    note(f"production in a subprocess: {outputs_dir.name}")
    done = subprocess.run(
        [sys.executable, __file__, "--produce", json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"production subprocess failed ({outputs_dir.name}):\n{done.stderr[-4000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["pixel_days"] = record["land_cells"] * record["days"]
    record["pixel_days_per_s"] = record["pixel_days"] / record["seconds"]
    return record


# The model on in-memory inputs -------------------------------------------------------------


def tile_inputs(params) -> tuple[list[np.ndarray], np.ndarray]:
    """The inputs of ``YEAR`` as production reads them: one (land cells, days, features) array
    per tile that has land, in production's tile order; and the calendar's central days."""
    import pandas as pd

    from helpers.cube import MASK_VALUES, open_cube
    from helpers.sampling import read_points, sequence_calendar

    ds = open_cube(params)
    calendar = sequence_calendar(pd.DatetimeIndex(ds["time"].values), YEAR)
    tiles = []
    for rows, cols, _ in params.to_grid().tiles(params.production.tile_cells):
        mask = ds["mask"].isel(lat=rows, lon=cols).values
        land_rows, land_cols = np.nonzero(mask == MASK_VALUES["land"])
        if land_rows.size:
            x, _ = read_points(ds, params, land_rows + rows.start, land_cols + cols.start, calendar)
            tiles.append(x)
    return tiles, calendar["central"].to_numpy()


def facts_of(tiles: list[np.ndarray]) -> dict:
    """Tiles with land, land cells, and the (days, features) of a sequence."""
    return {"tiles": len(tiles), "land": sum(len(x) for x in tiles), "shape": tiles[0].shape[1:]}


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def timed_passes(function, repeats: int) -> list[float]:
    """Seconds of ``repeats`` calls of ``function``, after one warm-up call."""
    function()
    return [timed(function) for _ in range(repeats)]


def median_range(values: list[float], digits: int = 0) -> str:
    """``median of n, range min-max`` of repeated figures."""
    low, high = (round(v, digits) if digits else round(v) for v in (min(values), max(values)))
    return f"median of {len(values)}, range {low}-{high}"


def bare_model(applied, tiles: list[np.ndarray], params, days: int, repeats: int) -> dict:
    """Pixel-days/s of ``Applied.estimate`` over every tile in turn, per timed pass; the model's
    name, spread method and calibration."""
    settings = params.production
    pixel_days = sum(len(x) for x in tiles) * days

    def one_pass() -> None:
        for x in tiles:
            applied.estimate(x, settings.mc_passes, settings.batch_size, params.seed)

    seconds = timed_passes(one_pass, repeats)
    return {
        "speeds": [pixel_days / s for s in seconds],
        "seconds": float(np.median(seconds)),
        "name": applied.name,
        "spread_method": applied.spread_method,
        "calibrated": applied.calibrated,
    }


def forward_only(applied, tiles: list[np.ndarray], params, days: int, repeats: int) -> dict:
    """Pixel-days/s of the forward pass alone (:func:`helpers.training.predict`) over every tile."""
    from helpers.inputs import normalise
    from helpers.training import predict

    batch_size = params.production.batch_size
    normalised = [normalise(x, applied.mean, applied.scale) for x in tiles]
    pixel_days = sum(len(x) for x in tiles) * days

    def one_pass() -> None:
        for z in normalised:
            predict(applied.model, z, batch_size=batch_size)

    seconds = timed_passes(one_pass, repeats)
    return {"speeds": [pixel_days / s for s in seconds], "seconds": float(np.median(seconds))}


def sliding_windows(x: np.ndarray, central: np.ndarray) -> np.ndarray:
    """One ``WINDOW``-day sequence ending on each central day: (n x days, WINDOW, features)."""
    ends = np.flatnonzero(central)
    assert ends[0] >= WINDOW - 1, "the margin must hold a window's earlier days"
    windows = np.stack([x[:, end - WINDOW + 1 : end + 1] for end in ends], axis=1)
    return windows.reshape(-1, WINDOW, x.shape[-1])


def one_batch(tiles: list[np.ndarray], batch_size: int) -> np.ndarray:
    """The first ``batch_size`` sequences of the tiles (fewer if the grid has fewer land cells)."""
    parts, count = [], 0
    for x in tiles:
        parts.append(x[: batch_size - count])
        count += len(parts[-1])
        if count >= batch_size:
            break
    return np.concatenate(parts)


def sliding_comparison(applied, tiles: list[np.ndarray], central: np.ndarray, params, sizes: dict) -> dict:
    """Per repeat, pixel-days/s of one production batch of sequences and of the sliding windows
    of its first cells, timed one after the other (after one warm-up of each)."""
    settings = params.production
    sequences = one_batch(tiles, settings.batch_size)
    cells = min(sizes["window_cells"], len(sequences))
    windows = sliding_windows(sequences[:cells], central)
    batch = max(1, settings.batch_size * sequences.shape[1] // WINDOW)
    days = int(central.sum())

    def run_sequences() -> None:
        applied.estimate(sequences, settings.mc_passes, settings.batch_size, params.seed)

    def run_windows() -> None:
        applied.estimate(windows, settings.mc_passes, batch, params.seed)

    run_sequences()
    run_windows()
    seq_speeds, window_speeds = [], []
    for _ in range(sizes["window_repeats"]):
        seq_speeds.append(len(sequences) * days / timed(run_sequences))
        window_speeds.append(len(windows) / timed(run_windows))
    return {
        "sequences": len(sequences),
        "sequence_days": sequences.shape[1],
        "cells": cells,
        "windows": len(windows),
        "batch": batch,
        "sequence_speeds": seq_speeds,
        "window_speeds": window_speeds,
        "speedups": [a / b for a, b in zip(seq_speeds, window_speeds, strict=True)],
    }


# The benchmark -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grids and samples: check that it works")
    parser.add_argument("--produce", help=argparse.SUPPRESS)  # internal: one production subprocess
    args = parser.parse_args()
    if args.produce:
        produce_child(json.loads(args.produce))
        return
    sys.path.insert(0, str(ROOT / "src"))
    for needed in (DEMO / "cube.zarr", DEMO / "atlstm.pt"):
        if not needed.exists():
            raise SystemExit(f"{needed}: missing; run the demo first (make demo)")
    stale = stale_demo_cube()
    if stale and not args.quick:  # production would refuse it (helpers.cube.open_cube)
        raise SystemExit(
            f"{DEMO / 'cube.zarr'}: made with other settings ({stale}); rerun the demo (make demo)"
        )
    if stale:
        note(f"the demo cube was made with other settings ({stale}); --quick goes on with a crop of it")
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    try:
        rows = measure(FULL if not args.quick else QUICK, args.quick)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
        if not any(SCRATCH.parent.iterdir()):
            SCRATCH.parent.rmdir()
    title = f"Production of {YEAR}: throughput, memory and projections" + (
        " (--quick: NOT a measurement)" if args.quick else ""
    )
    report("production_quick" if args.quick else "production", title, rows)


def measure(sizes: dict, quick: bool) -> list[dict]:
    import pandas as pd
    import torch
    import xarray as xr

    from helpers.cube import MASK_VALUES
    from helpers.production import Applied, device_of
    from helpers.training import set_threads

    wall = time.perf_counter()
    repeats = sizes["bare_repeats"]

    # The grids: the demo cube (a crop of it with --quick) and the synthetic 4x cube.
    note("building the cubes")
    if quick:
        demo_cube = SCRATCH / "cubes" / "demo_crop.zarr"
        demo_grid = synthetic_cube(DEMO / "cube.zarr", demo_cube, 1, QUICK_CROP)
    else:
        demo_cube, demo_grid = DEMO / "cube.zarr", None
    start = time.perf_counter()
    big_cube = SCRATCH / "cubes" / "grid_4x.zarr"
    big_grid = synthetic_cube(DEMO / "cube.zarr", big_cube, 2, QUICK_CROP if quick else None)
    build_s = time.perf_counter() - start
    land_share = float((xr.open_zarr(DEMO / "cube.zarr")["mask"].values == MASK_VALUES["land"]).mean())

    params = link_run(SCRATCH / "demo_sync", demo_cube, "synchronous", demo_grid)
    link_run(SCRATCH / "demo_local", demo_cube, "local", demo_grid)
    link_run(SCRATCH / "demo_blend", demo_cube, "synchronous", demo_grid, blend_days=None)
    big_params = link_run(SCRATCH / "grid_4x", big_cube, "synchronous", big_grid)
    settings = params.production
    device = device_of(params)  # production's device (the same for every run)
    set_threads(params)  # as the synchronous production does
    threads = torch.get_num_threads()

    # 1, 3: the bare model on the demo grid's tiles (CPU, and CUDA where there is one), the
    # forward pass alone and the sliding windows; then 2, 4: production of the demo grid.
    bare: dict[tuple[str, str], dict] = {}
    measured: dict[str, dict] = {}
    note("reading the demo grid's tiles")
    start = time.perf_counter()
    tiles, central = tile_inputs(params)
    read_s = {"demo": time.perf_counter() - start}
    days = int(central.sum())
    tile_facts = {"demo": facts_of(tiles)}
    for where in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        applied = Applied.load(params, device=where)
        note(f"bare model, demo grid, {where}")
        bare["demo", where] = bare_model(applied, tiles, params, days, repeats)
        if where == "cpu":
            note("forward pass alone, demo grid, cpu")
            measured["forward"] = forward_only(applied, tiles, params, days, repeats)
            note("sliding windows, cpu")
            measured["windows"] = sliding_comparison(applied, tiles, central, params, sizes)
        del applied
    del tiles
    gc.collect()
    runs = {
        "sync": produce_in_subprocess(SCRATCH / "demo_sync", "synchronous", demo_grid),
        "local": produce_in_subprocess(SCRATCH / "demo_local", "local", demo_grid),
        "blend": produce_in_subprocess(SCRATCH / "demo_blend", "synchronous", demo_grid, None),
    }

    # 1, 2, 4: the bare model on the 4x grid's tiles (production's device), then its production.
    note("reading the 4x grid's tiles")
    start = time.perf_counter()
    tiles, _ = tile_inputs(big_params)
    read_s["4x"] = time.perf_counter() - start
    tile_facts["4x"] = facts_of(tiles)
    applied = Applied.load(big_params, device=device)
    note(f"bare model, 4x grid, {device}")
    bare["4x", device] = bare_model(applied, tiles, big_params, days, repeats)
    del applied, tiles
    gc.collect()
    runs["4x"] = produce_in_subprocess(SCRATCH / "grid_4x", "synchronous", big_grid)

    # The rows.
    rows: list[dict] = []

    def row(figure: str, value: float, unit: str, detail: str = "") -> None:
        rows.append({"figure": figure, "value": value, "unit": unit, "detail": detail})
        print(f"  {figure}: {value} {unit} {detail}", file=sys.stderr, flush=True)

    grid_name = {"demo": "demo grid" if not quick else "demo-grid crop", "4x": "4x grid"}
    shape = {
        "demo": f"{grid_name['demo']} {'x'.join(map(str, runs['sync']['shape']))}",
        "4x": f"4x grid {'x'.join(map(str, runs['4x']['shape']))} (synthetic)",
    }
    for (grid, where), result in bare.items():
        facts = tile_facts[grid]
        speeds = result["speeds"]
        row(
            f"bare model {result['name']}: Applied.estimate on production's batches, {shape[grid]}, {where}",
            round(float(np.median(speeds))),
            "pixel-days/s",
            f"{median_range(speeds)} pixel-days/s ({result['seconds']:.2f} s per pass) after a warm-up pass;"
            f" uncertainty: {result['spread_method']}, mc_passes {settings.mc_passes},"
            f" calibrated: {'yes' if result['calibrated'] else 'no'}; {facts['tiles']} tiles with land"
            f" (tile_cells {settings.tile_cells}), {facts['land']} land cells x {days} days of {YEAR},"
            f" sequences of {facts['shape'][0]} days x {facts['shape'][1]} features in batches of"
            f" {settings.batch_size} (each tile's last partial); {threads} torch threads"
            f" (inputs read in {read_s[grid]:.1f} s, not timed)"
            + "".join(f"; {text}" for text in sorted(LINK_NOTES)),
        )
        if (grid, where) == ("demo", "cpu"):
            forward = measured["forward"]["speeds"]
            row(
                f"bare model {result['name']}: forward pass only (helpers.training.predict), {shape['demo']}, cpu",
                round(float(np.median(forward))),
                "pixel-days/s",
                f"{median_range(forward)} pixel-days/s ({measured['forward']['seconds']:.2f} s per pass);"
                " the same tiles and batches, normalised beforehand",
            )
    labels = {
        "sync": f"production, {shape['demo']}, synchronous",
        "local": f"production, {grid_name['demo']}, local dask cluster (one worker per core, start-up counted)",
        "blend": f"production, {grid_name['demo']}, synchronous, default blend_days"
        f" {runs['blend']['blend_days']}",
        "4x": f"production, {shape['4x']}, synchronous",
    }
    for key in ("sync", "local", "blend", "4x"):
        run = runs[key]
        bare_method = next(iter(bare.values()))["spread_method"]
        method = f"uncertainty: {run['spread_method']}"
        if run["spread_method"] != bare_method:
            method += f" (the bare model's: {bare_method}!)"
        if key == "blend":
            extra = (
                f"; a one-year job: each tile computes the runs of {YEAR - 1}, {YEAR} and {YEAR + 1}"
                f" to blend; {run['pixel_days_per_s'] / runs['sync']['pixel_days_per_s']:.2f} of the"
                f" blend_days 0 run; peak RSS {run['peak_rss_mb']:.0f} MB"
                if run["blend_days"]
                else "; the default is blend_days 0: the same job as the first row"
            )
        else:
            extra = f"; blend_days {run['blend_days']} (one run per year: a long record's steady state)"
        row(
            f"{labels[key]}, {run['device']}",
            round(run["pixel_days_per_s"]),
            "pixel-days/s",
            f"{run['land_cells']} land cells x {run['days']} days in {run['seconds']:.1f} s;"
            f" {len(run['variables'])} variables; {method}{extra}",
        )
    for grid, key in (("demo", "sync"), ("4x", "4x"), ("demo", "local")):
        run = runs[key]
        speeds = bare[grid, run["device"]]["speeds"]
        ratio = run["pixel_days_per_s"] / float(np.median(speeds))
        how = "synchronous" if key != "local" else "local dask cluster"
        threads_note = ""
        if run["device"] == "cpu":
            threads_note = (
                f"; the cluster's workers run torch on 1 thread each, the bare model on {threads}"
                if key == "local"
                else f"; both on {threads} torch threads"
            )
        row(
            f"ratio production ({how}, blend_days 0) / bare model, {shape[grid]} ({run['device']})",
            round(ratio, 3),
            "",
            f"goal >= {GOAL} {'met' if ratio >= GOAL else 'NOT met'}"
            f"{' (the goal is set for the 4x grid)' if grid != '4x' else ''};"
            f" {run['pixel_days_per_s']:.0f} (one run) / {np.median(speeds):.0f} pixel-days/s (bare, median);"
            f" {run['pixel_days_per_s'] / max(speeds):.3f}-{run['pixel_days_per_s'] / min(speeds):.3f}"
            f" over the bare model's range{threads_note}",
        )
    windows = measured["windows"]
    row(
        f"sliding window: one {WINDOW}-day sequence per predicted day, Applied.estimate, cpu",
        round(float(np.median(windows["window_speeds"]))),
        "pixel-days/s",
        f"{median_range(windows['window_speeds'])}; {windows['windows']} windows ending on the {days} days of"
        f" {windows['cells']} cells, batches of {windows['batch']} ({settings.batch_size} x"
        f" {windows['sequence_days']} / {WINDOW} days)",
    )
    row(
        f"speed-up of {windows['sequence_days']}-day sequences over {WINDOW}-day sliding windows, cpu",
        round(float(np.median(windows["speedups"])), 1),
        "x",
        f"{median_range(windows['speedups'], 1)}; per repeat, one batch of {windows['sequences']} sequences"
        f" ({np.median(windows['sequence_speeds']):.0f} pixel-days/s, {median_range(windows['sequence_speeds'])})"
        " and the windows above, timed one after the other, after a warm-up of each",
    )
    for key in ("sync", "4x"):
        row(
            f"peak RSS, {labels[key].removeprefix('production, ')}",
            round(runs[key]["peak_rss_mb"]),
            "MB",
            f"{runs[key]['rss_before_produce_mb']:.0f} MB before produce (imports);"
            f" tile_cells {settings.tile_cells}, batch_size {settings.batch_size}, blend_days 0",
        )
    row(
        "peak RSS ratio 4x grid / demo grid, synchronous",
        round(runs["4x"]["peak_rss_mb"] / runs["sync"]["peak_rss_mb"], 3),
        "",
        f"land cells x {runs['4x']['land_cells'] / runs['sync']['land_cells']:.2f}",
    )
    row(f"build of the synthetic 4x cube ({NEIGHBOURS[0]}-{NEIGHBOURS[1]})", round(build_s, 1), "s")

    # 5: projections at the best end-to-end throughput of the blend_days 0 runs.
    best = max(("sync", "local", "4x"), key=lambda key: runs[key]["pixel_days_per_s"])
    speed = runs[best]["pixel_days_per_s"]
    cells = round(GLOBAL_CELLS * land_share)
    long_days = pd.date_range(f"{LONG_RUN[0]}-01-01", f"{LONG_RUN[1]}-12-31").size
    basis = (
        f"at {speed:.0f} pixel-days/s ({labels[best].removeprefix('production, ')}, {runs[best]['device']})"
    )
    row(
        f"projected: one global 0.05 degree year ({cells} land cells, land share {land_share:.3f} of the demo"
        " grid, 365 days)",
        round(cells * 365 / speed / 3600, 1),
        "hours",
        basis,
    )
    row(
        f"projected: {LONG_RUN[0]}-{LONG_RUN[1]} ({long_days} days) at 0.05 degree",
        round(cells * long_days / speed / 86400, 1),
        "days",
        basis,
    )
    row(
        "benchmark wall time",
        round(time.perf_counter() - wall),
        "s",
        "without Python start-up" if not quick else "--quick",
    )
    return rows


if __name__ == "__main__":
    main()
