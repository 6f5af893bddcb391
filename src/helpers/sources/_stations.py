"""What the in-situ readers share: the station table, quality-flag filtering, daily means and
the ``# key: value`` CSV layout.

Every station reader (:mod:`~helpers.sources.ismn`, :mod:`~helpers.sources.cosmos`,
:mod:`~helpers.sources.smap_cvs`) returns a :class:`StationTable`:

* ``meta``: one row per station, with at least the columns of :data:`META_COLUMNS`
  (depths in metres; ``n_raw`` records with a value, ``n_kept`` of them passed the quality
  filter, ``n_dropped_by_flag`` did not, ``n_days`` daily values in ``data``);
* ``data``: ``{(network, station): daily soil moisture in m3 m-3}``, a float Series named
  ``sm`` on a daily DatetimeIndex named ``date``; stations left without any kept value are
  in ``meta`` but not in ``data``;
* ``dropped``: how many records the quality filter dropped, per network and flag;
* ``depth_cm``: for sensors whose sensing depth changes from day to day (cosmic-ray
  probes), the daily effective depth in cm per station; empty otherwise.

A quality flag may combine several codes (``"D02,D03"`` in ISMN); a record is kept only when
every code is accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.errors import SourceError

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
)
DROPPED_COLUMNS = ("network", "flag", "n")

StationKey = tuple[str, str]


@dataclass
class StationTable:
    """Daily in-situ soil moisture of a set of stations; see the module docstring."""

    meta: pd.DataFrame
    data: dict[StationKey, pd.Series]
    dropped: pd.DataFrame
    depth_cm: dict[StationKey, pd.Series] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per network: stations, stations with data, and records read, kept and dropped.

        Returns
        -------
        pandas.DataFrame
            Columns ``network, n_stations, n_with_data, n_raw, n_kept, n_dropped_by_flag``.
        """
        grouped = self.meta.groupby("network", sort=True)
        return pd.DataFrame(
            {
                "n_stations": grouped.size(),
                "n_with_data": grouped["n_days"].apply(lambda days: int((days > 0).sum())),
                "n_raw": grouped["n_raw"].sum(),
                "n_kept": grouped["n_kept"].sum(),
                "n_dropped_by_flag": grouped["n_dropped_by_flag"].sum(),
            }
        ).reset_index()


def daily_mean(series: pd.Series) -> pd.Series:
    """Mean of the valid values of each calendar day.

    Parameters
    ----------
    series : pandas.Series
        Values on a DatetimeIndex (any frequency); NaN is missing.

    Returns
    -------
    pandas.Series
        Float series named ``sm`` on a daily DatetimeIndex named ``date``, holding only the
        days with at least one valid value.
    """
    valid = series.dropna().astype(float)
    means = valid.groupby(valid.index.normalize()).mean()
    means.index.name = "date"
    return means.rename("sm")


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
    unique, inverse = np.unique(np.asarray(flags, dtype=str), return_inverse=True)
    unique_ok = np.array(
        [all(code.strip() in accepted for code in flag.split(separator)) for flag in unique], dtype=bool
    )
    return unique_ok[inverse].reshape(np.shape(flags))


def dropped_table(counts: Mapping[tuple[str, str], int]) -> pd.DataFrame:
    """The ``dropped`` table of a :class:`StationTable` from ``{(network, flag): n}``."""
    rows = [(network, flag, int(n)) for (network, flag), n in sorted(counts.items()) if n > 0]
    return pd.DataFrame(rows, columns=list(DROPPED_COLUMNS)).astype({"n": "int64"})


def meta_table(rows: list[dict[str, object]], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The ``meta`` table of a :class:`StationTable`, columns in the documented order."""
    columns = list(META_COLUMNS) + list(extra_columns)
    meta = pd.DataFrame(rows, columns=columns)
    counts = ["n_raw", "n_kept", "n_dropped_by_flag", "n_days"]
    return meta.astype(dict.fromkeys(counts, "int64"))


@dataclass
class HeaderCsv:
    """A CSV file opened by ``# key: value`` lines, then a header row, then data rows.

    ``header`` and ``header_lines`` map each key (lower case) to its value and line number;
    ``columns`` maps each column name to its raw text values, ``lines`` gives the line number
    of each data row. The methods convert values and raise :class:`SourceError` naming the
    file and the line at fault.
    """

    path: Path
    header: dict[str, str]
    header_lines: dict[str, int]
    columns: dict[str, np.ndarray]
    lines: np.ndarray

    @classmethod
    def read(
        cls, path: Path | str, required_keys: tuple[str, ...], required_columns: tuple[str, ...]
    ) -> HeaderCsv:
        """Read ``path`` and check that the required header keys and columns are present."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SourceError(path, f"cannot read file: {error}") from error
        header: dict[str, str] = {}
        header_lines: dict[str, int] = {}
        names: list[str] | None = None
        rows: list[list[str]] = []
        lines: list[int] = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped:
                continue
            if names is None and stripped.startswith("#"):
                key, sep, value = stripped.lstrip("#").partition(":")
                if not sep or not key.strip():
                    raise SourceError(path, f"line {number}: header line is not '# key: value': {line!r}")
                header[key.strip().lower()] = value.strip()
                header_lines[key.strip().lower()] = number
            elif names is None:
                names = [name.strip() for name in stripped.split(",")]
            else:
                fields = [value.strip() for value in stripped.split(",")]
                if len(fields) != len(names):
                    raise SourceError(
                        path,
                        f"line {number}: {len(fields)} fields, expected {len(names)} ({', '.join(names)})",
                    )
                rows.append(fields)
                lines.append(number)
        missing_keys = [key for key in required_keys if key not in header]
        if missing_keys:
            raise SourceError(path, f"header lacks {', '.join(f'# {key}: ...' for key in missing_keys)}")
        if names is None:
            raise SourceError(path, f"no column header row (expected {', '.join(required_columns)})")
        missing_columns = [name for name in required_columns if name not in names]
        if missing_columns:
            raise SourceError(
                path, f"missing column(s) {', '.join(missing_columns)}; found {', '.join(names)}"
            )
        table = np.array(rows, dtype=str).reshape(len(rows), len(names))
        columns = {name: table[:, i] for i, name in enumerate(names)}
        return cls(path, header, header_lines, columns, np.array(lines, dtype=int))

    def fail(self, line: int, problem: str) -> SourceError:
        """The error to raise for a problem on ``line``."""
        return SourceError(self.path, f"line {line}: {problem}")

    def number(self, key: str) -> float:
        """A header value as a float."""
        try:
            return float(self.header[key])
        except ValueError:
            raise self.fail(
                self.header_lines[key], f"'{key}' is not a number: {self.header[key]!r}"
            ) from None

    def numbers(self, column: str) -> np.ndarray:
        """A column as floats; empty fields and ``NaN`` are missing (NaN)."""
        raw = self.columns[column]
        values = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=float)
        missing = np.isin(np.char.lower(raw), ["", "nan"])
        bad = np.flatnonzero(np.isnan(values) & ~missing)
        if bad.size:
            first = bad[0]
            raise self.fail(int(self.lines[first]), f"column {column}: not a number: {raw[first]!r}")
        return values

    def dates(self, column: str) -> pd.DatetimeIndex:
        """A column of ``YYYY-MM-DD`` dates; every row must hold one, each date only once."""
        raw = self.columns[column]
        dates = pd.DatetimeIndex(pd.to_datetime(pd.Series(raw), format="%Y-%m-%d", errors="coerce"))
        bad = np.flatnonzero(dates.isna())
        if bad.size:
            first = bad[0]
            raise self.fail(int(self.lines[first]), f"column {column}: not a YYYY-MM-DD date: {raw[first]!r}")
        repeated = np.flatnonzero(dates.duplicated())
        if repeated.size:
            first = repeated[0]
            raise self.fail(int(self.lines[first]), f"column {column}: date {raw[first]} repeated")
        return dates.rename("date")


def format_value(value: float, decimals: int) -> str:
    """A number for a CSV field: fixed decimals, empty when missing."""
    return "" if math.isnan(value) else f"{value:.{decimals}f}"


def check_name(kind: str, name: str, forbidden: str = "") -> None:
    """Refuse an empty name, or one holding whitespace or any character of ``forbidden``."""
    if not name or any(char.isspace() or char in forbidden for char in name):
        raise ValueError(f"{kind} {name!r} must be non-empty, without whitespace or any of {forbidden!r}")


def check_header_value(kind: str, value: str) -> None:
    """Refuse a value that cannot stand on a ``# key: value`` line."""
    if not value.strip() or "\n" in value or "\r" in value:
        raise ValueError(f"{kind} {value!r} must be non-empty and on one line")


def file_stem(*parts: str) -> str:
    """A file-name stem from free-text parts: characters other than letters, digits, '.' and
    '-' become '-', parts are joined by '_'."""
    return "_".join(re.sub(r"[^A-Za-z0-9.-]", "-", part) for part in parts)
