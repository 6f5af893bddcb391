"""Sample locations and their split into train, validation and test sets, and how far apart they lie.

:func:`sample_locations` picks the stride cells that qualify as locations and labels each with
its split (:func:`split_labels`, by ``sampling.split_method``: ``random`` or whole spatial
``blocks``, see :func:`block_ids`); :func:`split_distance_km`, :func:`stride_spacing_km` and
:func:`assert_samples_apart` measure and check the distances between them. The rules are told
in :mod:`helpers.sampling` (sections "Locations" and "Splits").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree

from helpers.cube import MASK_VALUES, TARGET
from helpers.grid import EARTH_RADIUS_KM
from helpers.params import Params

SPLITS = ("train", "validation", "test")
#: Share of a training year's days on which the target must exist at a location.
MIN_TARGET_SHARE = 0.5
#: Columns of the locations table (:func:`sample_locations`), stored along ``location``.
LOCATION_COLUMNS = ("row", "col", "lat", "lon", "split", "block")


# Locations and splits ----------------------------------------------------------------------


def sample_locations(
    ds: xr.Dataset, params: Params, split_method: Literal["random", "blocks"] | None = None
) -> pd.DataFrame:
    """The sample locations of a datacube and their split.

    Parameters
    ----------
    ds
        The datacube (:func:`helpers.cube.open_cube`), or any dataset with its ``mask``,
        ``target_sm``, ``lat``, ``lon`` and ``time``.
    params
        Run parameters: ``sampling`` (stride, train years, split) and ``seed``. A location
        qualifies when its target exists on at least :data:`MIN_TARGET_SHARE` of the days of
        every training year (``sampling.train_years``); the alternative years of the
        training-year experiment are read at the same locations but never choose them, so
        switching that experiment on leaves the main comparison's samples as they are.
    split_method
        Overrides ``sampling.split_method`` (e.g. to compare the two splits).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``location`` (0, 1, ... row by row), columns ``row, col`` (in the cube),
        ``lat, lon`` (cell centre), ``split`` (``train``/``validation``/``test``) and
        ``block`` (id of the ``block_size_deg`` square holding the cell).

    Raises
    ------
    ValueError
        if a training year is not in the cube or no cell qualifies.
    """
    settings = params.sampling
    stride = settings.stride
    on_stride = ds.isel(lat=slice(None, None, stride), lon=slice(None, None, stride))
    keep = on_stride["mask"].values == MASK_VALUES["land"]
    times = pd.DatetimeIndex(ds["time"].values)
    for year in params.sample_years:
        if not (times.year == year).any():
            raise ValueError(
                f"sample year {year} is not in the datacube ({times[0].year}-{times[-1].year})"
            )
    for year in settings.train_years:  # the experiment-only years never choose the locations
        share = on_stride[TARGET].isel(time=np.flatnonzero(times.year == year)).notnull().mean("time")
        keep &= share.values >= MIN_TARGET_SHARE
    sub_rows, sub_cols = np.nonzero(keep)
    if sub_rows.size == 0:
        raise ValueError(
            f"no sample location: no unmasked land cell on stride {stride} has the target on at least"
            f" {MIN_TARGET_SHARE:.0%} of the days of every training year {settings.train_years}"
        )
    rows, cols = sub_rows * stride, sub_cols * stride
    lat = ds["lat"].values[rows].astype(float)
    lon = ds["lon"].values[cols].astype(float)
    blocks = block_ids(lat, lon, settings.block_size_deg)
    table = pd.DataFrame(
        {
            "row": rows,
            "col": cols,
            "lat": lat,
            "lon": lon,
            "split": split_labels(blocks, params, split_method),
            "block": blocks,
        }
    )
    table.index.name = "location"
    return table


def split_labels(
    blocks: np.ndarray, params: Params, split_method: Literal["random", "blocks"] | None = None
) -> np.ndarray:
    """``"train"``, ``"validation"`` or ``"test"`` for each location, given its block id.

    ``split_method`` (default ``sampling.split_method``) and ``sampling.split_ratios`` choose
    how (see :mod:`helpers.sampling`); the draw is seeded by ``params.seed``.
    """
    rng = np.random.default_rng(params.seed)
    ratios = params.sampling.split_ratios
    if (split_method or params.sampling.split_method) == "random":
        codes = _split_random(len(blocks), ratios, rng)
    else:
        codes = _split_blocks(np.asarray(blocks), ratios, rng)
    return np.asarray(SPLITS)[codes]


def block_ids(lat: np.ndarray, lon: np.ndarray, block_size_deg: float) -> np.ndarray:
    """Id of the ``block_size_deg`` square holding each point, counted row by row from 90 N, 180 W."""
    per_row = int(np.ceil(360 / block_size_deg))
    block_row = np.floor((90 - np.asarray(lat)) / block_size_deg).astype(int)
    block_col = np.floor((np.asarray(lon) + 180) / block_size_deg).astype(int)
    return block_row * per_row + np.minimum(block_col, per_row - 1)


def _target_counts(n: int, ratios: Sequence[float]) -> np.ndarray:
    """Counts per split summing to ``n`` (largest remainders)."""
    exact = np.asarray(ratios, dtype=float) * n
    counts = np.floor(exact).astype(int)
    order = np.argsort(counts - exact, kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


def _split_random(n: int, ratios: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    codes = np.repeat(np.arange(len(SPLITS)), _target_counts(n, ratios))
    return codes[rng.permutation(n)]


def _split_blocks(blocks: np.ndarray, ratios: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Whole blocks to splits: each (shuffled) block goes to the split furthest below its target."""
    unique, inverse, sizes = np.unique(blocks, return_inverse=True, return_counts=True)
    wanted = np.asarray(ratios, dtype=float) * blocks.size
    open_splits = np.asarray(ratios) > 0
    filled = np.zeros(len(SPLITS))
    block_split = np.empty(unique.size, dtype=int)
    for block in rng.permutation(unique.size):  # one step per block, not per sample
        deficit = np.where(open_splits, wanted - filled, -np.inf)
        block_split[block] = int(np.argmax(deficit))
        filled[block_split[block]] += sizes[block]
    return block_split[inverse]


# Distances between splits ------------------------------------------------------------------


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance ``d = 2 R asin(c / 2)`` from the chord ``c`` of the unit sphere."""
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))


def split_distance_km(locations: pd.DataFrame) -> pd.DataFrame:
    """Great-circle distances between the locations of each pair of splits.

    For each ordered pair (``split_a``, ``split_b``), every location of ``split_a`` is matched
    with its nearest location of ``split_b`` (another location, when the two are the same
    split). ``min_km`` is the smallest of these distances, ``median_nearest_km`` their median:
    how far a typical ``split_a`` location lies from ``split_b``.

    Returns
    -------
    pandas.DataFrame
        Columns ``split_a, split_b, n_a, n_b, min_km, median_nearest_km`` (NaN where a split
        has too few locations).
    """
    points = {
        s: _unit_vectors(g["lat"].to_numpy(), g["lon"].to_numpy()) for s, g in locations.groupby("split")
    }
    rows = []
    for a in SPLITS:
        for b in SPLITS:
            pa, pb = points.get(a, np.empty((0, 3))), points.get(b, np.empty((0, 3)))
            k = 2 if a == b else 1
            nearest = np.array([])
            if len(pa) and len(pb) >= k:
                chord, _ = cKDTree(pb).query(pa, k=k)
                nearest = _chord_to_km(chord[:, -1] if k == 2 else chord)
            rows.append(
                {
                    "split_a": a,
                    "split_b": b,
                    "n_a": len(pa),
                    "n_b": len(pb),
                    "min_km": float(nearest.min()) if nearest.size else np.nan,
                    "median_nearest_km": float(np.median(nearest)) if nearest.size else np.nan,
                }
            )
    return pd.DataFrame(rows)


def stride_spacing_km(locations: pd.DataFrame, params: Params) -> float:
    """Distance between two neighbouring stride cells where they are closest.

    With ``D = stride * resolution`` (radians) and ``phi`` the sample latitude furthest from
    the equator, the closest neighbours are either two cells of one row, ``2 R asin(cos(phi)
    sin(D / 2))``, or of one column, ``R D``; the smaller is returned. ``stride * resolution *
    111 km`` at the equator (25 km in the paper) shrinks with ``cos(phi)`` towards the poles.
    """
    step = np.radians(params.sampling.stride * params.grid.resolution)
    phi = np.radians(np.abs(locations["lat"].to_numpy()).max())
    along_row = 2 * EARTH_RADIUS_KM * np.arcsin(np.cos(phi) * np.sin(step / 2))
    return float(min(along_row, EARTH_RADIUS_KM * step))


def assert_samples_apart(locations: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Check that no two sample locations are closer than neighbouring stride cells.

    What is asserted: for every pair of splits, and within each split, ``min_km`` of
    :func:`split_distance_km` is at least :func:`stride_spacing_km`. This holds exactly when
    every location is on the stride and none is duplicated (in one split or in two).

    What is not asserted: that the splits are far apart. With a ``random`` split, neighbouring
    stride cells fall in different splits, so the minimum distance between train and test IS
    the stride spacing (the paper's split is independent only insofar as cells 25 km apart
    are). A ``blocks`` split keeps most test locations far from training ones (see
    ``median_nearest_km``), yet along block edges the minimum is the stride spacing too: it is
    reported, not asserted.

    Returns
    -------
    pandas.DataFrame
        The :func:`split_distance_km` table with a ``spacing_km`` column.

    Raises
    ------
    AssertionError
        naming the pairs of splits whose locations are too close.
    """
    table = split_distance_km(locations)
    table["spacing_km"] = stride_spacing_km(locations, params)
    too_close = table[table["min_km"] < table["spacing_km"] * (1 - 1e-6)]
    if len(too_close):
        pairs = ", ".join(f"{r.split_a}/{r.split_b} {r.min_km:.3f} km" for r in too_close.itertuples())
        raise AssertionError(
            f"sample locations closer than the stride spacing ({table['spacing_km'].iloc[0]:.3f} km):"
            f" {pairs}; locations are off the stride or duplicated"
        )
    return table
