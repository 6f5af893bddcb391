"""Benchmark of production (:mod:`helpers.production`): throughput, memory and projections.

Everything is measured on this machine with the demo run of ``make demo``
(``outputs/demo/data/cube.zarr``, 1.5 degree, and the trained ``outputs/demo/data/atlstm.pt``);
no figure is written into the script. Pixel-days are land cells (``mask`` = land) x days of
the produced year, i.e. the days that end up in the product.

1. End-to-end throughput: :func:`helpers.production.produce` writes year 2001 of the demo grid
   (120 x 240) in a fresh subprocess, once with ``dask.scheduler: synchronous`` (one process)
   and once with the default local cluster (one worker process per core; its start-up is
   counted, as a user pays it). The time is that of the whole ``produce`` call: model loading,
   the Zarr template, reading the cube, the model, the flags and the writes.
2. The bare model on the same batch shape: ``production.batch_size`` sequences of 30 + 365 + 30
   days of real 2001 inputs of the demo cube, already in memory, through
   :meth:`helpers.production.Applied.estimate` with ``production.mc_passes`` (prediction and
   dropout spread, as production computes them), median of several repeats after a warm-up;
   only the 365 central days count as pixel-days. Forward pass only
   (:func:`helpers.training.predict`) is given too. The ratio production / bare model is the
   share of the model's speed that the pipeline keeps (the project's goal: at least 0.85).
3. The sliding-window alternative of per-day LSTM tools: one 31-day sequence ending on each
   predicted day (the 30 days before it and the day itself), so every predicted pixel-day
   costs a 31-step pass. Windows are cut from the same in-memory sequences, go through
   ``Applied.estimate`` like the 425-day ones, in batches holding the same number of input
   days as production's batches (``batch_size x 425 / 31`` windows), and only each window's
   last day counts. The speed-up is bare model / sliding windows.
4. Peak memory: the peak resident set size of the subprocess that runs the synchronous
   production (``VmHWM`` of ``/proc/self/status``, read by the subprocess itself; with it the
   size after the imports, before ``produce``), on the demo grid and on a grid four times
   larger (240 x 480, 0.75 degree). Not ``ru_maxrss``: Linux carries it over fork and exec,
   so a child's figure (and its parent's ``RUSAGE_CHILDREN``) is at least the parent's size
   at the fork, here that of the process holding the in-memory sequences. The larger cube is
   synthetic: the demo cube's 2000-2002 (the produced year and both neighbours, so the margins
   are read from real neighbouring years as on the demo grid) repeated 2 x 2 in space on new
   0.75-degree coordinates, with the demo cube's variables, attributes, dtypes, encodings and
   chunk shapes. Production's memory should not grow with the grid: it is bounded by one
   tile-year of inputs and, mostly, one batch of activations (``production.batch_size``).
   The 4x grid's throughput is reported too.
5. On a machine with CUDA, the bare model on the GPU as well. Last, the time for one global
   0.05-degree year (7200 x 3600 cells, times the demo grid's land share) and for 1982-2021
   at the best measured end-to-end throughput, naming its run and device.

How the runs reach the demo data without touching it: each run's params are the demo params
copied with ``model_copy(update=...)`` (as :mod:`helpers.experiments` changes nested sections):
``outputs_dir`` a scratch folder under ``.bench_tmp/production``, ``production.years=[2001]``,
``production.model_path`` the demo's ``atlstm.pt``, and the ``dask.scheduler`` of the run. A
run's datacube is always ``<outputs_dir>/<run_name>/data/cube.zarr`` (``Params.cube_path`` is
derived, not a setting), so the scratch run's ``data/cube.zarr`` is a symbolic link to the cube
(and its calibration file, when the demo has one, a link to the demo's). The real pipeline,
dask workers included (they open the cube from the params), thus reads the real cube, and the
product is written in the scratch folder, never beside the demo's. ``.bench_tmp/production``
is removed afterwards.

With ``--quick`` (a check that the script works, not a measurement), the grids are a 60 x 60
crop of the demo cube and its 2 x 2 repetition, the in-memory samples are small, and the
results go to ``results/production_quick.json`` so that they never replace real ones.

Usage: ``python benchmarks/bench_production.py [--quick]`` (part of ``make bench``; needs the
demo run). Meant to take under about 10 minutes on 2 idle cores; the last row gives its wall
time. Results go to ``benchmarks/results/production.json`` and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
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
GLOBAL_CELLS = 7200 * 3600  # the 0.05-degree global grid
LONG_RUN = (1982, 2021)
QUICK_CROP = (slice(60, 120), slice(120, 180))  # one 60 x 60 tile of the demo grid (--quick)
# in-memory sequences of the bare-model figure, repeats, sequences cut into sliding windows
FULL = {"sequences": 768, "repeats": 3, "window_sequences": 48}
QUICK = {"sequences": 256, "repeats": 1, "window_sequences": 4}


# Params and cubes --------------------------------------------------------------------------


def run_params(outputs_dir: Path, scheduler: str, grid: dict | None = None):
    """The demo params for one benchmark run: year 2001, the demo model, outputs under ``outputs_dir``."""
    from helpers.params import GridParams, load_params

    params = load_params(ROOT / "params" / "demo.yaml")
    updates = {
        "outputs_dir": Path(outputs_dir),
        "run_name": "bench",
        "production": params.production.model_copy(
            update={"years": [YEAR], "model_path": DEMO / "atlstm.pt"}
        ),
        "dask": params.dask.model_copy(update={"scheduler": scheduler}),
    }
    if grid is not None:
        updates["grid"] = GridParams(**grid)
    return params.model_copy(update=updates)


def link_run(outputs_dir: Path, cube: Path, scheduler: str, grid: dict | None = None):
    """A scratch run whose ``data/cube.zarr`` links to ``cube``; returns its params."""
    from helpers import production

    params = run_params(outputs_dir, scheduler, grid)
    params.data_dir.mkdir(parents=True, exist_ok=True)
    params.cube_path.symlink_to(cube.resolve(), target_is_directory=True)
    demo_calibration = DEMO / production.calibration_path(params).name
    if demo_calibration.exists():
        production.calibration_path(params).symlink_to(demo_calibration.resolve())
    return params


def synthetic_cube(source: Path, dest: Path, factor: int, crop: tuple[slice, slice] | None) -> dict:
    """Write the demo cube's years ``NEIGHBOURS`` repeated ``factor x factor`` in space to ``dest``.

    Variables, attributes, dtypes, fill values and chunk shapes are the source's; the new
    cells are ``factor`` times smaller. Returns the ``grid`` section (resolution, bbox) of it.
    """
    import dask.array as da
    import xarray as xr

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
    cube.to_zarr(dest, zarr_format=2, consolidated=True, encoding=encoding)
    lat, lon = cube["lat"].values, cube["lon"].values
    res = abs(float(lon[1] - lon[0]))
    return {
        "resolution": res,
        "bbox": [
            float(lon.min() - res / 2),
            float(lat.min() - res / 2),
            float(lon.max() + res / 2),
            float(lat.max() + res / 2),
        ],
    }


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
    from helpers.production import device_of, produce

    params = run_params(Path(config["outputs_dir"]), config["scheduler"], config["grid"])
    before = peak_rss_mb()
    start = time.perf_counter()
    path = produce(params, progress=False)
    seconds = time.perf_counter() - start
    days = xr.open_zarr(path, consolidated=True).sizes["time"]
    ds = open_cube(params)
    land = int((ds["mask"].values == MASK_VALUES["land"]).sum())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "land_cells": land,
                "days": int(days),
                "shape": list(ds["mask"].shape),
                "device": device_of(params),
                "peak_rss_mb": peak_rss_mb(),
                "rss_before_produce_mb": before,
            }
        )
    )


def produce_in_subprocess(outputs_dir: Path, scheduler: str, grid: dict | None) -> dict:
    config = {"outputs_dir": str(outputs_dir), "scheduler": scheduler, "grid": grid}
    done = subprocess.run(
        [sys.executable, __file__, "--produce", json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"production subprocess failed ({scheduler}):\n{done.stderr[-4000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["pixel_days"] = record["land_cells"] * record["days"]
    record["pixel_days_per_s"] = record["pixel_days"] / record["seconds"]
    return record


# The model on in-memory sequences ----------------------------------------------------------


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bare_model(applied, x: np.ndarray, params, repeats: int) -> tuple[float, float]:
    """Seconds of ``Applied.estimate`` and of the forward pass alone over ``x`` (after a warm-up)."""
    from helpers.training import predict

    settings = params.production
    normalised = np.nan_to_num((x - applied.mean) / applied.scale).astype(np.float32)
    applied.estimate(x[: settings.batch_size], settings.mc_passes, settings.batch_size, params.seed)
    estimate = median_seconds(
        lambda: applied.estimate(x, settings.mc_passes, settings.batch_size, params.seed), repeats
    )
    forward = median_seconds(
        lambda: predict(applied.model, normalised, batch_size=settings.batch_size), repeats
    )
    return estimate, forward


def sliding_windows(x: np.ndarray, central: np.ndarray) -> np.ndarray:
    """One ``WINDOW``-day sequence ending on each central day: (n x days, WINDOW, features)."""
    ends = np.flatnonzero(central)
    assert ends[0] >= WINDOW - 1, "the margin must hold a window's earlier days"
    windows = np.stack([x[:, end - WINDOW + 1 : end + 1] for end in ends], axis=1)
    return windows.reshape(-1, WINDOW, x.shape[-1])


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

    from helpers.cube import MASK_VALUES, open_cube
    from helpers.production import Applied
    from helpers.sampling import read_points, sequence_calendar

    wall = time.perf_counter()
    rows: list[dict] = []

    def row(figure: str, value: float, unit: str, detail: str = "") -> None:
        rows.append({"figure": figure, "value": value, "unit": unit, "detail": detail})
        print(f"  {figure}: {value} {unit} {detail}", file=sys.stderr, flush=True)

    # The grids: the demo cube (a crop of it with --quick) and the synthetic 4x cube.
    if quick:
        demo_cube = SCRATCH / "cubes" / "demo_crop.zarr"
        demo_grid = synthetic_cube(DEMO / "cube.zarr", demo_cube, 1, QUICK_CROP)
    else:
        demo_cube, demo_grid = DEMO / "cube.zarr", None
    start = time.perf_counter()
    big_cube = SCRATCH / "cubes" / "grid_4x.zarr"
    big_grid = synthetic_cube(DEMO / "cube.zarr", big_cube, 2, QUICK_CROP if quick else None)
    build_s = time.perf_counter() - start

    # 2, 3, 5: the model on in-memory sequences of the demo grid.
    params = link_run(SCRATCH / "demo_sync", demo_cube, "synchronous", demo_grid)
    settings = params.production
    ds = open_cube(params)
    land = ds["mask"].values == MASK_VALUES["land"]
    land_share = float((xr.open_zarr(DEMO / "cube.zarr")["mask"].values == MASK_VALUES["land"]).mean())
    calendar = sequence_calendar(pd.DatetimeIndex(ds["time"].values), YEAR)
    central = calendar["central"].to_numpy()
    days = int(central.sum())
    cells_r, cells_c = np.nonzero(land)
    n = min(sizes["sequences"], cells_r.size)
    x, _ = read_points(ds, params, cells_r[:n], cells_c[:n], calendar)
    seq_days = x.shape[1]
    shape = f"{n} sequences of {seq_days} days x {x.shape[2]} features, batches of {settings.batch_size}"
    bare: dict[str, float] = {}
    for where in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        applied = Applied.load(params, device=where)
        estimate_s, forward_s = bare_model(applied, x, params, sizes["repeats"])
        bare[where] = n * days / estimate_s
        row(
            f"bare model {applied.name}: Applied.estimate (mc_passes {settings.mc_passes}), {where}",
            round(bare[where]),
            "pixel-days/s",
            f"{shape}; {days} central days counted; median of {sizes['repeats']}: {estimate_s:.2f} s",
        )
        row(
            f"bare model {applied.name}: forward pass only (helpers.training.predict), {where}",
            round(n * days / forward_s),
            "pixel-days/s",
            f"same sequences: {forward_s:.2f} s",
        )
        if where == "cpu":
            k = min(sizes["window_sequences"], n)
            windows = sliding_windows(x[:k], central)
            batch = max(1, settings.batch_size * seq_days // WINDOW)
            applied.estimate(windows[:batch], settings.mc_passes, batch, params.seed)  # warm-up
            window_s = median_seconds(
                lambda a=applied, w=windows, b=batch: a.estimate(w, settings.mc_passes, b, params.seed),
                sizes["repeats"],
            )
            sliding = len(windows) / window_s
            row(
                f"sliding window: one {WINDOW}-day sequence per predicted day, Applied.estimate, cpu",
                round(sliding),
                "pixel-days/s",
                f"{len(windows)} windows ending on the days of {k} cells, batches of {batch}:"
                f" {window_s:.2f} s",
            )
            row(
                f"speed-up of {seq_days}-day sequences over {WINDOW}-day sliding windows, cpu",
                round(bare["cpu"] / sliding, 1),
                "x",
            )
        del applied

    # 1, 4: production through the real pipeline, each run in a fresh subprocess.
    runs = {}
    grid_name = "demo grid" if not quick else "demo-grid crop"
    runs["sync"] = produce_in_subprocess(SCRATCH / "demo_sync", "synchronous", demo_grid)
    link_run(SCRATCH / "demo_local", demo_cube, "local", demo_grid)
    runs["local"] = produce_in_subprocess(SCRATCH / "demo_local", "local", demo_grid)
    link_run(SCRATCH / "grid_4x", big_cube, "synchronous", big_grid)
    runs["4x"] = produce_in_subprocess(SCRATCH / "grid_4x", "synchronous", big_grid)
    labels = {
        "sync": f"production, {grid_name} {'x'.join(map(str, runs['sync']['shape']))}, synchronous",
        "local": f"production, {grid_name}, local dask cluster (one worker per core, start-up counted)",
        "4x": f"production, 4x grid {'x'.join(map(str, runs['4x']['shape']))} (synthetic), synchronous",
    }
    for key, run in runs.items():
        row(
            f"{labels[key]}, {run['device']}",
            round(run["pixel_days_per_s"]),
            "pixel-days/s",
            f"{run['land_cells']} land cells x {run['days']} days in {run['seconds']:.1f} s",
        )
    for key in ("sync", "local"):
        row(
            f"ratio {labels[key].split(', ', 2)[-1]} / bare model ({runs[key]['device']}; goal >= 0.85)",
            round(runs[key]["pixel_days_per_s"] / bare[runs[key]["device"]], 3),
            "",
        )
    for key in ("sync", "4x"):
        row(
            f"peak RSS, {labels[key].removeprefix('production, ')}",
            round(runs[key]["peak_rss_mb"]),
            "MB",
            f"{runs[key]['rss_before_produce_mb']:.0f} MB before produce (imports);"
            f" tile_cells {settings.tile_cells}, batch_size {settings.batch_size}",
        )
    row(
        "peak RSS ratio 4x grid / demo grid, synchronous",
        round(runs["4x"]["peak_rss_mb"] / runs["sync"]["peak_rss_mb"], 3),
        "",
        f"land cells x {runs['4x']['land_cells'] / runs['sync']['land_cells']:.2f}",
    )
    row(f"build of the synthetic 4x cube ({NEIGHBOURS[0]}-{NEIGHBOURS[1]})", round(build_s, 1), "s")

    # 5: projections at the best end-to-end throughput.
    best = max(runs, key=lambda key: runs[key]["pixel_days_per_s"])
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
