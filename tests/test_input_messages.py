"""Messages about bad input files, through the real ``resorb`` command on real files.

Each test reproduces what a user met: a routine clinic's file scored by the full model, a
spreadsheet export ending in empty rows, a renamed workbook, a range error naming an option.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from resorb import schema
from resorb.cohort import make_cohort
from tests.factories import resorb_cli

REPO = Path(__file__).resolve().parents[1]
RESORB = Path(sys.executable).with_name("resorb")
ROUTINE = schema.PREDICTOR_SETS["routine"].members
OUTSIDE = tuple(p for p in schema.PREDICTORS if p not in ROUTINE)


resorb = resorb_cli  # the shared subprocess helper (tests/factories.py)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return make_cohort(60, seed=1)


@pytest.fixture(scope="module")
def routine_csv(cohort, tmp_path_factory) -> Path:
    """The routine columns of 60 rows, as a clinic without volumetry would have them."""
    path = tmp_path_factory.mktemp("routine") / "routine60.csv"
    cohort.drop(columns=list(OUTSIDE)).to_csv(path, index=False)
    return path


def test_full_model_on_routine_file_claims_no_row_count_and_suggests_routine(routine_csv,
                                                                             tmp_path):
    run = resorb("score", "-i", str(routine_csv), "-o", str(tmp_path / "r.csv"),
                 "--model", str(REPO / "models" / "reference"), cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    first = run.stderr.splitlines()[0]
    assert "0 of 0 rows" not in run.stderr
    assert "no row was read" in first
    assert "--model models/routine" in first
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "r.csv").exists()


def test_validate_counts_the_rows_and_suggests_the_routine_set(routine_csv, tmp_path):
    run = resorb("validate", str(routine_csv), cwd=tmp_path)
    assert run.returncode == 2, run.stderr + run.stdout
    text = run.stdout + run.stderr
    assert "0 of 60 rows affected" in text
    assert "--predictors routine" in text


def test_a_file_lacking_a_routine_column_gets_no_set_hint(cohort, tmp_path):
    path = tmp_path / "noage.csv"
    cohort.drop(columns=["age", "odi"]).to_csv(path, index=False)
    run = resorb("validate", str(path), cwd=tmp_path)
    assert run.returncode == 2
    assert "absent (age, odi)" in run.stdout + run.stderr
    assert "predictor set" not in run.stdout + run.stderr


# ------------------------------------------------------------- spreadsheet export leftovers
@pytest.fixture(scope="module")
def excel_export(cohort, tmp_path_factory) -> tuple[Path, Path]:
    """A ';'-separated export whose last two rows are ';;;;' (no cell filled), and its
    mapping (the dialect only)."""
    folder = tmp_path_factory.mktemp("excel")
    path = folder / "export.csv"
    cohort.to_csv(path, index=False, sep=";")
    with path.open("a", encoding="utf-8") as f:
        f.write(";" * (cohort.shape[1] - 1) + "\n" + ";" * (cohort.shape[1] - 1) + "\n")
    mapping = folder / "mapping.yaml"
    mapping.write_text("dialect: {separator: ';'}\n", encoding="utf-8")
    return path, mapping


@pytest.mark.parametrize("command", ["validate", "train"])
def test_trailing_empty_rows_are_one_line_naming_them(excel_export, command, tmp_path):
    path, mapping = excel_export
    args = [str(path), "--mapping", str(mapping)]
    if command == "train":
        args = ["--data", *args]
    run = resorb(command, *args, cwd=tmp_path)
    text = run.stdout + run.stderr
    assert run.returncode == 2, text
    assert "rows 61-62 are entirely empty, probably spreadsheet export leftovers" in text
    assert "missing values" not in text  # not one line per required column
    assert "invalid: 1 problem, 2 of 62 rows affected" in text
    assert not (tmp_path / "mlruns").exists()


def test_a_missing_value_beside_empty_rows_is_still_reported(cohort, tmp_path):
    frame = cohort.astype(object)
    frame.loc[3, "age"] = None
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    with path.open("a", encoding="utf-8") as f:
        f.write("," * (cohort.shape[1] - 1) + "\n")
    run = resorb("validate", str(path), cwd=tmp_path)
    text = run.stdout + run.stderr
    assert run.returncode == 2
    assert "'age' has 1 missing value (row 4)" in text
    assert "row 61 is entirely empty" in text


def test_score_rejects_each_empty_row_with_one_reason(excel_export, tmp_path):
    path, mapping = excel_export
    out = tmp_path / "scored.csv"
    run = resorb("score", "-i", str(path), "--mapping", str(mapping), "-o", str(out),
                 "--model", str(REPO / "models" / "reference"), cwd=tmp_path)
    assert run.returncode == 3, run.stderr
    scored = pd.read_csv(out)
    assert len(scored) == 62  # one output row per input row
    assert scored["status"].tolist() == ["scored"] * 60 + ["rejected"] * 2
    assert scored["reason"].iloc[60:].tolist() == ["empty row", "empty row"]
    assert "62 rows in = 60 scored + 2 rejected" in run.stderr + run.stdout


# ----------------------------------------------------------------------- renamed workbook
@pytest.mark.parametrize("name", ["book.csv", "book.parquet"])
def test_a_renamed_workbook_is_named_as_one(name, tmp_path):
    import zipfile

    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:  # what an .xlsx is: a ZIP of XML parts
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    for args in (["validate", str(path)],
                 ["score", "-i", str(path), "-o", str(tmp_path / "out.csv"),
                  "--model", str(REPO / "models" / "reference")]):
        run = resorb(*args, cwd=tmp_path)
        assert run.returncode == 2, run.stderr
        assert "is an Excel workbook (.xlsx) or another ZIP archive" in run.stderr
        assert "'CSV UTF-8" in run.stderr
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "out.csv").exists()


# ------------------------------------------------------------------------ plural agreement
def test_one_row_is_one_row_not_one_rows(cohort, tmp_path):
    path = tmp_path / "one.csv"
    cohort.head(1).to_csv(path, index=False)
    run = resorb("validate", str(path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "valid: 1 row, 36 columns" in run.stdout
    run = resorb("score", "-i", str(path), "-o", str(tmp_path / "s.csv"),
                 "--model", str(REPO / "models" / "reference"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "1 row in = 1 scored + 0 rejected" in run.stderr


# ---------------------------------------------------------------------------------- plan
def test_plan_refuses_sizes_beyond_the_maximum(tmp_path):
    from resorb.cli.plan import MAX_SIZE

    for option in ("--sizes", "--validation-sizes"):
        run = resorb("plan", option, f"100,{MAX_SIZE + 1}", cwd=tmp_path)
        assert run.returncode == 2, run.stderr
        assert option in run.stderr
        assert f"maximum {MAX_SIZE:,}" in run.stderr
        assert "GB" in run.stderr


@pytest.mark.slow
def test_plan_caps_jobs_at_cores_and_studies(tmp_path):
    from resorb.parallel import available_cores

    run = resorb("plan", "--sizes", "50", "--validation-sizes", "50", "--replicates", "2",
                 "--validation-rows", "500", "--reference-rows", "500", "--jobs", "1000",
                 cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    expected = min(available_cores(), 2)
    assert f"note: --jobs 1000: using {expected} worker process" in run.stderr
    assert f"with {expected} worker process" in run.stdout


@pytest.mark.slow
def test_interrupted_plan_says_nothing_was_written(tmp_path):
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = tmp_path / "plan"
    proc = subprocess.Popen([str(RESORB), "plan", "--sizes", "2000,5000", "--replicates",
                             "50", "--jobs", "1", "--out", str(out)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(10)  # past start-up: simulating (the whole run takes minutes)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: nothing written" in stderr
    assert "Traceback" not in stderr
    assert not out.exists()


# ----------------------------------------------------------- range errors name the option
@pytest.mark.parametrize(("args", "option", "key"), [
    (["--explain", "-1"], "--explain", "scoring.explain"),
    (["--horizon-days", "0"], "--horizon-days", "scoring.horizon_days"),
    (["--chunk-rows", "0"], "--chunk-rows", "scoring.chunk_rows"),
])
def test_score_range_errors_name_the_option_typed(routine_csv, args, option, key, tmp_path):
    run = resorb("score", "-i", str(routine_csv), "-o", str(tmp_path / "o.csv"), *args,
                 cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert f"error: {option}: input should be greater than or equal to" in run.stderr
    assert f"(params key {key})" in run.stderr
    assert "command line:" not in run.stderr


def test_train_predictors_error_names_the_option(tmp_path):
    run = resorb("train", "--synthetic", "100", "--predictors", "bogus", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "error: --predictors: 'bogus' is neither a predictor set nor a predictor" in run.stderr


def test_set_errors_still_name_the_key(routine_csv, tmp_path):
    run = resorb("--set", "scoring.explain=-1", "score", "-i", str(routine_csv), "-o",
                 str(tmp_path / "o.csv"), cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "command line: 'scoring.explain' input should be" in run.stderr
