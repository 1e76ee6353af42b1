"""``--predictors`` of explain, plan and update, through the real ``resorb`` command.

Each command follows the model's own predictor set (its card): the data need only those
predictors, the others are ignored and listed, and a ``--predictors`` that disagrees with the
model named by ``--model`` is refused (exit 2) before any work. Without ``--model`` and
without a registry, the set chooses the shipped reference predictor of that set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from resorb import schema
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.files import write_table
from tests.factories import FAST_PARAMS

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
    columns = list(pd.read_csv(out).columns)  # the row keys, then one column per feature
    assert columns[columns.index("source_row") + 1:] == card_of(ROUTINE_FOLDER)["features"]
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


# --------------------------------------------------------------------------------- plan
#: the smallest plan that still runs every step (one worker: the results do not depend on it)
TINY_PLAN = ("--sizes", "100,200", "--validation-sizes", "100,200", "--replicates", "2",
             "--validation-rows", "500", "--reference-rows", "500", "--jobs", "1",
             "--seed", "3")
RILEY = re.compile(r"Riley 2020: ([\d,]+) rows \(([\d,]+) events\) for (\d+) candidate "
                   r"parameters")


def logistic_parameters(selection: str) -> int:
    """The logistic candidate's parameter count on ``selection``, fitted here independently."""
    from resorb.models import build_model
    from resorb.training import count_parameters, prepare

    params = Params.default().with_predictors(selection)
    data, X, _ = prepare(make_cohort(2000, seed=5), params)
    return count_parameters(build_model(params.candidate("logistic"), seed=0).fit(X, data.y))


@pytest.mark.slow
def test_plan_counts_the_candidate_parameters_of_the_chosen_set(tmp_path):
    found = {}
    for selection in ("routine", "full"):
        run = resorb("plan", "--predictors", selection, *TINY_PLAN, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        rows, _, parameters = RILEY.search(run.stdout).groups()
        found[selection] = (int(rows.replace(",", "")), int(parameters))
        assert found[selection][1] == logistic_parameters(selection), selection
    # fewer predictors, fewer parameters, a smaller closed-form minimum (Riley 2020)
    assert found["routine"][1] < found["full"][1]
    assert found["routine"][0] < found["full"][0]

    refused = resorb("plan", "--model", str(ROUTINE_FOLDER), "--predictors", "full",
                     *TINY_PLAN, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "--predictors full:" in refused.stderr
    assert "trained on the 'routine' predictors" in refused.stderr
    assert "Riley 2020" not in refused.stdout and "Traceback" not in refused.stderr


# ------------------------------------------------------------------------------- update
@pytest.mark.slow
def test_update_adapts_the_routine_model_and_refuses_another_set(clinic, tmp_path):
    out = tmp_path / "updated"
    # no --model, no registry here: the set chooses the routine reference predictor
    run = resorb("--params", str(FAST_PARAMS), "update", "--predictors", "routine",
                 "--data", str(clinic), "--method", "intercept", "--no-register",
                 "--out", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "ignored, not predictors of the parent model: odi" in run.stderr
    parent = next(line for line in run.stdout.splitlines() if line.startswith("parent: "))
    assert Path(parent.split()[2]).resolve() == ROUTINE_FOLDER.resolve()
    updated, routine = card_of(out), card_of(ROUTINE_FOLDER)
    assert updated["predictor_set"] == "routine"
    assert updated["features"] == routine["features"]
    assert updated["update"]["method"] == "intercept"
    assert updated["update"]["parent_skops_sha256"] == routine["skops_sha256"]
    assert not (tmp_path / "mlflow.db").exists()

    # the full reference predictor needs what this file lacks; nothing is written
    full = resorb("--params", str(FAST_PARAMS), "update", "--model", str(REFERENCE_FOLDER),
                  "--data", str(clinic), "--method", "intercept", "--no-register",
                  "--out", str(tmp_path / "full"), cwd=tmp_path)
    assert full.returncode == 2, full.stderr
    assert "herniation_volume_mm3" in full.stderr and "Traceback" not in full.stderr
    assert not (tmp_path / "full").exists()

    # a set the parent was not trained on: refused before any work
    refused = resorb("update", "--model", str(ROUTINE_FOLDER), "--predictors", "routine,odi",
                     "--synthetic", "300", "--no-register", "--out", str(tmp_path / "odi"),
                     cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "--predictors routine,odi:" in refused.stderr
    assert "trained on the 'routine' predictors, without odi" in refused.stderr
    assert not (tmp_path / "odi").exists()
