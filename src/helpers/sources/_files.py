"""File-system and value checks shared by the gridded readers (private)."""

from __future__ import annotations

import datetime as dt
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
