"""How long ``compare`` spends logging to MLflow, before and after batching (issue 13).

The logging part of one ``compare`` is everything :func:`resorb.jobs.compare_job` does
around its computations: the figures, the parent and child runs (tags, parameters,
metrics, tables, figures, dataset inputs), the champion's model card and model folder. To
time only that, the computations are done once, here, with the current code (cohort,
``compare_candidates``, the champion's fit on all rows, the split check), kept in a
temporary pickle, and each timed subprocess replaces them by a lookup of those results
(the names ``compare_candidates``, ``train_candidate`` and ``check_training_data`` in
``compare_job``'s module): what is left is the logging, into a fresh SQLite store.

Two versions of the code are timed, alternating repeat by repeat (the first rotates), in
subprocesses whose ``PYTHONPATH`` puts one source tree first:

- **before**: ``src/`` of ``--baseline`` (default ``53078e9``: the packages split, nothing
  else changed), exported with ``git archive``;
- **after**: this checkout's ``src/``.

Each subprocess imports resorb and MLflow and opens the store before its clock starts;
it reports the wall (``perf_counter``) and CPU (``process_time``) of the ``compare_job``
call and how many figures were drawn. Medians over ``--repeats``; the ratio after/before
is taken repeat by repeat, then the median.

Usage::

    .venv/bin/python benchmarks/bench_tracking.py --n 5000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import pandas as pd
from _common import ROOT, machine, markdown, provenance

#: runs in each timed subprocess, with the version's src/ first on PYTHONPATH
DRIVER = r'''
import json, pickle, sys, time, types
from pathlib import Path

cache_path, expected_src = sys.argv[1], sys.argv[2]
import resorb
assert Path(resorb.__file__).resolve().is_relative_to(Path(expected_src).resolve()), resorb.__file__
from resorb import figures, tracking
import resorb.jobs as jobs
from resorb.config import Params

with open(cache_path, "rb") as fh:
    cache = pickle.load(fh)
params = Params.default()
data = jobs.TrainingData(cache["frame"], cache["source"])
names = jobs.compare_job.__globals__
names["compare_candidates"] = lambda *a, **k: cache["comparison"]
names["train_candidate"] = lambda *a, **k: cache["champion"]
names["check_training_data"] = lambda *a, **k: types.SimpleNamespace(
    counts=cache["counts"], notes=())
drawn = []
draw = figures.validation_figures
def counted(evaluations):
    out = draw(evaluations)
    drawn.append(len(out))
    return out
figures.validation_figures = counted
tracking.configure()  # a fresh store (MLFLOW_TRACKING_URI), outside the clock
wall, cpu = time.perf_counter(), time.process_time()
result = jobs.compare_job(data, params)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "figures_drawn": sum(drawn),
                  "champion": result.champion}))
'''


def export_source(commit: str, into: Path) -> Path:
    """``src/`` of ``commit`` (``git archive``) under ``into``; returns that ``src``."""
    archive = subprocess.run(["git", "archive", commit, "src"], cwd=ROOT, check=True,
                             capture_output=True, timeout=120).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def computed(n: int, seed: int, jobs: int, path: Path) -> str:
    """Cohort, comparison and champion fit with the current code, pickled at ``path``."""
    from resorb.card import DataSource
    from resorb.cohort import make_cohort
    from resorb.config import Params
    from resorb.jobs import TrainingData, check_training_data
    from resorb.training import compare_candidates, train_candidate

    params = Params.default()
    frame = make_cohort(n=n, seed=seed)
    source = DataSource("synthetic", "literature", seed, n)
    checked = check_training_data(TrainingData(frame, source), params,
                                  list(params.candidates), seed=seed)
    comparison = compare_candidates(frame, params, seed=seed, jobs=jobs)
    champion = train_candidate(frame, comparison.champion, params, seed=seed,
                               evaluation=comparison.evaluations[comparison.champion])
    with open(path, "wb") as fh:
        pickle.dump({"frame": frame, "source": source, "counts": checked.counts,
                     "comparison": comparison, "champion": champion}, fh)
    return comparison.champion


def timed(src: Path, cache: Path, folder: Path) -> dict[str, float]:
    """One run of :data:`DRIVER` with ``src`` first, its store in ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}
    out = subprocess.run([sys.executable, "-c", DRIVER, str(cache), str(src)], cwd=folder,
                         env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"the driver failed ({src}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="cohort size (patients)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=2, help="processes for the computations")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default="53078e9", help="git commit timed as 'before'")
    args = parser.parse_args()
    print(f"# {machine()}\n# {provenance()}; baseline {args.baseline}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        versions = {"before": export_source(args.baseline, root / "before"),
                    "after": ROOT / "src"}
        cache = root / "computed.pkl"
        champion = computed(args.n, args.seed, args.jobs, cache)
        print(f"# computed once: {args.n:,} patients, champion {champion}")
        rows = []
        order = list(versions)
        for r in range(args.repeats):
            for name in order[r % 2:] + order[:r % 2]:
                folder = root / f"{name}-{r}"
                folder.mkdir()
                got = timed(versions[name], cache, folder)
                rows.append({"repeat": r, "version": name, **got})
                print(f"#   repeat {r} {name}: {got['wall_s']:.2f} s wall, "
                      f"{got['cpu_s']:.2f} s CPU, {got['figures_drawn']} figures", flush=True)
    runs = pd.DataFrame(rows)
    wide = runs.pivot(index="repeat", columns="version", values=["wall_s", "cpu_s"])
    table = pd.DataFrame([{
        "version": name, "wall_s": statistics.median(runs.wall_s[runs.version == name]),
        "cpu_s": statistics.median(runs.cpu_s[runs.version == name]),
        "figures_drawn": int(runs.figures_drawn[runs.version == name].iloc[0]),
        "wall_each_s": " / ".join(f"{v:.2f}" for v in runs.wall_s[runs.version == name])}
        for name in versions])
    ratio_wall = statistics.median(wide["wall_s"]["after"] / wide["wall_s"]["before"])
    ratio_cpu = statistics.median(wide["cpu_s"]["after"] / wide["cpu_s"]["before"])
    print(markdown(table))
    print(f"\nafter/before (median of per-repeat ratios): wall {ratio_wall:.2f}, "
          f"CPU {ratio_cpu:.2f}")
    print(f"# {machine()}; whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
