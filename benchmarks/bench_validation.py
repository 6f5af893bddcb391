"""Benchmark of the validation (:mod:`helpers.validation`): stations read out of a product store, and scored.

Self-contained: a synthetic product store at 0.05 degree, shaped and chunked like the real
product (``sm`` float32, chunks of 92 days x 200 x 200 cells as ``params/paper.yaml`` writes
them), covering a 30 x 30 degree region (600 x 600 cells, 3 x 3 spatial chunks) for two years
(730 days, 8 time chunks), is written to ``.bench_tmp/validation`` and removed afterwards.

1. Extraction: :func:`helpers.validation.matching.read_at_cells` reads N stations (random
   cells of the region; N = 100, 500, 2000) for every day, each N in a fresh subprocess whose
   peak memory (``VmHWM``) is reported; the time per chunk read (spatial chunks holding a
   station x time chunks) is the unit of the projection.
2. Scoring: :func:`helpers.validation.scores.score_stations` on a synthetic matched store of
   200 stations x 730 days with six products (AR(1) series, 20 % of days missing), with
   ``validation.bootstrap_samples`` 1000: seconds per station-period.
3. Coverage of the intervals on simulated AR(1) series (lag-1 autocorrelation 0.8, 500 days,
   1,000 pairs of series with correlation 0.6, seeded): the share of the 95 % intervals that hold
   the true R, bias (0) and ubRMSE, with the effective sample size and with the raw n, and of the
   RMSE's moving-block and i.i.d. bootstrap intervals (400 resamples). Not a timing: the figures
   the README quotes for the intervals' honesty.
4. Projection to 2,000 stations x 40 years (1982-2021): extraction at the measured time per
   chunk read, for every land chunk of the global 0.05-degree grid holding a station (the
   worst case: 230 of its 648 chunks of 200 x 200 cells hold land) and 159 time chunks; scoring
   at the measured cost per station-day (two periods spanning the 40 years).

Usage: ``python benchmarks/bench_validation.py [--quick]`` (part of ``make bench``). Results go to
``benchmarks/results/validation.json`` (``validation_quick.json`` with ``--quick``, a check that
the script works on a smaller store, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from report import report

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".bench_tmp" / "validation"
CHUNK_DAYS, CHUNK_CELLS = 92, 200
GLOBAL_LAND_CHUNKS, TIME_CHUNKS_40Y = 230, round(40 * 365.25 / CHUNK_DAYS)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_store(path: Path, cells: int, days: int) -> None:
    import dask.array as da
    import pandas as pd
    import xarray as xr

    rng = da.random.default_rng(0)
    values = (0.25 + 0.05 * rng.standard_normal((days, cells, cells), chunks=(CHUNK_DAYS, CHUNK_CELLS, CHUNK_CELLS)))
    store = xr.Dataset(
        {"sm": (("time", "lat", "lon"), values.astype(np.float32))},
        coords={"time": pd.date_range("2000-01-01", periods=days, freq="D"),
                "lat": 45.0 - 0.05 * (np.arange(cells) + 0.5), "lon": -100.0 + 0.05 * (np.arange(cells) + 0.5)},
    )
    store.to_zarr(path, zarr_format=2, consolidated=True, mode="w")


def extract_child(config: dict) -> None:
    """In a subprocess: read N stations out of the store, print timings as JSON."""
    import xarray as xr

    from helpers.validation import matching

    before = peak_rss_mb()
    product = xr.open_zarr(config["store"], consolidated=True)
    cells = product.sizes["lat"]
    rng = np.random.default_rng(config["n"])
    rows, cols = rng.integers(0, cells, config["n"]), rng.integers(0, cells, config["n"])
    keys = [f"S{k}" for k in range(config["n"])]
    footprints = {key: [(int(r), int(c))] for key, r, c in zip(keys, rows, cols, strict=True)}
    started = time.perf_counter()
    values = matching.read_at_cells(product["sm"], keys, footprints)
    seconds = time.perf_counter() - started
    chunks = len({(r // CHUNK_CELLS, c // CHUNK_CELLS) for r, c in zip(rows, cols, strict=True)})
    time_chunks = -(-product.sizes["time"] // CHUNK_DAYS)
    print(json.dumps({"seconds": seconds, "chunks": chunks * time_chunks, "days": int(values.shape[0]),
                      "finite": bool(np.isfinite(values).all()), "peak_mb": peak_rss_mb(), "imports_mb": before}))


def extract(store: Path, n: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--extract", json.dumps({"store": str(store), "n": n})],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"extraction subprocess failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scoring(n_stations: int, days: int, samples: int) -> tuple[float, int]:
    """Seconds to score a synthetic matched store, and its station-periods."""
    import pandas as pd
    import xarray as xr
    from scipy import signal

    from helpers.params import load_params
    from helpers.validation import scores

    params = load_params(ROOT / "params" / "tiny.yaml")
    products = ["product", "era5_land", "target", "esa_cci", "cdf_matched", "no_era5_land"]
    params = params.model_copy(update={"validation": params.validation.model_copy(
        update={"bootstrap_samples": samples, "products": products, "period_i": [2000, 2000], "period_ii": [2001, 2001]})})
    rng = np.random.default_rng(1)
    times = pd.date_range("2000-01-01", periods=days, freq="D")

    def series() -> np.ndarray:
        e = rng.standard_normal((n_stations, days))
        x = signal.lfilter([1.0], [1.0, -0.9], e * np.sqrt(0.19), axis=1)
        return np.where(rng.random((n_stations, days)) < 0.2, np.nan, 0.25 + 0.05 * x).astype(np.float32)

    matched = xr.Dataset(
        {"insitu": (("station", "time"), series()), **{f"sm_{p}": (("station", "time"), series()) for p in products}},
        coords={"station": [f"N/S{k}" for k in range(n_stations)], "time": times, "source": ("station", ["ismn"] * n_stations),
                "network": ("station", ["N"] * n_stations), "station_name": ("station", [f"S{k}" for k in range(n_stations)]),
                "lat": ("station", np.zeros(n_stations)), "lon": ("station", np.zeros(n_stations))},
    )
    started = time.perf_counter()
    result = scores.score_stations(matched, params, ["ismn"], progress=False)
    return time.perf_counter() - started, result.stations[["key", "period"]].drop_duplicates().shape[0]


def coverage(sims: int, n: int = 500, rho: float = 0.8, true_r: float = 0.6) -> dict[str, float]:
    """Shares of 95 % intervals holding the truth on AR(1) series (see the module docstring)."""
    from scipy import signal

    from helpers import metrics

    rng = np.random.default_rng(2026)

    def ar1() -> np.ndarray:
        e = rng.standard_normal((sims, n))
        return signal.lfilter([1.0], [1.0, -rho], e * np.sqrt(1 - rho**2), axis=1, zi=e[:, :1] * rho)[0]

    common, e1, e2 = ar1(), ar1(), ar1()
    x = np.sqrt(true_r) * common + np.sqrt(1 - true_r) * e1
    y = np.sqrt(true_r) * common + np.sqrt(1 - true_r) * e2
    true_ubrmse = np.sqrt(2 * (1 - true_r))
    true_rmse = np.hypot(0.05, 0.1)
    d_rmse = 0.05 + 0.1 * ar1()
    hits = dict.fromkeys(("r_neff", "r_iid", "bias_neff", "bias_iid", "ubrmse_neff", "ubrmse_iid", "rmse_block", "rmse_iid"), 0)
    for k in range(sims):
        xi, yi = x[k], y[k]
        d = xi - yi
        rhos = [metrics.lag1_autocorrelation(v) for v in (xi, yi, d)]
        for kind in ("neff", "iid"):
            size = {m: n if kind == "iid" else metrics.n_eff_for(m, n, *rhos) for m in ("r", "bias", "ubrmse")}
            low, high = metrics.r_interval(metrics.pearson_r(xi, yi), size["r"])
            hits[f"r_{kind}"] += low <= true_r <= high
            low, high = metrics.bias_interval(d.mean(), d.std(ddof=1), size["bias"])
            hits[f"bias_{kind}"] += low <= 0 <= high
            low, high = metrics.ubrmse_interval(metrics.ubrmse(xi, yi), size["ubrmse"])
            hits[f"ubrmse_{kind}"] += low <= true_ubrmse <= high
        e = d_rmse[k]
        for kind, block in (("block", metrics.block_length(n, metrics.lag1_autocorrelation(e))), ("iid", 1)):
            starts = metrics.moving_block_starts(n, block, 400, rng)
            sums = metrics.block_resample_sums(np.array([np.ones(n), e**2]), block, starts)
            low, high = metrics.percentile_interval(np.sqrt(sums[:, 1] / sums[:, 0]))
            hits[f"rmse_{kind}"] += low <= true_rmse <= high
    return {name: count / sims for name, count in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small store: check the script, do not measure")
    parser.add_argument("--extract", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.extract:
        extract_child(json.loads(args.extract))
        return
    started = time.perf_counter()
    cells, days = (200, 184) if args.quick else (600, 730)
    counts = (20, 100) if args.quick else (100, 500, 2000)
    store = SCRATCH / "product.zarr"
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    rows = []
    try:
        tick = time.perf_counter()
        write_store(store, cells, days)
        rows.append({"figure": "synthetic store written", "value": round(time.perf_counter() - tick, 1), "unit": "s",
                     "detail": f"{cells} x {cells} cells at 0.05 deg, {days} days, chunks {CHUNK_DAYS} x {CHUNK_CELLS}^2"})
        per_chunk = []
        for n in counts:
            result = extract(store, n)
            assert result["finite"], "extraction returned missing values"
            per_chunk.append(result["seconds"] / result["chunks"])
            rows.append({"figure": f"extract {n} stations", "value": round(result["seconds"], 2), "unit": "s",
                         "detail": f"{n * result['days'] / result['seconds']:,.0f} station-days/s; {result['chunks']} chunk"
                                   f" reads; peak {result['peak_mb']:.0f} MB ({result['imports_mb']:.0f} after imports)"})
        chunk_seconds = float(np.median(per_chunk))
        rows.append({"figure": "time per chunk read", "value": round(chunk_seconds, 3), "unit": "s",
                     "detail": f"median over the runs ({CHUNK_DAYS} days x {CHUNK_CELLS}^2 cells, float32)"})
        n_score, score_days = (20, 366) if args.quick else (200, 730)
        samples = 200 if args.quick else 1000
        seconds, station_periods = scoring(n_score, score_days, samples)
        per_station_day = seconds / (n_score * score_days)
        rows.append({"figure": f"score {n_score} stations x {score_days} days", "value": round(seconds, 1), "unit": "s",
                     "detail": f"{station_periods} station-periods, 6 products, {samples} bootstrap resamples;"
                               f" {1000 * seconds / station_periods:.0f} ms per station-period"})
        shares = coverage(100 if args.quick else 1000)
        for metric in ("r", "bias", "ubrmse"):
            rows.append({"figure": f"coverage of 95 % intervals of {metric} (AR(1), rho 0.8)",
                         "value": round(shares[f"{metric}_neff"], 3), "unit": "share",
                         "detail": f"with N_eff; i.i.d. with the raw n: {shares[f'{metric}_iid']:.3f}"})
        rows.append({"figure": "coverage of 95 % intervals of rmse (AR(1), rho 0.8)", "value": round(shares["rmse_block"], 3),
                     "unit": "share", "detail": f"moving-block bootstrap; i.i.d. bootstrap: {shares['rmse_iid']:.3f}"})
        extraction_40y = chunk_seconds * GLOBAL_LAND_CHUNKS * TIME_CHUNKS_40Y
        scoring_40y = per_station_day * 2000 * 40 * 365.25
        rows.append({"figure": "projected: extract 2,000 stations x 40 years", "value": round(extraction_40y / 60, 1),
                     "unit": "min", "detail": f"{GLOBAL_LAND_CHUNKS} land chunks x {TIME_CHUNKS_40Y} time chunks"})
        rows.append({"figure": "projected: score 2,000 stations x 40 years", "value": round(scoring_40y / 60, 1),
                     "unit": "min", "detail": "at the measured cost per station-day"})
        rows.append({"figure": "benchmark wall time", "value": round(time.perf_counter() - started, 1), "unit": "s",
                     "detail": "quick check, not a measurement" if args.quick else ""})
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    report("validation_quick" if args.quick else "validation", "Validation: extraction and scoring", rows)


if __name__ == "__main__":
    main()
