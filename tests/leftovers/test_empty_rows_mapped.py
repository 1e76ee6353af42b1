"""An Excel export's trailing ``;;;;`` rows stay empty rows through a mapping that fills
a constant, recodes empty cells or derives a column (docs/hardening.md): ``validate`` and
``train`` refuse them as one problem naming the rows, ``score`` rejects each as "empty row",
as they do without a mapping. Real ``resorb`` processes on a real file and mapping file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.leftovers.conftest import run

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"
ROUTINE = Path(__file__).resolve().parents[2] / "models" / "routine"

#: every kind of rule that writes a value the source row does not hold
MAPPING = """\
dialect: {separator: ";"}
columns:
  patient_id: {from: "Pat-ID"}
  site: {value: Hospital A}                                  # a constant
  cauda_equina: {from: "CES", values: {1: true, 0: false, "": false}}   # empty -> a value
derive:
  symptom_duration_days:
    method: days_between
    from: {start: "Onset", end: baseline_date}
"""


def export(cohort: pd.DataFrame) -> pd.DataFrame:
    """The cohort under the export's names: an onset date instead of a duration, CES coded
    1/0 with an empty cell for "not recorded"."""
    frame = cohort.copy()
    frame["baseline_date"] = frame["baseline_date"].fillna(pd.Timestamp("2020-06-01"))
    onset = frame["baseline_date"] - pd.to_timedelta(frame["symptom_duration_days"], "D")
    ces = frame["cauda_equina"].map({True: "1", False: ""}).astype(object)
    ces.iloc[::3] = np.where(frame["cauda_equina"].iloc[::3], "1", "0")
    frame = frame.drop(columns=["symptom_duration_days", "cauda_equina"]).rename(
        columns={"patient_id": "Pat-ID"})
    return frame.assign(CES=ces, Onset=onset.dt.strftime("%Y-%m-%d"),
                        baseline_date=frame["baseline_date"].dt.strftime("%Y-%m-%d"))


@pytest.fixture(scope="module")
def files(cohort, tmp_path_factory) -> Path:
    """``export.csv``: 200 rows then 2 rows of 37 empty ';'-separated cells;
    ``whole.csv``: the same 200 rows without them; ``mapping.yaml``."""
    folder = tmp_path_factory.mktemp("excel_mapped")
    frame = export(cohort)
    frame.to_csv(folder / "whole.csv", index=False, sep=";")
    frame.to_csv(folder / "export.csv", index=False, sep=";")
    with (folder / "export.csv").open("a", encoding="utf-8") as f:
        f.write((";" * (frame.shape[1] - 1) + "\n") * 2)
    (folder / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return folder


@pytest.mark.slow
def test_the_rows_without_the_empty_ones_are_valid(files):
    """The control: the mapping fills nothing wrong into the 200 filled rows."""
    result = run("validate", "whole.csv", "--mapping", "mapping.yaml", "--purpose",
                 "training", cwd=files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "site = 'Hospital A' (fixed value" in result.stdout
    assert "valid: 200 rows" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    ("validate", "export.csv"),
    ("validate", "export.csv", "--purpose", "training"),
    ("validate", "export.csv", "--model", str(ROUTINE)),
    ("train", "--data", "export.csv"),
    ("train", "--data", "export.csv", "--predictors", "routine"),
], ids=["validate", "validate-training", "validate-model", "train", "train-routine"])
def test_validate_and_train_refuse_them_as_one_problem_naming_the_rows(files, command,
                                                                       tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("export.csv", "mapping.yaml"):
        (folder / name).write_bytes((files / name).read_bytes())
    result = run(*command, "--mapping", "mapping.yaml", cwd=folder)
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    assert "Traceback" not in text
    assert "rows 201-202 are entirely empty, probably spreadsheet export leftovers" in text
    assert "invalid: 1 problem, 2 of 202 rows affected" in text
    assert "missing value" not in text  # not one problem per required column
    assert "not derived" not in text
    assert sorted(p.name for p in folder.iterdir()) == ["export.csv", "mapping.yaml"]


@pytest.mark.slow
def test_score_rejects_each_as_an_empty_row_and_scores_the_others_as_before(files, tmp_path):
    scored = {}
    for name in ("export", "whole"):
        result = run("score", "-i", f"{name}.csv", "--mapping", "mapping.yaml", "-o",
                     str(tmp_path / f"{name}.parquet"), "--model", str(REFERENCE),
                     "--explain", "2", cwd=files)
        assert result.returncode == (3 if name == "export" else 0), result.stderr
        assert "Traceback" not in result.stderr
        scored[name] = pd.read_parquet(tmp_path / f"{name}.parquet")
    out = scored["export"]
    assert len(out) == 202  # one output row per input row
    assert out["status"].tolist() == ["scored"] * 200 + ["rejected"] * 2
    assert out["reason"].iloc[200:].tolist() == ["empty row", "empty row"]
    assert out["site"].iloc[200:].isna().all()  # no constant written into an empty row
    # a column holding nulls reads back as float: the values, not the dtype, must match
    pd.testing.assert_frame_equal(out.iloc[:200], scored["whole"], check_dtype=False)


@pytest.mark.slow
def test_score_summary_counts_them_as_empty_rows(files, tmp_path):
    result = run("score", "-i", "export.csv", "--mapping", "mapping.yaml", "-o",
                 str(tmp_path / "s.csv"), "--model", str(REFERENCE), "--explain", "0",
                 cwd=files)
    assert result.returncode == 3, result.stderr
    text = result.stdout + result.stderr
    assert "202 rows in = 200 scored + 2 rejected" in text
    assert "commonest reasons: empty row (2)" in text
