"""The reviewers' baselines: a CDF-matched ERA5-Land product and the ablation models as products.

CDF matching
------------
The reviewers asked how the deep-learning product adds value beyond a bias correction of its
ERA5-Land input. :class:`CDFMatching` is that correction, per cell: a fit/predict estimator in
the manner of pytesmo's ``CDFMatching`` (scikit-learn conventions, fitted attributes with a
trailing underscore). Fitted on the days where both series have a value, it stores
``n_quantiles`` quantiles of the source (ERA5-Land) and of the reference (the GLASS-MODIS-like
target) at the same probabilities; ``predict`` maps a value through the piecewise-linear curve
between them, extended linearly beyond the outermost quantiles with the slope of the outermost
segment (pytesmo's "linear edge scaling"), so values outside the fitted range keep varying.
Columns are fitted independently (one per cell), all at once.

:func:`build_cdf_product` fits every land cell on the **training years** (``sampling.train_years``,
the years the models learned from) and applies the curve to every day of the period, so the
baseline, like the models, is evaluated on years it was not fitted on. It is written as a
gridded product (``data/cdf_matched.zarr``, variable ``sm``) so it takes part in maps and
validation like any other; a store made from another datacube or with other training years or
quantiles is rebuilt.

Ablation products
-----------------
:func:`models_at_cells` applies saved models of the zoo (e.g. notebook 02's
``experiment_atlstm_no_era5_land.pt``) to the datacube at chosen cells, year by year with the
30 + year + 30-day sequences of production, and keeps the year's days: the "independent"
product without ERA5-Land and the product without AVHRR, evaluated at the stations like the
others. Their reference, trained with the same budget and all inputs, is
``experiment_atlstm.pt`` (:data:`ABLATION_FILES`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from helpers import inputs
from helpers.cube import MASK_VALUES, cube_key, feature_names, open_cube
from helpers.errors import SourceError
from helpers.io import atomic_path
from helpers.metrics import MIN_PAIRS
from helpers.models import load_model
from helpers.params import Params
from helpers.production import SM_MAX
from helpers.progress import progress_bar
from helpers.provenance import global_attributes
from helpers.sampling import read_points, sequence_calendar
from helpers.training import predict

#: Model files of the ablation products (notebook 02, ``experiments.model`` = atlstm).
ABLATION_FILES = {
    "ablation_reference": "experiment_{model}.pt",
    "no_avhrr": "experiment_{model}_no_avhrr.pt",
    "no_era5_land": "experiment_{model}_no_era5_land.pt",
}
CDF_STORE = "cdf_matched.zarr"
N_QUANTILES = 100
MIN_FIT_DAYS = 20
TIME_CHUNK = 366


class CDFMatching:
    """Per-column CDF matching of a source to a reference (see the module docstring).

    Parameters
    ----------
    n_quantiles : int
        Quantiles fitted per column (probabilities evenly spaced over [0, 1]).
    min_obs : int
        Fewest paired days a column needs; columns with fewer predict NaN.

    Attributes
    ----------
    source_quantiles_, reference_quantiles_ : numpy.ndarray
        (n_quantiles, columns), after :meth:`fit`.
    n_obs_ : numpy.ndarray
        Paired days per column.
    """

    def __init__(self, n_quantiles: int = N_QUANTILES, min_obs: int = MIN_FIT_DAYS) -> None:
        if n_quantiles < 2:
            raise ValueError(f"n_quantiles must be at least 2, got {n_quantiles}")
        self.n_quantiles = n_quantiles
        self.min_obs = max(min_obs, MIN_PAIRS)

    def fit(self, source: np.ndarray, reference: np.ndarray) -> CDFMatching:
        """Fit on paired days: ``source`` and ``reference`` of shape (days,) or (days, columns)."""
        source, reference = _as_columns(source), _as_columns(reference)
        if source.shape != reference.shape:
            raise ValueError(f"source and reference differ in shape: {source.shape} vs {reference.shape}")
        paired = np.isfinite(source) & np.isfinite(reference)
        self.n_obs_ = paired.sum(axis=0)
        probabilities = np.linspace(0, 1, self.n_quantiles)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="All-NaN slice encountered")
            self.source_quantiles_ = np.nanquantile(np.where(paired, source, np.nan), probabilities, axis=0)
            self.reference_quantiles_ = np.nanquantile(np.where(paired, reference, np.nan), probabilities, axis=0)
        too_few = self.n_obs_ < self.min_obs
        self.source_quantiles_[:, too_few] = np.nan
        self.reference_quantiles_[:, too_few] = np.nan
        return self

    def predict(self, source: np.ndarray) -> np.ndarray:
        """The source mapped onto the reference's distribution, same shape as ``source``."""
        if not hasattr(self, "source_quantiles_"):
            raise RuntimeError("CDFMatching.predict before fit")
        one_d = np.ndim(source) == 1
        x = _as_columns(source)
        if x.shape[1] != self.source_quantiles_.shape[1]:
            raise ValueError(f"fitted on {self.source_quantiles_.shape[1]} columns, got {x.shape[1]}")
        xq, yq = _strictly_increasing(self.source_quantiles_), self.reference_quantiles_
        out = np.full(x.shape, np.nan)
        for column in np.flatnonzero(np.isfinite(xq).all(axis=0)):
            xs, ys, values = xq[:, column], yq[:, column], x[:, column]
            mapped = np.interp(values, xs, ys)
            low_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
            high_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            mapped = np.where(values < xs[0], ys[0] + (values - xs[0]) * low_slope, mapped)
            out[:, column] = np.where(values > xs[-1], ys[-1] + (values - xs[-1]) * high_slope, mapped)
        return out[:, 0] if one_d else out


def _as_columns(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[:, None] if values.ndim == 1 else values


def _strictly_increasing(quantiles: np.ndarray) -> np.ndarray:
    """Quantiles nudged so that ties (repeated values) do not give zero-width segments."""
    steps = np.arange(quantiles.shape[0])[:, None] * 1e-9
    return np.maximum.accumulate(quantiles + steps, axis=0)


# The gridded CDF-matched product ------------------------------------------------------------


def cdf_path(params: Params) -> Path:
    """``data/cdf_matched.zarr``."""
    return params.data_dir / CDF_STORE


def cdf_key(params: Params, ds: xr.Dataset) -> str:
    """What the CDF-matched product depends on: the datacube, the training years, the quantiles."""
    return json.dumps(
        {"cube": cube_key(ds), "train_years": params.sampling.train_years, "n_quantiles": N_QUANTILES}, sort_keys=True
    )


def build_cdf_product(params: Params, progress: bool = True) -> Path:
    """Write (or reuse) the CDF-matched ERA5-Land product ``data/cdf_matched.zarr``.

    Each land cell's ERA5-Land series (the datacube's ``era5_sm``) is matched to the target's
    distribution over the training years and mapped for every day of the period, clipped to
    the product's range [0, :data:`helpers.production.SM_MAX`]. Tile by tile, so memory is
    bounded by ``production.tile_cells``.
    """
    ds = open_cube(params)
    path = cdf_path(params)
    key = cdf_key(params, ds)
    if path.exists():
        if xr.open_zarr(path, consolidated=True).attrs.get("glass_sm_cdf_key") == key:
            return path
    times = pd.DatetimeIndex(ds["time"].values)
    train_days = np.flatnonzero(times.year.isin(params.sampling.train_years))
    mask = ds["mask"].values
    template = _cdf_template(params, ds, key)
    with atomic_path(path) as tmp:
        template.to_zarr(tmp, compute=False, zarr_format=2, consolidated=True)
        tile_list = [(rows, cols) for rows, cols, _ in params.to_grid().tiles(params.production.tile_cells)]
        for rows, cols in progress_bar(tile_list, desc="CDF matching", unit="tile", disable=not progress):
            land = mask[rows, cols] == MASK_VALUES["land"]
            out = np.full((times.size, *land.shape), np.nan, dtype=np.float32)
            if land.any():
                era5 = ds["era5_sm"].isel(lat=rows, lon=cols).values[:, land]
                target = ds["target_sm"].isel(lat=rows, lon=cols).values[:, land]
                matcher = CDFMatching().fit(era5[train_days], target[train_days])
                out[:, land] = np.clip(matcher.predict(era5), 0.0, SM_MAX)
            region = {"time": slice(None), "lat": rows, "lon": cols}
            xr.Dataset({"sm": (("time", "lat", "lon"), out)}).to_zarr(tmp, region=region, zarr_format=2)
    return path


def _cdf_template(params: Params, ds: xr.Dataset, key: str) -> xr.Dataset:
    import dask.array as da

    shape = (ds.sizes["time"], ds.sizes["lat"], ds.sizes["lon"])
    chunk = params.production.tile_cells
    product = xr.Dataset(
        {"sm": (("time", "lat", "lon"), da.full(shape, np.nan, dtype=np.float32, chunks=(TIME_CHUNK, chunk, chunk)))},
        coords={"time": ds["time"].values, "lat": ds["lat"].values, "lon": ds["lon"].values},
    )
    product["sm"].attrs = {
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "long_name": "ERA5-Land swvl1 CDF-matched to the GLASS-MODIS target per cell (baseline)",
        "units": "m3 m-3",
        "valid_min": 0.0,
        "valid_max": SM_MAX,
        "comment": f"per-cell quantile mapping ({N_QUANTILES} quantiles, linear beyond the outermost) fitted on"
        f" the training years {params.sampling.train_years}; NaN on masked cells and cells with fewer than"
        f" {MIN_FIT_DAYS} paired days",
    }
    product["time"].attrs = {"standard_name": "time", "axis": "T"}
    product["lat"].attrs = {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}
    product["lon"].attrs = {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}
    product.attrs = global_attributes(
        params,
        "CDF-matched ERA5-Land soil moisture (baseline)",
        "ERA5-Land-like surface soil moisture mapped per cell onto the distribution of the GLASS-MODIS-like"
        " target over the training years: the bias-correction baseline the reviewers asked for.",
        {"glass_sm_cdf_key": key},
    )
    return product


# Ablation models at station cells ------------------------------------------------------------


def ablation_model_path(params: Params, product: str) -> Path:
    """The model file of an ablation product (:data:`ABLATION_FILES`)."""
    if product not in ABLATION_FILES:
        raise ValueError(f"{product!r} is not an ablation product ({list(ABLATION_FILES)})")
    return params.data_dir / ABLATION_FILES[product].format(model=params.experiments.model)


def models_at_cells(
    params: Params, model_paths: dict[str, Path], rows: np.ndarray, cols: np.ndarray, ds: xr.Dataset | None = None
) -> dict[str, np.ndarray]:
    """Saved models' daily estimates at cells, for every day of the datacube.

    The inputs of each year's sequences are read once and given to every model.

    Parameters
    ----------
    model_paths : dict
        ``name -> model file`` of :func:`helpers.models.save_model`, each trained on any subset
        of the datacube's features (its sidecar names them and holds their statistics).
    rows, cols : numpy.ndarray
        Cells of the product grid.

    Returns
    -------
    dict
        ``name -> float32 (days, cells)``, clipped to [0, :data:`helpers.production.SM_MAX`].

    Raises
    ------
    SourceError
        Naming a model file that is missing (run notebook 02 with its ablations) or that
        takes features the datacube does not have.
    """
    names = feature_names(params)
    loaded = {}
    for name, path in model_paths.items():
        path = Path(path)
        if not path.exists():
            raise SourceError(
                path,
                f"model file of the {name} product not found: it comes from notebook 02's ablation experiment"
                " (experiments.run includes 'ablations')",
            )
        model, meta = load_model(path)
        wanted = list(meta["extra"]["feature_names"])
        unknown = [feature for feature in wanted if feature not in names]
        if unknown:
            raise SourceError(path, f"trained on features {unknown} that the datacube does not have")
        std = np.asarray(meta["extra"]["stats"]["std"], dtype=np.float32)
        loaded[name] = (
            model,
            [names.index(feature) for feature in wanted],
            np.asarray(meta["extra"]["stats"]["mean"], dtype=np.float32),
            np.where(std > 0, std, 1).astype(np.float32),
        )
    ds = open_cube(params) if ds is None else ds
    times = pd.DatetimeIndex(ds["time"].values)
    out = {name: np.full((times.size, len(rows)), np.nan, dtype=np.float32) for name in loaded}
    for year in sorted(set(times.year)):
        calendar = sequence_calendar(times, year)
        x, _ = read_points(ds, params, np.asarray(rows), np.asarray(cols), calendar)
        central = calendar["central"].to_numpy()
        for name, (model, columns, mean, scale) in loaded.items():
            normalised = inputs.normalise(x[..., columns], mean, scale)
            estimate = predict(model, normalised, batch_size=params.production.batch_size)
            out[name][np.flatnonzero(times.year == year)] = np.clip(estimate[:, central], 0.0, SM_MAX).T
    return out
