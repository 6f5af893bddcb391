"""Figures of the validation notebooks (05-08); each returns a matplotlib ``Figure``.

Maps use :func:`helpers.plots.map_axes` (offline coastlines); save with
:func:`helpers.plots.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import cartopy.crs as ccrs
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from helpers.plots import map_axes
from helpers.validation.run import PRODUCT_LABELS

METRIC_LABELS = {"r": "R", "bias": "bias [m3 m-3]", "ubrmse": "ubRMSE [m3 m-3]", "rmse": "RMSE [m3 m-3]"}


def _products(table: pd.DataFrame) -> list[str]:
    return [p for p in PRODUCT_LABELS if p in set(table["product"])]


def box_plots(table: pd.DataFrame, metrics_shown: Sequence[str] = ("r", "bias", "ubrmse"), title: str = "") -> plt.Figure:
    """Per-station metrics as box plots: one row per period, one column per metric, one box
    per product for all stations and (hatched) for the representative ones (the paper's Fig. 6)."""
    periods = sorted(table["period"].unique())
    products = _products(table)
    fig, axes = plt.subplots(len(periods), len(metrics_shown), figsize=(4.2 * len(metrics_shown), 3.2 * len(periods)),
                             squeeze=False, layout="constrained")
    for i, period in enumerate(periods):
        rows = table[table["period"] == period]
        for j, metric in enumerate(metrics_shown):
            ax = axes[i, j]
            positions, data, colours, hatches = [], [], [], []
            for k, product in enumerate(products):
                for offset, subset in ((-0.18, rows), (0.18, rows[rows["representative"]])):
                    values = subset.loc[subset["product"] == product, metric].dropna().to_numpy()
                    positions.append(k + offset)
                    data.append(values if values.size else [np.nan])
                    colours.append(f"C{k}")
                    hatches.append("" if offset < 0 else "///")
            boxes = ax.boxplot(data, positions=positions, widths=0.32, patch_artist=True, showfliers=False)
            for patch, colour, hatch in zip(boxes["boxes"], colours, hatches, strict=True):
                patch.set(facecolor=colour, alpha=0.55, hatch=hatch)
            if metric == "bias":
                ax.axhline(0, color="grey", lw=0.8)
            ax.set_xticks(range(len(products)), [PRODUCT_LABELS[p] for p in products], rotation=35, ha="right", fontsize=7)
            ax.set_ylabel(METRIC_LABELS[metric], fontsize=8)
            n = rows.groupby("product").size().reindex(products).fillna(0).astype(int)
            ax.set_title(f"period {period}: {METRIC_LABELS[metric].split(' ')[0]} (stations {n.max()})", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{title} (plain: all stations, hatched: representative)", fontsize=10)
    return fig


def station_map(table: pd.DataFrame, product: str = "product", metric: str = "r", period: str = "I") -> plt.Figure:
    """Map of one metric of one product at every station of one period."""
    rows = table[(table["product"] == product) & (table["period"] == period)]
    fig = plt.figure(figsize=(10, 4.8), layout="constrained")
    ax = map_axes(fig, (1, 1, 1))
    limits = (0, 1) if metric == "r" else (None, None)
    points = ax.scatter(rows["lon"], rows["lat"], c=rows[metric], s=14, cmap="RdYlBu" if metric == "r" else "viridis",
                        vmin=limits[0], vmax=limits[1], edgecolors="k", linewidths=0.2, transform=ccrs.PlateCarree())
    fig.colorbar(points, ax=ax, shrink=0.7, label=METRIC_LABELS[metric])
    ax.set_title(f"{PRODUCT_LABELS[product]}: {METRIC_LABELS[metric]} against the stations, period {period}"
                 f" ({len(rows)} stations)", fontsize=10)
    return fig


def station_series(
    matched: xr.Dataset,
    keys: Sequence[str],
    products: Sequence[str],
    truth: bool = True,
    window: tuple[str, str] | None = None,
) -> plt.Figure:
    """Daily series at a few stations: the station, the products and (twin world) the truth,
    over ``window`` (first and last day; default the whole period)."""
    fig, axes = plt.subplots(len(keys), 1, figsize=(11, 2.4 * len(keys)), sharex=True, squeeze=False,
                             layout="constrained")
    if window is not None:
        matched = matched.sel(time=slice(*window))
    times = pd.DatetimeIndex(matched["time"].values)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        station = matched.sel(station=key)
        ax.plot(times, station["insitu"], color="black", lw=1.2, label="station")
        if truth and "truth" in matched:
            ax.plot(times, station["truth"], color="grey", lw=1.0, ls=":", label="truth (cell)")
        for k, product in enumerate(products):
            if f"sm_{product}" in matched:
                ax.plot(times, station[f"sm_{product}"], lw=0.8, color=f"C{k}", label=PRODUCT_LABELS[product])
        ax.set_title(f"{key} ({float(station['lat']):.2f}°N {float(station['lon']):.2f}°E)", fontsize=9, loc="left")
        ax.set_ylabel("SM [m3 m-3]", fontsize=8)
        ax.legend(fontsize=7, ncol=len(products) + 2, loc="upper left")
    return fig


def depth_boxes(depths: pd.DataFrame) -> plt.Figure:
    """Sensing depth of the cosmic-ray stations per network (the paper's Fig. A2), from the files."""
    networks = sorted(depths["network"].unique())
    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    data = [depths.loc[depths["network"] == n, "depth_cm"].to_numpy() for n in networks]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(networks) + 1), networks)
    for k, values in enumerate(data, start=1):
        ax.annotate(f"median {np.median(values):.0f} cm", (k, np.median(values)), xytext=(8, 0),
                    textcoords="offset points", fontsize=7, va="center")
    ax.set_ylabel("sensing depth [cm]")
    ax.invert_yaxis()
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Cosmic-ray sensing depth (station-days)", fontsize=10)
    return fig


def collocation_vs_truth(tc: pd.DataFrame) -> plt.Figure:
    """Error standard deviation by triple collocation against the true error (twin world), per member."""
    members = [m for m in ("station", "product", "third") if m in set(tc["member"])]
    fig, axes = plt.subplots(1, len(members), figsize=(4.2 * len(members), 4), squeeze=False, layout="constrained")
    top = float(np.nanpercentile(tc[["err_std", "true_err_std"]].to_numpy(dtype=float), 98)) * 1.1
    for ax, member in zip(axes[0], members, strict=True):
        rows = tc[tc["member"] == member]
        for k, (name, group) in enumerate(rows.groupby("member_name", sort=False)):
            ax.scatter(group["true_err_std"], group["err_std"], s=6, alpha=0.5, color=f"C{k}",
                       label=PRODUCT_LABELS.get(name, name))
        ax.plot([0, top], [0, top], color="grey", lw=0.8)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("true error std (against the truth) [m3 m-3]", fontsize=8)
        ax.set_ylabel("triple-collocation error std [m3 m-3]", fontsize=8)
        ax.set_title(f"member: {member}", fontsize=9)
        ax.legend(fontsize=6, markerscale=2)
    return fig


def truth_against_station(truth_rows: pd.DataFrame, metric: str = "ubrmse", period: str = "I") -> plt.Figure:
    """Each product's error against the station beside its error against the truth of the cell."""
    rows = truth_rows[truth_rows["period"] == period]
    products = [p for p in ["station", *PRODUCT_LABELS] if p in set(rows["product"])]
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    for k, product in enumerate(products):
        values = rows[rows["product"] == product]
        if product != "station":
            ax.boxplot([values[f"{metric}_station"].dropna()], positions=[k - 0.18], widths=0.3, patch_artist=True,
                       showfliers=False, boxprops={"facecolor": "C0", "alpha": 0.5})
        ax.boxplot([values[f"{metric}_truth"].dropna()], positions=[k + 0.18], widths=0.3, patch_artist=True,
                   showfliers=False, boxprops={"facecolor": "C1", "alpha": 0.5})
    ax.set_xticks(range(len(products)), [PRODUCT_LABELS.get(p, p) for p in products], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric), fontsize=8)
    ax.set_title(f"{metric} against the station (blue) and against the truth of its cell (orange), period {period}",
                 fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return fig


def winter_bars(table: pd.DataFrame) -> plt.Figure:
    """Median winter R per product and stratum, with station-bootstrap intervals, per period."""
    periods = sorted(table["period"].unique())
    strata = [s for s in ("all", "unfrozen", "frozen_product", "frozen_station") if s in set(table["stratum"])]
    fig, axes = plt.subplots(1, len(periods), figsize=(6.5 * len(periods), 3.8), squeeze=False, layout="constrained")
    for ax, period in zip(axes[0], periods, strict=True):
        rows = table[table["period"] == period]
        products = _products(rows)
        width = 0.8 / len(strata)
        for s, stratum in enumerate(strata):
            values = rows[rows["stratum"] == stratum].set_index("product").reindex(products)
            x = np.arange(len(products)) + (s - (len(strata) - 1) / 2) * width
            error = np.vstack([values["median_r"] - values["median_r_ci_low"], values["median_r_ci_high"] - values["median_r"]])
            ax.bar(x, values["median_r"], width, yerr=np.nan_to_num(error), capsize=2, label=stratum, color=f"C{s}", alpha=0.8)
        ax.set_xticks(range(len(products)), [PRODUCT_LABELS[p] for p in products], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("median R (winter)")
        ax.set_ylim(-0.2, 1)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(f"period {period}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    return fig
