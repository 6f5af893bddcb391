"""Benchmark of training and inference throughput for every model of the zoo.

Sequences shaped like the demo's (426 days, 11 features) are drawn at random in memory, so
the figures measure the models and the training loop, not the disk. Each deep model trains
for two epochs of ``SEQUENCES`` sequences with the demo's model and batch settings; the
table gives training pixel-days per second, the share of training wall time spent waiting for
data (goal: under 10 %), and inference pixel-days per second. XGBoost trains on the same
number of pixel-days as rows; its training figure counts rows x boosting rounds per second.
Training figures are over the whole call (both epochs and their validation passes).

Usage: ``python benchmarks/bench_training.py`` (part of ``make bench``). Results go to
``benchmarks/results/training.json`` and are printed as a Markdown table.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from report import report

ROOT = Path(__file__).resolve().parents[1]
DAYS, FEATURES, SEQUENCES, BATCH = 426, 11, 512, 32


def synthetic_samples():
    from helpers.training import ArraySamples

    rng = np.random.default_rng(0)
    n = SEQUENCES * 2
    x = rng.normal(size=(n, DAYS, FEATURES)).astype(np.float32)
    y = (0.25 + 0.05 * np.tanh(x[..., 0] - x[..., 1])).astype(np.float32)
    central = np.zeros(DAYS, dtype=bool)
    central[30:-30] = True
    split = np.array(["train"] * SEQUENCES + ["validation"] * (n // 4) + ["test"] * (n - SEQUENCES - n // 4))
    names = [f"feature_{i}" for i in range(FEATURES)]
    return ArraySamples(x, y, central, split, names)


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from helpers.params import load_params
    from helpers.training import predict, train_torch_model, train_xgboost

    samples = synthetic_samples()
    x_test = samples.sequences("test", normalise=True)[0][:256]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        params = load_params(
            ROOT / "params" / "demo.yaml", outputs_dir=folder,
            training={"batch_size": BATCH, "max_epochs": 2, "patience": 5, "sequences_per_epoch": SEQUENCES,
                      "device": "cpu", "xgboost_max_rows": SEQUENCES * (DAYS - 60)},
        )
        train_torch_model("lstm", samples, params, Path(folder), progress=False, label="warm_up")  # untimed
        for name in ("lstm", "bilstm", "atlstm", "transformer"):
            result = train_torch_model(name, samples, params, Path(folder), progress=False)
            start = time.perf_counter()
            predict(result.model, x_test)
            infer = x_test.shape[0] * DAYS / (time.perf_counter() - start)
            rows.append({"model": name, "train_pixel_days_per_s": round(result.pixel_days_per_second),
                         "data_wait_share": round(result.data_wait_fraction, 3), "infer_pixel_days_per_s": round(infer)})
        result = train_xgboost(samples, params, Path(folder))
        flat = x_test.reshape(-1, FEATURES)
        start = time.perf_counter()
        result.model.predict(flat)
        rows.append({"model": "xgboost", "train_pixel_days_per_s": round(result.pixel_days_per_second),
                     "data_wait_share": round(result.data_wait_fraction, 3),
                     "infer_pixel_days_per_s": round(flat.shape[0] / (time.perf_counter() - start))})
    report("training", f"Training and inference throughput ({DAYS}-day sequences, {FEATURES} features)", rows)


if __name__ == "__main__":
    main()
