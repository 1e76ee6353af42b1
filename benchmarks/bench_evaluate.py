"""Coverage of external-validation intervals against the generator's truth.

For each size n and each of ``--reps`` seeds, a fresh ``literature`` cohort of n patients is
drawn and labelled as training does (patients operated before follow-up left out); the
predictions are the generator's ``true_resorption_probability``, so the ideal values hold
exactly: O/E 1, calibration intercept 0, slope 1. Each cohort is bootstrapped twice with
``--boot`` resamples and the same seed:

- **whole rows** (``groups = np.arange(n)``: every row its own cluster), what
  ``resorb evaluate`` does;
- **stratified** by outcome class (the default of :func:`resorb.metrics.bootstrap_metrics`,
  used by internal validation), which keeps the number of events fixed.

Printed per n and scheme: the share of the 95% intervals that contain the ideal value
(coverage; nominal 0.95), the median interval width, and, for O/E, Riley et al.'s (Stat Med
2021;40:4230-4251) analytic width ``exp(ln OE +- 1.96 sqrt((1 - phi) / (n phi)))`` at the
median prevalence. Also the run time of :func:`resorb.evaluation.assess` (everything
``resorb evaluate`` computes: 200 resamples by default) at each n.

Usage::

    .venv/bin/python benchmarks/bench_evaluate.py --sizes 300 1000 --reps 100
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.evaluation import assess
from resorb.label import labelled_rows
from resorb.metrics import bootstrap_calibration, bootstrap_metrics

IDEAL = {"o_e_ratio": 1.0, "calibration_intercept": 0.0, "calibration_slope": 1.0}


def one(n: int, seed: int, n_boot: int, rule) -> list[dict]:
    """Both schemes' intervals of O/E, intercept and slope on one cohort's truth."""
    data = labelled_rows(make_cohort(n, seed=seed), rule)
    y, p = data.y, data.frame["true_resorption_probability"].to_numpy(float)
    rows = []
    for scheme, groups in (("whole rows", np.arange(y.size)), ("stratified", None)):
        table = pd.concat([
            bootstrap_metrics(y, p, n_boot=n_boot, seed=seed, groups=groups),
            bootstrap_calibration(y, p, n_boot=n_boot, seed=seed, groups=groups)],
        ).set_index("metric")
        for metric, ideal in IDEAL.items():
            low, high = table.at[metric, "ci_low"], table.at[metric, "ci_high"]
            rows.append({"n": n, "scheme": scheme, "metric": metric,
                         "covered": low <= ideal <= high, "width": high - low,
                         "prevalence": float(np.mean(y)), "rows_used": y.size})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--boot", type=int, default=200)
    args = parser.parse_args()
    params = Params.resolve(None, {"training.n_boot": args.boot})
    rule = params.label
    rows = []
    for n in args.sizes:
        for seed in range(1, args.reps + 1):
            rows += one(n, 10_000 + seed, args.boot, rule)
    table = pd.DataFrame(rows)
    summary = table.groupby(["n", "scheme", "metric"], sort=False).agg(
        coverage=("covered", "mean"), median_width=("width", "median"),
        rows_used=("rows_used", "median"), prevalence=("prevalence", "median")).reset_index()
    pd.set_option("display.width", 160)
    print(f"95% interval coverage of the truth ({args.reps} cohorts per n, {args.boot} "
          f"resamples each)")
    print(summary.round(3).to_string(index=False))
    for n in args.sizes:
        part = summary[summary["n"] == n].iloc[0]
        phi, m = float(part["prevalence"]), float(part["rows_used"])
        se = math.sqrt((1 - phi) / (m * phi))
        print(f"n={n}: Riley 2021 analytic O/E interval width at O/E 1, {m:.0f} rows, "
              f"prevalence {phi:.3f}: {math.exp(1.96 * se) - math.exp(-1.96 * se):.3f}")
    for n in args.sizes:
        data = labelled_rows(make_cohort(n, seed=1), rule)
        p = data.frame["true_resorption_probability"].to_numpy(float)
        start = time.perf_counter()
        assess(data.y, p, params.training, 1, 0.5)
        print(f"n={n}: assess (every table of resorb evaluate, {args.boot} resamples) "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
