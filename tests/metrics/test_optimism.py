"""resorb.metrics.optimism: Harrell's optimism-corrected bootstrap of a whole pipeline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from resorb import metrics


def noise_frame(n: int, k: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Predictors unrelated to the outcome: any apparent performance is overfitting."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, k)), columns=[f"noise_{i}" for i in range(k)],
                     index=rng.permutation(n) + 1000)
    return X, rng.integers(0, 2, n)


def logistic_fit_predict(X_train, y_train, X_eval):
    model = LogisticRegression(C=1e4, solver="newton-cholesky").fit(X_train, y_train)
    return model.predict_proba(X_eval)[:, 1]


def nearest_neighbour_fit_predict(X_train, y_train, X_eval):
    return KNeighborsClassifier(n_neighbors=1).fit(X_train, y_train).predict_proba(X_eval)[:, 1]


def test_optimism_removes_overfitting_on_noise():
    X, y = noise_frame(200, 20)
    before = X.copy()
    calls = []
    result = metrics.optimism_corrected(logistic_fit_predict, X, y, n_boot=40, seed=0,
                                        progress=lambda i, n: calls.append((i, n)))
    pd.testing.assert_frame_equal(X, before)
    assert calls == [(i, 40) for i in range(1, 41)]
    assert list(result.columns) == ["metric", "apparent", "optimism", "corrected",
                                    "ci_low", "ci_high"]
    row = result.set_index("metric")
    assert row.loc["auroc", "apparent"] > 0.62
    assert row.loc["auroc", "optimism"] > 0.08
    # Harrell's correction slightly under-corrects heavy overfitting: near 0.5, not at it
    assert row.loc["auroc", "corrected"] == pytest.approx(0.5, abs=0.08)
    # an unpenalised logistic model is calibrated on its own data by construction...
    assert row.loc["calibration_slope", "apparent"] == pytest.approx(1.0, abs=1e-3)
    # ...and needs strong shrinkage on new data
    assert row.loc["calibration_slope", "corrected"] < 0.7
    pd.testing.assert_frame_equal(
        result, metrics.optimism_corrected(logistic_fit_predict, X, y, n_boot=40, seed=0))


def test_optimism_of_an_interpolating_model_is_underestimated():
    # Known limit of Harrell's bootstrap: a 1-NN model refitted on a resample has seen ~63% of
    # the original rows, so its "test" AUROC is far above 0.5 and the corrected AUROC stays
    # near 0.8 on pure noise. The docstring tells users to cross-validate such learners.
    X, y = noise_frame(150, 5)
    row = metrics.optimism_corrected(nearest_neighbour_fit_predict, X, y, n_boot=20,
                                     seed=0).set_index("metric")
    assert row.loc["auroc", "apparent"] == 1.0
    assert row.loc["auroc", "optimism"] > 0.1
    assert row.loc["auroc", "corrected"] > 0.7
    assert row.loc["calibration_slope", "apparent"] == math.inf


def test_optimism_rejects_a_bad_fit_predict():
    X, y = noise_frame(50, 2)
    with pytest.raises(ValueError, match="fit_predict must return 50 probabilities"):
        metrics.optimism_corrected(lambda a, b, c: np.zeros(3), X, y, n_boot=2)


def test_a_resample_with_an_infinite_slope_leaves_only_that_metrics_mean():
    """A refit that separates its resample (slope +inf) must not make the corrected slope
    -inf: that resample leaves the slope's mean, and every other metric keeps it."""
    X, y = noise_frame(60, 2, seed=3)
    calls = []

    def sometimes_separating(X_train, y_train, X_eval):
        calls.append(len(calls))
        if len(calls) == 3:  # the second resample: predictions that are the outcome itself
            lookup = dict(zip(X_train["noise_0"], y_train, strict=False))
            return np.array([0.99 if lookup.get(v, 0) else 0.01 for v in X_eval["noise_0"]])
        return logistic_fit_predict(X_train, y_train, X_eval)

    row = metrics.optimism_corrected(sometimes_separating, X, y, n_boot=8,
                                     seed=0).set_index("metric")
    assert math.isfinite(row.loc["calibration_slope", "corrected"])
    assert math.isfinite(row.loc["auroc", "corrected"])
