"""How long ``resorb compare`` takes against PyCaret and a plain scikit-learn loop, same rows.

Measured in one run, alternating repeat by repeat so that the load of a shared machine falls
on all of them alike; each is a real subprocess started the way a user would start it, timed
from the parent (wall) with its CPU (``RUSAGE_CHILDREN``):

- **resorb**: ``resorb compare --synthetic N --seed S --jobs J`` in a fresh temporary folder
  (its own SQLite MLflow store): cohort, 3 candidates x 5 folds, bootstrap intervals,
  decision curves, paired differences, figures, parent and child runs, champion refit,
  model logged;
- **plain loop**: the same three candidates (:func:`resorb.models.build_model`, params.yaml)
  in a scikit-learn ``cross_val_predict`` of probabilities on the same folds
  (``n_jobs=J``), nothing else: the floor that resorb's extras sit on;
- **PyCaret**: ``setup(...)`` and ``compare_models(include=["lr", "rf", "lightgbm"],
  fold=5)`` of PyCaret 3.3.2 (``n_jobs=J``) in its own virtual environment, which the
  benchmark creates (``python3.11 -m venv``, ``pip install pycaret==3.3.2``; it pins old
  dependencies) unless ``--pycaret-python`` names one.

The rows are the labelled (non-operated) rows of a ``literature`` cohort of ``--n``
patients (15,690 of 20,000 at seed 2026): resorb builds them from the seed itself, the
others read them from a CSV file (model input and the outcome ``resorbed``). PyCaret
cross-validates on its default 70% training split of them. Every child gets one
BLAS/OpenMP thread per process (``OMP_NUM_THREADS=1``...), the setting resorb runs under.

Medians over ``--repeats``; ratios are taken repeat by repeat, then the median. Exit code 1
when the median resorb/PyCaret wall ratio exceeds 1.0 or resorb/plain exceeds 1.5, unless
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine, markdown, provenance

PRESET = "literature"
RESORB = Path(sys.executable).with_name("resorb")
PYCARET = "pycaret==3.3.2"
PYCARET_VENV = Path(tempfile.gettempdir()) / "resorb-pycaret-venv"
THREADS = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

#: run by the PyCaret interpreter: argv = rows CSV, seed, jobs; prints PyCaret's leaderboard
PYCARET_CHILD = """
import sys
import pandas as pd
from pycaret.classification import compare_models, pull, setup
rows = pd.read_csv(sys.argv[1])
setup(rows, target="resorbed", session_id=int(sys.argv[2]), n_jobs=int(sys.argv[3]),
      verbose=False, html=False)
compare_models(include=["lr", "rf", "lightgbm"], fold=5, verbose=False)
print(pull()[["Model", "AUC", "Accuracy"]].to_string())
"""

#: run by the project's interpreter: argv = rows CSV, seed, jobs; resorb's candidates in a
#: plain cross_val_predict loop on resorb's folds
PLAIN_CHILD = """
import sys
import numpy as np
import pandas as pd
from sklearn.model_selection import cross_val_predict
from resorb.config import Params
from resorb.models import build_model
from resorb.training import make_folds
rows = pd.read_csv(sys.argv[1])
seed, jobs = int(sys.argv[2]), int(sys.argv[3])
y = rows.pop("resorbed").to_numpy()
X = rows
params = Params.resolve()
splits, _ = make_folds(y, None, params.training.folds, params.training.repeats, seed)
for name, spec in params.candidates.items():
    p = cross_val_predict(build_model(spec, seed=seed), X, y, cv=splits,
                          method="predict_proba", n_jobs=jobs)[:, 1]
    print(name, round(float(np.mean(p)), 4))
"""


@dataclass(frozen=True)
class Timing:
    """Wall and CPU (user + system) seconds of one measured step."""

    wall: float
    cpu: float


@dataclass
class Stopwatch:
    """Timings per step name, one entry per repeat."""

    times: dict[str, list[Timing]] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the body: wall, and the CPU of the subprocesses it waited for."""
        self.times.setdefault(name, [])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        yield
        wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.times[name].append(Timing(wall, cpu))


def child_env() -> dict[str, str]:
    """The environment of every child: no tracking URI, one thread per process."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(THREADS)
    env.setdefault("RESORB_PARAMS", str(Path(__file__).resolve().parents[1] / "params.yaml"))
    return env


def run(argv: list[str], cwd: Path) -> str:
    """Run a child to completion; its stdout.

    Raises
    ------
    RuntimeError
        When it fails (its stderr is included).
    """
    done = subprocess.run(argv, cwd=cwd, env=child_env(), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def pycaret_python(given: str | None) -> Path:
    """The interpreter of a virtual environment with PyCaret; created when missing."""
    if given:
        return Path(given)
    python = PYCARET_VENV / "bin" / "python"
    # in the venv's folder: importing PyCaret writes a logs.log into the working folder
    probe = subprocess.run([str(python), "-c", "import pycaret.classification"],
                           capture_output=True, cwd=PYCARET_VENV,
                           check=False) if python.exists() else None
    if probe is None or probe.returncode != 0:
        print(f"creating {PYCARET_VENV} with {PYCARET} (once)", file=sys.stderr)
        subprocess.run(["python3.11", "-m", "venv", "--clear", str(PYCARET_VENV)], check=True)
        # six: scikit-plot, which PyCaret imports, needs it and does not declare it
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", PYCARET, "six"],
                       check=True)
    return python


def labelled_rows(n: int, seed: int, folder: Path) -> tuple[Path, int]:
    """The labelled rows of the cohort as CSV (model input + ``resorbed``); path, rows.

    CSV, not Parquet: the pyarrow that pip finds for PyCaret's pinned NumPy 1 needs NumPy 2.
    """
    from resorb.cohort import make_cohort
    from resorb.config import Params
    from resorb.training import prepare

    data, X, _ = prepare(make_cohort(n, seed, PRESET), Params.resolve())
    path = folder / "rows.csv"
    X.assign(resorbed=data.y).to_csv(path, index=False)
    return path, len(data.y)


def measure(n: int, repeats: int, seed: int, jobs: int, python: Path
            ) -> tuple[Stopwatch, int, dict[str, str]]:
    """Run the three steps ``repeats`` times, alternating; timings, rows, last outputs."""
    folder = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    outputs: dict[str, str] = {}
    try:
        rows_file, rows = labelled_rows(n, seed, folder)
        (folder / "pycaret_child.py").write_text(PYCARET_CHILD, encoding="utf-8")
        (folder / "plain_child.py").write_text(PLAIN_CHILD, encoding="utf-8")
        steps = {
            "resorb compare": [str(RESORB), "compare", "--synthetic", str(n), "--seed",
                               str(seed), "--jobs", str(jobs)],
            "plain loop": [sys.executable, str(folder / "plain_child.py"), str(rows_file),
                           str(seed), str(jobs)],
            "PyCaret compare_models": [str(python), str(folder / "pycaret_child.py"),
                                       str(rows_file), str(seed), str(jobs)],
        }
        watch = Stopwatch()
        names = list(steps)
        for r in range(repeats):
            order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
            for name in order:
                work = Path(tempfile.mkdtemp(dir=folder))  # a fresh store for resorb
                with watch.step(name):
                    outputs[name] = run(steps[name], work)
                shutil.rmtree(work, ignore_errors=True)
                last = watch.times[name][-1]
                print(f"repeat {r + 1}: {name} {last.wall:.1f} s wall, {last.cpu:.1f} s CPU; "
                      f"{machine()}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return watch, rows, outputs


def table(watch: Stopwatch) -> pd.DataFrame:
    """Median wall and CPU seconds per step, and resorb's median per-repeat ratios to it."""
    ours = watch.times["resorb compare"]
    rows = []
    for name, runs in watch.times.items():
        rows.append({
            "step": name,
            "wall_s": float(np.median([t.wall for t in runs])),
            "cpu_s": float(np.median([t.cpu for t in runs])),
            "resorb_wall_ratio": float(np.median([o.wall / t.wall
                                                  for o, t in zip(ours, runs, strict=True)])),
            "resorb_cpu_ratio": float(np.median([o.cpu / t.cpu
                                                 for o, t in zip(ours, runs, strict=True)])),
            "wall_each_s": " / ".join(f"{t.wall:.1f}" for t in runs),
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Parse options, measure, print a markdown table; 1 when a target is missed."""
    from resorb.parallel import available_cores

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="patients in the synthetic cohort")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of every step")
    ap.add_argument("--seed", type=int, default=2026, help="seed of cohort, folds and models")
    ap.add_argument("--jobs", type=int, default=available_cores(),
                    help="processes for each tool (default: every core)")
    ap.add_argument("--pycaret-python", default=None,
                    help=f"a python with PyCaret (default: create {PYCARET_VENV})")
    ap.add_argument("--no-check", action="store_true", help="always exit 0")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats must be at least 1; got {args.repeats}")
    if not RESORB.exists():
        ap.error(f"no resorb command at {RESORB}; run with the project's .venv python")

    python = pycaret_python(args.pycaret_python)
    before = machine()
    watch, rows, outputs = measure(args.n, args.repeats, args.seed, args.jobs, python)
    print(f"## resorb compare against PyCaret and a plain loop: median of {args.repeats} "
          f"alternating repeats\n")
    print(f"machine: {before} (at start); {machine()} (at end)\n")
    print(f"{provenance()}; {args.n:,} patients, {rows:,} labelled rows, seed {args.seed}, "
          f"{args.jobs} processes each\n")
    print(markdown(table(watch)))
    print("\nPyCaret's leaderboard (last repeat):\n\n```\n"
          f"{outputs['PyCaret compare_models'].strip()}\n```")
    board = table(watch).set_index("step")
    vs_pycaret = board.loc["PyCaret compare_models", "resorb_wall_ratio"]
    vs_plain = board.loc["plain loop", "resorb_wall_ratio"]
    print(f"\nresorb / PyCaret wall {vs_pycaret:.2f} (target <= 1.0); resorb / plain loop "
          f"wall {vs_plain:.2f} (target <= 1.5)")
    if (vs_pycaret > 1.0 or vs_plain > 1.5) and not args.no_check:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
