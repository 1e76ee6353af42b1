"""How long ``resorb compare --synthetic N`` takes, against a plain scikit-learn baseline.

Measured in one run, interleaved repeat by repeat so that the machine's load falls on all of
them alike:

- **baseline**: a plain scikit-learn loop, what PyCaret's ``compare_models`` does for three
  models and five folds (PyCaret itself is not installable here): logistic regression,
  histogram gradient boosting and random forest with their default settings, each in a
  pipeline of median imputation and scaling of numbers and mode imputation and one-hot
  encoding of categories, 5-fold ``cross_val_predict`` of
  probabilities on the same labelled rows (folds run one after another, ``n_jobs=1``);
- **end to end**: ``resorb compare --synthetic N --seed S`` as a real subprocess in a fresh
  temporary directory, so that it creates its own SQLite MLflow store (cohort, every metric
  with bootstrap intervals, figures, MLflow runs, champion refit and model logging);
- **in process**: :func:`resorb.training.compare_candidates` alone, split per candidate
  (cross-validated fits plus bootstrap evaluation) and the paired differences of every
  other candidate against the champion (re-run alone as well, to show their share), and one
  fit of each candidate on every labelled row.

Wall time is ``time.perf_counter``; user CPU time comes from ``resource.getrusage`` (the
process itself, or its finished children for the subprocess) and is the steadier of the two
on a shared machine. Medians over ``--repeats``; ratios are taken repeat by repeat against
the baseline of the same repeat, then the median. Exit code 1 when the end-to-end median
wall time exceeds ``--limit`` seconds (120, the issue's "well under two minutes"), unless
``--no-check``.

Usage::

    .venv/bin/python benchmarks/bench_compare.py --n 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine, markdown, provenance

PRESET = "literature"
LIMIT_S = 120.0
RESORB = Path(sys.executable).with_name("resorb")


@dataclass(frozen=True)
class Timing:
    """Wall and user CPU seconds of one measured step."""

    wall: float
    user: float


@dataclass
class Stopwatch:
    """Timings per step name, one entry per repeat."""

    times: dict[str, list[Timing]] = field(default_factory=dict)

    def add(self, name: str, timing: Timing) -> None:
        """Record one repeat of step ``name``."""
        self.times.setdefault(name, []).append(timing)

    @contextmanager
    def step(self, name: str, children: bool = False) -> Iterator[None]:
        """Time the body; ``children``: count finished subprocesses' CPU, not our own."""
        self.times.setdefault(name, [])  # listed in the order the steps start
        who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
        w0, u0 = time.perf_counter(), resource.getrusage(who).ru_utime
        yield
        self.add(name, Timing(time.perf_counter() - w0, resource.getrusage(who).ru_utime - u0))


def baseline_loop(X: pd.DataFrame, y: np.ndarray, seed: int, folds: int = 5) -> None:
    """Three default scikit-learn classifiers, ``folds``-fold cross_val_predict each.

    Parameters
    ----------
    X : DataFrame of shape (n_rows, n_features)
        Model input (numbers float64, categories object strings, NaN where missing).
    y : ndarray of shape (n_rows,)
        Outcome, 1 = resorbed.
    seed : int
        Seed of the folds and of the random estimators.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    estimators = {
        "logistic": LogisticRegression(max_iter=1000),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed),
        "random_forest": RandomForestClassifier(random_state=seed),
    }
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for est in estimators.values():
        prep = ColumnTransformer([
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             numeric),
            ("categorical", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore")), categorical),
        ])
        cross_val_predict(make_pipeline(prep, est), X, y, cv=cv, method="predict_proba",
                          n_jobs=1)


def run_cli(n: int, seed: int) -> str:
    """``resorb compare --synthetic n --seed seed`` in a fresh directory; returns stdout.

    Raises
    ------
    RuntimeError
        When the command fails (its stderr is included).
    """
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.setdefault("RESORB_PARAMS", str(Path(__file__).resolve().parents[1] / "params.yaml"))
    workdir = tempfile.mkdtemp(prefix="bench-compare-")
    try:
        done = subprocess.run([str(RESORB), "compare", "--synthetic", str(n), "--seed",
                               str(seed)], cwd=workdir, env=env, capture_output=True,
                              text=True, check=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"resorb compare exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


def _segments(watch: Stopwatch, prefix: str) -> tuple[Callable[[str], None], Callable[[], None]]:
    """A progress callback that times compare_candidates per candidate, and its closer.

    ``compare_candidates`` reports the start of each candidate only, so the last segment
    also holds the paired differences and the leaderboard.
    """
    marks: list[tuple[str, float, float]] = []

    def now() -> tuple[float, float]:
        return time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime

    def progress(message: str) -> None:
        marks.append((message.split(":", 1)[0], *now()))

    def close() -> None:
        ends = [*marks[1:], ("", *now())]
        for i, ((name, w0, u0), (_, w1, u1)) in enumerate(zip(marks, ends, strict=True)):
            label = name if i < len(marks) - 1 else f"{name} + paired differences"
            watch.add(f"{prefix}{label}", Timing(w1 - w0, u1 - u0))

    return progress, close


def measure(n: int, repeats: int, seed: int, end_to_end: bool = True) -> tuple[Stopwatch, int]:
    """Run every step ``repeats`` times, interleaved; returns the timings and labelled rows.

    Parameters
    ----------
    n : int
        Patients in the synthetic cohort (operated ones are excluded from training).
    repeats : int
        Times each step runs.
    seed : int
        Seed of the cohort, folds and models (the same every repeat: the same work).
    end_to_end : bool
        Also time the ``resorb compare`` subprocess.
    """
    from resorb.cohort import make_cohort
    from resorb.config import Params
    from resorb.metrics import paired_bootstrap_difference
    from resorb.models import build_model
    from resorb.training import compare_candidates, prepare

    params = Params.resolve()
    tp = params.training
    frame = make_cohort(n, seed, PRESET)
    data, X, _ = prepare(frame, params)
    warm = make_cohort(600, seed, PRESET)  # imports and first-call caches stay out of timings
    warm_data, warm_X, _ = prepare(warm, params)
    baseline_loop(warm_X, warm_data.y, seed, folds=tp.folds)
    compare_candidates(warm, params, seed=seed)
    watch = Stopwatch()
    for _ in range(repeats):
        with watch.step("baseline"):
            baseline_loop(X, data.y, seed, folds=tp.folds)
        if end_to_end:
            with watch.step("end to end", children=True):
                run_cli(n, seed)
        progress, close = _segments(watch, "  CV fits + bootstrap: ")
        with watch.step("compare_candidates"):
            comp = compare_candidates(frame, params, seed=seed, progress=progress)
            close()
        with watch.step("  (re-run alone) paired differences vs champion"):
            for name, p in comp.oof.items():
                if name != comp.champion:  # as compare_candidates: never against itself
                    paired_bootstrap_difference(comp.y, p, comp.oof[comp.champion],
                                                n_boot=tp.n_boot, seed=seed)
        for name, spec in params.candidates.items():
            with watch.step(f"  one fit on all rows: {name}"):
                build_model(spec, seed=seed).fit(X, data.y)
    return watch, len(data.y)


def table(watch: Stopwatch) -> pd.DataFrame:
    """Median wall and user seconds per step and the median per-repeat ratio to baseline."""
    base = watch.times["baseline"]
    rows = []
    for name, runs in watch.times.items():
        walls = [t.wall for t in runs]
        users = [t.user for t in runs]
        rows.append({
            "step": name,
            "wall_s": float(np.median(walls)),
            "user_s": float(np.median(users)),
            "wall_x_baseline": float(np.median([t.wall / b.wall for t, b in zip(runs, base,
                                                                                  strict=True)])),
            "user_x_baseline": float(np.median([t.user / b.user for t, b in zip(runs, base,
                                                                                  strict=True)])),
            "wall_each_s": " / ".join(f"{w:.1f}" for w in walls),
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Parse options, measure, print a markdown table; 1 when the time limit is exceeded."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="patients in the synthetic cohort")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of every step")
    ap.add_argument("--seed", type=int, default=2026, help="seed of cohort, folds and models")
    ap.add_argument("--limit", type=float, default=LIMIT_S,
                    help="maximum median end-to-end wall seconds")
    ap.add_argument("--skip-end-to-end", action="store_true",
                    help="time only the in-process steps and the baseline")
    ap.add_argument("--no-check", action="store_true", help="always exit 0")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats must be at least 1; got {args.repeats}")
    if not args.skip_end_to_end and not RESORB.exists():
        ap.error(f"no resorb command at {RESORB}; run with the project's .venv python")

    before = machine()
    watch, rows = measure(args.n, args.repeats, args.seed, end_to_end=not args.skip_end_to_end)
    print(f"## resorb compare --synthetic {args.n}: median of {args.repeats} repeats\n")
    print(f"machine: {before} (at start); {machine()} (at end)\n")
    print(f"{provenance()}; {args.n:,} patients, {rows:,} labelled (non-operated) rows, "
          f"seed {args.seed}\n")
    print(markdown(table(watch)))
    if args.skip_end_to_end:
        return 0
    e2e = float(np.median([t.wall for t in watch.times["end to end"]]))
    if e2e > args.limit and not args.no_check:
        print(f"\nend to end median {e2e:.1f} s exceeds {args.limit:.0f} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
