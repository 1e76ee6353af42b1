"""``resorb update --strict`` refuses an undersized update as ``train --strict`` does."""

from __future__ import annotations

import re

import pytest

from resorb.cohort import make_cohort
from tests.factories import FAST_PARAMS
from tests.leftovers.conftest import run


def _write(folder, rows: int) -> None:
    make_cohort(n=rows, seed=4, preset="other_hospital").to_csv(folder / "new.csv",
                                                                index=False)


def _left(folder) -> set[str]:
    return {p.name for p in folder.iterdir()} - {"new.csv"}


def test_strict_refuses_an_undersized_refit_before_any_fit(tmp_path):
    _write(tmp_path, 40)
    result = run("--params", str(FAST_PARAMS), "update", "--data", "new.csv", "--method",
                 "refit", "--strict", "--out", "upd", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    found = re.search(r"--strict: below the minimum sample size for updating by --method "
                      r"refit \((\d+) parameters\)\. Riley minimum sample size: ([\d,]+) rows",
                      text)
    assert found, text
    assert int(found.group(2).replace(",", "")) > 40
    assert "Recalibration in the large (--method intercept, 1 parameter) needs" in text
    assert "warning: below" not in text  # refused, not warned
    assert _left(tmp_path) == set()  # no store, no run, no model folder


@pytest.mark.slow
def test_strict_refuses_the_closed_tests_choice_when_it_is_undersized(tmp_path):
    # alpha 0.999: the closed test rejects keeping the parent on almost any data, so it
    # chooses an update that 60 rows cannot support (Riley: 342 rows for the intercept)
    _write(tmp_path, 60)
    result = run("--params", str(FAST_PARAMS), "update", "--data", "new.csv", "--alpha",
                 "0.999", "--strict", "--out", "upd", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    found = re.search(r"--strict: the closed test chose (\w+); below the minimum sample size "
                      r"for updating by --method \1 ", text)
    assert found, text
    assert "closed testing procedure" in result.stdout  # refused after the test, not before
    assert _left(tmp_path) == set()


@pytest.mark.slow
def test_strict_lets_an_adequate_update_through(tmp_path):
    _write(tmp_path, 600)
    result = run("--params", str(FAST_PARAMS), "update", "--data", "new.csv", "--method",
                 "intercept", "--strict", "--no-register", "--out", "upd", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "minimum sample size" not in result.stderr
    assert (tmp_path / "upd" / "MLmodel").is_file()
