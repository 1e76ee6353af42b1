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
    from resorb.config import load_params

    params = load_params()
    training = dict(params.training)
    training.update(n_boot=30, optimism_n_boot=5, folds=3)
    training["candidates"] = {
        "logistic": {"kind": "logistic", "params": {"C": 1.0, "spline_knots": 4}},
        "hist_gradient_boosting": {"kind": "hist_gradient_boosting",
                                   "params": {"max_iter": 40, "max_leaf_nodes": 8}},
        "random_forest": {"kind": "random_forest", "calibration": "sigmoid",
                          "params": {"n_estimators": 20, "min_samples_leaf": 10}},
    }
    return params.model_copy(update={"training": training})
