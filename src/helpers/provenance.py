"""Provenance: what produced a result, recorded beside it.

Every run folder ``outputs/<run_name>/`` holds a ``manifest.json`` describing the run: the
params, the seed, the git commit (and whether the working tree had uncommitted changes), the
Python version, the platform, the versions of the key packages, the machine's CPU count and
torch's thread count, and timings. Every output file carries CF-1.10 / ACDD-1.3 global
attributes that point back to the same facts. A manifest that cannot be read back (not UTF-8,
not JSON, not a JSON object) raises :class:`~helpers.errors.RunFolderError` naming it.

Typical use::

    record = provenance_record(params)
    write_manifest(params.run_dir, record)
    update_manifest(params.run_dir, results={"model_comparison": "tables/model_comparison.csv"})

    ds.attrs.update(global_attributes(params, title="GLASS-SM daily soil moisture",
                                      summary="Daily 0-5 cm volumetric soil moisture ..."))

:func:`update_manifest` merges nested dictionaries, so independent writers (the pipeline
runner, the notebooks) can each add their own section without overwriting the others'.
The command recorded in ``history`` is the one that started the run: the pipeline runner
exports it in the environment variable :data:`COMMAND_ENV` for the notebook kernels.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import helpers
from helpers.errors import RunFolderError
from helpers.io import atomic_path
from helpers.params import Params, merge_params, params_as_dict

MANIFEST_NAME = "manifest.json"
COMMAND_ENV = "GLASS_SM_COMMAND"
PROJECT_ROOT = Path(helpers.__file__).resolve().parents[2]

# Distributions whose versions matter for reproducing a result. Both XGBoost distributions
# are listed (they provide the same ``import xgboost``); the one installed is recorded.
KEY_PACKAGES = (
    "glass-sm",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "dask",
    "zarr",
    "netCDF4",
    "h5netcdf",
    "torch",
    "xgboost-cpu",
    "xgboost",
    "shap",
    "papermill",
    "pydantic",
    "rasterio",
    "pyhdf",
    "ismn",
    "pytesmo",
    "cartopy",
    "hvplot",
)

PROJECT_ATTRIBUTES = {
    "institution": "glass-sm project: open re-implementation of the GLASS-AVHRR soil-moisture method",
    "creator_name": "glass-sm contributors",
    "creator_type": "group",
    "project": "GLASS-SM: seamless long-term global daily soil moisture with deep learning",
    "keywords": (
        "soil moisture, surface soil moisture, AVHRR, GLASS, ERA5-Land, deep learning, LSTM, attention,"
        " daily, global"
    ),
    "references": (
        "Zhang et al. (2025), A seamless global daily 5 km soil moisture product from 1982 to 2021 using"
        " AVHRR satellite data and an attention-based deep learning model, Earth Syst. Sci. Data 17,"
        " 5181-5207, doi:10.5194/essd-17-5181-2025"
    ),
    "cdm_data_type": "Grid",
}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(root: Path | str = PROJECT_ROOT) -> str | None:
    """The full hash of the commit checked out in ``root``.

    Parameters
    ----------
    root
        Any folder inside the git working tree (default: this project's).

    Returns
    -------
    str or None
        ``None`` when ``root`` is not in a git repository, the repository has no commit yet,
        or git is not installed.
    """
    return _git(Path(root), "rev-parse", "--verify", "--quiet", "HEAD")


def git_dirty(root: Path | str = PROJECT_ROOT) -> bool | None:
    """Whether tracked files in ``root``'s working tree differ from the commit.

    Untracked files do not count. ``None`` when git cannot tell (no repository, no git).
    """
    status = _git(Path(root), "status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def commit_label(root: Path | str = PROJECT_ROOT) -> str:
    """The commit hash with ``-dirty`` appended for a modified tree, or ``"unknown"``."""
    commit = git_commit(root)
    if commit is None:
        return "unknown"
    return f"{commit}-dirty" if git_dirty(root) else commit


def package_versions(names: tuple[str, ...] | list[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the given distributions.

    Parameters
    ----------
    names
        Distribution names as on PyPI (default :data:`KEY_PACKAGES`).

    Returns
    -------
    dict
        ``{name: version}`` for each installed distribution, in the order given; names that
        are not installed are left out.
    """
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def torch_threads() -> int | None:
    """torch's intra-op thread count in this process, ``None`` when torch is not installed.

    The notebook kernels start from the same default (they inherit the environment, e.g.
    ``OMP_NUM_THREADS``); ``training.num_threads`` in the params overrides it for training.
    """
    try:
        import torch  # imported here: heavy, and only this value is needed
    except ImportError:
        return None
    return torch.get_num_threads()


def utc_now() -> str:
    """The current time in UTC as ISO 8601 with seconds, e.g. ``2026-11-24T05:01:02+00:00``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def current_command() -> str:
    """The command that started this run: :data:`COMMAND_ENV` if set, else ``sys.argv``."""
    return os.environ.get(COMMAND_ENV) or shlex.join(sys.argv)


def provenance_record(params: Params, root: Path | str = PROJECT_ROOT) -> dict[str, Any]:
    """Everything needed to say how a run was produced.

    Parameters
    ----------
    params
        The validated run configuration.
    root
        The project's git working tree (default: the one this package lives in).

    Returns
    -------
    dict
        JSON-ready: ``run_name``, ``seed``, ``params``, ``git`` (``commit``, ``dirty``),
        ``command``, ``python``, ``platform``, ``packages``, ``cpu_count``
        (:func:`os.cpu_count`), ``torch_threads`` (:func:`torch_threads`) and ``created_utc``.
    """
    return {
        "run_name": params.run_name,
        "seed": params.seed,
        "params": params_as_dict(params),
        "git": {"commit": git_commit(root), "dirty": git_dirty(root)},
        "command": current_command(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch_threads(),
        "created_utc": utc_now(),
    }


def corrupt_manifest(run_dir: Path | str, problem: str) -> RunFolderError:
    """The error for a manifest that cannot be used, naming it and saying how to go on."""
    return RunFolderError(
        Path(run_dir) / MANIFEST_NAME,
        f"corrupt run manifest: {problem}; repair or remove it, or use another run_name",
    )


def read_manifest(run_dir: Path | str) -> dict[str, Any]:
    """The manifest of a run folder, or an empty dictionary if there is none yet.

    Raises
    ------
    RunFolderError
        naming the manifest when it cannot be read, is not UTF-8 text, not JSON, or not a
        JSON object.
    """
    path = Path(run_dir) / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise corrupt_manifest(run_dir, f"not UTF-8 text (byte offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise corrupt_manifest(run_dir, f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise RunFolderError(path, f"cannot read the run manifest ({exc.strerror or exc})") from None
    if not isinstance(record, dict):
        raise corrupt_manifest(run_dir, f"expected a JSON object, got {type(record).__name__}")
    return record


def write_manifest(run_dir: Path | str, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``<run_dir>/manifest.json``, atomically, replacing any old one.

    Parameters
    ----------
    run_dir
        The run folder (created if needed).
    record
        JSON-ready dictionary; paths and dates are written as strings.

    Returns
    -------
    Path
        The manifest's path.
    """
    path = Path(run_dir) / MANIFEST_NAME
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path


def update_manifest(run_dir: Path | str, **sections: Any) -> dict[str, Any]:
    """Merge ``sections`` into ``<run_dir>/manifest.json`` and rewrite it atomically.

    Dictionaries are merged key by key at every depth; any other value (lists included)
    replaces the old one.

    Parameters
    ----------
    run_dir
        The run folder; a missing manifest is started from an empty record.
    **sections
        Top-level keys and their values, e.g. ``timings={"04_production": 812.5}``.

    Returns
    -------
    dict
        The whole manifest as written.

    Raises
    ------
    RunFolderError
        the existing manifest is corrupt (see :func:`read_manifest`).
    """
    record = merge_params(read_manifest(run_dir), sections)
    write_manifest(run_dir, record)
    return record


#: Licence of the data files a run writes (the software itself is MIT-licensed).
DATA_LICENSE = "CC-BY-4.0"


def global_attributes(
    params: Params, title: str, summary: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """CF-1.10 / ACDD-1.3 global attributes for an output file of a run.

    Parameters
    ----------
    params
        The run configuration: gives the spatial (``params.grid``) and temporal
        (``params.period``) coverage, and is embedded as JSON in ``glass_sm_params``.
    title
        A short description of the file's content.
    summary
        A paragraph on what the file holds and how it was made.
    extra
        Further attributes; they override the defaults (e.g. a narrower
        ``time_coverage_start`` or a ``time_coverage_resolution``).

    Returns
    -------
    dict
        Attribute names to strings and numbers only, ready for ``Dataset.attrs``. ``history``
        holds the creation time and the command that started the run; ``glass_sm_commit``
        the git commit (``-dirty`` when the tree was modified, ``unknown`` outside git).
    """
    created = utc_now()
    west, south, east, north = params.grid.bbox
    resolution = params.grid.resolution
    if params.world is not None:
        origin = "twin world: synthetic, physically coupled inputs on the real Earth (demonstration)"
    else:
        origin = f"real input products under {params.data_root}"
    attributes: dict[str, Any] = {
        "Conventions": "CF-1.10, ACDD-1.3",
        "title": title,
        "summary": summary,
        **PROJECT_ATTRIBUTES,
        "source": (
            f"glass-sm {helpers.__version__}: soil moisture estimated by deep learning from AVHRR albedo"
            f" and LST, ERA5-Land soil water, terrain and soil texture; {origin}"
        ),
        "history": f"{created} {current_command()}",
        "date_created": created,
        "license": DATA_LICENSE,
        "product_version": helpers.__version__,
        "geospatial_lat_min": south,
        "geospatial_lat_max": north,
        "geospatial_lon_min": west,
        "geospatial_lon_max": east,
        "geospatial_lat_units": "degrees_north",
        "geospatial_lon_units": "degrees_east",
        "geospatial_lat_resolution": f"{resolution} degree",
        "geospatial_lon_resolution": f"{resolution} degree",
        "geospatial_bounds": (
            f"POLYGON(({south} {west}, {north} {west}, {north} {east}, {south} {east}, {south} {west}))"
        ),
        "geospatial_bounds_crs": "EPSG:4326",
        "time_coverage_start": f"{params.period.start_year}-01-01",
        "time_coverage_end": f"{params.period.end_year}-12-31",
        "glass_sm_run_name": params.run_name,
        "glass_sm_params": json.dumps(params_as_dict(params), sort_keys=True),
        "glass_sm_commit": commit_label(),
    }
    attributes.update(extra or {})
    return attributes
