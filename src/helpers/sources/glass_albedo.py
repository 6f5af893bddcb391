"""GLASS AVHRR albedo (GLASS02B05): 8-day composites on the 0.05 degree CMG, HDF4.

Files are named like ``GLASS02B05.V04.A1998009.2019001.hdf`` (acquisition 1998, day 9;
produced 2019, day 1). Each holds six albedo SDS (:data:`BANDS`: black-sky and white-sky
albedo in the visible, near-infrared and shortwave bands) stored as int16 with
``scale_factor`` 0.0001, ``valid_range`` 0..10000 and ``_FillValue`` -1, plus a ``QC`` SDS
(uint8). Composites start on days 1, 9, ..., 361 of each year (:func:`composite_dates`).

Reading::

    ds = glass_albedo.read(directory, tile_grid, date(1998, 1, 1), date(1998, 12, 31),
                           bands=["ABD_BSA_VIS"])

returns an ``xarray.Dataset`` with one (time, lat, lon) variable per band on ``tile_grid``;
``time`` holds the acquisition (first) dates of the composites found in the period (whether a
composite stands for its first or its central day is the caller's choice). Only the window
around the tile is read; finer files are averaged (area-weighted), coarser ones interpolated
bilinearly. Writing (used by the twin world): :func:`create` then :func:`write_window`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xarray as xr

from helpers.grid import Grid
from helpers.sources import _glass, _hdf4

PRODUCT = "02B05"
VERSION = "04"
LABEL = "GLASS albedo"
BANDS = (
    "ABD_BSA_VIS",
    "ABD_BSA_NIR",
    "ABD_BSA_shortwave",
    "ABD_WSA_VIS",
    "ABD_WSA_NIR",
    "ABD_WSA_shortwave",
)
QC = "QC"
_LONG_NAMES = {
    "BSA": "black-sky albedo",
    "WSA": "white-sky albedo",
    "VIS": "visible band (0.3-0.7 um)",
    "NIR": "near-infrared band (0.7-5.0 um)",
    "shortwave": "shortwave band (0.3-5.0 um)",
}
SPECS = [
    _hdf4.SdsSpec(
        name=band,
        dtype=np.int16,
        fill=-1,
        long_name=f"{_LONG_NAMES[band.split('_')[1]]}, {_LONG_NAMES[band.split('_')[2]]}",
        units="1",
        scale_factor=0.0001,
        add_offset=0.0,
        valid_range=(0, 10000),
    )
    for band in BANDS
] + [_hdf4.SdsSpec(name=QC, dtype=np.uint8, fill=255, long_name="quality control flags", units="1")]
_SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


def composite_dates(year: int) -> list[dt.date]:
    """First days of the 8-day composites of ``year``: day-of-year 1, 9, ..., 361."""
    return [dt.date(year, 1, 1) + dt.timedelta(days=offset) for offset in range(0, 361, 8)]


def file_name(date: dt.date, production: str = "2019001") -> str:
    """File name of the composite acquired on ``date``, e.g. ``GLASS02B05.V04.A1998009.2019001.hdf``."""
    return _glass.file_name(PRODUCT, VERSION, date, production)


def create(
    directory: Path | str, date: dt.date, grid: Grid, values: dict[str, np.ndarray] | None = None
) -> Path:
    """Create the file of ``date`` on the global ``grid``, empty (all fill) or from ``values``.

    Parameters
    ----------
    directory : folder of the product (created if missing).
    date : acquisition date (first day of the composite).
    grid : a global grid (0.05 degree in reality, coarser in the demo).
    values : optional band name -> albedo (0-1, NaN = invalid) of ``grid.shape``, written in
        one pass (cheaper than :func:`write_window` afterwards).

    Returns
    -------
    Path of the new file.
    """
    if grid != Grid.global_grid(grid.resolution):
        raise ValueError(f"GLASS files hold global grids, got bbox {grid.bbox}")
    path = Path(directory) / file_name(date)
    _hdf4.create(path, grid, SPECS, _encode(values or {}))
    return path


def write_window(path: Path | str, window: Grid, values: dict[str, np.ndarray]) -> None:
    """Encode albedo into the cells of ``window`` (a sub-grid of the file's grid).

    Parameters
    ----------
    path : a file made by :func:`create`.
    window : sub-grid of the file's grid, same resolution.
    values : band name -> albedo (0-1, NaN = invalid) of shape ``window.shape``; the key
        ``QC`` takes uint8 flags. Values outside 0-1 are clipped.
    """
    _hdf4.write_window(path, window, _encode(values))


def _encode(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    unknown = sorted(set(values) - set(_SPEC_BY_NAME))
    if unknown:
        raise ValueError(f"unknown GLASS albedo SDS {unknown}; expected some of {[*BANDS, QC]}")
    return {
        name: np.asarray(array, dtype=np.uint8) if name == QC else _SPEC_BY_NAME[name].encode(array)
        for name, array in values.items()
    }


def find_files(directory: Path | str, start: dt.date, end: dt.date) -> dict[dt.date, Path]:
    """Albedo files acquired in ``start..end`` (inclusive), by acquisition date.

    Unrelated files are ignored; the latest production wins where a date has several.
    SourceError if ``directory`` does not exist.
    """
    return _glass.find_files(directory, PRODUCT, start, end, LABEL, file_name(start))


def read_file(
    path: Path | str, grid: Grid, bands: list[str] | tuple[str, ...] = BANDS
) -> dict[str, np.ndarray]:
    """Decoded albedo of one file on ``grid``: band name -> float32 (nlat, nlon), NaN invalid."""
    return _hdf4.read_fields(Path(path), bands, grid)


def read(
    directory: Path | str,
    grid: Grid,
    start: dt.date,
    end: dt.date,
    bands: list[str] | tuple[str, ...] = BANDS,
) -> xr.Dataset:
    """Albedo composites acquired in ``start..end`` on ``grid``.

    Parameters
    ----------
    directory : folder holding the HDF4 files.
    grid : destination grid (usually one tile of the product grid).
    start, end : period (inclusive) of acquisition dates.
    bands : SDS to read.

    Returns
    -------
    Dataset with one float32 (time, lat, lon) variable per band (albedo, 1).
    """
    files = find_files(directory, start, end)
    time, stacks = _glass.read_series(files, directory, grid, (start, end), bands, LABEL, file_name(start))
    data_vars = {
        band: (
            ("time", "lat", "lon"),
            stacks[band],
            {"units": "1", "long_name": _SPEC_BY_NAME[band].long_name},
        )
        for band in bands
    }
    return xr.Dataset(
        data_vars,
        coords={"time": time, "lat": grid.lat, "lon": grid.lon},
        attrs={"source": "GLASS AVHRR albedo (GLASS02B05), 8-day composites"},
    )
