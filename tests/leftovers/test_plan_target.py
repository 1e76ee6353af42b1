"""``resorb plan --target-value`` is range-checked before anything runs."""

from __future__ import annotations

import pytest

from resorb.errors import ConfigError
from resorb.planning import Target
from tests.leftovers.conftest import run


@pytest.mark.slow
@pytest.mark.parametrize(("metric", "value", "words"), [
    ("calibration_slope", "5", "the calibration_slope target must be in (0, 1]"),
    ("calibration_slope", "0", "the calibration_slope target must be in (0, 1]"),
    ("auroc", "0.3", "the auroc target must be in (0.5, 1)"),
    ("auroc", "1", "the auroc target must be in (0.5, 1)"),
    ("mape", "1.5", "the mape target must be in (0, 1)"),
    ("mape", "nan", "the mape target must be in (0, 1)"),
])
def test_target_value_out_of_range_exits_2_and_writes_nothing(tmp_path, metric, value, words):
    result = run("plan", "--target-metric", metric, "--target-value", value, "--out", "p",
                 "--plot", "c.png", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert words in result.stderr
    assert "--target-value" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("metric", "value"), [
    ("calibration_slope", 1.2), ("auroc", 0.5), ("mape", -0.1), ("mape", float("inf"))])
def test_target_refuses_values_outside_the_range(metric, value):
    with pytest.raises(ConfigError, match=f"the {metric} target must be in"):
        Target(metric, value)


@pytest.mark.parametrize(("metric", "value"), [
    ("calibration_slope", 1.0), ("calibration_slope", 0.9), ("auroc", 0.7), ("mape", 0.05)])
def test_target_accepts_values_in_range(metric, value):
    assert Target(metric, value).value == value
