"""``--predictors`` of explain, plan and update, through the real ``resorb`` command.

Each command follows the model's own predictor set (its card): the data need only those
predictors, the others are ignored and listed, and a ``--predictors`` that disagrees with the
model named by ``--model`` is refused (exit 2) before any work. Without ``--model`` and
without a registry, the set chooses the shipped reference predictor of that set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from resorb import schema
from resorb.cohort import make_cohort
from resorb.files import write_table

REPO = Path(__file__).resolve().parents[1]
RESORB = Path(sys.executable).with_name("resorb")
ROUTINE_FOLDER = REPO / "models" / "routine"
REFERENCE_FOLDER = REPO / "models" / "reference"
ROUTINE = schema.PREDICTOR_SETS["routine"].members
OUTSIDE = tuple(p for p in schema.PREDICTORS if p not in ROUTINE)


def resorb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``resorb ARGS`` in ``cwd``, one thread per library, no tracking server."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([str(RESORB), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def card_of(folder: Path) -> dict:
    return json.loads((folder / "artifacts" / "resorb.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Path:
    """A labelled routine-data file: the routine predictors, and ODI written as text (a
    predictor outside the set: it must be ignored, never validated)."""
    cohort = make_cohort(400, seed=23)
    drop = [c for c in OUTSIDE if c != "odi"]
    return write_table(cohort.drop(columns=drop).assign(odi="not a number"),
                       tmp_path_factory.mktemp("clinic") / "clinic.csv")


# ------------------------------------------------------------------------------ explain
@pytest.mark.slow
def test_explain_follows_the_models_set_and_refuses_another(clinic, tmp_path):
    out = tmp_path / "contributions.csv"
    # no --model, no registry here: the set chooses the routine reference predictor
    run = resorb("explain", "--predictors", "routine", "--data", str(clinic), "--rows", "60",
                 "--out", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "ignored, not predictors of this model: odi" in run.stderr
    assert list(pd.read_csv(out).columns) == card_of(ROUTINE_FOLDER)["features"]
    assert "Traceback" not in run.stderr

    # the full reference predictor needs what this file lacks
    full = resorb("explain", "--model", str(REFERENCE_FOLDER), "--data", str(clinic),
                  "--rows", "60", cwd=tmp_path)
    assert full.returncode == 2, full.stderr
    assert "herniation_volume_mm3" in full.stderr and "Traceback" not in full.stderr

    # a --predictors that disagrees with the model's card: exit 2, nothing left behind
    refused_in = tmp_path / "refused"
    refused_in.mkdir()
    refused = resorb("explain", "--model", str(ROUTINE_FOLDER), "--predictors", "full",
                     "--synthetic", "200", cwd=refused_in)
    assert refused.returncode == 2, refused.stderr
    assert "--predictors full:" in refused.stderr
    assert "trained on the 'routine' predictors, without " in refused.stderr
    assert all(p in refused.stderr for p in OUTSIDE)
    assert list(refused_in.iterdir()) == []
