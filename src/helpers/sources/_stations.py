"""What the in-situ readers share: the station table, quality-flag filtering and daily means.

Every station reader (:mod:`~helpers.sources.ismn` for ISMN and COSMOS (US) in ISMN format,
:mod:`~helpers.sources.cosmos_uk`, :mod:`~helpers.sources.cosmos_europe`,
:mod:`~helpers.sources.smap_cvs`) returns a :class:`StationTable`:

* ``meta``: one row per station read, with at least the columns of :data:`META_COLUMNS`
  (depths in metres; ``n_raw`` records with a value, ``n_kept`` of them passed the quality
  filter, ``n_dropped_by_flag`` did not, ``n_days`` days with a daily value, ``n_days_short``
  days left without one because they had too few records);
* ``daily``: ``{(network, station): DataFrame}`` on a daily DatetimeIndex named ``date``,
  with column ``sm`` (daily mean soil moisture, m3 m-3, NaN on a day with too few kept
  records) and, where the network has them, ``n_records`` (records kept that day),
  ``depth_cm`` (the day's sensing depth of a cosmic-ray probe), ``frozen_records`` and
  ``sm_incl_frozen`` (ISMN: records flagged frozen that day, and the day's mean with them);
* ``dropped``: records the quality filter dropped, per network and flag;
* ``skipped``: stations not read, one row each with the reason (a malformed file, no
  sensor in the depth range, missing columns, a station missing from the site list ...).
  A reader never drops a station silently and never stops for one bad file.

Days: records are grouped into days in UTC or in local solar time (``day_boundary``):
the local solar day of a record at UTC time ``t`` at longitude ``lon`` is the calendar day of
``t + lon / 15`` hours. A day counts when it holds at least ``min_records`` kept records,
counted in hourly terms: a sensor recording every ``k`` hours (the median spacing of its
records) needs ``ceil(min_records / k)`` (a daily-resolution record needs one).

A quality flag may combine several codes (``"D02,D03"`` in ISMN); a record is kept only when
every code is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

META_COLUMNS = (
    "network",
    "station",
    "lat",
    "lon",
    "elevation_m",
    "depth_from",
    "depth_to",
    "sensor",
    "n_raw",
    "n_kept",
    "n_dropped_by_flag",
    "n_days",
    "n_days_short",
)
DROPPED_COLUMNS = ("network", "flag", "n")
SKIPPED_COLUMNS = ("network", "station", "reason")
DAY_BOUNDARIES = ("utc", "local_solar")

StationKey = tuple[str, str]
DayBoundary = Literal["utc", "local_solar"]


@dataclass
class StationTable:
    """Daily in-situ soil moisture of a set of stations; see the module docstring."""

    meta: pd.DataFrame
    daily: dict[StationKey, pd.DataFrame]
    dropped: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=lambda: skipped_table([]))

    @property
    def data(self) -> dict[StationKey, pd.Series]:
        """``{(network, station): daily sm}``, the days with a value only."""
        return {key: frame["sm"].dropna() for key, frame in self.daily.items() if frame["sm"].notna().any()}

    def summary(self) -> pd.DataFrame:
        """Per network: stations read, with data, skipped, and records read, kept and dropped.

        Returns
        -------
        pandas.DataFrame
            Columns ``network, n_stations, n_with_data, n_skipped, n_raw, n_kept,
            n_dropped_by_flag``.
        """
        grouped = self.meta.groupby("network", sort=True)
        table = pd.DataFrame(
            {
                "n_stations": grouped.size(),
                "n_with_data": grouped["n_days"].apply(lambda days: int((days > 0).sum())),
                "n_raw": grouped["n_raw"].sum(),
                "n_kept": grouped["n_kept"].sum(),
                "n_dropped_by_flag": grouped["n_dropped_by_flag"].sum(),
            }
        )
        skipped = self.skipped.groupby("network").size().rename("n_skipped")
        table = table.join(skipped, how="outer").fillna(0).astype("int64")
        return table[
            ["n_stations", "n_with_data", "n_skipped", "n_raw", "n_kept", "n_dropped_by_flag"]
        ].reset_index(names="network")

    @classmethod
    def from_records(
        cls,
        rows: list[dict[str, object]],
        extra_columns: tuple[str, ...],
        daily: dict[StationKey, pd.DataFrame],
        dropped: Mapping[tuple[str, str], int],
        skipped: Iterable[tuple[str, str, str]],
    ) -> StationTable:
        """A reader's table from its per-station ``meta`` rows (:data:`META_COLUMNS` and
        ``extra_columns``), daily frames, ``{(network, flag): n}`` drops and skipped rows."""
        return cls(
            meta=meta_table(rows, extra_columns),
            daily=daily,
            dropped=dropped_table(dropped),
            skipped=skipped_table(skipped),
        )

    @classmethod
    def concat(cls, tables: Iterable[StationTable]) -> StationTable:
        """One table of several (e.g. of several networks); station keys must not repeat."""
        tables = list(tables)
        daily: dict[StationKey, pd.DataFrame] = {}
        for table in tables:
            repeated = sorted(set(daily) & set(table.daily))
            if repeated:
                raise ValueError(f"stations read twice: {repeated[:5]}")
            daily.update(table.daily)
        return cls(
            meta=pd.concat([t.meta for t in tables], ignore_index=True),
            daily=daily,
            dropped=pd.concat([t.dropped for t in tables], ignore_index=True),
            skipped=pd.concat([t.skipped for t in tables], ignore_index=True),
        )


def check_day_boundary(day_boundary: str) -> None:
    """Refuse a day boundary other than :data:`DAY_BOUNDARIES`."""
    if day_boundary not in DAY_BOUNDARIES:
        raise ValueError(f"day_boundary must be one of {DAY_BOUNDARIES}, got {day_boundary!r}")


def record_days(times: pd.DatetimeIndex, lon: float, day_boundary: DayBoundary) -> pd.DatetimeIndex:
    """The day (midnight timestamp) each UTC record time belongs to (see the module docstring)."""
    check_day_boundary(day_boundary)
    times = pd.DatetimeIndex(times)
    if times.tz is not None:
        times = times.tz_convert("UTC").tz_localize(None)
    if day_boundary == "local_solar":
        times = times + pd.to_timedelta(lon / 15.0, unit="h")
    return times.normalize()


def record_interval_hours(times: pd.DatetimeIndex) -> float:
    """Nominal interval of a record series: the median spacing, in hours (24 for one value a day)."""
    if len(times) < 2:
        return 24.0
    seconds = pd.DatetimeIndex(times).to_numpy().astype("datetime64[s]").astype(np.int64)
    spacing = np.diff(seconds) / 3600.0
    spacing = spacing[spacing > 0]
    return float(np.median(spacing)) if spacing.size else 24.0


def records_needed(min_records: int, interval_hours: float) -> int:
    """Records a day needs when ``min_records`` hourly records are asked for and the sensor
    records every ``interval_hours``: ``ceil(min_records / interval_hours)``, at least 1."""
    return max(1, math.ceil(min_records / max(interval_hours, 1.0) - 1e-9))


def daily_means(
    days: pd.DatetimeIndex, values: np.ndarray, keep: np.ndarray, needed: int
) -> pd.DataFrame:
    """Daily mean of the kept records, NaN on days with fewer than ``needed`` of them.

    Parameters
    ----------
    days : pandas.DatetimeIndex
        The day of each record (:func:`record_days`).
    values : numpy.ndarray
        Each record's value (NaN = no value).
    keep : numpy.ndarray
        Which records count (boolean).
    needed : int
        Fewest kept records a day needs.

    Returns
    -------
    pandas.DataFrame
        Columns ``sm`` and ``n_records`` on the days holding any kept record (index ``date``).
    """
    ok = keep & np.isfinite(values)
    day_numbers = pd.DatetimeIndex(days).to_numpy().astype("datetime64[D]").astype(np.int64)[ok]
    if day_numbers.size == 0:
        return pd.DataFrame({"sm": [], "n_records": []}, index=pd.DatetimeIndex([], name="date")).astype(
            {"n_records": "int64"}
        )
    first = day_numbers.min()
    counts = np.bincount(day_numbers - first)
    sums = np.bincount(day_numbers - first, weights=np.asarray(values, dtype=float)[ok])
    present = np.flatnonzero(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums[present] / counts[present]
    index = pd.DatetimeIndex((present + first).astype("datetime64[D]"), name="date")
    out = pd.DataFrame({"sm": np.where(counts[present] >= needed, means, np.nan), "n_records": counts[present]}, index=index)
    return out.astype({"n_records": "int64"})


def flag_codes(flags: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each record's index into the distinct flags, and the distinct flags (hash-based, fast)."""
    return pd.factorize(np.ravel(np.asarray(flags, dtype=object)))


def accepted_mask(
    flags: np.ndarray | pd.Series, accepted: Collection[str], separator: str = ","
) -> np.ndarray:
    """Which records carry only accepted quality codes.

    Parameters
    ----------
    flags : array-like of str
        One flag per record; several codes are joined by ``separator`` (``"D02,D03"``).
    accepted : collection of str
        The accepted codes, e.g. ``("G",)``.
    separator : str
        What joins the codes of one flag.

    Returns
    -------
    numpy.ndarray
        Boolean, True where every code of the flag is in ``accepted``.
    """
    accepted = set(accepted)
    inverse, unique = flag_codes(flags)
    unique_ok = np.array(
        [all(code.strip() in accepted for code in str(flag).split(separator)) for flag in unique], dtype=bool
    )
    return unique_ok[inverse].reshape(np.shape(flags))


def any_code_mask(flags: np.ndarray | pd.Series, codes: Collection[str], separator: str = ",") -> np.ndarray:
    """Which records carry at least one of ``codes`` (e.g. the frozen-soil flags)."""
    codes = set(codes)
    inverse, unique = flag_codes(flags)
    unique_hit = np.array([any(code.strip() in codes for code in str(flag).split(separator)) for flag in unique], bool)
    return unique_hit[inverse].reshape(np.shape(flags))


def dropped_table(counts: Mapping[tuple[str, str], int]) -> pd.DataFrame:
    """The ``dropped`` table of a :class:`StationTable` from ``{(network, flag): n}``."""
    rows = [(network, flag, int(n)) for (network, flag), n in sorted(counts.items()) if n > 0]
    return pd.DataFrame(rows, columns=list(DROPPED_COLUMNS)).astype({"n": "int64"})


def skipped_table(rows: Iterable[tuple[str, str, str]]) -> pd.DataFrame:
    """The ``skipped`` table of a :class:`StationTable` from ``(network, station, reason)`` rows."""
    return pd.DataFrame(list(rows), columns=list(SKIPPED_COLUMNS), dtype=object)


def meta_table(rows: list[dict[str, object]], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The ``meta`` table of a :class:`StationTable`, columns in the documented order."""
    columns = list(META_COLUMNS) + list(extra_columns)
    meta = pd.DataFrame(rows, columns=columns)
    counts = ["n_raw", "n_kept", "n_dropped_by_flag", "n_days", "n_days_short"]
    return meta.astype(dict.fromkeys(counts, "int64"))


def record_counts(has_value: np.ndarray, keep: np.ndarray) -> dict[str, int]:
    """``n_raw`` (records with a value), ``n_kept`` (of them, kept) and ``n_dropped_by_flag``."""
    n_raw, n_kept = int(np.sum(has_value)), int(np.sum(keep))
    return {"n_raw": n_raw, "n_kept": n_kept, "n_dropped_by_flag": n_raw - n_kept}


def day_counts(daily: pd.DataFrame) -> dict[str, int]:
    """``n_days`` (days with a value) and ``n_days_short`` (days with records but too few)."""
    has_value = daily["sm"].notna()
    return {"n_days": int(has_value.sum()), "n_days_short": int((~has_value).sum())}


def check_name(kind: str, name: str, forbidden: str = "") -> None:
    """Refuse an empty name, or one holding whitespace or any character of ``forbidden``."""
    if not name or any(char.isspace() or char in forbidden for char in name):
        raise ValueError(f"{kind} {name!r} must be non-empty, without whitespace or any of {forbidden!r}")


def format_column(values: np.ndarray, decimals: int, missing: str = "") -> np.ndarray:
    """Numbers as text with fixed decimals, ``missing`` where NaN (vectorised, for writers)."""
    values = np.asarray(values, dtype=float)
    text = np.char.mod(f"%.{decimals}f", np.where(np.isfinite(values), values, 0.0))
    return np.where(np.isfinite(values), text, missing)
