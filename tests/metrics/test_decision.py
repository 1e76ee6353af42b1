"""resorb.metrics.decision: net benefit of offering watchful waiting (decision curves)."""

from __future__ import annotations

import numpy as np
import pytest

from resorb import metrics


def test_net_benefit_by_hand():
    # n = 5, events at rows 0, 1, 4 (prevalence .6).
    # t = .5 (odds 1): offered rows 0, 1, 2 -> TP 2, FP 1 -> 2/5 - 1/5 * 1 = .2;
    #   treat all .6 - .4 * 1 = .2.
    # t = .25 (odds 1/3): offered rows 0, 1, 2, 4 -> TP 3, FP 1 -> 3/5 - 1/5 / 3 = .5333;
    #   treat all .6 - .4 / 3 = .4667.
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.6, 0.7, 0.2, 0.3])
    curve = metrics.net_benefit(y, p, [0.25, 0.5])
    assert list(curve.columns) == ["threshold", "model", "treat_all", "treat_none"]
    np.testing.assert_allclose(curve["model"], [3 / 5 - 1 / 15, 0.2])
    np.testing.assert_allclose(curve["treat_all"], [0.6 - 0.4 / 3, 0.2])
    assert (curve["treat_none"] == 0).all()


@pytest.mark.parametrize("prevalence", [0.1, 0.33, 0.7])
def test_net_benefit_reference_strategies(prevalence):
    rng = np.random.default_rng(3)
    y = (rng.uniform(size=500) < prevalence).astype(int)
    t = np.linspace(0.05, 0.95, 19)
    prev = y.mean()
    everyone = metrics.net_benefit(y, np.ones(500), t)  # everyone offered watchful waiting
    nobody = metrics.net_benefit(y, np.zeros(500), t)
    np.testing.assert_allclose(everyone["model"], prev - (1 - prev) * t / (1 - t))
    np.testing.assert_allclose(everyone["model"], everyone["treat_all"])
    np.testing.assert_allclose(nobody["model"], 0.0)
