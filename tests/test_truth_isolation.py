"""The twin world's truth must not leak into any estimation step.

The rule is the same everywhere, a mention of the truth (:data:`TRUTH_PATTERN`) outside an
allowed place:

* the package ``src/helpers``: only the world that writes the truth, its accessor
  (``helpers.truth``), the schema and the one validation room that sets the truth at the
  stations beside the station data;
* the notebooks (code cells): only those that score or show the truth beside an estimate made
  without it, and only through the accessor (``helpers.truth``, which finds the store and
  says so on a real-data run) in cells that first ask ``truth.has_truth(params)``; never the
  store itself (``truth_dir``, ``truth.zarr``);
* the benchmarks: nowhere (they time estimation steps).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "helpers"
#: Modules allowed to touch the truth: the world that writes it, the accessor, the schema, and
#: the one validation room that sets the truth at the stations beside the station data.
ALLOWED = {"world", "truth.py", "params", "validation/run.py"}
#: Notebooks that may use the accessor, and what for.
NOTEBOOKS_ALLOWED = {
    "00_data_prep.ipynb": "the truth beside the inputs at a few sites (a figure)",
    "02_model_comparison.ipynb": "the test split scored against the truth (table truth_skill)",
    "04_production.ipynb": "the product scored against the truth; the truth beside its series (a figure)",
}
TRUTH_PATTERN = re.compile(r"truth_dir|open_truth|truth\.zarr|helpers\.truth|from helpers import .*\btruth\b")
#: The store itself: read only through the accessor, never from a notebook.
STORE_PATTERN = re.compile(r"truth_dir|truth\.zarr")
ACCESSOR_CALL = re.compile(r"(?<![\w.])truth\.(?!has_truth\b)\w+\(")  # helpers.truth, not result.truth


def code_cells(path: Path) -> list[str]:
    """The sources of a notebook's code cells (nbformat's JSON, read as such)."""
    cells = json.loads(path.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def notebook_offences(name: str, cells: list[str]) -> list[str]:
    """What breaks the notebooks' rule in the code cells of notebook ``name``."""
    offences = []
    for index, source in enumerate(cells):
        where = f"{name} code cell {index}"
        if not TRUTH_PATTERN.search(source) and not ACCESSOR_CALL.search(source):
            continue
        if name not in NOTEBOOKS_ALLOWED:
            offences.append(f"{where}: reads the truth (not a scoring notebook)")
        elif STORE_PATTERN.search(source):
            offences.append(f"{where}: reads the truth store, not through helpers.truth")
        elif ACCESSOR_CALL.search(source) and "truth.has_truth(params)" not in source:
            offences.append(f"{where}: uses the truth without asking truth.has_truth(params)")
    return offences


def test_no_estimation_module_reads_the_truth():
    offenders = []
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] in ALLOWED or relative.as_posix() in ALLOWED:
            continue
        if TRUTH_PATTERN.search(path.read_text()):
            offenders.append(str(relative))
    assert offenders == [], f"modules that reference the twin-world truth: {offenders}"


def test_notebooks_read_the_truth_only_to_score_through_the_accessor():
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(paths) >= 9 and set(NOTEBOOKS_ALLOWED) <= {path.name for path in paths}
    offences = [offence for path in paths for offence in notebook_offences(path.name, code_cells(path))]
    assert offences == [], offences
    using = {path.name for path in paths if any(TRUTH_PATTERN.search(cell) for cell in code_cells(path))}
    assert using == set(NOTEBOOKS_ALLOWED), "allowed notebooks that no longer use the truth: drop them"


def test_no_benchmark_reads_the_truth():
    paths = sorted((ROOT / "benchmarks").glob("*.py"))
    assert paths
    offenders = [path.name for path in paths if TRUTH_PATTERN.search(path.read_text())]
    assert offenders == [], f"benchmarks that reference the twin-world truth: {offenders}"


def test_the_notebook_rule_catches_each_kind_of_leak():
    scoring = "02_model_comparison.ipynb"
    guarded = "if truth.has_truth(params):\n    skill = truth.truth_sequences(params, rows, calendars, 426)"
    assert notebook_offences(scoring, [guarded, "print(1)"]) == []
    assert notebook_offences("01_sampling.ipynb", ["print(1)", "from helpers import sampling, truth"]) == [
        "01_sampling.ipynb code cell 1: reads the truth (not a scoring notebook)"
    ]
    direct = "if truth.has_truth(params):\n    sm = xr.open_zarr(params.truth_dir / 'truth.zarr')"
    assert "not through helpers.truth" in notebook_offences(scoring, [direct])[0]
    unguarded = "sm = truth.open_truth(params)['sm']"
    # the validation room's station truth (helpers.validation.run) is not the store
    assert notebook_offences("05_validation_ismn.ipynb", ["rows = result.truth.assign(source='ismn')"]) == []
    assert "without asking truth.has_truth" in notebook_offences(scoring, [unguarded])[0]
