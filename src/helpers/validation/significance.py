"""Is one product significantly better than another? At each station, and across stations.

Pairs (:func:`product_pairs`): ``validation.significance_pairs``, or by default the product
against every other product, the ablation reference against each ablation, and the
CDF-matched baseline against its ERA5-Land input.

At one station (:func:`station_tests`), on the common sample of the station and period
(:mod:`helpers.validation.scores`):

* **R**: Williams' t for two correlations with the same station series
  (:func:`helpers.metrics.dependent_correlation_test`), with the effective sample size
  :math:`N (1 - \\rho)/(1 + \\rho)`, :math:`\\rho = \\rho_\\mathrm{station}\\sqrt{\\rho_a \\rho_b}`;
* **|bias|, ubRMSE, RMSE**: the paired moving-block bootstrap, both products resampled on
  the same days; the p-value of the difference is the percentile test of
  :func:`helpers.metrics.bootstrap_pvalue`.

``a_better`` says which way the difference points (higher R, smaller error). Across stations
(:func:`significance_table`, ``tables/significance.csv``): the paper's paired t-test and
Wilcoxon signed-rank test of the per-station metrics (``t_pvalue``, ``wilcoxon_pvalue``), and
from the per-station tests, after a Benjamini-Hochberg correction over the stations at
``validation.false_discovery_rate``, the share of stations where A is significantly better
than B (``share_a_better``) and where B is (``share_b_better``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers import metrics
from helpers.params import Params

#: Metrics tested, and whether larger is better.
TESTED = {"r": True, "abs_bias": False, "ubrmse": False, "rmse": False}
#: Columns of ``tables/significance.csv`` named by the contract, then ours.
SIGNIFICANCE_COLUMNS = ("network", "period", "metric", "product_a", "product_b", "n_pairs", "t_pvalue", "wilcoxon_pvalue")
DEFAULT_EXTRA_PAIRS = (("ablation_reference", "no_avhrr"), ("ablation_reference", "no_era5_land"), ("cdf_matched", "era5_land"))


def product_pairs(params: Params, products: Sequence[str]) -> list[tuple[str, str]]:
    """The product pairs tested (see the module docstring), among ``products``."""
    if params.validation.significance_pairs is not None:
        pairs = [tuple(pair) for pair in params.validation.significance_pairs]
    else:
        pairs = [("product", other) for other in products if other != "product"]
        pairs += [pair for pair in DEFAULT_EXTRA_PAIRS if pair not in pairs]
    return [(a, b) for a, b in pairs if a in products and b in products]


def station_tests(
    rows: list[dict],
    replicates: dict[str, np.ndarray],
    station: np.ndarray,
    series: dict[str, np.ndarray],
    taking_part: list[str],
    pairs: Sequence[tuple[str, str]],
) -> list[dict]:
    """Tests of each pair at one station and period (see the module docstring).

    Parameters
    ----------
    rows : list of dict
        The products' score rows (``product``, ``r``, ``bias``, ``ubrmse``, ``rmse``,
        ``rho_station``, ``rho_product``, ``n``), in the order of ``taking_part``.
    replicates : dict
        Metric -> bootstrap replicates (resamples, products).
    station, series : numpy.ndarray, dict
        The common-sample series of the station and of each product.

    Returns
    -------
    list of dict
        ``product_a, product_b, metric, value_a, value_b, difference, pvalue, test, a_better``.
    """
    index = {name: j for j, name in enumerate(taking_part)}
    out = []
    for a, b in pairs:
        if a not in index or b not in index:
            continue
        row_a, row_b = rows[index[a]], rows[index[b]]
        r_ab = metrics.pearson_r(series[a], series[b])
        rho = row_a["rho_station"] * np.sqrt(max(row_a["rho_product"], 0) * max(row_b["rho_product"], 0))
        n_eff = metrics.effective_sample_size(row_a["n"], rho)
        _, p = metrics.dependent_correlation_test(row_a["r"], row_b["r"], r_ab, n_eff)
        out.append(_test_row(a, b, "r", row_a["r"], row_b["r"], p, "williams_t_neff"))
        for metric, replicated in (("abs_bias", "bias"), ("ubrmse", "ubrmse"), ("rmse", "rmse")):
            draws_a, draws_b = replicates[replicated][:, index[a]], replicates[replicated][:, index[b]]
            value_a, value_b = row_a[replicated], row_b[replicated]
            if metric == "abs_bias":
                draws_a, draws_b, value_a, value_b = abs(draws_a), abs(draws_b), abs(value_a), abs(value_b)
            p = metrics.bootstrap_pvalue(draws_a - draws_b)
            out.append(_test_row(a, b, metric, value_a, value_b, p, "paired_block_bootstrap"))
    return out


def _test_row(a: str, b: str, metric: str, value_a: float, value_b: float, p: float, test: str) -> dict:
    difference = value_a - value_b
    better = difference > 0 if TESTED[metric] else difference < 0
    return {
        "product_a": a,
        "product_b": b,
        "metric": metric,
        "value_a": value_a,
        "value_b": value_b,
        "difference": difference,
        "pvalue": p,
        "test": test,
        "a_better": bool(better),
    }


def significance_table(
    table: pd.DataFrame, tests: pd.DataFrame, groups: dict[str, Sequence[str]], q: float
) -> pd.DataFrame:
    """``tables/significance.csv`` rows for network groups (see the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        Station score rows with ``key``, ``representative`` (:mod:`helpers.validation.scores`).
    tests : pandas.DataFrame
        :func:`station_tests` rows with ``network``, ``period``, ``key``.
    groups : dict
        ``group name -> networks``.
    q : float
        False-discovery rate of the per-station tests.
    """
    if table.empty or tests.empty:
        return pd.DataFrame(columns=list(SIGNIFICANCE_COLUMNS))
    values = table.assign(abs_bias=table["bias"].abs())
    representative = set(table.loc[table["representative"], "key"])
    out = []
    for group, networks in groups.items():
        in_group = tests[tests["network"].isin(list(networks))]
        for (period, metric, a, b), frame in in_group.groupby(["period", "metric", "product_a", "product_b"], sort=True):
            for stations, subset in (("all", frame), ("representative", frame[frame["key"].isin(representative)])):
                scores = values[(values["period"] == period) & values["key"].isin(subset["key"])]
                wide = scores.pivot_table(index="key", columns="product", values=metric)
                if a not in wide or b not in wide:
                    continue
                paired = metrics.paired_tests(wide[a].to_numpy(), wide[b].to_numpy())
                rejected, _ = metrics.benjamini_hochberg(subset["pvalue"].to_numpy(dtype=float), q)
                tested = int(np.isfinite(subset["pvalue"].to_numpy(dtype=float)).sum())
                a_better = subset["a_better"].to_numpy(dtype=bool)
                out.append(
                    {
                        "network": group,
                        "period": period,
                        "metric": metric,
                        "product_a": a,
                        "product_b": b,
                        **paired,
                        "stations": stations,
                        "median_a": float(wide[a].median()),
                        "median_b": float(wide[b].median()),
                        "n_tested": tested,
                        "share_a_better": float((rejected & a_better).sum() / tested) if tested else np.nan,
                        "share_b_better": float((rejected & ~a_better).sum() / tested) if tested else np.nan,
                        "station_test": subset["test"].iloc[0],
                        "false_discovery_rate": q,
                    }
                )
    if not out:
        return pd.DataFrame(columns=list(SIGNIFICANCE_COLUMNS))
    frame = pd.DataFrame(out)
    return frame[list(SIGNIFICANCE_COLUMNS) + [c for c in frame.columns if c not in SIGNIFICANCE_COLUMNS]]
