"""What the GLASS AVHRR HDF4 products (albedo, LST) share: finding files and reading a period.

Provider: GLASS (Global LAnd Surface Satellite) products, www.glass.umd.edu and the archive
glass.hku.hk (``archive/LST/AVHRR/0.05D/<YYYY>/GLASS08B31.V40.A<YYYY><DOY>.<YYYYDDD>.hdf``)
[code: felixschulz385/growth-and-temperature gnt/data/preprocess/sources/glass.py].

Names. Real files are ``GLASS<code>.V<version>.A<YYYY><DOY>.<YYYYDDD>.hdf``: product code,
version, acquisition year and day of year, then the processing (production) date, e.g.
``GLASS02B05.V04.A1981169.2018062.hdf`` [code: NASA-LIS/LISF readGLASSalbedoObs.F90]; the
processing date cannot be predicted [code: growth-and-temperature]. The LIS readers build
``<dir>/<YYYY>/GLASS02B05.V04.A<YYYY><DOY>.hdf`` without it [code: NASA-LIS/LISF
read_GLASSalbedo.F90], so both forms are accepted: the default patterns end in ``*.hdf``
after the day and match at any folder depth (``<YYYY>/`` sub-folders or flat).

Reprocessings. When one acquisition date has several files, the one with the latest
processing date wins and an info message names both; a name without a processing date ranks
below any name with one. Two files of one date whose processing dates tie (the same file in
two folders, or two names without a date) cannot be ordered: SourceError naming both.

Decoding (:func:`encoding_attributes`). Scale, offset, fill and valid range come from each
SDS's attributes (``scale_factor``, ``add_offset``, ``_FillValue``, ``valid_range``; CF:
``value = stored * scale_factor + add_offset``), attribute by attribute; what a file lacks
comes from the params' ``sources.encodings.<product>`` (keys ``scale_factor``,
``add_offset``, ``fill_value``, ``valid_range``). An SDS without ``scale_factor`` and no
encoding given is a SourceError: nothing is assumed.

Grid. Every file must hold the global grid (0.05 deg CMG, 7200 x 3600, row 0 north, in
reality; coarser in the demo) and where a ``StructMetadata.0`` is present, its HDF-EOS grid
must agree (:func:`helpers.sources._hdf4.check_eos_grid`); all files of a read must share one
grid (SourceError naming both files otherwise).

Missing days. :func:`read_series` returns every expected date of the period (the caller says
which: composite dates, or every day); dates without a file are all-NaN and listed in the
returned ``missing`` and a logged warning names the folder and the days. A period without
any file is a SourceError.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.sources import _hdf4
from helpers.sources._files import (
    dated_files,
    describe_days,
    no_files_error,
    require_directory,
    time_coordinate,
)
from helpers.sources._regrid import resample

log = logging.getLogger(__name__)

#: The processing date of a GLASS name: ``.A<YYYYDDD>.<YYYYDDD>.hdf``.
_PRODUCTION = re.compile(r"\.A\d{7}\.(?P<production>\d{7})\.hdf$", re.IGNORECASE)
_ENCODING_KEYS = {"scale_factor": "scale_factor", "add_offset": "add_offset",
                  "fill_value": "_FillValue", "valid_range": "valid_range"}

Check = Callable[[Path, str, dict, np.ndarray], None]


def file_name(product: str, version: str, date: dt.date, production: str | None) -> str:
    """``GLASS{product}.V{version}.A{YYYYDDD}[.{production}].hdf``."""
    token = f".{production}" if production else ""
    return f"GLASS{product}.V{version}.A{date:%Y%j}{token}.hdf"


def production_of(path: Path) -> str | None:
    """The processing date token (``YYYYDDD``) of a GLASS file name, None if it has none."""
    match = _PRODUCTION.search(path.name)
    return match["production"] if match else None


def find_files(
    directory: Path | str, pattern: str, start: dt.date, end: dt.date, label: str, example: str
) -> dict[dt.date, Path]:
    """Files matching ``pattern`` acquired in ``start..end`` (inclusive), one per date.

    The latest processing date wins (logged); SourceError if the folder is missing or two
    files of one date cannot be ordered.
    """
    directory = require_directory(directory, label, example)
    out: dict[dt.date, Path] = {}
    for date, paths in dated_files(directory, pattern, start, end).items():
        if not isinstance(date, dt.date):
            raise SourceError(directory, f"file pattern {pattern!r} gives no day of year; expected {{doy}}")
        ranked = sorted(paths, key=lambda p: (production_of(p) or "", str(p)))
        best = ranked[-1]
        if len(ranked) > 1:
            runner_up = ranked[-2]
            if (production_of(runner_up) or "") == (production_of(best) or ""):
                raise SourceError(
                    runner_up,
                    f"two {label} files for {date} with the same processing date: {runner_up} and {best}; "
                    "keep one",
                )
            for older in ranked[:-1]:
                log.info("%s: %s supersedes %s for %s (later processing date)", directory, best.name,
                         older.relative_to(directory), date)
        out[date] = best
    return out


def encoding_attributes(
    path: Path, name: str, attributes: dict, encoding: dict | None, product: str
) -> dict:
    """SDS ``attributes`` completed from ``encoding`` (params), attributes first.

    SourceError if neither gives a ``scale_factor``.
    """
    merged = dict(attributes)
    for key, attribute in _ENCODING_KEYS.items():
        if attribute not in merged and encoding is not None and encoding.get(key) is not None:
            merged[attribute] = encoding[key]
    if "scale_factor" not in merged:
        raise SourceError(
            path,
            f"SDS {name} has no scale_factor attribute and no encoding was given: set "
            f"sources.encodings.{product} (scale_factor, add_offset, fill_value, valid_range) in params",
        )
    return merged


def read_fields(
    path: Path,
    names: list[str] | tuple[str, ...],
    dst: Grid,
    product: str,
    encoding: dict | None = None,
    check: Check | None = None,
) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
    """Decode SDS ``names`` of one file onto ``dst``; also returns the file's SDS shape.

    Checks each SDS's grid (global shape, StructMetadata) and decoding (see module
    docstring); ``check(path, name, attributes, decoded_window)`` may raise SourceError.
    """
    out: dict[str, np.ndarray] = {}
    shape: tuple[int, ...] = ()
    with _hdf4.open_sd(path) as sd:
        metadata = _hdf4.struct_metadata(sd)
        grids = _hdf4.eos_grid_of(path, metadata) if metadata is not None else None
        for name in names:
            sds = _hdf4.select(sd, path, name)
            try:
                sds_shape = tuple(int(n) for n in np.atleast_1d(sds.info()[2]))
            finally:
                sds.endaccess()
            if shape and sds_shape != shape:
                raise SourceError(path, f"SDS {name} has shape {sds_shape}, SDS {names[0]} has {shape}")
            shape = sds_shape
            _hdf4.cmg_grid(path, sds_shape)
            if grids is not None:
                _hdf4.check_grids(path, grids, name, sds_shape)
            raw, attributes, window = _hdf4.read_window(path, sd, name, dst, margin=1)
            attributes = encoding_attributes(path, name, attributes, encoding, product)
            values = _hdf4.decode(raw, attributes)
            if check is not None:
                check(path, name, attributes, values)
            out[name] = resample(values, window.lat, window.lon, dst)
    return out, shape


def read_series(
    files: dict[dt.date, Path],
    directory: Path | str,
    grid: Grid,
    period: tuple[dt.date, dt.date],
    expected: list[dt.date],
    names: list[str] | tuple[str, ...],
    label: str,
    example: str,
    product: str,
    encoding: dict | None = None,
    check: Check | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], list[dt.date]]:
    """Time coordinate, (time, lat, lon) stacks of SDS ``names`` and the missing dates.

    ``expected`` holds every date ``period`` should have (sorted); dates without a file are
    NaN. SourceError if there is no file at all, a file's date is not an expected one, or a
    file's grid differs from the first file's.
    """
    directory = Path(directory)
    if not files:
        raise no_files_error(directory, label, *period, example)
    index_of = {date: index for index, date in enumerate(expected)}
    unexpected = sorted(set(files) - set(index_of))
    if unexpected:
        raise SourceError(
            files[unexpected[0]],
            f"{label} file for {unexpected[0]}, which is not one of the product's dates "
            f"({describe_days(expected[:3])}, ...); wrong product or file pattern?",
        )
    stacks = {name: np.full((len(expected), *grid.shape), np.nan, dtype=np.float32) for name in names}
    first: tuple[Path, tuple[int, ...]] | None = None
    for date, path in files.items():
        fields, shape = read_fields(path, names, grid, product, encoding, check)
        if first is None:
            first = (path, shape)
        elif shape != first[1]:
            raise SourceError(
                path, f"grid {shape[1]} x {shape[0]} differs from {first[0]} ({first[1][1]} x {first[1][0]})"
            )
        for name, values in fields.items():
            stacks[name][index_of[date]] = values
    missing = [date for date in expected if date not in files]
    if missing:
        log.warning("%s: no %s file for %s of %s..%s; those dates are NaN", directory, label,
                    describe_days(missing), *period)
    return time_coordinate(expected), stacks, missing
