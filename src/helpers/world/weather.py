"""Daily weather generator of the twin world.

Weather = climate normals + synoptic anomalies + local noise:

* Normals follow the Koeppen-Geiger class, latitude, season and elevation: annual mean
  temperature ``27 - 0.007 lat^2 + dT_class - 6.5 K/km * z``, a seasonal cycle of amplitude
  ``(1 + 0.22 |lat|) * continentality_class`` peaking in late July (north) or mid January
  (south); annual precipitation per class, enhanced orographically by 25 % per km (up to 3
  km), with a summer-wet (monsoon, Cw, Dw) or winter-wet (Cs, Ds) seasonality.
* Synoptic anomalies come from :class:`LargeScaleAnomalies`: unit-variance AR(1) fields on
  5 degree nodes (storminess, cloudiness, temperature) sampled bilinearly at the pixels, so
  neighbouring pixels and neighbouring tiles share the same weather.
* Rain falls where a latent Gaussian ``z`` (mixture of the storm field and pixel noise) lies
  below ``thr = Phi^-1(p_wet)``; its amount is ``c (thr - z)^2`` with ``c`` chosen so the
  expected daily amount equals the climatological mean (closed-form partial moment); both
  are set per calendar month, as in WGEN-type generators.
* Cloudiness follows the same latent variable; shortwave radiation is the top-of-atmosphere
  daily mean (FAO-56) times a clear-sky transmissivity that grows with elevation, dimmed by
  clouds; potential evapotranspiration is Priestley-Taylor with FAO-56 net longwave.

Example
-------
>>> anomalies = large_scale_anomalies(dates, seed=42, year=2001)
>>> weather = generate_weather(lat, lon, elevation, climate, dates, rng, anomalies)
>>> weather.precip_mm.shape  # (n_days, n_pixels)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy import sparse, special

from helpers.world.static import CLIMATE_NAMES

NODE_SPACING_DEG = 5.0
LAPSE_RATE_K_PER_M = 0.0065
STORM_PERSISTENCE = 0.6
CLOUD_PERSISTENCE = 0.7
TEMPERATURE_PERSISTENCE = 0.85
STORM_SHARE = 0.65  # share of the rain latent variance that is synoptic (shared by neighbours)
MEAN_WET_DAY_INTENSITY_MM = 6.0
OROGRAPHIC_GAIN_PER_KM = 0.25
SOLAR_CONSTANT_WM2 = 1367.0
_DAYS_PER_BLOCK = 16
STEFAN_BOLTZMANN = 5.67e-8

# Per Koeppen class: annual precipitation (mm), precipitation seasonality (+ summer wet,
# - winter wet, amplitude of the cosine), annual temperature offset (K) and continentality
# (multiplier of the seasonal temperature amplitude).
_CLASS_TABLE = {
    "Af": (2600, 0.1, 0.5, 0.3), "Am": (2300, 0.6, 0.5, 0.4), "Aw": (1300, 0.85, 0.5, 0.6),
    "BWh": (90, 0.3, 3.0, 1.0), "BWk": (160, 0.3, 0.0, 1.2), "BSh": (450, 0.6, 2.0, 0.9),
    "BSk": (380, 0.3, -0.5, 1.1), "Csa": (550, -0.8, 1.5, 0.8), "Csb": (800, -0.75, 0.0, 0.6),
    "Csc": (1200, -0.6, -1.0, 0.5), "Cwa": (1150, 0.8, 0.5, 0.9), "Cwb": (1000, 0.8, -1.0, 0.6),
    "Cwc": (900, 0.8, -2.0, 0.6), "Cfa": (1250, 0.15, 1.0, 0.9), "Cfb": (850, 0.0, 0.0, 0.55),
    "Cfc": (1300, 0.0, -2.0, 0.5), "Dsa": (450, -0.6, -1.0, 1.2), "Dsb": (550, -0.6, -2.0, 1.2),
    "Dsc": (500, -0.5, -4.0, 1.3), "Dsd": (400, -0.4, -6.0, 1.5), "Dwa": (650, 0.85, 0.0, 1.4),
    "Dwb": (600, 0.85, -2.0, 1.4), "Dwc": (450, 0.8, -4.0, 1.5), "Dwd": (350, 0.7, -6.0, 1.7),
    "Dfa": (850, 0.2, 0.5, 1.25), "Dfb": (650, 0.3, -1.0, 1.25), "Dfc": (480, 0.35, -2.5, 1.35),
    "Dfd": (300, 0.4, -5.0, 1.6), "ET": (350, 0.3, -4.0, 0.9), "EF": (150, 0.0, -12.0, 1.0),
}  # fmt: skip
CLASS_PRECIP_MM, CLASS_PRECIP_SEASONALITY, CLASS_TEMPERATURE_OFFSET, CLASS_CONTINENTALITY = (
    np.array(column, dtype=np.float32)
    for column in zip(*(_CLASS_TABLE[n] for n in CLIMATE_NAMES), strict=True)
)
DEFAULT_CLASS = CLIMATE_NAMES.index("Cfb")


@dataclass
class Weather:
    """Daily weather, each array (n_days, n_pixels) float32."""

    precip_mm: np.ndarray
    tair_c: np.ndarray
    pet_mm: np.ndarray
    cloud_fraction: np.ndarray
    shortwave_wm2: np.ndarray


@dataclass
class LargeScaleAnomalies:
    """Synoptic anomalies on global nodes: unit-variance AR(1) fields (n_days, n_lat, n_lon).

    ``node_lat`` ascends from -90 to 90; ``node_lon`` from -180 in steps of the spacing, the
    last node column wrapping to the first (longitude is periodic).
    """

    dates: pd.DatetimeIndex
    node_lat: np.ndarray
    node_lon: np.ndarray
    storm: np.ndarray
    cloud: np.ndarray
    temperature: np.ndarray

    def sample(self, fields: Sequence[str], lat: np.ndarray, lon: np.ndarray) -> list[np.ndarray]:
        """The named fields at pixels, each (n_days, n_pixels), bilinear and unit-variance."""
        at_pixels = self.interpolator(lat, lon)
        return [at_pixels(getattr(self, name).reshape(len(self.dates), -1)) for name in fields]

    def interpolator(self, lat: np.ndarray, lon: np.ndarray) -> _NodeInterpolator:
        """The interpolation from the nodes to the pixels at ``lat``, ``lon``.

        Bilinear weights ``w_i`` of independent unit-variance nodes give a variance
        ``sum w_i^2 < 1`` between nodes; dividing by ``sqrt(sum w_i^2)`` restores 1.
        """
        n_lat, n_lon = self.node_lat.size, self.node_lon.size
        spacing = float(self.node_lat[1] - self.node_lat[0])
        row = np.clip((np.asarray(lat, dtype=float) - self.node_lat[0]) / spacing, 0, n_lat - 1)
        col = (np.asarray(lon, dtype=float) - self.node_lon[0]) / spacing % n_lon
        row0 = np.minimum(np.floor(row).astype(int), n_lat - 2)
        col0 = np.floor(col).astype(int) % n_lon
        col1 = (col0 + 1) % n_lon
        fr, fc = row - row0, col - np.floor(col)
        weights = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc])
        weights /= np.sqrt((weights**2).sum(axis=0))
        nodes = np.stack(
            [row0 * n_lon + col0, row0 * n_lon + col1, (row0 + 1) * n_lon + col0, (row0 + 1) * n_lon + col1]
        )
        used, position = np.unique(nodes, return_inverse=True)
        pixels = np.broadcast_to(np.arange(row.size), nodes.shape)
        matrix = sparse.csr_matrix(
            (weights.ravel().astype(np.float32), (position.ravel(), pixels.ravel())),
            shape=(used.size, row.size),
        )
        return _NodeInterpolator(used, matrix)


@dataclass(frozen=True)
class _NodeInterpolator:
    """Maps (n_days, n_nodes) node values to (n_days, n_pixels) with a sparse matrix."""

    used_nodes: np.ndarray
    matrix: sparse.csr_matrix

    def __call__(self, node_values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(node_values[:, self.used_nodes] @ self.matrix, dtype=np.float32)


def large_scale_anomalies(
    dates: Sequence[date] | pd.DatetimeIndex,
    seed: int,
    year: int,
    spacing_deg: float = NODE_SPACING_DEG,
    previous: LargeScaleAnomalies | None = None,
) -> LargeScaleAnomalies:
    """Global synoptic anomaly fields for ``dates``, deterministic in (seed, year, previous).

    Parameters
    ----------
    dates : the days to cover.
    seed : world seed.
    year : the year being generated (each year draws its own innovations).
    spacing_deg : node spacing in degrees.
    previous : the anomalies of the days just before ``dates`` (the previous year): the AR(1)
        fields continue from its last day, so the weather has no seam at 1 January. Without
        it the first day is drawn from the stationary distribution.

    Returns
    -------
    LargeScaleAnomalies
    """
    return _draw_anomalies(
        pd.DatetimeIndex(dates), np.random.default_rng([seed, year, 5]), spacing_deg, previous
    )


def _draw_anomalies(
    dates: pd.DatetimeIndex,
    rng: np.random.Generator,
    spacing: float,
    previous: LargeScaleAnomalies | None = None,
) -> LargeScaleAnomalies:
    """Draw the AR(1) node fields with ``rng``, continuing from ``previous``'s last day if given."""
    node_lat = np.arange(-90.0, 90.0 + spacing / 2, spacing)
    node_lon = np.arange(-180.0, 180.0 - spacing / 2, spacing)
    shape = (len(dates), node_lat.size, node_lon.size)
    fields = {}
    for name, persistence in (
        ("storm", STORM_PERSISTENCE),
        ("cloud", CLOUD_PERSISTENCE),
        ("temperature", TEMPERATURE_PERSISTENCE),
    ):
        innovations = rng.standard_normal(shape, dtype=np.float32)
        field = np.empty(shape, dtype=np.float32)
        scale = math.sqrt(1.0 - persistence**2)
        if previous is None:
            field[0] = innovations[0]
        else:
            last = getattr(previous, name)[-1]
            if last.shape != shape[1:]:
                raise ValueError(f"previous anomalies are on another node grid: {last.shape} != {shape[1:]}")
            field[0] = persistence * last + scale * innovations[0]
        for day in range(1, shape[0]):
            field[day] = persistence * field[day - 1] + scale * innovations[day]
        fields[name] = field
    return LargeScaleAnomalies(dates, node_lat, node_lon, **fields)


def generate_weather(
    lat: np.ndarray,
    lon: np.ndarray,
    elevation_m: np.ndarray,
    climate_class: np.ndarray,
    dates: Sequence[date] | pd.DatetimeIndex,
    rng: np.random.Generator,
    large_scale: LargeScaleAnomalies | None = None,
) -> Weather:
    """Daily weather at pixels.

    Precipitation parameters (wet-day probability and amount scale) are set per calendar
    month, as in WGEN-type weather generators; temperature and radiation vary daily.

    Parameters
    ----------
    lat, lon, elevation_m : (n_pixels,) pixel centres (degrees) and elevation (m).
    climate_class : (n_pixels,) Koeppen id 0-29; -1 falls back to Cfb.
    dates : the days (n_days).
    rng : per-pixel noise.
    large_scale : shared synoptic anomalies; drawn from ``rng`` (not shared) when None.

    Returns
    -------
    Weather with arrays (n_days, n_pixels).
    """
    dates = pd.DatetimeIndex(dates)
    if large_scale is None:
        large_scale = _draw_anomalies(dates, rng, NODE_SPACING_DEG)
    elif len(large_scale.dates) != len(dates) or not (large_scale.dates == dates).all():
        raise ValueError("large_scale anomalies cover other dates than the weather asked for")
    lat = np.asarray(lat, dtype=np.float32)
    elevation = np.nan_to_num(np.asarray(elevation_m, dtype=np.float32))
    climate = np.asarray(climate_class)
    climate = np.where((climate >= 0) & (climate < len(CLIMATE_NAMES)), climate, DEFAULT_CLASS)
    n_days, n_pixels = len(dates), lat.size
    southern = (lat < 0).astype(int)
    at_pixels = large_scale.interpolator(lat, lon)
    node_fields = [
        getattr(large_scale, name).reshape(n_days, -1) for name in ("storm", "cloud", "temperature")
    ]

    temperature_mean = (
        27.0 - 0.007 * lat**2 + CLASS_TEMPERATURE_OFFSET[climate] - LAPSE_RATE_K_PER_M * elevation
    )
    temperature_amplitude = (1.0 + 0.22 * np.abs(lat)) * CLASS_CONTINENTALITY[climate]
    temperature_noise = 1.5 + 0.06 * np.abs(lat)
    mid_month = pd.date_range("2001-01-01", periods=12, freq="MS").day_of_year.to_numpy() + 14
    orographic = 1.0 + OROGRAPHIC_GAIN_PER_KM * np.clip(elevation / 1000.0, 0.0, 3.0)
    monthly_mean = (
        CLASS_PRECIP_MM[climate]
        * orographic
        / 365.25
        * (1.0 + CLASS_PRECIP_SEASONALITY[climate] * _seasonal_cosine(mid_month)[:, southern])
    )
    monthly_threshold, monthly_scale = _rain_parameters(np.maximum(monthly_mean, 0.01))
    clear_sky_transmission = 0.75 + 2e-5 * np.maximum(elevation, 0.0)
    gamma = 0.000665 * 101.3 * ((293.0 - 0.0065 * elevation) / 293.0) ** 5.26
    unique_lat, lat_index = np.unique(lat, return_inverse=True)
    day_of_year = dates.day_of_year.to_numpy()
    month = dates.month.to_numpy() - 1

    out = Weather(*(np.empty((n_days, n_pixels), np.float32) for _ in range(5)))
    # Blocks of days keep the temporaries small, which is several times faster than whole years.
    for start in range(0, n_days, _DAYS_PER_BLOCK):
        days = slice(start, min(start + _DAYS_PER_BLOCK, n_days))
        block = (days.stop - days.start, n_pixels)
        storm, cloudiness, warmth = (at_pixels(field[days]) for field in node_fields)
        season = _seasonal_cosine(day_of_year[days])[:, southern]
        noise = rng.standard_normal(block, dtype=np.float32)
        tair = (
            temperature_mean
            + temperature_amplitude * season
            + temperature_noise * (0.8 * warmth + 0.6 * noise)
        )

        threshold = monthly_threshold[month[days]]
        latent = math.sqrt(STORM_SHARE) * storm + math.sqrt(1.0 - STORM_SHARE) * rng.standard_normal(
            block, dtype=np.float32
        )
        depth = np.maximum(threshold - latent, 0.0)
        out.precip_mm[days] = monthly_scale[month[days]] * depth * depth

        # Phi((thr + 0.9 - z_c) / 0.6) approximated by a logistic, z_c correlated with the rain.
        cloud = 1.0 / (1.0 + np.exp(-2.8 * (threshold + 0.9 - 0.75 * latent - 0.66 * cloudiness)))
        sunshine = 1.0 - 0.72 * cloud
        shortwave = (
            _top_of_atmosphere_wm2(day_of_year[days], unique_lat)[:, lat_index] * clear_sky_transmission
        )
        shortwave *= sunshine
        out.tair_c[days] = tair
        out.cloud_fraction[days] = cloud
        out.shortwave_wm2[days] = shortwave
        out.pet_mm[days] = _priestley_taylor_mm(tair, shortwave, sunshine, gamma)
    return out


def _rain_parameters(mean_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latent threshold and amount scale giving mean daily precipitation ``mean_mm``.

    Wet-day probability ``p = m / (m + 6 mm)``, threshold ``t = Phi^-1(p)``; with
    ``E[(t - z)^2; z < t] = (t^2 + 1) Phi(t) + t phi(t)`` for a standard normal ``z``, the
    scale ``m / E[...]`` makes ``E[scale (t - z)^2; z < t] = m``.
    """
    wet_probability = mean_mm / (mean_mm + MEAN_WET_DAY_INTENSITY_MM)
    threshold = special.ndtri(wet_probability)
    partial_moment = (threshold**2 + 1.0) * wet_probability + threshold * np.exp(
        -0.5 * threshold**2
    ) / math.sqrt(2.0 * math.pi)
    return threshold.astype(np.float32), (mean_mm / partial_moment).astype(np.float32)


def _seasonal_cosine(day_of_year: np.ndarray) -> np.ndarray:
    """(n_days, 2) cosine of the season, +1 in local midsummer: column 0 north (late July),
    column 1 south (mid January)."""
    peak = np.array([200.0, 17.0])
    return np.cos(2.0 * np.pi * (day_of_year[:, None] - peak) / 365.25).astype(np.float32)


def _top_of_atmosphere_wm2(day_of_year: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Daily-mean extraterrestrial irradiance (FAO-56 eq. 21), (n_days, n_lat) W m-2."""
    day = day_of_year.astype(np.float64)[:, None]
    phi = np.radians(lat.astype(np.float64))[None, :]
    inverse_distance = 1.0 + 0.033 * np.cos(2.0 * np.pi * day / 365.0)
    declination = 0.409 * np.sin(2.0 * np.pi * day / 365.0 - 1.39)
    sunset = np.arccos(np.clip(-np.tan(phi) * np.tan(declination), -1.0, 1.0))
    irradiance = (
        SOLAR_CONSTANT_WM2
        / np.pi
        * inverse_distance
        * (sunset * np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.sin(sunset))
    )
    return np.maximum(irradiance, 0.0).astype(np.float32)


def _priestley_taylor_mm(
    tair_c: np.ndarray, shortwave_wm2: np.ndarray, sunshine: np.ndarray, gamma: np.ndarray
) -> np.ndarray:
    """Priestley-Taylor PET (alpha 1.26) in mm day-1.

    Net radiation ``0.77 Rs - Rnl`` with the FAO-56 net longwave
    ``sigma T^4 (0.34 - 0.14 sqrt(ea)) (1.35 Rs/Rso - 0.35)``, ``ea`` taken as 0.77 of the
    saturation vapour pressure and ``Rs/Rso`` the sunshine factor; ``gamma`` is the
    psychrometric constant (kPa K-1) at the pixel's pressure (FAO-56 eqs. 7-8).
    """
    saturation = 0.6108 * np.exp(17.27 * tair_c / (tair_c + 237.3))
    slope = 4098.0 * saturation / (tair_c + 237.3) ** 2
    kelvin_squared = (tair_c + 273.16) ** 2
    longwave = (
        STEFAN_BOLTZMANN
        * kelvin_squared
        * kelvin_squared
        * (0.34 - 0.14 * np.sqrt(0.77 * saturation))
        * (1.35 * sunshine - 0.35)
    )
    net = 0.77 * shortwave_wm2 - longwave
    return np.maximum(1.26 * slope / (slope + gamma) * net * (86400.0 / 2.45e6), 0.0)
