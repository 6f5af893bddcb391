"""One seed, one result: the tiny pipeline run twice gives the same tables, byte for byte.

The first run is the session's (notebook chain of tests/test_notebooks.py, on the session's
tiny world and datacube); the second runs notebooks 01-04 through the runner
(``helpers.pipeline``) in its own folder on a copy of the same world and datacube, so that under
pytest-xdist the two run side by side on two workers. 01-04 hold the pipeline's random draws
(sample split, training, SHAP and permutations, dropout, the spread head) and write 18 tables; 05-08 draw only
from seeded bootstraps and are left out to keep ``make test`` within its budget. That the world
repeats for a seed is tested in tests/test_end_to_end.py; the datacube has no random draw.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr
from conftest import write_tiny_params
from test_notebooks import TRAINING_NOTEBOOKS, run_once

from helpers.params import load_params
from helpers.pipeline import run_pipeline


@pytest.mark.slow
def test_a_second_run_with_the_same_seed_gives_the_same_tables_byte_for_byte(tiny, tmp_path, capfd):
    params_file = write_tiny_params(tmp_path / "again")
    again = load_params(params_file)
    for artefact in ("raw_dir", "truth_dir", "cube_path"):  # the world and its datacube, copied
        shutil.copytree(getattr(tiny, artefact), getattr(again, artefact))
    manifest = run_pipeline(params_file, only=["01", "02", "03", "04"], report=False)
    assert manifest["status"] == "succeeded"
    runner_stderr = capfd.readouterr().err  # the kernels write to the runner's stderr
    assert "without encryption" not in runner_stderr, "kernels over IPC: no TCP warning"
    assert "KeyboardInterrupt" not in runner_stderr, "kernels asked to stop, not interrupted"
    assert set(manifest["timings"]["training"]) == {"lstm", "bilstm", "atlstm", "transformer", "xgboost"}

    first = run_once(tiny, TRAINING_NOTEBOOKS, chained=True)  # waits if another worker runs it
    for name in TRAINING_NOTEBOOKS:
        first.of(name)
    shared = sorted(p.name for p in (again.run_dir / "tables").glob("*.csv"))
    assert len(shared) == 18, shared
    missing = [name for name in shared if not (tiny.run_dir / "tables" / name).exists()]
    assert not missing, f"tables of the second run that the first lacks: {missing}"
    differ = [
        name
        for name in shared
        if (again.run_dir / "tables" / name).read_bytes() != (tiny.run_dir / "tables" / name).read_bytes()
    ]
    assert differ == [], f"tables that differ between two runs with seed {tiny.seed}: {differ}"
    products = [xr.open_zarr(p.data_dir / "product.zarr") for p in (tiny, again)]
    for name in ("sm", "sm_uncertainty", "sm_lower", "sm_upper", "sm_flag"):
        np.testing.assert_array_equal(products[0][name].values, products[1][name].values)
