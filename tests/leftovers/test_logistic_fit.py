"""The plain and the cross-validated monotone logistic model share one fitting path.

A refactor cannot fail before and pass after; what these tests pin is the property the one
helper (``_LinearLogOdds._fit_with``) gives: at a C the search cannot change, the
cross-validated estimator is the plain one, on each of its two final-fit paths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resorb.models.logistic import MonotoneLogisticRegression, MonotoneLogisticRegressionCV


@pytest.fixture(scope="module")
def design():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["vol_a", "b", "c", "d"])
    y = (X["vol_a"] - 0.5 * X["b"] + rng.normal(size=120) > 0).astype(int)
    return X, y, rng.uniform(0.5, 2.0, 120)


@pytest.mark.parametrize("minority", [None, 1], ids=["tuned", "one-row-of-a-class"])
def test_cv_at_a_single_c_is_the_plain_fit(design, minority):
    X, y, w = design
    if minority is not None:  # the branch that cannot tune: strongest C offered, every row
        y = pd.Series(np.zeros(len(y), int))
        y.iloc[7] = 1
    kw = {"nonnegative_prefixes": ("vol_",), "max_iter": 500, "tol": 1e-7}
    plain = MonotoneLogisticRegression(C=0.3, **kw).fit(X, y, sample_weight=w)
    cv = MonotoneLogisticRegressionCV(Cs=(0.3,), random_state=4, **kw).fit(X, y,
                                                                           sample_weight=w)
    assert cv.C_ == 0.3
    np.testing.assert_array_equal(cv.coef_, plain.coef_)
    np.testing.assert_array_equal(cv.intercept_, plain.intercept_)
    np.testing.assert_array_equal(cv.n_iter_, plain.n_iter_)
    np.testing.assert_array_equal(cv.classes_, plain.classes_)
    assert cv.coef_[0, 0] >= 0.0  # the bound on the prefixed coefficient held in both
    assert cv.coef_.shape == (1, 4) and cv.intercept_.shape == (1,)
