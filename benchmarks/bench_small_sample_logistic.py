"""The logistic candidate on small samples: direct fits against the truth, with and without
each adaptation.

For each seed s (default 1-10), a ``literature`` cohort of 300 patients (seed s; about 245
labelled rows) is fitted by :func:`resorb.models.build_model` (no validation, no champion)
as: ``large_data`` (params.yaml's logistic candidate: C = 1, 5 knots, every predictor),
``tuned_all_predictors`` (C by inner cross-validated log loss, 3 knots, every predictor) and
``adapted`` (:func:`resorb.training.size_candidate`: the same with the 9 pre-specified
predictors). Each fit is scored on the labelled rows of one fresh 20,000-patient cohort
(seed 777, as ``bench_small_sample.py``): AUROC, calibration slope, mean |p - truth|, and
the C chosen.

Usage::

    .venv/bin/python benchmarks/bench_small_sample_logistic.py --seeds 1,2,3,4,5,6,7,8,9,10
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from _common import machine, markdown, provenance

from resorb import metrics
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.models import build_model, predict_resorption
from resorb.training import prepare, size_candidate


def main(argv: list[str] | None = None) -> int:
    """Fit each variant on each seed's cohort; print per-seed slopes and the medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7,8,9,10", help="comma-separated seeds")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    params = Params.default()
    tp = params.training
    print(f"# bench_small_sample_logistic: {machine()}; {provenance()}\n")
    test, X_test, _ = prepare(make_cohort(20000, 777, "literature"), params)
    truth = test.frame["true_resorption_probability"].to_numpy(float)
    rows = []
    for seed in seeds:
        data, X, _ = prepare(make_cohort(300, seed, "literature"), params)
        adapted = size_candidate(params.candidates["logistic"], X, data.y, tp).spec
        every = adapted.model_copy(update={"params": {
            k: v for k, v in adapted.params.items() if k != "predictors"}})
        variants = {"large_data": params.candidates["logistic"],
                    "tuned_all_predictors": every, "adapted": adapted}
        for name, spec in variants.items():
            model = build_model(spec, seed=seed).fit(X, data.y)
            p = predict_resorption(model, X_test)
            rows.append({"seed": seed, "variant": name, "auroc": metrics.auroc(test.y, p),
                         "slope": metrics.calibration_slope(test.y, p),
                         "mae_truth": float(np.mean(np.abs(p - truth))),
                         "C": getattr(model.named_steps["model"], "C_", np.nan)})
    table = pd.DataFrame(rows)
    print(markdown(table.pivot(index="seed", columns="variant", values="slope")
                   .reset_index(), decimals=3))
    print()
    summary = table.groupby("variant", sort=False).agg(
        median_auroc=("auroc", "median"), median_slope=("slope", "median"),
        min_slope=("slope", "min"), max_slope=("slope", "max"),
        median_mae_truth=("mae_truth", "median"), min_C=("C", "min"), max_C=("C", "max"))
    print(markdown(summary.reset_index(), decimals=3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
