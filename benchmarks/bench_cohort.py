"""Benchmark ``resorb cohort generate`` against the floor of the same draws and the same write.

    .venv/bin/python benchmarks/bench_cohort.py --n 1000000 --repeats 5

Three things are timed in one process, in alternating order, ``--repeats`` times each:

- generate: :func:`make_cohort` then :func:`resorb.files.write_table` to Parquet, what
  ``resorb cohort generate --out x.parquet`` does after start-up;
- floor: the same random draws (every call the generator makes on its NumPy Generators,
  recorded once and replayed on a fresh Generator: same methods, same sizes) plus writing the
  same frame to Parquet: the work no generator of this frame can avoid;
- legacy floor: ``standard_normal(n * n_columns)``, one normal per cell (the floor of the
  first version of this benchmark, kept to compare with its figures).

Medians of wall time and of CPU time (this process), and ratios to the floors; the machine
is shared, so the ratios (measured side by side) are the figures to compare. Prints markdown.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import machine, markdown, provenance

from resorb import schema
from resorb.cohort import PRESETS, generator, load_cohort_params, make_cohort
from resorb.files import write_table


class _Recording:
    """A Generator that logs each call (method, arguments) and passes it on."""

    def __init__(self, rng: np.random.Generator, log: list[tuple[str, tuple, dict]]) -> None:
        self._rng, self._log = rng, log

    def spawn(self, k: int) -> list[_Recording]:
        return [_Recording(child, self._log) for child in self._rng.spawn(k)]

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._rng, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._log.append((name, args, kwargs))
            return method(*args, **kwargs)

        return call


def record_draws(n: int, seed: int, params: Any) -> list[tuple[str, tuple, dict]]:
    """Every call ``make_cohort(n, seed)`` makes on its random Generators, in order."""
    log: list[tuple[str, tuple, dict]] = []
    real = np.random.default_rng
    generator.np.random.default_rng = lambda s=None: _Recording(real(s), log)  # type: ignore
    try:
        make_cohort(n, seed, params=params)
    finally:
        generator.np.random.default_rng = real  # type: ignore
    return log


def replay(log: list[tuple[str, tuple, dict]], seed: int) -> None:
    """The same calls on a fresh Generator: the draws of the cohort without the model."""
    rng = np.random.default_rng(seed)
    for name, args, kwargs in log:
        getattr(rng, name)(*args, **kwargs)


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    """Time generate, the draw+write floor and the legacy floor; print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows per cohort")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median reported)")
    parser.add_argument("--preset", default="literature", choices=PRESETS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    params = load_cohort_params(args.preset)  # parse params.yaml once, outside the timing
    log = record_draws(args.n, args.seed, params)  # also the warm-up: imports, caches
    n_draws = sum(int(np.prod(r.shape)) if isinstance(r, np.ndarray) else 1
                  for r in (getattr(np.random.default_rng(0), m)(*a, **k) for m, a, k in log))
    frame = make_cohort(args.n, args.seed, params=params)
    n_columns = len(schema.NAMES)
    legacy = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cohort.parquet"
        tasks: dict[str, Callable[[], object]] = {
            "generate (make_cohort + write Parquet)":
                lambda: write_table(make_cohort(args.n, args.seed, params=params), out),
            "make_cohort only": lambda: make_cohort(args.n, args.seed, params=params),
            "floor: same draws + same Parquet":
                lambda: (replay(log, args.seed), write_table(frame, out)),
            "floor: same draws only": lambda: replay(log, args.seed),
            "legacy floor: standard_normal(n x columns)":
                lambda: legacy.standard_normal(args.n * n_columns),
        }
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in tasks}
        for _ in range(args.repeats):  # alternating: load changes hit every task alike
            for name, fn in tasks.items():
                times[name].append(_timed(fn))
        size = out.stat().st_size
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    floor_w, floor_c = wall["floor: same draws + same Parquet"], cpu[
        "floor: same draws + same Parquet"]
    table = pd.DataFrame({
        "what": list(tasks),
        "median wall s": [wall[k] for k in tasks],
        "median CPU s": [cpu[k] for k in tasks],
        "wall / draws+Parquet floor": [wall[k] / floor_w for k in tasks],
        "CPU / draws+Parquet floor": [cpu[k] / floor_c for k in tasks],
    })
    print(f"`cohort generate`, preset {args.preset}, n = {args.n:,}, {n_columns} columns, "
          f"{len(log)} draw calls ({n_draws:,} numbers), Parquet {size / 1e6:.0f} MB; "
          f"median of {args.repeats} alternating runs\n")
    print(markdown(table, decimals=3))
    core = cpu["make_cohort only"] / cpu["floor: same draws only"]
    legacy_ratio = wall["make_cohort only"] / wall["legacy floor: standard_normal(n x columns)"]
    print(f"\nmake_cohort / same draws (CPU): {core:.2f}; make_cohort / legacy floor (wall): "
          f"{legacy_ratio:.2f}")
    print(f"\n{machine()}; NumPy {np.__version__}; {provenance()}")


if __name__ == "__main__":
    main()
