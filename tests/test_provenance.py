from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.params import load_params, params_as_dict
from helpers.provenance import (
    COMMAND_ENV,
    MANIFEST_NAME,
    git_commit,
    git_dirty,
    global_attributes,
    package_versions,
    provenance_record,
    read_manifest,
    update_manifest,
    write_manifest,
)

TINY = Path(__file__).resolve().parents[1] / "params" / "tiny.yaml"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.org", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert git_commit(tmp_path) is None
    (tmp_path / "a.txt").write_text("one")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "commit", "-q", "-m", "first")

    assert git_commit(tmp_path) == git(tmp_path, "rev-parse", "HEAD")
    assert git_dirty(tmp_path) is False
    (tmp_path / "untracked.txt").write_text("ignored by the flag")
    assert git_dirty(tmp_path) is False
    (tmp_path / "a.txt").write_text("two")
    assert git_dirty(tmp_path) is True


def test_git_outside_a_repository_gives_none(tmp_path: Path) -> None:
    outside = tmp_path / "no_repo"
    outside.mkdir()
    (outside / ".git").write_text("gitdir: /nonexistent")
    assert git_commit(outside) is None
    assert git_dirty(outside) is None


def test_package_versions_skip_missing_distributions() -> None:
    versions = package_versions(["numpy", "surely-not-an-installed-package"])
    assert versions == {"numpy": np.__version__}


def test_provenance_record_is_json_ready() -> None:
    params = load_params(TINY)
    record = provenance_record(params)

    assert json.loads(json.dumps(record)) == record
    assert record["seed"] == 7 and record["run_name"] == "tiny"
    assert record["params"] == params_as_dict(params)
    assert record["packages"]["pydantic"]
    assert record["created_utc"].endswith("+00:00")


def test_manifest_updates_merge_nested_sections(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert read_manifest(run_dir) == {}
    write_manifest(run_dir, {"seed": 1, "timings": {"00": 1.5}, "notebooks": [1]})
    merged = update_manifest(run_dir, timings={"01": 2.0}, notebooks=[2], status="done")

    assert merged == {"seed": 1, "timings": {"00": 1.5, "01": 2.0}, "notebooks": [2], "status": "done"}
    assert json.loads((run_dir / MANIFEST_NAME).read_text()) == merged
    assert [p.name for p in run_dir.iterdir()] == [MANIFEST_NAME]


def test_global_attributes_follow_cf_and_acdd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMMAND_ENV, "python -m helpers.pipeline params/tiny.yaml")
    params = load_params(TINY)
    attrs = global_attributes(
        params, "Daily soil moisture", "A test file.", {"time_coverage_resolution": "P1D"}
    )

    assert attrs["Conventions"] == "CF-1.10, ACDD-1.3"
    assert attrs["title"] == "Daily soil moisture" and attrs["summary"] == "A test file."
    assert attrs["history"].endswith(" python -m helpers.pipeline params/tiny.yaml")
    assert (attrs["geospatial_lat_min"], attrs["geospatial_lat_max"]) == (-90.0, 90.0)
    assert (attrs["geospatial_lon_min"], attrs["geospatial_lon_max"]) == (-180.0, 180.0)
    assert attrs["geospatial_lat_resolution"] == "2.0 degree"
    assert (attrs["time_coverage_start"], attrs["time_coverage_end"]) == ("1999-01-01", "2001-12-31")
    assert attrs["time_coverage_resolution"] == "P1D"
    assert json.loads(attrs["glass_sm_params"]) == params_as_dict(params)
    assert attrs["glass_sm_commit"]
    for key in ("institution", "source", "date_created", "creator_name", "project", "keywords", "license"):
        assert isinstance(attrs[key], str) and attrs[key]
    assert all(isinstance(value, str | int | float) for value in attrs.values())
