"""What a fresh user met first in the intake, through the real ``resorb`` command.

Each case once gave a message that pointed elsewhere: a spreadsheet's trailing separators
read as a column given twice, a title line above the header read as a ragged row, an empty
mapping file answered with a Python type name, and "1 value that is not numbers".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from resorb.cohort import make_cohort

RESORB = Path(sys.executable).with_name("resorb")


def resorb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``resorb ARGS`` in ``cwd``, one thread per library, no tracking server."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([str(RESORB), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return make_cohort(30, seed=5)


@pytest.mark.parametrize(("text", "what"), [("", "empty"), ("# to do\n", "comments only")])
def test_an_empty_mapping_file_is_named_empty_with_a_skeleton(cohort, tmp_path, text, what):
    # an empty YAML file loads as None: the message said "got NoneType"
    cohort.to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    out = resorb("validate", "c.csv", "--mapping", "m.yaml", cwd=tmp_path)
    assert out.returncode == 2, what
    assert "Traceback" not in out.stderr
    assert "NoneType" not in out.stderr
    assert "mapping m.yaml is empty" in out.stderr
    assert "columns: {age: {from: Age}}" in out.stderr


@pytest.mark.parametrize(("bad", "words"), [
    (["42years"], "'age' has 1 value that is not a number (found '42years') (row 1)"),
    (["42years", "x"],
     "'age' has 2 values that are not numbers (found '42years', 'x') (rows 1, 2)"),
])
def test_a_type_problem_agrees_in_number(cohort, tmp_path, bad, words):
    df = cohort.astype({"age": str})
    df.loc[: len(bad) - 1, "age"] = bad
    df.to_csv(tmp_path / "c.csv", index=False)
    out = resorb("validate", "c.csv", cwd=tmp_path)
    assert out.returncode == 2
    assert words in out.stdout + out.stderr
