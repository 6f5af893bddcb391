"""SMAP core validation sites: NSIDC-0712 in-situ match-up text files, read as NSIDC ships them.

NSIDC-0712 ("SMAP/In Situ Core Validation Site Land Surface Parameters Match-Up Data",
DOI 10.5067/DXAVIXLY18KM) holds, per core site and SMAP reference pixel, the upscaled in-situ
surface (0-5 cm) soil moisture matched to SMAP overpasses.

Layout read and written
-----------------------
::

    ROOT/<release date folder>/NSIDC-0712_<SSSS><RR><PP>_<PRODUCT>_<CRID>_<YYYYMMDD>_<YYYYMMDD>.txt

Facts and their sources (doc: the NSIDC user guide; code: fkwai/MatlabScripts readers
``dataset/readSMAPval_script.m`` and ``rnnSMAP/Longterm/*``; open: not found, a parameter):

* File names as above: ``SSSS`` the 4-digit site ID, ``RR`` the grid of the reference pixel
  (36, 09 or 03 km), ``PP`` the pixel number, ``PRODUCT`` the SMAP product matched (e.g.
  ``SMAPL2SMP``), ``CRID`` the SMAP composite release ID; one folder per release date [code].
  Files are found anywhere below ``ROOT``.
* ASCII, comma separated: line 1 a title, line 2 the column names, starting
  ``Yr, Mo, Day, Hr, Min`` (UTC); the readers disagree on where the data start, so the first
  line whose first field is a number is taken as the first record [code].
* The column of the upscaled in-situ soil moisture is [open]: ``column`` (default ``WASM``,
  the column one reader takes [code]); values below ``missing_below`` (default 0: negative
  values are fill) are missing [open; the cal/val team's per-station files use negatives
  [code]]. The user guide lists ``SM-1`` (the SMAP retrieval) and ``Q-FLG-1`` [doc]; the
  rest of the column table is [open].
* The files do not carry the sites' positions [code: the readers join a separate site
  list]. :data:`CORE_SITES` lists the core sites with the approximate centres published by the
  SMAP cal/val team; its site IDs are those found in public code (0401 Reynolds Creek, 0901
  Carman, 1601 Walnut Gulch, 1602 Little Washita, 1603 Fort Cobb, 1604 Little River, 1606
  St. Josephs, 1607 South Fork, 4801 TxSON [code]); the IDs of the other sites are [open] and
  blank. A ``sites.csv`` (``site_id, site, latitude, longitude``) in ``ROOT`` replaces the list
  (the twin world writes one, giving the open sites IDs of the form ``90NN``).

Reading: the files of one ``product`` and grid (``scale_km``) are read; a site with several
reference pixels or files has them averaged record by record; a day's value is the mean of
its records (UTC days, or local solar days with ``day_boundary``), so one overpass suffices
(``min_records``, default 1). :func:`read_sites` returns network ``SMAP-CVS`` with the site
name as station, depth 0-0.05 m, and ``site_id`` and ``scale_km`` in ``meta``. A file whose
name or columns break the layout, or whose site is not in the site list, is a row of
``skipped``.
"""

from __future__ import annotations

import re
from collections import Counter
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
    format_column,
    record_counts,
    record_days,
    record_interval_hours,
    records_needed,
)

NETWORK = "SMAP-CVS"
DEPTH_M = (0.0, 0.05)
TIME_COLUMNS = ("Yr", "Mo", "Day", "Hr", "Min")
DEFAULT_COLUMN = "WASM"
SITES_FILE = "sites.csv"
NAME_PATTERN = re.compile(
    r"NSIDC-0712_(?P<site>\d{4})(?P<grid>\d{2})(?P<pixel>\d{2})_(?P<product>[A-Za-z0-9]+)_(?P<crid>[A-Za-z0-9]+)"
    r"_(?P<start>\d{8})_(?P<end>\d{8})\.txt",
    re.IGNORECASE,
)
#: SMAP core validation sites: (name, approximate centre latitude, longitude, site ID or "").
CORE_SITES = (
    ("Reynolds Creek", 43.19, -116.75, "0401"),
    ("Carman", 49.60, -98.01, "0901"),
    ("Walnut Gulch", 31.72, -110.05, "1601"),
    ("Little Washita", 34.90, -98.07, "1602"),
    ("Fort Cobb", 35.38, -98.57, "1603"),
    ("Little River", 31.60, -83.65, "1604"),
    ("St Josephs", 41.45, -85.00, "1606"),
    ("South Fork", 42.42, -93.50, "1607"),
    ("TxSON", 30.35, -98.75, "4801"),
    ("Kenaston", 51.40, -106.45, ""),
    ("Yanco", -34.86, 146.11, ""),
    ("Kyeamba", -35.35, 147.55, ""),
    ("REMEDHUS", 41.30, -5.40, ""),
    ("Valencia", 39.55, -1.25, ""),
    ("Twente", 52.27, 6.77, ""),
    ("HOBE", 55.95, 9.15, ""),
    ("Niger", 13.55, 2.65, ""),
    ("Benin", 9.75, 1.65, ""),
    ("Monte Buey", -32.93, -62.47, ""),
    ("Tonzi Ranch", 38.43, -120.97, ""),
)


def core_sites() -> pd.DataFrame:
    """:data:`CORE_SITES` as a site list (``site_id, site, latitude, longitude``)."""
    return pd.DataFrame(CORE_SITES, columns=["site", "latitude", "longitude", "site_id"])[
        ["site_id", "site", "latitude", "longitude"]
    ]


def file_name(site_id: str, scale_km: int, pixel: int, product: str, crid: str, start, end) -> str:
    """``NSIDC-0712_<SSSS><RR><PP>_<PRODUCT>_<CRID>_<start>_<end>.txt``."""
    if not re.fullmatch(r"\d{4}", site_id):
        raise ValueError(f"site_id must be 4 digits, got {site_id!r}")
    return (
        f"NSIDC-0712_{site_id}{scale_km:02d}{pixel:02d}_{product}_{crid}"
        f"_{pd.Timestamp(start):%Y%m%d}_{pd.Timestamp(end):%Y%m%d}.txt"
    )


def write_sites(root: Path | str, sites: pd.DataFrame) -> Path:
    """Write the site list ``ROOT/sites.csv`` (``site_id, site, latitude, longitude``)."""
    path = Path(root) / SITES_FILE
    with atomic_path(path) as tmp:
        sites[["site_id", "site", "latitude", "longitude"]].to_csv(tmp, index=False)
    return path


def write_matchups(
    root: Path | str,
    release: str,
    site_id: str,
    times: pd.DatetimeIndex,
    insitu: np.ndarray,
    smap: np.ndarray,
    scale_km: int = 9,
    pixel: int = 1,
    product: str = "SMAPL2SMP",
    crid: str = "T16500",
    column: str = DEFAULT_COLUMN,
) -> Path:
    """Write one site's match-up file (missing values as -9999).

    Parameters
    ----------
    root : path
        Product folder; the file goes to ``root/release/``.
    release : str
        Release-date folder name, e.g. ``2018.10.01``.
    site_id : str
        4-digit site ID.
    times : pandas.DatetimeIndex
        UTC times of the match-ups (overpasses).
    insitu : numpy.ndarray
        Upscaled in-situ soil moisture, m3 m-3.
    smap : numpy.ndarray
        The matched SMAP retrieval ``SM-1``, m3 m-3.
    """
    times = pd.DatetimeIndex(times)
    name = file_name(site_id, scale_km, pixel, product, crid, times[0], times[-1])
    columns = [*TIME_COLUMNS, column, "SM-1", "Q-FLG-1"]
    body = pd.DataFrame(
        {
            "Yr": times.year,
            "Mo": times.month,
            "Day": times.day,
            "Hr": times.hour,
            "Min": times.minute,
            column: format_column(insitu, 4, "-9999"),
            "SM-1": format_column(smap, 4, "-9999"),
            "Q-FLG-1": np.where(np.isfinite(smap), 0, 1),
        }
    )
    title = f"SMAP core validation site {site_id}, {scale_km} km reference pixel {pixel:02d}, {product} {crid}"
    path = Path(root) / release / name
    with atomic_path(path) as tmp:
        lines = [title, ", ".join(columns), *(",".join(map(str, row)) for row in body.itertuples(index=False))]
        tmp.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def read_sites(
    root: Path | str,
    scale_km: int = 9,
    product: str = "SMAPL2SMP",
    column: str = DEFAULT_COLUMN,
    missing_below: float = 0.0,
    min_records: int = 1,
    day_boundary: DayBoundary = "utc",
    sites: pd.DataFrame | None = None,
) -> StationTable:
    """Daily upscaled in-situ soil moisture of the core sites at one reference-pixel grid.

    Parameters
    ----------
    root : path
        Folder of the product (release-date folders below it).
    scale_km : int
        Reference-pixel grid read (9 for the paper's comparison); other grids are ignored.
    product : str
        SMAP product whose match-up files are read.
    column : str
        Column of the upscaled in-situ value.
    missing_below : float
        Values below it are missing.
    min_records : int
        Records (hourly terms) a day needs.
    day_boundary : {"utc", "local_solar"}
    sites : pandas.DataFrame, optional
        Site list (default: ``ROOT/sites.csv`` when present, else :func:`core_sites`).

    Returns
    -------
    StationTable

    Raises
    ------
    SourceError
        If the folder is missing or holds no match-up file of this product and grid.
    """
    root = Path(root)
    if not root.is_dir():
        raise SourceError(root, "no such folder (expected NSIDC-0712 match-up files)")
    site_list = _site_list(root, sites)
    candidates = sorted(root.rglob("NSIDC-0712_*.txt"))
    skipped: list[tuple[str, str, str]] = []
    by_site: dict[str, list[tuple[Path, dict[str, str]]]] = {}
    for path in candidates:
        match = NAME_PATTERN.fullmatch(path.name)
        if match is None:
            skipped.append((NETWORK, path.name, f"{path}: name does not follow the NSIDC-0712 pattern"))
            continue
        parts = match.groupdict()
        if int(parts["grid"]) != scale_km or parts["product"].upper() != product.upper():
            continue
        by_site.setdefault(parts["site"], []).append((path, parts))
    if not by_site:
        raise SourceError(root, f"no NSIDC-0712 file of product {product} at {scale_km} km")

    rows: list[dict[str, object]] = []
    daily: dict[tuple[str, str], pd.DataFrame] = {}
    dropped: Counter[tuple[str, str]] = Counter()
    for site_id, files in sorted(by_site.items()):
        if site_id not in site_list.index:
            skipped.append((NETWORK, site_id, f"site {site_id} is not in the site list (no position)"))
            continue
        site = site_list.loc[site_id]
        try:
            records = pd.concat([_read_file(path, column) for path, _ in files])
        except SourceError as error:
            skipped.append((NETWORK, str(site["site"]), str(error)))
            continue
        records = records.groupby(level=0).mean()  # several pixels or files: averaged per time
        values = records.to_numpy(dtype=float)
        missing = values < missing_below
        dropped[(NETWORK, f"below {missing_below:g}")] += int(missing.sum())
        values = np.where(missing, np.nan, values)
        has_value = np.isfinite(values)
        times = pd.DatetimeIndex(records.index)
        days = record_days(times, float(site["longitude"]), day_boundary)
        needed = records_needed(min_records, record_interval_hours(times[has_value]))
        site_daily = daily_means(days, values, has_value, needed)
        daily[(NETWORK, str(site["site"]))] = site_daily
        rows.append(
            {
                "network": NETWORK,
                "station": str(site["site"]),
                "lat": float(site["latitude"]),
                "lon": float(site["longitude"]),
                "elevation_m": np.nan,
                "depth_from": DEPTH_M[0],
                "depth_to": DEPTH_M[1],
                "sensor": f"upscaled {scale_km} km ({len(files)} file(s))",
                **record_counts(has_value, has_value),
                **day_counts(site_daily),
                "site_id": site_id,
                "scale_km": scale_km,
            }
        )
    return StationTable.from_records(rows, ("site_id", "scale_km"), daily, dropped, skipped)


def _site_list(root: Path, sites: pd.DataFrame | None) -> pd.DataFrame:
    if sites is None:
        path = root / SITES_FILE
        if path.is_file():
            try:
                sites = pd.read_csv(path, dtype={"site_id": str})
            except (OSError, pd.errors.ParserError) as error:
                raise SourceError(path, f"not a readable site list: {error}") from error
            missing = [c for c in ("site_id", "site", "latitude", "longitude") if c not in sites]
            if missing:
                raise SourceError(path, f"site list lacks column(s) {', '.join(missing)}")
        else:
            sites = core_sites()
    sites = sites[sites["site_id"].fillna("").astype(str).str.len() > 0].copy()
    sites["site_id"] = sites["site_id"].astype(str).str.zfill(4)
    return sites.set_index("site_id")


def _read_file(path: Path, column: str) -> pd.Series:
    """The in-situ column of one match-up file on its UTC times."""
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as error:
        raise SourceError(path, f"cannot read: {error}") from error
    if len(lines) < 2:
        raise SourceError(path, "fewer than two lines (expected a title and the column names)")
    names = [name.strip() for name in lines[1].split(",")]
    missing = [name for name in (*TIME_COLUMNS, column) if name not in names]
    if missing:
        raise SourceError(path, f"line 2: missing column(s) {', '.join(missing)}; found {', '.join(names)}")
    first = next(
        (k for k, line in enumerate(lines[2:], start=2) if re.match(r"\s*-?\d", line.split(",")[0] or "")), None
    )
    if first is None:
        return pd.Series(dtype=float)
    rows = [line.split(",") for line in lines[first:] if line.strip()]
    bad = next((k for k, row in enumerate(rows) if len(row) != len(names)), None)
    if bad is not None:
        raise SourceError(path, f"line {first + bad + 1}: {len(rows[bad])} fields, expected {len(names)}")
    table = pd.DataFrame(rows, columns=names).apply(pd.to_numeric, errors="coerce")
    stamp = pd.to_datetime(
        {"year": table["Yr"], "month": table["Mo"], "day": table["Day"], "hour": table["Hr"], "minute": table["Min"]},
        errors="coerce",
    )
    if stamp.isna().any():
        raise SourceError(path, f"line {first + int(np.flatnonzero(stamp.isna())[0]) + 1}: not a valid time")
    return pd.Series(table[column].to_numpy(dtype=float), index=pd.DatetimeIndex(stamp))
