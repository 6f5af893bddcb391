"""Access to the twin world's TRUE soil moisture, for scoring and illustration only.

The truth exists only on the embedded twin world. No estimation step (cube, sampling,
training, production) may read it; this module is the one place outside
:mod:`helpers.world` that opens it, and a test checks that no other module mentions the
truth folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from helpers.io import atomic_path
from helpers.metrics import MIN_PAIRS, TRUTH_SKILL_COLUMNS, Z_90
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


def truth_sequences(
    params: Params, table: pd.DataFrame, calendars: dict[int, pd.DataFrame], length: int
) -> np.ndarray:
    """The TRUE surface SM on the days of sample sequences, aligned with their targets.

    Parameters
    ----------
    table : one row per sequence with the cube ``row``, ``col`` and ``year`` (as returned by
        ``SampleStore.sequence_table``), in the order of ``SampleStore.sequences``.
    calendars : year -> the sequence calendar (``SampleStore.calendar``), with ``date``.
    length : sequence length T of the arrays to align with (shorter years padded with NaN).

    Returns
    -------
    float32 array (n_sequences, length); NaN on padding and on dates outside the truth.
    """
    sm = open_truth(params)["sm"]
    times = pd.DatetimeIndex(sm["time"].values)
    out = np.full((len(table), length), np.nan, dtype=np.float32)
    for year, rows in table.groupby("year").indices.items():
        dates = pd.DatetimeIndex(calendars[int(year)]["date"])
        index = times.get_indexer(dates)
        inside = np.flatnonzero(index >= 0)
        points = sm.isel(
            time=xr.DataArray(index[inside], dims="day"),
            lat=xr.DataArray(table["row"].to_numpy()[rows], dims="sequence"),
            lon=xr.DataArray(table["col"].to_numpy()[rows], dims="sequence"),
        ).transpose("sequence", "day")
        out[np.ix_(rows, inside)] = points.values
    return out


@dataclass
class Moments:
    r"""Running sums of pixel-day pairs, for pooled metrics over data that never fit in memory.

    From :math:`n, \sum d, \sum d^2, \sum x, \sum y, \sum x^2, \sum y^2, \sum xy` with
    :math:`d = x - y` (estimate minus truth): bias :math:`\bar d`, RMSE
    :math:`\sqrt{\overline{d^2}}`, ubRMSE :math:`\sqrt{\overline{d^2} - \bar d^2}` and
    Pearson :math:`r = \mathrm{cov}(x, y) / (s_x s_y)`: the formulas of
    :mod:`helpers.metrics`, in float64.
    """

    sums: np.ndarray = field(default_factory=lambda: np.zeros(8))
    inside: int = 0
    with_spread: int = 0

    def add(self, estimate: np.ndarray, reference: np.ndarray, spread: np.ndarray | None = None) -> None:
        x, y = np.ravel(estimate).astype(np.float64), np.ravel(reference).astype(np.float64)
        valid = np.isfinite(x) & np.isfinite(y)
        x, y = x[valid], y[valid]
        d = x - y
        self.sums += [
            x.size,
            d.sum(),
            (d * d).sum(),
            x.sum(),
            y.sum(),
            (x * x).sum(),
            (y * y).sum(),
            (x * y).sum(),
        ]
        if spread is not None:
            sigma = np.ravel(spread)[valid]
            known = np.isfinite(sigma)
            self.with_spread += int(known.sum())
            self.inside += int((np.abs(d[known]) <= Z_90 * sigma[known]).sum())

    def scores(self) -> dict[str, float]:
        n, sd, sdd, sx, sy, sxx, syy, sxy = self.sums
        out = {
            "n": int(n),
            "r": np.nan,
            "bias": np.nan,
            "ubrmse": np.nan,
            "rmse": np.nan,
            "coverage_90": np.nan,
        }
        if n < MIN_PAIRS:
            return out
        bias, mse = sd / n, sdd / n
        cov = sxy / n - (sx / n) * (sy / n)
        var_x, var_y = sxx / n - (sx / n) ** 2, syy / n - (sy / n) ** 2
        out |= {"bias": bias, "rmse": np.sqrt(mse), "ubrmse": np.sqrt(max(mse - bias**2, 0.0))}
        if var_x > 0 and var_y > 0:
            out["r"] = float(np.clip(cov / np.sqrt(var_x * var_y), -1, 1))
        if self.with_spread >= MIN_PAIRS:
            out["coverage_90"] = self.inside / self.with_spread
        return out


def climate_groups(params: Params) -> np.ndarray:
    """Main Koeppen-Geiger group per cell of the product grid: ``A`` tropical, ``B`` arid,
    ``C`` temperate, ``D`` cold, ``E`` polar (from the classes of the twin world)."""
    from helpers.world.static import CLIMATE_NAMES, climate_classes

    classes = climate_classes(params.to_grid())
    letters = np.array([name[0] for name in CLIMATE_NAMES])
    return letters[np.clip(classes, 0, None)]


def product_truth_skill(
    params: Params,
    estimates: Mapping[str, xr.DataArray],
    land: np.ndarray,
    spreads: Mapping[str, xr.DataArray] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Skill of whole gridded products against the truth: every land cell and day, per year,
    per climate group and pooled (``scope = product``).

    Parameters
    ----------
    estimates : product name -> (time, lat, lon) DataArray on the truth's grid (lazy is fine:
        read one year at a time). Each is scored on its own days with a value.
    land : bool (lat, lon), the cells scored (the unmasked land).
    spreads : product name -> the stated standard deviation, for ``coverage_90``.

    Returns
    -------
    DataFrame with :data:`TRUTH_SKILL_COLUMNS`.
    """
    from helpers.progress import progress_bar

    truth = open_truth(params)["sm"]
    groups = climate_groups(params)[land]
    group_names = sorted(set(groups))
    truth_years = sorted(set(pd.DatetimeIndex(truth["time"].values).year))
    spreads = spreads or {}
    rows = []
    for name, estimate in estimates.items():
        years = [y for y in sorted(set(pd.DatetimeIndex(estimate["time"].values).year)) if y in truth_years]
        pooled, by_group = Moments(), {g: Moments() for g in group_names}
        for year in progress_bar(years, desc=f"truth skill {name}", disable=not progress):
            period = slice(f"{year}-01-01", f"{year}-12-31")
            est = estimate.sel(time=period)
            true = truth.sel(time=est["time"]).values[:, land]
            values = est.values[:, land]
            sigma = spreads[name].sel(time=est["time"]).values[:, land] if name in spreads else None
            year_moments = Moments()
            year_moments.add(values, true, sigma)
            pooled.add(values, true, sigma)
            for g in group_names:
                cells = groups == g
                by_group[g].add(values[:, cells], true[:, cells], None if sigma is None else sigma[:, cells])
            rows.append({"product": name, "year": str(year), "climate": "all"} | year_moments.scores())
        rows.append({"product": name, "year": "all", "climate": "all"} | pooled.scores())
        rows += [{"product": name, "year": "all", "climate": g} | m.scores() for g, m in by_group.items()]
    table = pd.DataFrame(rows).assign(scope="product")
    return table[list(TRUTH_SKILL_COLUMNS)]


def series_truth_skill(params: Params, rows: np.ndarray, cols: np.ndarray, series: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Skill against the truth of daily series at cells (e.g. the runs, the switched and the
    blended product of :func:`helpers.production.run_overlap`).

    ``series``: name -> (days, cells) DataFrame, days as index, one column per cell of
    ``rows``, ``cols``. Returns one row per name: ``series, n, rmse, bias, r`` over every
    cell-day with a value, and ``rmse_change``, the RMSE of the day-to-day changes (is the
    series' day-to-day behaviour the truth's?).
    """
    truth = open_truth(params)["sm"]
    at = {"lat": xr.DataArray(rows, dims="cell"), "lon": xr.DataArray(cols, dims="cell")}
    out = []
    for name, frame in series.items():
        true = truth.sel(time=pd.DatetimeIndex(frame.index)).isel(**at).values
        values = frame.to_numpy(dtype=np.float64)
        valid = np.isfinite(values) & np.isfinite(true)
        error = (values - true)[valid]
        change_error = np.diff(values, axis=0) - np.diff(true, axis=0)
        out.append(
            {
                "series": name,
                "n": int(valid.sum()),
                "rmse": float(np.sqrt(np.mean(error**2))),
                "bias": float(np.mean(error)),
                "r": float(np.corrcoef(values[valid], true[valid])[0, 1]),
                "rmse_change": float(np.sqrt(np.nanmean(change_error**2))),
            }
        )
    return pd.DataFrame(out)


def update_truth_skill(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """Write ``table`` into ``tables/truth_skill.csv``, replacing the rows of its ``scope``s and
    keeping the others (notebooks 02 and 04 each own their scope). Returns the whole table."""
    table = table.reindex(columns=list(TRUTH_SKILL_COLUMNS))
    for column, default in (("year", "all"), ("climate", "all")):
        table[column] = table[column].astype(object).where(table[column].notna(), default).astype(str)
    if path.exists():
        old = pd.read_csv(path, dtype={"year": str})
        if "scope" in old:
            old = old[~old["scope"].isin(set(table["scope"]))]
            table = pd.concat([old.reindex(columns=list(TRUTH_SKILL_COLUMNS)), table], ignore_index=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return table
