"""Cost of quoting the value found in ``score``'s per-row reasons, on a file with many bad cells.

Writes a CSV of ``--rows`` candidates (``make_cohort``, outcomes dropped) where about
``--bad`` of the rows break the dictionary in one to three cells, with many distinct values
(vas_leg 11-99.9, odi 101-999, text in age, 'm'/'f'/'X' in sex, fractions in
migration_grade), then scores it with ``score_file`` (the reference predictor, no
explanations) in fresh subprocesses, alternating the current reasons (value quoted) with
the earlier ones (``conform_rows(quote_values=False)``, patched in for the run), and prints
the median wall seconds of each and their ratio.

    python benchmarks/bench_rejected_reasons.py --rows 500000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--bad", type=float, default=0.4, help="share of rows with bad cells")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--worker", choices=["quoted", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.input)
    work = Path(tempfile.mkdtemp(prefix="resorb-reasons-"))
    data = _write(work / "bad.csv", args.rows, args.bad, args.seed)
    times: dict[str, list[float]] = {"quoted": [], "plain": []}
    for _ in range(args.repeats):
        for kind in ("plain", "quoted"):  # alternating: load drifts hit both alike
            out = subprocess.run([sys.executable, __file__, "--worker", kind, "--input",
                                  str(data)], capture_output=True, text=True, check=True)
            times[kind].append(float(out.stdout.split()[-1]))
    plain, quoted = statistics.median(times["plain"]), statistics.median(times["quoted"])
    print(f"{args.rows:,} rows, ~{args.bad:.0%} with bad cells, {args.repeats} runs each")
    print(f"reasons without the value (before): median {plain:.2f} s  {times['plain']}")
    print(f"reasons with the value (now):       median {quoted:.2f} s  {times['quoted']}")
    print(f"ratio now / before: {quoted / plain:.3f}")
    return 0


def _write(path: Path, n: int, bad: float, seed: int) -> Path:
    import numpy as np

    from resorb import schema
    from resorb.cohort import make_cohort

    frame = make_cohort(n, seed=seed)
    frame = frame[[c for c in frame.columns if c not in schema.OUTCOMES
                   and schema.BY_NAME[c].role is not schema.Role.SYNTHETIC]].astype(object)
    rng = np.random.default_rng(seed)
    for column, values in [
            ("vas_leg", np.round(rng.uniform(11, 99.9, n), 1)),
            ("odi", rng.integers(101, 1000, n)),
            ("age", rng.choice(["abc", "n/a", "?", "sixty"], n)),
            ("sex", rng.choice(["m", "f", "X"], n)),
            ("migration_grade", rng.choice(["1.5", "2.5", "0.5"], n))]:
        hit = rng.random(n) < bad / 2.5
        frame.loc[hit, column] = values[hit]
    frame.to_csv(path, index=False)
    return path


def _worker(kind: str, data: Path) -> int:
    import functools

    import resorb.scoring.frame as frame_module
    from resorb.scoring import load_model, score_file

    if kind == "plain":
        original = frame_module.conform_rows

        @functools.wraps(original)
        def plain(*a, **k):  # the reasons as they were: no value quoted
            return original(*a, **{**k, "quote_values": False})
        frame_module.conform_rows = plain
    model = load_model(REFERENCE)
    start = time.perf_counter()
    summary = score_file(data, data.with_suffix(f".{kind}.csv"), model, explain_k=0)
    seconds = time.perf_counter() - start
    print(summary.rejected, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
