"""International Soil Moisture Network (ISMN): write station files in the real layout, read any.

Layout read and written (ISMN "Data separate files", header+values format)
-------------------------------------------------------------------------
As downloaded from https://ismn.earth (a folder, or the .zip holding it)::

    ROOT/NETWORK/STATION/NETWORK_NETWORK_STATION_sm_0.000000_0.050000_SENSOR_20170810_20180809.stm
    ROOT/NETWORK/STATION/NETWORK_NETWORK_STATION_static_variables.csv

* One ``.stm`` file per sensor (variable and depth). Its first line is a fixed-width header
  ``NETWORK NETWORK STATION LAT LON ELEVATION_M DEPTH_FROM_M DEPTH_TO_M SENSOR``; every further
  line is one record ``YYYY/MM/DD HH:MM VALUE ISMN_FLAG PROVIDER_FLAG`` (UTC, hourly, soil
  moisture in m3 m-3); missing records are simply absent. The ``ismn`` package takes the
  network from the folder name, the station from the file name (so station names hold no
  ``_``; the file name writes ``_`` of a network name as ``-``) and the depths from the header.
* The static-variables CSV (``;``-separated) carries soil texture, ESA CCI land cover and the
  Köppen-Geiger climate class; the ``ismn`` package needs at least one land-cover row.
* ISMN quality flags: ``G`` good; ``D01``-``D10`` dubious (``D01``-``D03``: soil or air
  temperature below 0 °C, frozen soil suspected); ``C01``-``C03`` outside the plausible range;
  ``M`` missing; ``U`` unchecked (some networks carry ``U`` and D/C flags instead of ``G``).
  Several flags on one record are joined by commas (``D02,D03``).

Reading
-------
:func:`read_network` indexes the archive with the ``ismn`` package (its metadata cache goes to
``meta_dir``, rebuilt whenever a file of the archive is newer than it), keeps the sensors of
``variable`` with ``0 <= depth_from`` and ``depth_to <= max_depth`` (or, for cosmic-ray probes,
``depth_from <= max_depth``: ``depth_from_only``), and keeps a record only if every code of its
flag is in ``accepted_flags``. Records are grouped into UTC or local solar days and a day
needs ``min_records`` kept hourly records (see :mod:`helpers.sources._stations`); a station's
daily value is the mean, over its kept sensors, of each sensor's daily mean. Frozen-soil
records (``frozen_flags``, ``D01``-``D03``) are counted per day, and a second daily mean that
admits them (``sm_incl_frozen``) serves the winter evaluation. What the filter drops is
counted per station (``meta``) and per network and flag (``dropped``); a station without a
sensor in the depth range is a row of ``skipped``; a network that loses every record to the
filter (a ``G``-only filter on a network flagged ``U``) also raises a warning.

COSMOS (US) is in ISMN in this format too: network ``COSMOS``, instrument
``Cosmic-ray-Probe``, ``depth_from`` 0 and ``depth_to`` the station's fixed sensing depth (0.19 m
at ARM-1, 0.21 m at Barrow-ARM, 0.17 m at SilverSword; the ``ismn`` package's test archive),
hourly values in m3 m-3.

Writing
-------
:func:`write_station` writes one sensor of the twin world in this layout, replacing an earlier
file of the same sensor, and the station's static-variables CSV.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ismn.components import Sensor
from ismn.const import KOEPPENGEIGER, LANDCOVER
from ismn.interface import ISMN_Interface

from helpers.errors import SourceError
from helpers.io import atomic_path
from helpers.sources._stations import (
    DayBoundary,
    StationTable,
    accepted_mask,
    any_code_mask,
    check_name,
    daily_means,
    day_counts,
    record_days,
    record_interval_hours,
    records_needed,
)

VARIABLE_CODE = "sm"  # file-name code of soil moisture
PROVIDER_FLAG = "M"  # the data-provider flag column; the ISMN samples carry "M" throughout
DEPTH_TOLERANCE_M = 1e-9
#: ISMN codes of frozen soil suspected: soil temperature (D01), air temperature (D02) or the
#: GLDAS soil temperature (D03) below 0 degC.
FROZEN_FLAGS = ("D01", "D02", "D03")
STATIC_COLUMNS = (
    "quantity_name",
    "unit",
    "depth_from[m]",
    "depth_to[m]",
    "value",
    "description",
    "quantity_source_name",
    "quantity_source_description",
    "quantity_source_provider",
    "quantity_source_version",
    "quantity_source_resolution",
    "quantity_source_timerange",
    "quantity_source_url",
)
SOIL_QUANTITIES = {  # static key: (quantity name, unit), for the 0-0.30 m topsoil layer
    "saturation": ("saturation", "m^3*m^-3"),
    "clay_fraction": ("clay fraction", "% weight"),
    "organic_carbon": ("organic carbon", "% weight"),
    "sand_fraction": ("sand fraction", "% weight"),
    "silt_fraction": ("silt fraction", "% weight"),
}
STATIC_KEYS = ("land_cover_cci", "climate_kg", *SOIL_QUANTITIES)
LAND_COVER_NAMES = {code: name for name, code in LANDCOVER.items()}
CCI_YEARS = (2000, 2005, 2010)


def write_station(
    root: Path | str,
    network: str,
    station: str,
    lat: float,
    lon: float,
    elevation_m: float,
    depth_from: float,
    depth_to: float,
    times: pd.DatetimeIndex,
    values: Sequence[float] | np.ndarray,
    flags: Sequence[str],
    sensor: str = "TwinProbe",
    static: Mapping[str, float | int | str] | None = None,
) -> Path:
    """Write one soil-moisture sensor of a station as an ISMN ``.stm`` file.

    Parameters
    ----------
    root : path
        Archive folder; the file goes to ``root/network/station/``.
    network, station : str
        Names without whitespace; ``station`` also without ``_``.
    lat, lon : float
        Station position, degrees (written with 5 decimals).
    elevation_m : float
        Station elevation, m.
    depth_from, depth_to : float
        Sensor depth range, m, in whole centimetres (the header's resolution).
    times : pandas.DatetimeIndex
        Record times, increasing (hourly in ISMN); tz-aware times are converted to UTC.
    values : array-like of float
        Volumetric soil moisture, m3 m-3 (written with 4 decimals); NaN records are left out.
    flags : sequence of str
        ISMN quality flag of each record (``"G"``, ``"D01"``, ``"D02,D03"`` ...).
    sensor : str
        Sensor (instrument) name; must differ between sensors of a station at one depth.
    static : mapping, optional
        Static variables, keys from :data:`STATIC_KEYS`: ``land_cover_cci`` (ESA CCI class
        code), ``climate_kg`` (Köppen-Geiger code such as ``"Cfa"``), and for the 0-0.30 m
        layer the clay, sand and silt fractions and organic carbon (% weight) and saturation
        (m3 m-3). Written to the station's static-variables CSV, which is also written
        (without them) when absent.

    Returns
    -------
    pathlib.Path
        The ``.stm`` file written.
    """
    check_name("network", network, "/\\")
    check_name("station", station, "/\\_")
    check_name("sensor", sensor, "/\\")
    _check_depths(depth_from, depth_to)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"station position out of range: lat {lat}, lon {lon}")
    times = pd.DatetimeIndex(times)
    if times.tz is not None:
        times = times.tz_convert("UTC").tz_localize(None)
    values = np.asarray(values, dtype=float)
    flags = np.asarray(flags, dtype=str)
    if not len(times) == len(values) == len(flags):
        raise ValueError(
            f"times, values and flags differ in length: {len(times)}, {len(values)}, {len(flags)}"
        )
    if not (times.is_monotonic_increasing and times.is_unique):
        raise ValueError("times must be increasing and unique")
    bad_flags = sorted(flag for flag in pd.unique(flags) if not flag or any(char.isspace() for char in flag))
    if bad_flags:
        raise ValueError(f"flags must be non-empty without whitespace, got {bad_flags[:5]}")
    valid = ~np.isnan(values)
    if not valid.any():
        raise ValueError(f"no valid value to write for station {network}/{station}")
    static_text = _static_csv(dict(static or {}))

    network_code = network.replace("_", "-")
    folder = Path(root) / network / station
    stem = f"{network_code}_{network_code}_{station}_{VARIABLE_CODE}_{depth_from:.6f}_{depth_to:.6f}_{sensor}"
    kept_times = times[valid]
    path = folder / f"{stem}_{kept_times[0]:%Y%m%d}_{kept_times[-1]:%Y%m%d}.stm"
    header = (
        f"{network:<10} {network:<15} {station:<15} {lat:10.5f} {lon:11.5f} {elevation_m:7.2f}"
        f" {depth_from:7.2f} {depth_to:7.2f} {sensor}"
    )
    with atomic_path(path) as tmp:
        tmp.write_bytes(f"{header}\n".encode("ascii") + _record_lines(kept_times, values[valid], flags[valid]))
    earlier = re.compile(rf"{re.escape(stem)}_\d{{8}}_\d{{8}}\.stm")
    for other in folder.iterdir():
        if other != path and earlier.fullmatch(other.name):
            other.unlink()

    static_path = folder / f"{network_code}_{network_code}_{station}_static_variables.csv"
    if static is not None or not static_path.exists():
        with atomic_path(static_path) as tmp:
            tmp.write_text(static_text, encoding="utf-8")
    return path


def read_network(
    root: Path | str,
    meta_dir: Path | str,
    variable: str = "soil_moisture",
    max_depth: float = 0.05,
    accepted_flags: Collection[str] = ("G",),
    networks: Sequence[str] | None = None,
    exclude_networks: Collection[str] = (),
    depth_from_only: bool = False,
    min_records: int = 1,
    day_boundary: DayBoundary = "utc",
    frozen_flags: Collection[str] = FROZEN_FLAGS,
) -> StationTable:
    """Daily station series of an ISMN archive, filtered by depth and quality flag.

    Parameters
    ----------
    root : path
        The archive: a folder ``NETWORK/STATION/*.stm`` or the .zip downloaded from ISMN.
    meta_dir : path
        Writable folder for the ``ismn`` package's metadata cache.
    variable : str
        ISMN variable name.
    max_depth : float
        Deepest accepted ``depth_to`` of a sensor, m (with ``depth_from_only``: the deepest
        accepted ``depth_from``).
    accepted_flags : collection of str
        Accepted ISMN flag codes; a record is kept if every code of its flag is accepted.
    networks : sequence of str, optional
        Read only these networks (default: all).
    exclude_networks : collection of str
        Networks not to read (e.g. the cosmic-ray network when reading point sensors).
    depth_from_only : bool
        Select sensors by their ``depth_from`` only (the ``ismn`` package's
        ``check_only_sensor_depth_from``): for cosmic-ray probes, whose ``depth_to`` is the
        station's sensing depth (0.17-0.21 m in COSMOS), not a sensor placement.
    min_records : int
        Kept hourly records a day needs (scaled for sensors recording less often; see
        :mod:`helpers.sources._stations`).
    day_boundary : {"utc", "local_solar"}
        How records are grouped into days. ISMN time stamps are UTC.
    frozen_flags : collection of str
        Codes marking frozen soil (ISMN ``D01``-``D03``): counted per day in
        ``frozen_records``; ``sm_incl_frozen`` is the day's mean of the records whose codes
        are all accepted or frozen.

    Returns
    -------
    StationTable
        ``meta`` has one row per station with at least one matching sensor (``sensor`` lists
        its instruments, ``depth_from``/``depth_to`` span them) plus ``land_cover_cci`` (ESA
        CCI 2010), ``climate_kg`` and ``record_interval_h``; ``daily`` the daily means (mean
        over sensors of each sensor's daily mean), with ``n_records``, ``frozen_records`` and
        ``sm_incl_frozen``; ``dropped`` the records dropped per network and flag;
        ``skipped`` the stations without a sensor in the depth range or with unreadable data,
        and the files the ``ismn`` package could not read (malformed).

    Raises
    ------
    SourceError
        If the archive is missing, holds no ``.stm`` file or cannot be indexed.
    """
    root = Path(root)
    data_files = _data_files(root)
    interface = _open_interface(root, Path(meta_dir), networks)
    skipped = _unindexed(root, data_files, interface, networks, exclude_networks)
    frozen_accepted = set(accepted_flags) | set(frozen_flags)

    rows: list[dict[str, object]] = []
    daily: dict[tuple[str, str], pd.DataFrame] = {}
    dropped: Counter[tuple[str, str]] = Counter()
    for network in interface.collection.iter_networks():
        if network.name in exclude_networks:
            continue
        for station in network.stations.values():
            of_variable = [sensor for sensor in station.sensors.values() if sensor.variable == variable]
            depth_of = (lambda s: s.depth.start) if depth_from_only else (lambda s: s.depth.end)
            sensors = [
                sensor
                for sensor in of_variable
                if sensor.depth.start >= 0 and depth_of(sensor) <= max_depth + DEPTH_TOLERANCE_M
            ]
            if not sensors:
                found = ", ".join(f"{s.depth.start:g}-{s.depth.end:g} m" for s in of_variable) or "none"
                rule = "depth_from" if depth_from_only else "depth_to"
                reason = f"no {variable} sensor with {rule} <= {max_depth} m (found: {found})"
                skipped.append((network.name, station.name, reason))
                continue
            try:
                parts = [
                    _sensor_daily(
                        sensor,
                        variable,
                        float(station.lon),
                        (accepted_flags, frozen_accepted, frozen_flags),
                        min_records,
                        day_boundary,
                    )
                    for sensor in sensors
                ]
            except (ValueError, KeyError, OSError) as error:
                skipped.append((network.name, station.name, f"unreadable data: {error}"))
                continue
            station_daily = _combine_sensors([part.daily for part in parts])
            for part in parts:
                for flag, count in part.dropped.items():
                    dropped[(network.name, str(flag))] += count
            daily[(network.name, station.name)] = station_daily
            metadata = sensors[0].metadata
            n_raw = sum(part.n_raw for part in parts)
            n_kept = sum(part.n_kept for part in parts)
            rows.append(
                {
                    "network": network.name,
                    "station": station.name,
                    "lat": float(station.lat),
                    "lon": float(station.lon),
                    "elevation_m": float(station.elev),
                    "depth_from": min(sensor.depth.start for sensor in sensors),
                    "depth_to": max(sensor.depth.end for sensor in sensors),
                    "sensor": ";".join(sensor.instrument for sensor in sensors),
                    "n_raw": n_raw,
                    "n_kept": n_kept,
                    "n_dropped_by_flag": n_raw - n_kept,
                    **day_counts(station_daily),
                    "land_cover_cci": _metadata_value(metadata, "lc_2010", np.nan),
                    "climate_kg": _metadata_value(metadata, "climate_KG", "unknown"),
                    "record_interval_h": min(part.interval_hours for part in parts),
                }
            )
    table = StationTable.from_records(rows, ("land_cover_cci", "climate_kg", "record_interval_h"), daily, dropped, skipped)
    table.meta = table.meta.astype({"land_cover_cci": "Int64"})
    _warn_all_dropped(table, accepted_flags)
    return table


@dataclass
class _SensorDaily:
    daily: pd.DataFrame
    n_raw: int
    n_kept: int
    dropped: Counter
    interval_hours: float


def _sensor_daily(
    sensor: Sensor,
    variable: str,
    lon: float,
    flag_sets: tuple[Collection[str], Collection[str], Collection[str]],
    min_records: int,
    day_boundary: DayBoundary,
) -> _SensorDaily:
    """One sensor's daily means (kept records; with frozen records) and its record counts.

    ``flag_sets``: the accepted codes, the accepted-or-frozen codes and the frozen codes.
    """
    accepted_flags, frozen_accepted, frozen_flags = flag_sets
    with _quiet_ismn():
        frame = sensor.read_data()
    times = pd.DatetimeIndex(frame.index)
    values = frame[variable].to_numpy(dtype=float)
    flags = frame[f"{variable}_flag"].to_numpy(dtype=object)
    has_value = np.isfinite(values)
    keep = has_value & accepted_mask(flags, accepted_flags)
    days = record_days(times, lon, day_boundary)
    interval = record_interval_hours(times[has_value])
    needed = records_needed(min_records, interval)
    daily = daily_means(days, values, keep, needed)
    with_frozen = daily_means(days, values, has_value & accepted_mask(flags, frozen_accepted), needed)
    frozen = daily_means(days, np.ones(values.size), has_value & any_code_mask(flags, frozen_flags), 1)
    daily = daily.join(with_frozen["sm"].rename("sm_incl_frozen"), how="outer")
    daily["frozen_records"] = frozen["n_records"].reindex(daily.index).fillna(0).astype("int64")
    daily["n_records"] = daily["n_records"].fillna(0).astype("int64")
    return _SensorDaily(
        daily=daily,
        n_raw=int(has_value.sum()),
        n_kept=int(keep.sum()),
        dropped=Counter(pd.Series(flags[has_value & ~keep]).value_counts().to_dict()),
        interval_hours=interval,
    )


def _combine_sensors(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """A station's day: the mean over its sensors of ``sm`` and ``sm_incl_frozen``, the sums of
    the record counts."""
    if len(parts) == 1:
        combined = parts[0]
    else:
        grouped = pd.concat(parts, keys=range(len(parts))).groupby(level=1)
        combined = pd.concat(
            [grouped[["sm", "sm_incl_frozen"]].mean(), grouped[["n_records", "frozen_records"]].sum()], axis=1
        )
    combined = combined.sort_index()
    combined.index.name = "date"
    return combined[["sm", "n_records", "sm_incl_frozen", "frozen_records"]]


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits (n, width) of non-negative integers, zero-padded."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (numbers[:, None] // powers % 10 + ord("0")).astype(np.uint8)


def _record_lines(times: pd.DatetimeIndex, values: np.ndarray, flags: np.ndarray) -> bytes:
    """The records ``YYYY/MM/DD HH:MM VVVV.VVVV FLAG M``, one per line, built as a byte array
    (fixed columns; the flag padded with spaces): the twin world writes millions of them."""
    if (values < 0).any() or (values >= 1000).any():  # outside the fixed width: the general way
        stamps = times.strftime("%Y/%m/%d %H:%M").tolist()
        lines = [f"{t} {v:8.4f} {f} {PROVIDER_FLAG}" for t, v, f in zip(stamps, values, flags.tolist(), strict=True)]
        return ("\n".join(lines) + "\n").encode("ascii")
    stamps = pd.DatetimeIndex(times)
    minutes = stamps.hour.to_numpy() * 60 + stamps.minute.to_numpy()
    quantised = np.round(values * 10_000).astype(np.int64)
    whole = _digits(quantised // 10_000, 3)
    leading = np.cumsum(whole != ord("0"), axis=1) == 0
    leading[:, -1] = False
    whole[leading] = ord(" ")
    width = max(len(flag) for flag in pd.unique(flags))
    flag_bytes = np.frombuffer(np.asarray(flags, dtype=f"S{width}").tobytes(), dtype=np.uint8).reshape(-1, width).copy()
    flag_bytes[flag_bytes == 0] = ord(" ")

    def column(text: str) -> np.ndarray:
        return np.broadcast_to(np.frombuffer(text.encode("ascii"), dtype=np.uint8), (len(values), len(text)))

    parts = [
        _digits(stamps.year.to_numpy(), 4), column("/"), _digits(stamps.month.to_numpy(), 2), column("/"),
        _digits(stamps.day.to_numpy(), 2), column(" "), _digits(minutes // 60, 2), column(":"),
        _digits(minutes % 60, 2), column("  "), whole, column("."), _digits(quantised % 10_000, 4), column(" "),
        flag_bytes, column(f" {PROVIDER_FLAG}\n"),
    ]
    return np.concatenate(parts, axis=1).tobytes()


def _check_depths(depth_from: float, depth_to: float) -> None:
    if not 0 <= depth_from <= depth_to:
        raise ValueError(
            f"sensor depths must satisfy 0 <= depth_from <= depth_to, got {depth_from}, {depth_to}"
        )
    for depth in (depth_from, depth_to):
        if abs(depth * 100 - round(depth * 100)) > 1e-6:
            raise ValueError(
                f"sensor depth {depth} m is not in whole centimetres (the ISMN header's resolution)"
            )


def _static_csv(static: dict[str, float | int | str]) -> str:
    """The static-variables CSV of a station."""
    unknown = sorted(set(static) - set(STATIC_KEYS))
    if unknown:
        raise ValueError(f"unknown static variables {unknown}; known: {list(STATIC_KEYS)}")
    rows = []
    for key, (quantity, unit) in SOIL_QUANTITIES.items():
        if key in static:
            rows.append(
                [
                    quantity,
                    unit,
                    "0.00",
                    "0.30",
                    f"{float(static[key]):.2f}",
                    "",
                    "twin_world",
                    "synthetic twin world",
                ]
            )
    if "land_cover_cci" in static:
        code = int(static["land_cover_cci"])
        if code not in LAND_COVER_NAMES:
            raise ValueError(f"land_cover_cci {code} is not an ESA CCI land-cover class")
        for year in CCI_YEARS:
            rows.append(
                [
                    "land cover classification",
                    "",
                    "",
                    "",
                    str(code),
                    LAND_COVER_NAMES[code],
                    f"CCI_landcover_{year}",
                    "ESA CCI Land Cover",
                ]
            )
    else:
        # the ismn package needs a land-cover row; one from an unknown source leaves the class empty
        rows.append(["land cover classification", "", "", "", "", "", "unknown", "land cover not given"])
    if "climate_kg" in static:
        climate = str(static["climate_kg"])
        if climate not in KOEPPENGEIGER:
            raise ValueError(f"climate_kg {climate!r} is not a Köppen-Geiger class")
        rows.append(
            [
                "climate classification",
                "",
                "",
                "",
                climate,
                KOEPPENGEIGER[climate],
                "koeppen_geiger_2007",
                "Koeppen-Geiger Climate Classification",
            ]
        )
    padded = [row + [""] * (len(STATIC_COLUMNS) - len(row)) for row in [list(STATIC_COLUMNS), *rows]]
    return "".join(";".join(row) + ";\n" for row in padded)


def _data_files(root: Path) -> list[str]:
    """The archive's ``.stm`` files, relative to it, checked to lie in NETWORK/STATION/."""
    if not root.exists():
        raise SourceError(
            root, "no such folder or file (expected an ISMN archive: NETWORK/STATION/*.stm, or its .zip)"
        )
    if root.is_file():
        try:
            with zipfile.ZipFile(root) as archive:
                files = [name for name in archive.namelist() if name.endswith(".stm")]
        except zipfile.BadZipFile as error:
            raise SourceError(root, f"not a folder nor a readable .zip archive: {error}") from error
    else:
        files = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.stm"))
        misplaced = [name for name in files if name.count("/") != 2]
        if misplaced:
            raise SourceError(root, f"{misplaced[0]}: .stm files must lie in NETWORK/STATION/ folders")
    if not files:
        raise SourceError(root, "no ISMN .stm data file found: an empty network archive")
    return files


def _open_interface(root: Path, meta_dir: Path, networks: Sequence[str] | None) -> ISMN_Interface:
    """Index the archive with the ismn package, rebuilding its cache when the archive changed."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    cache = meta_dir / f"{root.stem}-{digest}"
    cache.mkdir(parents=True, exist_ok=True)
    cached = [path.stat().st_mtime_ns for path in cache.glob("*.csv")]
    stale = not cached or _newest_change(root) >= min(cached)
    try:
        with _quiet_ismn():
            return ISMN_Interface(
                root,
                meta_path=cache,
                network=list(networks) if networks else None,
                force_metadata_collection=stale,
            )
    except Exception as error:  # the ismn package raises many types (ISMNError, OSError, TypeError ...)
        raise SourceError(root, f"the ismn package could not index it: {error!r}") from error


@contextlib.contextmanager
def _quiet_ismn() -> Iterator[None]:
    """Silence the ismn package's progress output and its pandas deprecation warnings."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message="The inplace keyword")
        yield


def _newest_change(root: Path) -> int:
    """Latest modification time (ns) of the archive or of anything in it."""
    if root.is_file():
        return root.stat().st_mtime_ns
    return max([root.stat().st_mtime_ns, *(path.stat().st_mtime_ns for path in root.rglob("*"))])


def _unindexed(
    root: Path,
    data_files: list[str],
    interface: ISMN_Interface,
    networks: Sequence[str] | None,
    exclude_networks: Collection[str],
) -> list[tuple[str, str, str]]:
    """Data files the ismn package skipped as malformed, as skipped-station rows (and a warning)."""
    column = ("file_path", "val")
    indexed = set(interface.metadata[column]) if column in interface.metadata.columns else set()
    wanted = [
        name
        for name in data_files
        if (not networks or Path(name).parent.parent.name in networks)
        and Path(name).parent.parent.name not in exclude_networks
    ]
    skipped = sorted(set(wanted) - {str(name) for name in indexed})
    if skipped:
        warnings.warn(
            f"{root}: the ismn package skipped {len(skipped)} malformed data file(s): {skipped[:5]}",
            stacklevel=3,
        )
    return [
        (Path(name).parent.parent.name, Path(name).parent.name, f"{root / name}: the ismn package cannot read this file")
        for name in skipped
    ]


def _warn_all_dropped(table: StationTable, accepted_flags: Collection[str]) -> None:
    """Warn about networks whose records were all dropped by the flag filter."""
    for row in table.summary().itertuples():
        if row.n_raw > 0 and row.n_kept == 0:
            dropped = table.dropped[table.dropped["network"] == row.network].sort_values("n", ascending=False)
            warnings.warn(
                f"ISMN network {row.network}: the flag filter accepted_flags={tuple(accepted_flags)} dropped"
                f" all {row.n_raw} records (most frequent flags: {dropped['flag'].tolist()[:5]})",
                stacklevel=3,
            )


def _metadata_value(metadata: object, name: str, default: object) -> object:
    """A scalar from ismn metadata, or ``default`` when absent or empty."""
    variable = metadata[name]
    value = getattr(variable, "val", None)
    return default if value is None or (isinstance(value, float) and np.isnan(value)) else value
