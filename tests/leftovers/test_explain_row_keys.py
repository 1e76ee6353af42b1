"""``resorb explain --out``: every row carries its key (the identifiers present and
``source_row``), so the explanation joins back to the input; identifiers reach the user's
file only, never the tracking store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.leftovers.conftest import run

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"


@pytest.fixture(scope="module")
def hospital(tmp_path_factory, cohort):
    """The cohort under another name for age, read through a mapping whose filter keeps one
    site, so the frame's rows are not the file's."""
    folder = tmp_path_factory.mktemp("explain")
    cohort.rename(columns={"age": "Alter"}).to_csv(folder / "f.csv", index=False)
    site = cohort["site"].value_counts().index[0]
    (folder / "m.yaml").write_text(
        f"filter:\n  - column: site\n    equals: {site}\ncolumns:\n  age: {{from: Alter}}\n")
    return folder, site


@pytest.mark.slow
def test_each_explained_row_joins_back_to_its_input_row(hospital):
    folder, site = hospital
    result = run("explain", "--model", str(REFERENCE), "--data", "f.csv", "--mapping",
                 "m.yaml", "--rows", "10", "--seed", "3", "--out", "e.csv", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    source = pd.read_csv(folder / "f.csv")
    out = pd.read_csv(folder / "e.csv")
    assert list(out.columns[:4]) == ["patient_id", "site", "baseline_date", "source_row"]
    assert len(out) == 10 and out["source_row"].is_monotonic_increasing
    kept = np.flatnonzero(source["site"] == site) + 1
    assert set(out["source_row"]) <= set(kept)  # rows of the filtered file, not the frame
    joined = source.iloc[out["source_row"] - 1].reset_index(drop=True)
    for key in ("patient_id", "site", "baseline_date"):
        assert out[key].tolist() == joined[key].tolist(), key
    # the contributions are those of the joined rows: the age column moves with the age
    older = joined["Alter"] > joined["Alter"].median()
    assert out.loc[older, "age"].mean() != out.loc[~older, "age"].mean()
    # identifiers went to the user's file only: not into the tracking store
    store = [folder / "mlflow.db", *(p for p in (folder / "mlartifacts").rglob("*")
                                     if p.is_file())]
    blob = b"".join(p.read_bytes() for p in store)
    assert all(pid.encode() not in blob for pid in out["patient_id"])


def test_training_data_numbers_rows_as_the_file_does(tmp_path, cohort, fast_params):
    from resorb.jobs import load_training_data

    cohort.to_csv(tmp_path / "f.csv", index=False)
    whole = load_training_data(tmp_path / "f.csv", None, "literature", 0, params=fast_params)
    np.testing.assert_array_equal(whole.row_numbers, np.arange(1, len(cohort) + 1))
    site = cohort["site"].iloc[0]
    (tmp_path / "m.yaml").write_text(
        f"filter:\n  - column: site\n    equals: {site}\ncolumns:\n  age: {{from: age}}\n")
    expected = np.flatnonzero(cohort["site"] == site) + 1
    for params in (fast_params, fast_params.with_predictors(("age", "sex", "level"))):
        kept = load_training_data(tmp_path / "f.csv", None, "literature", 0,
                                  tmp_path / "m.yaml", params)
        np.testing.assert_array_equal(kept.row_numbers, expected)
        assert kept.frame["patient_id"].tolist() == \
            cohort["patient_id"].iloc[expected - 1].tolist()
