"""Water balance of the twin world: the TRUE daily soil moisture.

Two soil layers per pixel, a surface layer of 0-5 cm (the product's layer) and a root layer
of 5-50 cm that exchanges water with it, plus a snowpack. One daily step, vectorised over
pixels:

1. Snow: precipitation falls as snow below -1 C, as rain above +1 C (linear in between);
   degree-day melt of 3 mm K-1 day-1 above 0 C.
2. Soil temperature (5 cm) relaxes towards air temperature, slowed and held near 0 C by an
   insulating snowpack; the soil is frozen below 0 C.
3. Infiltration of rain and melt is limited by an infiltration capacity
   ``Ks * 6 h * (3 - 2 Se)`` (a tenth when frozen), ``Ks`` the saturated conductivity
   of Saxton & Rawls (2006) and ``Se`` the relative saturation of the surface layer; the
   excess runs off (infiltration excess). On slopes a further share
   ``0.5 slope/(slope + 2 deg) Se^2`` runs off (saturation excess on hillslopes). What the
   surface layer cannot hold passes to the root layer; what neither can hold runs off.
4. Gravity drainage: each layer loses a share ``1 - exp(-Ks 1 day / 500 mm)`` of its water
   above field capacity per day (a linear reservoir, fast in sands, slow in clays), the
   surface layer into the root layer, the root layer out of the column; diffusive exchange
   ``3 mm/day (Se_1 - Se_2)`` between the layers (capillary rise when the surface is
   drier). Frozen soil passes a tenth of these fluxes.
5. Evapotranspiration: bare-soil evaporation ``PET (1 - v)(1 - snow) beta^1.5`` with
   ``beta = (theta - theta_r)/(theta_fc - theta_r)`` dries the surface down to the residual
   content; transpiration ``PET v stress`` draws 15 % from the surface, 85 % from the root
   layer, down to the wilting point. Frozen soil evaporates at a fifth of the rate.
6. Vegetation green fraction relaxes (15 days) towards ``v_max (0.15 + 0.85 f_T f_W)`` with
   ``f_T`` a ramp of the 15-day mean air temperature (0 at 0 C, 1 at 12 C) and
   ``f_W = sqrt((theta_root - theta_wp)/(theta_fc - theta_wp))``.

The surface layer therefore wets within a day of rain and dries over days, faster on sandy
soils and steep slopes, slower where the root layer is moist.

Example
-------
>>> soil = SoilPixels.from_static(static, rows, cols)
>>> state = initial_state(soil)
>>> simulation, state = simulate(weather, soil, state)
>>> simulation.sm.shape  # (n_days, n_pixels)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.world.static import StaticFields, saturated_conductivity_mm_h
from helpers.world.weather import Weather

SURFACE_DEPTH_MM = 50.0
ROOT_DEPTH_MM = 450.0
DEGREE_DAY_MM = 3.0
RAIN_SNOW_LOW_C = -1.0
RAIN_SNOW_HIGH_C = 1.0
EXCHANGE_MM_PER_DAY = 3.0
SLOPE_HALF_DEG = 2.0
SURFACE_ROOT_SHARE = 0.15
VEGETATION_DAYS = 15.0
GREEN_UP_HALF_C = 6.0
DRAINAGE_SCALE_MM = 500.0


@dataclass
class SoilPixels:
    """Per-pixel static properties used by the water balance, each (n_pixels,) float32."""

    porosity: np.ndarray
    field_capacity: np.ndarray
    wilting_point: np.ndarray
    residual: np.ndarray
    slope_deg: np.ndarray
    vegetation_max: np.ndarray
    sand: np.ndarray
    clay: np.ndarray

    @classmethod
    def from_static(cls, static: StaticFields, rows: np.ndarray, cols: np.ndarray) -> SoilPixels:
        """The properties of the cells ``(rows, cols)`` of ``static``."""
        return cls(
            **{
                name: np.asarray(getattr(static, name)[rows, cols], dtype=np.float32)
                for name in cls.__dataclass_fields__
            }
        )


@dataclass
class SoilState:
    """State carried from one day (or year) to the next, each (n_pixels,) float32.

    ``sm_surface`` and ``sm_root`` in m3 m-3, ``swe_mm`` snow water equivalent; the soil
    temperature, the vegetation green fraction and the 15-day mean air temperature carry the
    slow memory of the land surface.
    """

    sm_surface: np.ndarray
    sm_root: np.ndarray
    swe_mm: np.ndarray
    soil_temp_c: np.ndarray
    vegetation: np.ndarray
    tair_mean_c: np.ndarray


@dataclass
class Simulation:
    """Daily outputs of :func:`simulate`, each (n_days, n_pixels).

    ``sm`` is the TRUE 0-5 cm volumetric soil moisture (m3 m-3), within
    [residual, porosity]; ``sm_root`` the 5-50 cm layer; ``swe_mm`` the snowpack; ``frozen``
    (bool) frozen soil; ``vegetation`` green fraction (0-1); ``evapotranspiration_mm`` and
    ``runoff_mm`` daily fluxes.
    """

    sm: np.ndarray
    sm_root: np.ndarray
    swe_mm: np.ndarray
    frozen: np.ndarray
    vegetation: np.ndarray
    evapotranspiration_mm: np.ndarray
    runoff_mm: np.ndarray


def initial_state(static_pixels: SoilPixels) -> SoilState:
    """A start near field capacity, no snow, mild soil, half-green vegetation.

    Parameters
    ----------
    static_pixels : the pixels' soil properties.

    Returns
    -------
    SoilState; spin the model up (a year) before using its output.
    """
    soil = static_pixels
    moist = soil.wilting_point + 0.8 * (soil.field_capacity - soil.wilting_point)
    n = soil.porosity.size
    return SoilState(
        sm_surface=moist.astype(np.float32),
        sm_root=moist.astype(np.float32),
        swe_mm=np.zeros(n, np.float32),
        soil_temp_c=np.full(n, 5.0, np.float32),
        vegetation=(0.5 * soil.vegetation_max).astype(np.float32),
        tair_mean_c=np.full(n, 10.0, np.float32),
    )


@dataclass
class _Constants:
    """Per-pixel quantities of the water balance that do not change from day to day, each (n_pixels,)."""

    drain_share: np.ndarray
    infiltration_hours: np.ndarray
    pore_range: np.ndarray
    slope_runoff_share: np.ndarray
    beta_range: np.ndarray
    stress_range: np.ndarray
    water_range: np.ndarray
    surface_room_max: np.ndarray
    root_room_max: np.ndarray

    @classmethod
    def of(cls, soil: SoilPixels) -> _Constants:
        """The constants of ``soil`` (Saxton & Rawls conductivity, ranges floored at 1e-3)."""
        porosity, fc, wp, residual = soil.porosity, soil.field_capacity, soil.wilting_point, soil.residual
        ks_mm_h, _ = saturated_conductivity_mm_h(porosity, fc, wp)
        ks_day = ks_mm_h * 24.0
        return cls(
            drain_share=1.0 - np.exp(-ks_day / DRAINAGE_SCALE_MM),
            infiltration_hours=6.0 * ks_mm_h,
            pore_range=porosity - residual,
            slope_runoff_share=0.5 * soil.slope_deg / (soil.slope_deg + SLOPE_HALF_DEG),
            beta_range=np.maximum(fc - residual, 1e-3),
            stress_range=np.maximum(0.75 * (fc - wp), 1e-3),
            water_range=np.maximum(fc - wp, 1e-3),
            surface_room_max=porosity * SURFACE_DEPTH_MM,
            root_room_max=porosity * ROOT_DEPTH_MM,
        )


def _empty_simulation(n_days: int, n_pixels: int) -> Simulation:
    """A :class:`Simulation` of uninitialised (n_days, n_pixels) arrays to fill day by day."""
    floats = lambda: np.empty((n_days, n_pixels), np.float32)  # noqa: E731
    return Simulation(
        sm=floats(),
        sm_root=floats(),
        swe_mm=floats(),
        frozen=np.empty((n_days, n_pixels), bool),
        vegetation=floats(),
        evapotranspiration_mm=floats(),
        runoff_mm=floats(),
    )


def _snow(state: SoilState, tair: np.ndarray, precip: np.ndarray) -> np.ndarray:
    """Step 1: add snowfall to and melt from ``state.swe_mm`` (in place); returns the liquid water
    reaching the soil (rain plus melt, mm)."""
    swe = state.swe_mm
    snow_share = np.clip((RAIN_SNOW_HIGH_C - tair) / (RAIN_SNOW_HIGH_C - RAIN_SNOW_LOW_C), 0.0, 1.0)
    swe += precip * snow_share
    melt = np.minimum(swe, DEGREE_DAY_MM * np.maximum(tair, 0.0))
    swe -= melt
    return precip * (1.0 - snow_share) + melt


def _soil_temperature(state: SoilState, tair: np.ndarray) -> np.ndarray:
    """Step 2: relax ``state.soil_temp_c`` (in place) towards the air temperature under the
    snowpack's insulation; returns the frozen mask (soil below 0 C)."""
    swe = state.swe_mm
    insulation = swe / (swe + 30.0)
    target = tair - insulation * (tair - 0.1 * np.minimum(tair, 0.0))
    state.soil_temp_c += 0.35 * (1.0 - 0.9 * insulation) * (target - state.soil_temp_c)
    return state.soil_temp_c < 0.0


def _infiltrate(
    state: SoilState, soil: SoilPixels, const: _Constants, water_in: np.ndarray, thaw: np.ndarray
) -> np.ndarray:
    """Step 3: infiltrate ``water_in`` into the surface, then the root layer (in place); returns the
    runoff (infiltration excess, hillslope saturation excess and what neither layer holds, mm)."""
    theta1, theta2 = state.sm_surface, state.sm_root
    wetness1 = (theta1 - soil.residual) / const.pore_range
    capacity = const.infiltration_hours * (3.0 - 2.0 * wetness1) * thaw
    infiltrating = np.minimum(water_in, capacity)
    runoff = water_in - infiltrating
    hillslope = infiltrating * const.slope_runoff_share * wetness1 * wetness1
    infiltrating -= hillslope
    to_surface = np.minimum(infiltrating, const.surface_room_max - theta1 * SURFACE_DEPTH_MM)
    theta1 += to_surface / SURFACE_DEPTH_MM
    passing = infiltrating - to_surface
    to_root = np.minimum(passing, const.root_room_max - theta2 * ROOT_DEPTH_MM)
    theta2 += to_root / ROOT_DEPTH_MM
    runoff += hillslope + passing - to_root
    return runoff


def _drain(state: SoilState, soil: SoilPixels, const: _Constants, thaw: np.ndarray) -> None:
    """Step 4: gravity drainage and diffusive exchange between the layers, out of the root layer
    (in place)."""
    theta1, theta2 = state.sm_surface, state.sm_root
    fc, residual = soil.field_capacity, soil.residual
    drain1 = const.drain_share * np.maximum(theta1 - fc, 0.0) * SURFACE_DEPTH_MM
    exchange = EXCHANGE_MM_PER_DAY * (theta1 - theta2) / const.pore_range
    downward = np.minimum((drain1 + exchange) * thaw, const.root_room_max - theta2 * ROOT_DEPTH_MM)
    upward_limit = np.minimum(
        (theta2 - residual) * ROOT_DEPTH_MM, const.surface_room_max - theta1 * SURFACE_DEPTH_MM
    )
    downward = np.maximum(downward, -upward_limit)
    theta1 -= downward / SURFACE_DEPTH_MM
    theta2 += downward / ROOT_DEPTH_MM
    theta2 -= const.drain_share * thaw * np.maximum(theta2 - fc, 0.0)


def _evapotranspire(
    state: SoilState, soil: SoilPixels, const: _Constants, pet: np.ndarray, frozen: np.ndarray
) -> np.ndarray:
    """Step 5: bare-soil evaporation and transpiration from both layers, then both layers clipped
    to [residual, porosity] (in place); returns the evapotranspiration (mm)."""
    theta1, theta2, swe = state.sm_surface, state.sm_root, state.swe_mm
    residual, wp = soil.residual, soil.wilting_point
    snow_cover = swe / (swe + 5.0)
    demand = pet * (1.0 - 0.8 * frozen)
    beta = np.clip((theta1 - residual) / const.beta_range, 0.0, 1.0)
    evaporation = demand * (1.0 - state.vegetation) * (1.0 - snow_cover) * beta * np.sqrt(beta)
    stress1 = np.clip((theta1 - wp) / const.stress_range, 0.0, 1.0)
    stress2 = np.clip((theta2 - wp) / const.stress_range, 0.0, 1.0)
    transpiration = demand * state.vegetation * (1.0 - 0.5 * snow_cover)
    from_surface = np.minimum(
        evaporation + transpiration * SURFACE_ROOT_SHARE * stress1,
        np.maximum(theta1 - residual, 0.0) * SURFACE_DEPTH_MM,
    )
    from_root = np.minimum(
        transpiration * (1.0 - SURFACE_ROOT_SHARE) * stress2, np.maximum(theta2 - wp, 0.0) * ROOT_DEPTH_MM
    )
    theta1 -= from_surface / SURFACE_DEPTH_MM
    theta2 -= from_root / ROOT_DEPTH_MM
    np.clip(theta1, residual, soil.porosity, out=theta1)
    np.clip(theta2, residual, soil.porosity, out=theta2)
    return from_surface + from_root


def _green_up(state: SoilState, soil: SoilPixels, const: _Constants, tair: np.ndarray) -> None:
    """Step 6: update the 15-day mean air temperature and relax the vegetation green fraction
    towards its temperature- and water-limited target (in place)."""
    state.tair_mean_c += (tair - state.tair_mean_c) / VEGETATION_DAYS
    temperature_limit = np.clip((state.tair_mean_c - GREEN_UP_HALF_C) / 12.0 + 0.5, 0.0, 1.0)
    water_limit = np.sqrt(np.clip((state.sm_root - soil.wilting_point) / const.water_range, 0.0, 1.0))
    green_target = soil.vegetation_max * (0.15 + 0.85 * temperature_limit * water_limit)
    state.vegetation += (green_target - state.vegetation) / VEGETATION_DAYS


def simulate(weather: Weather, soil: SoilPixels, state: SoilState) -> tuple[Simulation, SoilState]:
    """Run the daily water balance over the days of ``weather``.

    Parameters
    ----------
    weather : forcing, arrays (n_days, n_pixels).
    soil : static soil properties of the same pixels.
    state : state at the start of the first day (not modified).

    Returns
    -------
    (Simulation, SoilState): daily outputs and the state after the last day.
    """
    n_days, n_pixels = weather.precip_mm.shape
    out = _empty_simulation(n_days, n_pixels)
    const = _Constants.of(soil)
    # a float32 working copy, updated in place day by day (the caller's state stays as it was)
    now = SoilState(**{name: np.array(value, dtype=np.float32) for name, value in vars(state).items()})

    for day in range(n_days):
        tair = weather.tair_c[day]
        water_in = _snow(now, tair, weather.precip_mm[day])
        frozen = _soil_temperature(now, tair)
        thaw = 1.0 - 0.9 * frozen
        runoff = _infiltrate(now, soil, const, water_in, thaw)
        _drain(now, soil, const, thaw)
        evapotranspiration = _evapotranspire(now, soil, const, weather.pet_mm[day], frozen)
        _green_up(now, soil, const, tair)

        out.sm[day] = now.sm_surface
        out.sm_root[day] = now.sm_root
        out.swe_mm[day] = now.swe_mm
        out.frozen[day] = frozen
        out.vegetation[day] = now.vegetation
        out.evapotranspiration_mm[day] = evapotranspiration
        out.runoff_mm[day] = runoff

    return out, now
