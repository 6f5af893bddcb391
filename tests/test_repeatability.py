"""One seed, one result: the tiny pipeline run twice gives the same tables, byte for byte.

The first run is the session's (notebook chain of tests/test_notebooks.py, on the session's
tiny world and datacube); the second runs the pipeline (``helpers.pipeline``, notebooks 01-08)
in its own folder on a copy of the same world and datacube, so that under pytest-xdist the two
run side by side on two workers. That the world repeats for a seed is tested in
tests/test_end_to_end.py; the datacube has no random draw.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr
from conftest import write_tiny_params
from test_notebooks import TRAINING_NOTEBOOKS, VALIDATION_NOTEBOOKS, run_once

from helpers.params import load_params
from helpers.pipeline import run_pipeline


@pytest.mark.slow
def test_a_second_run_with_the_same_seed_gives_the_same_tables_byte_for_byte(tiny, tmp_path):
    params_file = write_tiny_params(tmp_path / "again")
    again = load_params(params_file)
    for artefact in ("raw_dir", "truth_dir", "cube_path"):  # the world and its datacube, copied
        shutil.copytree(getattr(tiny, artefact), getattr(again, artefact))
    manifest = run_pipeline(params_file, start="01")
    assert manifest["status"] == "succeeded"
    assert set(manifest["timings"]["training"]) == {"lstm", "bilstm", "atlstm", "transformer", "xgboost"}

    for names, chained in ((TRAINING_NOTEBOOKS, True), (VALIDATION_NOTEBOOKS, False)):
        first = run_once(tiny, names, chained=chained)  # waits for the chain if another worker runs it
        for name in names:
            first.of(name)
    tables = sorted(p.name for p in (again.run_dir / "tables").glob("*.csv"))
    shared = [name for name in tables if (tiny.run_dir / "tables" / name).exists()]
    missing = set(tables) - set(shared)
    assert not missing, f"tables of the second run that the first lacks: {sorted(missing)}"
    assert len(shared) >= 15  # 01-08 write 19 on tiny
    differ = [
        name
        for name in shared
        if (again.run_dir / "tables" / name).read_bytes() != (tiny.run_dir / "tables" / name).read_bytes()
    ]
    assert differ == [], f"tables that differ between two runs with seed {tiny.seed}: {differ}"
    products = [xr.open_zarr(p.data_dir / "product.zarr") for p in (tiny, again)]
    for name in ("sm", "sm_uncertainty", "sm_flag"):
        np.testing.assert_array_equal(products[0][name].values, products[1][name].values)
