"""Benchmark of a resorb model through MLflow's pyfunc: where the time of ``predict`` goes.

Loads an exported resorb model folder with ``mlflow.pyfunc.load_model`` and a synthetic
cohort (``make_cohort``) of the model's input columns, then times, median of ``--repeats``:

- ``pyfunc predict``: ``model.predict(frame)``, what any MLflow client pays;
- ``signature enforcement``: MLflow's schema check alone (it passes every cell of a column
  declared ``any`` through Python, see docs/mlflow.md);
- ``resorb checks``: the data dictionary's cell rules and the model input
  (:func:`resorb.mlflow_model.conform_input`);
- ``estimator``: ``predict_proba`` of the fitted pipeline on that input.

    python benchmarks/bench_pyfunc.py                        # models/reference, 100,000 rows
    python benchmarks/bench_pyfunc.py --model exported/reference --rows 1000000
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print a markdown table of median seconds and rows per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(Path(__file__).resolve().parents[1] / "models"
                                                / "reference"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # MLflow's "extra inputs" notice, once per call

    import mlflow
    from mlflow.models.utils import _enforce_schema

    from resorb.cohort import make_cohort
    from resorb.mlflow_model import DATA, _load_pyfunc, conform_input

    model = mlflow.pyfunc.load_model(args.model)
    schema = model.metadata.get_input_schema()
    loaded = _load_pyfunc(str(Path(args.model) / DATA)).model
    frame = make_cohort(args.rows, seed=args.seed)[[c.name for c in schema.inputs]]
    X = conform_input(frame, loaded.features)
    steps = {
        "pyfunc predict": lambda: model.predict(frame),
        "signature enforcement (MLflow)": lambda: _enforce_schema(frame, schema),
        "resorb checks + model input": lambda: conform_input(frame, loaded.features),
        "estimator predict_proba": lambda: loaded.predict(X),
    }
    print(f"{args.rows:,} rows, {loaded.metadata.candidate}, median of {args.repeats}\n")
    print("| step | seconds | rows/s |\n| --- | ---: | ---: |")
    for name, fn in steps.items():
        seconds = _median_seconds(fn, args.repeats)
        print(f"| {name} | {seconds:.2f} | {args.rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()
