"""The model zoo: LSTM, Bi-LSTM, AtLSTM, Transformer and XGBoost behind one registry.

User guide
----------
Build a model by its registry name, with the hyper-parameters of the params file::

    from helpers.models import get_model, save_model, load_model, seed_everything

    seed_everything(params.seed)
    model = get_model("atlstm", n_features=11, params=params.models)

The deep models (:func:`is_sequence_model` is True) are ``torch.nn.Module`` objects mapping
normalised sequences ``x`` of shape (batch, time, n_features), float32, to a dictionary
whose ``"sm"`` entry holds one prediction per day, shape (batch, time): sequence to
sequence, so a 425-day sample yields 425 predictions and the caller discards the 30-day
margins. ``AtLSTM`` also returns its attention weights with ``return_attention=True``;
:func:`attention_by_lag` turns them into the "weight vs lag" curve. XGBoost is a per-day
tabular model trained with ``fit(x_train, y_train, x_val, y_val, seed)`` on rows.

Every model, deep or not, has ``predict_sequences(x)`` taking NumPy (batch, time,
n_features) and returning (batch, time), so evaluation and production use one code path.

Saving and loading work the same for every model::

    save_model(model, run_dir / "data" / "atlstm.pt",
               extra={"feature_names": names, "normalisation": stats})
    model, meta = load_model(run_dir / "data" / "atlstm.pt", expected_features=names)

A deep model is saved as a torch state dict (read back with ``weights_only=True``), an
XGBoost model as XGBoost JSON (``.json``) or UBJSON (``.ubj``); never pickle. Beside the
weights, ``<file name>.meta.json`` (see :func:`metadata_path`) records the registry name, the
number of features, the :class:`~helpers.params.ModelParams`, the model's extra constructor
options, a SHA-256 of the weights file and the caller's ``extra`` (feature names and
normalisation statistics). ``load_model`` refuses a file whose feature names differ from
``expected_features``, naming the file and the difference.

How to add a model: see :mod:`helpers.models.template`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from helpers.io import atomic_path
from helpers.models.atlstm import AtLSTM, attention_by_lag
from helpers.models.base import (
    ATTENTION_KEY,
    FEATURE_NAMES_KEY,
    PREDICTION_KEY,
    ModelFileError,
    SequenceModel,
    deterministic_torch,
    seed_everything,
)
from helpers.models.bilstm import BiLSTM
from helpers.models.lstm import LSTM
from helpers.models.transformer import Transformer
from helpers.models.xgboost import XGBoostModel
from helpers.params import ModelParams

__all__ = [
    "ATTENTION_KEY",
    "FEATURE_NAMES_KEY",
    "LSTM",
    "MODELS",
    "PREDICTION_KEY",
    "AtLSTM",
    "BiLSTM",
    "Model",
    "ModelFileError",
    "SequenceModel",
    "Transformer",
    "XGBoostModel",
    "attention_by_lag",
    "deterministic_torch",
    "get_model",
    "is_sequence_model",
    "load_model",
    "metadata_path",
    "save_model",
    "seed_everything",
]

Model = SequenceModel | XGBoostModel

MODELS: dict[str, type[SequenceModel] | type[XGBoostModel]] = {
    cls.name: cls for cls in (LSTM, BiLSTM, AtLSTM, Transformer, XGBoostModel)
}

METADATA_FORMAT = "glass-sm model"
METADATA_VERSION = 1


def _model_class(name: str) -> type[SequenceModel] | type[XGBoostModel]:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def get_model(name: str, n_features: int, params: ModelParams, **options: Any) -> Model:
    """Build an untrained model by its registry name.

    Parameters
    ----------
    name : str
        One of ``MODELS``: "lstm", "bilstm", "atlstm", "transformer", "xgboost".
    n_features : int
        Input features per time step.
    params : ModelParams
        Hyper-parameters (``params.models`` of a run).
    **options
        Extra constructor arguments of that model, e.g. ``attention_window`` of "atlstm".

    Returns
    -------
    SequenceModel or XGBoostModel

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    return _model_class(name)(n_features, params, **options)


def is_sequence_model(name: str) -> bool:
    """True for the deep (torch, sequence-to-sequence) models, False for per-day models."""
    return issubclass(_model_class(name), SequenceModel)


def metadata_path(path: Path | str) -> Path:
    """The JSON sidecar written beside a model file: ``atlstm.pt`` -> ``atlstm.pt.meta.json``."""
    path = Path(path)
    return path.with_name(f"{path.name}.meta.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_value(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the model metadata")


def save_model(model: Model, path: Path | str, extra: dict[str, Any] | None = None) -> Path:
    """Save a model's weights and its JSON sidecar (:func:`metadata_path`).

    Parameters
    ----------
    model : SequenceModel or XGBoostModel
        A model from :func:`get_model` (an XGBoost model must be fitted).
    path : path-like
        Weights file: any suffix for deep models (``.pt`` by convention), ``.json`` or
        ``.ubj`` for XGBoost.
    extra : dict, optional
        JSON-ready information to keep with the model (NumPy arrays are converted to
        lists); ``"feature_names"`` (list of str) is checked by :func:`load_model`.

    Returns
    -------
    pathlib.Path
        The weights file.
    """
    path = Path(path)
    metadata: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "format_version": METADATA_VERSION,
        "name": model.name,
        "n_features": model.n_features,
        "params": model.params.model_dump(mode="json"),
        "options": model.options(),
        "weights_file": path.name,
        "extra": json.loads(json.dumps(extra or {}, default=_json_value)),
    }
    if isinstance(model, XGBoostModel):
        model.save(path)
    else:
        state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    metadata["weights_sha256"] = _sha256(path)
    with atomic_path(metadata_path(path)) as tmp:
        tmp.write_text(json.dumps(metadata, indent=2))
    return path


def _read_metadata(path: Path) -> dict[str, Any]:
    sidecar = metadata_path(path)
    if not path.is_file():
        raise ModelFileError(path, "model file not found")
    if not sidecar.is_file():
        raise ModelFileError(
            path, f"metadata file {sidecar.name} not found beside it (saved with save_model?)"
        )
    try:
        metadata = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(path, f"metadata file {sidecar.name} is not valid JSON: {exc}") from None
    missing = [
        key for key in ("format", "name", "n_features", "params", "options", "extra") if key not in metadata
    ]
    if missing or metadata.get("format") != METADATA_FORMAT:
        raise ModelFileError(
            path, f"metadata file {sidecar.name} is not a {METADATA_FORMAT} record (missing {missing})"
        )
    if metadata.get("weights_sha256") != _sha256(path):
        raise ModelFileError(path, f"the weights do not match {sidecar.name} (file replaced after saving?)")
    return metadata


def _check_features(path: Path, metadata: dict[str, Any], expected: list[str]) -> None:
    stored = metadata["extra"].get(FEATURE_NAMES_KEY)
    if stored is None:
        raise ModelFileError(path, f"saved without feature names; expected {list(expected)}")
    if list(stored) == list(expected):
        return
    missing = [name for name in expected if name not in stored]
    unexpected = [name for name in stored if name not in expected]
    if missing or unexpected:
        difference = f"missing from the model: {missing}; not expected: {unexpected}"
    else:
        difference = "same names in a different order"
    raise ModelFileError(
        path,
        f"feature mismatch: model trained on {list(stored)}, caller expects {list(expected)} ({difference})",
    )


def load_model(
    path: Path | str, expected_features: list[str] | None = None, device: str | torch.device = "cpu"
) -> tuple[Model, dict[str, Any]]:
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : path-like
        The weights file (its ``.meta.json`` sidecar must lie beside it).
    expected_features : list of str, optional
        Feature names, in order, that the caller will feed; must equal the saved
        ``extra["feature_names"]``.
    device : str or torch.device
        Where to put a deep model's weights.

    Returns
    -------
    model : SequenceModel or XGBoostModel
        A deep model is returned in evaluation mode.
    meta : dict
        The sidecar's contents (``name``, ``n_features``, ``params``, ``options``,
        ``extra`` ...).

    Raises
    ------
    ModelFileError
        Naming the file: missing or unreadable files, weights that do not match the
        metadata, or feature names that differ from ``expected_features``.
    """
    path = Path(path)
    metadata = _read_metadata(path)
    if expected_features is not None:
        _check_features(path, metadata, expected_features)
    if metadata["name"] not in MODELS:
        raise ModelFileError(path, f"unknown model {metadata['name']!r}; known models: {', '.join(MODELS)}")
    if not is_sequence_model(metadata["name"]):
        return XGBoostModel.load(path), metadata
    try:
        params = ModelParams.model_validate(metadata["params"])
    except ValidationError as exc:
        raise ModelFileError(path, f"invalid model params in the metadata: {exc}") from None
    model = get_model(metadata["name"], metadata["n_features"], params, **metadata["options"])
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, OSError, EOFError) as exc:
        raise ModelFileError(path, f"cannot load the {metadata['name']} weights: {exc}") from None
    return model.to(device).eval(), metadata
