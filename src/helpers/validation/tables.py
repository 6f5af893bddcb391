"""The validation tables of a run: which notebook owns which rows, and the views the notebooks show.

Notebooks 05, 06 and 07 each validate their own sources (:data:`helpers.validation.stations.NOTEBOOK_SOURCES`)
and write their rows into the shared tables of ``outputs/<run>/tables/``
(``validation_stations.csv``, ``validation_summary.csv``, ``significance.csv``,
``skipped_stations.csv``, ``triple_collocation.csv``, ``station_truth.csv``) with
:func:`update_rows`, which replaces the rows of the sources it is given and keeps the others; so
the notebooks can run in any order and again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from helpers.io import atomic_path
from helpers.validation.run import PRODUCT_LABELS
from helpers.validation.scores import select_sources
from helpers.validation.stations import CRNS_SOURCES

SKIPPED_COLUMNS = ("network", "station", "reason", "source", "stage")


def update_rows(path: Path, table: pd.DataFrame, sources: Sequence[str]) -> pd.DataFrame:
    """Write ``table`` into the CSV at ``path``, replacing the rows whose ``source`` is one of
    ``sources`` and keeping the rest. Returns the whole table as written."""
    table = table.assign(source=table["source"]) if "source" in table else table
    if path.exists():
        old = pd.read_csv(path, dtype={"year": str, "years": str})
        if "source" in old:
            old = old[~old["source"].isin(list(sources))]
            table = pd.concat([old, table], ignore_index=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return table


def with_source(table: pd.DataFrame, source_of_network: dict[str, str]) -> pd.DataFrame:
    """``table`` with a ``source`` column from its ``network`` (groups map to their sources)."""
    return table.assign(source=[source_of_network.get(network, "") for network in table["network"]])


def network_groups(table: pd.DataFrame, pooled: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Each network alone, plus pooled groups: ``{"ISMN": "ismn"}`` pools the networks of
    source ``ismn`` under the name ``ISMN``."""
    groups: dict[str, list[str]] = {}
    for name, source in (pooled or {}).items():
        networks = sorted(table.loc[table["source"] == source, "network"].unique())
        if networks:
            groups[name] = networks
    for network in sorted(table["network"].unique()):
        groups.setdefault(network, [network])
    return groups


def depth_table(matched: xr.Dataset, sources: Sequence[str] = CRNS_SOURCES) -> pd.DataFrame:
    """Sensing depths of the cosmic-ray stations, one row per station-day with a depth
    (``network, station, depth_cm``): COSMOS-UK ``D86_75M`` and COSMOS-Europe
    ``Footprint_Depth_m`` day by day, COSMOS (ISMN) the station's fixed ``depth_to``."""
    chosen = select_sources(matched, sources)
    depth = chosen["depth_cm"].values
    station, day = np.nonzero(np.isfinite(depth))
    return pd.DataFrame(
        {
            "network": chosen["network"].values[station],
            "station": chosen["station_name"].values[station],
            "depth_cm": depth[station, day],
        }
    )


def summary_view(summary: pd.DataFrame, stations: str = "all", network: str | None = None) -> pd.DataFrame:
    """Median R, bias, ubRMSE, RMSE per period and product (one station set, one network)."""
    rows = summary[summary["stations"] == stations]
    if network is not None:
        rows = rows[rows["network"] == network]
    view = rows.set_index(["network", "period", "product"])[["n_stations", "r", "bias", "ubrmse", "rmse"]]
    return view.rename(index=PRODUCT_LABELS, level="product")


def significance_view(significance: pd.DataFrame, product_a: str = "product", stations: str = "all") -> pd.DataFrame:
    """The tests of ``product_a`` against the others: p-values and shares of stations where
    each is significantly better."""
    rows = significance[(significance["product_a"] == product_a) & (significance["stations"] == stations)]
    columns = ["n_pairs", "median_a", "median_b", "t_pvalue", "wilcoxon_pvalue", "share_a_better", "share_b_better"]
    return rows.set_index(["network", "period", "metric", "product_b"])[columns]


def site_table(table: pd.DataFrame, tests: pd.DataFrame, period: str, metrics_shown: Sequence[str] = ("r", "bias", "ubrmse", "rmse"),
               q: float = 0.05) -> tuple[pd.DataFrame, str]:
    """Per-site metrics of each product (the paper's core-site table) and its markdown.

    The best value per site and metric (highest R, smallest absolute bias, ubRMSE and RMSE) is
    in bold; a ``*`` marks a best value that is significantly better than the runner-up at the
    site (per-station test of :mod:`helpers.validation.significance`, p below ``q``, with no
    correction: one comparison per site and metric).

    Returns
    -------
    (table, markdown)
        ``site, product, <metrics>, best_<metric>, significant_<metric>`` and the markdown text.
    """
    rows = table[table["period"] == period]
    wide = rows.pivot_table(index="station", columns="product", values=list(metrics_shown))
    out = rows[["station", "product", *metrics_shown]].copy()
    lines = []
    products = [p for p in PRODUCT_LABELS if p in set(rows["product"])]
    header = "| site | metric | " + " | ".join(PRODUCT_LABELS[p] for p in products) + " |"
    lines += [header, "|" + "---|" * (len(products) + 2)]
    for site in sorted(rows["station"].unique()):
        for metric in metrics_shown:
            values = wide.loc[site, metric].reindex(products)
            score = values.abs() if metric != "r" else -values
            if score.notna().sum() == 0:
                continue
            ranked = score.dropna().sort_values()
            best = ranked.index[0]
            significant = False
            if len(ranked) > 1:
                runner = ranked.index[1]
                match = tests[
                    (tests["station"] == site)
                    & (tests["period"] == period)
                    & (tests["metric"] == ("abs_bias" if metric == "bias" else metric))
                    & (
                        ((tests["product_a"] == best) & (tests["product_b"] == runner))
                        | ((tests["product_a"] == runner) & (tests["product_b"] == best))
                    )
                ]
                significant = bool(len(match) and match["pvalue"].iloc[0] < q)
            out.loc[(out["station"] == site), f"best_{metric}"] = best
            out.loc[(out["station"] == site), f"significant_{metric}"] = significant
            cells = []
            for product in products:
                value = values[product]
                text = "" if not np.isfinite(value) else f"{value:.3f}"
                if product == best and text:
                    text = f"**{text}**" + ("\\*" if significant else "")
                cells.append(text)
            lines.append(f"| {site} | {metric} | " + " | ".join(cells) + " |")
    return out.rename(columns={"station": "site"}), "\n".join(lines)
