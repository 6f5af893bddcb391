"""Benchmark of the gridded readers on synthetic full-resolution days, and a projected global cube year.

What is measured
----------------
For each gridded product, one synthetic day (or static field) at the product's REAL full
resolution is written with the project's own writer (``helpers.sources.<product>``) into a
scratch folder under ``/tmp`` (removed afterwards), then read back the way the cube build reads
it: tile by tile on the 0.05-degree product grid, ``Grid.global_grid(0.05).tiles(600)`` (72 tiles
of 600 x 600 cells, 30 x 30 degrees), one reader call per tile for that one day. Writing and
reading each run in their own fresh child process, so that the write is timed apart (it is not
part of the throughput) and the reader's peak resident memory (``resource.getrusage``
``ru_maxrss`` of the read process, imports included; the memory after imports is given too) is
its own. Throughput is the file's bytes on disk divided by the reading time (MB/s) and the
0.05-degree cells delivered divided by the reading time (cells/s). The files were just written,
so they are read from the operating system's page cache: the figures measure decoding and
regridding, not disk or network I/O.

Products (the synthetic values are smooth fields plus 3 % noise, NaN over the sea of the
MCD12C1 land mask, so that compression and valid shares look like real data's):

* GLASS AVHRR albedo: 0.05-degree CMG, 7200 x 3600, the four bands of the paper (ABD_BSA_VIS,
  ABD_BSA_NIR, ABD_WSA_VIS, ABD_WSA_NIR; ``glass_albedo.create``), all 72 tiles read.
* GLASS AVHRR LST: 0.05-degree CMG (``glass_lst.create``), all 72 tiles.
* ERA5-Land ``swvl1``: 0.1-degree nodes (3601 x 3600), one day of 24 hourly steps, read as the
  daily mean, all 72 tiles. The project's writer (``era5_land.create``) makes a year of daily
  steps, so the hourly file is written here with netCDF4 as the new CDS ships it: ``valid_time``
  (int64, seconds since 1970-01-01, proleptic_gregorian), ``latitude`` 90..-90, ``longitude``
  0..359.9, ``swvl1`` float32 zlib level 4 with chunks like ``create``'s, plus the scalar
  ``number`` and the ``expver`` variable of the cfgrib-based converter.
* GLASS-MODIS SM (target): 1 km sinusoidal; a global day is 43200 x 21600 float32 (3.7 GB),
  so ``glass_modis_sm.write`` writes the pixels of ONE tile region (0-30 E, 0-30 N; 6 pixels
  per 0.05-degree cell side, 926.6 m like MODIS's 1 km grid) and that tile is read three
  times; the global day is the median call's time times the tiles with land. The tile sits at
  the equator, where a 30-degree box spans the most sinusoidal columns, so the projection errs
  on the slow side. The writer still allocates the global image (about 7.5 GB of memory).
* ESA CCI SM (comparison, not in the cube): 0.25 degree, 1440 x 720 (``esa_cci.write``), 72 tiles.
* MCD12C1 land cover (static): 0.05-degree HDF4 of the packaged 2019 classes (``mcd12c1.write``),
  72 tiles, once per build.
* MERIT DEM (static): one 5-degree tile at 3 arc-seconds, 6000 x 6000 (``merit_dem.write_tile``,
  n05e015), read onto its 100 x 100 cells (``merit_dem.read``); the global figure is that
  time times the 5-degree boxes with land north of 60 S (MERIT has tiles over land only and
  ends at 60 S).
* SoilGrids clay, sand, silt (static): a 10 x 10 degree EPSG:4326 raster at 250 m (4444 x 4444
  int16 per property; ``soilgrids.write``) over 10-20 E, 0-10 N, read onto its 200 x 200 cells
  (``soilgrids.read``); the global figure scales by area in square degrees (nine such boxes per
  30-degree tile with land; the cube reads the whole tile window of a global raster).
* GLEAM and SiTH: included only when ``helpers.sources.gleam`` / ``helpers.sources.sith``
  exist with writers; the output says when they are left out.

"Tiles with land" are the 600-cell tiles holding at least one non-water cell of the packaged
MCD12C1 map (``helpers.sources.mcd12c1.packaged_geotiff()``; class 0 is water): the cube skips
all-water tiles. A product read over all 72 tiles counts, for its global day, only the times of
the tiles with land.

Projected cube build of one global year
---------------------------------------
Per product: the read time of a global day x the days per year (LST 365, albedo 46 composites,
ERA5-Land 365, target 365 in a training year; statics once), plus the cube's own filling and
writing: the global land cell-days (non-water cells of the packaged MCD12C1 map x 365) divided
by the cube's throughput in land cell-days per second. That throughput is measured here by
timing ``helpers.cube.build_cube`` on ``params/tiny.yaml`` in a child process (after generating
its world in the scratch folder) when world and cube take under 2 minutes; otherwise the
README's Data preparation figure (demo cube, 1,181,663 cell-days/s, all cells) is used, and the
row says so. The tiny cube's time includes reading the tiny world's coarse files, so the sum
counts some reading twice (it errs on the slow side). Serial: one process, as the build runs
on this 2-core machine without a cluster. On N dask workers (N = 2, 16, 64) the tile work is
divided by min(N, tiles with land), assuming reads scale with workers (a parallel file system)
and tiles cost alike.

Each time-series figure is one reader call per tile for one day, whereas the cube makes one
call per tile and year: per-call set-up (file listing, opening, the target's pixel-to-cell
mapping) is counted every day, so the yearly figures err on the slow side (for the target,
the mapping is roughly a third of a one-day call).

Usage: ``python benchmarks/bench_readers.py [--quick]`` (part of ``make bench``; about 7
minutes on 2 cores; the 1 km target write needs ~7.5 GB of memory, the scratch under 1 GB).
``--quick`` writes smaller files (1 hourly step, 5.5 km target pixels, 1/10 of the MERIT and
SoilGrids pixels per side), reads one tile per product and skips the tiny cube: a check that
the script works, not a measurement. Results are printed as Markdown tables and written to
``benchmarks/results/readers.json`` (``readers_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import RESULTS, machine, report

ROOT = Path(__file__).resolve().parents[1]
SCRATCH_PARENT = Path("/tmp")
DATE = dt.date(2001, 1, 1)  # a day of every product, and the first albedo composite of 2001
RESOLUTION = 0.05  # the product grid
TILE_CELLS = 600
SM_TILE = (0.0, 0.0, 30.0, 30.0)  # (west, south, east, north): the one target tile written
MERIT_CORNER = (5, 15)  # (lat_south, lon_west) of the MERIT tile: 5-10 N, 15-20 E, all land
SOIL_BOX = (10.0, 0.0, 20.0, 10.0)
ALBEDO_BANDS = ("ABD_BSA_VIS", "ABD_BSA_NIR", "ABD_WSA_VIS", "ABD_WSA_NIR")
WORKERS = (2, 16, 64)
CUBE_LIMIT_S = 120  # the tiny world and cube are timed only when they fit in this
README_CUBE_RATE = 1_181_663  # README, Data preparation: demo cube, cell-days/s (all cells)
MIN_FREE_GB = 2
TILE_REPEATS = 3  # reader calls on the one target tile (the median is used)

#: product -> label, read scope, days read per year of the cube (0: static, read once; None:
#: not read by the cube), and the full and --quick sizes of what is written.
PRODUCTS = {
    "mcd12c1": {"label": "MCD12C1 land cover", "scope": "globe", "per_year": 0},
    "merit_dem": {"label": "MERIT DEM", "scope": "merit", "per_year": 0, "pixels": (6000, 600)},
    "soilgrids": {"label": "SoilGrids clay/sand/silt", "scope": "soil", "per_year": 0, "pixels": (4444, 444)},
    "glass_albedo": {"label": "GLASS albedo (4 bands)", "scope": "globe", "per_year": 46},
    "glass_lst": {"label": "GLASS LST", "scope": "globe", "per_year": 365},
    "era5_land": {"label": "ERA5-Land swvl1 (hourly)", "scope": "globe", "per_year": 365, "hours": (24, 1)},
    "glass_modis_sm": {"label": "GLASS-MODIS SM (target)", "scope": "tile", "per_year": 365, "subcells": (6, 1)},
    "esa_cci": {"label": "ESA CCI SM (comparison)", "scope": "globe", "per_year": None},
}


# Synthetic fields (child processes) ----------------------------------------------------------


def smooth(lat, lon, low: float, high: float, seed: int, waves: float = 1.0, noise: float = 0.03):
    """A smooth float32 field on (lat, lon) centres in ``low..high``, with ``noise`` x range texture."""
    import numpy as np

    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 2 * np.pi, 4)
    la = np.radians(np.asarray(lat, dtype=np.float32))[:, None]
    lo = np.radians(np.asarray(lon, dtype=np.float32))[None, :]
    wave = np.sin(3 * waves * lo + p[0]) * np.cos(2 * waves * la + p[1])
    wave = wave + 0.5 * np.sin(7 * waves * lo + p[2]) * np.sin(5 * waves * la + p[3])
    field = (low + (high - low) * (wave + 1.5) / 3).astype(np.float32)
    field += (noise * (high - low) * rng.standard_normal(field.shape, dtype=np.float32)).astype(np.float32)
    return np.clip(field, low, high)


def land_classes():
    """The packaged MCD12C1 classes (uint8, 3600 x 7200, row 0 north; 0 = water)."""
    import rasterio

    from helpers.sources import mcd12c1

    with rasterio.open(mcd12c1.packaged_geotiff()) as src:
        return src.read(1)


def land_on(grid, classes):
    """Land mask on ``grid`` from the MCD12C1 cell holding each cell centre."""
    import numpy as np

    rows = np.clip(np.floor((90 - grid.lat) / RESOLUTION).astype(int), 0, 3599)
    cols = np.floor((grid.lon + 180) / RESOLUTION).astype(int) % 7200
    return classes[np.ix_(rows, cols)] != 0


def write_era5_hourly(path: Path, day: dt.date, hours: int, classes) -> None:
    """One day of hourly ``swvl1`` on the 0.1-degree nodes, laid out as the new CDS ships it."""
    import netCDF4
    import numpy as np

    res = 0.1
    lat = 90.0 - res * np.arange(3601)
    lon = res * np.arange(3600)
    rows = np.clip(np.floor((90 - lat) / RESOLUTION).astype(int), 0, 3599)
    cols = np.floor((((lon + 180) % 360 - 180) + 180) / RESOLUTION).astype(int) % 7200
    epoch = (day - dt.date(1970, 1, 1)).days * 86400
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.Conventions = "CF-1.7"
        nc.institution = "European Centre for Medium-Range Weather Forecasts"
        nc.createDimension("valid_time", hours)
        nc.createDimension("latitude", lat.size)
        nc.createDimension("longitude", lon.size)
        number = nc.createVariable("number", "i8", ())
        number.long_name = "ensemble member numerical id"
        number.assignValue(0)
        time_var = nc.createVariable("valid_time", "i8", ("valid_time",))
        time_var.units = "seconds since 1970-01-01"
        time_var.calendar = "proleptic_gregorian"
        time_var.standard_name = "time"
        time_var[:] = epoch + 3600 * np.arange(hours, dtype=np.int64)
        lat_var = nc.createVariable("latitude", "f8", ("latitude",))
        lat_var.units, lat_var.standard_name, lat_var.stored_direction = "degrees_north", "latitude", "decreasing"
        lat_var[:] = lat
        lon_var = nc.createVariable("longitude", "f8", ("longitude",))
        lon_var.units, lon_var.standard_name = "degrees_east", "longitude"
        lon_var[:] = lon
        expver = nc.createVariable("expver", str, ("valid_time",))
        for step in range(hours):
            expver[step] = "0001"
        swvl1 = nc.createVariable(
            "swvl1", "f4", ("valid_time", "latitude", "longitude"), zlib=True, complevel=4,
            fill_value=np.float32(np.nan), chunksizes=(min(hours, 32), 128, 128),
        )
        swvl1.units = "m**3 m**-3"
        swvl1.long_name = "Volumetric soil water layer 1"
        diurnal = 0.005 * np.sin(2 * np.pi * np.arange(hours) / 24).astype(np.float32)
        for row0 in range(0, lat.size, 128):  # whole chunk rows at once: each chunk is written once
            band = slice(row0, min(row0 + 128, lat.size))
            base = smooth(lat[band], np.where(lon > 180, lon - 360, lon), 0.05, 0.45, seed=row0)
            base[classes[np.ix_(rows[band], cols)] == 0] = np.nan
            swvl1[:, band, :] = base[None] + diurnal[:, None, None]


def write_product(name: str, folder: Path, quick: bool) -> dict:
    """Write the synthetic file(s) of ``name``; return the writer's seconds and what was written."""
    import numpy as np

    from helpers.grid import Grid

    spec = PRODUCTS[name]
    size = 1 if quick else 0
    classes = land_classes()
    folder.mkdir(parents=True, exist_ok=True)
    globe = Grid.global_grid(RESOLUTION)
    if name == "glass_albedo":
        from helpers.sources import glass_albedo

        land = land_on(globe, classes)
        values = {band: np.where(land, smooth(globe.lat, globe.lon, 0.05, 0.4, seed=i), np.nan)
                  for i, band in enumerate(ALBEDO_BANDS)}
        start = time.perf_counter()
        glass_albedo.create(folder, DATE, globe, values=values)
        what = f"1 composite, {globe.nlon} x {globe.nlat}, {len(ALBEDO_BANDS)} of 6 bands + QC, HDF4"
    elif name == "glass_lst":
        from helpers.sources import glass_lst

        lst = np.where(land_on(globe, classes), smooth(globe.lat, globe.lon, 250, 320, seed=5), np.nan)
        start = time.perf_counter()
        glass_lst.create(folder, DATE, globe, lst)
        what = f"1 day, {globe.nlon} x {globe.nlat} uint16, HDF4"
    elif name == "era5_land":
        from helpers.sources import era5_land

        hours = spec["hours"][size]
        start = time.perf_counter()
        write_era5_hourly(folder / era5_land.file_name(DATE.year), DATE, hours, classes)
        what = f"1 day x {hours} h, 3600 x 3601 nodes float32, NetCDF4 zlib"
    elif name == "glass_modis_sm":
        from helpers.sources import glass_modis_sm

        subcells = spec["subcells"][size]
        tile = Grid(RESOLUTION, *SM_TILE)
        sm = np.where(land_on(tile, classes), smooth(tile.lat, tile.lon, 0.05, 0.45, seed=7), np.nan)
        start = time.perf_counter()
        glass_modis_sm.write(folder, DATE, tile, sm, subcells)
        km = glass_modis_sm.SPHERE_RADIUS_M * math.radians(RESOLUTION / subcells) / 1000
        what = f"pixels of tile {SM_TILE} only, {km:.3f} km sinusoidal, GeoTIFF"
    elif name == "esa_cci":
        from helpers.sources import esa_cci

        grid = Grid.global_grid(0.25)
        sm = np.where(land_on(grid, classes), smooth(grid.lat, grid.lon, 0.05, 0.45, seed=9), np.nan)
        start = time.perf_counter()
        esa_cci.write(folder, DATE, grid, sm, np.zeros(grid.shape, dtype=np.int8))
        what = f"1 day, {grid.nlon} x {grid.nlat}, NetCDF4"
    elif name == "mcd12c1":
        from helpers.sources import mcd12c1

        start = time.perf_counter()
        mcd12c1.write(folder, DATE.year, classes, globe)
        what = f"{globe.nlon} x {globe.nlat} uint8 (the packaged 2019 classes), HDF4"
    elif name == "merit_dem":
        from helpers.sources import merit_dem

        n = spec["pixels"][size]
        south, west = MERIT_CORNER
        centres = (np.arange(n) + 0.5) * (5 / n)
        elevation = smooth(south + 5 - centres, west + centres, 200, 900, seed=11, waves=40, noise=0.01)
        start = time.perf_counter()
        merit_dem.write_tile(folder, south, west, elevation)
        what = f"1 tile {merit_dem.tile_name(south, west)}, {n} x {n} float32, GeoTIFF"
    elif name == "soilgrids":
        from helpers.sources import soilgrids

        n = spec["pixels"][size]
        west, south, east, north = SOIL_BOX
        grid = Grid((east - west) / n, west, south, east, north)
        land = land_on(grid, classes)
        clay = smooth(grid.lat, grid.lon, 5, 45, seed=13, waves=20)
        sand = smooth(grid.lat, grid.lon, 10, 50, seed=14, waves=20)
        fields = {"clay": clay, "sand": sand, "silt": 100 - clay - sand}
        start = time.perf_counter()
        for prop, values in fields.items():
            soilgrids.write(folder, prop, grid, np.where(land, values, np.nan))
        what = f"3 properties {n} x {n} int16 ({grid.resolution * 111.2:.3f} km) over {SOIL_BOX}, GeoTIFF"
    else:
        raise ValueError(f"no writer for {name}")
    seconds = time.perf_counter() - start
    return {"write_s": seconds, "what": what}


# Reading (child processes) -------------------------------------------------------------------


def read_grids(name: str, quick: bool) -> list:
    """The destination grids of the reader calls: tiles of the product grid, or the written box."""
    from helpers.grid import Grid

    scope = PRODUCTS[name]["scope"]
    if scope == "merit":
        south, west = MERIT_CORNER
        return [Grid(RESOLUTION, west, south, west + 5, south + 5)]
    if scope == "soil":
        return [Grid(RESOLUTION, *SOIL_BOX)]
    tiles = [tile for _, _, tile in Grid.global_grid(RESOLUTION).tiles(TILE_CELLS)]
    if scope == "tile":  # one call costs about 1-2 s: repeated, and the median taken
        return [tile for tile in tiles if tile.bbox == SM_TILE] * (1 if quick else TILE_REPEATS)
    if quick:
        return [tile for tile in tiles if tile.bbox == SM_TILE]
    return tiles


def reader(name: str, folder: Path):
    """A function of a destination grid returning the product's arrays for ``DATE`` on it.

    Only the product's own module is imported, so the memory after imports is its own.
    """
    module = importlib.import_module(f"helpers.sources.{name}")
    if name == "glass_albedo":
        return lambda g: module.read(folder, g, DATE, DATE, bands=list(ALBEDO_BANDS))
    if name == "mcd12c1":
        return lambda g: module.read(module.find_file(folder, DATE.year), g)
    if name in ("merit_dem", "soilgrids"):
        return lambda g: module.read(folder, g)
    return lambda g: module.read(folder, g, DATE, DATE)


def read_product(name: str, folder: Path, quick: bool) -> dict:
    """Read ``name`` with one reader call per destination grid; times per call and memory."""
    import numpy as np
    import xarray as xr

    call = reader(name, folder)
    grids = read_grids(name, quick)
    imports_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds, valid, cells = [], 0, 0
    for grid in grids:
        start = time.perf_counter()
        result = call(grid)
        seconds.append(time.perf_counter() - start)
        arrays = [result[v].values for v in result.data_vars] if isinstance(result, xr.Dataset) else [result.values]
        floats = [a for a in arrays if np.issubdtype(a.dtype, np.floating)] or arrays
        valid += sum(int(np.isfinite(a).sum()) for a in floats) / len(floats)
        cells += grid.nlat * grid.nlon
    return {
        "seconds": seconds,
        "bboxes": [grid.bbox for grid in grids],
        "cells": cells,
        "valid_share": valid / cells,
        "imports_rss_mib": imports_kib / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def cube_child(scratch: Path) -> dict:
    """Generate the tiny world in ``scratch``, then time ``build_cube`` on it."""
    import xarray as xr

    from helpers.cube import MASK_VALUES, build_cube
    from helpers.params import load_params
    from helpers.world import generate_world

    params = load_params(ROOT / "params" / "tiny.yaml", run_name="bench_readers_tiny", outputs_dir=scratch)
    start = time.perf_counter()
    generate_world(params, progress=False, overwrite=True)
    world_s = time.perf_counter() - start
    start = time.perf_counter()
    path, _ = build_cube(params, progress=False, overwrite=True)
    cube_s = time.perf_counter() - start
    with xr.open_zarr(path) as cube:
        land = int((cube["mask"] != MASK_VALUES["water"]).sum())
        days, cells = cube.sizes["time"], cube.sizes["lat"] * cube.sizes["lon"]
    return {"world_s": world_s, "cube_s": cube_s, "land_cells": land, "cells": cells, "days": days,
            "grid": f"{params.grid.resolution} deg"}


def child(task: dict) -> None:
    """Run one task of a child process and print its result as the last line of stdout."""
    folder = Path(task["folder"])
    if task["stage"] == "write":
        result = write_product(task["product"], folder, task["quick"])
    elif task["stage"] == "read":
        result = read_product(task["product"], folder, task["quick"])
    elif task["stage"] == "facts":
        result = land_facts()
    else:
        result = cube_child(folder)
    result["child_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_child(task: dict, timeout: float | None = None) -> dict:
    """Run ``task`` in a fresh Python process; its result, or ``{"error": ...}``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(task)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"took over {timeout:.0f} s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode} (killed for memory?)"]
        return {"error": lines[-1][:300]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# The parent ----------------------------------------------------------------------------------


def land_facts() -> dict:
    """Land cells, 600-cell tiles with land and 5-degree MERIT boxes with land (north of 60 S)."""
    import numpy as np

    from helpers.grid import Grid

    classes = land_classes()
    land = classes != 0
    tiles = [tile.bbox for rows, cols, tile in Grid.global_grid(RESOLUTION).tiles(TILE_CELLS) if land[rows, cols].any()]
    boxes = land[: round(150 / RESOLUTION)].reshape(30, 100, 72, 100).any(axis=(1, 3))  # 90 N .. 60 S
    return {"land_cells": int(land.sum()), "land_tiles": tiles, "merit_boxes": int(boxes.sum()),
            "tiles": sum(1 for _ in Grid.global_grid(RESOLUTION).tiles(TILE_CELLS)),
            "snow_ice_cells": int((classes == 15).sum()), "all_cells": int(np.prod(land.shape))}


def optional_products() -> list[str]:
    """Notes on GLEAM / SiTH: left out unless their modules exist with a writer (none has one yet)."""
    notes = []
    for name in ("gleam", "sith"):
        if importlib.util.find_spec(f"helpers.sources.{name}") is None:
            notes.append(f"{name}: left out, helpers.sources.{name} does not exist")
            continue
        source = Path(importlib.util.find_spec(f"helpers.sources.{name}").origin).read_text()
        writers = [w for w in ("create", "write", "write_window") if f"\ndef {w}(" in source]
        notes.append(f"{name}: left out, helpers.sources.{name} has " + (
            f"writers {writers} this script does not call yet" if writers else "no writer (create/write)"))
    return notes


def measure(name: str, scratch: Path, quick: bool, facts: dict) -> dict:
    """Write then read ``name`` in two child processes; the row of the results table."""
    spec = PRODUCTS[name]
    folder = scratch / name
    wrote = run_child({"stage": "write", "product": name, "folder": str(folder), "quick": quick})
    row = {"product": spec["label"]}
    if "error" in wrote:
        shutil.rmtree(folder, ignore_errors=True)
        return {**row, "error": f"write failed: {wrote['error']}"}
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    got = run_child({"stage": "read", "product": name, "folder": str(folder), "quick": quick})
    shutil.rmtree(folder, ignore_errors=True)
    row.update({"written": wrote["what"], "file_mb": round(size / 1e6, 1), "write_s": round(wrote["write_s"], 1),
                "write_peak_rss_mib": round(wrote["child_peak_rss_mib"])})
    if "error" in got:
        return {**row, "error": f"read failed: {got['error']}"}
    read_s = sum(got["seconds"])
    if spec["scope"] == "tile":  # the same tile read TILE_REPEATS times: per call, the median
        read_s = sorted(got["seconds"])[len(got["seconds"]) // 2]
        got["cells"] //= len(got["seconds"])
    land_s = sum(s for s, b in zip(got["seconds"], got["bboxes"], strict=True) if tuple(b) in facts["land_tiles"])
    n_land = len(facts["land_tiles"])
    scope = spec["scope"]
    if scope == "globe" and not quick:
        day_s, basis = land_s, f"sum over the {n_land} tiles with land"
    elif scope in ("globe", "tile"):
        day_s, basis = read_s * n_land, f"1 tile x {n_land} tiles with land"
    elif scope == "merit":
        day_s, basis = read_s * facts["merit_boxes"], f"1 tile x {facts['merit_boxes']} 5-deg boxes with land"
    else:
        boxes = n_land * 900 / 100
        day_s, basis = read_s * boxes, f"100 deg2 x {boxes:.0f} (area of the tiles with land)"
    return {
        **row, "calls": len(got["seconds"]), "cells": got["cells"], "read_s": round(read_s, 2),
        "mb_per_s": round(size / 1e6 / read_s, 1), "cells_per_s": round(got["cells"] / read_s),
        "s_per_call": f"{min(got['seconds']):.2f}-{max(got['seconds']):.2f}",
        "peak_rss_mib": round(got["peak_rss_mib"]), "imports_rss_mib": round(got["imports_rss_mib"]),
        "valid_share": round(got["valid_share"], 3), "global_day_s": round(day_s, 1), "global_basis": basis,
    }


def cube_rate(scratch: Path, quick: bool) -> tuple[float, str]:
    """Land cell-days per second of the cube's own work, measured on tiny.yaml or from the README."""
    fallback = f"README Data preparation, demo cube ({README_CUBE_RATE:,} cell-days/s, all cells)"
    if quick:
        return README_CUBE_RATE, fallback + "; --quick does not measure it"
    got = run_child({"stage": "cube", "folder": str(scratch / "tiny")}, timeout=CUBE_LIMIT_S)
    shutil.rmtree(scratch / "tiny", ignore_errors=True)
    if "error" in got:
        return README_CUBE_RATE, fallback + f"; tiny.yaml not measured: {got['error']}"
    rate = got["land_cells"] * got["days"] / got["cube_s"]
    return rate, (
        f"measured: build_cube on tiny.yaml ({got['grid']}, {got['days']} days) {got['cube_s']:.1f} s,"
        f" {rate:,.0f} land cell-days/s ({got['cells'] * got['days'] / got['cube_s']:,.0f} over all cells;"
        f" world {got['world_s']:.1f} s, peak {got['child_peak_rss_mib']:.0f} MiB)"
    )


def projection(rows: dict[str, dict], facts: dict, rate: float, rate_basis: str) -> list[dict]:
    """Hours of one global cube year per product, serial and on N workers."""
    parallel = {n: min(n, len(facts["land_tiles"])) for n in WORKERS}

    def line(product: str, per_year: str, day_s: float | None, total_s: float | None, basis: str) -> dict:
        out = {"product": product, "per_year": per_year, "global_day_s": "n/a" if day_s is None else round(day_s, 1),
               "serial_h": "n/a" if total_s is None else round(total_s / 3600, 2)}
        for n, divisor in parallel.items():
            out[f"workers_{n}_h"] = "n/a" if total_s is None else round(total_s / 3600 / divisor, 3)
        return {**out, "basis": basis}

    lines, total, complete = [], 0.0, True
    for name, spec in PRODUCTS.items():
        row = rows[name]
        per_year = spec["per_year"]
        day_s = row.get("global_day_s")
        if per_year is None:
            lines.append(line(spec["label"], "not in the cube", day_s, None, "validation reads it, not the cube"))
            continue
        year_s = None if day_s is None else day_s * max(per_year, 1)
        label = "once" if per_year == 0 else f"{per_year} days" if name != "glass_albedo" else "46 composites"
        if year_s is None:
            complete = False
        else:
            total += year_s
        lines.append(line(spec["label"], label, day_s, year_s, row.get("error") or row["global_basis"]))
    cell_days = facts["land_cells"] * 365
    fill_s = cell_days / rate
    total += fill_s
    lines.append(line("cube filling and writing", "365 days", None, fill_s,
                      f"{facts['land_cells']:,} land cells x 365 / {rate:,.0f} per s; {rate_basis}"))
    lines.append(line("total" + ("" if complete else " (products that failed left out)"), "one year", None, total,
                      f"N workers: / min(N, {len(facts['land_tiles'])} tiles with land); reads assumed to scale"))
    return lines


def table(title: str, rows: list[dict]) -> None:
    """Print ``rows`` as a Markdown table (the format of :func:`report.report`)."""
    header = list(dict.fromkeys(key for row in rows for key in row))
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row.get(h, "")) for h in header) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files, one tile each: check the script, do not measure")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one write, read or cube task
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    if args.child:
        child(json.loads(args.child))
        return
    free_gb = shutil.disk_usage(SCRATCH_PARENT).free / 1e9
    if free_gb < MIN_FREE_GB:
        raise SystemExit(f"{SCRATCH_PARENT}: {free_gb:.1f} GB free; the benchmark needs {MIN_FREE_GB} GB of scratch")
    started = time.perf_counter()
    facts = run_child({"stage": "facts", "folder": ""})  # the parent stays small: children inherit its peak RSS
    if "error" in facts:
        raise SystemExit(f"land mask from the packaged MCD12C1 map: {facts['error']}")
    facts["land_tiles"] = {tuple(bbox) for bbox in facts["land_tiles"]}
    left_out = optional_products()
    scratch = Path(tempfile.mkdtemp(prefix="bench_readers_", dir=SCRATCH_PARENT))
    try:
        rows = {}
        for name in PRODUCTS:
            rows[name] = measure(name, scratch, args.quick, facts)
            done = rows[name].get("error") or f"written in {rows[name]['write_s']} s, read in {rows[name]['read_s']} s"
            print(f"- {name}: {done}", flush=True)
        rate, rate_basis = cube_rate(scratch, args.quick)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    name = "readers_quick" if args.quick else "readers"
    quick = " (--quick: NOT a measurement)" if args.quick else ""
    measured = list(rows.values())
    header = list(dict.fromkeys(key for row in measured for key in row))
    measured = [{h: row.get(h, "") for h in header} for row in measured]
    report(name, f"Readers on synthetic full-resolution days, {dt.date.today()}{quick}", measured)
    projected = projection(rows, facts, rate, rate_basis)
    table(f"Projected cube build of one global 0.05-degree year{quick} ({machine()})", projected)
    notes = [
        f"{facts['land_cells']:,} land (non-water) cells of {facts['all_cells']:,} in the packaged MCD12C1"
        f" ({facts['snow_ice_cells']:,} of them snow/ice); {len(facts['land_tiles'])} of {facts['tiles']} tiles of"
        f" {TILE_CELLS} cells hold land; {facts['merit_boxes']} 5-degree boxes with land north of 60 S",
        *left_out,
        f"benchmark wall time {time.perf_counter() - started:.0f} s",
    ]
    print("\n" + "\n".join(f"- {note}" for note in notes))
    record = json.loads((RESULTS / f"{name}.json").read_text())
    record.update({"date": dt.date.today().isoformat(), "projection": projected, "notes": notes})
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
