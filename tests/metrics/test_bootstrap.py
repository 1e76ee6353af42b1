"""resorb.metrics.bootstrap: resamples, percentile intervals and paired differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from resorb import metrics


def test_bootstrap_is_deterministic_and_contains_the_estimate(small):
    y, p = small
    first = metrics.bootstrap_metrics(y, p, n_boot=60, seed=7)
    assert list(first.columns) == ["metric", "estimate", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(first, metrics.bootstrap_metrics(y, p, n_boot=60, seed=7))
    assert not first.equals(metrics.bootstrap_metrics(y, p, n_boot=60, seed=8))
    assert (first["ci_low"] <= first["estimate"]).all()
    assert (first["estimate"] <= first["ci_high"]).all()
    assert (first["ci_low"] < first["ci_high"]).all()
    estimates = metrics.metric_table(y, p)
    np.testing.assert_allclose(first["estimate"], list(estimates.values()))


def test_resamples_are_stratified_and_stable(small):
    y, _ = small
    ten = list(metrics.bootstrap_indices(y, n_boot=10, seed=3))
    five = list(metrics.bootstrap_indices(y, n_boot=5, seed=3))
    for rows in ten:
        assert rows.size == y.size and y[rows].sum() == y.sum()
    for a, b in zip(five, ten[:5], strict=True):  # resample b depends only on (seed, b)
        np.testing.assert_array_equal(a, b)


def test_weighted_replicates_equal_metrics_of_resampled_rows(small):
    y, p = small
    replicates = metrics.bootstrap_replicates(y, p, n_boot=4, seed=5)
    for b, rows in enumerate(metrics.bootstrap_indices(y, n_boot=4, seed=5)):
        direct = metrics.metric_table(y[rows], p[rows])
        for name, value in direct.items():
            # the bootstrap ICI keeps the full-sample smoother window: close, not identical
            tol = 0.005 if name == "ici" else 1e-8
            assert replicates.loc[b, name] == pytest.approx(value, abs=tol), name


def test_cluster_bootstrap(small):
    y, p = small
    groups = np.arange(y.size) // 3  # e.g. three herniation levels per patient
    result = metrics.bootstrap_metrics(y, p, n_boot=50, seed=0, groups=groups)
    pd.testing.assert_frame_equal(result, metrics.bootstrap_metrics(y, p, n_boot=50, seed=0,
                                                                    groups=groups))
    for rows in metrics.bootstrap_indices(y, n_boot=3, seed=0, groups=groups):
        counts = np.bincount(rows, minlength=y.size).reshape(-1, 3)
        assert (counts == counts[:, :1]).all()  # a patient's rows are drawn together


def test_paired_difference_of_a_model_with_itself_is_zero(small):
    y, p = small
    diff = metrics.paired_bootstrap_difference(y, p, p.copy(), n_boot=50, seed=0)
    assert list(diff.columns) == ["metric", "difference", "ci_low", "ci_high"]
    assert np.allclose(diff[["difference", "ci_low", "ci_high"]].to_numpy(), 0.0)


def test_paired_difference_detects_a_better_model(small):
    y, p = small
    noisy = expit(logit(p) + np.random.default_rng(0).normal(0, 2, p.size))
    diff = metrics.paired_bootstrap_difference(y, p, noisy, n_boot=60, seed=0)
    diff = diff.set_index("metric")
    assert diff.loc["auroc", "ci_low"] > 0  # a - b: the true risks discriminate better
    assert diff.loc["brier", "ci_high"] < 0
    expected = metrics.auroc(y, p) - metrics.auroc(y, noisy)
    assert diff.loc["auroc", "difference"] == pytest.approx(expected)


def test_bootstrap_net_benefit(small):
    y, p = small
    t = [0.2, 0.4, 0.6]
    result = metrics.bootstrap_net_benefit(y, p, t, n_boot=60, seed=0)
    assert list(result.columns) == ["threshold", "model", "ci_low", "ci_high", "treat_all"]
    point = metrics.net_benefit(y, p, t)
    np.testing.assert_allclose(result["model"], point["model"])
    np.testing.assert_allclose(result["treat_all"], point["treat_all"])
    assert (result["ci_low"] <= result["model"]).all()
    assert (result["model"] <= result["ci_high"]).all()
