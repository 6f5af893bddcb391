"""Views of the product for notebook 04: monthly maps and daily series at cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr


def monthly_fields(
    product: xr.Dataset, ds: xr.Dataset, year: int, months: Sequence[int], land: np.ndarray
) -> dict[str, xr.DataArray]:
    """Monthly means of the product, the ERA5-Land input and the target (masked cells blank),
    keyed by panel title, month by month: the layout of the paper's Fig. 9."""
    fields: dict[str, xr.DataArray] = {}
    mask = xr.DataArray(land, dims=("lat", "lon"))
    for month in months:
        period = f"{year}-{month:02d}"
        label = pd.Timestamp(year, month, 1).strftime("%b %Y")
        for title, values in (
            ("product", product["sm"]),
            ("ERA5-Land input", ds["era5_sm"]),
            ("target (GLASS-MODIS)", ds["target_sm"]),
        ):
            mean = values.sel(time=period).mean("time").where(mask).compute()
            mean.attrs["units"] = "m3 m-3"
            fields[f"{title}, {label}"] = mean
    return fields


def cell_series(
    product: xr.Dataset, ds: xr.Dataset, cells: pd.DataFrame, extra: Mapping[str, xr.DataArray] | None = None
) -> dict[str, pd.DataFrame]:
    """Daily series at cells (rows of :func:`helpers.cube.nearest_land_cells`): ``product``, its
    ``uncertainty`` and interval bounds (``lower``, ``upper``), the ERA5-Land input, the target
    and any ``extra`` (time, lat, lon) field, over the product's days; keyed by a title with
    the cell's position."""
    times = product["time"].values
    frames = {}
    for cell in cells.itertuples():
        at = {"lat": cell.row, "lon": cell.col}
        columns = {
            "product": product["sm"].isel(at),
            "uncertainty": product["sm_uncertainty"].isel(at),
            "lower": product["sm_lower"].isel(at),
            "upper": product["sm_upper"].isel(at),
            "ERA5-Land input": ds["era5_sm"].isel(at).sel(time=times),
            "target": ds["target_sm"].isel(at).sel(time=times),
            **{name: values.isel(at).sel(time=times) for name, values in (extra or {}).items()},
        }
        frame = pd.DataFrame({name: values.values for name, values in columns.items()}, index=pd.DatetimeIndex(times))
        frames[f"{cell.lat:.2f}°N {cell.lon:.2f}°E"] = frame
    return frames
