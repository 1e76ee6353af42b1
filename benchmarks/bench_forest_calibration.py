"""The random forest's recalibration: 3-fold refits against its own out-of-bag predictions.

``CalibratedClassifierCV(ensemble=False)`` with 3 folds fits the forest 4 times;
:class:`resorb.models.OutOfBagCalibratedClassifier` fits it once and fits the sigmoid on the
trees' out-of-bag predictions. For each seed s, a ``literature`` cohort of ``--n`` patients
(seed s) is fitted with the ``random_forest`` candidate of params.yaml both ways, on every
labelled row, and scored on the labelled rows of one fresh 20,000-patient cohort (seed
12345) against the generator's ``true_resorption_probability``: calibration slope and
intercept (outcome on logit p), ICI (smoothed, against the outcome), mean |p - truth|,
AUROC, and the fit's seconds.

Usage::

    .venv/bin/python benchmarks/bench_forest_calibration.py --n 20000 --seeds 1,2,3,4,5
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from _common import machine, markdown, provenance, seed_list

from resorb import metrics
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.models import build_model, predict_resorption
from resorb.training import prepare

TEST_SEED = 12345


def main(argv: list[str] | None = None) -> int:
    """Fit both ways on every seed's cohort; print per-seed rows and medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="patients per training cohort")
    ap.add_argument("--seeds", type=seed_list, default=[1, 2, 3, 4, 5],
                    help="comma-separated cohort seeds")
    args = ap.parse_args(argv)
    params = Params.resolve()
    spec = params.candidates["random_forest"]
    ways = {"3-fold refits (before)": spec.model_copy(update={"calibration_data": "folds"}),
            "out-of-bag (after)": spec.model_copy(update={"calibration_data": "out_of_bag"})}
    print(f"# bench_forest_calibration: {machine()}; {provenance()}\n")
    test, X_test, _ = prepare(make_cohort(20000, TEST_SEED, "literature"), params)
    truth = test.frame["true_resorption_probability"].to_numpy(float)
    y_test = test.y
    rows = []
    for seed in args.seeds:
        data, X, _ = prepare(make_cohort(args.n, seed, "literature"), params)
        for way, s in ways.items():
            start = time.perf_counter()
            model = build_model(s, seed).fit(X, data.y)
            seconds = time.perf_counter() - start
            p = predict_resorption(model, X_test)
            intercept, slope = metrics.calibration_intercept_slope(y_test, p)
            rows.append({"way": way, "seed": seed, "rows": len(data.y),
                         "slope": slope, "intercept": intercept,
                         "ici": metrics.integrated_calibration_index(y_test, p),
                         "mae_truth": float(np.mean(np.abs(p - truth))),
                         "auroc": metrics.auroc(y_test, p), "fit_s": seconds})
    table = pd.DataFrame(rows)
    print(f"training cohorts of {args.n:,} patients, seeds {args.seeds}; test: "
          f"{len(y_test):,} labelled rows of cohort seed {TEST_SEED}\n")
    print(markdown(table, decimals=4))
    print()
    medians = table.groupby("way", sort=False)[["slope", "intercept", "ici", "mae_truth",
                                                "auroc", "fit_s"]].median()
    print(markdown(medians.reset_index(), decimals=4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
