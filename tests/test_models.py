"""Candidate models: every one is monotone in the horizon and reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from resorb.features import model_input
from resorb.models import CandidateSpec, build_model, predict_resorption
from tests.factories import random_canonical

SPECS = [
    CandidateSpec(kind="logistic", params={"C": 0.5}),
    CandidateSpec(kind="logistic", calibration="isotonic"),
    CandidateSpec(kind="hist_gradient_boosting", params={"max_iter": 50}),
    CandidateSpec(kind="hist_gradient_boosting", params={"max_iter": 50},
                  calibration="sigmoid"),
    CandidateSpec(kind="random_forest", params={"n_estimators": 30, "min_samples_leaf": 5}),
    CandidateSpec(kind="random_forest", params={"n_estimators": 30}, calibration="isotonic"),
]
HORIZONS = [1, 14, 30, 45, 60, 90, 120, 180, 270, 365, 540, 730, 1500, 3650]


@pytest.fixture(scope="module")
def data():
    frame = random_canonical(800, seed=3)
    return model_input(frame), frame["resorbed"].to_numpy(dtype=int)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.calibration}")
def test_probability_never_falls_as_the_horizon_grows(spec, data):
    X, y = data
    model = build_model(spec, seed=0).fit(X, y)
    rows = X.iloc[:150]
    curves = np.column_stack([predict_resorption(model, rows.assign(followup_days=float(d)))
                              for d in HORIZONS])
    assert np.all((curves >= 0) & (curves <= 1))
    assert np.all(np.diff(curves, axis=1) >= -1e-12)
    # the horizon matters: the constraint is not met by ignoring it
    assert np.mean(curves[:, -1] - curves[:, 0]) > 0.01


@pytest.mark.parametrize("spec", SPECS[::2], ids=lambda s: s.kind)
def test_same_seed_same_predictions(spec, data):
    X, y = data
    a = predict_resorption(build_model(spec, seed=7).fit(X, y), X)
    b = predict_resorption(build_model(spec, seed=7).fit(X, y), X)
    np.testing.assert_array_equal(a, b)


def test_logistic_horizon_coefficients_are_non_negative(data):
    X, y = data
    model = build_model(SPECS[0]).fit(X, y)
    names = model.named_steps["features"].get_feature_names_out()
    coef = model.named_steps["model"].coef_[0]
    horizon = np.array([n.startswith("followup_days__") for n in names])
    assert horizon.sum() == 5
    assert np.all(coef[horizon] >= 0)
