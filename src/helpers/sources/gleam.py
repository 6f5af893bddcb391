"""GLEAM4 surface soil moisture ``SMs`` (comparison product): one NetCDF per year of days.

Provider: GLEAM (Global Land Evaporation Amsterdam Model), www.gleam.eu (SFTP after
registration); Miralles et al. 2025, "GLEAM4: global land evaporation and soil moisture
dataset at 0.1 deg resolution from 1980 to near present", Scientific Data. Each fact below
carries its source: [doc] provider documentation, [code] someone's public reader code,
[open] not settled by any source, so the reader detects it or takes it as a parameter.

Files
    One NetCDF **per variable per year** of daily values, ``SMs_<YYYY>_GLEAM_v4.<x>a.nc``
    (e.g. ``SMs_2019_GLEAM_v4.1a.nc``; root zone ``SMrz_...``), often stored as
    ``v4.1a/daily/<YYYY>/...`` [code: zhongwangwei/OpenBench
    nml/Ref_variables_defination/Composite/GLEAM4.2a_daily.nml, prefix ``SMs_``, suffix
    ``_GLEAM_v4.2a``, grouped by year]. Monthly ``..._MO.nc`` and yearly ``..._YR.nc``
    files share the prefix [code: users' scripts; bbuchovecky/et_unc load_obs.py for the
    v4.3 ``{version}/{monthly|yearly}/{var}/{var}_{year}_GLEAM_{version}_{MO|YR}.nc``]:
    :data:`PATTERN` does not match them and :func:`find_files` drops them from any pattern.
    Two files for one year (two versions) are a :class:`~helpers.errors.SourceError`: a
    series never mixes versions silently; pick one with ``sources.patterns.gleam``.
Variable
    ``SMs``, volumetric soil moisture of the surface layer, m3 m-3 ("unitless" in OpenBench)
    [code: OpenBench]. The provider's ``units`` attribute and fill value are [open]: the
    reader decodes CF ``_FillValue``/``missing_value``/``scale_factor``/``add_offset`` when
    present (a ``valid_range`` is not applied, so out-of-range content is not hidden),
    rejects percent or depth units, and checks that valid values are fractions (0..1).
Dimensions
    ``(time, lat, lon)`` with longitude -180..180 in v4 [code: users index ``[:, lat, :]``];
    GLEAM v3 files were ``(time, lon, lat)`` at 0.25 deg with row 0 at 89.875 N [code]. The
    order is detected from the dimension names and transposed; latitude may run either way.
Grid
    0.1 deg [code: OpenBench]; one user claims v4.2a is native 0.05 deg [code]: a conflict,
    so the resolution is read from the coordinates, never assumed. All files of a series
    must share one grid (SourceError naming both files otherwise).
Time
    Daily, continuous (a model product): a year without its file, or requested days that
    the year's time axis lacks, are a SourceError naming the folder or file and the days.

:func:`read` regrids to a destination :class:`~helpers.grid.Grid`; :func:`read_points`
samples the cells holding points, like :func:`helpers.sources.esa_cci.read_points`.

The second half of this module is the year-file machinery shared with
:mod:`helpers.sources.sith` (dimension roles by name, day axis, windows, points).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from helpers.grid import Grid
from helpers.sources._files import (
    time_coordinate,
)
from helpers.sources._yearfiles import (
    DailyVariable,
    cf_decoding,
    check_soil_moisture_units,
    daily_variable,
    days_between,
    find_year_files,
    get_variable,
    open_netcdf,
    read_year_files,
    read_year_points,
)

logger = logging.getLogger(__name__)

LABEL = "GLEAM4 SMs"
VARIABLE = "SMs"
#: Provider default: daily year files at any depth (``v4.1a/daily/<YYYY>/``); the trailing
#: ``[a-z]`` keeps the ``..._MO.nc`` / ``..._YR.nc`` aggregates out.
PATTERN = "**/SMs_{year}_GLEAM_v4.[0-9]*[a-z].nc"


def file_name(year: int, version: str = "4.1a") -> str:
    """``SMs_<year>_GLEAM_v<version>.nc``, e.g. ``SMs_2019_GLEAM_v4.1a.nc``."""
    return f"SMs_{year}_GLEAM_v{version}.nc"


def find_files(
    directory: Path | str, start: dt.date, end: dt.date, pattern: str | None = None
) -> dict[int, Path]:
    """The year files of ``start..end``, by year (years without a file are absent).

    Monthly ``_MO.nc`` and yearly ``_YR.nc`` aggregates are ignored whatever the pattern.
    Several files for one year raise SourceError naming them.
    """
    return find_year_files(directory, start, end, pattern or PATTERN, LABEL, file_name(start.year))


def read(
    directory: Path | str, grid: Grid, start: dt.date, end: dt.date, pattern: str | None = None
) -> xr.DataArray:
    """Daily GLEAM4 surface soil moisture of ``start..end`` on ``grid``.

    Returns
    -------
    DataArray ``gleam_sm`` (time, lat, lon), float32, m3 m-3, one step per day of
    ``start..end``; NaN where GLEAM has no value (sea, ice). SourceError for a missing
    year file or day (GLEAM is continuous), a file of another grid than its siblings,
    percent units or values, a missing ``SMs``, or an unreadable file.
    """
    files = find_files(directory, start, end, pattern)
    values = read_year_files(Path(directory), files, grid, start, end, _open_sms, LABEL, file_name)
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"time": time_coordinate(days_between(start, end)), "lat": grid.lat, "lon": grid.lon},
        name="gleam_sm",
        attrs={"units": "m3 m-3", "long_name": "GLEAM4 surface soil moisture (SMs)"},
    )


def read_points(
    directory: Path | str,
    lat: np.ndarray,
    lon: np.ndarray,
    dates: pd.DatetimeIndex,
    pattern: str | None = None,
) -> np.ndarray:
    """GLEAM4 surface soil moisture of the cells containing points, on each of ``dates``.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Points, degrees (longitude -180..180).
    dates : pandas.DatetimeIndex
        Days (every one must be in the files: SourceError otherwise).

    Returns
    -------
    numpy.ndarray
        float32 (days, points), m3 m-3; NaN where GLEAM has no value or a point lies
        outside the files' grid.
    """
    dates = pd.DatetimeIndex(dates)
    files = find_files(directory, dates.min().date(), dates.max().date(), pattern)
    return read_year_points(Path(directory), files, lat, lon, dates, _open_sms, LABEL, file_name)


@contextlib.contextmanager
def _open_sms(path: Path, year: int) -> Iterator[DailyVariable]:
    with open_netcdf(path) as nc:
        variable = get_variable(nc, path, VARIABLE)
        check_soil_moisture_units(path, variable)
        yield daily_variable(path, nc, variable, year, decode=cf_decoding(path, variable))
