"""What every benchmark prints beside its figures: the machine, the code, and tables."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """'2 CPUs (AMD EPYC), load average 5.9 / 5.6 / 4.0, python 3.11.7'."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh
                          if line.startswith("model name")), model)
    except OSError:
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({model}), load average {load}, "
            f"python {platform.python_version()}")


def provenance() -> str:
    """'git 537e776 (uncommitted changes), params sha256 1a2b3c4d5e6f' for the record."""
    from resorb.config import Params

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, check=True,
                               timeout=10).stdout.strip()
        commit = f"git {head}" + (" (uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        commit = "git unknown"
    digest = Params.resolve().digest()[:12]  # the resolved parameters, not one file's bytes
    return f"{commit}, params sha256 {digest}"


def markdown(frame: pd.DataFrame, decimals: int = 2) -> str:
    """A frame as a GitHub markdown table (no index); booleans as 'yes' or blank."""
    def cell(v: object) -> str:
        if isinstance(v, bool | np.bool_):
            return "yes" if v else ""
        if isinstance(v, float | np.floating):
            return f"{v:.{decimals}f}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def seed_list(text: str) -> list[int]:
    """'2026,11,31' -> [2026, 11, 31]: an argparse type for distinct non-negative seeds."""
    import argparse

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"comma-separated integers expected, got {text!r}") \
            from exc
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"distinct non-negative seeds expected, got {text!r}")
    return seeds
