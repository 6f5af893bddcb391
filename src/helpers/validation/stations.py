"""Every in-situ network of a run, read through its provider's reader (helpers.sources).

Sources (``SOURCES``) and the notebook that validates them:

``ismn``
    The point networks of the ISMN archive (``sources.ismn``): 0-``max_depth_m`` sensors,
    ``accepted_flags`` (default ``G``), days with ``min_hourly_records`` kept records, grouped in
    ``day_boundary`` days (notebook 05; winter in notebook 08).
``cosmos``
    The cosmic-ray networks inside the ISMN archive (``stations.crns_networks``, default
    ``COSMOS``), selected by ``depth_from`` only because their ``depth_to`` is the probe's
    sensing depth (notebook 06).
``cosmos_uk``, ``cosmos_europe``
    COSMOS-UK daily files and the COSMOS-Europe release (notebook 06).
``smap_cvs``
    SMAP core validation sites, NSIDC-0712 match-ups at ``smap_scale_km`` (notebook 07).

:func:`read_stations` returns one :class:`~helpers.sources._stations.StationTable` whose
``meta`` adds ``source`` and ``key`` (``network/station``, the station's identity in every
table). A missing network folder is a :class:`~helpers.errors.SourceError` naming it; a bad
station file is a row of ``skipped``.
"""

from __future__ import annotations

from collections.abc import Sequence

from helpers.params import Params
from helpers.sources import cosmos_europe, cosmos_uk, ismn, smap_cvs
from helpers.sources._stations import StationTable

SOURCES = ("ismn", "cosmos", "cosmos_uk", "cosmos_europe", "smap_cvs")
#: Sources of cosmic-ray probes (their sensing depth is a daily series or a station constant).
CRNS_SOURCES = ("cosmos", "cosmos_uk", "cosmos_europe")
#: Notebook of each source.
NOTEBOOK_SOURCES = {"05": ("ismn",), "06": ("cosmos", "cosmos_uk", "cosmos_europe"), "07": ("smap_cvs",)}


def station_key(network: str, station: str) -> str:
    """The identity of a station in every table: ``network/station``."""
    return f"{network}/{station}"


def read_source(params: Params, source: str) -> StationTable:
    """The stations of one source (see the module docstring)."""
    settings = params.validation.stations
    boundary = settings.day_boundary
    if source in ("ismn", "cosmos"):
        crns = settings.crns_networks
        meta_dir = params.data_dir / "validation" / "ismn_meta"
        common = {
            "max_depth": settings.max_depth_m,
            "accepted_flags": settings.accepted_flags,
            "min_records": settings.min_hourly_records,
            "day_boundary": boundary,
            "frozen_flags": settings.frozen_flags,
        }
        if source == "ismn":
            return ismn.read_network(params.source_path("ismn"), meta_dir, exclude_networks=crns, **common)
        return ismn.read_network(params.source_path("ismn"), meta_dir, networks=crns, depth_from_only=True, **common)
    if source == "cosmos_uk":
        return cosmos_uk.read_network(
            params.source_path("cosmos_uk"), settings.cosmos_uk_rejected_flags, settings.cosmos_uk_d86_units
        )
    if source == "cosmos_europe":
        return cosmos_europe.read_network(
            params.source_path("cosmos_europe"),
            settings.min_hourly_records,
            boundary,
            settings.cosmos_europe_flag_columns,
        )
    if source == "smap_cvs":
        return smap_cvs.read_sites(
            params.source_path("smap_cvs"),
            settings.smap_scale_km,
            settings.smap_product,
            settings.smap_column,
            settings.smap_missing_below,
            day_boundary=boundary,
        )
    raise ValueError(f"unknown station source {source!r}; expected one of {SOURCES}")


def read_stations(params: Params, sources: Sequence[str] = SOURCES) -> StationTable:
    """The stations of every source, in one table with ``source`` and ``key`` columns."""
    tables = []
    for source in sources:
        table = read_source(params, source)
        table.meta["source"] = source
        table.skipped["source"] = source
        tables.append(table)
    combined = StationTable.concat(tables)
    combined.meta["key"] = [station_key(n, s) for n, s in zip(combined.meta["network"], combined.meta["station"], strict=True)]
    combined.skipped = combined.skipped.reset_index(drop=True)
    return combined
