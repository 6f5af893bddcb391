"""Writers of comparison-product files with the REAL structure (ESA CCI SM, GLEAM4, SiTHv2).

Names, folders, variables, attributes, fill values, scale factors and dimension order follow
the products as their providers ship them; the source of every structural fact is in a
comment ([doc] provider documentation, [code] public reader code, [open] not settled, so the
writer takes it as a parameter and the tests try several values). Grids are small (a few
cells), so a sample tree built from these writers stays tiny; the readers regrid anyway.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np

from helpers.grid import Grid

# --------------------------------------------------------------------------------- ESA CCI SM

CCI_FLAG_MEANINGS = (  # [code: TUW-GEO/esa_cci_sm metadata/esa_cci_sm_v09_COMBINED.ini]
    "no_data_inconsistency_detected snow_coverage_or_temperature_below_zero dense_vegetation"
    " others_no_convergence_in_the_model_thus_no_valid_sm_estimates"
    " soil_moisture_value_exceeds_physical_boundary weight_of_measurement_below_threshold"
    " all_datasets_deemed_unreliable barren_ground_advisory_flag not_used"
)


def cci_name(date: dt.date, version: str = "09.1", product: str = "COMBINED") -> str:
    """``ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-<YYYYMMDD>000000-fv09.1.nc`` [code: TUW-GEO/esa_cci_sm].

    The ACTIVE product's level tag is ``SSMS`` (surface soil moisture in percent of
    saturation) [open: the sources used here only glob ``ESACCI-SOILMOISTURE-L3S-*``].
    """
    level = "SSMS" if product == "ACTIVE" else "SSMV"
    return f"ESACCI-SOILMOISTURE-L3S-{level}-{product}-{date:%Y%m%d}000000-fv{version}.nc"


def write_cci(
    root: Path,
    date: dt.date,
    grid: Grid,
    sm: np.ndarray,
    flag: np.ndarray | None = None,
    t0: np.ndarray | None = None,
    version: str = "09.1",
    product: str = "COMBINED",
    year_folder: bool = True,
) -> Path:
    """One daily CCI file as CEDA ships it: ``<root>/<YYYY>/<name>`` [code: TUW-GEO/esa_cci_sm].

    ``sm`` in m3 m-3 (percent of saturation for ``product="ACTIVE"``), NaN = fill;
    ``flag`` bit field (default 0 where sm is valid, 4 "no convergence" elsewhere);
    ``t0`` days since 1970-01-01 (default noon of the day where sm is valid).
    """
    sm = np.asarray(sm, dtype=np.float32)
    valid = np.isfinite(sm)
    if flag is None:
        flag = np.where(valid, 0, 4).astype(np.int8)
    if t0 is None:
        t0 = np.where(valid, (date - dt.date(1970, 1, 1)).days + 0.5, np.nan)
    folder = root / f"{date.year}" if year_folder else root  # year folders [code]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / cci_name(date, version, product)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        # global attributes: 0.25 degree, lon -180..180 [code: the ini's global section]
        nc.title = f"ESA CCI Surface Soil Moisture Product ({product})"
        nc.product_version = version
        nc.geospatial_lat_resolution = f"{grid.resolution} degree"
        nc.geospatial_lon_resolution = f"{grid.resolution} degree"
        nc.geospatial_lon_min, nc.geospatial_lon_max = grid.west, grid.east
        nc.createDimension("time", 1)  # dims (time=1, lat, lon) [code]
        nc.createDimension("lat", grid.nlat)
        nc.createDimension("lon", grid.nlon)
        time = nc.createVariable("time", "f8", ("time",))
        time.units, time.calendar = "days since 1970-01-01 00:00:00 UTC", "standard"
        time[:] = (date - dt.date(1970, 1, 1)).days
        lat = nc.createVariable("lat", "f4", ("lat",))
        lat.units, lat.standard_name = "degrees_north", "latitude"
        lat[:] = grid.lat  # north to south (descending) [code: the reader flips it]
        lon = nc.createVariable("lon", "f4", ("lon",))
        lon.units, lon.standard_name = "degrees_east", "longitude"
        lon[:] = grid.lon
        dims = ("time", "lat", "lon")
        var = nc.createVariable("sm", "f4", dims, zlib=True, fill_value=np.float32(-9999.0))  # [code]
        var.long_name = "Volumetric Soil Moisture"
        var.units = "percent of saturation" if product == "ACTIVE" else "m3 m-3"  # [code: c3s_sm metadata]
        var.valid_range = np.array([0, 100 if product == "ACTIVE" else 1], dtype=np.float32)
        var[0] = np.where(valid, sm, -9999.0)
        unc = nc.createVariable("sm_uncertainty", "f4", dims, zlib=True, fill_value=np.float32(-9999.0))
        unc.units = var.units
        unc[0] = np.where(valid, 0.04, -9999.0)
        var = nc.createVariable("flag", "i1", dims, zlib=True, fill_value=np.int8(127))  # bit field [code]
        var.long_name = "Flag"
        var.flag_values = np.array([0, 1, 2, 4, 8, 16, 32, 64], dtype=np.int8)
        var.flag_meanings = " ".join(CCI_FLAG_MEANINGS.split()[:8])
        var[0] = np.asarray(flag, dtype=np.int8)
        var = nc.createVariable("t0", "f8", dims, zlib=True, fill_value=-9999.0)  # [code]
        var.long_name = "Observation Timestamp"
        var.units = "days since 1970-01-01 00:00:00 UTC"
        var[0] = np.where(np.isfinite(t0), t0, -9999.0)
        for name, dtype in (("freqbandID", "i2"), ("sensor", "i2"), ("dnflag", "i1"), ("mode", "i1")):
            var = nc.createVariable(name, dtype, dims, zlib=True, fill_value=np.array(0, dtype=dtype))  # fill 0 [code]
            var[0] = np.where(valid, 1, 0).astype(dtype)
    return path


# ------------------------------------------------------------------------------------ GLEAM4


def gleam_path(root: Path, year: int, version: str = "4.1a", suffix: str = "", variable: str = "SMs") -> Path:
    """``<root>/v4.1a/daily/<YYYY>/SMs_<YYYY>_GLEAM_v4.1a<suffix>.nc`` [code: OpenBench GLEAM4.2a_daily.nml].

    ``suffix`` ``_MO`` / ``_YR`` gives the monthly / yearly aggregates [code: users' scripts].
    """
    folder = {"": "daily", "_MO": "monthly", "_YR": "yearly"}[suffix]
    return root / f"v{version}" / folder / f"{year}" / f"{variable}_{year}_GLEAM_v{version}{suffix}.nc"


def write_gleam(
    root: Path,
    year: int,
    grid: Grid,
    values: np.ndarray,
    days: Sequence[dt.date] | None = None,
    version: str = "4.1a",
    layout: str = "v4",
    lat_ascending: bool = False,
    suffix: str = "",
    variable: str = "SMs",
    units: str | None = "m3/m3",
    path: Path | None = None,
) -> Path:
    """A GLEAM year file of daily ``values`` (days, grid.nlat, grid.nlon), NaN = fill.

    ``layout="v4"``: dims (time, lat, lon), lon -180..180 [code: users index ``[:, lat, :]``];
    ``layout="v3"``: dims (time, lon, lat), row 0 the northernmost [code]. The latitude
    direction of v4, the units attribute and the fill value are [open]: parameters here
    (``lat_ascending``, ``units``; fill -999).
    """
    days = list(days) if days is not None else [dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(len(values))]
    values = np.asarray(values, dtype=np.float32)
    lat = grid.lat
    if lat_ascending:
        lat, values = lat[::-1], values[:, ::-1, :]
    path = path or gleam_path(root, year, version, suffix, variable)
    path.parent.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.title = f"GLEAM v{version}"
        nc.createDimension("time", len(days))
        nc.createDimension("lat", grid.nlat)
        nc.createDimension("lon", grid.nlon)
        time = nc.createVariable("time", "f8", ("time",))
        time.units, time.calendar = "days since 1980-01-01 00:00:00", "standard"  # [open]
        time[:] = [(day - dt.date(1980, 1, 1)).days for day in days]
        lat_var = nc.createVariable("lat", "f4", ("lat",))
        lat_var.units = "degrees_north"
        lat_var[:] = lat
        lon_var = nc.createVariable("lon", "f4", ("lon",))
        lon_var.units = "degrees_east"
        lon_var[:] = grid.lon
        dims = ("time", "lat", "lon") if layout == "v4" else ("time", "lon", "lat")
        var = nc.createVariable(variable, "f4", dims, zlib=True, fill_value=np.float32(-999.0))  # fill [open]
        if units is not None:
            var.units = units  # [open]; "unitless" in OpenBench, meaning m3/m3 [code]
        var.long_name = "Surface soil moisture"
        stored = np.where(np.isfinite(values), values, -999.0)
        var[:] = stored if layout == "v4" else stored.transpose(0, 2, 1)
    return path


# ------------------------------------------------------------------------------------ SiTHv2


def sith_path(root: Path, year: int) -> Path:
    """``<root>/Daily/<YYYY>/SM.SiTHv2.A<YYYY>.nc`` [code: bbuchovecky/et_unc download_sith.sh]."""
    return root / "Daily" / f"{year}" / f"SM.SiTHv2.A{year}.nc"


def write_sith(
    root: Path,
    year: int,
    grid: Grid,
    layers: np.ndarray,
    dims: Sequence[str] = ("layer", "time", "lon", "lat"),
    scale: float | None = 1000.0,
    fill: int = -9999,
    dtype: str = "i2",
    string_attributes: bool = False,
    days: Sequence[dt.date] | None = None,
    time_coordinate: str = "cf",
    depths: Sequence[float] | None = None,
    units: str | None = None,
    path: Path | None = None,
) -> Path:
    """A SiTHv2 year file of ``layers`` (n_layers, days, grid.nlat, grid.nlon), m3 m-3, NaN = fill.

    Non-CF encoding [code: bbuchovecky/et_unc load_obs.py ``_decode_sith``]: stored =
    round(value * ``scale``) with the variable attribute ``"scale factor"`` (physical =
    stored / scale) and the GLOBAL attribute ``"Fill Value"``; the attributes are numbers,
    or strings with ``string_attributes`` (as et_unc's tests write them [code]). ``scale``
    None writes no scale attribute (stored as ``dtype``, decoded only with an encoding).
    Dims are not (time, lat, lon) [code]; ``dims`` orders them, and names the layer
    dimension, whose name, depths and units are [open] (``"layer"`` and ``depths`` here;
    a name absent from ``dims`` writes a single-layer variable). ``time_coordinate``: "cf"
    (days since 1982-01-01 [open]), "doy" (1..n) or "none" (no coordinate variable).
    """
    layers = np.asarray(layers, dtype=np.float64)
    n_layers, n_days = layers.shape[:2]
    days = list(days) if days is not None else [dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(n_days)]
    path = path or sith_path(root, year)
    path.parent.mkdir(parents=True, exist_ok=True)
    layer_dim = next((d for d in dims if d not in ("time", "lat", "lon")), None)
    sizes = {"time": n_days, "lat": grid.nlat, "lon": grid.nlon}
    if layer_dim is not None:
        sizes[layer_dim] = n_layers
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        fill_attr = str(fill) if string_attributes else fill
        nc.setncattr("Fill Value", fill_attr)  # global, with a space [code]
        for dim in dims:
            nc.createDimension(dim, sizes[dim])
        if time_coordinate != "none":
            time = nc.createVariable("time", "i4", ("time",))
            if time_coordinate == "cf":
                time.units = "days since 1982-01-01"  # [open]
                time[:] = [(day - dt.date(1982, 1, 1)).days for day in days]
            else:
                time[:] = [day.timetuple().tm_yday for day in days]
        lat = nc.createVariable("lat", "f4", ("lat",))
        lat[:] = grid.lat  # direction [open]; north to south like the et_unc fixtures [code]
        lon = nc.createVariable("lon", "f4", ("lon",))
        lon[:] = grid.lon
        if layer_dim is not None and depths is not None:
            depth = nc.createVariable(layer_dim, "f4", (layer_dim,))
            depth.units = "m"
            depth[:] = depths
        var = nc.createVariable("SM", dtype, tuple(dims), zlib=True)
        if scale is not None:
            var.setncattr("scale factor", str(scale) if string_attributes else scale)  # with a space [code]
        if units is not None:
            var.units = units
        stored = np.where(np.isfinite(layers), np.rint(layers * (scale or 1.0)), fill).astype(dtype)
        canonical = ("layer", "time", "lat", "lon")
        if layer_dim is None:
            stored, canonical = stored[0], canonical[1:]
        order = [canonical.index("layer" if d == layer_dim else d) for d in dims]
        var[:] = stored.transpose(order)
    return path


def year_days(year: int, first: int = 0, count: int | None = None) -> list[dt.date]:
    """Days ``first .. first+count-1`` (0-based) of ``year`` (all its days by default)."""
    total = (366 if calendar.isleap(year) else 365) - first
    return [dt.date(year, 1, 1) + dt.timedelta(days=first + k) for k in range(total if count is None else count)]
