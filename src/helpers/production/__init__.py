"""Production: the chosen model applied to every land cell and every day of the requested years.

Per year ``Y`` and tile, the unmasked land cells are read as sequences of ``30 + days(Y) + 30``
days, exactly as the training samples (:func:`helpers.sampling.sequence_calendar`): the
margins hold the real neighbouring years' inputs; in the first and last year of the datacube's
period, where no neighbour exists, they mirror the year's own edge. Leap years give 426-day
sequences. The product of a year is its own run, blended near 1 January with the neighbouring
year's run over the days the two share, so that it has no seam at the turn of the year
(:mod:`helpers.production.seams`).

Rooms of the package:

* :mod:`~helpers.production.files`: where the model, its spread head and calibration, and the
  products live;
* :mod:`~helpers.production.apply`: the model applied (:class:`Applied`), estimate and spread;
* :mod:`~helpers.production.uncertainty`: the spread head and the Monte-Carlo-dropout baseline;
* :mod:`~helpers.production.calibration`: fitting the spread head and the calibration factor,
  and checking them on the test split per stratum;
* :mod:`~helpers.production.seams`: blending consecutive yearly runs, and the seam checks;
* :mod:`~helpers.production.store`: the Zarr store's variables, flags and key;
* :mod:`~helpers.production.run`: units of work, dask, region writing and resume;
* :mod:`~helpers.production.outputs`: the annual means and the NetCDF export;
* :mod:`~helpers.production.views`: maps and series for notebook 04.

Devices: ``production.device`` (``auto``: CUDA when torch sees it) and
``production.precision`` (autocast to bfloat16 or float16; float32 by default). A CUDA and a
CPU product agree within 1e-4 m3 m-3 in float32 (test skipped without a GPU).

Variables (CF-1.10):

``sm``
    Volumetric soil moisture (m3 m-3), clipped to [0, porosity limit :data:`SM_MAX`]; NaN on
    water and permanent snow/ice.
``sm_uncertainty``
    Calibrated standard deviation of the error of ``sm`` against the target, m3 m-3: ``k * s``.
    ``s`` comes from the spread head (``production.uncertainty: spread_head``, the default), a
    small network fitted by Gaussian likelihood on the train split's residuals, which learns
    where and when the model errs; or, as the baseline, from Monte-Carlo dropout (``mc_dropout``:
    exact for a dropout-linear head, else ``production.mc_passes`` passes), which describes only
    the weights' uncertainty and hardly ranks errors. ``k`` is fitted on the VALIDATION split
    so that ``sm +- 1.645 sm_uncertainty`` holds 90 % of the targets, and checked on the TEST
    split overall, per Koeppen group and per target tercile (:func:`calibrate`). Without a
    matching calibration record ``k = 1`` and the attributes say so.
``sm_lower``, ``sm_upper``
    The bounds of that 90 % interval, clipped to the physical range [0, :data:`SM_MAX`].
``sm_flag``
    Bit flags (CF ``flag_masks``): :data:`FLAG_BITS`. Frozen soil is *suspected* where the
    LST input is below 0 degC; ``input_gap_filled`` marks days on which any input of the cell
    was filled in the datacube (``gap_flag`` non-zero: interpolated, long gap, borrowed from a
    neighbour cell, static input from the nearest cell); ``input_missing`` marks days on which
    an input was missing even after the datacube's filling and the model saw its training
    mean instead (:mod:`helpers.inputs`). Days on which none of the daily inputs exists get
    NaN (and the flag), not an estimate made from static inputs alone.
"""

from helpers.production.apply import SM_MAX, Applied, device_of, seeded_torch
from helpers.production.calibration import (
    METHODS,
    RELIABILITY_LEVELS,
    TERCILES,
    Calibration,
    calibrate,
    clipped_interval,
    coverage,
    fit_spread_head,
    split_estimates,
)
from helpers.production.files import (
    annual_path,
    calibration_path,
    model_digest,
    model_file,
    product_path,
    spread_head_path,
)
from helpers.production.outputs import annual_mean, export_netcdf
from helpers.production.run import produce, produce_tile, produce_unit, unit_name, year_run
from helpers.production.seams import (
    RunOverlap,
    YearRun,
    blend_weights,
    blended_year,
    run_overlap,
    year_boundary_jumps,
)
from helpers.production.store import (
    FLAG_BITS,
    FROZEN_LST_K,
    PRODUCT_SETTINGS_ATTR,
    VARIABLES,
    open_product,
    product_settings,
)
from helpers.production.uncertainty import (
    SpreadHead,
    dropout_draws,
    gaussian_nll,
    linear_head_spread,
    read_calibration,
)
from helpers.production.views import cell_series, monthly_fields

__all__ = [
    "FLAG_BITS",
    "FROZEN_LST_K",
    "METHODS",
    "PRODUCT_SETTINGS_ATTR",
    "RELIABILITY_LEVELS",
    "SM_MAX",
    "TERCILES",
    "VARIABLES",
    "Applied",
    "Calibration",
    "RunOverlap",
    "SpreadHead",
    "YearRun",
    "annual_mean",
    "annual_path",
    "blend_weights",
    "blended_year",
    "calibrate",
    "calibration_path",
    "cell_series",
    "clipped_interval",
    "coverage",
    "device_of",
    "dropout_draws",
    "export_netcdf",
    "fit_spread_head",
    "gaussian_nll",
    "linear_head_spread",
    "model_digest",
    "model_file",
    "monthly_fields",
    "open_product",
    "produce",
    "produce_tile",
    "produce_unit",
    "product_path",
    "product_settings",
    "read_calibration",
    "run_overlap",
    "seeded_torch",
    "split_estimates",
    "spread_head_path",
    "unit_name",
    "year_boundary_jumps",
    "year_run",
]
