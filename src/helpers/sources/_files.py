"""File-system and value checks shared by the gridded readers (private)."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.errors import SourceError

FRACTION_UNITS = ("m**3 m**-3", "m3 m-3", "m3/m3", "m^3 m^-3", "m3 m**-3")


def require_directory(directory: Path | str, product: str, example: str) -> Path:
    """``directory`` as a Path; SourceError if it does not exist."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError(directory, f"{product} directory not found; expected files like {example} in it")
    return directory


def no_files_error(directory: Path, product: str, start: dt.date, end: dt.date, example: str) -> SourceError:
    """The error raised when a period has no files at all."""
    return SourceError(
        directory,
        f"no {product} files between {start} and {end} under {directory}; expected names like {example}",
    )


def time_coordinate(dates: list[dt.date]) -> np.ndarray:
    """Dates as a datetime64[ns] coordinate."""
    return np.array(dates, dtype="datetime64[D]").astype("datetime64[ns]")


def date_from_doy(year: str | int, doy: str | int) -> dt.date:
    """The date of day-of-year ``doy`` (1-based) in ``year``."""
    return dt.date(int(year), 1, 1) + dt.timedelta(days=int(doy) - 1)


def check_fraction_units(path: Path, units: str | None, variable: str) -> None:
    """SourceError unless ``units`` (when present) denotes a volumetric fraction."""
    if units is None:
        return
    normalized = units.strip()
    if normalized in FRACTION_UNITS:
        return
    got = "percent" if "%" in normalized or "percent" in normalized.lower() else f"units {units!r}"
    raise SourceError(path, f"{variable}: expected m**3 m**-3, got {got}")


def check_fraction_values(
    path: Path, values: np.ndarray, variable: str, expected: str = "volumetric fraction m3 m-3"
) -> None:
    """SourceError if valid values leave 0..1 (a volumetric fraction)."""
    valid = values[np.isfinite(values)]
    if valid.size == 0:
        return
    high, low = float(valid.max()), float(valid.min())
    if high > 1.0 + 1e-6:
        raise SourceError(path, f"{variable}: expected {expected}, got values up to {high:g}: percent?")
    if low < -1e-6:
        raise SourceError(path, f"{variable}: expected {expected} (0..1), got values down to {low:g}")


# --- file patterns ---------------------------------------------------------------------------

#: Placeholders a file pattern may hold, and the digits each stands for.
PLACEHOLDERS = {"year": 4, "month": 2, "day": 2, "doy": 3}


@dataclass(frozen=True)
class FilePattern:
    """Where a product's files lie under its folder: a glob with date placeholders.

    ``text`` is a glob relative to the product folder (``**/`` for any depth of subfolders,
    ``*`` and ``?`` within one name) that may hold the placeholders ``{year}``, ``{month}``,
    ``{day}`` and ``{doy}`` (day of year), each standing for that many digits, e.g.
    ``**/GLASS08B31.V40.A{year}{doy}*.hdf`` or ``{year}/ESACCI-*-{year}{month}{day}000000-fv*.nc``.
    A file matches when its path relative to the folder matches the whole pattern; the
    placeholders give its date (a day with ``doy`` or ``month`` and ``day``, else a year).
    """

    text: str

    def __post_init__(self) -> None:
        for name in re.findall(r"\{([^}]*)\}", self.text):
            if name not in PLACEHOLDERS:
                raise ValueError(
                    f"file pattern {self.text!r}: unknown placeholder {{{name}}}; expected some of"
                    f" {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
                )
        if self.text.startswith("/") or ".." in Path(self.text).parts:
            raise ValueError(f"file pattern {self.text!r}: must be relative to the product folder")

    @property
    def glob(self) -> str:
        """The pattern as a :meth:`pathlib.Path.glob` glob (placeholders as digit classes)."""
        text = self.text
        for name, digits in PLACEHOLDERS.items():
            text = text.replace("{" + name + "}", "[0-9]" * digits)
        return text

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        """A regular expression for whole relative paths, with a named group per placeholder."""
        out, i, seen = [], 0, set()
        text = self.text
        while i < len(text):
            if text.startswith("**/", i):
                out.append(r"(?:[^/]+/)*")
                i += 3
            elif text[i] == "{":
                name = text[i + 1 : text.index("}", i)]
                group = f"(?P={name})" if name in seen else f"(?P<{name}>\\d{{{PLACEHOLDERS[name]}}})"
                seen.add(name)
                out.append(group)
                i += len(name) + 2
            elif text[i] == "*":
                out.append(r"[^/]*")
                i += 1
            elif text[i] == "?":
                out.append(r"[^/]")
                i += 1
            elif text[i] == "[":
                close = text.index("]", i)
                out.append(text[i : close + 1].replace("[!", "[^"))
                i = close + 1
            else:
                out.append(re.escape(text[i]))
                i += 1
        return re.compile("".join(out))

    @property
    def has_date(self) -> bool:
        return "{year}" in self.text

    def date_of(self, fields: dict[str, str]) -> dt.date | int | None:
        """The day (or, with ``{year}`` only, the year) that a match's fields name; None if invalid."""
        if "year" not in fields:
            return None
        try:
            if "doy" in fields:
                if not 1 <= int(fields["doy"]) <= (366 if calendar.isleap(int(fields["year"])) else 365):
                    return None
                return date_from_doy(fields["year"], fields["doy"])
            if "month" in fields and "day" in fields:
                return dt.date(int(fields["year"]), int(fields["month"]), int(fields["day"]))
        except ValueError:
            return None
        return int(fields["year"])


def _tree_signature(directory: Path) -> tuple:
    """Modification times of ``directory`` and every folder under it (changes when files come or go)."""
    stamps = []
    stack = [directory]
    while stack:
        folder = stack.pop()
        try:
            stamps.append((str(folder), folder.stat().st_mtime_ns))
            stack.extend(entry for entry in folder.iterdir() if entry.is_dir())
        except OSError:
            continue
    return tuple(sorted(stamps))


@functools.lru_cache(maxsize=64)
def _matches_cached(directory: Path, pattern: FilePattern, signature: tuple) -> tuple[tuple[Path, tuple], ...]:
    out = []
    for path in sorted(directory.glob(pattern.glob)):
        if not path.is_file():
            continue
        match = pattern.regex.fullmatch(path.relative_to(directory).as_posix())
        if match is not None:
            out.append((path, tuple(sorted(match.groupdict().items()))))
    return tuple(out)


def matching_files(directory: Path, pattern: FilePattern | str) -> list[tuple[Path, dict[str, str]]]:
    """Files under ``directory`` matching ``pattern``, sorted by path, with their placeholder fields.

    The listing is cached until a folder under ``directory`` changes (files added or removed),
    so readers called tile by tile do not walk a large archive again each time.
    """
    pattern = FilePattern(pattern) if isinstance(pattern, str) else pattern
    directory = Path(directory)
    found = _matches_cached(directory, pattern, _tree_signature(directory))
    return [(path, dict(fields)) for path, fields in found]


def dated_files(
    directory: Path, pattern: FilePattern | str, start: dt.date, end: dt.date
) -> dict[dt.date | int, list[Path]]:
    """Files whose date (or year) lies in ``start..end``, by date, each with every file of that date.

    Several files for one date (tiles, reprocessings, a copy in two folders) are all returned,
    sorted by name; what that means is the reader's decision. Files whose placeholders do not
    form a valid date are ignored.
    """
    pattern = FilePattern(pattern) if isinstance(pattern, str) else pattern
    if not pattern.has_date:
        raise ValueError(f"file pattern {pattern.text!r} has no {{year}} placeholder")
    found: dict[dt.date | int, list[Path]] = {}
    for path, fields in matching_files(directory, pattern):
        date = pattern.date_of(fields)
        if date is None:
            continue
        in_period = start.year <= date <= end.year if isinstance(date, int) else start <= date <= end
        if in_period:
            found.setdefault(date, []).append(path)
    return {date: sorted(paths, key=lambda p: p.name) for date, paths in sorted(found.items())}


def missing_days(found: list[dt.date], start: dt.date, end: dt.date) -> list[dt.date]:
    """Days of ``start..end`` not in ``found``."""
    have = set(found)
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)
            if start + dt.timedelta(days=k) not in have]


def describe_days(days: list[dt.date], limit: int = 6) -> str:
    """Days as compact runs, e.g. ``2001-01-02..2001-01-05, 2001-03-01 (5 days)``."""
    if not days:
        return "none"
    runs: list[list[dt.date]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [f"{r[0]}" if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs]
    shown = ", ".join(parts[:limit]) + (f", ... ({len(runs) - limit} more runs)" if len(runs) > limit else "")
    return f"{shown} ({len(days)} day{'s' if len(days) != 1 else ''})"
