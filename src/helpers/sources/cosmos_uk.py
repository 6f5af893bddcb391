"""COSMOS-UK (UKCEH, data at the NERC EIDC): daily cosmic-ray soil moisture as UKCEH ships it.

Layout read and written
-----------------------
One folder holding, per site, the daily data file and (releases 2013-2022 on) its flags, and
one site-metadata file::

    ROOT/COSMOS-UK_<SITE_ID>_HydroSoil_Daily_<YEAR_OPENED>-<END>.csv
    ROOT/COSMOS-UK_<SITE_ID>_HydroSoil_Daily_<YEAR_OPENED>-<END>_Flags.csv
    ROOT/COSMOS-UK_SiteMetadata_<START>-<END>.csv

Facts and their sources (doc: the EIDC supporting documentation, as summarised in
NERC-Digital-Solutions-Hub/dsh-metadata; code: public readers; open: not found, a parameter):

* File names as above [doc]; the 2013-2025 release writes them in lower case, so names are
  matched without regard to case [code].
* CSV with one header row; missing values are ``-9999`` [doc; code: readers pass
  ``na_values=-9999``]. Some copies may carry a row of units under the header [open]: a first
  row whose ``DATE_TIME`` is not a date is skipped.
* ``DATE_TIME``: daily rows are stamped 00:00 GMT at the start of the day [doc].
* ``COSMOS_VWC``: the daily mean volumetric water content of the cosmic-ray probe, in **%**
  [doc; code]; ``D86_75M``: the probe's effective sensing depth [code], whose unit is [open]
  (``d86_units``, default cm). ``SITE_ID`` repeats the site [doc]. Other columns (PE, SWE,
  SNOW, ALBEDO, meteorology) are not read.
* Flags file: ``<VAR>_FLAG`` columns with the states Missing, Unchecked, Infilled and
  Estimated; infilled values carry ``I`` [doc]; the letters of the other states are [open].
  Days of ``COSMOS_VWC`` whose flag is in ``rejected_flags`` (default ``I``: a value filled in
  by the provider is not a measurement) are dropped and counted.
* Site metadata: ``SITE_NAME``, ``SITE_ID``, ``START_DATE``, ``END_DATE``, ``LAND_COVER``,
  ``LATITUDE``, ``LONGITUDE``, ``SOIL_ORGANIC_CARBON`` [code]; further columns (BNG
  coordinates, altitude, soil) exist [doc] under names that are [open] and are not read.

:func:`read_network` returns a :class:`~helpers.sources._stations.StationTable` of network
``COSMOS-UK`` whose ``daily`` holds ``sm`` (m3 m-3) and ``depth_cm``; ``meta`` has
``depth_from`` 0 and ``depth_to`` the median sensing depth (m). A site file that cannot be read,
lacks a column or has no row in the site metadata is a row of ``skipped``.
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
    StationTable,
    day_counts,
    format_column,
    record_counts,
)

NETWORK = "COSMOS-UK"
MISSING = -9999
DATA_COLUMNS = ("DATE_TIME", "SITE_ID", "COSMOS_VWC", "D86_75M")
METADATA_COLUMNS = ("SITE_ID", "SITE_NAME", "LATITUDE", "LONGITUDE", "START_DATE", "END_DATE", "LAND_COVER")
FLAG_COLUMN = "COSMOS_VWC_FLAG"
D86_UNITS = {"cm": 1.0, "m": 100.0}  # to cm
SENSOR = "cosmic-ray probe"


def data_file_name(site_id: str, first_year: int, last_year: int, flags: bool = False) -> str:
    """``COSMOS-UK_<SITE_ID>_HydroSoil_Daily_<first>-<last>.csv`` (``_Flags`` before ``.csv``)."""
    return f"COSMOS-UK_{site_id}_HydroSoil_Daily_{first_year}-{last_year}{'_Flags' if flags else ''}.csv"


def write_site(
    directory: Path | str,
    site_id: str,
    dates: pd.DatetimeIndex,
    vwc: Sequence[float] | np.ndarray,
    d86_cm: Sequence[float] | np.ndarray,
    flags: Sequence[str] | None = None,
    last_year: int | None = None,
) -> Path:
    """Write one site's daily file (and its flags file when ``flags`` are given).

    Parameters
    ----------
    directory : path
        The network folder.
    site_id : str
        Five-character site code, e.g. ``ALIC1``.
    dates : pandas.DatetimeIndex
        Days, increasing and unique.
    vwc : array-like of float
        Volumetric soil moisture, **m3 m-3** (written as %; NaN -> -9999).
    d86_cm : array-like of float
        Effective sensing depth, cm (NaN -> -9999).
    flags : sequence of str, optional
        ``COSMOS_VWC_FLAG`` per day (empty string for none), written to the flags file.
    last_year : int, optional
        Last year of the file name (default: the last date's year).

    Returns
    -------
    pathlib.Path
        The data file.
    """
    dates = pd.DatetimeIndex(dates)
    if not (dates.is_monotonic_increasing and dates.is_unique):
        raise ValueError("dates must be increasing and unique")
    vwc, d86 = (np.asarray(v, dtype=float) for v in (vwc, d86_cm))
    if not vwc.shape == d86.shape == dates.shape:
        raise ValueError(f"vwc, d86_cm and dates differ in length: {vwc.size}, {d86.size}, {dates.size}")
    first, last = int(dates[0].year), int(last_year or dates[-1].year)
    stamps = dates.strftime("%Y-%m-%d %H:%M:%S")
    frame = pd.DataFrame(
        {
            "DATE_TIME": stamps,
            "SITE_ID": site_id,
            "COSMOS_VWC": format_column(vwc * 100, 2, str(MISSING)),
            "D86_75M": format_column(d86, 2, str(MISSING)),
        }
    )
    path = Path(directory) / data_file_name(site_id, first, last)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    if flags is not None:
        flag_frame = pd.DataFrame({"DATE_TIME": stamps, "SITE_ID": site_id, FLAG_COLUMN: list(flags)})
        with atomic_path(Path(directory) / data_file_name(site_id, first, last, flags=True)) as tmp:
            flag_frame.to_csv(tmp, index=False)
    return path


def write_site_metadata(directory: Path | str, sites: pd.DataFrame, first_year: int, last_year: int) -> Path:
    """Write ``COSMOS-UK_SiteMetadata_<first>-<last>.csv`` from a table holding
    :data:`METADATA_COLUMNS` (dates as ``YYYY-MM-DD``)."""
    missing = [column for column in METADATA_COLUMNS if column not in sites]
    if missing:
        raise ValueError(f"site table lacks {missing}")
    path = Path(directory) / f"COSMOS-UK_SiteMetadata_{first_year}-{last_year}.csv"
    with atomic_path(path) as tmp:
        sites[list(METADATA_COLUMNS)].to_csv(tmp, index=False)
    return path


def read_network(
    directory: Path | str, rejected_flags: Collection[str] = ("I",), d86_units: str = "cm"
) -> StationTable:
    """Read every COSMOS-UK daily site file of a folder.

    Parameters
    ----------
    directory : path
        Folder of the release (layout in the module docstring).
    rejected_flags : collection of str
        ``COSMOS_VWC_FLAG`` states whose days are dropped.
    d86_units : {"cm", "m"}
        Unit of ``D86_75M`` (not stated in the data files).

    Returns
    -------
    StationTable

    Raises
    ------
    SourceError
        If the folder is missing, or holds no site-metadata file or no daily data file.
    """
    directory = Path(directory)
    if d86_units not in D86_UNITS:
        raise ValueError(f"d86_units must be one of {list(D86_UNITS)}, got {d86_units!r}")
    if not directory.is_dir():
        raise SourceError(directory, "no such folder (expected the COSMOS-UK daily files and site metadata)")
    files = {path.name.lower(): path for path in directory.iterdir() if path.suffix.lower() == ".csv"}
    metadata_files = sorted(path for name, path in files.items() if "_sitemetadata_" in name)
    data_files = sorted(
        path
        for name, path in files.items()
        if "_hydrosoil_daily_" in name and not name.endswith(("_flags.csv", "_metadata.csv"))
    )
    if not metadata_files:
        raise SourceError(directory, "no COSMOS-UK_SiteMetadata_*.csv: the site positions are unknown")
    if not data_files:
        raise SourceError(directory, "no COSMOS-UK_*_HydroSoil_Daily_*.csv data file")
    sites = _read_metadata(metadata_files[-1])
    flag_files = {name.removesuffix("_flags.csv"): path for name, path in files.items() if name.endswith("_flags.csv")}

    rows: list[dict[str, object]] = []
    daily: dict[tuple[str, str], pd.DataFrame] = {}
    dropped: Counter[tuple[str, str]] = Counter()
    skipped: list[tuple[str, str, str]] = []
    for path in data_files:
        site_id = path.name.split("_")[1].upper()
        try:
            frame = _read_daily(path, d86_units)
            flags = _read_flags(flag_files.get(path.name.lower().removesuffix(".csv")), frame.index)
        except SourceError as error:
            skipped.append((NETWORK, site_id, str(error)))
            continue
        if site_id not in sites.index:
            skipped.append((NETWORK, site_id, f"{path.name}: no row for {site_id} in the site metadata"))
            continue
        has_value = frame["sm"].notna()
        out_of_range = has_value & ~frame["sm"].between(0, 1)
        rejected = has_value & flags.isin(list(rejected_flags)) & ~out_of_range
        for flag, count in Counter(flags[rejected]).items():
            dropped[(NETWORK, str(flag))] += count
        dropped[(NETWORK, "outside 0-100 %")] += int(out_of_range.sum())
        keep = has_value & ~rejected & ~out_of_range
        site_daily = pd.DataFrame({"sm": frame["sm"].where(keep), "depth_cm": frame["depth_cm"].where(keep)})
        site_daily = site_daily[has_value]
        daily[(NETWORK, site_id)] = site_daily
        site = sites.loc[site_id]
        rows.append(
            {
                "network": NETWORK,
                "station": site_id,
                "lat": float(site["LATITUDE"]),
                "lon": float(site["LONGITUDE"]),
                "elevation_m": np.nan,
                "depth_from": 0.0,
                "depth_to": float(site_daily["depth_cm"].median()) / 100,
                "sensor": SENSOR,
                **record_counts(has_value, keep),
                **day_counts(site_daily),
                "site_name": str(site["SITE_NAME"]),
                "land_cover": str(site["LAND_COVER"]),
            }
        )
    return StationTable.from_records(rows, ("site_name", "land_cover"), daily, dropped, skipped)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, na_values=[MISSING, str(MISSING)], dtype=str, keep_default_na=True)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise SourceError(path, f"not a readable CSV file: {error}") from error


def _read_metadata(path: Path) -> pd.DataFrame:
    table = _read_csv(path)
    table.columns = [column.strip().upper() for column in table.columns]
    missing = [column for column in ("SITE_ID", "SITE_NAME", "LATITUDE", "LONGITUDE") if column not in table]
    if missing:
        raise SourceError(path, f"site metadata lacks column(s) {', '.join(missing)}; found {', '.join(table.columns)}")
    table["SITE_ID"] = table["SITE_ID"].str.strip().str.upper()
    for column in ("LATITUDE", "LONGITUDE"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    bad = table[table[["LATITUDE", "LONGITUDE"]].isna().any(axis=1)]
    if len(bad):
        raise SourceError(path, f"site {bad['SITE_ID'].iloc[0]}: LATITUDE/LONGITUDE is not a number")
    for column in ("LAND_COVER",):
        if column not in table:
            table[column] = ""
    return table.set_index("SITE_ID")


def _dates(path: Path, raw: pd.Series) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Daily dates of ``DATE_TIME`` and which rows hold one (a leading units row does not)."""
    parsed = pd.to_datetime(raw.str.strip(), errors="coerce", format="mixed", dayfirst=False)
    rows = np.asarray(parsed.notna())
    if len(rows) and not rows[0] and rows[1:].all():
        rows[0] = False  # a units row under the header
    elif not rows.all():
        first = int(np.flatnonzero(~rows)[0])
        raise SourceError(path, f"line {first + 2}: DATE_TIME {raw.iloc[first]!r} is not a date")
    dates = pd.DatetimeIndex(parsed[rows]).normalize()
    if dates.has_duplicates:
        raise SourceError(path, f"day {dates[dates.duplicated()][0].date()} appears twice")
    return dates, rows


def _read_daily(path: Path, d86_units: str) -> pd.DataFrame:
    table = _read_csv(path)
    table.columns = [column.strip().upper() for column in table.columns]
    missing = [column for column in ("DATE_TIME", "COSMOS_VWC", "D86_75M") if column not in table]
    if missing:
        raise SourceError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}")
    dates, rows = _dates(path, table["DATE_TIME"])
    table = table[rows]
    vwc = pd.to_numeric(table["COSMOS_VWC"], errors="coerce").to_numpy()
    bad = np.flatnonzero(np.isnan(vwc) & table["COSMOS_VWC"].notna().to_numpy())
    if bad.size:
        raise SourceError(path, f"COSMOS_VWC {table['COSMOS_VWC'].iloc[bad[0]]!r} is not a number")
    depth = pd.to_numeric(table["D86_75M"], errors="coerce").to_numpy() * D86_UNITS[d86_units]
    return pd.DataFrame({"sm": vwc / 100, "depth_cm": depth}, index=dates.rename("date"))


def _read_flags(path: Path | None, dates: pd.DatetimeIndex) -> pd.Series:
    """``COSMOS_VWC_FLAG`` per day ('' without a flags file or flag)."""
    if path is None:
        return pd.Series("", index=dates)
    table = _read_csv(path)
    table.columns = [column.strip().upper() for column in table.columns]
    if "DATE_TIME" not in table or FLAG_COLUMN not in table:
        raise SourceError(path, f"flags file lacks DATE_TIME or {FLAG_COLUMN}")
    flag_dates, rows = _dates(path, table["DATE_TIME"])
    flags = pd.Series(table.loc[rows, FLAG_COLUMN].fillna("").str.strip().to_numpy(), index=flag_dates)
    return flags.reindex(dates).fillna("")

