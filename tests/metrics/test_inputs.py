"""resorb.metrics.inputs: argument errors shared by every metric, and the package's surface."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from resorb import metrics
from resorb.errors import TrainingError

NEEDS_BOTH_CLASSES = [*metrics.METRICS.values(), metrics.metric_table,
                      metrics.calibration_errors, metrics.calibration_intercept_slope,
                      lambda y, p: metrics.bootstrap_metrics(y, p, n_boot=2)]


@pytest.mark.parametrize("fn", NEEDS_BOTH_CLASSES)
@pytest.mark.parametrize(("value", "message"), [
    (0, r"the outcome has no events \(all 0\): AUROC and calibration are undefined"),
    (1, r"the outcome has only events \(all 1\)"),
])
def test_single_class_outcome_is_a_training_error(fn, value, message):
    if fn in (metrics.brier, metrics.log_loss):
        assert math.isfinite(fn(np.full(4, value), np.full(4, 0.3)))  # defined for one class
        return
    with pytest.raises(TrainingError, match=message):
        fn(np.full(4, value), np.array([0.1, 0.2, 0.3, 0.4]))


BAD_INPUT = [
    ([0, 1, 1], [0.2, 0.5], "same length; got 3 outcomes and 2 predictions"),
    ([0, 2, 1], [0.2, 0.5, 0.1], r"0/1 outcomes; found 2 at positions 1 \(0-based\)"),
    ([0, 1, 1], [0.2, 1.5, np.nan], r"2 values outside \[0, 1\] or missing at positions 1, 2"),
    ([], [], "empty"),
]


@pytest.mark.parametrize(("y", "p", "message"), BAD_INPUT)
def test_bad_input_is_a_value_error(y, p, message):
    with pytest.raises(ValueError, match=message):
        metrics.auroc(np.array(y), np.array(p))


@pytest.mark.parametrize(("call", "message"), [
    (lambda y, p: metrics.net_benefit(y, p, [0.0, 0.5]), "strictly between 0 and 1"),
    (lambda y, p: metrics.net_benefit(y, p, [1.0]), "strictly between 0 and 1"),
    (lambda y, p: metrics.bootstrap_metrics(y, p, n_boot=0), "n_boot must be a positive"),
    (lambda y, p: metrics.bootstrap_metrics(y, p, seed=1.5), "seed must be a non-negative"),
    (lambda y, p: metrics.bootstrap_metrics(y, p, alpha=5), r"alpha must be in \(0, 1\)"),
    (lambda y, p: metrics.bootstrap_metrics(y, p, groups=[1, 2]), "one label per row"),
    (lambda y, p: metrics.smoothed_calibration_curve(y, p, frac=0), r"frac must be in \(0"),
    (lambda y, p: metrics.minimum_sample_size(10, 0.3, r2_cs=0.1, c_statistic=0.7),
     "not both"),
    (lambda y, p: metrics.minimum_sample_size(10, 0.3, r2_cs=0.8), "below the maximum"),
    (lambda y, p: metrics.minimum_sample_size(0, 0.3), "n_parameters must be a positive"),
    (lambda y, p: metrics.minimum_sample_size(10, 1.3), r"prevalence must be in \(0, 1\)"),
])
def test_parameter_errors(small, call, message):
    y, p = small
    with pytest.raises(ValueError, match=message):
        call(y, p)


def test_public_api():
    for name in metrics.__all__:
        assert not name.startswith("_") and getattr(metrics, name) is not None, name
    # model performance is "metrics"; "validation" is kept for checks of the data
    for old in ("resorb.validation", "resorb.calibration", "resorb.cohort.calibration"):
        assert importlib.util.find_spec(old) is None, old
