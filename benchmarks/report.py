"""Shared output of the benchmarks: a JSON record in ``benchmarks/results/`` and a Markdown table."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """Architecture, core count and Python version of this machine."""
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"


def report(name: str, title: str, rows: list[dict]) -> None:
    """Write ``results/<name>.json`` and print ``rows`` as a Markdown table under ``title``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    header = list(rows[0])
    print(f"{title} ({machine()})\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")
