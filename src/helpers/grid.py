"""Regular latitude/longitude grids and regridding between them.

Conventions used everywhere in the project
-----------------------------------------
* A :class:`Grid` is a regular grid of square cells of ``resolution`` degrees covering a
  bounding box ``(west, south, east, north)`` whose edges lie on multiples of the
  resolution. Row 0 is the northernmost row, as in the 0.05 degree climate-modelling grid
  (CMG) of the GLASS and MCD12C1 products, so latitudes *descend*; longitudes ascend in
  -180..180.
* A field on a grid is an array whose last two axes are (lat, lon).
* Coarsening (fine source to coarse destination) is an area-weighted mean of the valid
  (non-NaN) source cells, with a minimum valid area fraction; refining (coarse to fine) is
  bilinear interpolation between cell centres, renormalised over the valid neighbours
  where some are missing (coasts). :func:`regrid` picks the method from the two
  resolutions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_KM = 6371.0072  # authalic radius


@dataclass(frozen=True)
class Grid:
    """A regular lat/lon grid; see the module docstring for the conventions."""

    resolution: float
    west: float = -180.0
    south: float = -90.0
    east: float = 180.0
    north: float = 90.0

    def __post_init__(self) -> None:
        if not self.resolution > 0:
            raise ValueError(f"grid resolution must be > 0 degrees, got {self.resolution}")
        if not (-180 <= self.west < self.east <= 180 and -90 <= self.south < self.north <= 90):
            raise ValueError(
                "grid bbox must satisfy -180 <= west < east <= 180 and -90 <= south < north <= 90,"
                f" got {self.bbox}"
            )
        for name, edge in zip(("west", "south", "east", "north"), self.bbox, strict=True):
            steps = edge / self.resolution
            if abs(steps - round(steps)) > 1e-6:
                raise ValueError(
                    f"grid bbox edge {name}={edge} is not a multiple of the resolution {self.resolution}"
                )

    @classmethod
    def global_grid(cls, resolution: float) -> Grid:
        """The global grid of the given resolution."""
        return cls(resolution)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)

    @property
    def nlat(self) -> int:
        return round((self.north - self.south) / self.resolution)

    @property
    def nlon(self) -> int:
        return round((self.east - self.west) / self.resolution)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.nlat, self.nlon)

    @property
    def lat(self) -> np.ndarray:
        """Cell-centre latitudes, descending (row 0 is the northernmost)."""
        return self.north - (np.arange(self.nlat) + 0.5) * self.resolution

    @property
    def lon(self) -> np.ndarray:
        """Cell-centre longitudes, ascending."""
        return self.west + (np.arange(self.nlon) + 0.5) * self.resolution

    def cell_area_km2(self) -> np.ndarray:
        """Area of the cells of each row in km2, shape (nlat,).

        ``A = R^2 * dlon * (sin(lat_north) - sin(lat_south))`` with angles in radians.
        """
        north_edges = np.radians(self.north - np.arange(self.nlat) * self.resolution)
        south_edges = np.radians(self.north - (np.arange(self.nlat) + 1) * self.resolution)
        return (
            EARTH_RADIUS_KM**2
            * math.radians(self.resolution)
            * (np.sin(north_edges) - np.sin(south_edges))
        )

    def offset_in(self, parent: Grid) -> tuple[int, int]:
        """(row, col) of this grid's north-west cell inside ``parent`` (same resolution)."""
        if not math.isclose(self.resolution, parent.resolution):
            raise ValueError(
                f"grids differ in resolution ({self.resolution} vs {parent.resolution})"
            )
        row = round((parent.north - self.north) / self.resolution)
        col = round((self.west - parent.west) / self.resolution)
        if row < 0 or col < 0 or row + self.nlat > parent.nlat or col + self.nlon > parent.nlon:
            raise ValueError(f"grid {self.bbox} is not inside grid {parent.bbox}")
        return row, col

    def window(self, row0: int, row1: int, col0: int, col1: int) -> Grid:
        """The sub-grid of rows ``row0:row1`` and columns ``col0:col1``."""
        r = self.resolution
        return Grid(
            r,
            west=_snap(self.west + col0 * r, r),
            south=_snap(self.north - row1 * r, r),
            east=_snap(self.west + col1 * r, r),
            north=_snap(self.north - row0 * r, r),
        )

    def tiles(self, tile_cells: int) -> Iterator[tuple[slice, slice, Grid]]:
        """Split into tiles of at most ``tile_cells`` x ``tile_cells`` cells.

        Yields ``(row_slice, col_slice, tile_grid)`` in row-major order.
        """
        if tile_cells < 1:
            raise ValueError(f"tile_cells must be >= 1, got {tile_cells}")
        for row0 in range(0, self.nlat, tile_cells):
            row1 = min(row0 + tile_cells, self.nlat)
            for col0 in range(0, self.nlon, tile_cells):
                col1 = min(col0 + tile_cells, self.nlon)
                yield slice(row0, row1), slice(col0, col1), self.window(row0, row1, col0, col1)

    def coarsened(self, factor: int) -> Grid:
        """The grid whose cells are ``factor`` x ``factor`` blocks of this grid's cells."""
        return Grid(self.resolution * factor, *self.bbox)

    def rows_cols_of(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cell containing each point; -1 outside the grid."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        rows = np.floor((self.north - lat) / self.resolution).astype(int)
        cols = np.floor((lon - self.west) / self.resolution).astype(int)
        inside = (rows >= 0) & (rows < self.nlat) & (cols >= 0) & (cols < self.nlon)
        return np.where(inside, rows, -1), np.where(inside, cols, -1)


def _snap(value: float, resolution: float) -> float:
    """Round to the nearest multiple of the resolution (removes float drift)."""
    return round(round(value / resolution) * resolution, 10)


def grid_from_centres(lat: np.ndarray, lon: np.ndarray) -> Grid:
    """Recover the :class:`Grid` from regular cell-centre coordinates (any order)."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    if lat.size < 2 or lon.size < 2:
        raise ValueError("need at least two latitudes and two longitudes to infer a grid")
    res = float(abs(lon[1] - lon[0]))
    if not (np.allclose(np.abs(np.diff(lat)), res, rtol=1e-4) and np.allclose(np.diff(lon), res, rtol=1e-4)):
        raise ValueError("coordinates are not a regular grid of square cells with ascending longitude")
    res = round(res, 10)
    return Grid(
        res,
        west=_snap(lon.min() - res / 2, res),
        south=_snap(lat.min() - res / 2, res),
        east=_snap(lon.max() + res / 2, res),
        north=_snap(lat.max() + res / 2, res),
    )


def coarsen_mean(
    field: np.ndarray,
    factor: int,
    cell_area: np.ndarray | None = None,
    min_valid_fraction: float = 0.0,
) -> np.ndarray:
    """Area-weighted mean over ``factor`` x ``factor`` blocks, ignoring NaN.

    ``mean_B = sum_{i in B, valid} a_i x_i / sum_{i in B, valid} a_i``; the result is NaN where
    the valid area share of the block is at most ``min_valid_fraction`` (or no cell is valid).

    Parameters
    ----------
    field : array (..., nlat, nlon); nlat and nlon must be multiples of ``factor``.
    factor : int, block size in cells.
    cell_area : array (nlat,), optional; area of each source row's cells (uniform if None).
    min_valid_fraction : float in [0, 1).
    """
    nlat, nlon = field.shape[-2:]
    if nlat % factor or nlon % factor:
        raise ValueError(f"field shape {(nlat, nlon)} is not a multiple of the factor {factor}")
    area = np.ones(nlat) if cell_area is None else np.asarray(cell_area, dtype=float)
    dtype = field.dtype if np.issubdtype(field.dtype, np.floating) else np.dtype(np.float32)
    row_weight = area.astype(dtype)[:, None]  # broadcasts over columns and leading axes
    valid = np.isfinite(field)
    num = _block_sum(np.where(valid, field, 0).astype(dtype, copy=False) * row_weight, factor)
    den = _block_sum(valid * row_weight, factor)
    total = _block_sum(np.broadcast_to(row_weight, (nlat, nlon)), factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = num / den
    mean[(den <= min_valid_fraction * total) | (den == 0)] = np.nan
    return mean.astype(dtype, copy=False)


def _block_sum(values: np.ndarray, factor: int) -> np.ndarray:
    """Sum over ``factor`` x ``factor`` blocks of the last two axes, as sums of strided slices
    (much faster than reducing a reshaped axis of length ``factor``)."""
    by_cols = sum(values[..., k::factor] for k in range(1, factor)) + values[..., 0::factor]
    return sum(by_cols[..., k::factor, :] for k in range(1, factor)) + by_cols[..., 0::factor, :]


def interp_bilinear(
    field: np.ndarray,
    src_lat: np.ndarray,
    src_lon: np.ndarray,
    dst_lat: np.ndarray,
    dst_lon: np.ndarray,
) -> np.ndarray:
    """Bilinear interpolation of a coarse field to finer cell centres.

    The weights of the four surrounding source centres are
    ``(1-u)(1-v), u(1-v), (1-u)v, uv`` with ``u, v`` the fractional positions between them;
    missing (NaN) neighbours are dropped and the remaining weights renormalised; where all
    four are missing the result is NaN. Points outside the source centres are clamped to
    the edge (constant extrapolation over half a source cell).

    Parameters
    ----------
    field : array (..., n_src_lat, n_src_lon)
    src_lat, src_lon : 1-D source centre coordinates (lat ascending or descending).
    dst_lat, dst_lon : 1-D destination centre coordinates.
    """
    src_lat = np.asarray(src_lat, dtype=float)
    src_lon = np.asarray(src_lon, dtype=float)
    if src_lat[0] > src_lat[-1]:
        src_lat = src_lat[::-1]
        field = field[..., ::-1, :]
    weights_y = _interpolation_matrix(src_lat, np.asarray(dst_lat, dtype=float))
    weights_x = _interpolation_matrix(src_lon, np.asarray(dst_lon, dtype=float))
    valid = np.isfinite(field)
    # Separable weights: num = Wy @ x @ Wx^T over valid values, den the same over the mask.
    num = weights_y @ np.where(valid, field, 0).astype(np.float32) @ weights_x.T
    den = weights_y @ valid.astype(np.float32) @ weights_x.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[den < 1e-6] = np.nan
    return out.astype(np.float32)


def _interpolation_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Linear interpolation weights (n_dst, n_src) from ascending ``src`` to ``dst`` points."""
    lower, frac = _fractional_index(src, dst)
    upper = np.minimum(lower + 1, src.size - 1)
    matrix = np.zeros((dst.size, src.size), dtype=np.float32)
    rows = np.arange(dst.size)
    np.add.at(matrix, (rows, lower), 1 - frac)
    np.add.at(matrix, (rows, upper), frac)
    return matrix


def _fractional_index(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower neighbour index and fractional offset of ``dst`` in ascending ``src``."""
    pos = np.interp(dst, src, np.arange(src.size, dtype=float))
    lower = np.clip(np.floor(pos).astype(int), 0, max(src.size - 2, 0))
    return lower, np.clip(pos - lower, 0.0, 1.0)


def regrid(
    field: np.ndarray,
    src: Grid,
    dst: Grid,
    min_valid_fraction: float = 0.0,
) -> np.ndarray:
    """Regrid ``field`` (..., src.nlat, src.nlon) from ``src`` to ``dst``.

    * same resolution: the destination window is cut out of the source;
    * source finer by an integer factor: :func:`coarsen_mean` (area-weighted);
    * source coarser: :func:`interp_bilinear`; ``src`` should extend at least one source
      cell beyond ``dst`` so that edge cells have neighbours on both sides.
    """
    ratio = dst.resolution / src.resolution
    if math.isclose(ratio, 1.0):
        row, col = dst.offset_in(src)
        return field[..., row : row + dst.nlat, col : col + dst.nlon]
    if ratio > 1:
        factor = round(ratio)
        if not math.isclose(ratio, factor, rel_tol=1e-6):
            raise ValueError(
                f"cannot coarsen {src.resolution} deg to {dst.resolution} deg: not an integer factor"
            )
        aligned = Grid(src.resolution, *dst.bbox)
        row, col = aligned.offset_in(src)
        window = field[..., row : row + aligned.nlat, col : col + aligned.nlon]
        return coarsen_mean(window, factor, aligned.cell_area_km2(), min_valid_fraction)
    return interp_bilinear(field, src.lat, src.lon, dst.lat, dst.lon)


def margin_grid(grid: Grid, source_resolution: float, cells: int = 1) -> Grid:
    """``grid`` widened to whole ``source_resolution`` cells plus ``cells`` extra on each side.

    Use it to read a coarser source around a tile before :func:`regrid` interpolates it.
    The result is clipped to the globe.
    """
    r = source_resolution
    return Grid(
        r,
        west=max(-180.0, _snap(math.floor(grid.west / r + 1e-9) * r - cells * r, r)),
        south=max(-90.0, _snap(math.floor(grid.south / r + 1e-9) * r - cells * r, r)),
        east=min(180.0, _snap(math.ceil(grid.east / r - 1e-9) * r + cells * r, r)),
        north=min(90.0, _snap(math.ceil(grid.north / r - 1e-9) * r + cells * r, r)),
    )
