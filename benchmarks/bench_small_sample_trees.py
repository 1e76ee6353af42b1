"""Tree settings for small samples: truth slope and AUROC of direct fits on 245-row cohorts.

The measurement behind ``params.yaml training.small_sample``'s tree constants. For each seed
s (default 1-6), a ``literature`` cohort of 300 patients (seed s) is fitted by
:func:`resorb.models.build_model` (no validation, no champion) with each setting: gradient
boosting over max_leaf_nodes {2, 3, 5} x min_samples_leaf {10, 20, 40} x max_iter {50, 100,
200} (learning rate 0.05, l2 1.0), and the random forest (40 trees, sigmoid recalibration)
at min_samples_leaf {5, 10, 20}; each with the 9 pre-specified predictors (``core``) and
with every predictor (``all``). Each fit is scored on the first 8,000 labelled rows of one
fresh 20,000-patient cohort (seed 12345): AUROC, calibration slope and mean |p - truth|.

Usage::

    .venv/bin/python benchmarks/bench_small_sample_trees.py --seeds 1,2,3,4,5,6
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np
import pandas as pd
from _common import machine, markdown, provenance

from resorb import metrics
from resorb.cohort import make_cohort
from resorb.config import CandidateSpec, Params
from resorb.models import build_model, predict_resorption
from resorb.training import prepare


def settings(core: tuple[str, ...]) -> dict[str, CandidateSpec]:
    """Every setting measured, by name (``hgb_core_n3_l10_i100``, ``rf_all_l20``, ...)."""
    out = {}
    for pred in ("core", "all"):
        for leaves, leaf, it in itertools.product((2, 3, 5), (10, 20, 40), (50, 100, 200)):
            prm: dict[str, object] = dict(learning_rate=0.05, max_iter=it,
                                          max_leaf_nodes=leaves, min_samples_leaf=leaf,
                                          l2_regularization=1.0, early_stopping=False)
            if pred == "core":
                prm["predictors"] = list(core)
            out[f"hgb_{pred}_n{leaves}_l{leaf}_i{it}"] = CandidateSpec(
                kind="hist_gradient_boosting", params=prm)
        for leaf in (5, 10, 20):
            prm = dict(n_estimators=40, min_samples_leaf=leaf, max_features=0.3,
                       max_samples=0.7)
            if pred == "core":
                prm["predictors"] = list(core)
            out[f"rf_{pred}_l{leaf}"] = CandidateSpec(kind="random_forest",
                                                      calibration="sigmoid", params=prm)
    return out


def main(argv: list[str] | None = None) -> int:
    """Fit every setting on every seed's cohort; print the medians, best first by error."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1,2,3,4,5,6", help="comma-separated cohort seeds")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    params = Params.default()
    print(f"# bench_small_sample_trees: {machine()}; {provenance()}\n")
    test, X_test, _ = prepare(make_cohort(20000, 12345, "literature"), params)
    X_test, y_test = X_test.iloc[:8000], test.y[:8000]
    truth = test.frame["true_resorption_probability"].to_numpy(float)[:8000]
    rows = []
    for seed in seeds:
        data, X, _ = prepare(make_cohort(300, seed, "literature"), params)
        for name, spec in settings(params.training.small_sample.predictors).items():
            p = predict_resorption(build_model(spec, seed).fit(X, data.y), X_test)
            rows.append({"seed": seed, "setting": name, "auroc": metrics.auroc(y_test, p),
                         "slope": metrics.calibration_slope(y_test, p),
                         "mae_truth": float(np.mean(np.abs(p - truth)))})
    table = pd.DataFrame(rows).groupby("setting")[["auroc", "slope", "mae_truth"]].median()
    print(markdown(table.sort_values("mae_truth").reset_index(), decimals=3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
