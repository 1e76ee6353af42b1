"""resorb.metrics.discrimination: AUROC, AUPRC, Brier, scaled Brier, log loss, metric_table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from resorb import metrics

# ---------------------------------------------------------------- hand-computed examples

HAND = [
    # pairs (event, non-event): (.35,.1) win, (.35,.4) loss, (.8,.1) win, (.8,.4) win -> 3/4
    ("auroc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
    # events {.2,.6} vs non-events {.2,.6}: tie .5 + loss 0 + win 1 + tie .5 = 2 of 4 pairs
    ("auroc", [0, 1, 0, 1], [0.2, 0.2, 0.6, 0.6], 0.5),
    # descending p: .9 event (precision 1, recall .5), .8 non-event, .7 event (2/3, recall 1)
    # AP = .5 * 1 + .5 * 2/3
    ("auprc", [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 0.5 + 0.5 * 2 / 3),
    # ((0 - .2)^2 + (1 - .6)^2) / 2 = (.04 + .16) / 2
    ("brier", [0, 1], [0.2, 0.6], 0.1),
    # prevalence .5 -> reference Brier .25; 1 - .1 / .25
    ("scaled_brier", [0, 1], [0.2, 0.6], 0.6),
    # -(ln .8 + ln .6) / 2
    ("log_loss", [1, 0], [0.8, 0.4], -(math.log(0.8) + math.log(0.6)) / 2),
]


@pytest.mark.parametrize(("metric", "y", "p", "expected"), HAND,
                         ids=[f"{h[0]}-{i}" for i, h in enumerate(HAND)])
def test_hand_computed_metrics(metric, y, p, expected):
    value = metrics.METRICS[metric](np.array(y), np.array(p))
    assert value == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------- agreement with sklearn

SKLEARN = [
    ("auroc", skm.roc_auc_score),
    ("auprc", skm.average_precision_score),
    ("brier", skm.brier_score_loss),
    ("log_loss", skm.log_loss),
]


@pytest.mark.parametrize(("metric", "reference"), SKLEARN, ids=[s[0] for s in SKLEARN])
@pytest.mark.parametrize("decimals", [None, 1], ids=["continuous", "tied"])
@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_sklearn(bernoulli, metric, reference, decimals, seed):
    y, p = bernoulli(n=3000, seed=seed)
    p = np.clip(p, 0.01, 0.99) if decimals is None else np.clip(np.round(p, decimals), 0.05, 0.95)
    assert metrics.METRICS[metric](y, p) == pytest.approx(reference(y, p), rel=1e-10, abs=1e-12)


def test_metric_table_matches_metrics(small):
    y, p = small
    table = metrics.metric_table(y, p)
    assert list(table) == list(metrics.METRICS) == [
        "auroc", "auprc", "brier", "scaled_brier", "log_loss",
        "calibration_intercept", "calibration_slope", "ici"]
    for name, fn in metrics.METRICS.items():
        assert table[name] == pytest.approx(fn(y, p), rel=1e-9, abs=1e-12), name


def test_predictions_of_exactly_0_and_1_are_clipped():
    y = np.array([0, 1, 0, 1, 1, 0])
    p = np.array([0.0, 1.0, 0.3, 0.6, 0.4, 1.0])
    values = metrics.metric_table(y, p)
    assert all(np.isfinite(v) for v in values.values())
    # the confident miss (row 5) costs -ln(1e-8), the confident hits (rows 0, 1) nothing
    expected = (-math.log(1e-8) + 3 * metrics.log_loss(y[2:5], p[2:5])) / 6
    assert values["log_loss"] == pytest.approx(expected, rel=1e-6)
