"""Benchmark of data preparation: twin-world generation and the datacube build.

Each stage runs in a fresh child process so that its peak resident memory can be read;
throughput is reported as megabytes written per second and as land cell-days per second.

Usage: ``python benchmarks/bench_data_prep.py [PARAMS.yaml ...]`` (default: tiny and demo).
Results are printed as a Markdown table and written to ``benchmarks/results/data_prep.json``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from report import report

ROOT = Path(__file__).resolve().parents[1]

STAGE_CODE = {
    "world": "from helpers.world import generate_world; generate_world(p, progress=False, overwrite=True)",
    "cube": "from helpers.cube import build_cube; build_cube(p, progress=False, overwrite=True)",
}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def run_stage(params_file: Path, run_name: str, stage: str) -> dict:
    """Run one stage in a child process; return its wall time and its own peak RSS."""
    code = (
        "import resource; from helpers.params import load_params; "
        f"p = load_params({str(params_file)!r}, run_name={run_name!r}); {STAGE_CODE[stage]}; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_kib = int(result.stdout.strip().splitlines()[-1])
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(peak_kib / 1024)}


def bench(params_file: Path) -> list[dict]:
    sys.path.insert(0, str(ROOT / "src"))
    from helpers.params import load_params

    run_name = f"bench_{params_file.stem}"
    params = load_params(params_file, run_name=run_name)
    grid = params.to_grid()
    days = sum(366 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 365 for y in params.period.years)
    rows = []
    for stage, folder in (("world", params.data_dir), ("cube", params.cube_path)):
        before = folder_bytes(folder)
        result = run_stage(params_file, run_name, stage)
        written = folder_bytes(folder) - (before if stage == "world" else 0)
        rows.append({
            "params": params_file.name, "stage": stage, "grid": f"{grid.resolution} deg {grid.nlat}x{grid.nlon}",
            "days": days, **result, "written_mb": round(written / 1e6, 1),
            "mb_per_s": round(written / 1e6 / result["wall_s"], 1),
            "cell_days_per_s": round(grid.nlat * grid.nlon * days / result["wall_s"]),
        })
    return rows


def main(argv: list[str]) -> None:
    files = [Path(a) for a in argv] or [ROOT / "params" / "tiny.yaml", ROOT / "params" / "demo.yaml"]
    rows = [row for f in files for row in bench(f.resolve())]
    report("data_prep", "Data preparation", rows)


if __name__ == "__main__":
    main(sys.argv[1:])
