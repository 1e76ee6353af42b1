"""Shared fixtures: small factory functions that build canonical frames."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    """Run the test inside an empty temporary working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def fast_params():
    """params.yaml with small bootstrap counts and small candidates, for quick tests."""
    from resorb.config import CandidateSpec, Params

    params = Params.default()
    training = params.training.model_copy(update={"n_boot": 30, "optimism_n_boot": 5,
                                                  "folds": 3})
    candidates = {
        "logistic": CandidateSpec(kind="logistic", params={"C": 1.0, "spline_knots": 4}),
        "hist_gradient_boosting": CandidateSpec(kind="hist_gradient_boosting",
                                                params={"max_iter": 40, "max_leaf_nodes": 8}),
        "random_forest": CandidateSpec(kind="random_forest", calibration="sigmoid",
                                       params={"n_estimators": 20, "min_samples_leaf": 10}),
    }
    return params.model_copy(update={"training": training, "candidates": candidates})
