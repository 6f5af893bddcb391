"""GLASS AVHRR albedo (GLASS02B05): 8-day composites on the 0.05 degree CMG, HDF4-EOS.

Provider: GLASS (Global LAnd Surface Satellite), www.glass.umd.edu, archive glass.hku.hk.

Files and pattern. ``GLASS02B05.V04.A<YYYY><DOY>.<YYYYDDD>.hdf`` (acquisition year and day
of year, then the processing date), e.g. ``GLASS02B05.V04.A1981169.2018062.hdf``, in
``<YYYY>/`` sub-folders [code: NASA-LIS/LISF lvt/datastreams/GLASSalbedo/readGLASSalbedoObs.F90
and lis/dataassim/obs/GLASS_Albedo/read_GLASSalbedo.F90, which build
``<dir>/<YYYY>/GLASS02B05.V04.A<YYYY><DOY>.hdf`` without the processing date]. The default
:data:`PATTERN` ``**/GLASS02B05.V04.A{year}{doy}*.hdf`` accepts year folders or a flat
folder, with or without the processing date (params ``sources.patterns.glass_albedo``
overrides it). Several files of one date (reprocessings): the latest processing date wins,
logged at info level naming both (see :mod:`helpers.sources._glass`).

Grid. An HDF4-EOS grid named ``GLASS02B05``, 7200 x 3600 cells of 0.05 deg, row 0 north
(the LIS readers flip rows to go south-up), column 0 at -180 [code: NASA-LIS/LISF]; its
``StructMetadata.0`` (``XDim``, ``YDim``, corner points in packed DMS degrees,
``Projection=GCTP_GEO``) is checked against each SDS's shape where present. The SD interface
sees the grid's SDS by name. Any global grid is accepted (the demo's are coarser); the
resolution is inferred from the shape.

SDS (:data:`BANDS`). ``ABD_BSA_VIS``, ``ABD_WSA_VIS``, ``ABD_BSA_NIR``, ``ABD_WSA_NIR``,
``ABD_BSA_shortwave``, ``ABD_WSA_shortwave``: black-sky and white-sky albedo (unitless, 0-1)
in the visible, near-infrared and shortwave bands, int16; the caller picks the bands (params
``sources.albedo_bands``) and a band absent from a file is a SourceError listing the SDS it
has. Quality SDS: ``QC_VIS`` in the LIS code (bits 0-1 overall quality) [code: NASA-LIS/LISF];
the demo writes one ``QC`` (uint8); neither is read here.

Scale and fill. Current LIS/LVT: scale 0.0001, valid 0-10000, negative values are fill; a
MATLAB extractor uses valid range 0-10000 [code: NASA-LIS/LISF]; an older LVT revision used
x0.01 and fill 2550 [code]: a conflict, so each SDS's own ``scale_factor``, ``add_offset``,
``_FillValue`` and ``valid_range`` decide, and what a file lacks comes from ``encoding``
(params ``sources.encodings.glass_albedo``); without ``scale_factor`` in either, SourceError.
Decoded valid values outside 0-1 are a SourceError (a wrong scale). The demo writes int16,
``scale_factor`` 0.0001, ``add_offset`` 0, ``valid_range`` 0..10000, ``_FillValue`` -1.

Dates. Composites start on days 1, 9, ..., 361 of each year (:func:`composite_dates`)
[code: NASA-LIS/LISF, 8-day]. :func:`read` returns every composite date of the period; those
without a file are all-NaN, listed in ``attrs["missing_days"]`` (ISO dates) and logged as a
warning naming the folder and the dates.

Reading::

    ds = glass_albedo.read(directory, tile_grid, date(1998, 1, 1), date(1998, 12, 31),
                           bands=["ABD_BSA_VIS"])

returns an ``xarray.Dataset`` with one (time, lat, lon) variable per band on ``tile_grid``;
``time`` holds the acquisition (first) dates of the composites (whether a composite stands for
its first or its central day is the caller's choice). Only the window around the tile is read;
finer files are averaged (area-weighted), coarser ones interpolated bilinearly. Writing (used
by the twin world): :func:`create` then :func:`write_window`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xarray as xr

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import _glass, _hdf4

PRODUCT = "02B05"
VERSION = "04"
LABEL = "GLASS albedo"
ENCODING_KEY = "glass_albedo"
#: The provider's layout: year folders or flat, with or without the processing date.
PATTERN = "**/GLASS02B05.V04.A{year}{doy}*.hdf"
#: Name of the HDF-EOS grid [code: NASA-LIS/LISF].
GRID_NAME = "GLASS02B05"
DEFAULT_PRODUCTION = "2019001"
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
_ALBEDO_TOLERANCE = 1e-6


def composite_dates(year: int) -> list[dt.date]:
    """First days of the 8-day composites of ``year``: day-of-year 1, 9, ..., 361."""
    return [dt.date(year, 1, 1) + dt.timedelta(days=offset) for offset in range(0, 361, 8)]


def expected_dates(start: dt.date, end: dt.date) -> list[dt.date]:
    """Composite (first) dates within ``start..end``."""
    return [d for year in range(start.year, end.year + 1) for d in composite_dates(year) if start <= d <= end]


def file_name(date: dt.date, production: str | None = DEFAULT_PRODUCTION) -> str:
    """File name of the composite acquired on ``date``, e.g. ``GLASS02B05.V04.A1998009.2019001.hdf``.

    ``production=None`` gives the name without processing date (``GLASS02B05.V04.A1998009.hdf``).
    """
    return _glass.file_name(PRODUCT, VERSION, date, production)


def create(
    directory: Path | str,
    date: dt.date,
    grid: Grid,
    values: dict[str, np.ndarray] | None = None,
    *,
    production: str | None = DEFAULT_PRODUCTION,
    year_folder: bool = False,
    grid_name: str | None = GRID_NAME,
) -> Path:
    """Create the file of ``date`` on the global ``grid``, empty (all fill) or from ``values``.

    Parameters
    ----------
    directory : folder of the product (created if missing).
    date : acquisition date (first day of the composite).
    grid : a global grid (0.05 degree in reality, coarser in the demo).
    values : optional band name -> albedo (0-1, NaN = invalid) of ``grid.shape``, written in
        one pass (cheaper than :func:`write_window` afterwards).
    production : processing date token of the name (None: a name without it).
    year_folder : write into ``<directory>/<YYYY>/`` as the archive does.
    grid_name : HDF-EOS grid name written with ``StructMetadata.0`` (None: plain SDS only).

    Returns
    -------
    Path of the new file.
    """
    if grid != Grid.global_grid(grid.resolution):
        raise ValueError(f"GLASS files hold global grids, got bbox {grid.bbox}")
    folder = Path(directory) / f"{date:%Y}" if year_folder else Path(directory)
    path = folder / file_name(date, production)
    _hdf4.create(path, grid, SPECS, _encode(values or {}), grid_name=grid_name)
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


def find_files(
    directory: Path | str, start: dt.date, end: dt.date, pattern: str | None = None
) -> dict[dt.date, Path]:
    """Albedo files acquired in ``start..end`` (inclusive), one per acquisition date.

    ``pattern``: a :class:`~helpers.sources._files.FilePattern` glob (None: :data:`PATTERN`).
    Files not matching it are ignored; the latest processing date wins where a date has
    several (logged). SourceError if ``directory`` does not exist.
    """
    return _glass.find_files(directory, pattern or PATTERN, start, end, LABEL, file_name(start))


def _check_albedo(path: Path, name: str, attributes: dict, values: np.ndarray) -> None:
    """SourceError unless decoded valid values are albedo (0-1)."""
    valid = values[np.isfinite(values)]
    if not valid.size:
        return
    low, high = float(valid.min()), float(valid.max())
    if low < -_ALBEDO_TOLERANCE or high > 1 + _ALBEDO_TOLERANCE:
        raise SourceError(
            path,
            f"SDS {name}: expected albedo 0-1, decoded values span {low:g}..{high:g} with scale_factor "
            f"{attributes.get('scale_factor')!r}, _FillValue {attributes.get('_FillValue')!r}, valid_range "
            f"{attributes.get('valid_range')!r}: wrong encoding? (file attributes, else "
            f"sources.encodings.{ENCODING_KEY} in params)",
        )


def read_file(
    path: Path | str,
    grid: Grid,
    bands: list[str] | tuple[str, ...] = BANDS,
    encoding: dict | None = None,
) -> dict[str, np.ndarray]:
    """Decoded albedo of one file on ``grid``: band name -> float32 (nlat, nlon), NaN invalid.

    ``encoding``: fallback scale_factor, add_offset, fill_value, valid_range (params
    ``sources.encodings.glass_albedo``) for attributes the file lacks.
    """
    fields, _ = _glass.read_fields(Path(path), bands, grid, ENCODING_KEY, encoding, _check_albedo)
    return fields


def read(
    directory: Path | str,
    grid: Grid,
    start: dt.date,
    end: dt.date,
    bands: list[str] | tuple[str, ...] = BANDS,
    *,
    pattern: str | None = None,
    encoding: dict | None = None,
) -> xr.Dataset:
    """Albedo composites acquired in ``start..end`` on ``grid``.

    Parameters
    ----------
    directory : folder of the product (year sub-folders or flat).
    grid : destination grid (usually one tile of the product grid).
    start, end : period (inclusive) of acquisition dates.
    bands : SDS to read (params ``sources.albedo_bands``).
    pattern : file pattern (params ``sources.patterns.glass_albedo``; None: :data:`PATTERN`).
    encoding : fallback decoding (params ``sources.encodings.glass_albedo``), used only for
        attributes a file lacks.

    Returns
    -------
    Dataset with one float32 (time, lat, lon) variable per band (albedo, 1), ``time`` = every
    composite date of the period; dates without a file are NaN and listed (ISO) in
    ``attrs["missing_days"]``. SourceError if the period has no file at all.
    """
    files = find_files(directory, start, end, pattern)
    time, stacks, missing = _glass.read_series(
        files, directory, grid, (start, end), expected_dates(start, end), bands, LABEL, file_name(start),
        ENCODING_KEY, encoding, _check_albedo,
    )
    data_vars = {
        band: (
            ("time", "lat", "lon"),
            stacks[band],
            {"units": "1", "long_name": _SPEC_BY_NAME[band].long_name if band in _SPEC_BY_NAME else band},
        )
        for band in bands
    }
    return xr.Dataset(
        data_vars,
        coords={"time": time, "lat": grid.lat, "lon": grid.lon},
        attrs={
            "source": "GLASS AVHRR albedo (GLASS02B05), 8-day composites",
            "missing_days": [d.isoformat() for d in missing],
        },
    )
