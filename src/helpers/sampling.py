"""Training samples: where they are, how they are split, and the sequences the models learn from.

The paper samples pixels on a regular stride (5 cells of 0.05 degree, about 25 km), splits
them 7:2:1 into train, validation and test sets *by location*, and trains on one sequence per
pixel and training year: the year plus 30 days of real data from each neighbouring year. This
module does the same on the datacube (:mod:`helpers.cube`) and stores the result once.

Usage::

    locations = sample_locations(open_cube(params), params)   # the table only (no sequences)
    build_samples(params)                                       # data/samples.zarr (idempotent)
    store = open_samples(params)
    x, y, central = store.sequences("train")                    # (n, 426, F), (n, 426), (n, 426)
    X, y = store.tabular("train", max_rows=100_000, rng=rng)    # pixel-days, for XGBoost

Locations
---------
A location is a cell whose row and column (in the cube) are multiples of
``sampling.stride``, that is unmasked land (``mask == 0``) and whose target exists on at
least half of the days (:data:`MIN_TARGET_SHARE`) of *every* training year
(``sampling.train_years``), so that every training sequence carries enough loss days. The
store also holds, when notebook 02's training-year experiment runs, the years of its
alternative sets (``experiments.training_year_sets``; :attr:`Params.sample_years`), read at
the same locations; those years never choose the locations, so switching the experiment on
leaves the main comparison's samples unchanged. Location ids number the locations row by row.

Splits (``sampling.split_method``)
----------------------------------
* ``random``: the locations are shuffled (seeded by ``params.seed``) and cut in the
  ``split_ratios``. Neighbouring stride cells then often fall in different splits.
* ``blocks``: the world is cut into squares of ``block_size_deg`` degrees (block ids count
  row by row from 90 N, 180 W); blocks are shuffled (seeded) and each whole block goes to the
  split that is furthest below its target share of locations, so the location counts approach
  the ratios while no block is shared between splits.

:func:`split_distance_km` measures how far apart the splits are; :func:`assert_samples_apart`
checks the stride's promise (see there for what is, and is not, asserted).

Sequences
---------
For training year ``Y`` a sequence covers ``30 + days(Y) + 30`` days: the last 30 days of
``Y - 1``, the year, the first 30 days of ``Y + 1`` (426 days in a leap year, 425 otherwise).
The margins hold the neighbouring years' real data. Where the cube has no neighbouring year
(the first or last year of its period) the margin *mirrors* the year's own edge: the 30 days
before 1 January are 30 January ... 1 January, the 30 days after 31 December are 31 December
... 2 December; such days are flagged ``mirrored`` and their target is NaN. ``central`` is True
on the year's own days: the loss is computed on central days where the target exists.

Inputs follow :func:`helpers.cube.feature_names` (daily features, then static ones repeated
along time) and are stored raw; the normalisation statistics (mean and standard deviation per
feature) are computed on central days of TRAIN locations only, so nothing of the validation
or test locations leaks into training. :meth:`SampleStore.sequences` applies them (``normalise=True``).

Store layout (``data/samples.zarr``, Zarr v2, consolidated)
-----------------------------------------------------------
Per sample year: ``x_YYYY (location, day_YYYY, feature)`` float32, ``y_YYYY (location,
day_YYYY)`` float32, ``central_YYYY`` and ``mirrored_YYYY (day_YYYY)`` bool (the same for every
location), with ``day_YYYY`` the calendar date of each position. The locations table is stored
as variables along ``location`` (``row, col, lat, lon, split, block``); the attributes hold
``feature_names``, ``feature_mean``, ``feature_std`` (train locations, central days of the
training years), ``years`` (all sample years), ``train_years`` and the sampling parameters.

Reading methods default to the training years; :meth:`SampleStore.view` gives the same store
with other training years or another split (and statistics recomputed for them), which is
how notebook 02's experiments change the training set without a second store.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import zarr
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from helpers import keys
from helpers.cube import (
    MASK_VALUES,
    STATIC_FEATURES,
    TARGET,
    cube_key,
    dynamic_features,
    feature_names,
    open_cube,
)
from helpers.grid import EARTH_RADIUS_KM
from helpers.io import atomic_path
from helpers.params import Params

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
#: Days of the neighbouring years on each side of a sequence.
MARGIN_DAYS = 30
#: Share of a training year's days on which the target must exist at a location.
MIN_TARGET_SHARE = 0.5
#: Locations per Zarr chunk of the store, and at most per read of the cube.
LOCATION_CHUNK = 512
MAX_READ_LOCATIONS = 4096

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
    how (see the module docstring); the draw is seeded by ``params.seed``.
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


# Sequences ---------------------------------------------------------------------------------


def sequence_calendar(times: pd.DatetimeIndex, year: int, margin: int = MARGIN_DAYS) -> pd.DataFrame:
    """The days of one year's sequence and where each is read in the cube.

    Parameters
    ----------
    times
        The cube's daily time axis.
    year
        The sequence's year (must be in ``times``).
    margin
        Days of the neighbouring years on each side.

    Returns
    -------
    pandas.DataFrame
        One row per position (``margin + days(year) + margin`` rows): ``date`` (calendar date
        of the position), ``cube_index`` (index in ``times`` of the day read), ``central``
        (the year's own days) and ``mirrored`` (a margin day outside ``times``, read from the
        year's own edge mirrored about 1 January or 31 December).
    """
    times = pd.DatetimeIndex(times).normalize()
    first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    if first not in times or last not in times:
        raise ValueError(
            f"year {year} is not complete in the datacube ({times[0].date()}-{times[-1].date()})"
        )
    dates = pd.date_range(first - pd.Timedelta(days=margin), last + pd.Timedelta(days=margin), freq="D")
    mirrored = ~dates.isin(times)
    before = dates < first
    source = dates.where(~(mirrored & before), first + (first - dates - pd.Timedelta(days=1)))
    source = source.where(~(mirrored & ~before), last - (dates - last - pd.Timedelta(days=1)))
    return pd.DataFrame(
        {
            "date": dates,
            "cube_index": times.get_indexer(source),
            "central": (dates >= first) & (dates <= last),
            "mirrored": mirrored,
        }
    )


class _Moments:
    """Running mean and variance per column (Chan et al.'s pairwise update), NaN ignored."""

    def __init__(self, n_columns: int) -> None:
        self.count = np.zeros(n_columns)
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def add(self, values: np.ndarray) -> None:
        valid = np.isfinite(values)
        count = valid.sum(axis=0)
        if not count.any():
            return
        values = values.astype(np.float64)
        mean = np.where(valid, values, 0).sum(axis=0) / np.maximum(count, 1)
        m2 = (np.where(valid, values - mean, 0) ** 2).sum(axis=0)
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / np.maximum(total, 1)
        self.m2 = self.m2 + m2 + delta**2 * self.count * count / np.maximum(total, 1)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / np.maximum(self.count, 1))


def _read_batches(locations: pd.DataFrame, ds: xr.Dataset) -> list[slice]:
    """Contiguous location ranges that each stay within one band of cube chunk rows."""
    lat_chunks = ds[TARGET].chunksizes.get("lat") if ds[TARGET].chunks else None
    rows_per_band = lat_chunks[0] if lat_chunks else ds.sizes["lat"]
    band = locations["row"].to_numpy() // rows_per_band
    starts = np.flatnonzero(np.r_[True, band[1:] != band[:-1]])
    edges = np.r_[starts, band.size]
    out = []
    for lo, hi in itertools.pairwise(edges):
        out.extend(slice(s, min(s + MAX_READ_LOCATIONS, hi)) for s in range(lo, hi, MAX_READ_LOCATIONS))
    return out


def read_points(
    ds: xr.Dataset, params: Params, rows: np.ndarray, cols: np.ndarray, calendar: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, T, F) and target (n, T) of one sequence year at cells (rows, cols).

    One vectorised point selection per call: the cube is read on the time window the
    calendar needs and indexed pointwise at the cells.
    """
    index = calendar["cube_index"].to_numpy()
    window = slice(int(index.min()), int(index.max()) + 1)
    at = {"lat": xr.DataArray(rows, dims="location"), "lon": xr.DataArray(cols, dims="location")}
    daily = [*dynamic_features(params), TARGET]
    series = ds[daily].isel(time=window, **at).to_array("variable").transpose("location", "time", "variable")
    static = ds[list(STATIC_FEATURES)].isel(**at).to_array("variable").transpose("location", "variable")
    series, static = (np.asarray(v, dtype=np.float32) for v in dask.compute(series.data, static.data))
    series = series[:, index - window.start]
    n_days = len(calendar)
    x = np.concatenate([series[..., :-1], np.repeat(static[:, None, :], n_days, axis=1)], axis=-1)
    y = np.where(calendar["mirrored"].to_numpy()[None, :], np.nan, series[..., -1])
    return x, y.astype(np.float32)


def _template(
    locations: pd.DataFrame, calendars: dict[int, pd.DataFrame], features: list[str], params: Params,
    source_key: str | None,
) -> xr.Dataset:
    n = len(locations)
    data_vars = {}
    coords: dict[str, object] = {
        "location": locations.index.to_numpy(),
        "feature": np.asarray(features, dtype=str),
        **{name: ("location", locations[name].to_numpy()) for name in LOCATION_COLUMNS},
    }
    coords["split"] = ("location", locations["split"].to_numpy().astype(str))  # fixed width, not object
    for year, calendar in calendars.items():
        day, n_days = f"day_{year}", len(calendar)
        coords[day] = calendar["date"].to_numpy()
        chunks = (LOCATION_CHUNK, n_days, len(features))
        data_vars[f"x_{year}"] = (
            ("location", day, "feature"),
            da.full((n, n_days, len(features)), np.nan, dtype=np.float32, chunks=chunks),
        )
        data_vars[f"y_{year}"] = (
            ("location", day),
            da.full((n, n_days), np.nan, dtype=np.float32, chunks=chunks[:2]),
        )
        data_vars[f"central_{year}"] = (day, calendar["central"].to_numpy())
        data_vars[f"mirrored_{year}"] = (day, calendar["mirrored"].to_numpy())
    ds = xr.Dataset(data_vars, coords=coords)
    for year in calendars:
        ds[f"x_{year}"].attrs = {"long_name": "model inputs, raw (order of the feature coordinate)"}
        ds[f"y_{year}"].attrs = {
            "long_name": "training target (GLASS-MODIS SM), NaN where missing",
            "units": "m3 m-3",
        }
        ds[f"central_{year}"].attrs = {"long_name": "the year's own days (the loss days)"}
        ds[f"mirrored_{year}"].attrs = {
            "long_name": "margin day mirrored from the year's edge (no neighbour year)"
        }
    ds.attrs = {
        "title": "GLASS-SM training samples",
        "summary": __doc__.split("Sequences\n---------\n")[1].split("Store layout")[0].strip(),
        "feature_names": features,
        "years": list(calendars),
        "train_years": list(params.sampling.train_years),
        "margin_days": MARGIN_DAYS,
        "min_target_share": MIN_TARGET_SHARE,
        "sampling": params.sampling.model_dump(mode="json"),
        "seed": params.seed,
        "run_name": params.run_name,
        "cube_key": source_key,
    }
    return ds


def _stale_reasons(path: Path, params: Params, ds: xr.Dataset) -> list[str]:
    """How an existing store differs from what ``params`` would build from the datacube ``ds``
    (empty: it matches)."""
    attrs = zarr.open_group(path, mode="r", zarr_format=2).attrs
    wanted = {
        "years": params.sample_years,
        "train_years": list(params.sampling.train_years),
        "sampling": params.sampling.model_dump(mode="json"),
        "seed": params.seed,
        "feature_names": feature_names(params),
        "cube_key": cube_key(ds),
    }
    return keys.differences({key: attrs.get(key) for key in wanted}, wanted)


def build_samples(
    params: Params, ds: xr.Dataset | None = None, progress: bool = True, overwrite: bool = False
) -> Path:
    """Build ``data/samples.zarr``: locations, sequences of every training year, statistics.

    Parameters
    ----------
    params
        Run parameters.
    ds
        The datacube; opened from ``params`` when not given.
    progress
        Show a progress bar (one step per read of the cube).
    overwrite
        Rebuild an existing store; otherwise an existing store is kept when it was built with
        the same sample years, sampling parameters, seed and features, and rebuilt (with a
        warning) when not.

    Returns
    -------
    pathlib.Path
        The store's path. It is written under a temporary name and moved into place when
        complete.
    """
    path = params.samples_path
    ds = open_cube(params) if ds is None else ds
    if path.exists() and not overwrite:
        stale = _stale_reasons(path, params, ds)
        if not stale:
            log.info("samples exist: %s (pass overwrite=True to rebuild)", path)
            return path
        log.warning("rebuilding %s: it was built with other settings (%s)", path, "; ".join(stale))
    locations = sample_locations(ds, params)
    features = feature_names(params)
    times = pd.DatetimeIndex(ds["time"].values)
    calendars = {year: sequence_calendar(times, year) for year in params.sample_years}
    batches = _read_batches(locations, ds)
    train = (locations["split"] == "train").to_numpy()
    train_years = set(params.sampling.train_years)
    moments = _Moments(len(features))
    total = len(calendars) * len(batches)
    with (
        atomic_path(path) as tmp,
        tqdm(total=total, desc="samples", unit="read", disable=not progress) as bar,
    ):
        _template(locations, calendars, features, params, cube_key(ds)).to_zarr(
            tmp, compute=False, zarr_format=2, consolidated=True
        )
        group = zarr.open_group(tmp, mode="r+", zarr_format=2)
        for year, calendar in calendars.items():
            central = calendar["central"].to_numpy()
            for batch in batches:
                cells = locations.iloc[batch]
                x, y = read_points(ds, params, cells["row"].to_numpy(), cells["col"].to_numpy(), calendar)
                group[f"x_{year}"][batch] = x
                group[f"y_{year}"][batch] = y
                if year in train_years:
                    moments.add(x[train[batch]][:, central].reshape(-1, len(features)))
                bar.update()
        group.attrs.update({"feature_mean": moments.mean.tolist(), "feature_std": moments.std.tolist()})
        zarr.consolidate_metadata(tmp, zarr_format=2)
    return path


# Reading the store -------------------------------------------------------------------------


def tabular_rows(
    x: np.ndarray,
    y: np.ndarray,
    central: np.ndarray,
    max_rows: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n, F) and target (n,) of the central days of sequences that have a target.

    At most ``max_rows`` rows, drawn uniformly without replacement (``rng``, else seed 0) and
    kept in their original order.
    """
    rows = np.flatnonzero(central & np.isfinite(y))
    if max_rows is not None and rows.size > max_rows:
        rng = np.random.default_rng(0) if rng is None else rng
        rows = np.sort(rng.choice(rows, size=max_rows, replace=False))
    return x.reshape(-1, x.shape[-1])[rows], y.reshape(-1)[rows]


def window_days(
    y: np.ndarray, central: np.ndarray, length: int, max_windows: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sequence and day indices of central days with a target whose centred window fits.

    A window of ``length = 2k + 1`` days fits when the ``k`` days on each side lie inside the
    sequence. At most ``max_windows`` days are drawn uniformly without replacement (in the
    order drawn). Days chosen for the longest window also fit every shorter one, which is how
    the sequence-length experiment scores every length on the same days.
    """
    if length < 1 or length % 2 == 0:
        raise ValueError(f"length must be odd and positive, got {length}")
    half = (length - 1) // 2
    usable = central & np.isfinite(y)
    usable[:, :half] = False
    usable[:, usable.shape[1] - half :] = False
    seq, day = np.nonzero(usable)
    if seq.size > max_windows:
        pick = rng.choice(seq.size, size=max_windows, replace=False)
        seq, day = seq[pick], day[pick]
    return seq, day


def gather_windows(x: np.ndarray, seq: np.ndarray, day: np.ndarray, length: int) -> np.ndarray:
    """Windows (n, length, F) of ``x`` (sequences, days, F) centred on (``seq``, ``day``)."""
    offsets = np.arange(length) - (length - 1) // 2
    return x[seq[:, None], day[:, None] + offsets[None, :]]


def open_samples(params: Params) -> SampleStore:
    """Open ``data/samples.zarr`` (built by :func:`build_samples`)."""
    if not params.samples_path.exists():
        raise FileNotFoundError(
            f"{params.samples_path}: no samples; run notebook 01 (helpers.sampling.build_samples)"
        )
    return SampleStore(params.samples_path)


class SampleStore:
    """Read access to a samples store: sequences, batches, tabular rows and short windows.

    Sequences of several years are stacked year after year (locations in id order within a
    year). When 365- and 366-day years are mixed, the shorter sequences are padded at the end
    to the longer length: inputs repeat their last day, the target is NaN and ``central`` is
    False there, so the padding never enters a loss.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._ds = xr.open_zarr(self.path, consolidated=True)
        self.feature_names: list[str] = list(self._ds.attrs["feature_names"])
        self.years: list[int] = [int(y) for y in self._ds.attrs["years"]]
        self.train_years: list[int] = [int(y) for y in self._ds.attrs.get("train_years", self.years)]
        self.locations = self._ds[list(LOCATION_COLUMNS)].to_dataframe()[list(LOCATION_COLUMNS)]
        self.stats = pd.DataFrame(
            {"mean": self._ds.attrs["feature_mean"], "std": self._ds.attrs["feature_std"]},
            index=pd.Index(self.feature_names, name="feature"),
        )
        self._cache: tuple[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def __repr__(self) -> str:
        counts = self.locations["split"].value_counts().reindex(SPLITS, fill_value=0)
        sizes = ", ".join(f"{split} {count}" for split, count in counts.items())
        return (
            f"SampleStore({self.path}, years {self.years} (training {self.train_years}), locations: {sizes})"
        )

    def view(self, train_years: Sequence[int] | None = None, split: Sequence[str] | None = None) -> SampleStore:
        """The same store with other training years or another split of the locations.

        Parameters
        ----------
        train_years
            Years the reading methods default to (default: unchanged); every one must be in
            :attr:`years`.
        split
            ``"train"``, ``"validation"`` or ``"test"`` per location, in location order
            (default: unchanged), e.g. a spatial-block split for the split experiment.

        Returns
        -------
        SampleStore
            Sharing the stored arrays; when anything changed, the normalisation statistics are
            recomputed from the new train locations' central days of the new training years
            only, so nothing of the new validation or test locations leaks into training.
        """
        copy = object.__new__(SampleStore)
        copy.__dict__.update(self.__dict__)
        copy._cache = None
        copy.locations = self.locations.copy()
        if train_years is not None:
            copy.train_years = self._years(train_years)
        if split is not None:
            labels = np.asarray(split, dtype=str)
            if labels.shape != (len(self.locations),) or not np.isin(labels, SPLITS).all():
                raise ValueError(f"split must hold one of {SPLITS} for each of the {len(self.locations)} locations")
            copy.locations["split"] = labels
        if train_years is not None or split is not None:
            copy.stats = copy._train_statistics()
        return copy

    def _train_statistics(self) -> pd.DataFrame:
        """Mean and standard deviation per feature over train locations and central training days."""
        moments = _Moments(len(self.feature_names))
        positions = self._positions("train")
        if positions.size == 0:
            raise ValueError("no train location: the normalisation statistics need some")
        for year in self.train_years:
            central = self._ds[f"central_{year}"].values
            for start in range(0, positions.size, MAX_READ_LOCATIONS):
                x = self._ds[f"x_{year}"].isel(location=positions[start : start + MAX_READ_LOCATIONS]).values
                moments.add(x[:, central].reshape(-1, len(self.feature_names)))
        return pd.DataFrame(
            {"mean": moments.mean, "std": moments.std}, index=pd.Index(self.feature_names, name="feature")
        )

    def calendar(self, year: int) -> pd.DataFrame:
        """Dates and ``central`` / ``mirrored`` flags of the positions of one year's sequences."""
        return pd.DataFrame(
            {
                "date": self._ds[f"day_{year}"].values,
                "central": self._ds[f"central_{year}"].values,
                "mirrored": self._ds[f"mirrored_{year}"].values,
            }
        )

    def _mean_scale(self) -> tuple[np.ndarray, np.ndarray]:
        std = self.stats["std"].to_numpy()
        scale = np.where(std > 0, std, 1.0)
        return self.stats["mean"].to_numpy().astype(np.float32), scale.astype(np.float32)

    def _positions(self, split: str) -> np.ndarray:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return np.flatnonzero((self.locations["split"] == split).to_numpy())

    def _years(self, years: Sequence[int] | None) -> list[int]:
        chosen = self.train_years if years is None else [int(y) for y in years]
        unknown = sorted(set(chosen) - set(self.years))
        if unknown:
            raise ValueError(f"years {unknown} are not in the samples (sample years: {self.years})")
        return chosen

    def sequence_table(self, split: str, years: Sequence[int] | None = None) -> pd.DataFrame:
        """Location and year of each sequence returned by :meth:`sequences`, in the same order."""
        positions = self._positions(split)
        frames = [
            self.locations.iloc[positions].reset_index().assign(year=year) for year in self._years(years)
        ]
        return pd.concat(frames, ignore_index=True)

    def sequences(
        self, split: str, years: Sequence[int] | None = None, normalise: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All sequences of a split.

        Returns
        -------
        x : float32 array (n, T, F)
            Inputs, normalised with the TRAIN statistics unless ``normalise`` is False.
        y : float32 array (n, T)
            Target (NaN where missing, in mirrored margins and in padding).
        central : bool array (n, T)
            True on the year's own days.
        """
        positions = self._positions(split)
        years = self._years(years)
        length = max(self._ds.sizes[f"day_{year}"] for year in years)
        n = positions.size
        x = np.empty((n * len(years), length, len(self.feature_names)), dtype=np.float32)
        y = np.full((n * len(years), length), np.nan, dtype=np.float32)
        central = np.zeros(y.shape, dtype=bool)
        for k, year in enumerate(years):
            rows = slice(k * n, (k + 1) * n)
            days = self._ds.sizes[f"day_{year}"]
            x[rows, :days] = self._ds[f"x_{year}"].isel(location=positions).values
            x[rows, days:] = x[rows, days - 1 : days]  # padding repeats the last day
            y[rows, :days] = self._ds[f"y_{year}"].isel(location=positions).values
            central[rows, :days] = self._ds[f"central_{year}"].values
        if normalise:
            mean, scale = self._mean_scale()
            x -= mean
            x /= scale
        return x, y, central

    def _cached(
        self, split: str, years: Sequence[int] | None, normalise: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`sequences`, kept in memory for the last (split, years, normalise) asked."""
        key = (split, tuple(self._years(years)), normalise)
        if self._cache is None or self._cache[0] != key:
            self._cache = None  # free the previous arrays before loading the next
            self._cache = (key, self.sequences(split, years, normalise))
        return self._cache[1]

    def tabular(
        self,
        split: str,
        max_rows: int | None = None,
        rng: np.random.Generator | None = None,
        years: Sequence[int] | None = None,
        normalise: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One row per location and central day with a target (the per-day view, for XGBoost).

        When there are more such pixel-days than ``max_rows``, ``max_rows`` of them are drawn
        uniformly at random without replacement (with ``rng``, default seeded 0), e.g. the
        paper's "100 times fewer samples" experiment. Rows keep the (sequence, day) order.

        Returns
        -------
        X : float32 (n, F)
            Inputs, raw unless ``normalise``.
        y : float32 (n,)
            Target.
        """
        return tabular_rows(*self._cached(split, years, normalise), max_rows=max_rows, rng=rng)

    def sequence_frame(self, location: int, year: int) -> pd.DataFrame:
        """One sequence as a table indexed by date: raw inputs, target, ``central`` and ``mirrored``."""
        frame = pd.DataFrame(
            self._ds[f"x_{year}"].sel(location=location).values,
            columns=self.feature_names,
            index=pd.DatetimeIndex(self._ds[f"day_{year}"].values, name="date"),
        )
        frame[TARGET] = self._ds[f"y_{year}"].sel(location=location).values
        frame["central"] = self._ds[f"central_{year}"].values
        frame["mirrored"] = self._ds[f"mirrored_{year}"].values
        return frame

    def central_targets(self, split: str, years: Sequence[int] | None = None) -> np.ndarray:
        """Target values on central days of a split's sequences (NaN left out)."""
        values = []
        for year in self._years(years):
            y = self._ds[f"y_{year}"].isel(location=self._positions(split)).values
            y = y[:, self._ds[f"central_{year}"].values]
            values.append(y[np.isfinite(y)])
        return np.concatenate(values)

    def summary(self) -> pd.DataFrame:
        """Per split: locations, their share, sequences and pixel-days with a target (central days)."""
        rows = []
        total = len(self.locations)
        for split in SPLITS:
            n = int((self.locations["split"] == split).sum())
            rows.append(
                {
                    "split": split,
                    "locations": n,
                    "share": n / total if total else np.nan,
                    "sequences": n * len(self.train_years),
                    "target_days": int(self.central_targets(split).size),
                }
            )
        return pd.DataFrame(rows)
