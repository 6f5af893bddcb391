"""Writers of tiny ERA5-Land ``swvl1`` files with the structure ECMWF ships (test fixtures).

Each writer takes valid times, node axes and values ``(time, lat, lon)`` (m3 m-3, NaN
missing) and writes one file as the CDS delivers it; the source of each structural fact is
given where it is used. Tags as in the reader's docstring: [doc] provider documentation,
[code] public reader code or tool output, [issues] public issue threads, [open] not settled
(a plausible choice, that the reader must not rely on).

* :func:`write_legacy_netcdf`: the legacy CDS NetCDF (``time`` in hours since 1900, int16
  packed, optional ``expver`` dimension);
* :func:`write_cds_netcdf`: the new CDS NetCDF (``valid_time`` in seconds since 1970, scalar
  ``number``, ``expver`` variable or dimension, ``stored_direction``);
* :func:`write_daily_statistics`: ``derived-era5-land-daily-statistics`` daily means, new layout;
* :func:`write_grib`: GRIB messages written with ecCodes (``eccodes`` package), hourly analyses
  or ``(time, step)`` forecasts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np

INT16_FILL = np.int16(-32767)  # legacy _FillValue and missing_value [code: ncdump of a legacy CDS ERA5 file]


def hourly(start: dt.date, days: int, hours: range | list[int] = range(24)) -> np.ndarray:
    """Valid times (datetime64[s]) of ``hours`` on each of ``days`` days from ``start``."""
    base = np.datetime64(start, "s")
    return np.array(
        [base + np.timedelta64(d * 86400 + h * 3600, "s") for d in range(days) for h in hours],
        dtype="datetime64[s]",
    )


def daily(start: dt.date, days: int) -> np.ndarray:
    """Valid times at 00:00 of ``days`` days from ``start`` (datetime64[s])."""
    return hourly(start, days, [0])


def _global_attrs(nc: netCDF4.Dataset, new: bool) -> None:
    if new:
        # the new CDS converter is cfgrib-based [doc: ECMWF CKB "GRIB to netCDF conversion on new CDS
        # and ADS systems"]; these are the global attributes cfgrib writes [code: cfgrib output]
        nc.GRIB_centre = "ecmf"
        nc.GRIB_centreDescription = "European Centre for Medium-Range Weather Forecasts"
        nc.GRIB_subCentre = np.int64(0)
        nc.Conventions = "CF-1.7"
        nc.institution = "European Centre for Medium-Range Weather Forecasts"
        nc.history = "GRIB to CDM+CF via cfgrib-0.9.14.1/ecCodes-2.36.0 with {'source': 'data.grib'}"
    else:
        nc.Conventions = "CF-1.6"  # [issues: ESMValGroup/ESMValCore#2150, a legacy ERA5-Land dump]
        nc.history = "netcdf converted from GRIB (legacy CDS)"  # [open] exact text


def _coordinates(nc: netCDF4.Dataset, lat: np.ndarray, lon: np.ndarray, new: bool) -> None:
    nc.createDimension("latitude", lat.size)
    nc.createDimension("longitude", lon.size)
    kind = "f8" if new else "f4"  # [open] the legacy float32 / new float64 axes
    latitude = nc.createVariable("latitude", kind, ("latitude",))
    latitude.units, latitude.long_name = "degrees_north", "latitude"
    if new:
        latitude.standard_name = "latitude"
        # new converter: the latitude gains stored_direction [issues: ESMValGroup/ESMValCore#3030]
        latitude.stored_direction = "decreasing" if lat.size < 2 or lat[0] > lat[-1] else "increasing"
    latitude[:] = lat
    longitude = nc.createVariable("longitude", kind, ("longitude",))
    longitude.units, longitude.long_name = "degrees_east", "longitude"
    if new:
        longitude.standard_name = "longitude"
    longitude[:] = lon


def _swvl1_attrs(variable: netCDF4.Variable, units: str, new: bool) -> None:
    variable.units = units  # ecCodes' units of paramId 39 [code: cfgrib decoding of ecCodes GRIB]
    variable.long_name = "Volumetric soil water layer 1"  # [code: TUW-GEO/ecmwf_models era5-land_lut.csv]
    if new:  # cfgrib keeps the GRIB keys as GRIB_* attributes [code: cfgrib output]
        variable.GRIB_paramId = np.int64(39)
        variable.GRIB_shortName = "swvl1"
        variable.GRIB_units = units
        variable.GRIB_gridType = "regular_ll"
        variable.standard_name = "unknown"


def _packing(values: np.ndarray) -> tuple[float, float]:
    """scale_factor and add_offset mapping the valid range onto int16 (the formula is [open])."""
    valid = values[np.isfinite(values)]
    low, high = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    scale = max(high - low, 1e-6) / (2**16 - 3)  # low -> -32766, high -> 32767: clear of the fill
    return scale, low + 32766 * scale


def write_legacy_netcdf(
    path: Path,
    times: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    values: np.ndarray,
    *,
    packed: bool = True,
    expver: list[str] | None = None,
    units: str = "m**3 m**-3",
    variable: str = "swvl1",
) -> Path:
    """A legacy CDS NetCDF: ``time`` (hours since 1900-01-01 00:00:00.0, gregorian)
    [issues: ESMValGroup/ESMValCore#3030], int16 packing with scale_factor/add_offset and
    fill -32767 [code: ncdump of a legacy CDS ERA5 file]. With ``expver`` (labels), ``values``
    are (time, expver, lat, lon) and the dims (time, expver, latitude, longitude), as when
    ERA5 and ERA5T are mixed [issues: monocongo/climate_indices#543]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = np.asarray(values, dtype=np.float32)
    # NetCDF3 64-bit offset [code: the same legacy ncdump, "NC_FORMAT_64BIT"]
    with netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_OFFSET") as nc:
        _global_attrs(nc, new=False)
        nc.createDimension("time", times.size)
        _coordinates(nc, np.asarray(lat, float), np.asarray(lon, float), new=False)
        time = nc.createVariable("time", "i4", ("time",))
        time.units, time.long_name, time.calendar = "hours since 1900-01-01 00:00:00.0", "time", "gregorian"
        time[:] = ((times - np.datetime64("1900-01-01T00:00:00")) // np.timedelta64(1, "h")).astype(np.int32)
        dims: tuple[str, ...] = ("time", "latitude", "longitude")
        if expver is not None:
            nc.createDimension("expver", len(expver))
            label = nc.createVariable("expver", "i4", ("expver",))
            label.long_name = "expver"
            label[:] = [int(x) for x in expver]
            dims = ("time", "expver", "latitude", "longitude")
        if packed:
            swvl1 = nc.createVariable(variable, "i2", dims, fill_value=INT16_FILL)
            swvl1.scale_factor, swvl1.add_offset = _packing(values)
            swvl1.missing_value = INT16_FILL
        else:
            swvl1 = nc.createVariable(variable, "f4", dims, fill_value=np.float32(-32767))
        _swvl1_attrs(swvl1, units, new=False)
        swvl1[:] = np.ma.masked_invalid(values)
    return path


def write_cds_netcdf(
    path: Path,
    times: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    values: np.ndarray,
    *,
    expver: list[str] | None = None,
    expver_dimension: bool = False,
    number_dimension: bool = False,
    units: str = "m**3 m**-3",
    time_units: str | None = "seconds since 1970-01-01",
) -> Path:
    """A new-CDS NetCDF (2024+): ``valid_time`` (int64 seconds since 1970-01-01,
    proleptic_gregorian) [issues: ESMValGroup/ESMValCore#3030; ecmwf/cdsapi#129], a scalar
    ``number`` coordinate [code: cfgrib convention], float32 ``swvl1`` with NaN fill.

    ``expver``: one label per step (``0001`` ERA5, ``0005`` ERA5T) as a non-dimension variable
    along valid_time, or with ``expver_dimension`` the labels of an ``expver`` dimension and
    ``values`` of shape (time, expver, lat, lon) [issues: ESMValGroup/ESMValTool#3790].
    ``number_dimension``: ``number`` as a length-1 leading dimension ([open] for ERA5-Land).
    ``time_units`` None writes no units (a broken file).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    values = np.asarray(values, dtype=np.float32)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        _global_attrs(nc, new=True)
        nc.createDimension("valid_time", times.size)
        _coordinates(nc, np.asarray(lat, float), np.asarray(lon, float), new=True)
        time = nc.createVariable("valid_time", "i8", ("valid_time",))
        time.long_name, time.standard_name, time.calendar = "time", "time", "proleptic_gregorian"
        if time_units is not None:
            time.units = time_units
        time[:] = ((times - np.datetime64("1970-01-01T00:00:00")) // np.timedelta64(1, "s")).astype(np.int64)
        dims: tuple[str, ...] = ("valid_time", "latitude", "longitude")
        coordinates = ["number", "valid_time", "latitude", "longitude"]
        if number_dimension:
            nc.createDimension("number", 1)
            number = nc.createVariable("number", "i8", ("number",))
            dims = ("number", *dims)
            values = values[None]
        else:
            number = nc.createVariable("number", "i8", ())
        number.long_name, number.units, number.standard_name = "ensemble member numerical id", "1", "realization"
        number[...] = 0
        if expver is not None and expver_dimension:
            nc.createDimension("expver", len(expver))
            label = nc.createVariable("expver", str, ("expver",))
            label.long_name = "Experiment version"
            label[:] = np.array(expver, dtype=object)
            dims = ("valid_time", "expver", "latitude", "longitude")
            coordinates.append("expver")
        elif expver is not None:
            label = nc.createVariable("expver", str, ("valid_time",))
            label.long_name = "Experiment version"
            label[:] = np.array(expver, dtype=object)
            coordinates.append("expver")
        swvl1 = nc.createVariable(
            "swvl1", "f4", dims, fill_value=np.float32(np.nan), zlib=True, complevel=1
        )
        _swvl1_attrs(swvl1, units, new=True)
        swvl1.coordinates = " ".join(coordinates)
        swvl1[:] = values
    return path


def write_daily_statistics(
    path: Path, days: np.ndarray, lat: np.ndarray, lon: np.ndarray, values: np.ndarray
) -> Path:
    """A ``derived-era5-land-daily-statistics`` daily_mean file: the new layout with one step a
    day [code: msalazarcgeo/AOD_Reanalysis ECMWF_API_call.py for the request keys]; the step is
    stamped 00:00 of its (UTC) day, which is [open]."""
    return write_cds_netcdf(path, days, lat, lon, values)


def write_grib(
    path: Path,
    times: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    values: np.ndarray,
    *,
    forecast_steps: bool = False,
) -> Path:
    """GRIB edition 1 messages of ``swvl1`` (ECMWF table 128, parameter 39 = paramId 39) on a
    regular_ll grid, written with ecCodes from its ``regular_ll_sfc_grib1`` sample; NaN as
    missing (bitmap). ERA5-Land's edition and level keys are [open]: depthBelowLandLayer 0-7
    here. Hourly analyses (one message per valid time, step 0) by default; ``forecast_steps``
    writes each valid time as reference 00:00 of the day before a 1..24 h step, which cfgrib
    opens as (time, step) with a 2-D valid_time [code: JuliaGeo/GRIBDatasets.jl#47].
    ``lat`` must be descending and ``lon`` ascending (scanning mode 0)."""
    import eccodes  # the eccodes wheel (its sample templates ship inside the package)

    path.parent.mkdir(parents=True, exist_ok=True)
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    with path.open("wb") as out:
        for k, stamp in enumerate(times.astype("datetime64[s]")):
            if forecast_steps:
                reference = (stamp - np.timedelta64(1, "h")).astype("datetime64[D]")
                step = int((stamp - reference.astype("datetime64[s]")) // np.timedelta64(1, "h"))
                date, hour = reference, 0
            else:
                date, hour, step = stamp.astype("datetime64[D]"), int(stamp.astype(object).hour), 0
            field = np.asarray(values[k], dtype=float)
            gid = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib1")
            try:
                eccodes.codes_set_key_vals(gid, {
                    "centre": "ecmf", "table2Version": 128, "indicatorOfParameter": 39,
                    "typeOfLevel": "depthBelowLandLayer", "topLevel": 0, "bottomLevel": 7,
                    "Ni": lon.size, "Nj": lat.size,
                    "latitudeOfFirstGridPointInDegrees": float(lat[0]),
                    "latitudeOfLastGridPointInDegrees": float(lat[-1]),
                    "longitudeOfFirstGridPointInDegrees": float(lon[0]),
                    "longitudeOfLastGridPointInDegrees": float(lon[-1]),
                    "iDirectionIncrementInDegrees": float(abs(lon[1] - lon[0])),
                    "jDirectionIncrementInDegrees": float(abs(lat[1] - lat[0])),
                    "dataDate": int(str(date).replace("-", "")), "dataTime": hour * 100,
                    "stepRange": step,
                })
                if np.isnan(field).any():
                    eccodes.codes_set(gid, "missingValue", 9999.0)
                    eccodes.codes_set(gid, "bitmapPresent", 1)
                    field = np.where(np.isnan(field), 9999.0, field)
                eccodes.codes_set_values(gid, field.ravel())
                eccodes.codes_write(gid, out)
            finally:
                eccodes.codes_release(gid)
    return path


def truncate(path: Path) -> None:
    """Keep the first third of a file (an interrupted download)."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
