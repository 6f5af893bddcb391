"""A browsable HTML report of one run: the executed notebooks, the manifest, the headline tables.

``build_report(run_dir)`` writes ``<run_dir>/report/``::

    index.html          the run at a glance: status, seed, commit, the notebooks in order
                        (title, status, wall time, links), the headline tables (model
                        comparison, truth skill, validation summary, winter, significance),
                        every figure (linked), the manifest (versions, timings, params)
    notebooks/NN_*.html each executed notebook rendered by nbconvert (lab template)
    tables/*.html       each headline table in full
    static/             the JavaScript and CSS that the interactive (bokeh/panel) figures load,
                        copied from the installed packages

Nothing in the report is fetched from the network: the notebooks' interactive figures carry
their JavaScript inline (see :func:`helpers.plots.interactive_figures`), and every address of
the panel, bokeh or geoviews CDN left in a page is pointed at a copy in ``static/`` taken from
the installed package of the same version. Script and stylesheet tags that point elsewhere
(nbconvert's require.js and MathJax, which no notebook here needs) are removed. A CDN address
that no installed package can serve (another version) is left and listed on the index page
under "External resources", so an offline reader is never left guessing. The figures, tables and executed notebooks are linked
from the run folder (``../figures/`` ...), not copied: the run folder is what one shares.

The report is written to ``report.partial/`` and renamed when complete, so a failed build
leaves no half-written report (an earlier complete one stays until the new one replaces it).

Command line: ``python -m helpers.report outputs/demo`` (the pipeline calls it at the end of
every run).
"""

from __future__ import annotations

import argparse
import html
import importlib.metadata
import importlib.util
import json
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from helpers.errors import GlassSMError
from helpers.provenance import MANIFEST_NAME, read_manifest

REPORT_DIR = "report"
PARTIAL_SUFFIX = ".partial"
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"


class ReportError(GlassSMError):
    """The report cannot be built: names the run folder or file and what is wrong."""


# Network resources mapped to the installed packages ----------------------------------------


@dataclass(frozen=True)
class CdnSource:
    """A CDN whose files ship in an installed package: ``pattern`` captures (version, path)."""

    package: str
    pattern: re.Pattern[str]
    local_dir: Callable[[], Path]
    local_name: Callable[[str], str] = field(default=lambda path: path)


def _package_dir(module: str, *parts: str) -> Callable[[], Path]:
    """The folder ``parts`` inside an installed package, found without importing it."""

    def folder() -> Path:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            return Path("/nonexistent") / module
        return Path(spec.origin).parent.joinpath(*parts)

    return folder


CDN_SOURCES = (
    CdnSource(
        "panel",
        re.compile(r"https://cdn\.holoviz\.org/panel/(?P<version>[^/]+)/dist/(?P<path>[^\"'\s?)]+)(?:\?[^\"'\s)]*)?"),
        _package_dir("panel", "dist"),
    ),
    CdnSource(
        "bokeh",
        re.compile(r"https://cdn\.bokeh\.org/bokeh/release/(?P<path>bokeh(?:-[a-z]+)?)-(?P<version>\d[^/\"'\s]*?)\.min\.js"),
        _package_dir("bokeh", "server", "static", "js"),
        lambda path: f"{path}.min.js",
    ),
    CdnSource(
        "geoviews",
        re.compile(r"https://cdn\.jsdelivr\.net/npm/@holoviz/geoviews@(?P<version>[^/]+)/dist/(?P<path>[^\"'\s?)]+)"),
        _package_dir("geoviews", "dist"),
    ),
)
# Tags that load something from the network: <script src=...> and <link href=...>.
EXTERNAL_TAG = re.compile(
    r"<script\b[^>]*\bsrc=[\"'](?P<src>https?://[^\"']+)[\"'][^>]*>\s*</script>|"
    r"<link\b[^>]*\bhref=[\"'](?P<href>https?://[^\"']+)[\"'][^>]*/?>",
    re.IGNORECASE,
)


def _installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def localise_resources(page: str, static_dir: Path, static_url: str) -> tuple[str, list[str]]:
    """Point CDN addresses in ``page`` at copies in ``static_dir`` and drop other network tags.

    Parameters
    ----------
    page
        The HTML text.
    static_dir
        The report's ``static/`` folder; files are copied there as needed.
    static_url
        How the page addresses ``static_dir`` (``"../static"`` from a notebook page).

    Returns
    -------
    tuple
        The page, and the CDN addresses left as they were (sorted, unique): a file of another
        version than the installed package, or one the package does not ship. (Addresses inside
        the inlined JavaScript bundles, loaded only on demand, e.g. MathJax, are not touched;
        the browser tests check that a page requests nothing off the machine.)
    """
    left: set[str] = set()

    def local(source: CdnSource, match: re.Match[str]) -> str:
        name = source.local_name(match["path"])
        origin = source.local_dir() / name
        if match["version"] != _installed_version(source.package) or not origin.is_file():
            left.add(match[0])
            return match[0]
        safe_name = re.sub(r"[^A-Za-z0-9._/-]", "_", name)
        target = static_dir / source.package / safe_name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)
        return f"{static_url}/{source.package}/{safe_name}"

    for source in CDN_SOURCES:
        page = source.pattern.sub(lambda match, source=source: local(source, match), page)

    page = EXTERNAL_TAG.sub("", page)
    return page, sorted(left)


# Notebook pages --------------------------------------------------------------------------


def notebook_title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    """The first markdown heading of a notebook (without the ``#``), else ``fallback``."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return fallback


def html_exporter() -> Any:
    """nbconvert's HTML exporter with the lab template (made once per report: it loads templates)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab")


def render_notebook(path: Path, exporter: Any | None = None) -> tuple[str, str]:
    """An executed notebook as a stand-alone HTML page (nbconvert, lab template), and its title.

    Raises
    ------
    ReportError
        naming the file when it is not a readable notebook.
    """
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise ReportError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    title = notebook_title(notebook, path.stem)
    exporter = exporter or html_exporter()
    notebook.metadata["title"] = title
    with warnings.catch_warnings():
        # holoviews' empty "exec" outputs (application/vnd.holoviews_exec.v0+json) have nothing to show
        warnings.filterwarnings("ignore", message="Your element with mimetype", category=UserWarning)
        body, _resources = exporter.from_notebook_node(notebook)
    return body, title


# Headline tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """One headline table of the index: a table of ``tables/``, cut to the rows that matter.

    ``rows``: column -> accepted values (rows kept where every listed column has one of them);
    ``columns``: the columns shown (all when empty); ``pivot``: (index, columns, values) to show
    a cross-table instead; ``what``: one sentence on what is shown.
    """

    name: str
    title: str
    what: str
    rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    pivot: tuple[str, str, str] | None = None


HEADLINES = (
    Headline(
        "model_comparison",
        "Model comparison",
        "Skill of every model against the target on the test split, on all test days and on the wet subset.",
    ),
    Headline(
        "truth_skill",
        "Skill against the twin truth",
        "Every model, the product and its inputs against the twin world's truth, all years and climates.",
        rows={"year": ("all",), "climate": ("all",)},
    ),
    Headline(
        "validation_summary",
        "In-situ validation",
        "Median R per network and product over period I, all stations.",
        rows={"period": ("I",), "stations": ("all",)},
        pivot=("network", "product", "r"),
    ),
    Headline(
        "winter",
        "Winter evaluation",
        "Median R per product and stratum over period I.",
        rows={"period": ("I",)},
        pivot=("product", "stratum", "median_r"),
    ),
    Headline(
        "significance",
        "Significance tests",
        "The product against each other product on R over period I, all stations: medians, the Wilcoxon "
        "test across stations, and the shares of stations where either is significantly better.",
        rows={"period": ("I",), "metric": ("r",), "product_a": ("product",), "stations": ("all",)},
        columns=("network", "product_b", "n_pairs", "median_a", "median_b", "share_a_better", "share_b_better",
                 "wilcoxon_pvalue", "false_discovery_rate"),
    ),
)
MAX_HEADLINE_ROWS = 60


def headline_frame(table: pd.DataFrame, headline: Headline) -> tuple[pd.DataFrame, str]:
    """The rows and columns of ``table`` that ``headline`` shows, and a note on the cut.

    Columns the headline names but the table lacks are passed over (the note says so), so a
    table of a changed layout still shows, uncut, rather than failing the report.
    """
    missing = [c for c in [*headline.rows, *headline.columns, *(headline.pivot or ())] if c not in table]
    if missing:
        shown = table.head(MAX_HEADLINE_ROWS)
        return shown, f"columns {', '.join(missing)} are not in this table: its first {len(shown)} rows are shown"
    kept = table
    for column, values in headline.rows.items():
        kept = kept[kept[column].astype(str).isin([str(v) for v in values])]
    if headline.pivot:
        index, columns, values = headline.pivot
        kept = kept.pivot_table(index=index, columns=columns, values=values, aggfunc="first", sort=False)
        kept.columns.name = None
        kept = kept.reset_index()
    elif headline.columns:
        kept = kept[list(headline.columns)]
    note = f"{len(kept)} of {len(table)} rows"
    if len(kept) > MAX_HEADLINE_ROWS:
        kept = kept.head(MAX_HEADLINE_ROWS)
        note += f", the first {MAX_HEADLINE_ROWS} shown"
    return kept, note


def table_html(frame: pd.DataFrame) -> str:
    """A table as HTML, floats to 3 decimals, missing values shown as "n/a"."""
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="n/a", border=0, classes="table")


# The index page ----------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem;
       color: #1d2a33; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #d5dde3; padding-bottom: 0.2rem; margin-top: 2.2rem; }
.meta { color: #4b5d6b; } .status-succeeded { color: #1b7f3b; } .status-failed { color: #b3261e; }
table.table { border-collapse: collapse; font-size: 0.88rem; margin: 0.5rem 0 0.3rem; }
table.table th, table.table td { padding: 0.22rem 0.6rem; border-bottom: 1px solid #e4e9ed; text-align: right; }
table.table th:first-child, table.table td:first-child { text-align: left; }
.note { color: #4b5d6b; font-size: 0.85rem; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.8rem; }
.figures figure { margin: 0; } .figures img { width: 100%; border: 1px solid #e4e9ed; }
.figures figcaption { font-size: 0.8rem; word-break: break-all; }
.warning { background: #fff4e5; border-left: 4px solid #e08a00; padding: 0.5rem 0.8rem; }
details { margin: 0.5rem 0; } pre { background: #f5f7f9; padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _e(value: Any) -> str:
    return html.escape(str(value))


def _notebook_rows(entries: list[dict[str, Any]], pages: dict[str, tuple[str, str]]) -> str:
    rows = []
    for name in sorted({*pages, *(e.get("name", "") for e in entries)} - {""}):
        entry = next((e for e in entries if e.get("name") == name), {})
        page, title = pages.get(name, ("", name))
        link = f'<a href="{_e(page)}">{_e(title)}</a>' if page else _e(title)
        status = entry.get("status", "not in the manifest")
        wall = f"{entry['wall_s']:.0f}" if isinstance(entry.get("wall_s"), int | float) else ""
        ipynb = f'<a href="../notebooks/{_e(name)}">{_e(name)}</a>' if page else _e(name)
        rows.append(
            f"<tr><td>{link}</td><td class=\"status-{_e(status)}\">{_e(status)}</td><td>{wall}</td><td>{ipynb}</td></tr>"
        )
    return (
        '<table class="table"><thead><tr><th>notebook</th><th>status</th><th>wall time [s]</th>'
        "<th>executed copy</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _manifest_section(manifest: dict[str, Any]) -> str:
    if not manifest:
        return '<p class="warning">This run folder has no manifest: it was not made by the pipeline runner.</p>'
    packages = manifest.get("packages", {})
    versions = pd.DataFrame({"package": list(packages), "version": list(packages.values())})
    timings = manifest.get("timings", {})
    timing_rows = [
        {"group": group, "run": run, "seconds": seconds}
        for group, runs in timings.items()
        for run, seconds in (runs.items() if isinstance(runs, dict) else [("", runs)])
    ]
    parts = [
        "<h2 id=\"manifest\">Manifest</h2>",
        f"<p>Command <code>{_e(manifest.get('command', ''))}</code>; Python {_e(manifest.get('python', ''))} on "
        f"{_e(manifest.get('platform', ''))}, {_e(manifest.get('cpu_count', ''))} CPUs, "
        f"{_e(manifest.get('torch_threads', ''))} torch threads.</p>",
        "<details><summary>Package versions</summary>" + table_html(versions) + "</details>",
    ]
    if timing_rows:
        parts.append(
            "<details><summary>Timings of training runs and experiments [s]</summary>"
            + table_html(pd.DataFrame(timing_rows))
            + "</details>"
        )
    parts.append(
        "<details><summary>Params</summary><pre>"
        + _e(json.dumps(manifest.get("params", {}), indent=2, ensure_ascii=False))
        + "</pre></details>"
    )
    return "\n".join(parts)


def _figure_gallery(run_dir: Path) -> str:
    figures = sorted((run_dir / "figures").glob("*.png"))
    if not figures:
        return "<p class=\"note\">No figures in this run.</p>"
    items = [
        f'<figure><a href="../figures/{_e(f.name)}"><img src="../figures/{_e(f.name)}" alt="{_e(f.stem)}">'
        f"</a><figcaption>{_e(f.name)}</figcaption></figure>"
        for f in figures
    ]
    return '<div class="figures">' + "".join(items) + "</div>"


def _headline_sections(run_dir: Path, report_dir: Path) -> tuple[str, list[str]]:
    """The headline tables' sections of the index, and the names of tables not in the run."""
    sections, absent = [], []
    for headline in HEADLINES:
        csv = run_dir / "tables" / f"{headline.name}.csv"
        if not csv.is_file():
            absent.append(headline.name)
            continue
        try:
            table = pd.read_csv(csv, keep_default_na=True)
        except Exception as exc:
            raise ReportError(f"{csv}: not a readable table ({type(exc).__name__}: {exc})") from None
        shown, note = headline_frame(table, headline)
        full_page = report_dir / "tables" / f"{headline.name}.html"
        full_page.parent.mkdir(parents=True, exist_ok=True)
        full_page.write_text(
            _page(f"{headline.title}: {csv.name}", f"<h1>{_e(headline.title)}</h1><p class=\"note\">"
                  f"{_e(csv.name)}, {len(table)} rows. <a href=\"../index.html\">Back to the report</a></p>"
                  + table_html(table)),
            encoding="utf-8",
        )
        sections.append(
            f'<h3 id="{_e(headline.name)}">{_e(headline.title)}</h3><p>{_e(headline.what)}</p>'
            + table_html(shown)
            + f'<p class="note">{_e(note)}; full table: <a href="tables/{_e(headline.name)}.html">'
            f'{_e(headline.name)}.html</a>, <a href="../tables/{_e(csv.name)}">{_e(csv.name)}</a></p>'
        )
    return "\n".join(sections), absent


def build_report(run_dir: Path | str) -> Path:
    """Write ``<run_dir>/report/`` (see the module docstring) and return its ``index.html``.

    Raises
    ------
    ReportError
        when ``run_dir`` holds no executed notebooks, or a notebook or table cannot be read;
        no report is left half-written.
    """
    run_dir = Path(run_dir).resolve()
    notebooks = sorted((run_dir / "notebooks").glob(NOTEBOOK_PATTERN))
    if not notebooks:
        raise ReportError(f"{run_dir / 'notebooks'}: no executed notebooks ({NOTEBOOK_PATTERN}) to report on")
    manifest = read_manifest(run_dir) if (run_dir / MANIFEST_NAME).exists() else {}
    final = run_dir / REPORT_DIR
    partial = run_dir / (REPORT_DIR + PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "notebooks").mkdir(parents=True)
    try:
        index = _write_report(run_dir, partial, notebooks, manifest)
        previous = run_dir / (REPORT_DIR + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        if final.exists():
            final.rename(previous)
        partial.rename(final)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final / index.relative_to(partial)


def _write_report(run_dir: Path, report_dir: Path, notebooks: list[Path], manifest: dict[str, Any]) -> Path:
    pages: dict[str, tuple[str, str]] = {}
    external: dict[str, list[str]] = {}
    static_dir = report_dir / "static"
    exporter = html_exporter()
    for notebook in notebooks:
        body, title = render_notebook(notebook, exporter)
        body, still_external = localise_resources(body, static_dir, "../static")
        page = f"notebooks/{notebook.stem}.html"
        (report_dir / page).write_text(body, encoding="utf-8")
        pages[notebook.name] = (page, title)
        if still_external:
            external[page] = still_external

    params = manifest.get("params", {})
    run_name = manifest.get("run_name", run_dir.name)
    status = manifest.get("status", "unknown")
    git = manifest.get("git", {})
    commit = git.get("commit") or "unknown"
    dirty = " (with uncommitted changes)" if git.get("dirty") else ""
    wall = manifest.get("wall_s")
    headlines, absent = _headline_sections(run_dir, report_dir)
    parts = [
        f"<h1>GLASS-SM run <code>{_e(run_name)}</code></h1>",
        f"<p>{_e(params.get('description', ''))}</p>",
        f'<p class="meta">Status <strong class="status-{_e(status)}">{_e(status)}</strong>'
        + (f", {wall / 60:.1f} min" if isinstance(wall, int | float) else "")
        + f"; seed {_e(manifest.get('seed', params.get('seed', 'unknown')))}; commit <code>{_e(commit[:12])}</code>{dirty}; "
        f"started {_e(manifest.get('started_utc', 'unknown'))}, finished {_e(manifest.get('finished_utc', 'not recorded'))}."
        f' Run folder: <a href="..">{_e(run_dir)}</a>.</p>',
        '<p><a href="#contents">Notebooks</a> · <a href="#headlines">Headline tables</a> · '
        '<a href="#figures">Figures</a> · <a href="#manifest">Manifest</a></p>',
        "<h2 id=\"contents\">Notebooks</h2>",
        _notebook_rows(manifest.get("notebooks", []), pages),
        "<h2 id=\"headlines\">Headline tables</h2>",
        headlines or '<p class="note">None of the headline tables is in this run.</p>',
    ]
    if absent:
        parts.append(f'<p class="note">Not produced by this run: {_e(", ".join(absent))}.</p>')
    parts += ["<h2 id=\"figures\">Figures</h2>", _figure_gallery(run_dir), _manifest_section(manifest)]
    if external:
        listing = "".join(
            f"<li><a href=\"{_e(page)}\">{_e(page)}</a>: {_e(', '.join(urls))}</li>" for page, urls in external.items()
        )
        parts.append(
            "<h2 id=\"external\">External resources</h2><p class=\"warning\">These pages still point to files on "
            "a CDN that the installed packages do not hold (another version?); offline, their interactive "
            f"figures may not show.</p><ul>{listing}</ul>"
        )
    index = report_dir / "index.html"
    index.write_text(_page(f"GLASS-SM run {run_name}", "\n".join(parts)), encoding="utf-8")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.report RUN_DIR``: build the report; 0 on success, 2 on an error."""
    parser = argparse.ArgumentParser(prog="python -m helpers.report", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder, e.g. outputs/demo")
    args = parser.parse_args(argv)
    try:
        index = build_report(args.run_dir)
    except GlassSMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
