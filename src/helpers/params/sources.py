"""The ``sources`` section of the params schema: where each product lies and how its files are found.

``sources.<product>`` is the product's folder under ``data_root``; ``sources.patterns`` overrides
a reader's provider file pattern (:class:`helpers.sources._files.FilePattern`) and
``sources.encodings`` gives the scale, offset and fill of files that carry none.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from helpers.params.base import StrictModel, Year
from helpers.sources import glass_albedo

#: The albedo bands a configuration may read (the SDS of GLASS02B05).
ALBEDO_BANDS = glass_albedo.BANDS

#: Products whose files are found by a pattern (``sources.patterns``).
PATTERN_PRODUCTS = ("glass_albedo", "glass_lst", "glass_modis_sm", "era5_land", "merit_dem", "soilgrids",
                    "mcd12c1", "esa_cci", "gleam", "sith")
#: Products whose patterns must carry a date (``{year}`` at least).
DATED_PRODUCTS = ("glass_albedo", "glass_lst", "glass_modis_sm", "esa_cci", "gleam", "sith")
#: Products stored as scaled integers whose encoding params may supply (``sources.encodings``).
ENCODED_PRODUCTS = ("glass_albedo", "glass_lst", "glass_modis_sm", "sith")


class EncodingParams(StrictModel):
    """How stored integers decode (``value = stored * scale_factor + add_offset``)."""

    scale_factor: float = Field(description="multiplier of the stored integers")
    add_offset: float = 0.0
    fill_value: float | None = Field(None, description="stored value meaning missing")
    valid_range: list[float] | None = Field(None, min_length=2, max_length=2, description="valid stored values")


class SourcesParams(StrictModel):
    """Where each input product lies, relative to ``data_root``."""

    glass_albedo: str = "glass_albedo"
    glass_lst: str = "glass_lst"
    glass_modis_sm: str = "glass_modis_sm"
    era5_land: str = "era5_land"
    merit_dem: str = "merit_dem"
    soilgrids: str = "soilgrids"
    mcd12c1: str = "mcd12c1"
    esa_cci: str = "esa_cci"
    ismn: str = Field("ismn", description="ISMN archive (folder or .zip), COSMOS (US) included")
    cosmos_uk: str = Field("cosmos_uk", description="COSMOS-UK daily files and site metadata (UKCEH)")
    cosmos_europe: str = Field("cosmos_europe", description="COSMOS-Europe release folder (TERENO)")
    smap_cvs: str = Field("smap_cvs", description="NSIDC-0712 SMAP core-site match-up files")
    gleam: str = Field("gleam", description="GLEAM4 daily surface soil moisture (SMs) files")
    sith: str = Field("sith", description="SiTHv2 daily soil moisture files")
    albedo_bands: list[str] = Field(
        default_factory=lambda: ["ABD_BSA_VIS", "ABD_BSA_NIR", "ABD_WSA_VIS", "ABD_WSA_NIR"]
    )
    land_cover_year: Year = Field(2019, description="MCD12C1 year used for the masks")
    patterns: dict[str, str] = Field(
        default_factory=dict,
        description="product -> file pattern under its folder (a glob with {year}, {month}, {day},"
        " {doy}; soilgrids: {property}); a product not named here uses its reader's provider default"
        " (its PATTERN)",
    )
    encodings: dict[str, EncodingParams] = Field(
        default_factory=dict,
        description="product -> scale, offset and fill of its stored integers, used only where a file"
        " carries no such attributes (a reader never assumes them silently)",
    )

    @field_validator("patterns")
    @classmethod
    def _known_patterns(cls, patterns: dict[str, str]) -> dict[str, str]:
        from helpers.sources._files import FilePattern

        for product, text in patterns.items():
            if product not in PATTERN_PRODUCTS:
                raise ValueError(f"patterns: unknown product {product!r}; expected some of {list(PATTERN_PRODUCTS)}")
            FilePattern(text.replace("{property}", "*") if product == "soilgrids" else text)
            if product in DATED_PRODUCTS and "{year}" not in text:
                raise ValueError(f"patterns.{product}: {text!r} needs a {{year}} placeholder (files are found by date)")
        return patterns

    @field_validator("encodings")
    @classmethod
    def _known_encodings(cls, encodings: dict[str, EncodingParams]) -> dict[str, EncodingParams]:
        unknown = sorted(set(encodings) - set(ENCODED_PRODUCTS))
        if unknown:
            raise ValueError(f"encodings: unknown product(s) {unknown}; expected some of {list(ENCODED_PRODUCTS)}")
        return encodings

    @field_validator("albedo_bands")
    @classmethod
    def _known_bands(cls, bands: list[str]) -> list[str]:
        unknown = sorted(set(bands) - set(ALBEDO_BANDS))
        if unknown or not bands:
            raise ValueError(
                f"albedo_bands must be a non-empty subset of {list(ALBEDO_BANDS)}, got {unknown or bands}"
            )
        return bands
