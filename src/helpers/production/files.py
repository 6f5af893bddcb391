"""Where production's artefacts live: the model applied, its spread head and calibration, the
products."""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers.params import Params


def model_file(params: Params) -> Path:
    """The model file production applies: ``production.model_path``, else ``data/<model>.pt|.ubj``."""
    if params.production.model_path is not None:
        return params.production.model_path
    suffix = ".ubj" if params.production.model == "xgboost" else ".pt"
    return params.data_dir / f"{params.production.model}{suffix}"


def model_digest(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a model file (its identity in products and records)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def calibration_path(params: Params) -> Path:
    """``data/<model file stem>.calibration.json``: the fitted factor of ``sm_uncertainty``."""
    return params.data_dir / f"{model_file(params).stem}.calibration.json"


def spread_head_path(params: Params) -> Path:
    """``data/<model file stem>.spread_head.pt``: the spread head fitted for the model."""
    return params.data_dir / f"{model_file(params).stem}.spread_head.pt"


def product_path(params: Params) -> Path:
    """``<run>/data/product.zarr`` (complete); the run in progress is ``product.zarr.partial``."""
    return params.data_dir / "product.zarr"


def annual_path(params: Params) -> Path:
    """``data/product_annual.zarr``: the annual means."""
    return params.data_dir / "product_annual.zarr"
