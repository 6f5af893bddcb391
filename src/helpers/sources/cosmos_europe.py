"""COSMOS-Europe (Bogena et al. 2022, ESSD 14, 1125): hourly cosmic-ray soil moisture as released.

Layout read and written
-----------------------
The TERENO / TEODOOR release (DOI 10.34731/x9s3-kr48), unpacked::

    ROOT/General_ information_rev1.csv
    ROOT/processed_crns_data_and_diagnostics_rev1/<StationID>.csv

Facts and their sources (code: HPSCTerrSys/PDAF_observation-file-generator, mkcrns/cosmos_europe;
open: not found, detected or a parameter):

* The station list is ``General_ information_rev1.csv`` (a space after the underscore),
  latin-1 encoded, headers with surrounding whitespace; the original release (rev 0) drops
  the ``_rev1`` suffixes of the file and the folder [code]. Columns: ``File name`` (the
  station ID, e.g. ``SEC001``), ``Station``, ``Country``, ``Affiliation``, ``Detector Typ``,
  ``Latitude (°)``, ``Longitude (°)``, ``Altitude (m)``, ``Main land use``, ... ,
  ``Time period start``, ``Time period end`` [code].
* A processed station file is hourly, indexed by ``DateTime_utc`` (ISO with a ``+00:00``
  offset) [code], with ``SoilMoisture_volumetric_MovAvg24h`` (m3 m-3, a 24-hour moving
  average) and its ``_std``/``_lower``/``_upper``, ``Footprint_Depth_m`` (the sensing depth,
  a time series), ``Footprint_Radius_m``, neutron counts and the flags ``Flag_Extreme_Counts``,
  ``Flag_AirPressure_ERA5``, ``Flag_AirHumidity_ERA5``, ``Flag_Porosity_Excess``,
  ``Flag_Snow_ERA5`` (0 = ok, 1 = flagged) [code]. The field separator is detected from the
  header line (``,`` or ``;``) [open: the reader code uses pandas' default, a comma]; the
  station files' encoding is [open] and read as latin-1 (ASCII-safe). Missing values are
  empty fields or ``NaN`` (raw files also use ``noData``) [code].

Reading: a record is kept when it has a value and none of ``flag_columns`` (default: every
``Flag_*`` column of the file) is set; records are grouped into UTC or local solar days and a
day needs ``min_records`` kept records (see :mod:`helpers.sources._stations`). ``daily`` holds
``sm``, ``n_records`` and ``depth_cm`` (the day's mean ``Footprint_Depth_m`` in cm);
``meta`` has ``depth_from`` 0 and ``depth_to`` the median depth. A station file that is
missing, unreadable or lacks a column is a row of ``skipped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.errors import SourceError
from helpers.io import atomic_path
from helpers.sources._stations import (
    DayBoundary,
    StationTable,
    daily_means,
    day_counts,
    record_counts,
    record_days,
    record_interval_hours,
    records_needed,
)

NETWORK = "COSMOS-Europe"
ENCODING = "latin-1"
GENERAL_FILES = ("General_ information_rev1.csv", "General_ information.csv")
DATA_FOLDERS = ("processed_crns_data_and_diagnostics_rev1", "processed_crns_data_and_diagnostics")
TIME_COLUMN = "DateTime_utc"
SM_COLUMN = "SoilMoisture_volumetric_MovAvg24h"
DEPTH_COLUMN = "Footprint_Depth_m"
GENERAL_COLUMNS = (
    "File name",
    "Station",
    "Country",
    "Affiliation",
    "Detector Typ",
    "Latitude (°)",
    "Longitude (°)",
    "Altitude (m)",
    "Main land use",
    "Time period start",
    "Time period end",
)
FLAG_COLUMNS = (
    "Flag_Extreme_Counts",
    "Flag_AirPressure_ERA5",
    "Flag_AirHumidity_ERA5",
    "Flag_Porosity_Excess",
    "Flag_Snow_ERA5",
)
SENSOR = "cosmic-ray probe"


def write_general_information(root: Path | str, stations: pd.DataFrame) -> Path:
    """Write ``General_ information_rev1.csv`` (latin-1) from a table of :data:`GENERAL_COLUMNS`."""
    missing = [column for column in GENERAL_COLUMNS if column not in stations]
    if missing:
        raise ValueError(f"station table lacks {missing}")
    path = Path(root) / GENERAL_FILES[0]
    with atomic_path(path) as tmp:
        stations[list(GENERAL_COLUMNS)].to_csv(tmp, index=False, encoding=ENCODING)
    return path


def write_station(
    root: Path | str,
    station_id: str,
    times: pd.DatetimeIndex,
    sm: np.ndarray,
    depth_m: np.ndarray,
    flags: Mapping[str, np.ndarray],
    neutrons: np.ndarray | None = None,
) -> Path:
    """Write one station's processed hourly file.

    Parameters
    ----------
    root : path
        The release folder.
    station_id : str
        e.g. ``SEC001``.
    times : pandas.DatetimeIndex
        Hourly UTC times, increasing and unique.
    sm : numpy.ndarray
        ``SoilMoisture_volumetric_MovAvg24h``, m3 m-3 (NaN: missing).
    depth_m : numpy.ndarray
        ``Footprint_Depth_m``.
    flags : mapping
        Flag column -> 0/1 per record, for columns of :data:`FLAG_COLUMNS`.
    neutrons : numpy.ndarray, optional
        ``NeutronCount_Epithermal_MovAvg24h_corrected`` (counts per hour).
    """
    times = pd.DatetimeIndex(times)
    if not (times.is_monotonic_increasing and times.is_unique):
        raise ValueError("times must be increasing and unique")
    unknown = sorted(set(flags) - set(FLAG_COLUMNS))
    if unknown:
        raise ValueError(f"unknown flag columns {unknown}; known: {list(FLAG_COLUMNS)}")
    stamps = np.char.add(np.datetime_as_string(times.to_numpy().astype("datetime64[s]"), unit="s"), "+00:00")
    counts = np.full(len(times), np.nan) if neutrons is None else np.asarray(neutrons, dtype=float)
    columns = {
        TIME_COLUMN: np.char.replace(stamps, "T", " "),
        "NeutronCount_Epithermal_MovAvg24h_corrected": np.round(counts, 1),
        **{name: np.asarray(flags.get(name, np.zeros(len(times))), dtype=int) for name in FLAG_COLUMNS},
        SM_COLUMN: np.round(np.asarray(sm, dtype=float), 4),
        "Footprint_Depth_m": np.round(np.asarray(depth_m, dtype=float), 3),
    }
    path = Path(root) / DATA_FOLDERS[0] / f"{station_id}.csv"
    with atomic_path(path) as tmp:
        pd.DataFrame(columns).to_csv(tmp, index=False, encoding=ENCODING, na_rep="")
    return path


def read_network(
    root: Path | str,
    min_records: int = 1,
    day_boundary: DayBoundary = "utc",
    flag_columns: Sequence[str] | None = None,
) -> StationTable:
    """Read every station of a COSMOS-Europe release folder.

    Parameters
    ----------
    root : path
        The release folder (layout in the module docstring).
    min_records : int
        Kept hourly records a day needs.
    day_boundary : {"utc", "local_solar"}
        How records are grouped into days.
    flag_columns : sequence of str, optional
        Flag columns that drop a record when set (default: every ``Flag_*`` column).

    Returns
    -------
    StationTable

    Raises
    ------
    SourceError
        If the folder or its station list is missing or lacks the ID and position columns.
    """
    root = Path(root)
    if not root.is_dir():
        raise SourceError(root, "no such folder (expected the COSMOS-Europe release)")
    general = next((root / name for name in GENERAL_FILES if (root / name).is_file()), None)
    if general is None:
        raise SourceError(root, f"no station list ({' or '.join(repr(name) for name in GENERAL_FILES)})")
    data_dir = next((root / name for name in DATA_FOLDERS if (root / name).is_dir()), None)
    if data_dir is None:
        raise SourceError(root, f"no folder of station files ({' or '.join(DATA_FOLDERS)})")
    stations = _read_general(general)

    rows: list[dict[str, object]] = []
    daily: dict[tuple[str, str], pd.DataFrame] = {}
    dropped: Counter[tuple[str, str]] = Counter()
    skipped: list[tuple[str, str, str]] = []
    for station_id, station in stations.iterrows():
        path = data_dir / f"{station_id}.csv"
        try:
            frame = _read_station(path)
        except SourceError as error:
            skipped.append((NETWORK, station_id, str(error)))
            continue
        values = frame[SM_COLUMN].to_numpy(dtype=float)
        has_value = np.isfinite(values)
        applied = [c for c in frame.columns if c.startswith("Flag_")] if flag_columns is None else list(flag_columns)
        absent = [c for c in applied if c not in frame]
        if absent:
            skipped.append((NETWORK, station_id, f"{path}: missing flag column(s) {', '.join(absent)}"))
            continue
        flagged = np.zeros(len(frame), dtype=bool)
        for column in applied:
            hit = has_value & (pd.to_numeric(frame[column], errors="coerce").fillna(0).to_numpy() != 0)
            dropped[(NETWORK, column)] += int((hit & ~flagged).sum())
            flagged |= hit
        keep = has_value & ~flagged
        times = pd.DatetimeIndex(frame.index)
        days = record_days(times, float(station["lon"]), day_boundary)
        interval = record_interval_hours(times[has_value])
        station_daily = daily_means(days, values, keep, records_needed(min_records, interval))
        depth = daily_means(days, frame[DEPTH_COLUMN].to_numpy(dtype=float) * 100, keep, 1)["sm"]
        station_daily["depth_cm"] = depth.reindex(station_daily.index)
        daily[(NETWORK, station_id)] = station_daily
        rows.append(
            {
                "network": NETWORK,
                "station": station_id,
                "lat": float(station["lat"]),
                "lon": float(station["lon"]),
                "elevation_m": float(station["elevation"]),
                "depth_from": 0.0,
                "depth_to": float(station_daily["depth_cm"].median()) / 100,
                "sensor": SENSOR,
                **record_counts(has_value, keep),
                **day_counts(station_daily),
                "site_name": str(station["name"]),
                "record_interval_h": interval,
            }
        )
    return StationTable.from_records(rows, ("site_name", "record_interval_h"), daily, dropped, skipped)


def _read_general(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, encoding=ENCODING, dtype=str, sep=None, engine="python")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SourceError(path, f"not a readable station list: {error}") from error
    table.columns = [column.strip() for column in table.columns]
    needed = ("File name", "Latitude (°)", "Longitude (°)")
    missing = [column for column in needed if column not in table]
    if missing:
        raise SourceError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}")
    out = pd.DataFrame(
        {
            "name": table.get("Station", table["File name"]).str.strip(),
            "lat": pd.to_numeric(table["Latitude (°)"], errors="coerce"),
            "lon": pd.to_numeric(table["Longitude (°)"], errors="coerce"),
            "elevation": pd.to_numeric(table.get("Altitude (m)", pd.Series(np.nan, index=table.index)), errors="coerce"),
        }
    )
    out.index = table["File name"].str.strip()
    bad = out[out[["lat", "lon"]].isna().any(axis=1)]
    if len(bad):
        raise SourceError(path, f"station {bad.index[0]}: latitude/longitude is not a number")
    return out


def _read_station(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise SourceError(path, "station file missing (listed in the station list)")
    try:
        with path.open(encoding=ENCODING) as handle:
            header = handle.readline()
        separator = ";" if header.count(";") > header.count(",") else ","
        frame = pd.read_csv(
            path, sep=separator, encoding=ENCODING, na_values=["noData", "NoData", "NaN", "nan"], low_memory=False
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SourceError(path, f"not a readable CSV file: {error}") from error
    frame.columns = [column.strip() for column in frame.columns]
    missing = [column for column in (TIME_COLUMN, SM_COLUMN, DEPTH_COLUMN) if column not in frame]
    if missing:
        raise SourceError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}")
    times = pd.to_datetime(frame[TIME_COLUMN], errors="coerce", utc=True)
    if times.isna().any():
        first = int(np.flatnonzero(times.isna())[0])
        raise SourceError(path, f"line {first + 2}: {TIME_COLUMN} {frame[TIME_COLUMN].iloc[first]!r} is not a time")
    frame.index = pd.DatetimeIndex(times).tz_localize(None)
    if frame.index.has_duplicates:
        raise SourceError(path, f"time {frame.index[frame.index.duplicated()][0]} appears twice")
    for column in (SM_COLUMN, DEPTH_COLUMN):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame
