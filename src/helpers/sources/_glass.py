"""What the GLASS AVHRR HDF4 products (albedo, LST) share: file names and reading a period.

Names look like ``GLASS02B05.V04.A1998009.2019001.hdf``: product code, version, acquisition
year and day of year, production year and day of year. When one acquisition date has several
files (reprocessings), the latest production wins.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helpers.grid import Grid
from helpers.sources import _hdf4
from helpers.sources._files import date_from_doy, no_files_error, require_directory, time_coordinate

NAME = re.compile(
    r"^GLASS(?P<product>\d{2}[A-Z]\d{2})\.V(?P<version>\d{2})\.A(?P<year>\d{4})(?P<doy>\d{3})"
    r"\.(?P<production>\d{7})\.hdf$"
)


def file_name(product: str, version: str, date: dt.date, production: str) -> str:
    """``GLASS{product}.V{version}.A{YYYYDDD}.{production}.hdf``."""
    return f"GLASS{product}.V{version}.A{date:%Y%j}.{production}.hdf"


def find_files(
    directory: Path | str, product: str, start: dt.date, end: dt.date, label: str, example: str
) -> dict[dt.date, Path]:
    """Files of ``product`` acquired in ``start..end`` (inclusive), by date; others are ignored."""
    directory = require_directory(directory, label, example)
    found: dict[dt.date, tuple[str, Path]] = {}
    for path in directory.iterdir():
        match = NAME.match(path.name)
        if match is None or match["product"] != product:
            continue
        try:
            date = date_from_doy(match["year"], match["doy"])
        except ValueError:
            continue
        if start <= date <= end and (date not in found or match["production"] > found[date][0]):
            found[date] = (match["production"], path)
    return {date: found[date][1] for date in sorted(found)}


def read_series(
    files: dict[dt.date, Path],
    directory: Path | str,
    grid: Grid,
    period: tuple[dt.date, dt.date],
    names: list[str] | tuple[str, ...],
    label: str,
    example: str,
    check: Callable[[Path, str, dict, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Time coordinate and (time, lat, lon) stacks of SDS ``names`` on ``grid``."""
    if not files:
        raise no_files_error(Path(directory), label, *period, example)
    stacks = {name: np.empty((len(files), *grid.shape), dtype=np.float32) for name in names}
    for index, path in enumerate(files.values()):
        for name, values in _hdf4.read_fields(path, names, grid, check).items():
            stacks[name][index] = values
    return time_coordinate(list(files)), stacks
