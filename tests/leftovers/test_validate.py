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


def _outcome_only(frame, **values):
    """The cohort with its outcome given only as ``resorbed`` (set to ``values``)."""
    return frame.drop(columns=["volume_followup_mm3", "resorption_grade"]).assign(**values)


@pytest.mark.slow
@pytest.mark.parametrize(("resorbed", "words"), [
    (True, "no non-events (all resorbed)"),
    (False, "no events (nothing resorbed)"),
])
def test_training_file_with_one_outcome_class_is_refused(tmp_path, cohort, resorbed, words):
    _outcome_only(cohort, resorbed=resorbed).to_csv(tmp_path / "f.csv", index=False)
    usable = int((~cohort["surgery"].astype(bool)).sum())
    result = run("validate", "f.csv", "--purpose", "training", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (f"[one_outcome_class] 'resorbed' has one outcome class only: {words} among "
            f"{usable} labelled rows") in result.stderr
    assert "training needs both outcomes" in result.stderr
    # the same file is fine for scoring, which needs no outcome
    assert run("validate", "f.csv", "--purpose", "scoring", cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_training_file_without_an_observed_outcome_is_refused(tmp_path, cohort):
    _outcome_only(cohort).drop(columns=["resorbed"]).to_csv(tmp_path / "f.csv", index=False)
    result = run("validate", "f.csv", "--purpose", "training", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "[no_outcome] 'resorbed' gives no row an observed outcome" in result.stderr


@pytest.mark.slow
def test_training_file_with_both_outcomes_passes(tmp_path, cohort):
    frame = _outcome_only(cohort)
    assert frame["resorbed"].nunique() == 2
    frame.to_csv(tmp_path / "f.csv", index=False)
    result = run("validate", "f.csv", "--purpose", "training", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid: 200 rows" in result.stdout
