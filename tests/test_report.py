"""The HTML report's parts on small, made-up run folders (the whole report of the tiny run, in
a browser, is tested in tests/test_notebooks.py)."""

from __future__ import annotations

import importlib.metadata

import nbformat
import pandas as pd
import pytest

from helpers import report
from helpers.provenance import write_manifest


def test_cdn_addresses_point_at_the_installed_packages(tmp_path):
    bokeh = importlib.metadata.version("bokeh")
    panel = importlib.metadata.version("panel")
    page = (
        f'<script src="https://cdn.bokeh.org/bokeh/release/bokeh-widgets-{bokeh}.min.js"></script>'
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>'
        '<link rel="stylesheet" href="https://fonts.example.org/font.css">'
        f'<script>var css = ["https://cdn.holoviz.org/panel/{panel}/dist/css/loading.css?v={panel}"];'
        'var old = "https://cdn.bokeh.org/bokeh/release/bokeh-0.1.0.min.js";</script>'
    )
    localised, external = report.localise_resources(page, tmp_path / "static", "../static")
    assert '<script src="../static/bokeh/bokeh-widgets.min.js"></script>' in localised
    assert '"../static/panel/css/loading.css"' in localised
    assert (tmp_path / "static" / "bokeh" / "bokeh-widgets.min.js").stat().st_size > 10_000
    assert (tmp_path / "static" / "panel" / "css" / "loading.css").is_file()
    assert "require.js" not in localised and "fonts.example.org" not in localised, "other network tags go"
    # another version than the installed one stays as it was, and is reported
    assert external == ["https://cdn.bokeh.org/bokeh/release/bokeh-0.1.0.min.js"]


def test_headline_rows_and_pivots():
    table = pd.DataFrame({
        "network": ["A", "A", "B", "B", "A"],
        "period": ["I", "I", "I", "I", "II"],
        "stations": ["all"] * 5,
        "product": ["p", "q", "p", "q", "p"],
        "r": [0.7, 0.6, 0.8, 0.5, 0.9],
    })
    headline = report.Headline("validation_summary", "t", "w", rows={"period": ("I",), "stations": ("all",)},
                               pivot=("network", "product", "r"))
    shown, note = report.headline_frame(table, headline)
    assert shown.to_dict("list") == {"network": ["A", "B"], "p": [0.7, 0.8], "q": [0.6, 0.5]}
    assert note == "2 of 5 rows"
    shown, note = report.headline_frame(table.drop(columns="period"), headline)
    assert len(shown) == 5 and "period are not in this table" in note


def executed_notebook(path, heading="# 01 · A chapter"):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(heading), nbformat.v4.new_code_cell("1 + 1")]
    notebook.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    nbformat.write(notebook, path)


def test_report_of_a_small_run(tmp_path):
    for folder in ("notebooks", "figures", "tables"):
        (tmp_path / folder).mkdir()
    executed_notebook(tmp_path / "notebooks" / "01_first.ipynb")
    executed_notebook(tmp_path / "notebooks" / "00_zeroth.ipynb", "# 00 · Start")
    (tmp_path / "figures" / "01_map.png").write_bytes(b"\x89PNG")
    pd.DataFrame({"model": ["m"], "subset": ["all"], "r2": [0.8123456]}).to_csv(
        tmp_path / "tables" / "model_comparison.csv", index=False)
    write_manifest(tmp_path, {"run_name": "small", "seed": 7, "status": "succeeded",
                              "git": {"commit": "abc123def4567", "dirty": False},
                              "notebooks": [{"name": "00_zeroth.ipynb", "status": "succeeded", "wall_s": 3.2}]})
    index = report.build_report(tmp_path)
    text = index.read_text()
    assert index == tmp_path / "report" / "index.html"
    assert text.index("00 · Start") < text.index("01 · A chapter")
    assert "seed 7" in text and "abc123def456" in text and "0.812" in text
    assert "Not produced by this run: truth_skill, validation_summary, winter, significance" in text
    assert 'href="../figures/01_map.png"' in text
    assert (tmp_path / "report" / "notebooks" / "01_first.html").is_file()
    assert "not in the manifest" in text, "01 ran outside the manifest and says so"


def test_a_failed_build_leaves_no_half_report(tmp_path):
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(report.ReportError, match="no executed notebooks"):
        report.build_report(tmp_path)
    executed_notebook(tmp_path / "notebooks" / "00_good.ipynb")
    earlier = report.build_report(tmp_path)
    (tmp_path / "notebooks" / "01_bad.ipynb").write_text("{not json")
    with pytest.raises(report.ReportError, match=r"01_bad\.ipynb: not a readable notebook"):
        report.build_report(tmp_path)
    assert not (tmp_path / "report.partial").exists()
    assert earlier.is_file(), "the earlier complete report stays until a new one replaces it"
