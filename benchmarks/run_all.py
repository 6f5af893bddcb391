"""Run every benchmark of the project (``make bench``); each prints a Markdown table."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_data_prep.py",
    "bench_readers.py",
    "bench_training.py",
    "bench_importance.py",
    "bench_production.py",
    "bench_validation.py",
]

if __name__ == "__main__":
    for name in BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        sys.argv = [str(HERE / name)]
        runpy.run_path(str(HERE / name), run_name="__main__")
