"""GLASS AVHRR land-surface temperature (GLASS08B31): daily on the 0.05 degree CMG, HDF4.

Files are named like ``GLASS08B31.V40.A1998001.2021259.hdf`` and hold one SDS ``LST``. The
demo stores it as uint16 with ``scale_factor`` 0.01 K, ``add_offset`` 0, ``_FillValue`` 0 and
``valid_range`` 10000..40000 (100-400 K); the reader takes scale, offset, fill and range from
each file's attributes, never assumes them.

Units are checked: a ``units`` attribute other than K/kelvin (e.g. degC), or decoded valid
values whose median is below 150 K, raise :class:`~helpers.errors.SourceError` ("expected
Kelvin"). Days without a file are absent from the result; the public archive may start later
than the period asked for, so check the returned ``time``.

Reading::

    lst = glass_lst.read(directory, tile_grid, date(1998, 1, 1), date(1998, 12, 31))
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import _glass, _hdf4

PRODUCT = "08B31"
VERSION = "40"
LABEL = "GLASS LST"
SDS_NAME = "LST"
KELVIN_UNITS = ("k", "kelvin", "kelvins")
MIN_PLAUSIBLE_MEDIAN_K = 150.0
SPEC = _hdf4.SdsSpec(
    name=SDS_NAME,
    dtype=np.uint16,
    fill=0,
    long_name="land surface temperature",
    units="K",
    scale_factor=0.01,
    add_offset=0.0,
    valid_range=(10000, 40000),
)


def file_name(date: dt.date, production: str = "2021259") -> str:
    """File name for ``date``, e.g. ``GLASS08B31.V40.A1998001.2021259.hdf``."""
    return _glass.file_name(PRODUCT, VERSION, date, production)


def create(directory: Path | str, date: dt.date, grid: Grid, lst_kelvin: np.ndarray | None = None) -> Path:
    """Create the LST file of ``date`` on the global ``grid``; returns its path.

    Without ``lst_kelvin`` (K, NaN = invalid, shape ``grid.shape``) every cell is fill; with
    it, the file is written in one pass (cheaper than :func:`write_window` afterwards).
    """
    if grid != Grid.global_grid(grid.resolution):
        raise ValueError(f"GLASS files hold global grids, got bbox {grid.bbox}")
    path = Path(directory) / file_name(date)
    data = None if lst_kelvin is None else {SDS_NAME: SPEC.encode(lst_kelvin)}
    _hdf4.create(path, grid, [SPEC], data)
    return path


def write_window(path: Path | str, window: Grid, lst_kelvin: np.ndarray) -> None:
    """Encode LST (K, NaN = invalid) into the cells of ``window`` (a sub-grid of the file's grid).

    Values outside 100-400 K are clipped to that range.
    """
    _hdf4.write_window(path, window, {SDS_NAME: SPEC.encode(lst_kelvin)})


def find_files(directory: Path | str, start: dt.date, end: dt.date) -> dict[dt.date, Path]:
    """LST files of ``start..end`` (inclusive) by date; unrelated files are ignored."""
    return _glass.find_files(directory, PRODUCT, start, end, LABEL, file_name(start))


def _check_kelvin(path: Path, name: str, attributes: dict, values: np.ndarray) -> None:
    """SourceError unless the units attribute (when present) and the values say Kelvin."""
    units = attributes.get("units")
    if units is not None and str(units).strip().lower() not in KELVIN_UNITS:
        raise SourceError(path, f"{name}: expected Kelvin, file says units {units!r}")
    valid = values[np.isfinite(values)]
    if valid.size and (median := float(np.median(valid))) < MIN_PLAUSIBLE_MEDIAN_K:
        raise SourceError(
            path,
            f"{name}: expected Kelvin, decoded values have median {median:.1f} (Celsius? wrong scale_factor?)",
        )


def read_file(path: Path | str, grid: Grid) -> np.ndarray:
    """Decoded LST (K) of one file on ``grid``, float32 (nlat, nlon) with NaN for invalid."""
    return _hdf4.read_fields(Path(path), [SDS_NAME], grid, _check_kelvin)[SDS_NAME]


def read(directory: Path | str, grid: Grid, start: dt.date, end: dt.date) -> xr.DataArray:
    """Daily LST of ``start..end`` on ``grid``.

    Parameters
    ----------
    directory : folder holding the HDF4 files.
    grid : destination grid (usually one tile of the product grid).
    start, end : period (inclusive).

    Returns
    -------
    DataArray ``lst`` (time, lat, lon), float32 in K; days without a file are absent.
    """
    files = find_files(directory, start, end)
    time, stacks = _glass.read_series(
        files, directory, grid, (start, end), [SDS_NAME], LABEL, file_name(start), _check_kelvin
    )
    return xr.DataArray(
        stacks[SDS_NAME],
        dims=("time", "lat", "lon"),
        coords={"time": time, "lat": grid.lat, "lon": grid.lon},
        name="lst",
        attrs={
            "units": "K",
            "long_name": "land surface temperature",
            "source": "GLASS AVHRR LST (GLASS08B31)",
        },
    )
