"""resorb.metrics.weighted: the one weighted core behind the plain and the bootstrap metrics."""

from __future__ import annotations

import numpy as np
import pytest

from resorb import metrics
from resorb.metrics import weighted


def test_local_linear_smoother_reproduces_a_line():
    # a local linear fit is exact for a linear mean, whatever the kernel weights
    p = np.linspace(0.05, 0.95, 301)
    y = 0.1 + 0.6 * p
    fitted = weighted.local_linear(y, p, np.ones((2, p.size)), np.array([0.1, 0.5, 0.9]), 0.3)
    np.testing.assert_allclose(fitted, np.tile(0.1 + 0.6 * np.array([0.1, 0.5, 0.9]), (2, 1)))


def test_integer_weights_equal_repeated_rows(small):
    # a row of weights is a resample: weight k counts like k copies of the row
    y, p = small
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, y.size)
    w = np.vstack([np.ones(y.size), counts]).astype(float)
    values = weighted.evaluate(y.astype(float), p, w)
    assert list(values) == list(metrics.METRICS)
    plain = metrics.metric_table(y, p)
    rows = np.repeat(np.arange(y.size), counts)
    repeated = metrics.metric_table(y[rows], p[rows])
    for name in metrics.METRICS:
        assert values[name][0] == pytest.approx(plain[name], rel=1e-12, abs=1e-12), name
        # the ICI of weighted rows keeps the unweighted smoother window: close, not identical
        tol = 0.005 if name == "ici" else 1e-8
        assert values[name][1] == pytest.approx(repeated[name], abs=tol), name


def test_net_benefit_weights_of_ones_match_the_decision_curve(small):
    y, p = small
    t = np.array([0.2, 0.5])
    curve = metrics.net_benefit(y, p, t)
    np.testing.assert_allclose(
        weighted.net_benefit(y.astype(float), p, t, weighted.unit_weights(y.size))[0],
        curve["model"])
