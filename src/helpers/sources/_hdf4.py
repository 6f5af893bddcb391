"""HDF4 files on global cell-centre grids (GLASS AVHRR products, MCD12C1): private helpers.

Layout: one 2-D scientific data set (SDS) per variable, shape ``(180/r, 360/r)`` for a
resolution ``r`` (3600 x 7200 on the 0.05 degree CMG), row 0 northernmost, column 0 at
-180. Readers infer ``r`` from the shape. Values decode after CF:
``value = raw * scale_factor + add_offset``, invalid (NaN) where ``raw == _FillValue`` or
outside ``valid_range``; all three are read from the file's attributes.

HDF4 refuses to update a deflate-compressed SDS in place, and pyhdf offers no chunked
layout, so :func:`write_window` rewrites the whole file (atomically) with the window
updated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyhdf.error import HDF4Error
from pyhdf.SD import SD, SDC, SDS

from helpers.errors import SourceError
from helpers.grid import Grid
from helpers.io import atomic_path
from helpers.sources._regrid import SourceWindow, resample, select_window

_SDC_TYPES = {
    np.dtype(np.int8): SDC.INT8,
    np.dtype(np.uint8): SDC.UINT8,
    np.dtype(np.int16): SDC.INT16,
    np.dtype(np.uint16): SDC.UINT16,
    np.dtype(np.int32): SDC.INT32,
    np.dtype(np.float32): SDC.FLOAT32,
}
_NUMPY_TYPES = {code: dtype for dtype, code in _SDC_TYPES.items()}
DEFLATE_LEVEL = 1


@dataclass(frozen=True)
class SdsSpec:
    """How one SDS is stored: type, fill value, CF scaling and descriptive attributes."""

    name: str
    dtype: np.dtype | type
    fill: int
    long_name: str
    units: str
    scale_factor: float | None = None
    add_offset: float | None = None
    valid_range: tuple[int, int] | None = None

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Physical values to stored integers: NaN -> fill, others clipped to ``valid_range``."""
        values = np.asarray(values, dtype=np.float64)
        raw = (values - (self.add_offset or 0.0)) / (self.scale_factor or 1.0)
        low, high = self.valid_range or (np.iinfo(self.dtype).min, np.iinfo(self.dtype).max)
        raw = np.clip(np.rint(raw), low, high)
        return np.where(np.isfinite(values), raw, self.fill).astype(self.dtype)


def cmg_grid(path: Path, shape: tuple[int, ...]) -> Grid:
    """The global grid of an array of ``shape``; SourceError if it is not a global grid.

    The cells ``r = 180 / rows`` must tile the globe from the poles and the equator, so an
    odd number of rows is refused too.
    """
    problem = (
        f"array shape {tuple(int(n) for n in shape)} is not a global lat/lon grid "
        "(expected (180/r, 360/r) for a resolution r, e.g. 3600 x 7200 at 0.05 deg)"
    )
    if len(shape) != 2 or shape[0] < 1 or shape[1] != 2 * shape[0]:
        raise SourceError(path, problem)
    try:
        return Grid.global_grid(180.0 / shape[0])
    except ValueError as exc:  # 180 / rows does not divide the grid's edges (an odd row count)
        raise SourceError(path, f"{problem}: {exc}") from None


@contextlib.contextmanager
def open_sd(path: Path | str) -> Iterator[SD]:
    """Open an HDF4 file for reading; SourceError if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(path, "file not found")
    try:
        sd = SD(str(path), SDC.READ)
    except HDF4Error as exc:
        raise SourceError(path, f"not a readable HDF4 file, truncated or corrupt? ({exc})") from exc
    try:
        yield sd
    finally:
        sd.end()


def select(sd: SD, path: Path, name: str) -> SDS:
    """The SDS ``name``; SourceError listing the file's SDS if it is absent."""
    names = sd.datasets()
    if name not in names:
        raise SourceError(path, f"SDS {name} not found; file has: {', '.join(sorted(names)) or 'no SDS'}")
    try:
        return sd.select(name)
    except HDF4Error as exc:
        raise SourceError(path, f"cannot open SDS {name}, file truncated or corrupt? ({exc})") from exc


def decode(raw: np.ndarray, attributes: dict) -> np.ndarray:
    """Stored values to float32 physical values with NaN for fill and out-of-range values."""
    invalid = np.zeros(raw.shape, dtype=bool)
    if "_FillValue" in attributes:
        invalid |= raw == attributes["_FillValue"]
    if "valid_range" in attributes:
        low, high = attributes["valid_range"]
        invalid |= (raw < low) | (raw > high)
    values = raw * float(attributes.get("scale_factor", 1.0)) + float(attributes.get("add_offset", 0.0))
    return np.where(invalid, np.nan, values).astype(np.float32)


def read_window(
    path: Path, sd: SD, name: str, dst: Grid, margin: int
) -> tuple[np.ndarray, dict, SourceWindow]:
    """Stored values of SDS ``name`` around ``dst``, its attributes and the window read."""
    sds = select(sd, path, name)
    try:
        grid = cmg_grid(path, tuple(np.atleast_1d(sds.info()[2])))
        window = select_window(grid.lat, grid.lon, dst, margin)
        attributes = sds.attributes()

        def read_block(rows: slice, cols: slice) -> np.ndarray:
            try:
                return np.asarray(sds[rows, cols])
            except (HDF4Error, ValueError) as exc:
                raise SourceError(
                    path, f"cannot read SDS {name}, file truncated or corrupt? ({exc})"
                ) from exc

        raw = window.read(read_block) if not window.empty else np.empty(window.shape)
    finally:
        sds.endaccess()
    return raw, attributes, window


def read_fields(
    path: Path,
    names: list[str] | tuple[str, ...],
    dst: Grid,
    check: Callable[[Path, str, dict, np.ndarray], None] | None = None,
) -> dict[str, np.ndarray]:
    """Decode SDS ``names`` of one file onto ``dst``.

    ``check(path, name, attributes, decoded_window)`` may raise SourceError (units, plausibility).
    """
    out = {}
    with open_sd(path) as sd:
        for name in names:
            raw, attributes, window = read_window(path, sd, name, dst, margin=1)
            values = decode(raw, attributes)
            if check is not None:
                check(path, name, attributes, values)
            out[name] = resample(values, window.lat, window.lon, dst)
    return out


def create(path: Path, grid: Grid, specs: list[SdsSpec], data: dict[str, np.ndarray] | None = None) -> None:
    """Write a new file (atomically) with one deflate-compressed SDS per spec.

    SDS without an entry in ``data`` are filled with their fill value.
    """
    data = data or {}
    with atomic_path(path) as tmp:
        sd = SD(str(tmp), SDC.WRITE | SDC.CREATE)
        try:
            for spec in specs:
                array = data.get(spec.name)
                if array is None:
                    array = np.full(grid.shape, spec.fill, dtype=spec.dtype)
                _write_sds(sd, spec, array)
        finally:
            sd.end()


def _write_sds(sd: SD, spec: SdsSpec, array: np.ndarray) -> None:
    sds = sd.create(spec.name, _SDC_TYPES[np.dtype(spec.dtype)], array.shape)
    try:
        sds.setfillvalue(spec.fill)
        if spec.valid_range is not None:
            sds.setrange(*spec.valid_range)
        sds.long_name = spec.long_name
        sds.units = spec.units
        if spec.scale_factor is not None:
            sds.scale_factor = float(spec.scale_factor)
            sds.add_offset = float(spec.add_offset or 0.0)
        sds.setcompress(SDC.COMP_DEFLATE, DEFLATE_LEVEL)
        sds[:] = np.ascontiguousarray(array, dtype=spec.dtype)
    finally:
        sds.endaccess()


def _spec_of(name: str, sds: SDS) -> SdsSpec:
    attributes = sds.attributes()
    valid_range = attributes.get("valid_range")
    return SdsSpec(
        name=name,
        dtype=_NUMPY_TYPES[sds.info()[3]],
        fill=attributes["_FillValue"],
        long_name=attributes.get("long_name", ""),
        units=attributes.get("units", ""),
        scale_factor=attributes.get("scale_factor"),
        add_offset=attributes.get("add_offset"),
        valid_range=tuple(valid_range) if valid_range is not None else None,
    )


def write_window(path: Path | str, window: Grid, encoded: dict[str, np.ndarray]) -> None:
    """Replace the cells of ``window`` (a sub-grid of the file's grid) in SDS ``encoded``.

    ``encoded`` maps SDS names to stored (already encoded) arrays of ``window.shape``.
    """
    path = Path(path)
    with open_sd(path) as sd:
        names = list(sd.datasets())
        specs, data = [], {}
        for name in names:
            sds = select(sd, path, name)
            try:
                specs.append(_spec_of(name, sds))
                data[name] = np.asarray(sds[:])
            finally:
                sds.endaccess()
    unknown = sorted(set(encoded) - set(names))
    if unknown:
        raise SourceError(path, f"SDS {', '.join(unknown)} not found; file has: {', '.join(sorted(names))}")
    grid = cmg_grid(path, data[names[0]].shape)
    row, col = window.offset_in(grid)
    for name, raw in encoded.items():
        if raw.shape != window.shape:
            raise ValueError(f"values for {name} have shape {raw.shape}, window is {window.shape}")
        data[name][row : row + window.nlat, col : col + window.nlon] = raw
    create(path, grid, specs, data)
