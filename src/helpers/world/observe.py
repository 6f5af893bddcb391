"""Observations of the twin world's truth, each with the errors of its real counterpart.

Every function takes the truth (from :mod:`helpers.world.hydrology`) and a
``numpy.random.Generator`` and returns what the corresponding product would show:

* :func:`target_like`: GLASS-MODIS SM (training target), slightly smoothed, small noise.
* :func:`era5_like`: ERA5-Land ``swvl1``, a 0-7 cm blend, lagged and damped, wet-biased
  (:func:`wet_bias_field`), with slowly varying model error.
* :func:`albedo_daily`: GLASS AVHRR albedo before compositing, darker when wetter, shaped by
  vegetation and snow, with NOAA platform steps; :func:`composite_8day` with
  :func:`clear_sky_mask` makes the 8-day product with its cloud and snow gaps.
* :func:`lst_like`: GLASS AVHRR LST, hotter when drier, following the air temperature.
* :func:`cci_like`: ESA CCI SM, noisy, with flagged gaps over frozen soil, snow and dense
  vegetation.
* :func:`ismn_like`: an ISMN 0-5 cm station, with representativeness offset and gain, AR(1)
  noise and ISMN quality flags.
* :func:`cosmos_like`: a cosmic-ray probe, with a wetness-dependent sensing depth over the
  two soil layers.
* :func:`smap_core_site_like`: a SMAP core validation site, the upscaled 9 km average.

Dynamic arrays are (n_days, n_pixels) float32 unless stated otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
from scipy import signal

from helpers.params import ALBEDO_BANDS

CCI_FLAG_FROZEN_OR_SNOW = 1
CCI_FLAG_DENSE_VEGETATION = 2
CCI_FLAG_NO_RETRIEVAL = 4
ISMN_PLAUSIBLE_MAX = 0.6
ERA5_LAYER_SURFACE_SHARE = 0.55
ERA5_DAMPING = 0.8
ERA5_ERROR_PERSISTENCE = 0.97
_DAYS_PER_BLOCK = 16


def target_like(sm: np.ndarray, rng: np.random.Generator, noise: float = 0.01) -> np.ndarray:
    """GLASS-MODIS-like training target.

    GLASS-MODIS SM is itself a model estimate from MODIS optical/thermal data: seamless, a
    little smoother than the truth, with small random errors. Imitated as a 1-2-1 running
    mean over days plus Gaussian noise of ``noise`` m3 m-3; no gaps.

    Parameters
    ----------
    sm : (n_days, n_pixels) truth.
    rng : random generator.
    noise : standard deviation of the random error.

    Returns
    -------
    (n_days, n_pixels) float32, at least 0.01.
    """
    padded = np.concatenate([sm[:1], sm, sm[-1:]], axis=0)
    smooth = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    noisy = smooth + noise * rng.standard_normal(sm.shape, dtype=np.float32)
    return np.maximum(noisy, 0.01).astype(np.float32)


def wet_bias_field(climate_class: np.ndarray, clay: np.ndarray) -> np.ndarray:
    """ERA5-Land-like wet bias per pixel (m3 m-3), 0.03-0.08.

    ERA5-Land overestimates surface soil moisture nearly everywhere, most in drylands
    (its soil parameters hold more water than sandy desert soils) and in the tropics. Base
    bias by Koeppen group (A 0.055, B 0.055, C 0.04, D 0.045, E 0.035) plus
    ``0.02 (1 - clay/40)`` for light soils, clipped to [0.03, 0.08].

    Parameters
    ----------
    climate_class : Koeppen id 0-29 (-1: none, treated as C).
    clay : percent.

    Returns
    -------
    float32 array of the same shape.
    """
    climate = np.asarray(climate_class)
    group_bias = np.select(
        [climate < 0, climate <= 2, climate <= 6, climate <= 15, climate <= 27],
        [0.04, 0.055, 0.055, 0.04, 0.045],
        default=0.035,
    )
    texture_bias = 0.02 * (1.0 - np.asarray(clay, dtype=np.float32) / 40.0)
    return np.clip(group_bias + texture_bias, 0.03, 0.08).astype(np.float32)


def era5_like(
    sm_cells: np.ndarray,
    sm_root_cells: np.ndarray,
    wet_bias: np.ndarray,
    rng: np.random.Generator,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """ERA5-Land-like ``swvl1`` on the coarse nodes.

    ERA5-Land's layer 1 spans 0-7 cm and is driven by reanalysis forcing: it reacts to rain
    more slowly and less strongly than the 0-5 cm truth, carries a wet bias, and its forcing
    and model errors decorrelate over weeks. Imitated as::

        x = 0.55 sm + 0.45 sm_root        (deeper layer)
        s = exponential filter of x, 2-day time constant   (lag, smoothing)
        era5 = mean(s) + 0.8 (s - mean(s)) + wet_bias + e
        e: AR(1), lag-1 correlation 0.97, std 0.005 + 0.5 std(s)

    giving a temporal correlation with the truth of roughly 0.6-0.85.

    Parameters
    ----------
    sm_cells, sm_root_cells : (n_days, n_nodes) truth averaged to the nodes (finite).
    wet_bias : (n_nodes,) bias, see :func:`wet_bias_field`.
    rng : random generator.
    state : carries the series from one year into the next, as a reanalysis runs on without a
        break: the filter's and the error's last values, and the mean and spread of ``s``
        (taken from the first year and then kept). Empty or None: a year on its own. Updated
        in place.

    Returns
    -------
    (n_days, n_nodes) float32 in [0.02, 0.75].
    """
    state = {} if state is None else state
    blend = ERA5_LAYER_SURFACE_SHARE * sm_cells + (1.0 - ERA5_LAYER_SURFACE_SHARE) * sm_root_cells
    smoothing = 1.0 - np.exp(-1.0 / 2.0)
    previous = state.get("smooth", blend[0])
    smooth, _ = signal.lfilter(
        [smoothing], [1.0, smoothing - 1.0], blend, axis=0, zi=(1.0 - smoothing) * previous[None, :]
    )
    if "mean" not in state:
        state["mean"], state["spread"] = smooth.mean(axis=0), smooth.std(axis=0)
    mean, spread = state["mean"], state["spread"]
    unit_error = _ar1(rng, smooth.shape, ERA5_ERROR_PERSISTENCE, state.get("error"))
    state["smooth"], state["error"] = smooth[-1], unit_error[-1]
    era5 = mean + ERA5_DAMPING * (smooth - mean) + np.asarray(wet_bias) + unit_error * (0.005 + 0.5 * spread)
    return np.clip(era5, 0.02, 0.75).astype(np.float32)


def albedo_daily(
    sm: np.ndarray,
    vegetation: np.ndarray,
    swe_mm: np.ndarray,
    sand: np.ndarray,
    dates: Sequence[date] | pd.DatetimeIndex,
    satellite_changes: Sequence[date],
    rng: np.random.Generator,
    calibration_seed: int = 0,
    noise_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """AVHRR-like daily albedo in the six GLASS bands (before 8-day compositing).

    Soil: dry-soil albedo ``0.10 + 0.20 sand/100`` in the visible (bright sands), 1.5 times
    plus 0.05 in the near infrared, darkened by water as ``(1 - 1.1 min(sm, 0.5))`` (wet soil
    is about half as bright). Green vegetation (fraction ``v``) has 0.04 (VIS) and 0.30 (NIR);
    snow (cover ``swe/(swe + 10 mm)``, partly hidden by vegetation) 0.85 and 0.65. Shortwave
    is ``0.5 VIS + 0.5 NIR``; white-sky = black-sky times 1.04. Successive NOAA satellites
    (a new one at each date in ``satellite_changes``) differ in calibration: each platform
    has a gain ``1 + N(0, 0.03)`` and offset ``N(0, 0.005)`` per band, drawn from
    ``(calibration_seed, platform start)`` so that every tile and year sees the same steps.
    Retrieval noise (residual atmospheric effects, common to the bands): 0.004 (VIS) and
    0.006 (NIR) times one standard normal draw per pixel and day.

    Parameters
    ----------
    sm, vegetation, swe_mm : (n_days, n_pixels) truth.
    sand : (n_pixels,) percent.
    dates : the days (n_days).
    satellite_changes : dates at which a new platform takes over.
    rng : random generator (retrieval noise).
    calibration_seed : seed of the platform calibrations (use the world seed).
    noise_scale : multiplies the retrieval noise (1: AVHRR-like; less for a better sensor).

    Returns
    -------
    {band: (n_days, n_pixels) float32 in [0, 1]} for the bands of ``ALBEDO_BANDS``.
    """
    dates = pd.DatetimeIndex(dates)
    shape = np.shape(sm)
    dry = 0.10 + 0.20 * np.asarray(sand, dtype=np.float32) / 100.0
    platform_index, platform_starts = _platforms(dates, satellite_changes)
    spectra = {
        "VIS": (dry, 0.04, 0.85, 0.004, *_platform_calibration(calibration_seed, platform_starts, "VIS")),
        "NIR": (
            1.5 * dry + 0.05,
            0.30,
            0.65,
            0.006,
            *_platform_calibration(calibration_seed, platform_starts, "NIR"),
        ),
    }
    out = {band: np.empty(shape, np.float32) for band in ALBEDO_BANDS}
    for start in range(0, shape[0], _DAYS_PER_BLOCK):
        days = slice(start, start + _DAYS_PER_BLOCK)
        green = vegetation[days]
        wet_soil = (1.0 - green) * (1.0 - 1.1 * np.minimum(sm[days], 0.5))
        snow = swe_mm[days] / (swe_mm[days] + 10.0) * (1.0 - 0.6 * green)
        noise = noise_scale * rng.standard_normal(green.shape, dtype=np.float32)
        platform = platform_index[days]
        observed = {}
        for name, (soil_dry, leaf, snow_albedo, noise_std, gain, offset) in spectra.items():
            surface = wet_soil * soil_dry + green * leaf
            surface += snow * (snow_albedo - surface)
            observed[name] = surface * gain[platform][:, None] + (
                offset[platform][:, None] + noise_std * noise
            )
        observed["shortwave"] = 0.5 * (observed["VIS"] + observed["NIR"])
        for band in ALBEDO_BANDS:
            kind, spectral = band.split("_")[1:]
            np.clip(observed[spectral] * (1.0 if kind == "BSA" else 1.04), 0.0, 1.0, out=out[band][days])
    return out


def _platforms(dates: pd.DatetimeIndex, changes: Sequence[date]) -> tuple[np.ndarray, list[int]]:
    """Index of the platform flying on each day and the start ordinal of each platform."""
    starts = sorted(pd.Timestamp(change) for change in changes)
    index = np.searchsorted(np.array(starts, dtype="datetime64[ns]"), dates.to_numpy(), side="right")
    return index, [0] + [start.toordinal() for start in starts]


def _platform_calibration(seed: int, starts: list[int], band: str) -> tuple[np.ndarray, np.ndarray]:
    """Gain and offset of each platform for one band, fixed by (seed, platform start, band)."""
    draws = [np.random.default_rng([seed, start, *band.encode()]).standard_normal(2) for start in starts]
    gain = np.array([1.0 + 0.03 * d[0] for d in draws], dtype=np.float32)
    offset = np.array([0.005 * d[1] for d in draws], dtype=np.float32)
    return gain, offset


def clear_sky_mask(cloud_fraction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whether the satellite overpass sees the ground: clear with probability ``1 - cloud``.

    Parameters
    ----------
    cloud_fraction : (n_days, n_pixels) 0-1.
    rng : random generator.

    Returns
    -------
    bool array of the same shape.
    """
    return rng.random(np.shape(cloud_fraction), dtype=np.float32) >= cloud_fraction


def composite_8day(
    daily: dict[str, np.ndarray],
    clear_sky: np.ndarray,
    snow: np.ndarray,
    dates: Sequence[date] | pd.DatetimeIndex,
    composite_starts: Sequence[date],
) -> dict[str, np.ndarray]:
    """8-day composites like the GLASS AVHRR albedo product.

    Each composite is the mean of the clear-sky, snow-free days in the 8 days from its start
    date; NaN (a gap) where there is none (persistent cloud or snow).

    Parameters
    ----------
    daily : {band: (n_days, n_pixels)}.
    clear_sky, snow : (n_days, n_pixels) bool.
    dates : the days of ``daily`` (n_days, consecutive).
    composite_starts : first day of each composite (n_composites).

    Returns
    -------
    {band: (n_composites, n_pixels) float32}.
    """
    dates = pd.DatetimeIndex(dates)
    usable = np.asarray(clear_sky) & ~np.asarray(snow)
    day_numbers = dates.to_numpy().astype("datetime64[D]")
    starts = pd.DatetimeIndex(composite_starts).to_numpy().astype("datetime64[D]")
    first = np.searchsorted(day_numbers, starts, side="left")
    last = np.searchsorted(day_numbers, starts + np.timedelta64(8, "D"), side="left")
    n_pixels = usable.shape[1]
    out = {band: np.full((starts.size, n_pixels), np.nan, np.float32) for band in daily}
    for index, (begin, end) in enumerate(zip(first, last, strict=True)):
        window = usable[begin:end]
        count = window.sum(axis=0)
        seen = count > 0
        for band, values in daily.items():
            total = np.where(window, values[begin:end], 0.0).sum(axis=0, dtype=np.float32)
            out[band][index, seen] = total[seen] / count[seen]
    return out


def lst_like(
    sm: np.ndarray,
    tair_c: np.ndarray,
    shortwave_wm2: np.ndarray,
    vegetation: np.ndarray,
    porosity: np.ndarray,
    clear_sky: np.ndarray,
    rng: np.random.Generator,
    overpass_offset_k: float = 4.0,
    noise_k: float = 1.0,
) -> np.ndarray:
    """AVHRR-like daytime land-surface temperature in K; NaN under clouds.

    The afternoon overpass sees the surface warmer than the daily-mean air temperature (the
    overpass offset) and warmer still where little of the absorbed radiation goes into
    evaporation::

        EF = v * 0.8 + (1 - v) * 0.9 * w,   w = clip((sm - 0.02)/(0.75 porosity - 0.02), 0, 1)
        LST = Tair + 273.15 + offset + 0.04 Rs (1 - EF) + N(0, noise_k), noise_k = 1 K

    so LST falls as soil moisture rises, follows the air temperature (its lapse rate and
    seasonal cycle come through) and is hottest over dry bare soil in strong sun.

    Parameters
    ----------
    sm, tair_c, shortwave_wm2, vegetation, clear_sky : (n_days, n_pixels).
    porosity : (n_pixels,) m3 m-3.
    rng : random generator.
    overpass_offset_k : surface minus daily-mean air temperature at the overpass.
    noise_k : standard deviation of the retrieval error (1 K: AVHRR-like).

    Returns
    -------
    (n_days, n_pixels) float32 kelvin, NaN where not clear.
    """
    reference = np.maximum(0.75 * np.asarray(porosity, dtype=np.float32) - 0.02, 0.05)
    out = np.empty(np.shape(sm), np.float32)
    for start in range(0, out.shape[0], _DAYS_PER_BLOCK):
        days = slice(start, start + _DAYS_PER_BLOCK)
        green = vegetation[days]
        wetness = np.clip((sm[days] - 0.02) / reference, 0.0, 1.0)
        evaporative_fraction = 0.8 * green + 0.9 * (1.0 - green) * wetness
        noise = rng.standard_normal(green.shape, dtype=np.float32)
        lst = (
            tair_c[days]
            + (273.15 + overpass_offset_k)
            + 0.04 * shortwave_wm2[days] * (1.0 - evaporative_fraction)
        )
        out[days] = np.where(clear_sky[days], lst + noise_k * noise, np.nan)
    return out


def cci_like(
    sm_cells: np.ndarray,
    frozen_cells: np.ndarray,
    snow_cells: np.ndarray,
    dense_veg_cells: np.ndarray,
    rng: np.random.Generator,
    missing_share: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """ESA CCI SM-like (COMBINED) daily soil moisture with its ``flag`` bit field.

    Microwave retrievals carry a random error of about 0.04-0.06 m3 m-3 (here
    ``N(0, 0.05)``) and a small cell bias (``N(0, 0.02)``); they are not retrieved, and
    flagged with the CCI bits, over frozen soil or snow (1
    ``snow_coverage_or_temperature_below_zero``) and dense vegetation (2
    ``dense_vegetation``); on a share ``missing_share`` of the other days no satellite
    passed or the retrieval failed (4 ``others_no_convergence_in_the_model``).

    Parameters
    ----------
    sm_cells, frozen_cells, snow_cells : (n_days, n_cells) truth on the CCI grid; bool masks.
    dense_veg_cells : (n_cells,) bool.
    rng : random generator.
    missing_share : share of days without a retrieval.

    Returns
    -------
    sm : (n_days, n_cells) float32, NaN in gaps; flag : uint8 of the same shape.
    """
    shape = np.shape(sm_cells)
    flag = np.zeros(shape, np.uint8)
    flag |= np.where(np.asarray(frozen_cells) | np.asarray(snow_cells), CCI_FLAG_FROZEN_OR_SNOW, 0).astype(
        np.uint8
    )
    flag |= np.where(np.broadcast_to(dense_veg_cells, shape), CCI_FLAG_DENSE_VEGETATION, 0).astype(np.uint8)
    missing = (flag == 0) & (rng.random(shape, dtype=np.float32) < missing_share)
    flag |= np.where(missing, CCI_FLAG_NO_RETRIEVAL, 0).astype(np.uint8)
    cell_bias = 0.02 * rng.standard_normal(shape[1:], dtype=np.float32)
    noisy = sm_cells + cell_bias + 0.05 * rng.standard_normal(shape, dtype=np.float32)
    sm = np.where((flag == 0) & np.isfinite(sm_cells), np.clip(noisy, 0.0, 0.6), np.nan)
    return sm.astype(np.float32), flag


def ismn_like(
    sm_cell_series: np.ndarray,
    frozen: np.ndarray,
    tair_c: np.ndarray,
    rng: np.random.Generator,
    persistent_rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ISMN-like 0-5 cm station series with ISMN quality flags.

    A point sensor sees its own spot, not the grid-cell mean (representativeness error):
    ``value = m + offset + gain (x - m) + e`` with ``x`` the cell truth, ``m`` its mean,
    a persistent station ``offset ~ N(0, 0.04)`` and ``gain ~ logN(0, 0.2)``, and ``e`` AR(1)
    sensor/point noise (lag-1 correlation 0.9, std 0.02). Dielectric sensors see only liquid
    water, so frozen soil reads 40 % of its water content; rare spikes (0.2 % of days,
    ``N(0, 0.3)``) imitate sensor faults. Flags follow ISMN: ``D01`` soil temperature below
    0 C (stations with a soil thermometer, 70 %) or ``D03`` (the GLDAS soil-temperature
    check, the others) on frozen days, ``D02`` air temperature below 0 C, ``C01`` value below
    0 and ``C02`` above 0.6 m3 m-3 (values then clipped to [0, 0.6]), otherwise ``G``.

    Parameters
    ----------
    sm_cell_series, frozen, tair_c : (n_days,) or (n_days, n_stations) truth of the cell.
    rng : random generator (noise).
    persistent_rng : generator of the station properties (offset, gain, thermometer); pass
        one seeded per station set (not per year) so stations keep them over the years;
        defaults to ``rng``.

    Returns
    -------
    values : float32 m3 m-3; flags : str array ('G', 'D01', ...), both shaped like the input.
    """
    truth = np.asarray(sm_cell_series, dtype=np.float32)
    series = truth if truth.ndim == 2 else truth[:, None]
    n_stations = series.shape[1]
    station_rng = rng if persistent_rng is None else persistent_rng
    offset = 0.04 * station_rng.standard_normal(n_stations)
    gain = np.exp(0.2 * station_rng.standard_normal(n_stations))
    has_thermometer = station_rng.random(n_stations) < 0.7
    mean = np.nanmean(series, axis=0)
    frozen = np.asarray(frozen).reshape(series.shape)
    point = mean + offset + gain * (series - mean) + 0.02 * _ar1(rng, series.shape, 0.9)
    spikes = (rng.random(series.shape) < 0.002) * 0.3 * rng.standard_normal(series.shape)
    raw = np.where(frozen, 0.4, 1.0) * point + spikes
    cold_air = np.asarray(tair_c).reshape(series.shape) < 0.0
    flags = np.full(series.shape, "G", dtype="<U3")
    flags[raw < 0.0] = "C01"
    flags[raw > ISMN_PLAUSIBLE_MAX] = "C02"
    flags[cold_air] = "D02"
    flags[frozen & has_thermometer] = "D01"
    flags[frozen & ~has_thermometer] = "D03"
    values = np.clip(raw, 0.0, ISMN_PLAUSIBLE_MAX).astype(np.float32)
    return values.reshape(truth.shape), flags.reshape(truth.shape)


def cosmos_like(
    sm_surface: np.ndarray, sm_root: np.ndarray, depth_cm: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Cosmic-ray neutron probe (COSMOS) soil moisture and its daily sensing depth.

    The probe senses a wetness-dependent depth: after Franz et al. (2012),
    ``z86 ~ 1 / (theta + 0.0829)``, scaled so that the median depth over the series is
    ``depth_cm`` (wetter: shallower). Sensitivity decays exponentially with depth
    (86 % of the signal above ``z86``); the value is that weighted average of the 0-5 cm
    and 5-50 cm layers plus counting noise ``N(0, 0.01)``, hence smoother than the surface.

    Parameters
    ----------
    sm_surface, sm_root : (n_days,) or (n_days, n_stations) truth of the cell.
    depth_cm : median sensing depth of the network (21, 22, 30 cm ...).
    rng : random generator.

    Returns
    -------
    values : float32 m3 m-3; depths : float32 cm; both shaped like the input.
    """
    surface = np.asarray(sm_surface, dtype=np.float32)
    root = np.asarray(sm_root, dtype=np.float32)
    column = 0.2 * surface + 0.8 * root
    inverse = 1.0 / (column + 0.0829)
    depths = depth_cm * inverse / np.nanmedian(inverse, axis=0)
    decay = depths / -np.log(1.0 - 0.86)
    surface_weight = 1.0 - np.exp(-5.0 / decay)
    root_weight = np.exp(-5.0 / decay) - np.exp(-50.0 / decay)
    values = (surface_weight * surface + root_weight * root) / (surface_weight + root_weight)
    values = values + 0.01 * rng.standard_normal(surface.shape, dtype=np.float32)
    return np.clip(values, 0.0, 0.7).astype(np.float32), depths.astype(np.float32)


def smap_core_site_like(sm_cells_window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SMAP core validation site: the upscaled 9 km average of a small window of cells.

    Dense in-situ networks are upscaled to the 9 km footprint; the remaining error is small:
    a site offset ``N(0, 0.01)`` and daily noise ``N(0, 0.01)``.

    Parameters
    ----------
    sm_cells_window : (n_days, ...) truth of the cells in the 9 km window.
    rng : random generator.

    Returns
    -------
    (n_days,) float32 m3 m-3.
    """
    window = np.asarray(sm_cells_window, dtype=np.float32)
    mean = np.nanmean(window.reshape(window.shape[0], -1), axis=1)
    noisy = mean + 0.01 * rng.standard_normal() + 0.01 * rng.standard_normal(mean.shape, dtype=np.float32)
    return np.maximum(noisy, 0.0).astype(np.float32)


def _ar1(
    rng: np.random.Generator, shape: tuple[int, ...], persistence: float, previous: np.ndarray | None = None
) -> np.ndarray:
    """Unit-variance AR(1) series along axis 0: stationary from the first day, or continuing
    from ``previous`` (the value on the day before)."""
    innovations = rng.standard_normal(shape, dtype=np.float32)
    scale = np.sqrt(1.0 - persistence**2)
    initial = innovations[:1] * (1.0 - scale) if previous is None else persistence * np.asarray(previous)[None]
    series, _ = signal.lfilter([scale], [1.0, -persistence], innovations, axis=0, zi=initial)
    return series.astype(np.float32)
