"""A command that replaces an existing output says so in one line on stderr, and still
replaces it (scripts rely on that); a failed run leaves the old output and says nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import FAST_PARAMS
from tests.leftovers.conftest import run

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"


def _notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "replaced the existing" in line]


def test_cohort_generate_notes_the_file_it_replaced(tmp_path):
    first = run("cohort", "generate", "--n", "40", "--seed", "1", "--out", "c.csv",
                cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert _notes(first.stderr) == []
    before = (tmp_path / "c.csv").read_bytes()
    second = run("cohort", "generate", "--n", "30", "--seed", "2", "--out", "c.csv",
                 cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert _notes(second.stderr) == ["note: replaced the existing file c.csv"]
    assert (tmp_path / "c.csv").read_bytes() != before  # replaced, as before
    assert len((tmp_path / "c.csv").read_text().splitlines()) == 31


@pytest.mark.slow
def test_score_notes_the_file_it_replaced_and_a_failed_run_does_not(tmp_path):
    assert run("cohort", "generate", "--n", "30", "--out", "c.csv", cwd=tmp_path).returncode == 0
    first = run("score", "-i", "c.csv", "-o", "s.csv", "--explain", "0", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert _notes(first.stderr) == []
    second = run("score", "-i", "c.csv", "-o", "s.csv", "--explain", "0", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert _notes(second.stderr) == ["note: replaced the existing file s.csv"]
    # a refused input writes nothing and replaces nothing: no note
    kept = (tmp_path / "s.csv").read_bytes()
    (tmp_path / "bad.csv").write_text("age\n50\n")
    third = run("score", "-i", "bad.csv", "-o", "s.csv", cwd=tmp_path)
    assert third.returncode == 2, third.stderr
    assert _notes(third.stderr) == []
    assert (tmp_path / "s.csv").read_bytes() == kept


@pytest.mark.slow
def test_evaluate_notes_the_folder_it_replaced(tmp_path):
    args = ("--params", str(FAST_PARAMS), "evaluate", "--model", str(REFERENCE),
            "--synthetic", "300", "--seed", "7",
            "--out", "ev", "--no-track")
    first = run(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert _notes(first.stderr) == []
    (tmp_path / "ev" / "metrics.csv").write_text("edited by hand\n")
    second = run(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert _notes(second.stderr) == ["note: replaced the existing folder ev"]
    assert (tmp_path / "ev" / "metrics.csv").read_text() != "edited by hand\n"
