"""XGBoost benchmark: a per-day tabular model on the same features as the deep models.

Each day of each sample is one row; the model sees no neighbouring days. Training uses the
histogram method with early stopping on the validation rows (rows whose target is missing
are dropped); the booster kept is cut at the best iteration. Predictions use
``Booster.inplace_predict`` (no DMatrix copy, thread-safe).

    model = XGBoostModel(n_features=11, params=params.models)
    model.fit(x_train, y_train, x_val, y_val, seed=params.seed)   # x: (rows, features)
    sm = model.predict_sequences(x_test)                          # (batch, time, F) -> (batch, time)
    model.save("xgboost.ubj")                                     # or .json; never pickle
    model = XGBoostModel.load("xgboost.ubj")

This module's name matches the family, not the package: inside it, ``import xgboost`` is an
absolute import and reaches the installed XGBoost (``xgboost-cpu``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xgboost

from helpers.io import atomic_path
from helpers.models.base import ModelFileError
from helpers.params import ModelParams

SAVE_FORMATS = {".json": "json", ".ubj": "ubj"}
PARAMS_ATTRIBUTE = "glass_sm_model_params"


class XGBoostModel:
    """Gradient-boosted trees predicting soil moisture from one day's features.

    Parameters
    ----------
    n_features : int
        Number of input features (columns).
    params : ModelParams
        Uses ``xgboost_trees`` (most boosting rounds), ``xgboost_depth`` and
        ``xgboost_learning_rate``.

    Attributes
    ----------
    booster_ : xgboost.Booster
        The fitted booster (after :meth:`fit` or :meth:`load`).
    best_iteration_ : int
        Index of the best boosting round on the validation rows (after :meth:`fit`).
    history_ : dict
        RMSE per round on ``"train"`` and ``"validation"`` rows (after :meth:`fit`).
    """

    name: ClassVar[str] = "xgboost"

    def __init__(self, n_features: int, params: ModelParams) -> None:
        if n_features < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        self.n_features = n_features
        self.params = params
        self.booster_: xgboost.Booster | None = None

    def options(self) -> dict[str, Any]:
        """Constructor keyword arguments beyond ``params``: none."""
        return {}

    def _rows(self, x: np.ndarray, what: str) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"xgboost: {what} must have shape (rows, {self.n_features}), got {x.shape}")
        return np.ascontiguousarray(x)

    def _labelled_rows(self, x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        x = self._rows(x, f"x_{what}")
        y = np.asarray(y, dtype=np.float32)
        if y.shape != (len(x),):
            raise ValueError(f"xgboost: y_{what} must have shape ({len(x)},), got {y.shape}")
        known = np.isfinite(y)
        if not known.any():
            raise ValueError(f"xgboost: y_{what} has no finite value")
        return x[known], y[known]

    def fit(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        seed: int = 0,
        early_stopping_rounds: int = 20,
        n_threads: int | None = None,
    ) -> XGBoostModel:
        """Train with early stopping on the validation rows.

        Parameters
        ----------
        x_train, x_val : numpy.ndarray
            (rows, n_features) normalised features; NaN means missing (handled by the trees).
        y_train, y_val : numpy.ndarray
            (rows,) target soil moisture; rows with a non-finite target are dropped.
        seed : int
            Random seed of the booster.
        early_stopping_rounds : int
            Stop when the validation RMSE has not improved for this many rounds.
        n_threads : int or None
            Threads of the quantile sketch and the booster (None: all cores, so that the
            result may depend on the machine's core count).

        Returns
        -------
        XGBoostModel
            ``self``, fitted.
        """
        x_train, y_train = self._labelled_rows(x_train, y_train, "train")
        x_val, y_val = self._labelled_rows(x_val, y_val, "val")
        # The quantile sketch depends on the threads too: bound it like the booster.
        threads = {} if n_threads is None else {"nthread": n_threads}
        train = xgboost.QuantileDMatrix(x_train, y_train, **threads)
        validation = xgboost.QuantileDMatrix(x_val, y_val, ref=train, **threads)
        booster_params: dict[str, Any] = {
            "objective": "reg:squarederror",
            "eval_metric": "rmse",
            "tree_method": "hist",
            "max_depth": self.params.xgboost_depth,
            "learning_rate": self.params.xgboost_learning_rate,
            "seed": seed,
        }
        if n_threads is not None:
            booster_params["nthread"] = n_threads
        history: dict[str, Any] = {}
        booster = xgboost.train(
            booster_params,
            train,
            num_boost_round=self.params.xgboost_trees,
            evals=[(train, "train"), (validation, "validation")],
            early_stopping_rounds=early_stopping_rounds,
            evals_result=history,
            verbose_eval=False,
        )
        self.best_iteration_ = booster.best_iteration
        self.history_ = {name: list(metrics["rmse"]) for name, metrics in history.items()}
        self.booster_ = booster[: booster.best_iteration + 1]
        self.booster_.set_attr(**{PARAMS_ATTRIBUTE: self.params.model_dump_json()})
        return self

    def _fitted(self) -> xgboost.Booster:
        if self.booster_ is None:
            raise RuntimeError("xgboost: the model is not fitted; call fit() or load() first")
        return self.booster_

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predict one value per row with ``Booster.inplace_predict``.

        Parameters
        ----------
        x : numpy.ndarray
            (rows, n_features) normalised features.

        Returns
        -------
        numpy.ndarray
            (rows,) float32 predictions.
        """
        booster = self._fitted()
        return np.asarray(booster.inplace_predict(self._rows(x, "x")), dtype=np.float32)

    def predict_sequences(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Predict every day of sequences, as the deep models do.

        Parameters
        ----------
        x : numpy.ndarray
            (batch, time, n_features) normalised features.
        batch_size : int
            Sequences per call of :meth:`predict` (bounds the memory of one call).

        Returns
        -------
        numpy.ndarray
            (batch, time) float32 predictions.
        """
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"xgboost: expected sequences of shape (batch, time, features), got {x.shape}")
        batch, time = x.shape[:2]
        out = np.empty((batch, time), dtype=np.float32)
        for start in range(0, batch, batch_size):
            chunk = x[start : start + batch_size]
            out[start : start + len(chunk)] = self.predict(chunk.reshape(-1, x.shape[2])).reshape(
                len(chunk), time
            )
        return out

    def save(self, path: Path | str) -> Path:
        """Write the booster in XGBoost's own format: ``.json`` or ``.ubj`` (UBJSON).

        The hyper-parameters are stored inside the file as a booster attribute.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = Path(path)
        raw_format = SAVE_FORMATS.get(path.suffix.lower())
        if raw_format is None:
            raise ValueError(f"{path}: XGBoost models are saved as {' or '.join(SAVE_FORMATS)}")
        data = self._fitted().save_raw(raw_format=raw_format)
        with atomic_path(path) as tmp:
            tmp.write_bytes(bytes(data))
        return path

    @classmethod
    def load(cls, path: Path | str) -> XGBoostModel:
        """Read a model written by :meth:`save`.

        Raises
        ------
        ModelFileError
            If the file is missing, not an XGBoost model, or was not written by :meth:`save`.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(path, "model file not found")
        booster = xgboost.Booster()
        try:
            booster.load_model(bytearray(path.read_bytes()))
        except xgboost.core.XGBoostError as exc:
            raise ModelFileError(path, f"not a readable XGBoost model: {exc}") from None
        stored = booster.attr(PARAMS_ATTRIBUTE)
        if stored is None:
            raise ModelFileError(path, f"XGBoost model without the '{PARAMS_ATTRIBUTE}' attribute")
        model = cls(booster.num_features(), ModelParams.model_validate_json(stored))
        model.booster_ = booster
        return model
