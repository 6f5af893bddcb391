"""Scores per station, period and product, with intervals that respect autocorrelation.

Samples
-------
For a station and a period, a product takes part when it has at least ``validation.min_days``
days with a value where the station has one (the target, for instance, not before its first
year). The **common sample** is the days where the station and every taking part product have
a value: the contract columns ``n, r, bias, ubrmse, rmse`` are computed on it, so products are
compared on the same days (as QA4SM does). Each product's **own sample** (the station and that
product only) is reported beside it (``n_own, r_own, ...``). A station and period whose common
sample is shorter than ``min_days`` is not scored and becomes a row of ``skipped`` saying so.

Metrics follow :mod:`helpers.metrics` with the estimate the product and the reference the
station: a positive bias is a product wetter than the station.

Intervals (level ``validation.confidence_level``)
-------------------------------------------------
* Analytical, with the effective sample size of each metric
  (:func:`helpers.metrics.n_eff_for`; lag-1 autocorrelations on the common sample): R by
  Fisher's z, bias by Student's t, ubRMSE by the chi distribution (``*_ci_low``, ``*_ci_high``,
  with ``n_eff_r``, ``n_eff_bias``, ``n_eff_ubrmse`` and ``rho_station``, ``rho_product``,
  ``rho_difference``). The i.i.d. intervals of QA4SM and pytesmo, with the raw ``n``, sit beside
  them (``*_ci_iid_low``, ``*_ci_iid_high``).
* RMSE by a seeded moving-block bootstrap (``rmse_ci_low``, ``rmse_ci_high``) of
  ``validation.bootstrap_samples`` resamples of the period's days (from the station's first to
  its last common day, gaps included), the same resamples for every product so that their
  differences stay paired (:mod:`helpers.validation.significance`). The resampled metrics come
  from block sums (:func:`helpers.metrics.block_resample_sums`), exact and fast. One block length per
  station and period (``block_length``): :func:`helpers.metrics.block_length` with the largest
  lag-1 autocorrelation of the products' differences, the conservative choice. The seed derives
  from ``seed``, the station and the period, so a run repeats exactly.

Periods: ``validation.period_i`` and ``period_ii`` clipped to the product's years; a period
with no year in the product is left out, and each row names the years used.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from helpers import metrics
from helpers.params import Params
from helpers.progress import progress_bar
from helpers.validation import significance

SCORED = ("r", "bias", "ubrmse", "rmse")


def nan_median(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Median of the finite values along ``axis``; NaN where there are none.

    As ``numpy.nanmedian``, without its "All-NaN slice" warning: a median over no scored station
    (or a bootstrap resample that drew only unscored ones) is undefined, the tables show it as
    missing and :func:`helpers.metrics.percentile_interval` leaves such replicates out.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice encountered", category=RuntimeWarning)
        return np.nanmedian(values, axis=axis)
#: Contract columns of ``tables/validation_stations.csv`` (extra columns follow them).
STATION_COLUMNS = ("network", "station", "lat", "lon", "period", "product", "n", "r", "bias", "ubrmse", "rmse")


@dataclass(frozen=True)
class Period:
    """A validation period clipped to the product's years."""

    label: str
    first: int
    last: int
    nominal: tuple[int, int]

    @property
    def description(self) -> str:
        years = f"{self.first}-{self.last}"
        if (self.first, self.last) == self.nominal:
            return f"period {self.label} ({years})"
        return f"period {self.label} ({years} of {self.nominal[0]}-{self.nominal[1]})"

    def days(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Indices of the period's days in ``times``."""
        return np.flatnonzero((times.year >= self.first) & (times.year <= self.last))


def periods(params: Params, times: pd.DatetimeIndex) -> list[Period]:
    """Periods I and II of ``params.validation`` clipped to the years of ``times``."""
    years = sorted(set(pd.DatetimeIndex(times).year))
    out = []
    for label, (first, last) in (("I", params.validation.period_i), ("II", params.validation.period_ii)):
        inside = [year for year in years if first <= year <= last]
        if inside:
            out.append(Period(label, inside[0], inside[-1], (first, last)))
    return out


def select_sources(matched: xr.Dataset, sources: Sequence[str]) -> xr.Dataset:
    """The stations of ``sources`` in the matched store."""
    return matched.sel(station=np.isin(matched["source"].values, list(sources)))


def station_identity(chosen: xr.Dataset, k: int) -> dict[str, object]:
    """``network, station, lat, lon`` of the ``k``-th station of a matched store (table columns)."""
    return {
        "network": str(chosen["network"].values[k]),
        "station": str(chosen["station_name"].values[k]),
        "lat": float(chosen["lat"].values[k]),
        "lon": float(chosen["lon"].values[k]),
    }


def station_seed(seed: int, key: str, period: str) -> int:
    """A reproducible seed for one station and period."""
    return (seed * 1_000_003 + zlib.crc32(f"{key}|{period}".encode())) % 2**32


@dataclass
class StationPeriod:
    """What one station and period gives: score rows, per-station test rows, or a skip reason."""

    rows: list[dict]
    tests: list[dict]
    truth_rows: list[dict]
    skip: str | None = None


def _rho(values: np.ndarray) -> float:
    return metrics.lag1_autocorrelation(values)


def _intervals(row: dict, x: np.ndarray, y: np.ndarray, level: float) -> None:
    """Analytical intervals of R, bias and ubRMSE, with N_eff and i.i.d. (in place)."""
    d = y - x
    rho = {"station": _rho(x), "product": _rho(y), "difference": _rho(d)}
    row |= {f"rho_{name}": value for name, value in rho.items()}
    n = row["n"]
    sd = float(np.nanstd(d, ddof=1)) if n > 1 else np.nan
    for suffix, sizes in (("", None), ("_iid", n)):
        n_eff = {m: sizes or metrics.n_eff_for(m, n, rho["product"], rho["station"], rho["difference"]) for m in ("r", "bias", "ubrmse")}
        if suffix == "":
            row |= {f"n_eff_{m}": round(value, 1) for m, value in n_eff.items()}
        row[f"r_ci{suffix}_low"], row[f"r_ci{suffix}_high"] = metrics.r_interval(row["r"], n_eff["r"], level)
        row[f"bias_ci{suffix}_low"], row[f"bias_ci{suffix}_high"] = metrics.bias_interval(row["bias"], sd, n_eff["bias"], level)
        row[f"ubrmse_ci{suffix}_low"], row[f"ubrmse_ci{suffix}_high"] = metrics.ubrmse_interval(
            row["ubrmse"], n_eff["ubrmse"], level
        )


def score_station_period(
    key: str,
    x: np.ndarray,
    values: dict[str, np.ndarray],
    params: Params,
    period: Period,
    pairs: Sequence[tuple[str, str]],
    truth: np.ndarray | None = None,
) -> StationPeriod:
    """Scores, per-station tests and truth rows of one station over one period.

    Parameters
    ----------
    key : str
        The station (``network/station``), for the seed.
    x : numpy.ndarray
        The station's daily series over the period.
    values : dict
        Each product's daily series over the same days.
    pairs : sequence of (a, b)
        Product pairs tested at the station (:func:`helpers.validation.significance.station_tests`).
    truth : numpy.ndarray, optional
        The twin world's truth at the station's cells.
    """
    settings = params.validation
    level = settings.confidence_level
    has_station = np.isfinite(x)
    taking_part = [name for name, y in values.items() if int((has_station & np.isfinite(y)).sum()) >= settings.min_days]
    if not taking_part:
        return StationPeriod([], [], [], f"{period.description}: no product with {settings.min_days} days beside the station")
    common = has_station.copy()
    for name in taking_part:
        common &= np.isfinite(values[name])
    n_common = int(common.sum())
    if n_common < settings.min_days:
        return StationPeriod(
            [], [], [], f"{period.description}: {n_common} common days of the station and {', '.join(taking_part)}"
            f" < min_days {settings.min_days}"
        )
    span = slice(int(np.flatnonzero(common)[0]), int(np.flatnonzero(common)[-1]) + 1)
    # all shifted by the station's mean: no metric changes, the bootstrap's sums lose no precision
    shift = float(np.nanmean(np.where(common, x, np.nan)))
    xc = np.where(common, x, np.nan)[span] - shift
    yc = {name: np.where(common, values[name], np.nan)[span] - shift for name in taking_part}
    rows = []
    for name in taking_part:
        row = {"product": name} | metrics.score_all(yc[name], xc)
        row.pop("r2")
        _intervals(row, xc, yc[name], level)
        own = metrics.score_all(values[name], x)
        row |= {f"{m}_own": own[m] for m in ("n", "r", "bias", "ubrmse", "rmse")}
        rows.append(row)
    rho_d = max((row["rho_difference"] for row in rows if np.isfinite(row["rho_difference"])), default=np.nan)
    block = metrics.block_length(xc.size, rho_d)
    rng = np.random.default_rng(station_seed(params.seed, key, period.label))
    starts = metrics.moving_block_starts(xc.size, block, settings.bootstrap_samples, rng)
    valid = np.isfinite(xc)
    x0 = np.where(valid, xc, 0.0)
    daily = [valid.astype(float), x0, x0**2]
    for name in taking_part:
        y0 = np.where(valid, yc[name], 0.0)
        daily += [y0, y0**2, x0 * y0]
    sums = metrics.block_resample_sums(np.array(daily), block, starts)
    replicates = {m: np.empty((settings.bootstrap_samples, len(taking_part))) for m in SCORED}
    for j in range(len(taking_part)):
        s_y, s_yy, s_xy = sums[:, 3 + 3 * j], sums[:, 4 + 3 * j], sums[:, 5 + 3 * j]
        scores = metrics.scores_from_sums(sums[:, 0], s_y, sums[:, 1], s_yy, sums[:, 2], s_xy)
        for m in SCORED:
            replicates[m][:, j] = scores[m]
    for j, row in enumerate(rows):
        row["rmse_ci_low"], row["rmse_ci_high"] = metrics.percentile_interval(replicates["rmse"][:, j], level)
        row["block_length"] = block
    tests = significance.station_tests(rows, replicates, xc, yc, taking_part, pairs)
    truth_rows = [] if truth is None else _truth_rows(xc, yc, np.where(common, truth, np.nan)[span] - shift, rows)
    return StationPeriod(rows, tests, truth_rows)


def _truth_rows(x: np.ndarray, y: dict[str, np.ndarray], truth: np.ndarray, rows: list[dict]) -> list[dict]:
    """Each product (and the station) against the truth at the station's cells, on the common sample."""
    out = []
    for name, series in [("station", x), *y.items()]:
        against_truth = metrics.score_all(series, truth)
        row = {"product": name, "n": against_truth["n"]}
        row |= {f"{m}_truth": against_truth[m] for m in ("r", "bias", "ubrmse", "rmse")}
        station_row = next((r for r in rows if r["product"] == name), None)
        row |= {f"{m}_station": (station_row[m] if station_row else np.nan) for m in ("r", "bias", "ubrmse", "rmse")}
        out.append(row)
    return out


@dataclass
class Scores:
    """Scores of a set of stations: the tables of notebooks 05-07."""

    stations: pd.DataFrame  # validation_stations rows
    tests: pd.DataFrame  # per-station tests of product pairs
    truth: pd.DataFrame  # station_truth rows (twin world), else empty
    skipped: pd.DataFrame  # network, station, reason, source, stage


def score_stations(
    matched: xr.Dataset,
    params: Params,
    sources: Sequence[str],
    pairs: Sequence[tuple[str, str]] | None = None,
    progress: bool = True,
) -> Scores:
    """Score every station of ``sources`` over each period (see the module docstring).

    ``pairs`` are the product pairs tested at each station (default
    :func:`helpers.validation.significance.product_pairs`).
    """
    chosen = select_sources(matched, sources)
    times = pd.DatetimeIndex(chosen["time"].values)
    products = [name for name in params.validation.products if f"sm_{name}" in chosen]
    if pairs is None:
        pairs = significance.product_pairs(params, products)
    pairs = [(a, b) for a, b in pairs if a in products and b in products]
    has_truth = "truth" in chosen
    rows, tests, truth_rows, skipped = [], [], [], []
    insitu = chosen["insitu"].values
    series = {name: chosen[f"sm_{name}"].values for name in products}
    truth = chosen["truth"].values if has_truth else None
    windows = periods(params, times)
    bar = progress_bar(total=chosen.sizes["station"] * len(windows), desc="scores", unit="station-period", disable=not progress, mininterval=10)
    for k, key in enumerate(chosen["station"].values):
        ident = station_identity(chosen, k)
        for period in windows:
            days = period.days(times)
            result = score_station_period(
                str(key),
                insitu[k, days],
                {name: values[k, days] for name, values in series.items()},
                params,
                period,
                pairs,
                None if truth is None else truth[k, days],
            )
            bar.update()
            labels = {"period": period.label, "years": f"{period.first}-{period.last}", "key": str(key)}
            if result.skip:
                skipped.append({"network": ident["network"], "station": ident["station"], "reason": result.skip,
                                "source": str(chosen["source"].values[k]), "stage": "scoring"})
                continue
            rows += [ident | labels | row for row in result.rows]
            tests += [ident | labels | row for row in result.tests]
            truth_rows += [ident | labels | row for row in result.truth_rows]
    bar.close()
    table = pd.DataFrame(rows)
    if not table.empty:
        extra = [c for c in table.columns if c not in STATION_COLUMNS]
        table = table[list(STATION_COLUMNS) + extra]
    return Scores(table, pd.DataFrame(tests), pd.DataFrame(truth_rows), pd.DataFrame(skipped))


def summary_table(
    table: pd.DataFrame, groups: dict[str, Sequence[str]], seed: int, level: float = 0.95, n_resamples: int = 1000
) -> pd.DataFrame:
    """Medians over stations per network group, period, product and station set.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`score_stations` rows with a boolean ``representative`` column.
    groups : dict
        ``group name -> networks`` (e.g. ``{"ISMN": [...], "TWIN-NA": ["TWIN-NA"]}``).

    Returns
    -------
    pandas.DataFrame
        ``network, period, product, stations`` (``all`` or ``representative``),
        ``n_stations``, the median of ``r, bias, ubrmse, rmse`` with a station-bootstrap
        interval (``*_median_ci_low/high``; stations resampled with replacement, seeded), and
        ``r_fisher_mean`` (the mean R through Fisher's z, weighted by ``n - 3``, as QA4SM
        averages R).
    """
    out = []
    rng = np.random.default_rng(seed)
    for group, networks in groups.items():
        in_group = table[table["network"].isin(list(networks))]
        for (period, product), frame in in_group.groupby(["period", "product"], sort=True):
            for stations, subset in (("all", frame), ("representative", frame[frame["representative"]])):
                row = {"network": group, "period": period, "product": product, "stations": stations, "n_stations": len(subset)}
                picks = rng.integers(0, max(len(subset), 1), size=(n_resamples, len(subset))) if len(subset) else None
                for m in SCORED:
                    values = subset[m].to_numpy(dtype=float)
                    row[m] = float(nan_median(values)) if len(values) else np.nan
                    if picks is not None and len(values) >= metrics.MIN_PAIRS:
                        replicates = nan_median(values[picks], axis=1)
                        row[f"{m}_median_ci_low"], row[f"{m}_median_ci_high"] = metrics.percentile_interval(replicates, level)
                    else:
                        row[f"{m}_median_ci_low"] = row[f"{m}_median_ci_high"] = np.nan
                weights = np.clip(subset["n"].to_numpy(dtype=float) - 3, 0, None)
                z = np.arctanh(np.clip(subset["r"].to_numpy(dtype=float), -0.999999, 0.999999))
                ok = np.isfinite(z) & (weights > 0)
                row["r_fisher_mean"] = float(np.tanh(np.average(z[ok], weights=weights[ok]))) if ok.any() else np.nan
                out.append(row)
    return pd.DataFrame(out)
