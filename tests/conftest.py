"""Shared fixtures: one tiny twin-world run (world + datacube) for the whole test session.

With pytest-xdist the workers share it: the first one to arrive builds it under a file lock,
the others wait and reuse it. The cube is built while the truth folder is renamed away, so
any read of the truth by an estimation step would fail the whole session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from helpers.cube import build_cube
from helpers.params import Params, load_params
from helpers.world import generate_world

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config) -> None:
    """One thread per process: the pytest-xdist workers and the notebook kernels they start
    inherit this environment, and two workers share two cores (spinning OpenMP threads of one
    would halve the other's speed)."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def write_tiny_params(folder: Path, **changes) -> Path:
    """A copy of params/tiny.yaml writing its outputs under ``folder`` (with top-level changes)."""
    data = yaml.safe_load((ROOT / "params" / "tiny.yaml").read_text())
    data["outputs_dir"] = str(folder / "outputs")
    data.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, worker_id) -> Params:
    """The tiny twin world and its datacube, built once per test session."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = shared / "tiny_shared"
    with FileLock(str(shared / "tiny_shared.lock")):
        params = load_params(write_tiny_params(folder))
        if not (params.cube_path.exists() and (params.truth_dir / "truth.zarr").exists()):
            generate_world(params, progress=False)
            hidden = params.truth_dir.with_name("truth_hidden")
            params.truth_dir.rename(hidden)
            try:
                build_cube(params, progress=False)
            finally:
                hidden.rename(params.truth_dir)
    return params
