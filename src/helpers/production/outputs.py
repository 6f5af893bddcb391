"""Products derived from the daily store: the annual means and a NetCDF export of a period."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from helpers.io import atomic_path
from helpers.params import Params
from helpers.production.files import annual_path
from helpers.production.store import FLAG_BITS, PRODUCT_SETTINGS_ATTR, VARIABLES, open_product


def annual_mean(params: Params) -> Path:
    """Write ``data/product_annual.zarr``: the annual mean of ``sm`` beside the daily product.

    Per year and cell: ``sm`` is the mean of the daily values (NaN on masked cells, CF
    ``cell_methods: time: mean``, ``time`` at 1 July with ``time_bnds`` spanning the year);
    ``valid_days`` counts the days averaged and ``frozen_suspected_days`` the days flagged
    frozen, which the mean includes (filter the daily product to leave them out). Computed
    with dask chunk by chunk, so memory stays bounded by the daily product's chunks.
    """
    daily = open_product(params)
    years = daily["time"].dt.year
    sm = daily["sm"].groupby(years).mean("time")
    valid = daily["sm"].notnull().groupby(years).sum("time").astype(np.int16)
    frozen = (
        ((daily["sm_flag"] & FLAG_BITS["frozen_suspected"]) > 0).groupby(years).sum("time").astype(np.int16)
    )
    year_values = sm["year"].values
    centre = pd.to_datetime([f"{y}-07-01" for y in year_values])
    bounds = np.stack(
        [
            pd.to_datetime([f"{y}-01-01" for y in year_values]),
            pd.to_datetime([f"{y + 1}-01-01" for y in year_values]),
        ],
        axis=1,
    )
    annual = xr.Dataset(
        {
            "sm": sm.rename(year="time"),
            "valid_days": valid.rename(year="time"),
            "frozen_suspected_days": frozen.rename(year="time"),
        }
    ).assign_coords(time=centre)
    annual["time_bnds"] = (("time", "nv"), bounds)
    annual["sm"].attrs = {
        **{key: daily["sm"].attrs[key] for key in ("standard_name", "units", "valid_min", "valid_max")},
        "long_name": "annual mean surface (0-5 cm) volumetric soil moisture",
        "cell_methods": "time: mean",
    }
    annual["valid_days"].attrs = {"long_name": "days averaged into sm", "units": "1"}
    annual["frozen_suspected_days"].attrs = {
        "long_name": "days flagged frozen_suspected (LST below 0 degC), included in the mean",
        "units": "1",
    }
    annual["time"].attrs = {"standard_name": "time", "axis": "T", "bounds": "time_bnds"}
    for name in ("lat", "lon"):
        annual[name].attrs = daily[name].attrs
    annual.attrs = {
        **{k: v for k, v in daily.attrs.items() if k != PRODUCT_SETTINGS_ATTR},
        "title": "GLASS-SM annual-mean surface soil moisture",
        "time_coverage_resolution": "P1Y",
    }
    annual = annual.chunk(
        {"time": 1, "lat": params.production.chunk_cells, "lon": params.production.chunk_cells}
    )
    target = annual_path(params)
    with atomic_path(target) as tmp:
        annual.to_zarr(tmp, zarr_format=2, consolidated=True)
    return target


def export_netcdf(params: Params, start: str | None = None, end: str | None = None) -> Path:
    """Write the daily product of ``start``..``end`` (default ``production.export_start/end``)
    to ``data/product_<start>_<end>.nc``: NetCDF-4, compressed, with the product's CF and ACDD
    attributes (time coverage narrowed to the period)."""
    start = start or (params.production.export_start and str(params.production.export_start))
    end = end or (params.production.export_end and str(params.production.export_end))
    if start is None or end is None:
        raise ValueError(
            "export_netcdf needs a period: give start and end, or production.export_start/export_end"
        )
    daily = open_product(params)
    period = daily.sel(time=slice(start, end))
    if period.sizes["time"] == 0:
        raise ValueError(
            f"export period {start}..{end} holds no day of the product"
            f" ({daily.attrs['time_coverage_start']}..{daily.attrs['time_coverage_end']})"
        )
    times = pd.DatetimeIndex(period["time"].values)
    period.attrs = {
        **{k: v for k, v in daily.attrs.items() if k != PRODUCT_SETTINGS_ATTR},
        "time_coverage_start": str(times[0].date()),
        "time_coverage_end": str(times[-1].date()),
    }
    chunks = (min(times.size, 31), min(period.sizes["lat"], 256), min(period.sizes["lon"], 256))
    encoding = {
        name: {
            "zlib": True,
            "complevel": 4,
            "chunksizes": chunks,
            **({"_FillValue": None} if name == "sm_flag" else {}),
        }
        for name in VARIABLES
    }
    encoding["time"] = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int32"}
    for name in period.data_vars:
        period[name].encoding = {}
    target = params.data_dir / f"product_{times[0]:%Y%m%d}_{times[-1]:%Y%m%d}.nc"
    with atomic_path(target) as tmp:
        period.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    return target
