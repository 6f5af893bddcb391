"""The ``validation`` section of the params schema (notebooks 05-08, :mod:`helpers.validation`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from helpers.params.base import PositiveInt, StrictModel, Year

#: Gridded products of the validation (helpers.validation): the new product, its inputs and
#: target, the comparison and baseline products, and the ablation models of notebook 02.
DEFAULT_VALIDATION_PRODUCTS = (
    "product",
    "era5_land",
    "target",
    "esa_cci",
    "cdf_matched",
    "ablation_reference",
    "no_avhrr",
    "no_era5_land",
)
#: Besides those, the comparison products that the twin world does not make (real data only).
VALIDATION_PRODUCTS = (*DEFAULT_VALIDATION_PRODUCTS, "gleam", "sith")
Product = Literal[VALIDATION_PRODUCTS]  # type: ignore[valid-type]


class StationReadingParams(StrictModel):
    """How station files are read (helpers.validation.stations; the readers in helpers.sources)."""

    accepted_flags: list[str] = Field(default_factory=lambda: ["G"], min_length=1, description="ISMN codes kept")
    frozen_flags: list[str] = Field(
        default_factory=lambda: ["D01", "D02", "D03"], description="ISMN codes of frozen soil (winter strata)"
    )
    min_hourly_records: PositiveInt = Field(
        12, le=24, description="kept hourly records a day needs (scaled for coarser sensors)"
    )
    day_boundary: Literal["utc", "local_solar"] = Field(
        "local_solar",
        description="days of station records: local solar days (the product's day, from afternoon"
        " satellite overpasses; the twin world's days) or UTC days (the stamps of ISMN, ERA5-Land)",
    )
    max_depth_m: float = Field(0.05, gt=0, le=1, description="deepest sensor depth_to of the 0-5 cm layer")
    crns_networks: list[str] = Field(
        default_factory=lambda: ["COSMOS"], description="networks of the ISMN archive that are cosmic-ray probes"
    )
    cosmos_uk_rejected_flags: list[str] = Field(
        default_factory=lambda: ["I"], description="COSMOS_VWC_FLAG states dropped (I: infilled)"
    )
    cosmos_uk_d86_units: Literal["cm", "m"] = Field("cm", description="unit of D86_75M (not in the files)")
    cosmos_europe_flag_columns: list[str] | None = Field(
        None, description="flag columns that drop a record (None: every Flag_* column)"
    )
    smap_scale_km: Literal[3, 9, 36] = Field(9, description="reference-pixel grid of the core-site files read")
    smap_product: str = Field("SMAPL2SMP", description="SMAP product of the match-up files read")
    smap_column: str = Field("WASM", description="column of the upscaled in-situ value (open in the layout)")
    smap_missing_below: float = Field(0.0, description="core-site values below it are missing")
    smap_footprint_km: float = Field(9.0, gt=0, description="footprint matched to a core site")


class RepresentativeParams(StrictModel):
    """Which stations count as representative of their grid cell (helpers.validation.representative)."""

    rule: Literal["target_agreement", "homogeneity"] = Field(
        "target_agreement",
        description="target_agreement: R(station, target) over period I at least min_r; homogeneity:"
        " the target's mean varies little among the cell and its eight neighbours",
    )
    min_r: float = Field(0.6, ge=-1, le=1, description="target_agreement: least R over period I")
    max_spread: float = Field(0.03, gt=0, description="homogeneity: largest std of the 3x3 cells' means, m3 m-3")


class CollocationParams(StrictModel):
    """Triple collocation at the stations (helpers.validation.collocation)."""

    third: Product = Field("esa_cci", description="the third, independent product of each triplet")
    third_for_third: Product = Field("era5_land", description="the third product when the product is `third`")
    min_days: PositiveInt = Field(100, description="fewest days of a triplet")


class WinterParams(StrictModel):
    """The winter evaluation of notebook 08 (helpers.validation.winter)."""

    min_lat: float = Field(30.0, ge=-90, le=90, description="stations north of this latitude")
    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(default_factory=lambda: [12, 1, 2], min_length=1)
    min_days: PositiveInt = Field(100, description="a station needs more matched winter days than this")
    stratum_min_days: PositiveInt = Field(20, description="fewest days of a station in a frozen/unfrozen stratum")


class ValidationParams(StrictModel):
    """Validation against in-situ networks (notebooks 05-08, helpers.validation)."""

    period_i: list[Year] = Field(
        default_factory=lambda: [2000, 2018], min_length=2, max_length=2, description="first and last year of period I"
    )
    period_ii: list[Year] = Field(
        default_factory=lambda: [1982, 1999], min_length=2, max_length=2, description="first and last year of period II"
    )
    products: list[Product] = Field(
        default_factory=lambda: list(DEFAULT_VALIDATION_PRODUCTS), min_length=1,
        description="gridded products validated (gleam, sith: add them where their files are under data_root)"
    )
    stations: StationReadingParams = Field(default_factory=StationReadingParams)
    min_days: PositiveInt = Field(30, description="fewest common-sample days to score a station and period")
    confidence_level: float = Field(0.95, gt=0, lt=1)
    bootstrap_samples: PositiveInt = Field(1000, description="moving-block bootstrap resamples per station")
    false_discovery_rate: float = Field(0.05, gt=0, lt=1, description="Benjamini-Hochberg q across stations")
    significance_pairs: list[list[Product]] | None = Field(
        None, description="[a, b] product pairs tested (None: product against every other, and the ablations)"
    )
    representative: RepresentativeParams = Field(default_factory=RepresentativeParams)
    collocation: CollocationParams = Field(default_factory=CollocationParams)
    winter: WinterParams = Field(default_factory=WinterParams)

    @field_validator("period_i", "period_ii")
    @classmethod
    def _ordered_years(cls, years: list[int]) -> list[int]:
        if years[1] < years[0]:
            raise ValueError(f"a period is [first year, last year], got {years}")
        return years

    @field_validator("significance_pairs")
    @classmethod
    def _pairs(cls, pairs: list[list[str]] | None) -> list[list[str]] | None:
        for pair in pairs or []:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"each significance pair is two different products, got {pair}")
        return pairs
