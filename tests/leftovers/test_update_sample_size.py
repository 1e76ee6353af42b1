"""``resorb update`` warns below Riley's minimum for what its method estimates."""

from __future__ import annotations

import re

import pytest

from resorb.cohort import make_cohort
from resorb.errors import InputError
from resorb.metrics import minimum_sample_size
from resorb.updating import REVISION_TERMS, update_parameters, update_sample_size
from tests.factories import FAST_PARAMS
from tests.leftovers.conftest import run


@pytest.mark.parametrize(("method", "k"), [
    ("intercept", 1), ("recalibrate", 2), ("revise", 2 + len(REVISION_TERMS)),
    ("auto", 2 + len(REVISION_TERMS))])
def test_parameters_of_each_method(method, k):
    assert update_parameters(method) == k


def test_refit_counts_the_candidate_and_unknown_methods_are_refused():
    assert update_parameters("refit", 40) == 40
    with pytest.raises(InputError, match="unknown updating method 'nope'"):
        update_parameters("nope")


def test_the_check_is_riley_at_the_methods_parameter_count():
    report = update_sample_size("recalibrate", 50, 15, c_statistic=0.75)
    need = minimum_sample_size(2, 15 / 50, c_statistic=0.75)
    assert report.required_n == need["required_n"]
    assert report.below_minimum and report.n_parameters == 2
    assert not update_sample_size("intercept", 5000, 1500, c_statistic=0.75).below_minimum


def _update(tmp_path, rows: int, method: str):
    make_cohort(n=rows, seed=4, preset="other_hospital").to_csv(tmp_path / "new.csv",
                                                                index=False)
    return run("--params", str(FAST_PARAMS), "update", "--data", "new.csv", "--method",
               method, "--no-register", "--out", "upd", cwd=tmp_path)


@pytest.mark.slow
def test_update_on_50_labelled_rows_warns_with_both_numbers(tmp_path):
    result = _update(tmp_path, 60, "recalibrate")
    assert result.returncode == 0, result.stdout + result.stderr
    used = int(re.search(r"(\d+) used \((\d+) resorbed\)", result.stdout).group(1))
    assert 40 <= used <= 60
    warning = re.search(r"warning: below the minimum sample size for updating by --method "
                        r"recalibrate \(2 parameters\)\. Riley minimum sample size: ([\d,]+) "
                        r"rows", result.stderr)
    assert warning, result.stderr
    assert int(warning.group(1).replace(",", "")) > used
    assert f"the data has {used} rows" in result.stderr
    assert "Recalibration in the large (--method intercept, 1 parameter) needs" in result.stderr
    assert not list(tmp_path.glob("mlflow.db"))


@pytest.mark.slow
def test_update_on_enough_rows_does_not_warn(tmp_path):
    result = _update(tmp_path, 600, "intercept")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "minimum sample size" not in result.stderr
