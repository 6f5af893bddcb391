"""HDF4 files on global cell-centre grids (GLASS AVHRR products, MCD12C1): private helpers.

Layout: one 2-D scientific data set (SDS) per variable, shape ``(180/r, 360/r)`` for a
resolution ``r`` (3600 x 7200 on the 0.05 degree CMG), row 0 northernmost, column 0 at
-180. Readers infer ``r`` from the shape. Values decode after CF:
``value = raw * scale_factor + add_offset``, invalid (NaN) where ``raw == _FillValue`` or
outside ``valid_range``; all three are read from the file's attributes.

HDF-EOS grids. The real products are HDF4-EOS grid files: the SDS of a grid (e.g. grid
``GLASS02B05``) are ordinary SDS to the SD interface, their dimensions are named
``YDim:<grid>`` and ``XDim:<grid>``, and the global attribute ``StructMetadata.0`` (then
``.1``, ... when longer than 32000 characters) holds the grid's ODL description: ``GridName``,
``XDim``, ``YDim``, ``UpperLeftPointMtrs``, ``LowerRightMtrs``, ``Projection`` and the
``DataFieldName`` of each SDS [doc: HDF-EOS2 grid conventions]. For ``Projection=GCTP_GEO``
the corner points are packed degrees-minutes-seconds ``DDDMMMSSS.SS``, so
``-180000000.000000`` is -180 deg [doc: HDF-EOS2 GDdefgrid]. :func:`eos_grid_of` parses it and
:func:`check_eos_grid` compares it with an SDS's shape; :func:`create` writes it when given a
grid name.

HDF4 refuses to update a deflate-compressed SDS in place, and pyhdf offers no chunked
layout, so :func:`write_window` rewrites the whole file (atomically) with the window
updated.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


def create(
    path: Path,
    grid: Grid,
    specs: list[SdsSpec],
    data: dict[str, np.ndarray] | None = None,
    *,
    grid_name: str | None = None,
    struct_metadata: str | None = None,
) -> None:
    """Write a new file (atomically) with one deflate-compressed SDS per spec.

    SDS without an entry in ``data`` are filled with their fill value. With ``grid_name``
    the file is laid out like an HDF-EOS grid: dimensions ``YDim:<grid_name>`` and
    ``XDim:<grid_name>`` and a ``StructMetadata.0`` describing the global GEO grid (written
    by :func:`eos_struct_metadata`, or ``struct_metadata`` verbatim when given).
    """
    data = data or {}
    if struct_metadata is None and grid_name is not None:
        struct_metadata = eos_struct_metadata(grid_name, grid.shape, specs)
    with atomic_path(path) as tmp:
        sd = SD(str(tmp), SDC.WRITE | SDC.CREATE)
        try:
            if struct_metadata is not None:
                sd.attr("StructMetadata.0").set(SDC.CHAR8, struct_metadata)
            for spec in specs:
                array = data.get(spec.name)
                if array is None:
                    array = np.full(grid.shape, spec.fill, dtype=spec.dtype)
                _write_sds(sd, spec, array, grid_name)
        finally:
            sd.end()


def _write_sds(sd: SD, spec: SdsSpec, array: np.ndarray, grid_name: str | None = None) -> None:
    sds = sd.create(spec.name, _SDC_TYPES[np.dtype(spec.dtype)], array.shape)
    try:
        if grid_name is not None and array.ndim == 2:
            sds.dim(0).setname(f"YDim:{grid_name}")
            sds.dim(1).setname(f"XDim:{grid_name}")
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
        metadata = struct_metadata(sd)
        eos_grids = eos_grid_of(path, metadata) if metadata is not None else []
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
    grid_name = eos_grids[0].name if len(eos_grids) == 1 else None
    create(path, grid, specs, data, grid_name=grid_name, struct_metadata=metadata)


# --- HDF-EOS grid structure ----------------------------------------------------------------

#: HDF number types as StructMetadata names them.
_DFNT_NAMES = {
    np.dtype(np.int8): "DFNT_INT8",
    np.dtype(np.uint8): "DFNT_UINT8",
    np.dtype(np.int16): "DFNT_INT16",
    np.dtype(np.uint16): "DFNT_UINT16",
    np.dtype(np.int32): "DFNT_INT32",
    np.dtype(np.float32): "DFNT_FLOAT32",
}
_CORNER_TOLERANCE_DEG = 1e-6


@dataclass(frozen=True)
class EosGrid:
    """One grid of a ``StructMetadata.0``: name, size, corners (deg) and data fields."""

    name: str
    xdim: int | None
    ydim: int | None
    upper_left: tuple[float, float] | None  # (lon, lat) in degrees
    lower_right: tuple[float, float] | None
    projection: str | None
    fields: tuple[str, ...] = field(default=())


def struct_metadata(sd: SD) -> str | None:
    """The file's ``StructMetadata.0`` (with ``.1``, ``.2``, ... appended), None if absent."""
    attributes = sd.attributes()
    if "StructMetadata.0" not in attributes:
        return None
    parts, index = [], 0
    while f"StructMetadata.{index}" in attributes:
        parts.append(str(attributes[f"StructMetadata.{index}"]))
        index += 1
    return "".join(parts).replace("\x00", "")


def packed_dms_to_degrees(value: float) -> float:
    """Packed ``DDDMMMSSS.SS`` (HDF-EOS GEO corner points) to decimal degrees.

    Values within +-360 are taken as plain degrees already (some producers write those).
    """
    if abs(value) <= 360.0:
        return float(value)
    sign = -1.0 if value < 0 else 1.0
    magnitude = abs(value)
    degrees = int(magnitude // 1_000_000)
    minutes = int((magnitude - degrees * 1_000_000) // 1_000)
    seconds = magnitude - degrees * 1_000_000 - minutes * 1_000
    return sign * (degrees + minutes / 60.0 + seconds / 3600.0)


def degrees_to_packed_dms(value: float) -> float:
    """Decimal degrees to packed ``DDDMMMSSS.SS``."""
    sign = -1.0 if value < 0 else 1.0
    magnitude = abs(value)
    degrees = int(magnitude)
    minutes = int(round((magnitude - degrees) * 60.0, 9))
    seconds = (magnitude - degrees - minutes / 60.0) * 3600.0
    return sign * (degrees * 1_000_000 + minutes * 1_000 + round(seconds, 2))


def _corner(path: Path, text: str | None, key: str) -> tuple[float, float] | None:
    if text is None:
        return None
    numbers = re.findall(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", text)
    if len(numbers) != 2:
        raise SourceError(path, f"StructMetadata.0: {key}={text} is not a (x, y) pair")
    return packed_dms_to_degrees(float(numbers[0])), packed_dms_to_degrees(float(numbers[1]))


def eos_grid_of(path: Path, text: str) -> list[EosGrid]:
    """The grids an HDF-EOS ``StructMetadata.0`` describes (empty if it has none)."""
    grids: list[EosGrid] = []
    current: dict | None = None
    depth = 0
    in_grids = False
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "GROUP":
            if value == "GridStructure":
                in_grids = True
            elif in_grids and current is None:
                current, depth = {"group": value, "fields": []}, 0
            elif current is not None:
                depth += 1
        elif key == "END_GROUP":
            if current is not None and depth == 0:
                grids.append(_grid_from(path, current))
                current = None
            elif current is not None:
                depth -= 1
            elif value == "GridStructure":
                in_grids = False
        elif current is not None:
            if key == "DataFieldName":
                current["fields"].append(value.strip('"'))
            elif depth == 0:
                current[key] = value
    return grids


def _grid_from(path: Path, entries: dict) -> EosGrid:
    def integer(key: str) -> int | None:
        if key not in entries:
            return None
        try:
            return int(entries[key])
        except ValueError:
            raise SourceError(path, f"StructMetadata.0: {key}={entries[key]} is not an integer") from None

    return EosGrid(
        name=entries.get("GridName", entries["group"]).strip('"'),
        xdim=integer("XDim"),
        ydim=integer("YDim"),
        upper_left=_corner(path, entries.get("UpperLeftPointMtrs"), "UpperLeftPointMtrs"),
        lower_right=_corner(path, entries.get("LowerRightMtrs"), "LowerRightMtrs"),
        projection=entries.get("Projection"),
        fields=tuple(entries["fields"]),
    )


def check_eos_grid(path: Path, sd: SD, name: str, shape: tuple[int, ...]) -> EosGrid | None:
    """Check the HDF-EOS grid holding SDS ``name`` against its ``shape``; None without StructMetadata.

    SourceError naming ``path`` unless the grid is a global ``GCTP_GEO`` grid (upper left
    -180, 90; lower right 180, -90) whose ``YDim`` x ``XDim`` equal the SDS shape.
    """
    text = struct_metadata(sd)
    if text is None:
        return None
    return check_grids(path, eos_grid_of(path, text), name, shape)


def check_grids(path: Path, grids: list[EosGrid], name: str, shape: tuple[int, ...]) -> EosGrid:
    """:func:`check_eos_grid` on grids already parsed (one parse per file for many SDS)."""
    holding = [g for g in grids if name in g.fields] or (grids if len(grids) == 1 else [])
    if not holding:
        described = ", ".join(g.name for g in grids) or "none"
        raise SourceError(
            path, f"StructMetadata.0 describes no HDF-EOS grid holding SDS {name} (grids: {described})"
        )
    grid = holding[0]
    if grid.projection is not None and grid.projection != "GCTP_GEO":
        raise SourceError(
            path, f"HDF-EOS grid {grid.name}: expected Projection=GCTP_GEO (lat/lon), got {grid.projection}"
        )
    if (grid.ydim, grid.xdim) != tuple(int(n) for n in shape[-2:]):
        raise SourceError(
            path,
            f"HDF-EOS grid {grid.name} is YDim x XDim = {grid.ydim} x {grid.xdim} in StructMetadata.0, "
            f"but SDS {name} has shape {tuple(int(n) for n in shape)}",
        )
    expected = ((-180.0, 90.0), (180.0, -90.0))
    got = (grid.upper_left, grid.lower_right)
    if any(
        corner is None or any(abs(a - b) > _CORNER_TOLERANCE_DEG for a, b in zip(corner, want, strict=True))
        for corner, want in zip(got, expected, strict=True)
    ):
        raise SourceError(
            path,
            f"HDF-EOS grid {grid.name} is not global: corners (lon, lat) upper left {grid.upper_left}, "
            f"lower right {grid.lower_right} deg; expected (-180, 90) and (180, -90)",
        )
    return grid


def eos_struct_metadata(
    grid_name: str,
    shape: tuple[int, int],
    specs: list[SdsSpec],
    upper_left: tuple[float, float] = (-180.0, 90.0),
    lower_right: tuple[float, float] = (180.0, -90.0),
    projection: str = "GCTP_GEO",
) -> str:
    """``StructMetadata.0`` of one HDF-EOS grid holding ``specs`` (corners in degrees)."""
    def pair(corner: tuple[float, float]) -> str:
        return "({:.6f},{:.6f})".format(*(degrees_to_packed_dms(v) for v in corner))

    fields = []
    for index, spec in enumerate(specs, start=1):
        fields += [
            f"\t\t\tOBJECT=DataField_{index}",
            f'\t\t\t\tDataFieldName="{spec.name}"',
            f"\t\t\t\tDataType={_DFNT_NAMES[np.dtype(spec.dtype)]}",
            '\t\t\t\tDimList=("YDim","XDim")',
            f"\t\t\tEND_OBJECT=DataField_{index}",
        ]
    lines = [
        "GROUP=SwathStructure",
        "END_GROUP=SwathStructure",
        "GROUP=GridStructure",
        "\tGROUP=GRID_1",
        f'\t\tGridName="{grid_name}"',
        f"\t\tXDim={shape[1]}",
        f"\t\tYDim={shape[0]}",
        f"\t\tUpperLeftPointMtrs={pair(upper_left)}",
        f"\t\tLowerRightMtrs={pair(lower_right)}",
        f"\t\tProjection={projection}",
        "\t\tGROUP=Dimension",
        "\t\tEND_GROUP=Dimension",
        "\t\tGROUP=DataField",
        *fields,
        "\t\tEND_GROUP=DataField",
        "\t\tGROUP=MergedFields",
        "\t\tEND_GROUP=MergedFields",
        "\tEND_GROUP=GRID_1",
        "END_GROUP=GridStructure",
        "GROUP=PointStructure",
        "END_GROUP=PointStructure",
        "END",
        "",
    ]
    return "\n".join(lines)
