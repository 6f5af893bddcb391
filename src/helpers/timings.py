"""Timings of a run, kept out of the result tables and merged into the run's manifest.

Result tables (``tables/*.csv``) must repeat byte for byte for one seed, so the seconds a
training run or an experiment took are recorded here instead: ``<run>/timings.json`` holds
one mapping per section (e.g. ``training``, ``experiment_ablations``) of names to seconds,
and the pipeline copies it into ``manifest.json`` under ``timings``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from helpers.io import atomic_path
from helpers.params import Params


def timings_path(params: Params) -> Path:
    """``<run>/timings.json``."""
    return params.run_dir / "timings.json"


def read_timings(params: Params) -> dict[str, dict[str, float]]:
    """Every recorded section (empty without a file; an unreadable file is named)."""
    path = timings_path(params)
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not a timings record ({exc}); delete it") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: not a timings record (expected a mapping of sections); delete it")
    return record


def record_timings(params: Params, section: str, seconds: Mapping[str, float]) -> None:
    """Set ``section`` of ``timings.json`` to ``seconds`` (names to wall-clock seconds)."""
    record = read_timings(params)
    record[section] = {name: round(float(value), 3) for name, value in seconds.items()}
    with atomic_path(timings_path(params)) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
