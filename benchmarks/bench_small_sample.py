"""Small-sample development against the truth: the compare champion of 300-patient cohorts.

For each seed s, a ``literature`` cohort of ``--n`` patients (seed s; about 245 labelled
rows once the operated leave) is compared by :func:`resorb.training.compare_candidates`
with the candidates and champion rule of params.yaml, under each configuration:

- ``adapted``: params.yaml as shipped (``training.small_sample.adapt: true``);
- ``all_predictors``: adapted, but with every predictor (``small_sample.predictors: []``),
  to show what the pre-specified predictors contribute;
- ``not_adapted``: ``small_sample.adapt: false``, the large-data candidates (the behaviour
  before issue 9, but with the interval-guarded champion rule).

The champion is fitted on all labelled rows (:func:`resorb.training.train_candidate`, the
path ``resorb compare`` takes) and scored on the labelled rows of one fresh cohort of
``--n-test`` patients (seed ``--test-seed``): AUROC, calibration slope and intercept, and
the mean absolute difference from the generator's ``true_resorption_probability``. The
reference is the champion of one ``--n-big``-patient cohort (seed ``--big-seed``), fitted
once, on the same test cohort.

Targets (issue 9): over the seeds, the median calibration slope of the champion within
0.85-1.15, and its median AUROC at most 0.04 below the reference champion's (checked for
``adapted``). The exit code is 1 when a target is missed, unless ``--no-check``.

Usage::

    .venv/bin/python benchmarks/bench_small_sample.py --seeds 1,2,3,4,5,6,7,8,9,10
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
from resorb.models import predict_resorption
from resorb.training import compare_candidates, prepare, train_candidate

PRESET = "literature"
TRUTH = "true_resorption_probability"
SLOPE_TARGET = (0.85, 1.15)
MAX_AUROC_GAP = 0.04
#: configuration -> changes to params.yaml ``training.small_sample``
CONFIGS: dict[str, dict[str, object]] = {
    "adapted": {},
    "all_predictors": {"predictors": ()},
    "not_adapted": {"adapt": False},
}


def _params(config: str) -> Params:
    """params.yaml with one configuration's ``training.small_sample`` changes."""
    params = Params.default()
    tp = params.training
    small = tp.small_sample.model_copy(update=CONFIGS[config])
    return params.model_copy(update={"training": tp.model_copy(update={"small_sample": small})})


def _scores(y: np.ndarray, p: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """AUROC, calibration slope and intercept, ICI and mean |p - truth| of predictions."""
    m = metrics.metric_table(y, p)
    return {"auroc": m["auroc"], "slope": m["calibration_slope"],
            "intercept": m["calibration_intercept"], "ici": m["ici"],
            "mae_truth": float(np.mean(np.abs(p - truth)))}


def champion_on_test(train: pd.DataFrame, params: Params, seed: int, X_test: pd.DataFrame,
                     y_test: np.ndarray, truth: np.ndarray) -> dict[str, object]:
    """Compare on ``train``, fit the champion on all its rows, score it on the test rows."""
    t0 = time.perf_counter()
    comp = compare_candidates(train, params, seed=seed)
    seconds = time.perf_counter() - t0
    result = train_candidate(train, comp.champion, params, seed=seed,
                             evaluation=comp.evaluations[comp.champion])
    p = predict_resorption(result.model, X_test)
    board = comp.leaderboard.set_index("candidate")
    row: dict[str, object] = {
        "champion": comp.champion, "rows": len(comp.y), "events": int(comp.y.sum()),
        "cv_auroc": float(board.loc[comp.champion, "auroc"]),
        "cv_slope": float(board.loc[comp.champion, "calibration_slope"]),
        **_scores(y_test, p, truth), "compare_s": seconds,
        "shrinkage": result.heuristic_shrinkage,
        "C": next((a.split()[2] for a in result.adaptations if a.startswith("C = ")), ""),
        "passed_over": "; ".join(comp.passed_over),
    }
    return row


def main(argv: list[str] | None = None) -> int:
    """Parse options, run every seed and configuration, print tables; 1 on a missed target."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=seed_list, default=list(range(1, 11)),
                    help="seeds of the small cohorts")
    ap.add_argument("--n", type=int, default=300, help="patients in each small cohort")
    ap.add_argument("--n-big", type=int, default=20000, help="patients of the reference")
    ap.add_argument("--big-seed", type=int, default=2026, help="seed of the reference cohort")
    ap.add_argument("--n-test", type=int, default=20000, help="patients in the test cohort")
    ap.add_argument("--test-seed", type=int, default=777, help="seed of the test cohort")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated among {', '.join(CONFIGS)}")
    ap.add_argument("--no-check", action="store_true", help="exit 0 even if a target fails")
    args = ap.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown configurations {unknown}; choose among {', '.join(CONFIGS)}")

    print(f"# bench_small_sample: {machine()}; {provenance()}\n")
    t_all = time.perf_counter()
    base = Params.default()
    test_data, X_test, _ = prepare(make_cohort(args.n_test, args.test_seed, PRESET), base)
    y_test, truth = test_data.y, test_data.frame[TRUTH].to_numpy(float)
    ceiling = _scores(y_test, truth, truth)
    big = champion_on_test(make_cohort(args.n_big, args.big_seed, PRESET), base, args.big_seed,
                           X_test, y_test, truth)
    print(f"test cohort: {len(y_test):,} labelled rows (seed {args.test_seed}), prevalence "
          f"{y_test.mean():.3f}; truth AUROC {ceiling['auroc']:.4f}, slope "
          f"{ceiling['slope']:.3f}")
    print(f"reference: {args.n_big:,}-patient champion {big['champion']} ({big['rows']:,} "
          f"rows, seed {args.big_seed}): AUROC {big['auroc']:.4f}, slope {big['slope']:.3f}, "
          f"mean |p - truth| {big['mae_truth']:.4f}\n")

    rows = []
    for seed in args.seeds:
        train = make_cohort(args.n, seed, PRESET)
        for config in configs:
            row = champion_on_test(train, _params(config), seed, X_test, y_test, truth)
            rows.append({"config": config, "seed": seed, **row})
            print(f"  seed {seed} {config}: {row['champion']} AUROC {row['auroc']:.3f} slope "
                  f"{row['slope']:.2f} ({row['compare_s']:.1f} s)", file=sys.stderr)
    table = pd.DataFrame(rows)
    table["auroc_gap"] = table["auroc"] - float(big["auroc"])

    print("## Per seed\n")
    show = ["config", "seed", "rows", "events", "champion", "cv_auroc", "cv_slope", "auroc",
            "auroc_gap", "slope", "intercept", "mae_truth", "shrinkage", "C", "compare_s"]
    print(markdown(table[show].sort_values(["config", "seed"]), decimals=3))

    summary = []
    for config, g in table.groupby("config", sort=False):
        q = g["slope"].quantile([0.25, 0.75])
        summary.append({
            "config": config, "seeds": len(g),
            "champions": ", ".join(f"{k} {v}" for k, v in g["champion"].value_counts().items()),
            "median slope": g["slope"].median(), "slope IQR": f"{q.iloc[0]:.2f}-{q.iloc[1]:.2f}",
            "slope range": f"{g['slope'].min():.2f}-{g['slope'].max():.2f}",
            "median AUROC": g["auroc"].median(), "median AUROC gap": g["auroc_gap"].median(),
            "median mean abs error": g["mae_truth"].median(),
            "median compare s": g["compare_s"].median()})
    summary = pd.DataFrame(summary)
    print("\n## Summary (medians over seeds)\n")
    print(markdown(summary, decimals=3))

    ok = True
    if "adapted" in configs:
        a = summary.set_index("config").loc["adapted"]
        lo, hi = SLOPE_TARGET
        slope_ok = lo <= float(a["median slope"]) <= hi
        gap_ok = float(a["median AUROC gap"]) >= -MAX_AUROC_GAP
        print(f"\ntarget: median slope in {lo}-{hi}: {float(a['median slope']):.3f} "
              f"{'pass' if slope_ok else 'FAIL'}")
        print(f"target: median AUROC gap >= -{MAX_AUROC_GAP}: "
              f"{float(a['median AUROC gap']):+.4f} {'pass' if gap_ok else 'FAIL'}")
        ok = slope_ok and gap_ok
    print(f"\nwall time {time.perf_counter() - t_all:.0f} s")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())
