"""The samples store ``data/samples.zarr``: building it once, and reading it.

:func:`build_samples` writes the locations (:mod:`helpers.sampling.locations`), the sequences
of every sample year (:mod:`helpers.sampling.sequences`) and the normalisation statistics of
the train locations, and keeps a store that was built with the same settings;
:func:`open_samples` opens it as a :class:`SampleStore`, which reads sequences, pixel-day rows
and tables, and gives views with other training years or another split. The layout is told
in :mod:`helpers.sampling` (section "Store layout").
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import zarr

from helpers import keys
from helpers.cube import TARGET, cube_key, feature_names, open_cube
from helpers.io import atomic_path
from helpers.params import Params
from helpers.progress import progress_bar
from helpers.sampling.locations import LOCATION_COLUMNS, MIN_TARGET_SHARE, SPLITS, sample_locations
from helpers.sampling.sequences import MARGIN_DAYS, read_points, sequence_calendar, tabular_rows

log = logging.getLogger(__name__)

#: Locations per Zarr chunk of the store, and at most per read of the cube.
LOCATION_CHUNK = 512
MAX_READ_LOCATIONS = 4096


def store_summary() -> str:
    """The store's ``summary`` attribute: the section "Sequences" of :mod:`helpers.sampling`'s docstring."""
    import helpers.sampling  # the package, loaded by the time a store is written

    return helpers.sampling.__doc__.split("Sequences\n---------\n")[1].split("Store layout")[0].strip()


# Building the store ------------------------------------------------------------------------


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
        "summary": store_summary(),
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
        progress_bar(total=total, desc="samples", unit="read", disable=not progress) as bar,
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
