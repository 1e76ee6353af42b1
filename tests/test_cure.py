"""The mixture cure candidate: its fit, its gradient, its time course, saving and explaining."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad
from scipy.special import expit

from resorb.config import CandidateSpec, Params
from resorb.explain import explain
from resorb.features import model_input
from resorb.models import MixtureCureClassifier, build_model, predict_resorption
from resorb.models.cure import _cure_loss_grad, weibull_cdf
from resorb.serialization import load_estimator, save_estimator
from tests.factories import contract_checks, random_canonical

SHAPE, SCALE, BETA, B0 = 0.6, 80.0, np.array([1.0, -0.7, 0.4]), 0.3


def _simulated(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows drawn from the cure model itself: three predictors, follow-up 20-700 days."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = rng.uniform(20, 700, size=n)
    p = expit(B0 + x @ BETA) * weibull_cdf(t, SHAPE, SCALE)
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(followup_days__followup_days=t)
    return frame, y


def test_recovers_the_generating_parameters() -> None:
    X, y = _simulated(40_000, seed=3)
    m = MixtureCureClassifier(C=1e4).fit(X, y)
    assert m.shape_ == pytest.approx(SHAPE, rel=0.15)
    assert m.scale_ == pytest.approx(SCALE, rel=0.25)
    np.testing.assert_allclose(m.coef_[0, :3], BETA, atol=0.1)
    assert m.coef_[0, 3] == 0.0  # the horizon is not in the eventual part
    assert m.intercept_[0] == pytest.approx(B0, abs=0.15)


@pytest.mark.parametrize("C", [0.1, 3.0])
def test_the_gradient_is_the_loss_derivative(C: float) -> None:
    X, y = _simulated(300, seed=4)
    Xf, log_t = X.to_numpy()[:, :3], np.log(X.to_numpy()[:, 3])
    w = np.random.default_rng(5).uniform(0.5, 2.0, size=len(y))
    theta = np.array([0.2, 0.5, -0.3, 0.1, np.log(0.7), np.log(90.0)])
    err = check_grad(lambda th: _cure_loss_grad(th, Xf, log_t, y.astype(float), w, C)[0],
                     lambda th: _cure_loss_grad(th, Xf, log_t, y.astype(float), w, C)[1],
                     theta)
    assert err < 1e-4 * max(1.0, np.abs(_cure_loss_grad(theta, Xf, log_t, y.astype(float),
                                                        w, C)[1]).max())


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pd.DataFrame]:
    params = Params.default()
    frame = random_canonical(2000, seed=11)
    X = model_input(frame)
    y = (np.random.default_rng(11).random(len(X)) < 0.5).astype(int)
    return build_model(params.candidates["mixture_cure"], seed=1).fit(X, y), X


def test_probability_never_falls_with_the_horizon(fitted) -> None:
    model, X = fitted
    rows = X.iloc[:50]
    previous = np.zeros(len(rows))
    for days in (1, 14, 30, 90, 180, 365, 730, 3650):
        p = predict_resorption(model, rows.assign(followup_days=days))
        assert np.all(p >= previous - 1e-12)
        previous = p


def test_saved_and_loaded_predicts_the_same(fitted, tmp_path) -> None:
    model, X = fitted
    loaded = load_estimator(save_estimator(model, tmp_path / "cure.skops"))
    np.testing.assert_array_equal(predict_resorption(loaded, X), predict_resorption(model, X))


def test_explanation_sums_to_the_prediction(fitted) -> None:
    model, X = fitted
    rows = X.iloc[:40]
    expl = explain(model, rows, background=X)
    p = predict_resorption(model, rows)
    np.testing.assert_allclose(expl.base_value + expl.values.sum(axis=1), p, atol=1e-9)
    assert "mixture cure" in expl.method
    # the horizon's part has the sign of F(t) - mean F over the background
    est = model.named_steps["model"]
    Z, Zb = (model.named_steps["features"].transform(f) for f in (rows, X))
    direction = np.sign(est.time_course(Z) - est.time_course(Zb).mean())
    assert np.all(np.sign(expl.values["followup_days"].to_numpy()) == direction)


@pytest.mark.parametrize(("columns", "days", "message"), [
    (["a", "followup_days__followup_days"], [0.0, 10.0], "must be > 0"),
    (["a", "b"], [5.0, 10.0], "exactly one column named"),
])
def test_bad_horizon_is_refused(columns, days, message) -> None:
    X = pd.DataFrame({columns[0]: [0.1, 0.2, 0.3, 0.4], columns[1]: days * 2})
    with pytest.raises(ValueError, match=message):
        MixtureCureClassifier().fit(X, [0, 1, 0, 1])


def test_type_x_rim_terms_on_request() -> None:
    plain = build_model(CandidateSpec(kind="mixture_cure"))
    terms = build_model(CandidateSpec(kind="mixture_cure", params={"type_x_rim": True}))
    X = model_input(random_canonical(300, seed=2))
    names = {str(n) for n in plain.named_steps["features"].fit(X).get_feature_names_out()}
    more = {str(n) for n in terms.named_steps["features"].fit(X).get_feature_names_out()}
    assert not any("_x_partial" in n for n in names)
    assert "rim_enhancement__sequestration_x_partial" in more - names
    assert "followup_days__followup_days" in names  # days, not ramps


# ----------------------------------------------------- scikit-learn's estimator contract
#: the checks whose generated X puts values <= 0 in the last column, the one the cure model
#: reads as the follow-up days when X has no column names
_NON_POSITIVE_DAYS = ("generated X has values <= 0 in the last column, the follow-up days "
                      "without column names: fit refuses them (ValueError); passes on _LogDays")
_CURE_EXPECTED_FAILURES = {
    name: _NON_POSITIVE_DAYS for name in (
        "check_classifier_data_not_an_array", "check_classifiers_classes",
        "check_classifiers_train", "check_estimators_dtypes",
        "check_estimators_fit_returns_self", "check_estimators_overwrite_params",
        "check_estimators_pickle", "check_n_features_in_after_fitting",
        "check_pipeline_consistency", "check_readonly_memmap_input")
} | {
    "check_positive_only_tag_during_fit":
        "only the horizon column must be > 0, not every column: the positive_only tag would "
        "claim the latter, so the tag is False and negative follow-up days are refused",
}


class _LogDays(MixtureCureClassifier):
    """The cure model with its horizon column read as log days, so that any real number is a
    valid follow-up (exp(x) days): scikit-learn's generated data then exercise every other
    part of the estimator (validation, fitting, attributes, cloning, pickling) unchanged."""

    def _split(self, X):
        Xf = np.array(X, dtype=float)
        Xf[:, self.horizon_index_] = np.exp(np.clip(Xf[:, self.horizon_index_], -30.0, 30.0))
        return super()._split(Xf)


@contract_checks([MixtureCureClassifier()],
                 expected_failed_checks=lambda _estimator: _CURE_EXPECTED_FAILURES)
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)


@contract_checks([_LogDays()])
def test_sklearn_contract_with_any_real_horizon(estimator, check) -> None:
    check(estimator)


def test_a_weight_is_a_repeated_row_where_the_shape_is_not_identified() -> None:
    # every follow-up far beyond the smallest scale: F(t) = 1 whatever the Weibull shape, so
    # L-BFGS-B stops wherever its start leads it; a weight of 3 must start it as 3 rows do
    rng = np.random.default_rng(42)
    X = pd.DataFrame({"a": rng.normal(size=15),
                      "followup_days__followup_days": rng.uniform(1.0, 3.0, 15)})
    y = rng.integers(0, 2, 15)
    w = rng.integers(0, 5, 15)
    weighted = MixtureCureClassifier().fit(X, y, sample_weight=w)
    repeated = MixtureCureClassifier().fit(X.loc[X.index.repeat(w)], np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=1e-7, atol=1e-9)
