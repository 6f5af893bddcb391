"""SMAP core validation sites (CVS): daily upscaled site averages, one CSV per site and scale.

The SMAP cal/val team publishes, per core site, the in-situ network averaged ("upscaled") to
the 3, 9 and 36 km grid cells; the paper compares the 9 km averages with the 2x2 window of
0.05° cells. The published layout is not fixed, so the project reads one documented layout;
convert other files to it. All files in one folder, any name ending in ``.csv``::

    # site: Little Washita
    # site_id: 1601
    # latitude: 34.9603
    # longitude: -97.9761
    # scale_km: 9
    date,sm_upscaled,n_sensors
    2016-01-01,0.2513,14
    2016-01-02,,0

* Header keys (``# key: value``, case-insensitive, any order): ``site`` (name), ``site_id``,
  ``latitude`` and ``longitude`` of the grid-cell centre (degrees), ``scale_km``.
* Columns (any order, more allowed): ``date`` (YYYY-MM-DD, each once), ``sm_upscaled``
  (m3 m-3, 0..1; an empty field or ``NaN`` is missing) and ``n_sensors`` (in-situ sensors
  in the average that day).

:func:`read_sites` reads the files of one scale into a
:class:`~helpers.sources._stations.StationTable` with network ``SMAP-CVS``, the site name as
station and depth 0-0.05 m; a day is kept when it has a value from at least ``min_sensors``
sensors (days with fewer are counted in ``dropped`` under the flag ``n_sensors<MIN``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.errors import SourceError
from helpers.io import atomic_path
from helpers.sources._stations import (
    HeaderCsv,
    StationTable,
    check_header_value,
    dropped_table,
    file_stem,
    format_value,
    meta_table,
)

NETWORK = "SMAP-CVS"
HEADER_KEYS = ("site", "site_id", "latitude", "longitude", "scale_km")
COLUMNS = ("date", "sm_upscaled", "n_sensors")
DEPTH_M = (0.0, 0.05)  # the SMAP core sites' surface layer


def write_site(
    directory: Path | str,
    site: str,
    site_id: str | int,
    lat: float,
    lon: float,
    dates: pd.DatetimeIndex,
    sm: Sequence[float] | np.ndarray,
    n_sensors: int | Sequence[int] | np.ndarray,
    scale_km: int = 9,
) -> Path:
    """Write one core site's upscaled daily series (layout in the module docstring).

    Parameters
    ----------
    directory : path
        Folder of the site files.
    site : str
        Site name.
    site_id : str or int
        Site identifier (the SMAP cal/val number).
    lat, lon : float
        Centre of the upscaling grid cell, degrees.
    dates : pandas.DatetimeIndex
        Days, increasing and unique.
    sm : array-like of float
        Upscaled soil moisture, m3 m-3 (NaN = missing).
    n_sensors : int or array-like of int
        Sensors in each day's average (or one number for all days).
    scale_km : int
        Upscaling scale, km (3, 9 or 36 for the published products).

    Returns
    -------
    pathlib.Path
        ``directory/SITEID_SCALEkm.csv``.
    """
    check_header_value("site", site)
    check_header_value("site_id", str(site_id))
    dates = pd.DatetimeIndex(dates)
    if not (dates.is_monotonic_increasing and dates.is_unique):
        raise ValueError("dates must be increasing and unique")
    sm = np.asarray(sm, dtype=float)
    if sm.shape != dates.shape:
        raise ValueError(f"sm has {sm.size} values for {dates.size} dates")
    n_sensors = np.broadcast_to(np.asarray(n_sensors, dtype=int), dates.shape)
    header = [
        f"# site: {site}",
        f"# site_id: {site_id}",
        f"# latitude: {lat:.5f}",
        f"# longitude: {lon:.5f}",
        f"# scale_km: {scale_km:g}",
        ",".join(COLUMNS),
    ]
    rows = [
        f"{day},{format_value(value, 4)},{count}"
        for day, value, count in zip(dates.strftime("%Y-%m-%d"), sm, n_sensors, strict=True)
    ]
    path = Path(directory) / f"{file_stem(str(site_id), f'{scale_km:g}km')}.csv"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(header + rows) + "\n", encoding="utf-8")
    return path


def read_sites(directory: Path | str, scale_km: float = 9, min_sensors: int = 1) -> StationTable:
    """Read the core-site files of one upscaling scale.

    Parameters
    ----------
    directory : path
        Folder holding the site ``.csv`` files (any scales).
    scale_km : float
        Scale to read; files of other scales are skipped.
    min_sensors : int
        Fewest sensors a day's average needs to be kept.

    Returns
    -------
    StationTable
        One station per site; ``meta`` adds ``site_id``, ``scale_km`` and
        ``median_n_sensors`` (over the kept days).

    Raises
    ------
    SourceError
        If the folder is missing or holds no site file of this scale, or a file breaks the
        layout (the message names the file and, where it applies, the line).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError(directory, "no such folder (expected SMAP core-site CSV files)")
    files = sorted(directory.glob("*.csv"))
    if not files:
        raise SourceError(directory, "no SMAP core-site .csv file: an empty folder")
    rows: list[dict[str, object]] = []
    data: dict[tuple[str, str], pd.Series] = {}
    dropped: Counter[tuple[str, str]] = Counter()
    scales_found: set[float] = set()
    sources: dict[str, Path] = {}
    for path in files:
        csv = HeaderCsv.read(path, HEADER_KEYS, COLUMNS)
        scale = csv.number("scale_km")
        scales_found.add(scale)
        if scale != scale_km:
            continue
        site = csv.header["site"]
        if site in sources:
            raise SourceError(path, f"site {site!r} at {scale_km:g} km already read from {sources[site]}")
        sources[site] = path
        dates = csv.dates("date")
        sm = csv.numbers("sm_upscaled")
        outside = np.flatnonzero((sm < 0) | (sm > 1))
        if outside.size:
            first = outside[0]
            raise csv.fail(int(csv.lines[first]), f"sm_upscaled {sm[first]} outside 0..1 m3 m-3")
        sensors = csv.numbers("n_sensors")
        has_value = ~np.isnan(sm)
        keep = has_value & (sensors >= min_sensors)
        dropped[(NETWORK, f"n_sensors<{min_sensors}")] += int((has_value & ~keep).sum())
        series = pd.Series(sm[keep], index=dates[keep], name="sm")
        if len(series):
            data[(NETWORK, site)] = series
        rows.append(
            {
                "network": NETWORK,
                "station": site,
                "lat": csv.number("latitude"),
                "lon": csv.number("longitude"),
                "elevation_m": float("nan"),
                "depth_from": DEPTH_M[0],
                "depth_to": DEPTH_M[1],
                "sensor": f"upscaled {scale_km:g} km",
                "n_raw": int(has_value.sum()),
                "n_kept": int(keep.sum()),
                "n_dropped_by_flag": int((has_value & ~keep).sum()),
                "n_days": len(series),
                "site_id": csv.header["site_id"],
                "scale_km": scale,
                "median_n_sensors": float(np.median(sensors[keep])) if keep.any() else float("nan"),
            }
        )
    if not rows:
        found = ", ".join(f"{scale:g}" for scale in sorted(scales_found))
        raise SourceError(directory, f"no SMAP core-site file at {scale_km:g} km (scales found: {found} km)")
    return StationTable(
        meta=meta_table(rows, ("site_id", "scale_km", "median_n_sensors")),
        data=data,
        dropped=dropped_table(dropped),
    )
