"""Triple collocation at the stations, and on the twin world a test of triple collocation itself.

For each station, period and product ``X``, the triplet is (station, ``X``, ``third``) with
``validation.collocation.third`` (default the ESA-CCI-like product: satellite-based, its errors
independent of the station's and, unlike ERA5-Land's, of the new product's, which learnt from
ERA5-Land); for ``X`` = ``third`` the triplet takes ``third_for_third`` (ERA5-Land) instead.
Triple collocation (:func:`helpers.metrics.triple_collocation`) estimates each member's error
standard deviation and signal-to-noise ratio without knowing the truth, on the days where all
three have a value (at least ``collocation.min_days``). Intervals come from the seeded
moving-block bootstrap of :mod:`helpers.validation.scores` (block length from the largest
lag-1 autocorrelation of the three series), of the estimate's own resamples.

On the twin world the truth at the station's cells is known, so each member's true error
(:func:`helpers.metrics.regression_error_std`, the quantity triple collocation estimates) is
set beside the estimate: where they differ, the assumptions of triple collocation fail (errors
correlated between members, or a signal the members do not share, such as the point scale of
the station against the cell scale of the products).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from helpers import metrics
from helpers.params import Params
from helpers.progress import progress_bar
from helpers.validation.scores import periods, select_sources, station_identity, station_seed

MEMBERS = ("station", "product", "third")


def collocate_station(
    key: str,
    series: dict[str, np.ndarray],
    thirds: dict[str, str],
    params: Params,
    period: str,
    truth: np.ndarray | None,
) -> list[dict]:
    """Rows (one per member) of every triplet at one station and period.

    Parameters
    ----------
    series : dict
        ``station`` and each product's daily series over the period.
    thirds : dict
        ``product -> third product`` of its triplet.

    Returns
    -------
    list of dict
        Empty for a triplet with fewer than ``collocation.min_days`` days. All triplets share one
        set of block resamples (days of the station's record), each keeping its own days.
    """
    settings = params.validation
    station = series["station"]
    if np.isfinite(station).sum() < settings.collocation.min_days:
        return []
    days = np.flatnonzero(np.isfinite(station))
    span = slice(int(days[0]), int(days[-1]) + 1)
    names = sorted({"station", *thirds, *thirds.values()})
    values = {}
    for name in names:  # centred: triple collocation uses covariances only
        part = series[name][span].astype(np.float64)
        values[name] = part - (float(np.nanmean(part)) if np.isfinite(part).any() else 0.0)
    rho = np.nanmax([metrics.lag1_autocorrelation(values[name]) for name in names] + [-1.0])
    block = metrics.block_length(values["station"].size, rho)
    rng = np.random.default_rng(station_seed(params.seed, key, f"{period}|tc"))
    starts = metrics.moving_block_starts(values["station"].size, block, settings.bootstrap_samples, rng)
    level = settings.confidence_level
    truth_span = None if truth is None else truth[span]
    rows = []
    for product, third in thirds.items():
        members = ("station", product, third)
        common = np.isfinite(values["station"]) & np.isfinite(values[product]) & np.isfinite(values[third])
        if common.sum() < settings.collocation.min_days:
            continue
        # the triple's own days are where all three have a value: NaN marks the others
        estimate = metrics.triple_collocation(*(values[name] for name in members))
        member_values = dict(zip("xyz", (np.where(common, values[name], 0.0) for name in members), strict=True))
        daily = [common.astype(float)] + [
            member_values[key[0]] * (member_values[key[1]] if len(key) == 2 else 1.0)
            for key in metrics.collocation.SUMS
        ]
        sums = metrics.block_resample_sums(np.array(daily), block, starts)
        replicates = metrics.triple_collocation_from_sums(sums[:, 0], *sums[:, 1:].T)
        for member, name, letter in zip(MEMBERS, members, metrics.collocation.MEMBERS, strict=True):
            row = {
                "product": product,
                "third": third,
                "member": member,
                "member_name": name,
                "n": int(estimate["n"]),
                "block_length": block,
                "err_std": float(estimate[f"err_std_{letter}"]),
                "snr_db": float(estimate[f"snr_db_{letter}"]),
                "r2": float(estimate[f"r2_{letter}"]),
                "negative_variance": bool(estimate[f"negative_variance_{letter}"]),
            }
            row["err_std_ci_low"], row["err_std_ci_high"] = metrics.percentile_interval(
                replicates[f"err_std_{letter}"], level
            )
            row["snr_db_ci_low"], row["snr_db_ci_high"] = metrics.percentile_interval(
                replicates[f"snr_db_{letter}"], level
            )
            if truth_span is not None:
                member_values = np.where(common, series[name][span], np.nan)
                row["true_err_std"] = metrics.regression_error_std(member_values, np.where(common, truth_span, np.nan))
            rows.append(row)
    return rows


def collocation_table(
    matched: xr.Dataset, params: Params, sources: Sequence[str], progress: bool = True
) -> pd.DataFrame:
    """``tables/triple_collocation.csv`` rows for the stations of ``sources``."""
    settings = params.validation.collocation
    chosen = select_sources(matched, sources)
    products = [name for name in params.validation.products if f"sm_{name}" in chosen]
    if settings.third not in products:
        return pd.DataFrame()
    thirds = {
        product: settings.third_for_third if product == settings.third else settings.third
        for product in products
        if (settings.third_for_third if product == settings.third else settings.third) in products
    }
    times = pd.DatetimeIndex(chosen["time"].values)
    has_truth = "truth" in chosen
    rows = []
    windows = periods(params, times)
    bar = progress_bar(total=chosen.sizes["station"] * len(windows), desc="triple collocation", disable=not progress, mininterval=10)
    for k, key in enumerate(chosen["station"].values.astype(str)):
        ident = station_identity(chosen, k)
        for period in windows:
            days = period.days(times)
            series = {"station": chosen["insitu"].values[k, days]}
            series |= {name: chosen[f"sm_{name}"].values[k, days] for name in products}
            truth = chosen["truth"].values[k, days] if has_truth else None
            labels = {"period": period.label, "years": f"{period.first}-{period.last}", "key": key}
            for row in collocate_station(key, series, thirds, params, period.label, truth):
                rows.append(ident | labels | row)
            bar.update()
    bar.close()
    return pd.DataFrame(rows)
