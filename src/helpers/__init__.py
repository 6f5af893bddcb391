"""GLASS-SM: seamless long-term global daily soil moisture with deep learning.

Heavy logic of the numbered notebooks lives here, one module per pipeline stage: ``sources``
(one reader per product), ``world`` (the demo twin world), ``cube`` (analysis-ready datacube),
then sampling, models, training, importance, production and validation. Data flow one way:
sources -> cube -> samples -> models -> product -> validation.
"""

import os

__version__ = "0.1.0"

#: cuBLAS workspace setting that makes its CUDA kernels deterministic; it must be in the
#: environment before CUDA starts, hence here (helpers.models.deterministic_torch).
CUBLAS_WORKSPACE = ":4096:8"
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
