"""Run the numbered notebooks of one configuration, in order, with papermill.

Usage::

    python -m helpers.pipeline params/demo.yaml              # every notebook
    python -m helpers.pipeline params/demo.yaml --only 00 02 # just these
    python -m helpers.pipeline params/demo.yaml --from 04    # 04 and everything after it
    python -m helpers.pipeline params/paper.yaml --check     # what input files are there

Each notebook ``notebooks/NN_*.ipynb`` is executed with the parameters ``params_file`` (the
absolute path of the YAML file) and ``run_name``, with the notebooks folder as working
directory. Everything lands in ``<outputs_dir>/<run_name>/`` (``params.run_dir``)::

    notebooks/      executed copies (a failed one is kept, with the error, for inspection)
    figures/ tables/ data/
    manifest.json   provenance (params, seed, commit, versions, CPU count), one entry per
                    notebook, and ``timings``: the seconds of each training run and
                    experiment (from ``timings.json``, :mod:`helpers.timings`), which the
                    result tables leave out so that they repeat byte for byte
    pipeline.log    this runner's log (also printed to stderr)
    report/         the browsable HTML report (:mod:`helpers.report`), rebuilt at the end of
                    every run, failed ones included; ``index.html`` is printed last

The kernels run over local IPC sockets (not TCP, so ipykernel has nothing to warn about) and
with one-line progress bars (:data:`helpers.progress.PROGRESS_ENV` ``summary``), so the
executed copies and the report hold what a reader needs and no spill.

The manifest is rewritten after every notebook, so it tells how far a run got even when it
was killed. For real data (no ``world`` section in the params) the input files are checked
first and every missing one is listed before anything runs. A run folder whose manifest is
corrupt, or that cannot be created or written (``outputs_dir`` not a writable folder), is
refused before anything is written: the folders the runner made for it are removed again and
a corrupt manifest is left as it was, for inspection.

``--check`` runs nothing: it prints, per product, what was found under ``data_root`` (files,
years, grid), what is missing and where to get it (:func:`helpers.inventory.inventory`), and
exits 2 when a required input is missing.

Exit status: 0 on success, 1 when a notebook failed (the message names the notebook and the
cell), 2 for invalid params, missing inputs, an unknown notebook number or a run folder that
cannot be used (the message names the path). The same run is available from Python as
:func:`run_pipeline`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.manager import AsyncKernelManager
from tqdm import tqdm
from traitlets.config import Config

from helpers.errors import GlassSMError, MissingInputsError, ParamsError, RunFolderError
from helpers.inventory import check_inputs, format_inventory, inventory
from helpers.params import Params, load_params
from helpers.progress import PROGRESS_ENV
from helpers.provenance import (
    COMMAND_ENV,
    MANIFEST_NAME,
    PROJECT_ROOT,
    corrupt_manifest,
    provenance_record,
    read_manifest,
    update_manifest,
    utc_now,
    write_manifest,
)
from helpers.report import REPORT_DIR, build_report
from helpers.timings import read_timings

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "python3"
RUN_SUBDIRS = ("notebooks", "figures", "tables", "data")
LOG_NAME = "pipeline.log"
# What an unfinished notebook entry says once the run has stopped.
UNFINISHED = {"pending": "not run", "running": "interrupted"}

logger = logging.getLogger(__name__)


class NotebookSelectionError(GlassSMError, ValueError):
    """``--only`` or ``--from`` names a notebook number that does not exist."""


class NotebookFailedError(GlassSMError):
    """A notebook raised an error; names the notebook, the cell and the executed copy.

    ``exec_count`` is the cell's ``In [n]`` number; ``cell_index`` is papermill's index of
    the cell in the executed notebook (which counts the injected parameters cell). Both are
    ``None`` when the kernel failed outside a cell (e.g. it died or did not start).
    """

    def __init__(
        self,
        notebook: str,
        executed_copy: Path,
        error: str,
        cell_index: int | None = None,
        exec_count: int | None = None,
        cell_source: str = "",
    ) -> None:
        self.notebook = notebook
        self.executed_copy = executed_copy
        self.error = error
        self.cell_index = cell_index
        self.exec_count = exec_count
        where = f"notebook {notebook} failed"
        if exec_count is not None:
            where += f" in cell In [{exec_count}]"
        lines = [f"{where}: {error}"]
        if cell_source:
            lines.append("  cell source:\n" + "\n".join(f"    {line}" for line in cell_source.splitlines()))
        lines.append(f"  executed copy kept for inspection: {executed_copy}")
        super().__init__("\n".join(lines))


def notebook_number(notebook: Path) -> str:
    """The two-digit number that starts a notebook's file name."""
    return notebook.name[:2]


def discover_notebooks(notebooks_dir: Path | str = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks ``NN_*.ipynb`` of a folder, in run order.

    Raises
    ------
    NotebookSelectionError
        if the folder holds none.
    """
    notebooks = sorted(Path(notebooks_dir).glob(NOTEBOOK_PATTERN))
    if not notebooks:
        raise NotebookSelectionError(f"{notebooks_dir}: no numbered notebooks ({NOTEBOOK_PATTERN})")
    return notebooks


def _normalised_number(number: str, available: list[Path]) -> str:
    if not number.isdigit():
        raise NotebookSelectionError(f"notebook number {number!r} is not a number; {_listing(available)}")
    return f"{int(number):02d}"


def _listing(available: list[Path]) -> str:
    return "available notebooks: " + ", ".join(nb.name for nb in available)


def select_notebooks(
    available: list[Path], only: Sequence[str] | None = None, start: str | None = None
) -> list[Path]:
    """The notebooks to run, in order.

    Parameters
    ----------
    available
        All numbered notebooks, in order (see :func:`discover_notebooks`).
    only
        Numbers of the notebooks to run (``"02"`` or ``"2"``); ``None`` for all.
    start
        Number of the first notebook to run; it and every later one run.

    Raises
    ------
    NotebookSelectionError
        for a number no notebook has, or when both ``only`` and ``start`` are given; the
        message lists the available notebooks.
    """
    if only is not None and start is not None:
        raise NotebookSelectionError("give either only or start, not both")
    numbers = {notebook_number(nb) for nb in available}
    requested = list(only) if only is not None else [start] if start is not None else []
    wanted = [_normalised_number(n, available) for n in requested]
    unknown = [n for n in wanted if n not in numbers]
    if unknown:
        raise NotebookSelectionError(f"no notebook numbered {', '.join(unknown)}; {_listing(available)}")
    if only is not None:
        return [nb for nb in available if notebook_number(nb) in wanted]
    if start is not None:
        return [nb for nb in available if notebook_number(nb) >= wanted[0]]
    return list(available)


def check_real_inputs(params: Params) -> None:
    """For real data (no ``world`` section), check that every input file is present.

    Delegates to :func:`helpers.inventory.check_inputs`.

    Raises
    ------
    MissingInputsError
        listing each missing file with where it comes from.
    """
    if params.world is not None:
        return
    check_inputs(params)


@contextmanager
def _logging_to(log_file: Path) -> Iterator[None]:
    """Send this module's log to ``log_file`` (appended) and to stderr while the block runs."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers = [logging.FileHandler(log_file), logging.StreamHandler(sys.stderr)]
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()


@contextmanager
def _exported(variables: dict[str, str]) -> Iterator[None]:
    """Export ``variables`` to the notebook kernels while the block runs, then restore them."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class RunnerKernelManager(AsyncKernelManager):
    """The kernel manager of the runs: at shutdown it asks the kernel to stop, without first
    interrupting it. jupyter_client sends SIGINT before every shutdown, which a kernel still
    finishing a message (a comm, a display) logs as "KeyboardInterrupt caught in kernel" on the
    runner's terminal; every cell has finished by then, so there is nothing to interrupt."""

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()


def execute_notebook(notebook: Path, executed_copy: Path, parameters: dict[str, Any]) -> None:
    """Execute ``notebook`` into ``executed_copy`` with papermill, the way every run does it.

    The working directory is the notebook's folder; the kernel is ``python3`` of this
    environment, reached over IPC sockets; progress bars leave one line each. papermill's
    exceptions pass through (:class:`papermill.PapermillExecutionError` for a failed cell).
    """
    kernel_config = Config()
    kernel_config.KernelManager.transport = "ipc"
    # A private folder for the sockets: by default they land in the working directory, where
    # two kernels of the same notebooks folder (two runs at once) would take each other's.
    with tempfile.TemporaryDirectory(prefix="glass-sm-kernel-") as sockets, _exported({PROGRESS_ENV: "summary"}):
        kernel_config.KernelManager.ip = str(Path(sockets) / "ipc")
        papermill.execute_notebook(
            str(notebook),
            str(executed_copy),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent),
            progress_bar=False,
            config=kernel_config,
            kernel_manager_class=RunnerKernelManager,
        )


def _notebook_entries(run_dir: Path, selected: list[Path]) -> dict[str, dict[str, Any]]:
    """Entries of an earlier run of the same folder, then the selected notebooks as pending.

    RunFolderError naming the manifest when it is corrupt (see :func:`read_manifest`) or its
    ``notebooks`` is not a list of entries with a name.
    """
    previous = read_manifest(run_dir).get("notebooks", [])
    if not isinstance(previous, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("name"), str) for entry in previous
    ):
        raise corrupt_manifest(run_dir, "notebooks must be a list of entries with a name")
    entries = {entry["name"]: entry for entry in previous}
    for notebook in selected:
        entries[notebook.name] = {"name": notebook.name, "status": "pending"}
    return dict(sorted(entries.items()))


def _create_run_folder(run_dir: Path, record: dict[str, Any]) -> None:
    """Create ``run_dir`` (with its parents), its sub-folders and its first manifest ``record``.

    Raises
    ------
    RunFolderError
        naming the folder or file that could not be made; the folders this call created are
        removed again, so a refused run leaves nothing behind.
    """
    created: list[Path] = []

    def refuse(path: Path, problem: str) -> RunFolderError:
        for folder in reversed(created):
            with suppress(OSError):
                folder.rmdir()
        return RunFolderError(path, f"{problem}; outputs_dir must be a writable folder")

    for folder in [*reversed(run_dir.parents), run_dir, *(run_dir / name for name in RUN_SUBDIRS)]:
        if folder.is_dir():
            continue
        if folder.exists():
            raise refuse(folder, f"a file, not a folder: cannot create the run folder {run_dir}")
        try:
            folder.mkdir()
        except OSError as exc:
            raise refuse(folder, f"cannot create the run folder {run_dir} ({exc.strerror or exc})") from None
        created.append(folder)
    try:
        write_manifest(run_dir, record)
    except OSError as exc:
        raise refuse(
            run_dir / MANIFEST_NAME, f"cannot write the run manifest ({exc.strerror or exc})"
        ) from None


def _execute(notebook: Path, executed_copy: Path, params_file: Path, params: Params) -> None:
    """Run one notebook with papermill; raise :class:`NotebookFailedError` on any failure."""
    try:
        execute_notebook(notebook, executed_copy, {"params_file": str(params_file), "run_name": params.run_name})
    except papermill.PapermillExecutionError as exc:
        raise NotebookFailedError(
            notebook.name,
            executed_copy,
            f"{exc.ename}: {exc.evalue}",
            cell_index=exc.cell_index,
            exec_count=exc.exec_count,
            cell_source=exc.source,
        ) from exc
    except Exception as exc:
        raise NotebookFailedError(notebook.name, executed_copy, f"{type(exc).__name__}: {exc}") from exc


def run_pipeline(
    params_path: Path | str,
    only: Sequence[str] | None = None,
    start: str | None = None,
    notebooks_dir: Path | str | None = None,
    command: str | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Run the numbered notebooks for one configuration; see the module docstring.

    Parameters
    ----------
    params_path
        The params YAML file.
    only
        Numbers of the notebooks to run (e.g. ``["00", "02"]``); ``None`` for all.
    start
        Number of the first notebook to run (it and every later one run).
    notebooks_dir
        Folder of the numbered notebooks (default: the project's ``notebooks/``).
    command
        The command line recorded in the manifest and in the files' ``history``
        (default: a description of this call).
    report
        Build the HTML report at the end (the command line always does); without it the
        manifest's ``report`` is ``None``.

    Returns
    -------
    dict
        The final manifest: the provenance record, ``status``, timings and ``notebooks``
        (one entry per notebook: ``name``, ``status`` (``succeeded``, ``failed``, ``not run``,
        ``interrupted``), ``wall_s``, ``started``, ``finished``, ``executed_copy``, and
        ``error`` for a failure).

    Raises
    ------
    ParamsError
        invalid params file.
    MissingInputsError
        real-data input files are missing.
    NotebookSelectionError
        unknown notebook number in ``only`` or ``start``.
    RunFolderError
        the run folder's manifest is corrupt, or the folder cannot be created or written;
        raised before anything is written.
    NotebookFailedError
        a notebook failed; the run stops there and the manifest says so.
    """
    params_file = Path(params_path).resolve()
    params = load_params(params_file)
    check_real_inputs(params)
    notebooks = select_notebooks(discover_notebooks(notebooks_dir or NOTEBOOKS_DIR), only, start)
    if command is None:
        command = f"helpers.pipeline.run_pipeline({str(params_file)!r}, only={only!r}, start={start!r})"

    run_dir = params.run_dir
    entries = _notebook_entries(run_dir, notebooks)  # a corrupt manifest is refused before any write
    with _exported({COMMAND_ENV: command}):
        started = time.perf_counter()
        record = provenance_record(params)
        record.update(
            params_file=str(params_file),
            notebooks_dir=str(notebooks[0].parent),
            status="running",
            started_utc=utc_now(),
            notebooks=list(entries.values()),
        )
        _create_run_folder(run_dir, record)
        with _logging_to(run_dir / LOG_NAME):
            return _run_all(notebooks, params_file, params, entries, started, report)


def _run_all(
    notebooks: list[Path],
    params_file: Path,
    params: Params,
    entries: dict[str, dict[str, Any]],
    started: float,
    report: bool = True,
) -> dict[str, Any]:
    """Run the notebooks in order into a created run folder; return the final manifest.

    ``started`` is the :func:`time.perf_counter` reading the run's ``wall_s`` counts from.
    """
    run_dir = params.run_dir
    logger.info("run %s: %d notebook(s) into %s", params.run_name, len(notebooks), run_dir)
    status = "interrupted"
    try:
        for notebook in tqdm(notebooks, desc=params.run_name, unit="notebook", disable=None):
            _run_one(notebook, params_file, params, entries)
        status = "succeeded"
    except NotebookFailedError as failure:
        status = "failed"
        logger.error("%s", failure)
        raise
    finally:
        for entry in entries.values():
            entry["status"] = UNFINISHED.get(entry["status"], entry["status"])
        record = update_manifest(
            run_dir,
            status=status,
            finished_utc=utc_now(),
            wall_s=round(time.perf_counter() - started, 3),
            notebooks=list(entries.values()),
        )
        logger.info("run %s %s; manifest %s", params.run_name, status, run_dir / MANIFEST_NAME)
        if status != "interrupted":  # a run stopped by hand stops now
            record = update_manifest(run_dir, report=_report(run_dir) if report else None)
    return record


def _report(run_dir: Path) -> str | None:
    """Build the run's HTML report; its index path, or ``None`` (logged) when it cannot be built."""
    try:
        index = build_report(run_dir)
    except Exception as exc:  # the notebooks' results stand without the report; say why it is missing
        logger.error("report not built: %s: %s", type(exc).__name__, exc)
        shutil.rmtree(run_dir / REPORT_DIR, ignore_errors=True)  # no report of an earlier run left
        return None
    logger.info("report %s", index)
    return str(index)


def _run_one(notebook: Path, params_file: Path, params: Params, entries: dict[str, dict[str, Any]]) -> None:
    """Execute one notebook and record it in the manifest before and after."""
    run_dir = params.run_dir
    executed_copy = run_dir / "notebooks" / notebook.name
    entry = entries[notebook.name]
    entry.clear()
    entry.update(
        name=notebook.name,
        status="running",
        started=utc_now(),
        executed_copy=str(executed_copy.relative_to(run_dir)),
    )
    update_manifest(run_dir, notebooks=list(entries.values()))
    logger.info("%s: started", notebook.name)
    began = time.perf_counter()
    try:
        _execute(notebook, executed_copy, params_file, params)
    except NotebookFailedError as failure:
        entry.update(
            status="failed",
            error={
                "cell_index": failure.cell_index,
                "exec_count": failure.exec_count,
                "message": failure.error,
            },
        )
        raise
    else:
        entry["status"] = "succeeded"
    finally:
        entry.update(finished=utc_now(), wall_s=round(time.perf_counter() - began, 3))
        update_manifest(run_dir, notebooks=list(entries.values()), timings=read_timings(params))
    logger.info("%s: succeeded in %.1f s", notebook.name, entry["wall_s"])


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``python -m helpers.pipeline``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pipeline",
        description="Run the numbered notebooks with papermill into <outputs_dir>/<run_name>/.",
    )
    parser.add_argument("params", type=Path, help="params YAML file, e.g. params/demo.yaml")
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--only", nargs="+", metavar="NN", help="run just these notebooks")
    selection.add_argument("--from", dest="start", metavar="NN", help="run this notebook and all later ones")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only list, per product, the input files found and missing under data_root (exit 2 if any"
        " required one is missing)",
    )
    parser.add_argument(
        "--notebooks-dir",
        type=Path,
        default=NOTEBOOKS_DIR,
        help=f"folder of the notebooks (default {NOTEBOOKS_DIR})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m helpers.pipeline``; returns the exit status.

    Parameters
    ----------
    argv
        Command-line arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 a notebook failed, 2 invalid params, missing inputs, selection or a run
        folder that cannot be used.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    command = shlex.join(["python", "-m", "helpers.pipeline", *argv])
    if args.check:
        return check_command(args.params)
    try:
        record = run_pipeline(
            args.params, only=args.only, start=args.start, notebooks_dir=args.notebooks_dir, command=command
        )
    except (ParamsError, MissingInputsError, NotebookSelectionError, RunFolderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NotebookFailedError as exc:
        print(f"error: the run stopped at {exc.notebook} (details above)", file=sys.stderr)
        report = Path(exc.executed_copy).parents[1] / REPORT_DIR / "index.html"
        if report.is_file():
            print(f"report (of the failed run): {report}")
        return 1
    print(f"report: {record['report']}" if record.get("report") else "report: not built (see the log above)")
    return 0


def check_command(params_path: Path) -> int:
    """``--check``: print the input inventory of a configuration; 0 complete, 2 not (or bad params)."""
    try:
        params = load_params(params_path)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if params.world is not None:
        print(f"{params_path}: runs on the twin world, whose inputs notebook 00 generates under {params.raw_dir};"
              " the inventory below is of what is there now")
    print(f"inputs of {params_path} under {params.raw_dir}:")
    complete = format_inventory(inventory(params))
    return 0 if complete else 2


if __name__ == "__main__":
    sys.exit(main())
