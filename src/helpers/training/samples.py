"""The samples a training run reads, and the features a model takes of them.

:data:`Samples` is either a :class:`helpers.sampling.SampleStore` (the store on disk) or an
:class:`ArraySamples` (arrays in memory, with the same reading methods: ``sequences``,
``tabular``, ``stats``, ``feature_names``); :func:`feature_columns` picks a ``feature_subset``
out of them, in the samples' order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.sampling import SPLITS, SampleStore, tabular_rows


class ArraySamples:
    """In-memory samples with the reading methods of :class:`helpers.sampling.SampleStore`.

    Parameters
    ----------
    x : array_like
        Raw inputs, (n, T, F).
    y : array_like
        Target, (n, T), NaN where missing.
    central : array_like of bool
        (n, T) or (T,): the days a loss or a score may use.
    split : array_like of str
        (n,): ``"train"``, ``"validation"`` or ``"test"`` per sequence.
    feature_names : list of str, optional
        Default ``feature_0``, ``feature_1`` ...
    stats : pandas.DataFrame, optional
        ``mean`` and ``std`` per feature to normalise with, e.g. those of the sample store the
        arrays were cut from; by default computed from the central days of train sequences.

    Attributes
    ----------
    feature_names : list of str
    stats : pandas.DataFrame
        ``mean`` and ``std`` per feature (index), from central days of train sequences.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        central: np.ndarray,
        split: Sequence[str] | np.ndarray,
        feature_names: Sequence[str] | None = None,
        stats: pd.DataFrame | None = None,
    ) -> None:
        self.x = np.asarray(x, dtype=np.float32)
        self.y = np.asarray(y, dtype=np.float32)
        if self.x.ndim != 3 or self.y.shape != self.x.shape[:2]:
            raise ValueError(f"x must be (n, T, F) and y (n, T); got {self.x.shape} and {self.y.shape}")
        self.central = np.broadcast_to(np.asarray(central, dtype=bool), self.y.shape)
        self.split = np.asarray(split, dtype=str)
        if self.split.shape != (len(self.x),) or not np.isin(self.split, SPLITS).all():
            raise ValueError(f"split must hold one of {SPLITS} per sequence ({len(self.x)})")
        names = (
            [f"feature_{i}" for i in range(self.x.shape[2])] if feature_names is None else list(feature_names)
        )
        if len(names) != self.x.shape[2]:
            raise ValueError(f"{len(names)} feature names for {self.x.shape[2]} features")
        self.feature_names = names
        train = self.split == "train"
        if not train.any():
            raise ValueError("no train sequence: the normalisation statistics need some")
        if stats is not None:
            missing = [name for name in names if name not in stats.index]
            if missing or not {"mean", "std"} <= set(stats.columns):
                raise ValueError(f"stats must hold 'mean' and 'std' for every feature; missing {missing}")
            self.stats = stats.loc[names, ["mean", "std"]].copy()
            return
        days = self.x[train][self.central[train]]
        self.stats = pd.DataFrame(
            {"mean": np.nanmean(days, axis=0), "std": np.nanstd(days, axis=0)},
            index=pd.Index(names, name="feature"),
        )

    def __repr__(self) -> str:
        counts = {split: int((self.split == split).sum()) for split in SPLITS}
        return f"ArraySamples({self.x.shape}, sequences: {counts})"

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` per feature (last axis); a feature without spread is only centred."""
        std = self.stats["std"].to_numpy()
        return ((x - self.stats["mean"].to_numpy()) / np.where(std > 0, std, 1.0)).astype(np.float32)

    def sequences(
        self, split: str, years: Sequence[int] | None = None, normalise: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All sequences of a split: ``x`` (n, T, F), ``y`` (n, T) with NaN, ``central`` (n, T).

        ``years`` must be None: the arrays carry no calendar.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if years is not None:
            raise ValueError("ArraySamples have no years; pass years=None")
        pick = self.split == split
        x = self.x[pick]
        return (self.normalise(x) if normalise else x), self.y[pick], self.central[pick].copy()

    def tabular(
        self,
        split: str,
        max_rows: int | None = None,
        rng: np.random.Generator | None = None,
        years: Sequence[int] | None = None,
        normalise: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows (n, F) and target (n,) of central days with a target; at most ``max_rows``, drawn at random."""
        return tabular_rows(*self.sequences(split, years, normalise), max_rows=max_rows, rng=rng)


#: What a model learns from: the samples store, or arrays in memory.
Samples = SampleStore | ArraySamples


def feature_columns(
    samples: Samples, feature_subset: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """The features a model uses and their columns in the samples.

    Parameters
    ----------
    samples : SampleStore or ArraySamples
    feature_subset : list of str, optional
        Names to keep (None: all). They are returned in the samples' order.

    Returns
    -------
    names : list of str
    columns : numpy.ndarray of int

    Raises
    ------
    ValueError
        For an empty subset, a repeated name or a name the samples do not have.
    """
    names = list(samples.feature_names)
    if feature_subset is None:
        return names, np.arange(len(names))
    subset = list(feature_subset)
    unknown = [name for name in subset if name not in names]
    if not subset or unknown or len(set(subset)) != len(subset):
        raise ValueError(
            f"feature_subset must be distinct names among {names}; got {subset}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    columns = np.array(sorted(names.index(name) for name in subset))
    return [names[i] for i in columns], columns
