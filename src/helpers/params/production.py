"""The ``production`` and ``dask`` sections of the params schema (notebook 04, :mod:`helpers.production`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from helpers.params.base import PositiveInt, StrictModel, Year


class SpreadHeadParams(StrictModel):
    """The spread head behind ``sm_uncertainty`` (helpers.production.calibration).

    A small network that maps the model's per-day features and estimate to the standard
    deviation of its error, fitted by Gaussian likelihood on the TRAIN split's residuals
    (early stopping on the VALIDATION split); the production model itself is left unchanged.
    """

    hidden_size: PositiveInt = Field(32, description="units of each of the two hidden layers")
    train_sequences: PositiveInt = Field(4000, description="train-split sequences drawn to fit it (at most)")
    rows_per_epoch: PositiveInt = Field(300_000, description="pixel-days drawn per epoch")
    batch_rows: PositiveInt = Field(2048, description="pixel-days per optimisation step")
    max_epochs: PositiveInt = Field(8, description="epochs at most")
    patience: PositiveInt = Field(2, description="epochs without a better validation likelihood before stopping")
    learning_rate: float = Field(0.01, gt=0, description="Adam learning rate")


class ProductionParams(StrictModel):
    """Production of the daily product (notebook 04, helpers.production)."""

    model: Literal["lstm", "bilstm", "atlstm", "transformer", "xgboost"] = Field(
        "atlstm", description="model of the zoo applied (its file data/<model>.pt or .ubj)"
    )
    model_path: Path | None = Field(None, description="another model file (overrides model)")
    years: list[Year] | None = Field(None, description="years produced (None: the whole period)")
    tile_cells: PositiveInt = Field(60, description="cells per tile side: one unit of work per tile and year")
    chunk_cells: PositiveInt = Field(30, description="Zarr chunk side in cells (divides tile_cells)")
    batch_size: PositiveInt = Field(256, description="sequences per forward pass")
    uncertainty: Literal["spread_head", "mc_dropout"] = Field(
        "spread_head",
        description="sm_uncertainty from the spread head fitted on the model's errors, or from the"
        " Monte-Carlo-dropout spread (the baseline)",
    )
    spread_head: SpreadHeadParams = Field(default_factory=SpreadHeadParams)
    mc_passes: PositiveInt = Field(
        10, description="Monte-Carlo-dropout passes (1: none) where no exact spread exists"
    )
    blend_days: int = Field(
        60,
        ge=0,
        le=60,
        description="days around 1 January over which two yearly runs are blended (even; 0: switch"
        " runs at 1 January; 60: the whole overlap of their 30-day margins)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when visible, else CPU")
    precision: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="forward-pass precision (autocast; float16 on CUDA only)"
    )
    export_start: dt.date | None = Field(None, description="first day of the NetCDF export (notebook 04)")
    export_end: dt.date | None = Field(None, description="last day of the NetCDF export")

    @field_validator("model_path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return Path(value) if isinstance(value, str) else value

    @field_validator("export_start", "export_end", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}") from None
        return value

    @model_validator(mode="after")
    def _chunks(self) -> ProductionParams:
        if (self.export_start is None) != (self.export_end is None):
            raise ValueError("export_start and export_end go together (both or neither)")
        if self.export_start is not None and self.export_end < self.export_start:
            raise ValueError(f"export_end {self.export_end} precedes export_start {self.export_start}")
        if self.blend_days % 2:
            raise ValueError(f"blend_days must be even (half before 1 January, half after), got {self.blend_days}")
        if self.tile_cells % self.chunk_cells:
            raise ValueError(
                f"tile_cells ({self.tile_cells}) must be a multiple of chunk_cells ({self.chunk_cells}):"
                " tiles must not share Zarr chunks"
            )
        return self


class DaskParams(StrictModel):
    """Where production runs: in this process, on a local cluster, or on an existing cluster."""

    scheduler: Literal["local", "synchronous"] = Field(
        "local", description="local: a cluster of processes on this machine; synchronous: in this process"
    )
    n_workers: PositiveInt | None = Field(None, description="local cluster processes (None: one per core)")
    scheduler_address: str | None = Field(
        None, description="address of an existing dask-distributed scheduler (overrides scheduler)"
    )
