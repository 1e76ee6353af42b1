"""Fitted candidates and rows shared by the explain tests (each fitted once per session)."""

from __future__ import annotations

import warnings

import pytest

from resorb.features import model_input
from resorb.models import CandidateSpec, build_model
from tests.factories import random_canonical

CASES = {
    "logistic": CandidateSpec(kind="logistic"),
    "hist_gradient_boosting": CandidateSpec(kind="hist_gradient_boosting",
                                            params={"max_iter": 30}),
    "random_forest": CandidateSpec(kind="random_forest",
                                   params={"n_estimators": 8, "min_samples_leaf": 10}),
    "calibrated_logistic": CandidateSpec(kind="logistic", calibration="isotonic"),
    "calibrated_hist_gradient_boosting": CandidateSpec(
        kind="hist_gradient_boosting", params={"max_iter": 20}, calibration="sigmoid"),
    "mixture_cure": CandidateSpec(kind="mixture_cure"),
    "calibrated_mixture_cure": CandidateSpec(kind="mixture_cure", calibration="isotonic"),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Fit and predict single-threaded: OpenMP threads on a busy machine cost more than they win."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def training():
    frame = random_canonical(600, seed=1)
    return model_input(frame), frame["resorbed"].to_numpy(dtype=int)


@pytest.fixture(scope="session")
def rows():
    """Rows to explain, with an index that is not 0..n-1."""
    X = model_input(random_canonical(120, seed=2))
    return X.set_axis(X.index + 1000)


@pytest.fixture(scope="session")
def fitted(training):
    """Fit each case once per session."""
    X, y = training
    cache: dict[str, object] = {}

    def get(case: str):
        if case not in cache:
            cache[case] = build_model(CASES[case], seed=0).fit(X, y)
        return cache[case]

    return get


@pytest.fixture(scope="session")
def shap():
    with warnings.catch_warnings():
        # shap's colour maps call a matplotlib function that is pending deprecation
        warnings.filterwarnings("ignore", message=r"The set_(bad|over|under) function",
                                category=PendingDeprecationWarning)
        import shap
    return shap
