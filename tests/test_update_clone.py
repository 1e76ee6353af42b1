"""``sklearn.base.clone`` of an :class:`~resorb.updating.UpdatedModel` keeps its fitted parent
(docs/updating.md): the clone refits the update only, as a fresh update of the same parent
would, so scikit-learn's model selection (``cross_val_predict``, ``GridSearchCV``) works on
an update. Saved updates keep their structure."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.utils.validation import check_is_fitted

from resorb.cohort import make_cohort
from resorb.models import build_model, predict_resorption
from resorb.serialization import load_estimator, save_estimator
from resorb.training import prepare
from resorb.updating import UpdatedModel

METHODS = ["intercept", "recalibrate", "revise", "refit"]


@pytest.fixture(scope="module")
def parents(fast_params):
    """A logistic and a gradient-boosting parent, fitted on 800 literature rows."""
    data, X, _ = prepare(make_cohort(800, 1, "literature"), fast_params)
    return {name: build_model(fast_params.candidates[name], seed=0).fit(X, data.y)
            for name in ("logistic", "hist_gradient_boosting")}


@pytest.fixture(scope="module")
def shifted(fast_params):
    """300 rows of the other_hospital preset: model input and outcome."""
    data, X, _ = prepare(make_cohort(300, 3, "other_hospital"), fast_params)
    return X, np.asarray(data.y)


def update(parent, method: str, fast_params) -> UpdatedModel:
    """An unfitted update (refit: the logistic candidate, seed 0)."""
    refit = build_model(fast_params.candidates["logistic"], seed=0) if method == "refit" else None
    return UpdatedModel(parent=None if method == "refit" else parent, method=method,
                        refit_estimator=refit)


@pytest.mark.parametrize("parent_name", ["logistic", "hist_gradient_boosting"])
@pytest.mark.parametrize("method", METHODS)
def test_a_clone_refits_the_update_on_the_untouched_parent_as_a_fresh_update(
        parents, shifted, fast_params, parent_name, method):
    X, y = shifted
    parent = parents[parent_name]
    before = predict_resorption(parent, X)
    fitted = update(parent, method, fast_params).fit(X, y)
    copy = clone(fitted)
    assert copy.parent is fitted.parent  # the parent is kept, not cloned (unfitted)
    assert copy.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)  # the update itself is unfitted
    refitted = copy.fit(X, y)
    fresh = update(parent, method, fast_params).fit(X, y)
    np.testing.assert_array_equal(predict_resorption(refitted, X),
                                  predict_resorption(fresh, X))
    np.testing.assert_array_equal(predict_resorption(parent, X), before)  # parent untouched
    if method == "refit":
        assert refitted.refitted_ is not fitted.refitted_  # its own fit, not the original's


def test_an_update_of_an_update_is_cloned_around_its_fitted_parent(parents, shifted):
    X, y = shifted
    first = UpdatedModel(parent=parents["logistic"], method="recalibrate").fit(X, y)
    second = UpdatedModel(parent=first, method="intercept").fit(X, y)
    copy = clone(second)
    assert copy.parent is first
    np.testing.assert_array_equal(predict_resorption(copy.fit(X, y), X),
                                  predict_resorption(second, X))


def test_cross_val_predict_fits_the_update_on_each_training_fold(parents, shifted):
    X, y = shifted
    parent = parents["hist_gradient_boosting"]
    folds = StratifiedKFold(5, shuffle=True, random_state=2026)
    p = cross_val_predict(UpdatedModel(parent=parent, method="recalibrate"), X, y, cv=folds,
                          method="predict_proba")[:, 1]
    by_hand = np.empty(len(y))
    for train, test in folds.split(X, y):
        fold = UpdatedModel(parent=parent, method="recalibrate").fit(X.iloc[train], y[train])
        by_hand[test] = predict_resorption(fold, X.iloc[test])
    np.testing.assert_allclose(p, by_hand, rtol=0, atol=1e-12)
    whole = predict_resorption(UpdatedModel(parent=parent, method="recalibrate").fit(X, y), X)
    assert not np.allclose(p, whole)  # each row predicted by a fit that did not see it


def test_a_grid_search_picks_a_method_for_the_same_parent(parents, shifted):
    X, y = shifted
    parent = parents["logistic"]
    search = GridSearchCV(UpdatedModel(parent=parent),
                          {"method": ["intercept", "recalibrate", "revise"]},
                          scoring="neg_log_loss", cv=StratifiedKFold(3, shuffle=True,
                                                                     random_state=0))
    search.fit(X, y)
    assert search.best_estimator_.parent is parent
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    chosen = search.best_params_["method"]
    np.testing.assert_array_equal(
        predict_resorption(search.best_estimator_, X),
        predict_resorption(UpdatedModel(parent=parent, method=chosen).fit(X, y), X))


@pytest.mark.parametrize("method", METHODS)
def test_a_cloned_update_saves_the_same_bytes_and_loads_as_a_fresh_one(
        parents, shifted, fast_params, tmp_path, method):
    """Cloning adds no state: skops writes the same file for a clone's fit as for a fresh
    update, and it loads and predicts as the model saved."""
    X, y = shifted
    fresh = update(parents["logistic"], method, fast_params).fit(X, y)
    refitted = clone(fresh).fit(X, y)
    a = save_estimator(fresh, tmp_path / "fresh.skops")
    b = save_estimator(refitted, tmp_path / "clone.skops")
    assert a.read_bytes() == b.read_bytes()
    loaded = load_estimator(b)
    np.testing.assert_array_equal(predict_resorption(loaded, X),
                                  predict_resorption(refitted, X))
