"""Real ``resorb`` subprocesses and a small labelled cohort for the leftover fixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RESORB = Path(sys.executable).with_name("resorb")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``resorb ARGS`` in a real process, without a tracking store of its own."""
    base = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    base.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([str(RESORB), *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def cohort():
    """A 200-row ``literature`` cohort (seed 5), as generated."""
    from resorb.cohort import make_cohort

    return make_cohort(n=200, seed=5)
