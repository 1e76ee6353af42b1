"""Benchmark of batch scoring: end-to-end ``score_file`` against the bare model.

Generates synthetic follow-up candidates (``make_cohort``, outcomes dropped) into a Parquet
file, trains a candidate model (or loads an exported folder), then measures, each in a fresh
subprocess so that peak memory is that of one run:

- ``floor``: ``predict_proba`` of the same model on the same rows, already validated and in
  memory (no reading, checking, explaining or writing);
- ``score``: ``score_file`` Parquet -> Parquet without explanations;
- ``score + explain K``: the same with the top K reasons per row.

Reports median wall seconds, rows/s, CPU seconds, peak resident memory (``ru_maxrss`` of the
subprocess, via ``os.wait4``) and the ratio to the floor, as a markdown table for
docs/scoring.md. Exits 1 when a scoring run's peak memory exceeds ``--max-memory-gb``.

    python benchmarks/bench_scoring.py                      # 1M rows, explain 3, 3 repeats
    python benchmarks/bench_scoring.py --rows 10000000 --explain 0 --repeats 1   # memory
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

PIECE_ROWS = 500_000  # rows generated at a time, so generating 10M rows stays small too


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="candidates to score")
    parser.add_argument("--explain", type=int, default=3, help="reasons per row (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement")
    parser.add_argument("--explain-repeats", type=int, default=None,
                        help="runs of the explained measurement (default: --repeats)")
    parser.add_argument("--candidate", default="random_forest",
                        help="params.yaml candidate to train (random_forest is the champion of "
                             "`resorb compare --synthetic`)")
    parser.add_argument("--model", type=Path, default=None,
                        help="exported model folder to use instead of training one")
    parser.add_argument("--chunk-rows", type=int, default=None,
                        help="rows per chunk (default: params.yaml scoring.chunk_rows)")
    parser.add_argument("--floor-rows", type=int, default=2_000_000,
                        help="rows held in memory for the floor; beyond, scaled linearly")
    parser.add_argument("--max-memory-gb", type=float, default=2.0,
                        help="fail when a scoring run's peak memory exceeds this")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep data, model and outputs here (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--worker", choices=["floor", "score"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="resorb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    try:
        data = _candidates(work / f"candidates_{args.rows}.parquet", args.rows, args.seed)
        model = args.model or _train(work / f"model_{args.candidate}", args.candidate, args.seed)
        rows = []
        floor = _measure(args, "floor", data, model, work, 0, 1)
        rows.append(("floor: predict_proba, rows in memory", floor))
        score = _measure(args, "score", data, model, work, 0, args.repeats)
        rows.append(("score_file, no explanations", score))
        if args.explain:
            repeats = args.explain_repeats or args.repeats
            rows.append((f"score_file, --explain {args.explain}",
                         _measure(args, "score", data, model, work, args.explain, repeats)))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(_report(args, rows, floor, started, load_before, os.getloadavg()))
    worst = max(r["peak_mb"] for name, r in rows if name.startswith("score"))
    if worst > args.max_memory_gb * 1024:
        print(f"FAIL: peak memory {worst:,.0f} MB above {args.max_memory_gb:g} GB")
        return 1
    print(f"memory check: peak {worst:,.0f} MB <= {args.max_memory_gb:g} GB")
    return 0


# ------------------------------------------------------------------------------ preparation


def _candidates(path: Path, n: int, seed: int) -> Path:
    """Synthetic candidates without outcomes, written piece by piece."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from resorb.cohort import make_cohort
    from resorb.scoring.frame import USED_COLUMNS

    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == n:
        return path
    t = time.perf_counter()
    writer = None
    try:
        for i, start in enumerate(range(0, n, PIECE_ROWS)):
            piece = make_cohort(min(PIECE_ROWS, n - start), seed=seed + i)
            table = pa.Table.from_pandas(piece[[c for c in piece.columns if c in USED_COLUMNS]],
                                         preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    print(f"generated {n:,} candidates in {time.perf_counter() - t:.1f} s -> {path}",
          file=sys.stderr)
    return path


def _train(folder: Path, candidate: str, seed: int) -> Path:
    """A candidate from params.yaml fitted on 5,000 synthetic rows, as an exported folder."""
    if (folder / "artifacts" / "model.skops").is_file():
        return folder
    import pandas as pd

    from resorb.card import DataSource, ModelCard
    from resorb.cohort import make_cohort
    from resorb.config import Params
    from resorb.features import model_input
    from resorb.label import labelled_rows
    from resorb.models import build_model
    from resorb.serialization import save_estimator

    params = Params.resolve()
    spec = params.candidates[candidate]
    data = labelled_rows(make_cohort(5000, seed=seed), params.label)
    X = model_input(data.frame)
    model = build_model(spec, seed=seed).fit(X, data.y)
    ranges = {c: ([float(X[c].min()), float(X[c].max())]
                  if pd.api.types.is_numeric_dtype(X[c].dtype)
                  else sorted(str(v) for v in X[c].dropna().unique())) for c in X.columns}
    (folder / "artifacts").mkdir(parents=True, exist_ok=True)
    skops = save_estimator(model, folder / "artifacts" / "model.skops")
    card = ModelCard(candidate=candidate, kind=spec.kind, calibration=spec.calibration,
                     data_source=DataSource("synthetic", "literature", seed, 5000), seed=seed,
                     label_rule=params.label, decision_threshold=0.5, resorb_version="bench",
                     metrics={}, training_ranges=ranges, features=tuple(X.columns),
                     skops_sha256="")
    (folder / "artifacts" / "resorb.json").write_text(card.with_skops_hash(skops).to_json())
    return folder


# ---------------------------------------------------------------------------- measurements


def _measure(args: argparse.Namespace, kind: str, data: Path, model: Path, work: Path,
             explain: int, repeats: int) -> dict:
    """Median of ``repeats`` subprocess runs: wall and CPU seconds, peak memory."""
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind,
               "--input", str(data), "--model", str(model), "--explain", str(explain),
               "--workdir", str(work), "--repeats", str(args.repeats),
               "--floor-rows", str(args.floor_rows)]
        if args.chunk_rows:
            cmd += ["--chunk-rows", str(args.chunk_rows)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{kind} worker failed with exit code {proc.returncode}")
        result = json.loads(out.strip().splitlines()[-1])
        result["peak_mb"] = usage.ru_maxrss / 1024  # kB on Linux
        runs.append(result)
        print(f"  {kind} explain={explain}: {result['seconds']:.2f} s", file=sys.stderr)
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "rows": runs[0]["rows"], "measured_rows": runs[0]["measured_rows"],
            "peak_mb": max(r["peak_mb"] for r in runs), "repeats": repeats}


def _worker(args: argparse.Namespace) -> int:
    """One measurement in this (fresh) process; prints a JSON line."""
    if args.worker == "floor":
        import pyarrow.parquet as pq

        from resorb.models import predict_resorption
        from resorb.scoring import load_model, prepare_rows

        model = load_model(args.model)
        pf = pq.ParquetFile(args.input)
        rows = pf.metadata.num_rows
        take = min(rows, args.floor_rows)
        frame = next(pf.iter_batches(batch_size=take)).to_pandas() if take < rows \
            else pf.read().to_pandas()
        X = prepare_rows(frame, model, 180)[3]
        del frame
        times, cpus = [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            predict_resorption(model.estimator, X)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        scale = rows / take  # floor of the whole file when only part of it fits in memory
        print(json.dumps({"seconds": statistics.median(times) * scale,
                          "cpu": statistics.median(cpus) * scale, "rows": rows,
                          "measured_rows": take}))
        return 0
    from resorb.scoring import score_file

    out = args.workdir / "scored.parquet"
    t, c = time.perf_counter(), time.process_time()
    summary = score_file(args.input, out, args.model, explain_k=args.explain,
                         chunk_rows=args.chunk_rows)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    out.unlink()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": summary.rows_in,
                      "measured_rows": summary.rows_in}))
    return 0


# --------------------------------------------------------------------------------- report


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))
        mem = f", {mem_kb / 1024 ** 2:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        mem = ""
    return f"{cpu}, {os.cpu_count()} logical CPUs{mem}, {platform.system()} {platform.release()}"


def _report(args: argparse.Namespace, rows: list, floor: dict, started: datetime,
            load_before: tuple, load_after: tuple) -> str:
    import numpy
    import pandas
    import pyarrow
    import sklearn

    from resorb.config import ScoringParams

    chunk = args.chunk_rows or ScoringParams().chunk_rows
    lines = [
        f"- date: {started:%Y-%m-%d %H:%M} UTC; command: `python benchmarks/bench_scoring.py "
        f"{' '.join(sys.argv[1:])}`".rstrip(),
        f"- machine: {_machine()}; load average before/after "
        f"{load_before[0]:.1f}/{load_after[0]:.1f}",
        f"- Python {platform.python_version()}, numpy {numpy.__version__}, pandas "
        f"{pandas.__version__}, pyarrow {pyarrow.__version__}, scikit-learn "
        f"{sklearn.__version__}",
        f"- model: {args.model or args.candidate + ' (params.yaml, fitted on 5,000 rows)'}; "
        f"{floor['rows']:,} rows; chunks of {chunk:,} rows",
    ]
    if floor["measured_rows"] < floor["rows"]:
        lines.append(f"- floor measured on {floor['measured_rows']:,} rows in memory, "
                     f"scaled linearly to {floor['rows']:,}")
    lines += ["", "| measurement | runs | median s | rows/s | CPU s | peak RSS MB | "
                  "x floor (wall) | x floor (CPU) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['repeats'] if name.startswith('score') else args.repeats}"
                     f" | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | "
                     f"{r['cpu']:.2f} | {r['peak_mb']:,.0f} | "
                     f"{r['seconds'] / floor['seconds']:.2f} | {r['cpu'] / floor['cpu']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
