"""Access to the twin world's TRUE soil moisture, for scoring and illustration only.

The truth exists only on the embedded twin world. No estimation step (cube, sampling,
training, production) may read it; this module is the one place outside
:mod:`helpers.world` that opens it, and a test checks that no other module mentions the
truth folder.
"""

from __future__ import annotations

import xarray as xr

from helpers.params import Params


def has_truth(params: Params) -> bool:
    """True when the run is on the twin world and its truth is on disk."""
    return params.world is not None and (params.truth_dir / "truth.zarr").exists()


def open_truth(params: Params) -> xr.Dataset:
    """The truth store (``sm``, ``sm_root``, ``frozen`` on the product grid), lazily."""
    if not has_truth(params):
        raise FileNotFoundError(
            f"{params.truth_dir / 'truth.zarr'}: no twin-world truth for run {params.run_name!r}"
            " (real-data runs have none; on the twin world run notebook 00 first)"
        )
    return xr.open_zarr(params.truth_dir / "truth.zarr", consolidated=True)
