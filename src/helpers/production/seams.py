"""Seams between yearly runs: how consecutive runs are blended, and the checks that there is no seam.

Every year ``Y`` is estimated by its own run over ``30 + days(Y) + 30`` days, so the run of
``Y`` and the run of ``Y + 1`` share 60 days (2 December to 30 January): each one's margin is
the other's year. The runs see the same inputs on those days but not the same context (the
AtLSTM attends over its whole sequence), so they disagree a little, and a product that switched
from one run to the next at 1 January would jump there.

**The blend.** Within ``production.blend_days / 2`` days of 1 January (default 30: the whole
overlap) the product is the weighted mean of the two runs, with raised-cosine weights
(:func:`blend_weights`) that go smoothly from the earlier run to the later one. Each run's
weight falls to zero towards its own sequence end, where it has the least context on one side
(its margin days are never in a loss: the model was trained on central days only), and the
two count equally at the turn of the year. The spread is blended with the same weights.
Blending consecutive estimates of one quantity cannot move the product outside the range of
the two runs, and it adds no seam of its own: the weights change by at most
``pi / (2 blend_days)`` per day.

**First and last year.** The datacube's first year has no earlier run (its head margin mirrors
the year's own first days), so its January is the year's own run alone; the same holds for the
last year's December. A product of some years only (``production.years``) still blends with
the runs of the neighbouring cube years, computed for the purpose, so that a year's values do
not depend on how the record was cut into production jobs.

:func:`year_boundary_jumps` measures what is left at each 1 January against the neighbouring
days; :func:`run_overlap` compares the two runs on their shared days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from helpers.cube import MASK_VALUES
from helpers.params import Params
from helpers.production.apply import SM_MAX, Applied
from helpers.sampling import MARGIN_DAYS, read_points, sequence_calendar


def blend_weights(days: int) -> np.ndarray:
    r"""Weight of the later run on each of the ``days`` blended days (raised cosine).

    .. math:: w_k = \tfrac12 - \tfrac12 \cos\left(\pi \frac{k + 1/2}{n}\right),
              \qquad k = 0, \dots, n - 1

    rising from near 0 to near 1, symmetric (:math:`w_k + w_{n-1-k} = 1`), so that the two
    days around 1 January weigh the runs almost equally.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    k = np.arange(days, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(np.pi * (k + 0.5) / max(days, 1))).astype(np.float32)


@dataclass
class YearRun:
    """One yearly run over a set of cells: estimate and spread (cells, sequence days), and which
    of the year's own days had a missing input or no daily input at all (cells, days of the year)."""

    dates: pd.DatetimeIndex
    sm: np.ndarray
    spread: np.ndarray
    missing: np.ndarray | None = field(default=None, repr=False)
    no_input: np.ndarray | None = field(default=None, repr=False)

    def on(self, days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """Estimate and spread (cells, len(days)) on ``days``, which the run must cover."""
        index = self.dates.get_indexer(days)
        if (index < 0).any():
            raise ValueError(f"the run ({self.dates[0].date()}..{self.dates[-1].date()}) does not cover {days[index < 0][0].date()}")
        return self.sm[:, index], self.spread[:, index]


def blend_window(boundary_year: int, blend_days: int) -> pd.DatetimeIndex:
    """The ``blend_days`` days centred on 1 January of ``boundary_year``."""
    if blend_days > 2 * MARGIN_DAYS:
        raise ValueError(f"blend_days {blend_days} exceeds the runs' overlap of {2 * MARGIN_DAYS} days")
    start = pd.Timestamp(boundary_year, 1, 1) - pd.Timedelta(days=blend_days // 2)
    return pd.date_range(start, periods=blend_days, freq="D")


def blended_year(
    year: int, days: pd.DatetimeIndex, runs: Mapping[int, YearRun], blend_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate and spread (cells, days) of ``year``'s ``days``: its own run, blended near each
    1 January with the neighbouring year's run where ``runs`` holds one."""
    sm, spread = (values.copy() for values in runs[year].on(days))
    weights = blend_weights(blend_days)
    for earlier, later in ((year - 1, year), (year, year + 1)):
        if blend_days == 0 or earlier not in runs or later not in runs:
            continue
        window = blend_window(later, blend_days)
        inside = np.flatnonzero(days.isin(window))
        if inside.size == 0:
            continue
        w = weights[window.get_indexer(days[inside])][None, :]
        first_sm, first_spread = runs[earlier].on(days[inside])
        second_sm, second_spread = runs[later].on(days[inside])
        sm[:, inside] = (1 - w) * first_sm + w * second_sm
        spread[:, inside] = (1 - w) * first_spread + w * second_spread
    return sm, spread


def runs_needed(year: int, cube_years: list[int], blend_days: int) -> list[int]:
    """The runs the product of ``year`` needs: its own, and the neighbours' that exist to blend with."""
    if blend_days == 0:
        return [year]
    return [year, *(y for y in (year - 1, year + 1) if y in cube_years)]


def year_boundary_jumps(series: Mapping[str, xr.DataArray], land: np.ndarray, window_days: int = 15) -> pd.DataFrame:
    """Is the product seamless where one year's run meets the next?

    For every 31 Dec -> 1 Jan boundary inside the series and each named (time, lat, lon)
    field, the land-mean absolute day-to-day change ``mean |x(t+1) - x(t)|`` across the
    boundary is set against the same quantity for the other day pairs within
    ``window_days`` of it. A seam would show as a boundary change far above its neighbours
    (``ratio`` >> 1 and ``rank`` 1); an input such as ERA5-Land, made as one continuous
    series, gives the natural level.

    Returns one row per field and boundary: ``field, boundary, jump, neighbours_median,
    ratio`` (jump / neighbours' median) and ``rank`` (1 = the largest change in the window).
    """
    rows = []
    for name, values in series.items():
        times = pd.DatetimeIndex(values["time"].values)
        starts = [t for t in times[times.is_year_start] if t != times[0]]
        for boundary in starts:
            position = times.get_loc(boundary)
            lo, hi = max(position - window_days, 0), min(position + window_days, times.size - 1)
            block = values.isel(time=slice(lo, hi + 1)).values[:, land]
            changes = np.nanmean(np.abs(np.diff(block, axis=0)), axis=1)  # change from day k to k+1
            at = position - lo - 1
            others = np.delete(changes, at)
            rows.append(
                {
                    "field": name,
                    "boundary": boundary.date().isoformat(),
                    "jump": float(changes[at]),
                    "neighbours_median": float(np.median(others)),
                    "ratio": float(changes[at] / np.median(others)),
                    "rank": int((changes > changes[at]).sum() + 1),
                }
            )
    return pd.DataFrame(rows)


@dataclass
class RunOverlap:
    """Two consecutive yearly runs on their shared days, at sampled land cells.

    ``series`` maps ``run <year>``, ``run <year + 1>``, ``switched`` (each day from its own
    year's run) and ``blended`` (the product's rule) to (days, cells) DataFrames over the
    shared days; ``rows``, ``cols`` are the cells.
    """

    year: int
    rows: np.ndarray
    cols: np.ndarray
    series: dict[str, pd.DataFrame]
    table: pd.DataFrame
    summary: dict[str, float]


def run_overlap(params: Params, applied: Applied, ds: xr.Dataset, year: int, n_cells: int = 1000) -> RunOverlap:
    """How much do two yearly runs disagree where their sequences overlap, and what is left
    of it at 1 January once they are blended?

    ``table``: per shared day ``date``, ``offset`` (days from 1 January of ``year + 1``;
    negative before it), ``disagreement`` (land-mean |run year - run year+1|) and ``weight``
    (of the later run in the blend). ``summary`` (m3 m-3): ``switch_jump`` and ``blend_jump``
    (mean |31 Dec -> 1 Jan change| of the switched and the blended series), ``within_run_jump``
    (the same change inside each run, averaged over both) and ``day_to_day`` (mean |change|
    between consecutive days inside the runs).
    """
    times = pd.DatetimeIndex(ds["time"].values)
    if year + 1 not in set(times.year):
        raise ValueError(f"run_overlap: year {year + 1} is not in the datacube, no overlap with {year}")
    land_rows, land_cols = np.nonzero(ds["mask"].values == MASK_VALUES["land"])
    rng = np.random.default_rng(params.seed)
    pick = rng.choice(land_rows.size, min(n_cells, land_rows.size), replace=False)
    rows, cols = land_rows[pick], land_cols[pick]
    runs = {}
    for run in (year, year + 1):
        calendar = sequence_calendar(times, run)
        x, _ = read_points(ds, params, rows, cols, calendar)
        sm, spread = applied.estimate(x, 1, params.production.batch_size, params.seed)
        runs[run] = YearRun(pd.DatetimeIndex(calendar["date"]), np.clip(sm, 0.0, SM_MAX), spread)
    shared = runs[year].dates.intersection(runs[year + 1].dates)
    boundary = pd.Timestamp(year + 1, 1, 1)
    first, second = runs[year].on(shared)[0], runs[year + 1].on(shared)[0]
    switched = np.where((shared < boundary)[None, :], first, second)
    blend_days = params.production.blend_days
    blended = np.concatenate(
        [blended_year(y, shared[shared.year == y], runs, blend_days)[0] for y in (year, year + 1)], axis=1
    )
    if blend_days:
        window = blend_window(year + 1, blend_days)
        inside = shared.isin(window)
        weights = (shared > window[-1]).astype(np.float32)
        weights[inside] = blend_weights(blend_days)[window.get_indexer(shared[inside])]
    else:
        weights = (shared >= boundary).astype(np.float32)
    series = {
        name: pd.DataFrame(values.T, index=shared)
        for name, values in ((f"run {year}", first), (f"run {year + 1}", second), ("switched", switched), ("blended", blended))
    }
    table = pd.DataFrame(
        {
            "date": shared,
            "offset": (shared - boundary).days,
            "disagreement": np.abs(first - second).mean(axis=0),
            "weight": weights,
        }
    )
    at = shared.get_loc(boundary)

    def jump(values: np.ndarray) -> float:
        return float(np.abs(values[:, at] - values[:, at - 1]).mean())

    day_to_day = np.mean([np.abs(np.diff(values, axis=1)).mean() for values in (first, second)])
    summary = {
        "switch_jump": jump(switched),
        "blend_jump": jump(blended),
        "within_run_jump": float(np.mean([jump(first), jump(second)])),
        "day_to_day": float(day_to_day),
    }
    return RunOverlap(year, rows, cols, series, table, summary)
