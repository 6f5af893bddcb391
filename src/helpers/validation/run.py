"""The matched data of a run: every station's daily series beside every product at its cells.

:func:`build_matched` reads every network (:mod:`~helpers.validation.stations`), matches each
station to its cells (:mod:`~helpers.validation.matching`) and reads there, for every day of
the product's period, each product of ``validation.products``:

``product``            the new daily product (``data/product.zarr``, variable ``sm``)
``era5_land``          the ERA5-Land input as the datacube holds it (``era5_sm``)
``target``             the GLASS-MODIS target (``target_sm``; from its first year only)
``esa_cci``            the ESA CCI SM files, at the CCI cell containing the station
``gleam`` ``sith``     GLEAM4 surface SM and SiTHv2 (surface layer), at the 0.1-degree cell containing
                       the station (real data only: the twin world makes neither)
``cdf_matched``        the CDF-matched ERA5-Land baseline (:func:`~helpers.validation.baselines.build_cdf_product`)
``ablation_reference`` ``no_avhrr`` ``no_era5_land``: notebook 02's ablation models applied at
                       the stations' cells (:func:`~helpers.validation.baselines.models_at_cells`)

plus the product's frozen flag (``sm_flag`` bit ``frozen_suspected``) and, on the twin world,
the truth at the cells. Everything goes to one store, ``data/validation/matched.zarr``
(dims station x time), with the stations skipped on the way in ``skipped.csv`` beside it.
The store remembers what made it (validation params, the datacube, the product's key, the
baseline's key, the ablation models' digests, the station files); when any of these changes it
is rebuilt.

A missing product, or a product made with another model than ``production.model`` now names,
is a clear error naming the file and the notebook that makes it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from helpers import truth
from helpers.cube import MASK_VALUES, cube_key, open_cube
from helpers.errors import SourceError
from helpers.io import atomic_path
from helpers.params import Params
from helpers.production import (
    FLAG_BITS,
    PRODUCT_SETTINGS_ATTR,
    model_digest,
    model_file,
    open_product,
    product_path,
)
from helpers.progress import progress_bar
from helpers.provenance import global_attributes
from helpers.sources import esa_cci, gleam, sith
from helpers.validation import baselines, matching, stations

MATCHED_STORE = "matched.zarr"
SKIPPED_FILE = "skipped.csv"
#: Daily station variables of the store and their meaning.
STATION_VARIABLES = {
    "insitu": "station soil moisture (kept records), m3 m-3",
    "insitu_incl_frozen": "station soil moisture with frozen-flagged records, m3 m-3",
    "frozen_records": "station records flagged frozen that day",
    "depth_cm": "sensing depth of a cosmic-ray probe that day (its fixed depth where the files give one), cm",
}
PRODUCT_LABELS = {
    "product": "product",
    "era5_land": "ERA5-Land",
    "target": "GLASS-MODIS target",
    "esa_cci": "ESA CCI",
    "gleam": "GLEAM4",
    "sith": "SiTHv2",
    "cdf_matched": "CDF-matched ERA5-Land",
    "ablation_reference": "AtLSTM, ablation budget",
    "no_avhrr": "no AVHRR",
    "no_era5_land": "no ERA5-Land",
}


def validation_dir(params: Params) -> Path:
    """``data/validation/``: the matched store, the skipped stations, the ISMN index cache."""
    return params.data_dir / "validation"


def matched_path(params: Params) -> Path:
    return validation_dir(params) / MATCHED_STORE


def check_product(params: Params) -> xr.Dataset:
    """The daily product, checked to come from the model ``production`` names now.

    Raises
    ------
    FileNotFoundError, SourceError
        Naming ``data/product.zarr`` (missing: run notebook 04) or the model file it was not
        made with.
    """
    product = open_product(params)
    model = model_file(params)
    if not model.exists():
        raise SourceError(model, "model file of production.model not found: run notebook 02")
    made_with, now = product.attrs.get("glass_sm_model_digest"), model_digest(model)
    if made_with != now:
        raise SourceError(
            product_path(params),
            f"made with model digest {made_with}, but {model.name} is now {now}: rerun notebook 04",
        )
    return product


def _station_files_fingerprint(params: Params, sources: list[str]) -> str:
    """Names, sizes and times of the station files (a change in any rebuilds the store)."""
    digest = hashlib.sha256()
    folders = {"ismn", "cosmos_uk", "cosmos_europe", "smap_cvs"} & {
        "ismn" if s in ("ismn", "cosmos") else s for s in sources
    }
    for folder in sorted(folders):
        root = params.source_path(folder)
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            stat = path.stat()
            digest.update(f"{path.relative_to(root.parent)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _store_key(params: Params, product: xr.Dataset, ds: xr.Dataset, sources: list[str]) -> str:
    products = params.validation.products
    parts = {
        "cube": cube_key(ds),
        "cdf_matched": baselines.cdf_key(params, ds) if "cdf_matched" in products else None,
        "validation": params.validation.model_dump(mode="json", exclude={"representative", "winter"}),
        "product": product.attrs.get(PRODUCT_SETTINGS_ATTR),
        "stations": _station_files_fingerprint(params, sources),
        "sources": sources,
        "ablations": {
            name: model_digest(baselines.ablation_model_path(params, name))
            for name in baselines.ABLATION_FILES
            if name in products and baselines.ablation_model_path(params, name).exists()
        },
        "truth": truth.has_truth(params),
    }
    return json.dumps(parts, sort_keys=True)


def build_matched(params: Params, sources: list[str] | None = None, progress: bool = True) -> Path:
    """Write (or reuse) ``data/validation/matched.zarr``; see the module docstring."""
    sources = list(stations.SOURCES if sources is None else sources)
    product = check_product(params)
    ds = open_cube(params)
    path = matched_path(params)
    key = _store_key(params, product, ds, sources)
    if path.exists() and xr.open_zarr(path, consolidated=True).attrs.get("glass_sm_matched_key") == key:
        return path
    table = stations.read_stations(params, sources)
    grid = params.to_grid()
    footprints_km = {"smap_cvs": params.validation.stations.smap_footprint_km}
    cells, skipped, footprints = matching.match_stations(table.meta, grid, ds["mask"].values, footprints_km)
    keys = cells["key"].tolist()
    times = pd.DatetimeIndex(product["time"].values)
    variables: dict[str, np.ndarray] = {}
    daily = {stations.station_key(*k): frame for k, frame in table.daily.items()}
    fixed_depth = table.meta.set_index("key")["depth_to"] * 100
    columns = {"insitu": "sm", "insitu_incl_frozen": "sm_incl_frozen", "frozen_records": "frozen_records", "depth_cm": "depth_cm"}
    for name, column in columns.items():
        values = np.full((len(keys), times.size), np.nan, dtype=np.float32)
        for k, station in enumerate(keys):
            frame = daily[station].reindex(times)
            if column in frame:
                values[k] = frame[column].to_numpy(dtype=np.float32)
            elif name == "insitu_incl_frozen":
                values[k] = frame["sm"].to_numpy(dtype=np.float32)
            elif name == "depth_cm" and cells["source"].iloc[k] in stations.CRNS_SOURCES:
                values[k] = np.where(frame["sm"].notna(), fixed_depth[station], np.nan)
        variables[name] = values
    wanted = params.validation.products
    bar = progress_bar(total=len(wanted) + 2, desc="products at stations", disable=not progress)
    ablations = [name for name in wanted if name in baselines.ABLATION_FILES]
    if ablations:
        read = matching.unique_cells(keys, footprints)
        paths = {name: baselines.ablation_model_path(params, name) for name in ablations}
        estimates = baselines.models_at_cells(params, paths, read[:, 0], read[:, 1], ds)
        on_days = pd.DatetimeIndex(ds["time"].values).get_indexer(times)
        for name, estimate in estimates.items():
            variables[f"sm_{name}"] = matching.footprint_means(estimate[on_days], read, keys, footprints).T
            bar.update()
    for name in wanted:
        if name not in ablations:
            variables[f"sm_{name}"] = _product_at_stations(params, name, product, ds, cells, footprints, times).T
            bar.update()
    frozen = ((product["sm_flag"] & FLAG_BITS["frozen_suspected"]) > 0).astype(np.float32)
    variables["product_frozen"] = (matching.read_at_cells(frozen, keys, footprints) > 0).T  # any cell of the footprint
    variables["product_uncertainty"] = matching.read_at_cells(product["sm_uncertainty"], keys, footprints).T
    bar.update()
    if truth.has_truth(params):
        variables["truth"] = matching.read_at_cells(truth.open_truth(params)["sm"].sel(time=times), keys, footprints).T
    bar.update()
    bar.close()
    matched = _dataset(params, cells, table.meta, variables, times, key, ds)
    with atomic_path(path) as tmp:
        matched.to_zarr(tmp, zarr_format=2, consolidated=True)
    rows = pd.concat([table.skipped.assign(stage="reading"), skipped.assign(stage="matching")], ignore_index=True)
    with atomic_path(validation_dir(params) / SKIPPED_FILE) as tmp:
        rows.to_csv(tmp, index=False)
    return path


def _product_at_stations(
    params: Params,
    name: str,
    product: xr.Dataset,
    ds: xr.Dataset,
    cells: pd.DataFrame,
    footprints: dict[str, list[tuple[int, int]]],
    times: pd.DatetimeIndex,
) -> np.ndarray:
    """One product's (time, stations) series at the stations' cells."""
    keys = cells["key"].tolist()
    if name == "product":
        return matching.read_at_cells(product["sm"], keys, footprints)
    if name in ("era5_land", "target"):
        variable = "era5_sm" if name == "era5_land" else "target_sm"
        return matching.read_at_cells(ds[variable].sel(time=times), keys, footprints)
    if name == "cdf_matched":
        store = xr.open_zarr(baselines.build_cdf_product(params, progress=False), consolidated=True)
        return matching.read_at_cells(store["sm"].sel(time=times), keys, footprints)
    if name == "esa_cci":
        return esa_cci.read_points(
            params.source_path("esa_cci"), cells["lat"].to_numpy(), cells["lon"].to_numpy(), times,
            pattern=params.source_pattern("esa_cci"),
        )
    if name == "gleam":
        return gleam.read_points(params.source_path("gleam"), cells["lat"].to_numpy(), cells["lon"].to_numpy(),
                                 times, pattern=params.source_pattern("gleam"))
    if name == "sith":
        return sith.read_points(params.source_path("sith"), cells["lat"].to_numpy(), cells["lon"].to_numpy(),
                                times, pattern=params.source_pattern("sith"), encoding=params.source_encoding("sith"))
    raise ValueError(f"unknown product {name!r}")


def _dataset(
    params: Params,
    cells: pd.DataFrame,
    meta: pd.DataFrame,
    variables: dict[str, np.ndarray],
    times: pd.DatetimeIndex,
    key: str,
    ds: xr.Dataset,
) -> xr.Dataset:
    info = meta.set_index("key").loc[cells["key"]]
    coords = {
        "station": cells["key"].to_numpy(dtype=str),
        "time": times,
        **{name: ("station", cells[name].to_numpy()) for name in ("source", "network", "lat", "lon", "row", "col", "n_cells")},
        "station_name": ("station", cells["station"].to_numpy(dtype=str)),
        "depth_to": ("station", info["depth_to"].to_numpy(dtype=float)),
        "target_spread_3x3": ("station", _target_spread(ds, cells, params)),
    }
    data = {
        name: (("station", "time"), values)
        for name, values in variables.items()
    }
    matched = xr.Dataset(data, coords=coords)
    for name, description in STATION_VARIABLES.items():
        matched[name].attrs = {"long_name": description}
    for name in params.validation.products:
        matched[f"sm_{name}"].attrs = {"long_name": f"{PRODUCT_LABELS[name]} at the station's cells", "units": "m3 m-3"}
    matched.attrs = global_attributes(
        params,
        "Stations matched to the products",
        "Daily in-situ soil moisture of every station beside each product at the station's grid cells.",
        {"glass_sm_matched_key": key},
    )
    return matched


def _target_spread(ds: xr.Dataset, cells: pd.DataFrame, params: Params) -> np.ndarray:
    """Std of the target's period-I means over each station's cell and its 8 neighbours (the
    homogeneity rule of :mod:`~helpers.validation.representative`), read at those cells only."""
    first, last = params.validation.period_i
    target = ds["target_sm"].sel(time=slice(f"{first}-01-01", f"{last}-12-31"))
    if target.sizes["time"] == 0 or cells.empty:
        return np.full(len(cells), np.nan)
    land = ds["mask"].values == MASK_VALUES["land"]
    nlat, nlon = land.shape
    neighbours = {}
    for key, row, col in zip(cells["key"], cells["row"], cells["col"], strict=True):
        around = [(r, (col + d) % nlon) for r in range(row - 1, row + 2) for d in (-1, 0, 1) if 0 <= r < nlat]
        for k, cell in enumerate(around):
            if land[cell]:
                neighbours[f"{key}#{k}"] = [cell]
    names = list(neighbours)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice")
        means = np.nanmean(matching.read_at_cells(target, names, neighbours), axis=0)
    frame = pd.DataFrame({"key": [name.rsplit("#", 1)[0] for name in names], "mean": means}).dropna()
    grouped = frame.groupby("key")["mean"]
    return grouped.std(ddof=0).where(grouped.size() >= 3).reindex(cells["key"]).to_numpy(dtype=float)


def open_matched(params: Params) -> xr.Dataset:
    """The matched store, loaded (it is small: stations x days)."""
    path = matched_path(params)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no matched data; run helpers.validation.run.build_matched (notebook 05)")
    return xr.open_zarr(path, consolidated=True).load()


def skipped_stations(params: Params) -> pd.DataFrame:
    """Stations skipped while reading or matching (``network, station, reason, source, stage``)."""
    return pd.read_csv(validation_dir(params) / SKIPPED_FILE)
