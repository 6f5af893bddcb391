from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

from helpers import pipeline
from helpers.errors import MissingInputsError
from helpers.pipeline import (
    NotebookFailedError,
    NotebookSelectionError,
    discover_notebooks,
    main,
    run_pipeline,
    select_notebooks,
)
from helpers.provenance import COMMAND_ENV

TINY = Path(__file__).resolve().parents[1] / "params" / "tiny.yaml"

PARAMETERS = 'params_file = ""\nrun_name = ""'
# Each dummy notebook appends its number to tables/order.txt of the run folder.
RECORD_ORDER = """\
import os
from helpers.params import load_params
run_dir = load_params(params_file, run_name=run_name).run_dir
with open(run_dir / "tables" / "order.txt", "a") as out:
    out.write("{number}\\n")
(run_dir / "tables" / "command_{number}.txt").write_text(os.environ.get("{env}", ""))
"""


def write_notebook(folder: Path, name: str, *cells: str) -> None:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})
    notebook.cells = [parameters, *(nbformat.v4.new_code_cell(source) for source in cells)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / name)


def recording_cell(number: str) -> str:
    return RECORD_ORDER.format(number=number, env=COMMAND_ENV)


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("notebooks")
    for name in ("00_first.ipynb", "01_second.ipynb", "02_third.ipynb"):
        write_notebook(folder, name, recording_cell(name[:2]))
    (folder / "README.md").write_text("not a notebook")
    (folder / "scratch.ipynb").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def failing_notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("failing")
    write_notebook(folder, "00_fine.ipynb", recording_cell("00"))
    write_notebook(folder, "01_broken.ipynb", "x = 1", 'raise ValueError("boom in the second cell")')
    write_notebook(folder, "02_after.ipynb", recording_cell("02"))
    return folder


def tiny_params(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(TINY.read_text())
    raw["outputs_dir"] = str(tmp_path / "outputs")
    raw.update(changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def order_of(run_dir: Path) -> list[str]:
    return (run_dir / "tables" / "order.txt").read_text().split()


def is_duration(value: object) -> bool:
    """A recorded wall time: a finite number of seconds >= 0 (its size depends on the machine)."""
    return isinstance(value, int | float) and math.isfinite(value) and value >= 0


def test_runs_every_notebook_in_order_and_records_provenance(tmp_path: Path, notebooks: Path) -> None:
    manifest = run_pipeline(tiny_params(tmp_path), notebooks_dir=notebooks, command="make demo")
    run_dir = tmp_path / "outputs" / "tiny"

    assert order_of(run_dir) == ["00", "01", "02"]
    assert (run_dir / "tables" / "command_01.txt").read_text() == "make demo"
    for name in ("notebooks", "figures", "tables", "data"):
        assert (run_dir / name).is_dir()
    on_disk = json.loads((run_dir / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["status"] == "succeeded"
    assert manifest["report"] == str(run_dir / "report" / "index.html") and Path(manifest["report"]).is_file()
    assert manifest["seed"] == 7 and manifest["params"]["run_name"] == "tiny"
    assert manifest["command"] == "make demo"
    assert set(manifest["git"]) == {"commit", "dirty"}
    assert manifest["packages"]["numpy"] == np.__version__
    assert "papermill" in manifest["packages"]
    assert manifest["cpu_count"] == os.cpu_count()
    assert manifest["torch_threads"] == torch.get_num_threads()
    assert is_duration(manifest["wall_s"])
    assert manifest["started_utc"] <= manifest["finished_utc"]
    entries = manifest["notebooks"]
    assert [e["name"] for e in entries] == ["00_first.ipynb", "01_second.ipynb", "02_third.ipynb"]
    for entry in entries:
        assert entry["status"] == "succeeded"
        assert is_duration(entry["wall_s"])
        assert manifest["started_utc"] <= entry["started"] <= entry["finished"] <= manifest["finished_utc"]
        executed = nbformat.read(run_dir / entry["executed_copy"], as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert str(tmp_path / "params.yaml") in injected[0].source
    log = (run_dir / "pipeline.log").read_text()
    assert "02_third.ipynb: succeeded" in log


def test_only_and_from_select_notebooks_and_keep_earlier_entries(tmp_path: Path, notebooks: Path) -> None:
    params = tiny_params(tmp_path)
    run_dir = tmp_path / "outputs" / "tiny"

    run_pipeline(params, only=["00", "2"], notebooks_dir=notebooks)
    assert order_of(run_dir) == ["00", "02"]

    manifest = run_pipeline(params, start="01", notebooks_dir=notebooks)
    assert order_of(run_dir) == ["00", "02", "01", "02"]
    statuses = {e["name"]: e["status"] for e in manifest["notebooks"]}
    assert statuses == dict.fromkeys(["00_first.ipynb", "01_second.ipynb", "02_third.ipynb"], "succeeded")


def test_unknown_numbers_are_refused_with_the_available_notebooks(notebooks: Path) -> None:
    available = discover_notebooks(notebooks)
    assert [nb.name for nb in available] == ["00_first.ipynb", "01_second.ipynb", "02_third.ipynb"]
    with pytest.raises(NotebookSelectionError, match=r"07.*available notebooks: 00_first.ipynb, 01_second"):
        select_notebooks(available, only=["00", "07"])
    with pytest.raises(NotebookSelectionError, match="no notebook numbered 05"):
        select_notebooks(available, start="05")
    with pytest.raises(NotebookSelectionError, match="not a number"):
        select_notebooks(available, only=["first"])


def test_failure_stops_the_run_and_names_notebook_and_cell(tmp_path: Path, failing_notebooks: Path) -> None:
    with pytest.raises(NotebookFailedError) as caught:
        run_pipeline(tiny_params(tmp_path), notebooks_dir=failing_notebooks)
    run_dir = tmp_path / "outputs" / "tiny"
    failure = caught.value

    assert failure.notebook == "01_broken.ipynb"
    assert failure.cell_index is not None and failure.exec_count is not None
    assert "ValueError: boom in the second cell" in str(failure)
    assert order_of(run_dir) == ["00"]
    executed = nbformat.read(run_dir / "notebooks" / "01_broken.ipynb", as_version=4)
    failed_cell = next(c for c in executed.cells if c.get("execution_count") == failure.exec_count)
    assert "boom in the second cell" in json.dumps(failed_cell.outputs)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    statuses = [e["status"] for e in manifest["notebooks"]]
    assert statuses == ["succeeded", "failed", "not run"]
    assert manifest["notebooks"][1]["error"]["cell_index"] == failure.cell_index


def test_cli_failure_exits_1_and_reports_the_cell(
    tmp_path: Path, failing_notebooks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([str(tiny_params(tmp_path)), "--from", "01", "--notebooks-dir", str(failing_notebooks)])
    captured = capsys.readouterr()
    err = captured.err

    assert status == 1
    report = tmp_path / "outputs" / "tiny" / "report" / "index.html"
    assert captured.out.strip() == f"report (of the failed run): {report}" and "01_broken" in report.read_text()
    assert "notebook 01_broken.ipynb failed in cell In [" in err
    assert 'raise ValueError("boom in the second cell")' in err
    assert "Traceback" not in err


def test_cli_reports_params_errors_without_traceback(tmp_path: Path) -> None:
    params = tiny_params(tmp_path, colour="blue")
    done = subprocess.run(
        [sys.executable, "-m", "helpers.pipeline", str(params)], capture_output=True, text=True, check=False
    )

    assert done.returncode == 2
    assert "colour: unknown key" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "outputs").exists()


def test_real_data_configuration_checks_inputs_first(
    tmp_path: Path, notebooks: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    checked = []

    def check_inputs(params: object) -> None:
        checked.append(params)
        raise MissingInputsError([("GLASS AVHRR LST", "/data/glass_lst/*.hdf", "GLASS archive")])

    monkeypatch.setattr(pipeline, "check_inputs", check_inputs)
    params = tiny_params(tmp_path, world=None, data_root=str(tmp_path / "data"))
    status = main([str(params), "--notebooks-dir", str(notebooks)])

    assert status == 2
    assert len(checked) == 1
    assert "GLASS AVHRR LST: expected /data/glass_lst/*.hdf" in capsys.readouterr().err
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"status": "runn', "not valid JSON"),  # cut short
        (b"[1, 2]", "expected a JSON object"),
        (b'{"notebooks": [{"status": "pending"}]}', "notebooks must be a list of entries with a name"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_corrupt_manifest_is_refused_and_left_as_it_was(
    tmp_path: Path, notebooks: Path, capsys: pytest.CaptureFixture[str], content: bytes, problem: str
) -> None:
    run_dir = tmp_path / "outputs" / "tiny"
    run_dir.mkdir(parents=True)
    manifest = run_dir / "manifest.json"
    manifest.write_bytes(content)
    status = main([str(tiny_params(tmp_path)), "--notebooks-dir", str(notebooks)])
    err = capsys.readouterr().err

    assert status == 2
    assert f"error: {manifest}: corrupt run manifest" in err and problem in err
    assert "Traceback" not in err
    assert manifest.read_bytes() == content  # kept for inspection, not overwritten
    assert [p.name for p in run_dir.iterdir()] == ["manifest.json"]  # nothing written beside it


def test_outputs_dir_that_cannot_be_created_is_refused(
    tmp_path: Path, notebooks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where outputs_dir's parent folder should be")
    status = main(
        [str(tiny_params(tmp_path, outputs_dir=str(blocker / "outputs"))), "--notebooks-dir", str(notebooks)]
    )
    err = capsys.readouterr().err

    assert status == 2
    assert f"error: {blocker}: a file, not a folder: cannot create the run folder" in err
    assert "outputs_dir must be a writable folder" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "params.yaml"]


def test_run_folder_half_created_is_removed_again(
    tmp_path: Path, notebooks: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder that cannot be created (here: figures/) leaves none of the folders made before it."""
    mkdir = Path.mkdir

    def refusing_mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self.name == "figures":
            raise PermissionError(13, "Permission denied", str(self))
        mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refusing_mkdir)
    status = main([str(tiny_params(tmp_path)), "--notebooks-dir", str(notebooks)])
    err = capsys.readouterr().err

    assert status == 2
    assert f"error: {tmp_path / 'outputs' / 'tiny' / 'figures'}: cannot create the run folder" in err
    assert "Permission denied" in err and "Traceback" not in err
    assert not (tmp_path / "outputs").exists()


def test_run_folder_without_write_access_is_refused(
    tmp_path: Path, notebooks: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing run folder where the manifest cannot be written: refused, the folder left as it was."""
    run_dir = tmp_path / "outputs" / "tiny"
    for name in ("notebooks", "figures", "tables", "data"):
        (run_dir / name).mkdir(parents=True)

    def refusing_write(folder: Path, record: dict) -> Path:
        raise PermissionError(13, "Permission denied", str(folder / "manifest.json"))

    monkeypatch.setattr(pipeline, "write_manifest", refusing_write)
    status = main([str(tiny_params(tmp_path)), "--notebooks-dir", str(notebooks)])
    err = capsys.readouterr().err

    assert status == 2
    assert f"error: {run_dir / 'manifest.json'}: cannot write the run manifest" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in run_dir.iterdir()) == ["data", "figures", "notebooks", "tables"]
