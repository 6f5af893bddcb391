"""In-situ stations of the twin world: placed like the real networks, written as their providers ship them.

Placement (:func:`place_stations`)
----------------------------------
* **SMAP core validation sites** at the real sites' published centres
  (:data:`helpers.sources.smap_cvs.CORE_SITES`, the first ``world.smap_sites`` of them). A
  site whose grid cell is water or permanent snow/ice at the run's resolution keeps its real
  position (matching will report it as on a masked cell) and takes its series from the
  nearest land cell.
* **COSMOS** in the USA, **COSMOS-Europe** in Europe, **COSMOS-UK** in Great Britain
  (``world.cosmos_networks``), on random unmasked land cells of their region.
* **ISMN** point sensors (``world.ismn_stations``): 40 % in North America (``TWIN-NA``), 35 %
  in Europe (``TWIN-EU``), hourly as most ISMN networks; 25 % spread over the rest of the
  land (``TWIN-GLOBAL``), recording every 3 hours, as ISMN keeps networks whose native
  interval is coarser than an hour.

Record periods: few real ISMN records reach back before 2000 (23 of the paper's 715
representative stations), so a station starts before ``world.target_start_year`` with
probability ``world.ismn_early_share``, otherwise in a year drawn from the target era; three
quarters run to the end of the period, the others stop after one to four years. Every record
has outages (about 1.2 per year, 2 to 45 days long, starting at any hour) and 2 % of missing
records, so some days are partial and the minimum-records rule of the readers matters.

Observation operators (:mod:`helpers.world.observe`) give the daily value of each local solar
day: a point sensor with representativeness offset, gain and noise and ISMN flags
(:func:`~helpers.world.observe.ismn_like`), a cosmic-ray probe over its wetness-dependent depth
(:func:`~helpers.world.observe.cosmos_like`), an upscaled core site
(:func:`~helpers.world.observe.smap_core_site_like`). Hourly records add a small diurnal cycle
(amplitude 0.004 m3 m-3, mean zero over a local day) and noise, so the day a record belongs to
matters: aggregated in local solar time the days match the world's days; in UTC they mix
neighbouring days by the station's longitude.

Files (:func:`write_stations`), read back through the same readers as real data:
ISMN and COSMOS (US) in the ISMN archive (:mod:`helpers.sources.ismn`), COSMOS-UK daily CSV
with its flags and site metadata (:mod:`helpers.sources.cosmos_uk`), COSMOS-Europe hourly
processed files with the station list (:mod:`helpers.sources.cosmos_europe`), NSIDC-0712
match-up files with a site list (:mod:`helpers.sources.smap_cvs`). ``twin_world_sites.csv``
in the raw folder lists every site with its cell (for inspection; no reader uses it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.params import Params
from helpers.sources import cosmos_europe, cosmos_uk, ismn, smap_cvs
from helpers.world import observe, static

#: Regions as (west, south, east, north).
REGIONS = {
    "north_america": (-125.0, 25.0, -65.0, 50.0),
    "europe": (-10.0, 35.0, 40.0, 60.0),
    "usa": (-125.0, 25.0, -67.0, 49.0),
    "great_britain": (-6.5, 50.0, 2.0, 58.7),
}
#: ISMN-like networks: name, region (None: the land outside the other regions), share, hours between records.
ISMN_NETWORKS = (("TWIN-NA", "north_america", 0.40, 1), ("TWIN-EU", "europe", 0.35, 1), ("TWIN-GLOBAL", None, 0.25, 3))
COSMOS_REGIONS = {"COSMOS": "usa", "COSMOS-Europe": "europe", "COSMOS-UK": "great_britain"}
#: Koeppen-Geiger codes of the class ids 0-29 (Peel et al. 2007), as in the smecv-grid file.
KOPPEN_CODES = (
    "Af Am Aw BWh BWk BSh BSk Csa Csb Csc Cwa Cwb Cwc Cfa Cfb Cfc Dsa Dsb Dsc Dsd Dwa Dwb Dwc Dwd "
    "Dfa Dfb Dfc Dfd ET EF"
).split()
DIURNAL_AMPLITUDE = 0.004
OUTAGES_PER_YEAR = 1.2
MISSING_RECORD_SHARE = 0.02
SMAP_OVERPASS_LOCAL_HOURS = (6, 18)
SMAP_RELEASE = "2018.10.01"
TABLE_COLUMNS = ["kind", "network", "station", "lat", "lon", "row", "col", "depth_cm", "interval_h", "start", "end"]


@dataclass
class Stations:
    """In-situ sites of the twin world: one row per site (:data:`TABLE_COLUMNS`), ``row``/``col``
    the grid cell whose series the site observes."""

    table: pd.DataFrame

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        return self.table["row"].to_numpy(), self.table["col"].to_numpy()


def _inside(lat: np.ndarray, lon: np.ndarray, region: str) -> np.ndarray:
    west, south, east, north = REGIONS[region]
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def _record_period(
    rng: np.random.Generator, first: pd.Timestamp, last: pd.Timestamp, early_start: pd.Timestamp | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start and end day of a record (see the module docstring)."""
    if early_start is not None:
        start = early_start + pd.Timedelta(days=int(rng.integers(0, 360)))
    else:
        start = first + pd.Timedelta(days=int(rng.integers(0, max((last - first).days - 180, 1))))
    end = last if rng.random() < 0.75 else min(last, start + pd.Timedelta(days=int(rng.integers(365, 4 * 365))))
    return start, max(end, min(last, start + pd.Timedelta(days=180)))


def place_stations(params: Params, fields: static.StaticFields, rng: np.random.Generator) -> Stations:
    """Choose the in-situ sites of the run (see the module docstring)."""
    world = params.world
    assert world is not None
    grid = fields.grid
    usable = fields.land & ~fields.snow_ice
    rows, cols = np.nonzero(usable)
    lat, lon = grid.lat[rows], grid.lon[cols]
    period_start = pd.Timestamp(params.period.start_year, 1, 1)
    period_end = pd.Timestamp(params.period.end_year, 12, 31)
    target_start = pd.Timestamp(max(world.target_start_year, params.period.start_year), 1, 1)
    records: list[dict[str, object]] = []

    def add(kind, network, station, site_lat, site_lon, row, col, depth_cm, interval_h, period) -> None:
        records.append(
            {
                "kind": kind,
                "network": network,
                "station": station,
                "lat": round(float(site_lat), 4),
                "lon": round(float(site_lon), 4),
                "row": int(row),
                "col": int(col),
                "depth_cm": float(depth_cm),
                "interval_h": int(interval_h),
                "start": period[0],
                "end": period[1],
            }
        )

    def pick(count: int, inside: np.ndarray) -> np.ndarray:
        pool = np.flatnonzero(inside) if inside.any() else np.arange(rows.size)
        return rng.choice(pool, size=count, replace=count > pool.size)

    def jittered(k: int) -> tuple[float, float]:
        jitter = (rng.random(2) - 0.5) * grid.resolution * 0.9
        return lat[k] + jitter[0], lon[k] + jitter[1]

    elsewhere = ~np.any([_inside(lat, lon, region) for region in ("north_america", "europe")], axis=0)
    counts = np.floor([share * world.ismn_stations for *_, share, _ in ISMN_NETWORKS]).astype(int)
    counts[-1] = world.ismn_stations - counts[:-1].sum()
    early_years = target_start.year - period_start.year
    for (network, region, _, interval), count in zip(ISMN_NETWORKS, counts, strict=True):
        for k in pick(int(count), elsewhere if region is None else _inside(lat, lon, region)):
            early = None
            if early_years > 0 and rng.random() < world.ismn_early_share:
                early = pd.Timestamp(period_start.year + int(rng.integers(0, early_years)), 1, 1)
            period = _record_period(rng, target_start, period_end, early)
            add("ismn", network, f"ISMN{len(records):04d}", *jittered(k), rows[k], cols[k], 5.0, interval, period)
    for network, spec in world.cosmos_networks.items():
        for number, k in enumerate(pick(spec.stations, _inside(lat, lon, COSMOS_REGIONS[network])), start=1):
            station = {"COSMOS": f"TwinCRNS-{number:02d}", "COSMOS-UK": f"UKT{number:02d}"}.get(
                network, f"TWE{number:03d}"
            )
            depth = spec.depth_cm * float(np.exp(0.12 * rng.standard_normal()))
            period = _record_period(rng, period_start, period_end, None)
            add("cosmos", network, station, *jittered(k), rows[k], cols[k], depth, 1, period)
    for site, site_lat, site_lon, _ in smap_cvs.CORE_SITES[: world.smap_sites]:
        distance = (lat - site_lat) ** 2 + ((lon - site_lon) * np.cos(np.radians(site_lat))) ** 2
        k = int(np.argmin(distance))
        add("smap_cvs", smap_cvs.NETWORK, site, site_lat, site_lon, rows[k], cols[k], 5.0, 12, (period_start, period_end))
    return Stations(pd.DataFrame.from_records(records, columns=TABLE_COLUMNS))


# Writing ----------------------------------------------------------------------------------


def _hours(start: pd.Timestamp, end: pd.Timestamp, lon: float, interval_h: int) -> pd.DatetimeIndex:
    """UTC record times covering the local solar days start..end, every ``interval_h`` hours."""
    offset = pd.Timedelta(hours=lon / 15.0)
    first = (start - offset).ceil("h")
    last = (end + pd.Timedelta(hours=23, minutes=59) - offset).floor("h")
    return pd.date_range(first, last, freq=f"{interval_h}h")


def _with_outages(times: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    """Which records survive the outages and the random missing records."""
    keep = rng.random(len(times)) >= MISSING_RECORD_SHARE
    years = max((times[-1] - times[0]).days / 365.25, 0.1)
    for _ in range(rng.poisson(OUTAGES_PER_YEAR * years)):
        begin = times[0] + pd.Timedelta(hours=float(rng.uniform(0, (times[-1] - times[0]) / pd.Timedelta(hours=1))))
        length = pd.Timedelta(days=float(rng.uniform(2, 45)))
        keep &= ~((times >= begin) & (times < begin + length))
    return keep


def _local_days(times: pd.DatetimeIndex, lon: float, period_start: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Index (from ``period_start``) of each record's local solar day, and the local hour."""
    local = times + pd.Timedelta(hours=lon / 15.0)
    hours = (local - period_start) / pd.Timedelta(hours=1)
    return np.floor(hours / 24).astype(int), np.asarray(hours % 24)


def _hourly(daily: np.ndarray, days: np.ndarray, local_hour: np.ndarray, noise: float, rng) -> np.ndarray:
    cycle = DIURNAL_AMPLITUDE * np.cos(2 * np.pi * (local_hour - 6.0) / 24.0)
    return daily[days] + cycle + noise * rng.standard_normal(days.size)


def write_stations(
    params: Params,
    fields: static.StaticFields,
    stations: Stations,
    series: dict[str, np.ndarray],
    raw,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Write every site's records over its record period (see the module docstring).

    ``series`` holds the period's daily truth at the sites' cells: ``sm``, ``sm_root``,
    ``frozen``, ``snow`` and ``tair``, each (days, sites).

    Returns the ISMN-like point stations' daily values over the whole period, before the
    record periods, outages and hourly records are applied: ``sites`` (their rows in the
    stations table), ``values`` and ``flags`` (days, those sites).
    """
    table = stations.table
    period_start = pd.Timestamp(params.period.start_year, 1, 1)
    dates = pd.date_range(period_start, pd.Timestamp(params.period.end_year, 12, 31), freq="D")
    src = params.sources
    kinds = table["kind"].to_numpy()
    point = np.flatnonzero(kinds == "ismn")
    point_values = np.empty((len(dates), 0), np.float32)
    point_flags = np.empty((len(dates), 0), "<U3")
    if point.size:
        point_values, point_flags = observe.ismn_like(
            series["sm"][:, point], series["frozen"][:, point], series["tair"][:, point], rng
        )
        for j, index in enumerate(point):
            _write_ismn_point(
                raw / src.ismn, fields, table.iloc[index], point_values[:, j], point_flags[:, j], period_start, rng
            )
    crns = np.flatnonzero(kinds == "cosmos")
    uk_rows, europe_rows = [], []
    for index in crns:
        site = table.iloc[index]
        values, depths = observe.cosmos_like(series["sm"][:, index], series["sm_root"][:, index], site.depth_cm, rng)
        if site.network == "COSMOS":
            _write_cosmos_us(raw / src.ismn, fields, site, values, depths, series["frozen"][:, index], period_start, rng)
        elif site.network == "COSMOS-UK":
            uk_rows.append(_write_cosmos_uk(raw / src.cosmos_uk, site, values, depths, dates, rng))
        else:
            europe_rows.append(
                _write_cosmos_europe(raw / src.cosmos_europe, site, values, depths, series["snow"][:, index], period_start, rng)
            )
    if uk_rows:
        cosmos_uk.write_site_metadata(raw / src.cosmos_uk, pd.DataFrame(uk_rows), dates[0].year, dates[-1].year)
    if europe_rows:
        cosmos_europe.write_general_information(raw / src.cosmos_europe, pd.DataFrame(europe_rows))
    smap = np.flatnonzero(kinds == "smap_cvs")
    if smap.size:
        _write_smap(raw / src.smap_cvs, table.iloc[smap], series, smap, period_start, rng)
    table.to_csv(raw / "twin_world_sites.csv", index=False)
    return {"sites": point, "values": point_values, "flags": point_flags}


def _record_times(site, period_start: pd.Timestamp, rng) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Kept UTC record times of a site, their local-day indices and local hours."""
    times = _hours(site.start, site.end, site.lon, site.interval_h)
    times = times[_with_outages(times, rng)]
    days, hours = _local_days(times, site.lon, period_start)
    return times, days, hours


def _write_ismn_point(root, fields, site, daily, flags, period_start, rng) -> None:
    times, days, hours = _record_times(site, period_start, rng)
    values = np.clip(_hourly(daily, days, hours, 0.002, rng), 0.0, observe.ISMN_PLAUSIBLE_MAX)
    cell = (site.row, site.col)
    ismn.write_station(
        root,
        site.network,
        site.station,
        site.lat,
        site.lon,
        float(fields.elevation_m[cell]),
        0.0,
        0.05,
        times,
        values,
        flags[days],
        static={
            "climate_kg": KOPPEN_CODES[int(fields.climate_class[cell])],
            "clay_fraction": float(fields.clay[cell]),
            "sand_fraction": float(fields.sand[cell]),
            "silt_fraction": float(fields.silt[cell]),
        },
    )


def _write_cosmos_us(root, fields, site, daily, depths, frozen, period_start, rng) -> None:
    """COSMOS (US) in ISMN format: fixed depth_to (the station's median depth, whole cm)."""
    times, days, _ = _record_times(site, period_start, rng)
    values = np.clip(daily[days] + 0.01 * rng.standard_normal(days.size), 0.0, 0.7)
    flags = np.where(frozen[days], "D03", "G")
    depth_to = max(round(float(np.nanmedian(depths))), 1) / 100
    ismn.write_station(
        root,
        site.network,
        site.station,
        site.lat,
        site.lon,
        float(fields.elevation_m[site.row, site.col]),
        0.0,
        depth_to,
        times,
        values,
        flags,
        sensor="Cosmic-ray-Probe",
    )


def _write_cosmos_uk(directory, site, daily, depths, dates: pd.DatetimeIndex, rng) -> dict[str, object]:
    """A COSMOS-UK site: daily file (UTC days, GB lies near 0 deg), 3 % infilled days flagged I."""
    inside = (dates >= site.start) & (dates <= site.end)
    record_dates = dates[inside]
    keep = _with_outages(record_dates, rng)
    vwc = np.where(keep, daily[inside], np.nan)
    d86 = np.where(keep, depths[inside], np.nan)
    infilled = keep & (rng.random(record_dates.size) < 0.03)
    vwc = np.where(infilled, np.nanmean(vwc), vwc)  # a provider's infill: the site's mean
    flags = np.where(infilled, "I", np.where(keep, "", "M"))
    cosmos_uk.write_site(directory, site.station, record_dates, vwc, d86, flags, last_year=dates[-1].year)
    return {
        "SITE_ID": site.station,
        "SITE_NAME": f"Twin site {site.station}",
        "LATITUDE": f"{site.lat:.5f}",
        "LONGITUDE": f"{site.lon:.5f}",
        "START_DATE": f"{site.start:%Y-%m-%d}",
        "END_DATE": f"{site.end:%Y-%m-%d}",
        "LAND_COVER": "Grassland",
    }


def _write_cosmos_europe(root, site, daily, depths, snow, period_start, rng) -> dict[str, object]:
    """A COSMOS-Europe station: hourly 24-hour moving averages of noisy hourly values."""
    times, days, _ = _record_times(site, period_start, rng)
    hourly = daily[days] + 0.03 * rng.standard_normal(days.size)
    smoothed = pd.Series(hourly).rolling(24, min_periods=12).mean().to_numpy()
    flags = {
        "Flag_Snow_ERA5": snow[days].astype(int),
        "Flag_Extreme_Counts": (rng.random(days.size) < 0.005).astype(int),
    }
    depth_m = depths[days] / 100 * np.exp(0.02 * rng.standard_normal(days.size))
    neutrons = 900.0 / (smoothed + 0.1)
    cosmos_europe.write_station(root, site.station, times, smoothed, depth_m, flags, neutrons)
    return {
        "File name": site.station,
        "Station": f"Twin station {site.station}",
        "Country": "twin world",
        "Affiliation": "twin world",
        "Detector Typ": "CRS-1000",
        "Latitude (°)": site.lat,
        "Longitude (°)": site.lon,
        "Altitude (m)": 0.0,
        "Main land use": "grassland",
        "Time period start": f"{site.start:%Y-%m-%d}",
        "Time period end": f"{site.end:%Y-%m-%d}",
    }


def _write_smap(root, sites: pd.DataFrame, series, columns: np.ndarray, period_start, rng) -> None:
    """Core sites: match-ups at the 6 am and 6 pm local overpasses; open site IDs become 90NN."""
    ids = {name: site_id for name, _, _, site_id in smap_cvs.CORE_SITES}
    site_list = []
    for number, (site, column) in enumerate(zip(sites.itertuples(), columns, strict=True), start=1):
        site_id = ids.get(site.station) or f"90{number:02d}"
        upscaled = observe.smap_core_site_like(series["sm"][:, column : column + 1], rng)
        local = pd.date_range(site.start, site.end + pd.Timedelta(hours=23), freq="h")
        local = local[np.isin(local.hour, SMAP_OVERPASS_LOCAL_HOURS)]
        times = (local - pd.Timedelta(hours=site.lon / 15.0)).round("min")
        days = ((local - period_start) // pd.Timedelta(days=1)).to_numpy()
        keep = _with_outages(times, rng)
        insitu = np.where(keep, upscaled[days] + 0.005 * rng.standard_normal(days.size), np.nan)
        retrieval = series["sm"][days, column] + 0.04 * rng.standard_normal(days.size)
        retrieval = np.where(series["frozen"][days, column], np.nan, np.clip(retrieval, 0.02, 0.6))
        smap_cvs.write_matchups(root, SMAP_RELEASE, site_id, times, insitu, retrieval)
        site_list.append({"site_id": site_id, "site": site.station, "latitude": site.lat, "longitude": site.lon})
    smap_cvs.write_sites(root, pd.DataFrame(site_list))

