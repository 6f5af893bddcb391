"""Which stations represent their grid cell? A documented, params-driven rule.

A point sensor sees a few square metres; a product cell is 25 km² (0.05 degree) or more. The
paper reports results for all stations and for "representative" ones (715 of its stations)
without a fixed rule, so the rule here is a parameter (``validation.representative.rule``):

``target_agreement`` (default; close to the paper's practice)
    The station's correlation with the GLASS-MODIS target over period I, on their own common
    days (at least ``validation.min_days``), is at least ``representative.min_r``. The target
    is independent of the stations of the twin world, but on real data the selection favours
    products that resemble the target (the new product learnt it): read the representative
    subset as "stations that agree with the target", not as neutral ground. Stations without
    enough days in period I (e.g. records that ended before it) are not representative.
``homogeneity``
    The target's period-I means over the station's cell and its eight neighbours vary little
    (standard deviation at most ``representative.max_spread``): a station in a homogeneous
    landscape can stand for its cell whatever it measures. The rule uses no station value, so
    it favours no product; it cannot detect a badly placed sensor.

On the twin world the rules can be judged against the truth: a representative station should
agree better with the truth of its cell (``tables/station_truth.csv``, notebook 05).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from helpers import metrics
from helpers.params import Params


def representative_stations(matched: xr.Dataset, params: Params) -> pd.Series:
    """Boolean per station key: does it count as representative (see the module docstring)?

    Raises
    ------
    ValueError
        When the rule needs the target and ``validation.products`` leaves it out.
    """
    settings = params.validation.representative
    keys = matched["station"].values.astype(str)
    if settings.rule == "homogeneity":
        spread = matched["target_spread_3x3"].values
        return pd.Series(np.isfinite(spread) & (spread <= settings.max_spread), index=keys, name="representative")
    if "sm_target" not in matched:
        raise ValueError(
            "validation.representative.rule target_agreement needs the product 'target' in validation.products"
        )
    first, last = params.validation.period_i
    times = pd.DatetimeIndex(matched["time"].values)
    days = np.flatnonzero((times.year >= first) & (times.year <= last))
    insitu = matched["insitu"].values[:, days]
    target = matched["sm_target"].values[:, days]
    flags = []
    for x, y in zip(insitu, target, strict=True):
        enough = metrics.n_pairs(y, x) >= params.validation.min_days
        flags.append(bool(enough and metrics.pearson_r(y, x) >= settings.min_r))
    return pd.Series(flags, index=keys, name="representative")


def rule_description(params: Params) -> str:
    """One line naming the rule and its threshold, for tables and figure captions."""
    settings = params.validation.representative
    if settings.rule == "homogeneity":
        return f"homogeneity: std of the target's period-I means over the 3x3 cells <= {settings.max_spread} m3 m-3"
    first, last = params.validation.period_i
    return f"target agreement: R(station, target) >= {settings.min_r} over {first}-{last}"
