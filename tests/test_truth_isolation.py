"""The twin world's truth must not leak into any estimation step."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "helpers"
#: Modules allowed to touch the truth: the world that writes it, the accessor, the schema, and
#: the one validation room that sets the truth at the stations beside the station data.
ALLOWED = {"world", "truth.py", "params", "validation/run.py"}
TRUTH_PATTERN = re.compile(r"truth_dir|open_truth|truth\.zarr|helpers\.truth|from helpers import .*\btruth\b")


def test_no_estimation_module_reads_the_truth():
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] in ALLOWED or relative.as_posix() in ALLOWED:
            continue
        if TRUTH_PATTERN.search(path.read_text()):
            offenders.append(str(relative))
    assert offenders == [], f"modules that reference the twin-world truth: {offenders}"
