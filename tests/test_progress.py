"""Progress bars: one line per finished bar in executed notebooks, widgets only in JupyterLab.

The executed notebooks of the tiny run are checked for spill in tests/test_notebooks.py, the
runner's own stderr in tests/test_repeatability.py; widgets in a Lab kernel in tests/test_lab.py."""

from __future__ import annotations

import io

import pytest

from helpers import progress


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
