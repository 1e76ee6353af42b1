"""Benchmark resorb's start-up: ``resorb --help`` and ``resorb score`` of a 10-row file.

    .venv/bin/python benchmarks/bench_startup.py --repeats 7
    .venv/bin/python benchmarks/bench_startup.py --baseline-venv ../main/.venv  # before/after

Each command runs as a fresh subprocess, in alternating order, ``--repeats`` times; medians of
wall time and of CPU time (user + system of the child; the system part is shown too: page
faults of the import, see resorb/cli/preload.py), with baselines from the same run:

- ``python -c pass``: the interpreter;
- ``python -c "import typer"``: the CLI library, the floor of ``resorb --help``;
- ``python -c "import pandas, sklearn"``: the libraries any model needs, the floor of
  ``resorb score``;
- ``resorb --help`` and ``resorb score`` of 10 rows with the reference predictor
  (models/reference), in an empty folder: no tracking store, ``MLFLOW_TRACKING_URI`` unset;
- the same two without byte-code: ``PYTHONPYCACHEPREFIX`` set to an empty folder with
  ``PYTHONDONTWRITEBYTECODE=1`` is what a venv installed without ``--compile-bytecode`` costs.

Then, in one process, where the time of a score goes before the first row: imports, the
skops import, loading the model, scoring 10 rows (reasons included) and again without
reasons. Prints markdown.

``--baseline-venv DIR`` (repeatable) adds ``resorb --help``, ``resorb score`` and the
``import pandas, sklearn`` floor from another virtual environment (an earlier commit installed
with ``make setup``, or the same code on another interpreter) to the same alternating runs:
before and after under the same load, with the ratio after / before. Each venv's interpreter
is listed (version, path, whether libpython is a shared library: docs/scoring.md "The
interpreter").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import ROOT, machine, markdown, provenance

BIN = Path(sys.executable).parent
REFERENCE = ROOT / "models" / "reference"

_STAGES = r"""
import resorb  # first, as the console script: one BLAS/OpenMP thread (resorb/__init__.py)
import json, resource, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
marks = [("start", time.perf_counter(), cpu())]
def mark(name):
    marks.append((name, time.perf_counter(), cpu()))
import pandas, sklearn
mark("import pandas, sklearn")
import resorb.scoring
mark("import resorb.scoring (the rest)")
from resorb.skops_import import skops_io
skops_io()
mark("import skops.io")
from resorb.scoring.model import load_model
model = load_model(REFERENCE)
mark("load the model (skops file + card)")
from resorb.config import Params
params = Params.resolve(None, {})
mark("resolve params.yaml")
frame = pandas.read_csv(INPUT)
from resorb.scoring.frame import score_frame
score_frame(frame, model, params=params.scoring, explain_k=0)
mark("score 10 rows, no reasons (first call)")
score_frame(frame, model, params=params.scoring)
mark("score 10 rows with reasons")
print(json.dumps([(b[0], b[1] - a[1], b[2] - a[2]) for a, b in zip(marks, marks[1:])]))
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall, CPU (user + system) and system seconds of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    system = after.ru_stime - before.ru_stime
    return wall, (after.ru_utime - before.ru_utime) + system, system


_INTERPRETER = ("import os, sys; maps = open('/proc/self/maps').read(); "
                "print(sys.version.split()[0], os.path.realpath(sys.executable), "
                "'shared libpython' if 'libpython' in maps else 'static interpreter')")


def _interpreter(python: Path) -> str:
    """Version, real path and linking of a venv's interpreter (Linux: /proc/self/maps)."""
    out = subprocess.run([str(python), "-c", _INTERPRETER], capture_output=True, text=True,
                         check=True, timeout=60)
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> None:
    """Time the start-up commands and their baselines; print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each (median)")
    parser.add_argument("--no-source", action="store_true",
                        help="skip the runs without byte-code (they are slow)")
    parser.add_argument("--baseline-venv", type=Path, action="append", default=[],
                        help="another .venv (repeatable): its resorb timed in the same runs")
    args = parser.parse_args(argv)

    python, resorb = str(BIN / "python"), str(BIN / "resorb")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as empty:
        cwd = Path(tmp)
        from resorb.cohort import make_cohort

        make_cohort(10, 1).to_csv(cwd / "ten.csv", index=False)
        score = [resorb, "score", "-i", "ten.csv", "-o", "scored.csv", "--model", str(REFERENCE)]
        commands = {
            "python -c pass": ([python, "-c", "pass"], env),
            "python -c 'import typer'": ([python, "-c", "import typer"], env),
            "resorb --help": ([resorb, "--help"], env),
            "python -c 'import pandas, sklearn'": ([python, "-c", "import pandas, sklearn"],
                                                   env),
            "resorb score (10 rows, reference predictor)": (score, env),
        }
        before: dict[str, str] = {}
        base = {"resorb --help": "python -c 'import typer'",
                "resorb --help, no byte-code": "python -c 'import typer'",
                "resorb score (10 rows, reference predictor)":
                    "python -c 'import pandas, sklearn'",
                "resorb score, no byte-code": "python -c 'import pandas, sklearn'"}
        for i, venv in enumerate(args.baseline_venv, start=1):
            bin_ = venv.resolve() / "bin"
            tag = f"baseline venv {i}"
            commands[f"python -c 'import pandas, sklearn', {tag}"] = (
                [str(bin_ / "python"), "-c", "import pandas, sklearn"], env)
            commands[f"resorb --help, {tag}"] = ([str(bin_ / "resorb"), "--help"], env)
            commands[f"resorb score, {tag}"] = ([str(bin_ / "resorb"), *score[1:]], env)
            base[f"resorb --help, {tag}"] = "python -c 'import typer'"
            base[f"resorb score, {tag}"] = f"python -c 'import pandas, sklearn', {tag}"
            if i == 1:
                before = {"resorb --help": f"resorb --help, {tag}",
                          "resorb score (10 rows, reference predictor)": f"resorb score, {tag}"}
        if not args.no_source:
            source = {**env, "PYTHONPYCACHEPREFIX": empty}
            commands["resorb --help, no byte-code"] = ([resorb, "--help"], source)
            commands["resorb score, no byte-code"] = (score, source)
        _run(score, cwd, env)  # warm the file cache once
        times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in commands}
        for _ in range(args.repeats):
            for name, (cmd, e) in commands.items():
                times[name].append(_run(cmd, cwd, e))
        stages_code = (f"REFERENCE = {str(REFERENCE)!r}\nINPUT = {str(cwd / 'ten.csv')!r}\n"
                       + _STAGES)
        stage_runs = []
        for _ in range(max(1, args.repeats // 2)):
            out = subprocess.run([python, "-c", stages_code], cwd=cwd, env=env, check=True,
                                 capture_output=True, text=True, timeout=600)
            stage_runs.append(pd.DataFrame(json.loads(out.stdout.strip().splitlines()[-1])))
    wall = {k: statistics.median(w for w, _, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c, _ in v) for k, v in times.items()}
    system = {k: statistics.median(s for _, _, s in v) for k, v in times.items()}
    table = pd.DataFrame({
        "command": list(commands),
        "median wall s": [wall[k] for k in commands],
        "median CPU s": [cpu[k] for k in commands],
        "of which system s": [system[k] for k in commands],
        "wall / baseline": [wall[k] / wall[base[k]] if k in base else float("nan")
                            for k in commands],
        "baseline": [base.get(k, "") for k in commands],
    })
    if before:
        table["wall / baseline venv 1"] = [wall[k] / wall[before[k]] if k in before
                                         else float("nan") for k in commands]
        table["CPU / baseline venv 1"] = [cpu[k] / cpu[before[k]] if k in before
                                        else float("nan") for k in commands]
    print(f"start-up, median of {args.repeats} alternating runs, each a fresh process, "
          f"in an empty folder (no tracking store)\n")
    print(markdown(table, decimals=3))
    stages = pd.concat(stage_runs).groupby(0, sort=False).median().reset_index()
    stages.columns = ["stage (one process, in order)", "median wall s", "median CPU s"]
    print(f"\nwhere a 10-row score's time goes (median of {len(stage_runs)} processes)\n")
    print(markdown(stages, decimals=3))
    print("\ninterpreters:\n")
    print(f"- this venv ({BIN.parent}): {_interpreter(BIN / 'python')}")
    for i, venv in enumerate(args.baseline_venv, start=1):
        print(f"- baseline venv {i} ({venv.resolve()}): "
              f"{_interpreter(venv.resolve() / 'bin' / 'python')}")
    print(f"\n{machine()}; {provenance()}")


if __name__ == "__main__":
    main()
