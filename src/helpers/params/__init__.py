"""One strict schema for the YAML files in ``params/``.

Every run is described by one YAML file (``params/tiny.yaml``, ``params/demo.yaml``,
``params/paper.yaml``). :func:`load_params` validates it against :class:`Params`, which
rejects unknown keys, wrong types and impossible values with a message naming the key and
what was expected. Relative paths are resolved against the project root (the folder that
holds ``pyproject.toml`` above the params file, else the params file's folder).

A configuration with a ``world`` section runs on the embedded twin world: its input files
are generated under ``<outputs_dir>/<run_name>/data/raw`` unless ``data_root`` says
otherwise. A configuration without one reads real products under ``data_root``.

The sections are defined here, but for ``sources`` (:mod:`helpers.params.sources`), ``production``
and ``dask`` (:mod:`helpers.params.production`) and ``validation`` (:mod:`helpers.params.validation`);
:mod:`helpers.params.base` holds what they all share (the strict base model, value types).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from helpers.errors import ParamsError
from helpers.grid import Grid
from helpers.params.base import PositiveInt, StrictModel, Year, repeated
from helpers.params.production import DaskParams, ProductionParams, SpreadHeadParams
from helpers.params.sources import ALBEDO_BANDS, SourcesParams
from helpers.params.validation import VALIDATION_PRODUCTS, ValidationParams

__all__ = [
    "ALBEDO_BANDS",
    "VALIDATION_PRODUCTS",
    "Params",
    "PositiveInt",
    "SourcesParams",
    "SpreadHeadParams",
    "StrictModel",
    "ValidationParams",
    "Year",
    "load_params",
]


class GridParams(StrictModel):
    """The product grid."""

    resolution: float = Field(gt=0, le=10, description="cell size in degrees (0.05 in the paper)")
    bbox: list[float] = Field(
        default_factory=lambda: [-180.0, -90.0, 180.0, 90.0],
        min_length=4,
        max_length=4,
        description="west, south, east, north in degrees",
    )

    @model_validator(mode="after")
    def _valid_grid(self) -> GridParams:
        try:
            self.to_grid()
        except ValueError as exc:
            raise ValueError(f"grid: {exc}") from None
        return self

    def to_grid(self) -> Grid:
        return Grid(self.resolution, *self.bbox)


class PeriodParams(StrictModel):
    """Years to process (inclusive)."""

    start_year: Year
    end_year: Year

    @model_validator(mode="after")
    def _ordered(self) -> PeriodParams:
        if self.end_year < self.start_year:
            raise ValueError(f"end_year ({self.end_year}) must not be before start_year ({self.start_year})")
        return self

    @property
    def years(self) -> list[int]:
        return list(range(self.start_year, self.end_year + 1))


#: Cosmic-ray networks of the twin world, each written in its provider's layout.
COSMOS_NETWORKS = ("COSMOS", "COSMOS-Europe", "COSMOS-UK")
#: Number of SMAP core validation sites the twin world knows (helpers.sources.smap_cvs.CORE_SITES).
SMAP_CORE_SITES = 20


class CosmosNetworkParams(StrictModel):
    """A cosmic-ray network of the twin world."""

    stations: PositiveInt
    depth_cm: float = Field(gt=0, le=100, description="median effective sensing depth")


#: How the twin world makes its GLASS-MODIS-like target (``world.target_method``).
TARGET_METHODS = ("smoothed_truth", "station_model")


class WorldParams(StrictModel):
    """The embedded twin world: present only in synthetic (demo) configurations."""

    target_start_year: Year = Field(2000, description="first year of the GLASS-MODIS-like target")
    target_method: Literal[TARGET_METHODS] = Field(  # type: ignore[valid-type]
        "smoothed_truth",
        description="smoothed_truth: the truth smoothed, plus noise; station_model: XGBoost fitted to"
        " the ISMN-like stations from MODIS-like inputs, ERA5-like SM and static fields, applied to"
        " every cell (as GLASS-MODIS SM is made; helpers.world.fitted_target)",
    )
    era5_resolution: float = Field(gt=0, description="grid of the ERA5-Land-like input, degrees")
    cci_resolution: float = Field(gt=0, description="grid of the ESA-CCI-like product, degrees")
    target_subcells: PositiveInt = Field(
        2, description="sinusoidal target pixels per grid cell side (1 km vs 5 km in reality)"
    )
    tile_cells: PositiveInt = Field(120, description="cells per tile side while generating")
    ismn_stations: int = Field(ge=0, description="ISMN-like point stations (helpers.world.stations)")
    ismn_early_share: float = Field(
        0.04, ge=0, le=1, description="share of ISMN records that start before target_start_year"
    )
    cosmos_networks: dict[Literal[COSMOS_NETWORKS], CosmosNetworkParams] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="cosmic-ray networks: COSMOS (USA), COSMOS-Europe, COSMOS-UK"
    )
    smap_sites: int = Field(
        ge=0, le=SMAP_CORE_SITES, description="SMAP core validation sites, the first of the real list"
    )
    satellite_changes: list[dt.date] = Field(
        default_factory=lambda: [
            dt.date(1985, 1, 1),
            dt.date(1988, 11, 8),
            dt.date(1995, 2, 1),
            dt.date(2001, 1, 1),
            dt.date(2005, 6, 1),
            dt.date(2009, 6, 1),
        ],
        description="dates on which the AVHRR-like sensor switches platform (NOAA-7 ... NOAA-19)",
    )

    @field_validator("satellite_changes", mode="before")
    @classmethod
    def _parse_dates(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [dt.date.fromisoformat(v) if isinstance(v, str) else v for v in value]
        return value


class CubeParams(StrictModel):
    """The analysis-ready datacube."""

    tile_cells: PositiveInt = Field(120, description="cells per tile side while building")
    chunk_cells: PositiveInt = Field(30, description="Zarr chunk side in cells")
    max_gap_days: PositiveInt = Field(
        30, description="longest gap of a daily input bridged by linear interpolation"
    )
    target_min_valid_fraction: float = Field(
        0.5, ge=0, lt=1, description="valid-area share needed to aggregate the target to a cell"
    )

    @model_validator(mode="after")
    def _tiles_hold_chunks(self) -> CubeParams:
        if self.tile_cells % self.chunk_cells:
            raise ValueError(
                f"tile_cells ({self.tile_cells}) must be a multiple of chunk_cells ({self.chunk_cells})"
            )
        return self


class SamplingParams(StrictModel):
    """Training-sample locations and their split.

    ``train_years`` holds distinct years; ``split_ratios`` three positive shares (train,
    validation, test) summing to 1, since every split needs locations.
    """

    stride: PositiveInt = Field(description="cells between sample locations (5 at 0.05 deg)")
    train_years: list[Year] = Field(min_length=1, description="distinct years of the training sequences")
    split_ratios: list[float] = Field(
        default_factory=lambda: [0.7, 0.2, 0.1],
        min_length=3,
        max_length=3,
        description="train, validation, test shares of sample locations (each > 0, summing to 1)",
    )
    split_method: Literal["random", "blocks"] = "random"
    block_size_deg: float = Field(10.0, gt=0, description="side of a spatial block (blocks split)")

    @field_validator("train_years")
    @classmethod
    def _distinct_years(cls, years: list[int]) -> list[int]:
        twice = repeated(years)
        if twice:
            raise ValueError(
                f"{', '.join(map(str, twice))} given more than once; each training year once (a repeated year"
                " would have its sequences drawn more than once)"
            )
        return years

    @field_validator("split_ratios")
    @classmethod
    def _ratios(cls, ratios: list[float]) -> list[float]:
        shares = ", ".join(
            f"{name} {r}" for name, r in zip(("train", "validation", "test"), ratios, strict=True)
        )
        if any(r <= 0 for r in ratios):
            raise ValueError(
                f"split_ratios must be three positive shares summing to 1, got {shares}: every split"
                " needs locations (training learns on train, stops early on validation, is scored on test)"
            )
        if not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
            raise ValueError(f"split_ratios must be three positive shares summing to 1, got {shares}")
        return ratios


class ModelParams(StrictModel):
    """Hyper-parameters of the model zoo (the paper: one layer for every deep model)."""

    hidden_size: PositiveInt = Field(64, description="LSTM units per direction / Transformer width")
    num_layers: PositiveInt = Field(1, description="recurrent or encoder layers")
    dropout: float = Field(0.1, ge=0, lt=1)
    attention_size: PositiveInt = Field(32, description="AtLSTM attention projection size")
    transformer_heads: PositiveInt = 4
    transformer_feedforward: PositiveInt = 128
    xgboost_trees: PositiveInt = 200
    xgboost_depth: PositiveInt = 8
    xgboost_learning_rate: float = Field(0.1, gt=0, le=1)


#: Inputs an ablation leaves out (``experiments.ablations``, ``training.seed_ablations``).
ABLATIONS = ("no_avhrr", "no_era5_land")


class TrainingParams(StrictModel):
    """How the models are trained: one loop for every deep model, and XGBoost's rows."""

    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when available, else cpu")
    batch_size: PositiveInt = Field(64, description="sequences per optimisation step")
    max_epochs: PositiveInt = 30
    patience: PositiveInt = Field(4, description="epochs without a better validation loss before stopping")
    min_delta: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="relative fall of the validation loss that counts as better, for early stopping and"
        " the learning-rate schedule (0: any fall; the schedule then uses torch's default 1e-4)",
    )
    learning_rate: float = Field(1e-3, gt=0, description="Adam's initial learning rate")
    weight_decay: float = Field(0.0, ge=0, description="Adam's L2 penalty")
    grad_clip: float | None = Field(1.0, gt=0, description="largest gradient norm (None: no clipping)")
    lr_factor: float = Field(0.5, gt=0, lt=1, description="ReduceLROnPlateau: learning-rate multiplier")
    lr_patience: int = Field(2, ge=0, description="ReduceLROnPlateau: epochs without improvement first")
    sequences_per_epoch: PositiveInt | None = Field(
        None, description="training sequences drawn per epoch, validation sequences kept (None: all)"
    )
    num_threads: PositiveInt = Field(
        2, description="CPU threads of torch and XGBoost: pinned, so a seed repeats on any machine"
    )
    xgboost_max_rows: PositiveInt = Field(2_000_000, description="training pixel-days drawn for XGBoost")
    seeds: PositiveInt = Field(
        1,
        description="training runs per model in notebook 02's comparison, with seeds seed, seed + 1, ...;"
        " the first is the run every later notebook uses (helpers.convergence)",
    )
    seed_ablations: list[Literal[ABLATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="ablations of experiments.model trained with this budget ([]: none)",
    )
    ablation_seeds: PositiveInt | None = Field(
        None, description="seeds of each of seed_ablations: the first that many of seeds (None: all)"
    )

    @model_validator(mode="after")
    def _ablation_seeds_within_seeds(self) -> TrainingParams:
        if self.ablation_seeds is not None and self.ablation_seeds > self.seeds:
            raise ValueError(
                f"training.ablation_seeds ({self.ablation_seeds}) must not exceed training.seeds ({self.seeds}):"
                " the ablations take the first seeds of the comparison"
            )
        return self


#: Experiments of notebook 02 (``experiments.run``).
EXPERIMENTS = ("sequence_length", "xgboost_samples", "ablations", "spatial_split", "training_years")
#: Longest centred window of the sequence-length experiment: the 30-day margins on each side.
MAX_WINDOW_DAYS = 61


class ExperimentParams(StrictModel):
    """The experiments of notebook 02: the paper's and its reviewers' (see helpers.experiments)."""

    run: list[Literal[EXPERIMENTS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(EXPERIMENTS), description="experiments to run ([] for none)"
    )
    model: Literal["lstm", "bilstm", "atlstm", "transformer"] = Field(
        "atlstm", description="deep model of the sequence-length, ablation, split and year experiments"
    )
    max_epochs: PositiveInt | None = Field(None, description="epochs per experiment run (None: training's)")
    sequences_per_epoch: PositiveInt | None = Field(
        None, description="training sequences per epoch of an experiment run (None: training's)"
    )
    window_lengths: list[PositiveInt] = Field(
        default_factory=lambda: [1, 3, 7, 15, 29],
        min_length=1,
        description="odd window lengths L (days, centred on the target day) of the sequence-length experiment",
    )
    window_test_days: PositiveInt = Field(50_000, description="test days scored for every window length")
    xgboost_sample_factors: list[PositiveInt] = Field(
        default_factory=lambda: [1000, 100, 10],
        min_length=1,
        description="XGBoost learns from the train pixel-days divided by each factor (100: the paper's)",
    )
    ablations: list[Literal[ABLATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(ABLATIONS), min_length=1, description="inputs left out, one run each"
    )
    training_year_sets: list[list[Year]] = Field(
        default_factory=list, description="alternatives to sampling.train_years, one run each"
    )

    @field_validator("window_lengths")
    @classmethod
    def _odd_windows(cls, lengths: list[int]) -> list[int]:
        bad = [n for n in lengths if n % 2 == 0 or n > MAX_WINDOW_DAYS]
        if bad:
            raise ValueError(
                f"window lengths must be odd (centred on the target day) and at most {MAX_WINDOW_DAYS}"
                f" (the two 30-day margins); bad: {bad}"
            )
        return sorted(set(lengths))

    @field_validator("training_year_sets")
    @classmethod
    def _year_sets(cls, sets: list[list[int]]) -> list[list[int]]:
        for years in sets:
            if not years or len(set(years)) != len(years):
                raise ValueError(f"each training year set must hold distinct years, got {years}")
        return [sorted(years) for years in sets]


class ImportanceParams(StrictModel):
    """Feature importance and attention analysis (notebook 03, helpers.importance)."""

    shap_rows: PositiveInt = Field(2000, description="test pixel-days explained by XGBoost's TreeSHAP")
    check_rows: PositiveInt = Field(200, description="rows compared with shap.TreeExplainer")
    background_sequences: PositiveInt = Field(
        100, description="training sequences of the GradientExplainer background (100-1000)"
    )
    shap_sequences: PositiveInt = Field(64, description="test sequences explained for each deep model")
    shap_nsamples: PositiveInt = Field(16, description="GradientExplainer samples per explained sequence")
    permutation_sequences: PositiveInt = Field(
        256, description="test sequences of the permutation importance"
    )
    permutation_repeats: PositiveInt = Field(2, description="permutations per feature (importance averaged)")
    attention_sequences: PositiveInt = Field(256, description="test sequences of the attention analysis")
    max_lag: PositiveInt = Field(60, description="largest lag (days) of the attention-by-lag figure")
    sm_range_edges: list[float] = Field(
        default_factory=lambda: [0.15, 0.3],
        min_length=1,
        description="target SM (m3 m-3) separating the ranges of the attention analysis",
    )

    @field_validator("sm_range_edges")
    @classmethod
    def _increasing(cls, edges: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(edges)) or not all(0 < e < 1 for e in edges):
            raise ValueError(f"sm_range_edges must increase strictly within (0, 1), got {edges}")
        return edges


class Params(StrictModel):
    """A whole run configuration."""

    run_name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = Field(ge=0)
    description: str = ""
    outputs_dir: Path = Path("outputs")
    data_root: Path | None = None
    grid: GridParams
    period: PeriodParams
    world: WorldParams | None = None
    sources: SourcesParams = Field(default_factory=SourcesParams)
    cube: CubeParams = Field(default_factory=CubeParams)
    sampling: SamplingParams
    models: ModelParams = Field(default_factory=ModelParams)
    training: TrainingParams = Field(default_factory=TrainingParams)
    experiments: ExperimentParams = Field(default_factory=ExperimentParams)
    importance: ImportanceParams = Field(default_factory=ImportanceParams)
    production: ProductionParams = Field(default_factory=ProductionParams)
    dask: DaskParams = Field(default_factory=DaskParams)
    validation: ValidationParams = Field(default_factory=ValidationParams)

    @field_validator("outputs_dir", "data_root", mode="before")
    @classmethod
    def _to_path(cls, value: Any) -> Any:
        return Path(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        if self.world is None and self.data_root is None:
            raise ValueError("data_root is required when there is no world section (real data)")
        twice = repeated(self.production.years or [])
        if twice:
            raise ValueError(
                f"production.years {self.production.years} repeat {', '.join(map(str, twice))}:"
                " each year is produced once (a repeated year would be produced twice)"
            )
        for key, years in (
            ("sampling.train_years", self.sampling.train_years),
            ("experiments.training_year_sets", self.sample_years),
            ("production.years", self.production.years or []),
        ):
            outside = [y for y in years if y not in self.period.years]
            if outside:
                raise ValueError(
                    f"{key} {outside} lie outside period {self.period.start_year}-{self.period.end_year}"
                )
        export = self.production.export_start, self.production.export_end
        produced = self.production.years or self.period.years
        if export[0] is not None and not {export[0].year, export[1].year} <= set(produced):
            raise ValueError(
                f"production.export_start/export_end {export[0]}..{export[1]} lie outside the produced"
                f" years {produced[0]}-{produced[-1]}"
            )
        if self.world is not None:
            res = self.grid.resolution
            for key in ("era5_resolution", "cci_resolution"):
                factor = getattr(self.world, key) / res
                if factor < 1 or abs(factor - round(factor)) > 1e-6:
                    raise ValueError(
                        f"world.{key} ({getattr(self.world, key)}) must be a whole multiple"
                        f" of grid.resolution ({res})"
                    )
            try:
                Grid(self.world.cci_resolution, *self.grid.bbox)
            except ValueError as exc:
                raise ValueError(
                    f"world.cci_resolution: the grid of the ESA-CCI-like product: {exc}"
                ) from None
            nodes = 90 / self.world.era5_resolution
            if abs(nodes - round(nodes)) > 1e-6:
                raise ValueError(
                    f"world.era5_resolution ({self.world.era5_resolution}) must divide 90: ERA5 nodes"
                    " include the equator and the poles"
                )
            early = [y for y in self.sample_years if y < self.world.target_start_year]
            if early:
                raise ValueError(
                    f"sampling.train_years or experiments.training_year_sets {early} precede"
                    f" world.target_start_year ({self.world.target_start_year}): no target to train on"
                )
        return self

    @property
    def sample_years(self) -> list[int]:
        """Years with sequences in the sample store: the training years, and the alternative
        training years of the training-year experiment when it runs."""
        years = set(self.sampling.train_years)
        if "training_years" in self.experiments.run:
            years.update(y for group in self.experiments.training_year_sets for y in group)
        return sorted(years)

    # Derived locations -------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.outputs_dir / self.run_name

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def raw_dir(self) -> Path:
        """Where the input products are read from."""
        return self.data_root if self.data_root is not None else self.data_dir / "raw"

    @property
    def truth_dir(self) -> Path:
        """The twin world's truth: read only by the world itself and by truth scoring."""
        return self.data_dir / "truth"

    @property
    def cube_path(self) -> Path:
        return self.data_dir / "cube.zarr"

    @property
    def samples_path(self) -> Path:
        return self.data_dir / "samples.zarr"

    def source_path(self, product: str) -> Path:
        """The folder (or file) of one input product."""
        return self.raw_dir / getattr(self.sources, product)

    def source_pattern(self, product: str) -> str | None:
        """The file pattern params give for ``product``; None means the reader's provider default."""
        return self.sources.patterns.get(product)

    def source_encoding(self, product: str) -> dict[str, Any] | None:
        """The fallback encoding params give for ``product`` (None: files must carry their own)."""
        encoding = self.sources.encodings.get(product)
        return None if encoding is None else encoding.model_dump()

    def to_grid(self) -> Grid:
        return self.grid.to_grid()


def _project_root(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").exists():
            return folder
    return start


#: The key of a params file that names the file it builds on (see :func:`load_params`).
EXTENDS_KEY = "extends"


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of a params file; ParamsError naming the file otherwise."""
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start});"
            " save the params file as UTF-8"
        ) from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read the params file ({exc.strerror or exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return raw


def merge_params(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: mappings merge key by key, anything else replaces
    (params files that ``extend`` another; manifest sections, :mod:`helpers.provenance`)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_params(out[key], value)
        else:
            out[key] = value
    return out


def _resolved_mapping(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A params file's mapping with the file it ``extends`` merged underneath."""
    raw = _read_yaml_mapping(path)
    parent = raw.pop(EXTENDS_KEY, None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ParamsError(f"{path}: {EXTENDS_KEY} must be the path of another params file, got {parent!r}")
    parent_path = (path.parent / parent).resolve()
    if parent_path in chain or parent_path == path.resolve():
        raise ParamsError(f"{path}: {EXTENDS_KEY} makes a loop ({' -> '.join(str(p) for p in (*chain, parent_path))})")
    if not parent_path.is_file():
        raise ParamsError(f"{path}: {EXTENDS_KEY}: params file {parent_path} not found")
    return merge_params(_resolved_mapping(parent_path, (*chain, path.resolve())), raw)


def load_params(path: Path | str, **overrides: Any) -> Params:
    """Read and validate a params YAML file.

    A file may start from another: ``extends: paper.yaml`` (a path relative to the file) takes
    that file's keys and changes only those it sets, section by section (mappings merge, lists
    and values replace). A regional run on the real data is such a file: the paper's params
    with another ``grid.bbox``, ``period`` and ``sampling.train_years``.

    ``overrides`` replace top-level keys (e.g. ``run_name``) before validation. Relative
    paths in the result are made absolute against the project root.

    Raises
    ------
    ParamsError
        naming the file: missing, unreadable, not UTF-8, not YAML, an ``extends`` that is
        missing or loops, or, for each schema problem, the key path and what was expected.
    """
    path = Path(path)
    raw = _resolved_mapping(path)
    raw.update(overrides)
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError(f"{path}: invalid params\n{format_validation_error(exc)}") from None
    root = _project_root(path.resolve().parent)
    updates: dict[str, Any] = {}
    if not params.outputs_dir.is_absolute():
        updates["outputs_dir"] = root / params.outputs_dir
    if params.data_root is not None and not params.data_root.is_absolute():
        updates["data_root"] = root / params.data_root
    model_path = params.production.model_path
    if model_path is not None and not model_path.is_absolute():
        updates["production"] = params.production.model_copy(update={"model_path": root / model_path})
    return params.model_copy(update=updates)


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``key.path: message (got value)``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (not in the schema; check the spelling)"
        got = err.get("input")
        shown = "" if isinstance(got, dict) or err["type"] == "missing" else f" (got {got!r})"
        lines.append(f"  - {key}: {message}{shown}")
    return "\n".join(lines)


def params_as_dict(params: Params) -> dict[str, Any]:
    """Plain JSON-ready dictionary of the params (for manifests and provenance)."""
    return params.model_dump(mode="json")
