"""The winter evaluation (notebook 08): how the products fare when the soil may be frozen.

As in the paper: ISMN stations north of ``validation.winter.min_lat`` (30 degrees N), the days of
``validation.winter.months`` (December to February), stations with more than
``validation.winter.min_days`` matched days; the median R per period and product. Each product
is scored on its own matched days (the station and that product), because leaving winter days
out is exactly how the products differ: the ESA-CCI-like product has no value over frozen soil
or snow, the new product has one every day.

Beyond the paper, the winter days are split into strata (``stratum``), each set against the
unfrozen days:

``frozen_station``
    days on which the station flagged frozen soil (ISMN ``D01``-``D03``);
``frozen_product``
    days the product flags ``frozen_suspected`` (its LST input below 0 degC), whatever the
    station says (the two frozen strata overlap);
``unfrozen``
    days with neither flag;

each scored on stations with at least ``validation.winter.stratum_min_days`` days in it, and
``all`` (every winter day with a kept station value, the paper's number). On frozen days the
reference is the station's daily mean **with** its frozen-flagged records
(``insitu_incl_frozen``), which a ``G``-only filter drops: dielectric sensors see only the
liquid water, so expect poor agreement there. ``coverage`` is the share of the winter days
with a value at the stations' cells (all of them, whatever the station has): what the
CCI-like product misses against the product's daily coverage. Station-bootstrap intervals of
the median R (seeded) go with every row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from helpers import metrics
from helpers.params import Params
from helpers.validation.scores import nan_median, periods

STRATA = ("all", "unfrozen", "frozen_product", "frozen_station")
WINTER_COLUMNS = ("period", "years", "product", "stratum", "n_stations", "median_r", "median_r_ci_low", "median_r_ci_high",
                  "median_bias", "median_ubrmse", "coverage")


def winter_stations(matched: xr.Dataset, params: Params, sources: Sequence[str] = ("ismn",)) -> xr.Dataset:
    """The stations of ``sources`` north of ``winter.min_lat``, and only their winter days."""
    settings = params.validation.winter
    north = (matched["lat"].values > settings.min_lat) & np.isin(matched["source"].values, list(sources))
    times = pd.DatetimeIndex(matched["time"].values)
    return matched.isel(station=np.flatnonzero(north), time=np.flatnonzero(times.month.isin(settings.months)))


def station_strata(winter: xr.Dataset) -> dict[str, np.ndarray]:
    """Boolean (station, time) masks of the strata (see the module docstring)."""
    station_frozen = np.nan_to_num(winter["frozen_records"].values) > 0
    product_frozen = winter["product_frozen"].values.astype(bool)
    return {
        "all": np.ones(station_frozen.shape, dtype=bool),
        "unfrozen": ~station_frozen & ~product_frozen,
        "frozen_product": product_frozen,
        "frozen_station": station_frozen,
    }


def winter_scores(matched: xr.Dataset, params: Params, sources: Sequence[str] = ("ismn",)) -> pd.DataFrame:
    """Per-station winter scores: ``key, period, product, stratum, n, r, bias, ubrmse``."""
    settings = params.validation.winter
    winter = winter_stations(matched, params, sources)
    products = [name for name in params.validation.products if f"sm_{name}" in winter]
    times = pd.DatetimeIndex(winter["time"].values)
    strata = station_strata(winter)
    rows = []
    for period in periods(params, pd.DatetimeIndex(matched["time"].values)):
        days = period.days(times)
        for k, key in enumerate(winter["station"].values.astype(str)):
            for product in products:
                y = winter[f"sm_{product}"].values[k, days]
                for stratum, mask in strata.items():
                    frozen = stratum in ("frozen_station", "frozen_product")
                    reference = winter["insitu_incl_frozen" if frozen else "insitu"].values[k, days]
                    keep = mask[k, days] & np.isfinite(reference) & np.isfinite(y)
                    needed = settings.min_days + 1 if stratum == "all" else settings.stratum_min_days
                    if keep.sum() < needed:
                        continue
                    score = metrics.score_all(y[keep], reference[keep])
                    rows.append(
                        {"key": key, "period": period.label, "years": f"{period.first}-{period.last}", "product": product,
                         "stratum": stratum, "lat": float(winter["lat"].values[k])}
                        | {m: score[m] for m in ("n", "r", "bias", "ubrmse")}
                    )
    return pd.DataFrame(rows)


def winter_table(
    matched: xr.Dataset, params: Params, scores: pd.DataFrame, sources: Sequence[str] = ("ismn",)
) -> pd.DataFrame:
    """``tables/winter.csv``: medians per period, product and stratum, with coverage."""
    winter = winter_stations(matched, params, sources)
    times = pd.DatetimeIndex(winter["time"].values)
    rng = np.random.default_rng(params.seed)
    out = []
    for period in periods(params, pd.DatetimeIndex(matched["time"].values)):
        days = period.days(times)
        for product in [name for name in params.validation.products if f"sm_{name}" in winter]:
            values = winter[f"sm_{product}"].values[:, days]
            coverage = float(np.isfinite(values).mean()) if values.size else np.nan
            for stratum in STRATA:
                chosen = scores[(scores["period"] == period.label) & (scores["product"] == product) & (scores["stratum"] == stratum)] if not scores.empty else scores
                r = chosen["r"].to_numpy(dtype=float) if len(chosen) else np.array([])
                low = high = np.nan
                if r.size >= metrics.MIN_PAIRS:
                    picks = rng.integers(0, r.size, size=(params.validation.bootstrap_samples, r.size))
                    low, high = metrics.percentile_interval(nan_median(r[picks], axis=1), params.validation.confidence_level)
                out.append(
                    {
                        "period": period.label,
                        "years": f"{period.first}-{period.last}",
                        "product": product,
                        "stratum": stratum,
                        "n_stations": len(chosen),
                        "median_r": float(nan_median(r)) if r.size else np.nan,
                        "median_r_ci_low": low,
                        "median_r_ci_high": high,
                        "median_bias": float(chosen["bias"].median()) if len(chosen) else np.nan,
                        "median_ubrmse": float(chosen["ubrmse"].median()) if len(chosen) else np.nan,
                        "coverage": coverage,
                    }
                )
    return pd.DataFrame(out, columns=list(WINTER_COLUMNS))
