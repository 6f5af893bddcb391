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
Modules
-------
==============  ============================================================================
``locations``   the locations, their split and the distances between the splits
``sequences``   one sequence year read from the datacube; pixel-day rows and short windows
``store``       the store: :func:`build_samples`, :func:`open_samples`, :class:`SampleStore`
==============  ============================================================================
"""

from helpers.sampling.locations import (
    LOCATION_COLUMNS,
    MIN_TARGET_SHARE,
    SPLITS,
    assert_samples_apart,
    block_ids,
    sample_locations,
    split_distance_km,
    split_labels,
    stride_spacing_km,
)
from helpers.sampling.sequences import (
    MARGIN_DAYS,
    gather_windows,
    read_points,
    sequence_calendar,
    tabular_rows,
    window_days,
)
from helpers.sampling.store import (
    LOCATION_CHUNK,
    MAX_READ_LOCATIONS,
    SampleStore,
    build_samples,
    open_samples,
)

__all__ = [
    "LOCATION_CHUNK",
    "LOCATION_COLUMNS",
    "MARGIN_DAYS",
    "MAX_READ_LOCATIONS",
    "MIN_TARGET_SHARE",
    "SPLITS",
    "SampleStore",
    "assert_samples_apart",
    "block_ids",
    "build_samples",
    "gather_windows",
    "open_samples",
    "read_points",
    "sample_locations",
    "sequence_calendar",
    "split_distance_km",
    "split_labels",
    "stride_spacing_km",
    "tabular_rows",
    "window_days",
]
