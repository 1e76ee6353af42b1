"""Benchmark of the Spark engine: rows/s and the driver's memory, against the local engine.

Generates synthetic candidates into one Parquet file (row groups of 125,000 rows, ~3 MB;
Spark's default split size, total bytes / cores when below 128 MB, gives one input partition
per core: row groups are the unit a Parquet file is split by, and 3 tasks on 2 cores, as 8 MB
splits gave at 1 M rows, leave a core idle for a third of the job), fits a
``params.yaml`` candidate on 5,000 synthetic rows (``bench_scoring``'s helpers), then runs,
each in a fresh subprocess and alternating engines within a repeat:

- ``local``: :func:`resorb.scoring.score_file`, Parquet -> Parquet, in that process;
- ``spark local[2]``: :func:`resorb.scoring.spark.score_path` with two executor slots in the
  driver's JVM;
- ``standalone``: the same on a 2-worker standalone cluster on 127.0.0.1 (1 core, 1 GB
  executor each; started with pyspark's ``sbin/spark-daemon.sh``, see tests/spark_cluster.py),

with and without reasons. Wall seconds cover the scoring call (reading, scoring, writing,
counting), not the JVM start-up, which is reported apart. The driver's memory is the peak
RSS of the Python driver (``ru_maxrss``) and of its JVM (sampled every 0.2 s with psutil);
with the standalone cluster the driver's JVM does no executor work, so its memory must not
grow with the rows (the driver holds no rows). ``CPU s`` is the CPU time of the worker
process and its descendants during the call (driver, JVM, Python workers; for the standalone
cluster the executors are not descendants, so only the driver's side): on a shared machine
it varies far less than wall time.

    python benchmarks/bench_spark.py --rows 1000000 10000000 --explain 0 3
    python benchmarks/bench_spark.py --rows 1000000 --explain 0 --engines local "spark local[2]"
    python benchmarks/bench_spark.py --rows 1000000 --explain 0 --repeats 3 \
        --engines "spark local[2]" "spark local[2], no episode pass"

The last one measures the one-row-per-episode pass (``NO_PASS`` turns it off in the
worker; nothing else can).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from _common import machine, markdown, provenance  # noqa: E402

ENGINES = ("local", "spark local[2]", "standalone")
#: Spark local[2] without the one-row-per-episode pass (resorb.scoring.spark.episodes): only
#: to measure what the pass costs; not a default engine (its output differs when a file
#: repeats an episode)
NO_PASS = "spark local[2], no episode pass"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--explain", type=int, nargs="+", default=[0, 3])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES),
                        choices=[*ENGINES, NO_PASS])
    parser.add_argument("--candidate", default="logistic",
                        help="params.yaml candidate (logistic: reasons are affordable at 10M)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep data and outputs here (default: a temporary folder, "
                             "deleted at the end)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--master", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)

    import bench_scoring

    work = args.workdir or Path(tempfile.mkdtemp(prefix="resorb-bench-spark-"))
    work.mkdir(parents=True, exist_ok=True)
    started, load_before = datetime.now(UTC), os.getloadavg()
    results = []
    try:
        model = bench_scoring._train(work / f"model_{args.candidate}", args.candidate,
                                     args.seed)
        cluster = None
        if "standalone" in args.engines:
            from tests.spark_cluster import standalone_cluster

            cluster = standalone_cluster(work / "cluster")
        with cluster if cluster is not None else contextlib.nullcontext() as running:
            for rows in args.rows:
                data = _candidates(work / f"candidates_{rows}.parquet", rows, args.seed)
                for explain in args.explain:
                    for _ in range(args.repeats):
                        for engine in args.engines:
                            master = {"local": "", "spark local[2]": "local[2]",
                                      NO_PASS: "local[2]",
                                      "standalone": running.url if running else ""}[engine]
                            run = _run(data, model, work, engine, master, explain)
                            results.append({"rows": rows, "explain": explain,
                                            "engine": engine, **run})
                            print(f"  {rows:,} rows, explain {explain}, {engine}: "
                                  f"{run['seconds']:.1f} s", file=sys.stderr)
                data.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(_report(args, results, started, load_before))
    return 0


def _candidates(path: Path, n: int, seed: int, piece: int = 125_000) -> Path:
    """Synthetic candidates without outcomes, as bench_scoring draws them, in row groups of
    ``piece`` rows and with microsecond timestamps (Spark refuses nanoseconds).

    Patient ids are numbered across the file: each piece's cohort numbers its own from 1,
    which repeated (patient, level) pairs across pieces and made both engines reject most
    rows as repeated episodes (files written before this change are drawn again)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from resorb.cohort import make_cohort
    from resorb.scoring.frame import USED_COLUMNS

    if (path.is_file() and pq.ParquetFile(path).metadata.num_rows == n
            and pq.ParquetFile(path).schema_arrow.metadata.get(b"resorb_ids") == b"unique"):
        return path
    writer = None
    try:
        for i, start in enumerate(range(0, n, piece)):
            frame = make_cohort(min(piece, n - start), seed=seed + i)
            frame["patient_id"] = [f"B{start + j:010d}" for j in range(1, len(frame) + 1)]
            table = pa.Table.from_pandas(frame[[c for c in frame.columns if c in USED_COLUMNS]],
                                         preserve_index=False)
            if writer is None:
                table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                                       b"resorb_ids": b"unique"})
                writer = pq.ParquetWriter(path, table.schema, coerce_timestamps="us")
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    return path


def _run(data: Path, model: Path, work: Path, engine: str, master: str, explain: int) -> dict:
    out = work / ("out.parquet" if engine == "local" else "out")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--input",
           str(data), "--model", str(model), "--explain", str(explain), "--workdir", str(work),
           "--master", master]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _worker(args: argparse.Namespace) -> int:
    """One measurement in this fresh process; prints a JSON line."""
    import psutil

    from resorb.scoring import load_model, score_file

    model = load_model(args.model)
    args.explain = args.explain[0]
    jvm_peak = [0]
    stop = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not stop.is_set():
            for child in me.children(recursive=False):
                try:
                    if "java" in child.name():
                        jvm_peak[0] = max(jvm_peak[0], child.memory_info().rss)
                except psutil.Error:
                    pass
            stop.wait(0.2)

    startup = 0.0
    cpu_before = _tree_cpu()
    if args.worker == "local":
        t = time.perf_counter()
        summary = score_file(args.input, args.workdir / "out.parquet", model,
                             explain_k=args.explain)
    else:
        from pyspark.sql import SparkSession

        from resorb.scoring.spark import job, quiet, score_path

        job.EPISODE_PASS = args.worker != NO_PASS  # the one switch, for this measurement

        threading.Thread(target=sample, daemon=True).start()
        os.environ["PYSPARK_PYTHON"] = sys.executable
        t = time.perf_counter()
        with quiet():
            builder = (SparkSession.builder.master(args.master).appName("resorb-bench")
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.driver.memory", "1g"))
            if args.master.startswith("spark://"):
                builder = (builder.config("spark.driver.host", "127.0.0.1")
                           .config("spark.driver.bindAddress", "127.0.0.1")
                           .config("spark.executor.memory", "1g")
                           .config("spark.executor.cores", "1").config("spark.cores.max", "2"))
            spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        startup = time.perf_counter() - t
        cpu_before = _tree_cpu()
        t = time.perf_counter()
        summary = score_path(args.input, args.workdir / "out", model, explain_k=args.explain)
    seconds = time.perf_counter() - t
    cpu = _tree_cpu() - cpu_before  # the session is still running: its JVM and workers count
    stop.set()
    driver_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = json.dumps({"engine": args.worker, "explain": args.explain, "seconds": seconds,
                       "cpu": cpu, "startup": startup, "rows_in": summary.rows_in,
                       "driver_python_mb": driver_mb, "driver_jvm_mb": jvm_peak[0] / 2**20})
    with (args.workdir / "runs.jsonl").open("a") as log:  # kept if the parent is stopped
        log.write(line + "\n")
    print(line)
    return 0


def _tree_cpu() -> float:
    """CPU seconds (user + system) of this process and all its descendants so far.

    Counts the driver, its JVM and the JVM's Python workers (with the standalone cluster the
    executors are the workers' processes, not descendants: not counted). A measure that a
    loaded machine distorts far less than wall time.
    """
    import psutil

    total = 0.0
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def _report(args: argparse.Namespace, results: list[dict], started: datetime,
            load_before: tuple[float, float, float]) -> str:
    import pandas as pd

    frame = pd.DataFrame(results)
    table = (frame.groupby(["rows", "explain", "engine"], sort=False)
             .agg(runs=("seconds", "size"), seconds=("seconds", "median"),
                  cpu=("cpu", "median"),
                  startup=("startup", "median"), python_mb=("driver_python_mb", "max"),
                  jvm_mb=("driver_jvm_mb", "max"))
             .reset_index())
    table["rows/s"] = (table["rows"] / table["seconds"]).round(0).astype(int)
    base = table[table["engine"] == "local"].set_index(["rows", "explain"])["seconds"]
    table["x local (wall)"] = [base.get((r, e), float("nan")) / s for r, e, s in
                               zip(table["rows"], table["explain"], table["seconds"],
                                   strict=True)]
    extra = []
    if (table["engine"] == NO_PASS).any():  # what the episode pass costs, in the same run
        plain = table[table["engine"] == NO_PASS].set_index(["rows", "explain"])
        for what, column in (("seconds", "/ no pass (wall)"), ("cpu", "/ no pass (CPU)")):
            table[column] = [v / plain[what].get((r, e), float("nan")) for r, e, v in
                             zip(table["rows"], table["explain"], table[what], strict=True)]
            extra.append(column)
    table["rows"] = table["rows"].map("{:,}".format)
    table = table[["rows", "explain", "engine", "runs", "seconds", "rows/s", "x local (wall)",
                   *extra, "cpu", "startup", "python_mb", "jvm_mb"]].rename(columns={
                       "seconds": "median s", "cpu": "CPU s (driver tree)",
                       "startup": "JVM start s",
                       "python_mb": "driver Python peak MB", "jvm_mb": "driver JVM peak MB"})
    return "\n".join([
        f"bench_spark ({started:%Y-%m-%d %H:%M} UTC): {args.candidate}, engines "
        f"{', '.join(args.engines)}, {args.repeats} repeat(s)",
        f"machine: {machine()} (load before {' / '.join(f'{x:.1f}' for x in load_before)})",
        f"code: {provenance()}", "", markdown(table, decimals=1)])


if __name__ == "__main__":
    sys.exit(main())
