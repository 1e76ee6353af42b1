"""``resorb cohort fit --preset other_hospital``: its intercept solved against its target."""

from __future__ import annotations

import re

import pytest

from resorb.cohort import PRESETS, fidelity, load_cohort_params, make_cohort, with_followup
from resorb.cohort.fitting import FREE, _set
from tests.leftovers.conftest import run


def test_every_preset_has_free_parameters_to_fit():
    # `cohort fit --preset P` offers every preset; each must name what it solves
    assert set(FREE) == set(PRESETS)


@pytest.mark.slow
def test_cli_fits_the_other_hospital_intercept_to_its_target(tmp_path):
    result = run("cohort", "fit", "--preset", "other_hospital", "--n", "20000", "--seed", "3",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.fullmatch(r"resorption\.intercept: (-?[0-9.]+)\n", result.stdout)
    assert match, result.stdout
    intercept = float(match.group(1))
    params = load_cohort_params("other_hospital")
    # the hand-solved value in params.yaml is recovered
    assert intercept == pytest.approx(params.resorption.intercept, abs=0.1)
    # and, on fresh draws (another seed), the target it was fitted to is met
    (target,) = params.targets
    fitted = with_followup(_set(params, {"resorption.intercept": intercept}),
                           target.horizon_days)
    frame = make_cohort(20_000, 11, params=fitted)
    drawn = fidelity.evaluate(target, frame, fitted)[0]
    assert drawn == pytest.approx(target.published, abs=target.tolerance / 2)
    # a visibly wrong intercept misses it: the check can fail
    wrong = with_followup(_set(params, {"resorption.intercept": intercept + 1.0}),
                          target.horizon_days)
    missed = fidelity.evaluate(target, make_cohort(20_000, 11, params=wrong), wrong)[0]
    assert abs(missed - target.published) > target.tolerance
