"""Time the two whole runs the README quotes: the demo from nothing and the test suite.

Not part of ``make bench`` (together they take about 20 minutes on 2 cores); run it with
``make bench-runs``. The demo runs into a scratch outputs folder (``.bench_tmp/``, removed
afterwards) so that ``outputs/demo`` is left alone; the per-notebook times come from the run's
``manifest.json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from report import report

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".bench_tmp" / "whole_runs"


def timed(command: list[str]) -> float:
    """Run ``command`` in the project root; its wall-clock seconds (an error if it fails)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    return time.perf_counter() - started


def demo_from_nothing() -> dict:
    """Notebooks 00-08 on params/demo.yaml into an empty outputs folder."""
    shutil.rmtree(SCRATCH, ignore_errors=True)
    SCRATCH.mkdir(parents=True)
    params = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())
    params["outputs_dir"] = str(SCRATCH / "outputs")
    params_file = SCRATCH / "demo.yaml"
    params_file.write_text(yaml.safe_dump(params))
    seconds = timed([sys.executable, "-m", "helpers.pipeline", str(params_file)])
    manifest = json.loads((SCRATCH / "outputs" / params["run_name"] / "manifest.json").read_text())
    notebooks = ", ".join(f"{e['name'][:2]} {e['wall_s']:.0f} s" for e in manifest["notebooks"])
    shutil.rmtree(SCRATCH)
    return {"command": "make demo (from nothing)", "wall_s": round(seconds, 1), "notebooks": notebooks}


def test_suite() -> dict:
    """``make test`` without its set-up: ruff and pytest with two workers."""
    ruff = timed([sys.executable, "-m", "ruff", "check", "src", "tests", "notebooks", "benchmarks"])
    tests = timed([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-q"])
    return {"command": "make test (set-up done)", "wall_s": round(ruff + tests, 1), "notebooks": ""}


if __name__ == "__main__":
    report("whole_runs", "Whole runs", [demo_from_nothing(), test_suite()])
