"""The contract every model of the zoo follows, and how to add one.

Deep models (sequence to sequence)
----------------------------------
* A subclass of :class:`helpers.models.base.SequenceModel` (a ``torch.nn.Module``) with a
  class attribute ``name``, its registry key.
* Constructor ``Model(n_features: int, params: ModelParams, **options)``: call
  ``super().__init__(n_features, params)`` first (it stores ``self.n_features`` and
  ``self.params``); read every hyper-parameter from ``params``
  (:class:`helpers.params.ModelParams`; a new hyper-parameter is a new field there). Extra
  keyword ``options`` must be JSON-ready and returned by ``options()`` so that
  :func:`helpers.models.load_model` can rebuild the model.
* ``forward(x)``: ``x`` is a float32 tensor (batch, time, n_features), already normalised,
  on the model's device (CPU or CUDA). Return a dictionary with ``"sm"``
  (:data:`~helpers.models.base.PREDICTION_KEY`): a (batch, time) tensor, one prediction
  per day. Optional further keys carry diagnostics (``"attention"``: (batch, time, time)).
* No Python loop over time steps: use ``torch.nn.LSTM`` (cuDNN / oneDNN kernels), matrix
  products, ``torch.nn.TransformerEncoder``. Each sequence's predictions depend on that
  sequence only (no mixing across the batch).
* Dropout where meaningful, so that MC dropout can estimate uncertainty.

Per-day (tabular) models
------------------------
Like :class:`helpers.models.xgboost.XGBoostModel`: the same constructor and ``name``,
``options()``, ``fit(x_train, y_train, x_val, y_val, seed)`` on (rows, n_features) arrays,
``predict(x) -> (rows,)``, ``predict_sequences(x) -> (batch, time)``, ``save(path)`` and a
classmethod ``load(path)`` in a format other than pickle, with the hyper-parameters inside.

Adding a model
--------------
1. Write ``helpers/models/<family>.py`` with the class (module docstring: what it is, the
   equations where there are any).
2. Add the class to ``MODELS`` in ``helpers/models/__init__.py`` (and ``__all__``).
3. In ``tests/test_models.py``, add its name to the parametrised deep-model tests; they run
   :func:`check_model_contract`, a gradient step, save/load and the time-dependence checks.
"""

from __future__ import annotations

import torch

from helpers.models import MODELS, PREDICTION_KEY, SequenceModel, get_model


def check_model_contract(model: SequenceModel, batch: int = 3, time: int = 17) -> None:
    """Check that a deep model follows the contract above; raise ValueError if not.

    Runs the model in evaluation mode on random input and checks registration, the output
    key, shape and dtype, finiteness, independence of the sequences in a batch, and that
    the registry rebuilds a model with the same parameter shapes from ``name``,
    ``n_features``, ``params`` and ``options()``.

    Parameters
    ----------
    model : SequenceModel
        The model to check (its training mode is restored afterwards).
    batch, time : int
        Shape of the random input.
    """
    problems = []
    if MODELS.get(getattr(model, "name", None)) is not type(model):
        problems.append(f"class {type(model).__name__} is not registered in MODELS under its name")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, time, model.n_features, generator=generator).to(model.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(x)
            alone = model(x[:1])
    finally:
        model.train(was_training)
    prediction = output.get(PREDICTION_KEY) if isinstance(output, dict) else None
    if prediction is None:
        problems.append(f"forward must return a dict with key {PREDICTION_KEY!r}")
    else:
        if tuple(prediction.shape) != (batch, time):
            problems.append(
                f"{PREDICTION_KEY!r} has shape {tuple(prediction.shape)}, expected {(batch, time)}"
            )
        if prediction.dtype != torch.float32:
            problems.append(f"{PREDICTION_KEY!r} has dtype {prediction.dtype}, expected float32")
        if not torch.isfinite(prediction).all():
            problems.append(f"{PREDICTION_KEY!r} has non-finite values on finite input")
        elif not torch.allclose(prediction[:1], alone[PREDICTION_KEY], atol=1e-5):
            problems.append("a sequence's predictions depend on the other sequences of the batch")
    if not problems:
        rebuilt = get_model(model.name, model.n_features, model.params, **model.options())
        shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
        if shapes != {key: tuple(value.shape) for key, value in rebuilt.state_dict().items()}:
            problems.append("get_model(name, n_features, params, **options()) builds different parameters")
    if problems:
        raise ValueError(f"{type(model).__name__} breaks the model contract: " + "; ".join(problems))
