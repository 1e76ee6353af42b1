"""A patient and level repeated in a file: refused by validate, rejected by score, same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resorb.intake.check import REPEATED_EPISODE, episode_keys, repeated_keys
from tests.leftovers.conftest import run

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"


def _with_repeats(cohort: pd.DataFrame) -> pd.DataFrame:
    """40 rows; rows 3 and 38 repeat row 1's episode (one in lower case), row 25 row 2's."""
    frame = cohort.head(40).reset_index(drop=True).copy()
    frame.loc[[2, 37], ["patient_id", "level"]] = frame.loc[0, ["patient_id", "level"]].values
    frame.loc[37, "level"] = frame.loc[0, "level"].lower()
    frame.loc[24, ["patient_id", "level"]] = frame.loc[1, ["patient_id", "level"]].values
    frame.loc[30, "patient_id"] = frame.loc[4, "patient_id"]  # same patient, other level
    if frame.loc[30, "level"] == frame.loc[4, "level"]:
        frame.loc[30, "level"] = "L3-L4" if frame.loc[4, "level"] != "L3-L4" else "L4-L5"
    return frame


def test_keys_are_canonical_and_missing_cells_never_repeat():
    frame = pd.DataFrame({"patient_id": ["a", "a", "b", None, None],
                          "level": ["L5-S1", " l5-s1", "L5-S1", "L4-L5", "L4-L5"]})
    keys = episode_keys(frame)
    assert keys[0] == keys[1] != keys[2]
    assert keys[3] == keys[4] == 0
    assert list(repeated_keys(keys)) == [keys[0]]
    assert episode_keys(frame.drop(columns="level")) is None


@pytest.mark.slow
@pytest.mark.parametrize("chunk_rows", ["7", "1000"])
def test_score_rejects_exactly_the_rows_validate_flags(tmp_path, cohort, chunk_rows):
    frame = _with_repeats(cohort)
    frame.to_csv(tmp_path / "in.csv", index=False)
    expected = [1, 2, 3, 25, 38]  # 1-based data rows
    checked = run("validate", "in.csv", "--purpose", "scoring", cwd=tmp_path)
    assert checked.returncode == 2, checked.stderr
    assert ("[duplicate_episode] 'patient_id' has 5 rows repeating the same patient and "
            "level (rows 1, 2, 3, 25, 38)") in checked.stderr
    scored = run("score", "-i", "in.csv", "-o", "out.csv", "--model", str(REFERENCE),
                 "--chunk-rows", chunk_rows, "--explain", "0", cwd=tmp_path)
    assert scored.returncode == 3, scored.stdout + scored.stderr
    assert "40 rows in = 35 scored + 5 rejected" in scored.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    rejected = np.flatnonzero(out["status"].eq("rejected").to_numpy()) + 1
    assert list(rejected) == expected
    assert set(out.loc[out["status"] == "rejected", "reason"]) == {REPEATED_EPISODE}
