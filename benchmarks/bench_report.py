"""Benchmark ``resorb report`` on the reference predictor against importing what it needs.

    .venv/bin/python benchmarks/bench_report.py --repeats 5
    .venv/bin/python benchmarks/bench_report.py --store DIR   # reuse a store built before
    .venv/bin/python benchmarks/bench_report.py --store DIR --baseline-venv ../main/.venv

The report reads the run that trained the model, so it needs a tracking store: without
``--store`` one is built first in a temporary folder as ``make reference`` builds it
(``resorb compare --synthetic 20000 --seed 2026 --register``, then ``resorb models promote
latest --alias champion``; minutes, not timed). Then, in alternating order, each a fresh
subprocess in the store's folder:

- ``python -c "import mlflow, sklearn, matplotlib, jinja2"``: the libraries the report
  cannot do without (the run, the model, the figures, the page), imported in one process;
- ``python -c "from resorb import tracking; tracking.configure()"``: importing MLflow and
  opening the store through it (SQLAlchemy, alembic's schema check). The report cannot
  know which model to load before this, so it is the floor of the command's own chain;
- ``resorb report --out report.html`` (the champion, explained on 1,000 new synthetic
  patients, written and logged to its run).

Medians of wall and CPU time (user + system of the child and of its children), the ratio
to each floor, and, in single runs: ``-X importtime`` totals by package (both processes of
the command, summed), ``cProfile`` of the report's steps in one process (``make_report``
without the worker: what each step costs, inflated by profiling), and a timeline of one
command (wall clock and each process's CPU when each step starts and ends, in the command
and in its worker; from wrappers installed by this benchmark as the modules load). Prints
markdown.

``--baseline-venv DIR`` adds ``resorb report`` from another checkout's virtual environment
(an earlier commit, installed with ``make setup``) to the same alternating runs: before and
after under the same load.
"""

from __future__ import annotations

import argparse
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import machine, markdown, provenance

BIN = Path(sys.executable).parent
IMPORTS = "python -c 'import mlflow, sklearn, matplotlib, jinja2'"
STORE = "python -c 'from resorb import tracking; tracking.configure()'"


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def build_store(folder: Path, env: dict[str, str]) -> None:
    """A tracking store holding the reference predictor's run, as ``make reference``."""
    resorb = str(BIN / "resorb")
    for cmd in ([resorb, "compare", "--synthetic", "20000", "--seed", "2026", "--register"],
                [resorb, "models", "promote", "latest", "--alias", "champion"]):
        subprocess.run(cmd, cwd=folder, env=env, check=True, capture_output=True,
                       timeout=7200)


def _profile(folder: Path, env: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Import time by top-level package, and the report's own steps by cumulative time."""
    out = subprocess.run([str(BIN / "python"), "-X", "importtime", str(BIN / "resorb"),
                          "report", "--out", "report.html"], cwd=folder, env=env, check=True,
                         capture_output=True, text=True, timeout=1800)
    by_package: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line[len("import time:"):].split("|")
        top = name.strip().split(".")[0]
        by_package[top] = by_package.get(top, 0.0) + int(own) / 1e6
    imports = (pd.Series(by_package, name="import s (self, summed)")
               .sort_values(ascending=False).head(12).rename_axis("package").reset_index())
    prof = folder / "report.prof"
    code = ("from resorb import tracking\nfrom resorb.config import Params\n"
            "from resorb.report import make_report\ntracking.configure()\n"
            "make_report(Params.resolve(), out='report.html', log=False)\n")
    script = folder / "profile_report.py"
    script.write_text(code, encoding="utf-8")
    subprocess.run([str(BIN / "python"), "-m", "cProfile", "-o", str(prof), str(script)],
                   cwd=folder, env=env, check=True, capture_output=True, timeout=1800)
    stats = pstats.Stats(str(prof))
    rows = [(f"{Path(file).name}:{func}", cum)
            for (file, _, func), (_, _, _, cum, _) in stats.stats.items()  # type: ignore
            if "resorb" in file and func in {
                "make_report", "_resolve", "read_run", "explain_for_report", "explain",
                "render_report", "_evaluations", "_log_report", "make_cohort", "png_bytes",
                "explain_folder", "load_folder", "configure", "prepare"}]
    calls = (pd.DataFrame(rows, columns=["function", "cumulative s (profiled)"])
             .sort_values("cumulative s (profiled)", ascending=False))
    return imports, calls


#: the steps the timeline follows: module -> functions
_STEPS = {
    "resorb.cli.options": ["open_store"],
    "resorb.tracking.store": ["configure"],
    "resorb.report.job": ["_resolve", "_evaluations", "render_report", "_log_report"],
    "resorb.report.render": ["prepare"],
    "resorb.tracking.runs": ["read_run"],
    "resorb.report.worker": ["_warm", "explain_folder", "draw_aside"],
    "resorb.scoring.model": ["load_folder"],
    "resorb.explain.api": ["explain"],
    "resorb.figures": ["png_bytes"],
}

# runs `resorb report` with each of _STEPS wrapped as its module loads, printing on stderr
# "step|pid|name|wall s since start|process CPU s" at each start and end
_TIMELINE = """
import functools, importlib.abc, importlib.machinery, os, sys, time
START, STEPS = time.perf_counter(), {steps!r}

def mark(what, name):
    print(f"step|{{os.getpid()}}|{{what}} {{name}}|{{time.perf_counter() - START:.3f}}|"
          f"{{time.process_time():.3f}}", file=sys.stderr, flush=True)

def wrapped(fn, name):
    @functools.wraps(fn)
    def step(*args, **kwargs):
        mark(">", name)
        try:
            return fn(*args, **kwargs)
        finally:
            mark("<", name)
    return step

class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in STEPS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            for name in STEPS[fullname]:
                setattr(module, name, wrapped(getattr(module, name), name))
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Finder())
from resorb.cli import app
mark("<", "python and resorb.cli start-up")
sys.argv = ["resorb", "report", "--out", "report.html"]
try:
    app()
finally:
    mark("<", "the command")
"""


def _timeline(folder: Path, env: dict[str, str]) -> pd.DataFrame:
    """When each step of one ``resorb report`` starts and ends, in which process."""
    out = subprocess.run([str(BIN / "python"), "-c", _TIMELINE.format(steps=_STEPS)],
                         cwd=folder, env=env, check=True, capture_output=True, text=True,
                         timeout=1800)
    marks = [line.split("|")[1:] for line in out.stderr.splitlines()
             if line.startswith("step|")]
    command = marks[0][0]
    names = {command: "command"}
    rows, open_steps = [], {}
    for pid, what, wall, cpu in marks:
        who = names.setdefault(pid, "worker" if len(names) == 1 else f"fork {len(names) - 1}")
        kind, name = what.split(" ", 1)
        if kind == ">":
            open_steps[(pid, name)] = (float(wall), float(cpu))
            continue
        began, cpu0 = open_steps.pop((pid, name), (float("nan"), float("nan")))
        rows.append((who, name, began, float(wall), float(cpu) - cpu0 if began == began
                     else float(cpu)))
    return (pd.DataFrame(rows, columns=["process", "step", "starts at s", "ends at s",
                                        "CPU s of the step"])
            .sort_values("ends at s", kind="stable"))


def main(argv: list[str] | None = None) -> None:
    """Time ``resorb report`` and its import floor; print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (median)")
    parser.add_argument("--store", type=Path, default=None,
                        help="folder holding mlflow.db with a champion (default: build one)")
    parser.add_argument("--baseline-venv", type=Path, default=None,
                        help="another checkout's .venv: its resorb report timed in the same runs")
    args = parser.parse_args(argv)

    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.store.resolve() if args.store else Path(tmp)
        if args.store is None:
            build_store(folder, env)
        python = str(BIN / "python")
        commands = {
            IMPORTS: [python, "-c", "import mlflow, sklearn, matplotlib, jinja2"],
            STORE: [python, "-c", "from resorb import tracking; tracking.configure()"],
            "resorb report (reference predictor)":
                [str(BIN / "resorb"), "report", "--out", "report.html"],
        }
        if args.baseline_venv is not None:
            commands["resorb report, baseline venv"] = [
                str(args.baseline_venv.resolve() / "bin" / "resorb"), "report", "--out",
                "report.html"]
        _run(commands["resorb report (reference predictor)"], folder, env)  # warm caches
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
        for _ in range(args.repeats):
            for name, cmd in commands.items():
                times[name].append(_run(cmd, folder, env))
        imports, calls = _profile(folder, env)
        timeline = _timeline(folder, env)
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    table = pd.DataFrame({
        "command": list(commands),
        "median wall s": [wall[k] for k in commands],
        "median CPU s": [cpu[k] for k in commands],
        "wall / imports": [wall[k] / wall[IMPORTS] for k in commands],
        "wall / store": [wall[k] / wall[STORE] for k in commands],
    })
    before = "resorb report, baseline venv"
    if before in commands:
        table["wall / baseline venv"] = [wall[k] / wall[before] for k in commands]
        table["CPU / baseline venv"] = [cpu[k] / cpu[before] for k in commands]
    print(f"`resorb report`, median of {args.repeats} alternating runs, each a fresh "
          f"process in the store's folder\n")
    print(markdown(table, decimals=2))
    print("\none `resorb report`, step by step (wall clock from the start of the command; "
          "CPU of that process during the step)\n")
    print(markdown(timeline, decimals=2))
    print("\nwhere one report's time goes: imports by package (-X importtime, self time, "
          "both processes)\n")
    print(markdown(imports, decimals=2))
    print("\nand the report's steps in one process (make_report without the worker; "
          "cProfile, cumulative, inflated by profiling)\n")
    print(markdown(calls, decimals=2))
    if args.baseline_venv is not None:
        print(f"\nbaseline venv: {args.baseline_venv.resolve()}")
    print(f"\n{machine()}; {provenance()}")


if __name__ == "__main__":
    main()
