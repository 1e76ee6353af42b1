"""How long ``resorb compare --register`` takes against the team server vs a SQLite file.

One team server (scripts/team_server.sh: PostgreSQL + ``mlflow server`` with artifact
proxying, no auth) is started in a temporary folder; then, repeat by repeat and interleaved so
the machine's load falls on both alike, ``resorb compare --synthetic N --register`` runs as a
real subprocess

- **sqlite**: in a fresh empty folder (it creates its own ``mlflow.db`` and ``mlartifacts``);
- **server**: in a fresh empty folder with ``MLFLOW_TRACKING_URI`` pointing at the server
  (runs, metrics and the model go over HTTP; artifacts through the server's proxy).

Wall time is ``time.perf_counter``; user CPU of the client is ``resource.getrusage`` of the
finished child. Medians over ``--repeats``; the ratio server / sqlite is taken repeat by
repeat, then the median. Both use the same parameters (``--params``, default the tests' fast
parameters with ``training.n_boot=20``), so the difference is the store.

Usage::

    .venv/bin/python benchmarks/bench_team_server.py --n 2000 --repeats 3
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
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ROOT, machine, markdown, provenance

SCRIPT = ROOT / "scripts" / "team_server.sh"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _compare(env: dict[str, str], args: list[str]) -> tuple[float, float]:
    """Wall and user-CPU seconds of one ``resorb compare`` in a fresh folder."""
    with tempfile.TemporaryDirectory() as cwd:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        start = time.perf_counter()
        done = subprocess.run([str(BIN / "resorb"), *args], env=env, cwd=cwd,
                              capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - start
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before
    if done.returncode != 0:
        raise SystemExit(f"resorb compare failed:\n{done.stdout}\n{done.stderr}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="synthetic rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--params", default=str(ROOT / "tests" / "params_fast.yaml"))
    opts = parser.parse_args()

    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RESORB_"))}
    base.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    args = ["--params", opts.params, "--set", "training.n_boot=20", "compare",
            "--synthetic", str(opts.n), "--seed", "2026", "--register"]
    folder = Path(tempfile.mkdtemp(prefix="bench-team-")) / "server"
    port = _free_port()
    started = time.perf_counter()
    rows = []
    try:
        subprocess.run([str(SCRIPT), "start", str(folder), str(port)], check=True,
                       env={**base, "MLFLOW": str(BIN / "mlflow"), "TEAM_WORKERS": "2"})
        startup = time.perf_counter() - started
        for repeat in range(opts.repeats):
            for store, env in (("sqlite", base),
                               ("server", {**base,
                                           "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"})):
                wall, cpu = _compare(env, args)
                rows.append({"repeat": repeat, "store": store, "wall_s": wall, "cpu_s": cpu})
                print(f"repeat {repeat} {store}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    finally:
        subprocess.run([str(SCRIPT), "remove", str(folder)], env=base, check=False)
        shutil.rmtree(folder.parent, ignore_errors=True)
    frame = pd.DataFrame(rows)
    wide = frame.pivot(index="repeat", columns="store", values="wall_s")
    summary = frame.groupby("store")[["wall_s", "cpu_s"]].median().reset_index()
    ratio = float(np.median(wide["server"] / wide["sqlite"]))
    print(f"\n{machine()}\n{provenance()}")
    print(f"resorb compare --synthetic {opts.n} --register, {opts.repeats} repeats "
          f"(fast parameters, n_boot 20); server start-up {startup:.0f} s\n")
    print(markdown(summary.rename(columns={"wall_s": "median wall (s)",
                                           "cpu_s": "median client CPU (s)"}), 1))
    print(f"\nmedian ratio server / sqlite (wall, paired by repeat): {ratio:.2f}")


if __name__ == "__main__":
    main()
