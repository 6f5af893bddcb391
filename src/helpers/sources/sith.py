"""SiTHv2 soil moisture ``SM`` (comparison product): one NetCDF per year of days.

Provider: SiTHv2 (Simple Terrestrial Hydrosphere model, version 2), Sci Data 2024,
doi:10.1038/s41597-024-03271-7; files hosted by the National Tibetan Plateau Data Center
(TPDC) over FTP [doc: the data paper]. Each fact below carries its source: [doc] provider
documentation, [code] someone's public reader code, [open] not settled by any source, so
the reader detects it or takes it as a parameter.

Files
    ``Daily/<YYYY>/SM.SiTHv2.A<YYYY>.nc`` (also ``Monthly/SM.SiTHv2.A1982_2022.M.nc``,
    ``Yearly/...Y.nc``, which :data:`PATTERN` does not match), 0.1 deg, 1982-2022
    [code: bbuchovecky/et_unc download_sith.sh and load_obs.py] (1982-2020 in a product
    summary [doc]: the years are whatever files exist). Several files for one year are a
    :class:`~helpers.errors.SourceError`.
Encoding (non-CF) [code: bbuchovecky/et_unc load_obs.py ``_decode_sith``]
    The variable attribute ``"scale factor"`` (with a space) *divides*: physical =
    stored / scale; the **global** attribute ``"Fill Value"`` marks missing cells. Both may
    be numbers or strings (they are read either way). When the file has no ``"scale
    factor"``, CF ``scale_factor``/``add_offset`` of the variable are used if present, else
    the ``encoding`` fallback (``sources.encodings["sith"]`` of the params), whose
    ``scale_factor`` follows the CF convention and *multiplies*: value = stored *
    scale_factor + add_offset; its ``fill_value`` applies when the file gives no fill
    (global ``"Fill Value"``, or the variable's ``"Fill Value"``, ``_FillValue``,
    ``missing_value``), and its ``valid_range`` (in stored units) masks stored values outside
    it (a file's own ``valid_range`` is not applied, so out-of-range content is not hidden
    from the fraction check). Values equal to any fill, or not finite, are NaN. Stored floats without any of these are taken as they are; stored integers without any
    are a SourceError (an undecodable file is never guessed). After decoding, valid values
    must be fractions 0..1 (SourceError otherwise: percent, or a wrong scale).
Variable and layers
    ``SM``, volumetric soil moisture [code: et_unc names variables by the file prefix]; its
    units are [open] (percent or depth units are rejected, others left to the value check).
    The model has three soil-moisture layers [code: SiTHv2 source, ``SiTHv2!`` docstring];
    the layer dimension's name, depths and units are [open]: the layer dimension is the one
    dimension other than time/lat/lon of size above one (SourceError if several), read at
    ``layer`` (default 0, taken as the surface layer; a warning is logged when a depth
    coordinate says another layer is shallower). ``variable`` selects another variable
    name should a release store the layers as separate variables.
Dimensions
    Not stored as (time, lat, lon) [code: et_unc transposes]: the order is detected from
    the dimension names (and coordinate units) and transposed; latitude may run either way.
    The time coordinate's encoding is [open]: CF ``<unit> since <date>`` values, day-of-year
    values 1..n, or no coordinate with exactly the year's days are accepted.
Time
    Daily and continuous (a model product): a missing year file or day is a SourceError
    naming the folder or file and the days.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources._files import time_coordinate
from helpers.sources._yearfiles import (
    DailyVariable,
    Decoding,
    OpenYear,
    attribute_number,
    check_soil_moisture_units,
    daily_variable,
    find_year_files,
    get_variable,
    open_netcdf,
    read_year_files,
    read_year_points,
)

logger = logging.getLogger(__name__)

LABEL = "SiTHv2 SM"
VARIABLE = "SM"
PATTERN = "**/SM.SiTHv2.A{year}.nc"
SCALE_ATTRIBUTE = "scale factor"  # variable attribute; physical = stored / scale
FILL_ATTRIBUTE = "Fill Value"  # global attribute


def file_name(year: int) -> str:
    """``SM.SiTHv2.A<year>.nc``."""
    return f"SM.SiTHv2.A{year}.nc"


def find_files(
    directory: Path | str, start: dt.date, end: dt.date, pattern: str | None = None
) -> dict[int, Path]:
    """The year files of ``start..end``, by year (years without a file are absent)."""
    return find_year_files(directory, start, end, pattern or PATTERN, LABEL, file_name(start.year))


def read(
    directory: Path | str,
    grid: Grid,
    start: dt.date,
    end: dt.date,
    pattern: str | None = None,
    layer: int = 0,
    encoding: dict[str, Any] | None = None,
    variable: str = VARIABLE,
) -> xr.DataArray:
    """Daily SiTHv2 soil moisture of one layer for ``start..end`` on ``grid``.

    Parameters
    ----------
    layer : index along the layer dimension (0, the default, is the surface layer).
    encoding : fallback ``dict(scale_factor, add_offset, fill_value, valid_range)`` for files
        without a ``"scale factor"`` attribute (value = stored * scale_factor + add_offset).
    variable : the variable to read (``SM``).

    Returns
    -------
    DataArray ``sith_sm`` (time, lat, lon), float32, m3 m-3, one step per day of
    ``start..end``; attrs name the layer read (``layer``, and ``layer_dimension`` and
    ``layer_coordinate`` when the file has them).
    """
    info: dict[str, Any] = {}
    files = find_files(directory, start, end, pattern)
    values = read_year_files(
        Path(directory), files, grid, start, end, _opener(layer, encoding, variable, info), LABEL, file_name,
    )
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"time": time_coordinate(days), "lat": grid.lat, "lon": grid.lon},
        name="sith_sm",
        attrs={"units": "m3 m-3", "long_name": f"SiTHv2 soil moisture ({variable}), layer {layer}", **info},
    )


def read_points(
    directory: Path | str,
    lat: np.ndarray,
    lon: np.ndarray,
    dates: pd.DatetimeIndex,
    pattern: str | None = None,
    layer: int = 0,
    encoding: dict[str, Any] | None = None,
    variable: str = VARIABLE,
) -> np.ndarray:
    """SiTHv2 soil moisture of the cells containing points, on each of ``dates``.

    Parameters as :func:`read`; ``lat``, ``lon`` in degrees (longitude -180..180).

    Returns
    -------
    numpy.ndarray
        float32 (days, points), m3 m-3; NaN where SiTHv2 has no value or a point lies
        outside the files' grid.
    """
    dates = pd.DatetimeIndex(dates)
    files = find_files(directory, dates.min().date(), dates.max().date(), pattern)
    return read_year_points(
        Path(directory), files, lat, lon, dates, _opener(layer, encoding, variable, {}), LABEL, file_name,
    )


def _opener(layer: int, encoding: dict[str, Any] | None, name: str, info: dict[str, Any]) -> OpenYear:
    @contextlib.contextmanager
    def open_year(path: Path, year: int) -> Iterator[DailyVariable]:
        with open_netcdf(path) as nc:
            variable = get_variable(nc, path, name)
            check_soil_moisture_units(path, variable)
            decoding = decoding_of(path, nc, variable, encoding)
            var = daily_variable(path, nc, variable, year, decode=decoding, layer=layer)
            if not info:
                info.update(_layer_info(path, nc, var, layer))
            yield var

    return open_year


def _layer_info(path: Path, nc: netCDF4.Dataset, var: DailyVariable, layer: int) -> dict[str, Any]:
    """Attributes naming the layer read; warns when a depth coordinate says it is not the top."""
    sizes = dict(zip(var.variable.dimensions, var.variable.shape, strict=True))
    layered = [d for d in var.fixed if sizes[d] > 1] or list(var.fixed)
    info: dict[str, Any] = {"layer": layer}
    if not layered:
        return info
    dim = layered[0]
    info["layer_dimension"] = dim
    coord = nc.variables.get(dim)
    if coord is not None and coord.dimensions == (dim,) and np.issubdtype(coord.dtype, np.number):
        depths = np.asarray(coord[:], dtype=float)
        info["layer_coordinate"] = f"{depths[layer]:g} {getattr(coord, 'units', '')}".strip()
        if depths.size > 1 and np.all(depths >= 0) and depths[layer] != depths.min():
            logger.warning(
                "%s: layer %d of %s has coordinate %g but layer %d has %g: layer %d may not be the surface",
                path, layer, dim, depths[layer], int(depths.argmin()), depths.min(), layer,
            )
    return info


def decoding_of(
    path: Path, nc: netCDF4.Dataset, variable: netCDF4.Variable, encoding: dict[str, Any] | None
) -> Decoding:
    """The :class:`Decoding` of ``variable``: file attributes first, then ``encoding``."""
    variable.set_auto_maskandscale(False)
    attrs = set(variable.ncattrs())
    encoding = encoding or {}
    name = variable.name
    if SCALE_ATTRIBUTE in attrs:
        divide = attribute_number(path, f"{name} attribute {SCALE_ATTRIBUTE!r}", variable.getncattr(SCALE_ATTRIBUTE))
        if not np.isfinite(divide) or divide == 0:
            raise SourceError(path, f"{name} attribute {SCALE_ATTRIBUTE!r} is {divide:g}; expected a non-zero divisor")
        if encoding.get("scale_factor") is not None:
            logger.debug("%s: file attribute %r used, sources.encodings.sith ignored", path, SCALE_ATTRIBUTE)
        scale, offset, origin = 1.0, 0.0, f"stored / {SCALE_ATTRIBUTE!r} {divide:g} of the file"
    elif attrs & {"scale_factor", "add_offset"}:
        divide = None
        scale = attribute_number(path, f"{name} scale_factor", variable.getncattr("scale_factor")) if "scale_factor" in attrs else 1.0
        offset = attribute_number(path, f"{name} add_offset", variable.getncattr("add_offset")) if "add_offset" in attrs else 0.0
        origin = f"CF stored * {scale:g} + {offset:g} of the file"
    elif encoding.get("scale_factor") is not None:
        divide = None
        scale, offset = float(encoding["scale_factor"]), float(encoding.get("add_offset") or 0.0)
        origin = f"sources.encodings.sith stored * {scale:g} + {offset:g}"
    elif np.issubdtype(variable.dtype, np.floating):
        divide, scale, offset, origin = None, 1.0, 0.0, "stored floats as they are"
    else:
        raise SourceError(
            path,
            f"{name} is stored as {variable.dtype} without a {SCALE_ATTRIBUTE!r} attribute (nor CF scale_factor);"
            " expected SiTHv2's 'scale factor', or give sources.encodings.sith (scale_factor, add_offset,"
            " fill_value)",
        )
    fills = []
    if FILL_ATTRIBUTE in nc.ncattrs():
        fills.append(attribute_number(path, f"global attribute {FILL_ATTRIBUTE!r}", nc.getncattr(FILL_ATTRIBUTE)))
    for attr in (FILL_ATTRIBUTE, "_FillValue", "missing_value"):
        if attr in attrs:
            fills.append(attribute_number(path, f"{name} attribute {attr!r}", variable.getncattr(attr)))
    if not fills and encoding.get("fill_value") is not None:
        fills.append(float(encoding["fill_value"]))
    valid_range = None
    if encoding.get("valid_range") is not None:
        low, high = encoding["valid_range"]
        valid_range = (float(low), float(high))
    return Decoding(path, name, divide, scale, offset, tuple(fills), valid_range, origin)
