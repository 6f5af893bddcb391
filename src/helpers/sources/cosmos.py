"""Cosmic-ray soil moisture networks (COSMOS, COSMOS-Europe, COSMOS-UK): daily station CSVs.

The providers publish different layouts (the exact ones are not fixed), so the project reads
one documented daily layout, close to COSMOS-UK's daily files; convert other files to it.
One file per station, any name ending in ``.csv``, all in one folder::

    # network: COSMOS-UK
    # station: ALIC1
    # latitude: 51.15355
    # longitude: -0.85866
    # elevation: 80.0
    # units: %
    date,sm_volumetric,effective_depth_cm,quality_flag
    2016-01-01,41.23,14.2,G
    2016-01-02,,,M

* Header keys (``# key: value``, case-insensitive, any order): ``network``, ``station``,
  ``latitude`` and ``longitude`` (degrees), ``elevation`` (m), ``units`` of ``sm_volumetric``:
  ``m3 m-3`` or ``%`` (percent is divided by 100 on reading).
* Columns (any order, more allowed): ``date`` (YYYY-MM-DD, each once), ``sm_volumetric``,
  ``effective_depth_cm`` (the day's effective sensing depth, cm) and ``quality_flag`` (``G``
  good, anything else not; several codes joined by ``;``). An empty field or ``NaN`` is
  missing.
* A value outside 0..1 m3 m-3 (0..100 %) is an error naming the file and line.

:func:`read_network` returns a :class:`~helpers.sources._stations.StationTable` whose
``depth_cm`` holds each station's daily effective depth (for the depth box plot) and whose
``meta`` has ``depth_from`` 0 and ``depth_to`` the median effective depth (m), plus
``median_depth_cm``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.errors import SourceError
from helpers.io import atomic_path
from helpers.sources._stations import (
    HeaderCsv,
    StationTable,
    accepted_mask,
    check_header_value,
    dropped_table,
    file_stem,
    format_value,
    meta_table,
)

HEADER_KEYS = ("network", "station", "latitude", "longitude", "elevation", "units")
COLUMNS = ("date", "sm_volumetric", "effective_depth_cm", "quality_flag")
UNIT_SCALES = {"m3 m-3": 1.0, "%": 100.0}  # file value per m3 m-3
SENSOR = "cosmic-ray probe"
FLAG_SEPARATOR = ";"  # between the codes of one flag (the comma separates columns)


def write_station(
    directory: Path | str,
    network: str,
    station: str,
    lat: float,
    lon: float,
    dates: pd.DatetimeIndex,
    sm: Sequence[float] | np.ndarray,
    depth_cm: float | Sequence[float] | np.ndarray,
    flags: str | Sequence[str],
    elevation_m: float = float("nan"),
    units: str = "m3 m-3",
) -> Path:
    """Write one station's daily series as a COSMOS CSV (layout in the module docstring).

    Parameters
    ----------
    directory : path
        Folder of the network files.
    network, station : str
        Names, one line each.
    lat, lon : float
        Station position, degrees.
    dates : pandas.DatetimeIndex
        Days, increasing and unique.
    sm : array-like of float
        Volumetric soil moisture in m3 m-3 (NaN = missing), whatever ``units`` says.
    depth_cm : float or array-like of float
        Effective sensing depth of each day (or one for all), cm.
    flags : str or sequence of str
        Quality flag of each day (or one for all), ``"G"`` for good.
    elevation_m : float
        Station elevation, m.
    units : {"m3 m-3", "%"}
        Units written to the file; ``"%"`` writes ``sm`` times 100.

    Returns
    -------
    pathlib.Path
        ``directory/NETWORK_STATION.csv``.
    """
    check_header_value("network", network)
    check_header_value("station", station)
    if units not in UNIT_SCALES:
        raise ValueError(f"units must be one of {list(UNIT_SCALES)}, got {units!r}")
    dates = pd.DatetimeIndex(dates)
    if not (dates.is_monotonic_increasing and dates.is_unique):
        raise ValueError("dates must be increasing and unique")
    sm = np.asarray(sm, dtype=float)
    depth_cm = np.broadcast_to(np.asarray(depth_cm, dtype=float), dates.shape)
    flags = np.broadcast_to(np.asarray(flags, dtype=str), dates.shape)
    if sm.shape != dates.shape:
        raise ValueError(f"sm has {sm.size} values for {dates.size} dates")
    bad_flags = [flag for flag in np.unique(flags) if "," in flag or "\n" in flag]
    if bad_flags:
        raise ValueError(f"flags must not hold ',' (join codes with ';'), got {bad_flags[:5]}")
    values = sm * UNIT_SCALES[units]
    decimals = 4 if units == "m3 m-3" else 2
    header = [
        f"# network: {network}",
        f"# station: {station}",
        f"# latitude: {lat:.5f}",
        f"# longitude: {lon:.5f}",
        f"# elevation: {elevation_m:.1f}",
        f"# units: {units}",
        ",".join(COLUMNS),
    ]
    rows = [
        f"{day},{format_value(value, decimals)},{format_value(depth, 1)},{flag}"
        for day, value, depth, flag in zip(dates.strftime("%Y-%m-%d"), values, depth_cm, flags, strict=True)
    ]
    path = Path(directory) / f"{file_stem(network, station)}.csv"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(header + rows) + "\n", encoding="utf-8")
    return path


def read_network(directory: Path | str, accepted_flags: Collection[str] = ("G",)) -> StationTable:
    """Read every COSMOS station CSV of a folder.

    Parameters
    ----------
    directory : path
        Folder holding one ``.csv`` per station (layout in the module docstring).
    accepted_flags : collection of str
        Accepted quality codes; a day is kept if every code of its flag is accepted.

    Returns
    -------
    StationTable
        Daily soil moisture (m3 m-3) of the kept days, their effective depths in
        ``depth_cm``, and the records dropped per network and flag.

    Raises
    ------
    SourceError
        If the folder is missing or holds no station file, or a file breaks the layout (the
        message names the file and, where it applies, the line).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError(directory, "no such folder (expected COSMOS station CSV files)")
    files = sorted(directory.glob("*.csv"))
    if not files:
        raise SourceError(directory, "no COSMOS station .csv file: an empty network folder")
    rows: list[dict[str, object]] = []
    data: dict[tuple[str, str], pd.Series] = {}
    depths: dict[tuple[str, str], pd.Series] = {}
    dropped: Counter[tuple[str, str]] = Counter()
    sources: dict[tuple[str, str], Path] = {}
    for path in files:
        csv = HeaderCsv.read(path, HEADER_KEYS, COLUMNS)
        key = (csv.header["network"], csv.header["station"])
        if key in sources:
            raise SourceError(path, f"station {key[0]}/{key[1]} already read from {sources[key]}")
        sources[key] = path
        units = csv.header["units"]
        if units not in UNIT_SCALES:
            raise csv.fail(csv.header_lines["units"], f"units {units!r} not one of {list(UNIT_SCALES)}")
        dates = csv.dates("date")
        sm = _volumetric(csv, units)
        depth = csv.numbers("effective_depth_cm")
        flags = csv.columns["quality_flag"]
        has_value = ~np.isnan(sm)
        keep = has_value & accepted_mask(flags, accepted_flags, separator=FLAG_SEPARATOR)
        for flag, count in Counter(flags[has_value & ~keep]).items():
            dropped[(key[0], str(flag))] += count
        series = pd.Series(sm[keep], index=dates[keep], name="sm")
        day_depths = pd.Series(depth[keep], index=dates[keep], name="effective_depth_cm").dropna()
        if len(series):
            data[key] = series
            depths[key] = day_depths
        median_depth = float(day_depths.median()) if len(day_depths) else float("nan")
        rows.append(
            {
                "network": key[0],
                "station": key[1],
                "lat": csv.number("latitude"),
                "lon": csv.number("longitude"),
                "elevation_m": csv.number("elevation"),
                "depth_from": 0.0,
                "depth_to": median_depth / 100,
                "sensor": SENSOR,
                "n_raw": int(has_value.sum()),
                "n_kept": int(keep.sum()),
                "n_dropped_by_flag": int((has_value & ~keep).sum()),
                "n_days": len(series),
                "median_depth_cm": median_depth,
            }
        )
    return StationTable(
        meta=meta_table(rows, ("median_depth_cm",)),
        data=data,
        dropped=dropped_table(dropped),
        depth_cm=depths,
    )


def _volumetric(csv: HeaderCsv, units: str) -> np.ndarray:
    """``sm_volumetric`` in m3 m-3, checked to lie in the physical range of its units."""
    values = csv.numbers("sm_volumetric")
    scale = UNIT_SCALES[units]
    outside = np.flatnonzero((values < 0) | (values > scale))
    if outside.size:
        first = outside[0]
        raise csv.fail(
            int(csv.lines[first]),
            f"sm_volumetric {values[first]} outside 0..{scale:g} {units}"
            + (" (percent values in a file whose units line says m3 m-3?)" if units == "m3 m-3" else ""),
        )
    return values / scale
