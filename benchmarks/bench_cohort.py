"""Benchmark make_cohort against the floor of drawing the same number of raw random variates.

    .venv/bin/python benchmarks/bench_cohort.py --n 1000000 --repeats 5

The floor is ``rng.standard_normal(n * n_columns)``: one standard normal per cell of the
frame, the least work any generator of this frame's size must do. Both are measured in the
same run, so the ratio is comparable across machines. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from resorb import schema
from resorb.cohort import PRESETS, load_cohort_params, make_cohort


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    """Time make_cohort and the raw-draw floor; print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows per cohort")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median reported)")
    parser.add_argument("--preset", default="literature", choices=PRESETS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    params = load_cohort_params(args.preset)  # parse params.yaml once, outside the timing
    make_cohort(1000, args.seed, params=params)  # warm-up: imports, caches
    n_columns = len(schema.NAMES)
    rng = np.random.default_rng(args.seed)
    floor = _median_seconds(lambda: rng.standard_normal(args.n * n_columns), args.repeats)
    cohort = _median_seconds(lambda: make_cohort(args.n, args.seed, params=params), args.repeats)

    print(f"make_cohort, preset {args.preset}, n = {args.n:,}, {n_columns} columns, "
          f"median of {args.repeats} runs; Python {platform.python_version()}, "
          f"NumPy {np.__version__}, {platform.machine()}\n")
    print("| what | median s | rows/s | x floor |")
    print("|---|---:|---:|---:|")
    for name, seconds in ((f"make_cohort({args.n:,})", cohort),
                          (f"floor: standard_normal({args.n:,} x {n_columns})", floor)):
        print(f"| {name} | {seconds:.3f} | {args.n / seconds:,.0f} | {seconds / floor:.2f} |")


if __name__ == "__main__":
    main()
