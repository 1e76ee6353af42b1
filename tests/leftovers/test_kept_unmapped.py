"""``drop_unmapped: false`` keeps a mapping's unmapped columns in the frame; ``validate``
reports them as it reports unknown columns of a file without a mapping (docs/hardening.md)."""

from __future__ import annotations

import pytest

from tests.leftovers.conftest import run

TYPO = ("[unknown_column] 'rim_enhancment' is not in the data dictionary, and "
        "'rim_enhancement', which is, is absent: did you mean 'rim_enhancement'?")


@pytest.fixture
def kept(tmp_path, cohort):
    """A file under other names for age, a typo of rim_enhancement and an extra column,
    read through a mapping that keeps every unmapped column."""
    cohort.rename(columns={"age": "Alter", "rim_enhancement": "rim_enhancment"}).assign(
        ward="A").to_csv(tmp_path / "f.csv", index=False)
    (tmp_path / "m.yaml").write_text("columns:\n  age: {from: Alter}\ndrop_unmapped: false\n")
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("purpose", ["training", "any"])
def test_a_kept_typo_is_flagged_and_the_others_noted(kept, purpose):
    result = run("validate", "f.csv", "--mapping", "m.yaml", "--purpose", purpose, cwd=kept)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "kept 2 unmapped source columns under their own names: rim_enhancment, ward" \
        in result.stdout
    assert TYPO in result.stderr
    assert "every command ignores 1 column not in the data dictionary: 'ward'" in result.stderr


@pytest.mark.slow
def test_scoring_names_them_as_score_does(kept):
    result = run("validate", "f.csv", "--mapping", "m.yaml", "--purpose", "scoring", cwd=kept)
    assert result.returncode == 0, result.stderr
    assert ("scoring ignores 2 columns not in the data dictionary: 'rim_enhancment' (did "
            "you mean 'rim_enhancement'?), 'ward'") in result.stderr


@pytest.mark.slow
def test_the_same_file_without_the_typo_passes(kept, cohort):
    cohort.rename(columns={"age": "Alter"}).assign(ward="A").to_csv(kept / "f.csv",
                                                                    index=False)
    result = run("validate", "f.csv", "--mapping", "m.yaml", "--purpose", "training",
                 cwd=kept)
    assert result.returncode == 0, result.stderr
    assert "every command ignores 1 column not in the data dictionary: 'ward'" in result.stderr
