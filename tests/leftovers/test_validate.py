"""``resorb validate`` as a real process: unknown columns and the outcome of a training file."""

from __future__ import annotations

import pytest

from tests.leftovers.conftest import run


@pytest.mark.slow
@pytest.mark.parametrize("purpose", ["any", "training", "scoring"])
def test_extra_columns_are_a_note_for_every_purpose(tmp_path, cohort, purpose):
    cohort.assign(ward="A", notes="x").to_csv(tmp_path / "f.csv", index=False)
    result = run("validate", "f.csv", "--purpose", purpose, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "2 columns not in the data dictionary: 'ward', 'notes'" in result.stderr
    assert f"valid: 200 rows, 38 columns ({purpose})" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("purpose", ["any", "training"])
def test_a_likely_typo_of_an_absent_predictor_stays_an_error(tmp_path, cohort, purpose):
    # rim_enhancement is not required: without this rule the typo would be silently unused
    cohort.rename(columns={"rim_enhancement": "rim_enhancment"}).to_csv(tmp_path / "f.csv",
                                                                         index=False)
    result = run("validate", "f.csv", "--purpose", purpose, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert ("[unknown_column] 'rim_enhancment' is not in the data dictionary, and "
            "'rim_enhancement'") in result.stderr
    assert "did you mean 'rim_enhancement'? rename it" in result.stderr


@pytest.mark.slow
def test_scoring_still_ignores_a_typo_as_score_does(tmp_path, cohort):
    cohort.rename(columns={"rim_enhancement": "rim_enhancment"}).to_csv(tmp_path / "f.csv",
                                                                         index=False)
    result = run("validate", "f.csv", "--purpose", "scoring", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "'rim_enhancment' (did you mean 'rim_enhancement'?)" in result.stderr
