"""Progress bars: one line per finished bar in executed notebooks, widgets only in JupyterLab."""

from __future__ import annotations

import io

import nbformat
import pytest

from helpers import pipeline, progress


def test_summary_bar_writes_one_line_when_it_closes():
    out = io.StringIO()
    with progress.SummaryBar(total=200, desc="tiles", file=out) as bar:
        for _ in range(200):
            bar.update()
            bar.set_postfix(loss=0.1)
        assert out.getvalue() == "", "nothing is written while the bar runs"
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and "\r" not in text
    assert "tiles: 100%" in text and "200/200" in text and "loss=0.1" in text


def test_bar_kind_follows_the_environment(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    assert progress.bar_kind() == "text", "outside a kernel (here: pytest) the bar is tqdm's text bar"
    monkeypatch.setenv(progress.PROGRESS_ENV, "summary")
    assert isinstance(progress.progress_bar(total=1, disable=True), progress.SummaryBar)
    monkeypatch.setenv(progress.PROGRESS_ENV, "fancy")
    with pytest.raises(ValueError, match=r"GLASS_SM_PROGRESS='fancy'.*widget, summary, text"):
        progress.bar_kind()


def test_executed_notebook_keeps_one_line_per_bar_and_no_warnings(tmp_path, capfd):
    """Through the runner's own execution path: bars leave one line each, with no
    "IProgress not found" or ipykernel's TCP warning, in the copy or on the runner's stderr."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("params_file = ''\nrun_name = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import time\nfrom helpers.progress import bar_kind, progress_bar\nprint(bar_kind())\n"
            "for _ in progress_bar(range(40), desc='first', mininterval=0):\n    time.sleep(0.002)\n"
            "with progress_bar(total=30, desc='second', unit='tile') as bar:\n"
            "    for _ in range(30):\n        bar.update()\n        time.sleep(0.002)"
        ),
    ]
    source, executed = tmp_path / "01_bars.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    pipeline.execute_notebook(source, executed, {"params_file": "x", "run_name": "y"})
    outputs = nbformat.read(executed, as_version=4).cells[-1].outputs
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert stdout.strip() == "summary"
    assert "\r" not in stderr, "no carriage returns: the copy reads the same in any viewer"
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].startswith("first: 100%") and "40/40" in lines[0]
    assert lines[1].startswith("second: 100%") and "30/30" in lines[1]
    assert not [o for o in outputs if o.output_type == "display_data"], "no widget outputs in a headless run"
    runner_stderr = capfd.readouterr().err
    assert "without encryption" not in runner_stderr and "IProgress" not in runner_stderr + stderr
    assert "KeyboardInterrupt" not in runner_stderr, "the kernel is asked to stop, not interrupted"
