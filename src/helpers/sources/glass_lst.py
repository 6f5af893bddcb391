"""GLASS AVHRR land-surface temperature (GLASS08B31): daily on the 0.05 degree CMG, HDF4-EOS.

Provider: GLASS (Global LAnd Surface Satellite), www.glass.umd.edu, archive glass.hku.hk.

Files and pattern. ``.../LST/AVHRR/0.05D/<YYYY>/GLASS08B31.V40.A<YYYY><DOY>.<YYYYDDD>.hdf``,
one file per day, year folders without a day folder, the processing date unpredictable
[code: felixschulz385/growth-and-temperature gnt/data/preprocess/sources/glass.py]. The
default :data:`PATTERN` ``**/GLASS08B31.V40.A{year}{doy}*.hdf`` accepts year folders or a
flat folder, with or without the processing date (params ``sources.patterns.glass_lst``
overrides it). Several files of one day: the latest processing date wins, logged (see
:mod:`helpers.sources._glass`).

Grid. Global 0.05 deg CMG, 7200 x 3600, row 0 north, column 0 at -180, like the albedo
[code: growth-and-temperature reads it with rioxarray]; the grid size is not documented
[open], so any global grid is accepted (resolution from the shape). The files are HDF4-EOS;
the grid's name is [open] (the demo writes ``GLASS08B31``), any is accepted, and a
``StructMetadata.0`` is checked against the SDS shape where present.

SDS ``LST`` [code: growth-and-temperature opens ``variable="LST"``]. That crawler treats the
raw values as uint16 in 0.01 K (it compares them with 27315/30315) and masks values outside
20000-35000 (its own choice) [code]; the provider's scale, offset, fill and QC SDS are
[open]. So each SDS's ``scale_factor``, ``add_offset``, ``_FillValue`` and ``valid_range``
decide, and what a file lacks comes from ``encoding`` (params
``sources.encodings.glass_lst``); without ``scale_factor`` in either, SourceError. The demo
writes uint16, ``scale_factor`` 0.01, ``add_offset`` 0, ``_FillValue`` 0, ``valid_range``
10000..40000 (100-400 K).

Units are checked: a ``units`` attribute other than K/kelvin (e.g. degC), or decoded valid
values whose median is below 150 K, raise :class:`~helpers.errors.SourceError` ("expected
Kelvin").

Missing days. The archive has gaps, and the public one may start in 1992 [code:
growth-and-temperature, unverified]. :func:`read` returns every day of the period; days
without a file are all-NaN, listed in ``attrs["missing_days"]`` (ISO dates) and logged as a
warning naming the folder and the days. A period without any file is a SourceError.

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
ENCODING_KEY = "glass_lst"
#: The provider's layout: year folders or flat, with or without the processing date.
PATTERN = "**/GLASS08B31.V40.A{year}{doy}*.hdf"
#: HDF-EOS grid name the demo writes (the real one is [open]; the reader accepts any).
GRID_NAME = "GLASS08B31"
DEFAULT_PRODUCTION = "2021259"
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


def file_name(date: dt.date, production: str | None = DEFAULT_PRODUCTION) -> str:
    """File name for ``date``, e.g. ``GLASS08B31.V40.A1998001.2021259.hdf`` (None: no processing date)."""
    return _glass.file_name(PRODUCT, VERSION, date, production)


def expected_dates(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day of ``start..end``."""
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


def create(
    directory: Path | str,
    date: dt.date,
    grid: Grid,
    lst_kelvin: np.ndarray | None = None,
    *,
    production: str | None = DEFAULT_PRODUCTION,
    year_folder: bool = False,
    grid_name: str | None = GRID_NAME,
) -> Path:
    """Create the LST file of ``date`` on the global ``grid``; returns its path.

    Without ``lst_kelvin`` (K, NaN = invalid, shape ``grid.shape``) every cell is fill; with
    it, the file is written in one pass (cheaper than :func:`write_window` afterwards).
    ``production`` is the name's processing date (None: none), ``year_folder`` writes into
    ``<directory>/<YYYY>/``, ``grid_name`` is the HDF-EOS grid written with
    ``StructMetadata.0`` (None: plain SDS only).
    """
    if grid != Grid.global_grid(grid.resolution):
        raise ValueError(f"GLASS files hold global grids, got bbox {grid.bbox}")
    folder = Path(directory) / f"{date:%Y}" if year_folder else Path(directory)
    path = folder / file_name(date, production)
    data = None if lst_kelvin is None else {SDS_NAME: SPEC.encode(lst_kelvin)}
    _hdf4.create(path, grid, [SPEC], data, grid_name=grid_name)
    return path


def write_window(path: Path | str, window: Grid, lst_kelvin: np.ndarray) -> None:
    """Encode LST (K, NaN = invalid) into the cells of ``window`` (a sub-grid of the file's grid).

    Values outside 100-400 K are clipped to that range.
    """
    _hdf4.write_window(path, window, {SDS_NAME: SPEC.encode(lst_kelvin)})


def find_files(
    directory: Path | str, start: dt.date, end: dt.date, pattern: str | None = None
) -> dict[dt.date, Path]:
    """LST files of ``start..end`` (inclusive), one per day; files not matching ``pattern``
    (a FilePattern glob, None: :data:`PATTERN`) are ignored, the latest processing date wins."""
    return _glass.find_files(directory, pattern or PATTERN, start, end, LABEL, file_name(start))


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


def read_file(path: Path | str, grid: Grid, encoding: dict | None = None) -> np.ndarray:
    """Decoded LST (K) of one file on ``grid``, float32 (nlat, nlon) with NaN for invalid.

    ``encoding``: fallback decoding (params ``sources.encodings.glass_lst``) for attributes the
    file lacks.
    """
    fields, _ = _glass.read_fields(Path(path), [SDS_NAME], grid, ENCODING_KEY, encoding, _check_kelvin)
    return fields[SDS_NAME]


def read(
    directory: Path | str,
    grid: Grid,
    start: dt.date,
    end: dt.date,
    *,
    pattern: str | None = None,
    encoding: dict | None = None,
) -> xr.DataArray:
    """Daily LST of ``start..end`` on ``grid``.

    Parameters
    ----------
    directory : folder of the product (year sub-folders or flat).
    grid : destination grid (usually one tile of the product grid).
    start, end : period (inclusive).
    pattern : file pattern (params ``sources.patterns.glass_lst``; None: :data:`PATTERN`).
    encoding : fallback decoding (params ``sources.encodings.glass_lst``), used only for
        attributes a file lacks.

    Returns
    -------
    DataArray ``lst`` (time, lat, lon), float32 in K, ``time`` = every day of the period; days
    without a file are NaN and listed (ISO) in ``attrs["missing_days"]``.
    """
    files = find_files(directory, start, end, pattern)
    time, stacks, missing = _glass.read_series(
        files, directory, grid, (start, end), expected_dates(start, end), [SDS_NAME], LABEL,
        file_name(start), ENCODING_KEY, encoding, _check_kelvin,
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
            "missing_days": [d.isoformat() for d in missing],
        },
    )
