"""The L2-penalised logistic model with sign-bounded coefficients, and its C chosen by
cross-validated log loss."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from resorb.arguments import Interval, Satisfies, Strings, ValidatedParams
from resorb.models._common import _binary_classes, _positive_weights


def _lower_bounds(estimator: Any, n_features: int) -> np.ndarray:
    """Lower bound of each coefficient: 0 for names with a non-negative prefix, else -inf."""
    names = getattr(estimator, "feature_names_in_", None)
    lower = np.full(n_features, -np.inf)
    if names is not None and estimator.nonnegative_prefixes:
        bounded = [any(str(n).startswith(p) for p in estimator.nonnegative_prefixes)
                   for n in names]
        lower[np.asarray(bounded, dtype=bool)] = 0.0
    return lower


def _penalised_fit(Xf: np.ndarray, t: np.ndarray, w: np.ndarray, C: float,
                   lower: np.ndarray, x0: np.ndarray | None, max_iter: int, tol: float) -> Any:
    """L-BFGS-B of C * sum(w * log loss) + ||coef||^2 / 2; ``x`` = (intercept, coef...).

    Run with one BLAS thread: a multi-threaded ``Xf @ coef`` sums in another order, and
    L-BFGS-B amplifies those last-bit differences into fits up to 0.002 apart in probability,
    so the same seed would give another model in a process whose numpy was loaded before
    resorb could set ``OMP_NUM_THREADS`` (resorb/__init__.py), e.g. under pytest.
    """
    from threadpoolctl import threadpool_limits

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, coef = theta[0], theta[1:]
        z = Xf @ coef + b
        # log(1 + exp(z)) - t z, stable
        loss = np.sum(w * (np.logaddexp(0.0, z) - t * z))
        r = w * (expit(z) - t)
        grad = np.concatenate(([r.sum()], Xf.T @ r))
        total = C * loss + 0.5 * coef @ coef
        g = C * grad
        g[1:] += coef
        return float(total), g

    bounds = [(None, None)] + [(lo if np.isfinite(lo) else None, None) for lo in lower]
    start = np.zeros(Xf.shape[1] + 1) if x0 is None else x0
    with threadpool_limits(limits=1, user_api="blas"):
        return minimize(loss_grad, start, jac=True, method="L-BFGS-B", bounds=bounds,
                        options={"maxiter": max_iter, "gtol": tol})


class _LinearLogOdds:
    """Predictions of a fitted binary linear model from ``coef_`` and ``intercept_``, and
    the fitting steps the plain and the cross-validated estimator share."""

    def _fit_inputs(self, X: Any, y: Any, sample_weight: Any
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Validate; set ``classes_``; return (X as float, 0/1 target, weights, lower bounds)."""
        self._validate_params()
        X, y = validate_data(self, X, y, reset=True, dtype="numeric")
        self.classes_, yi = _binary_classes(y)
        w = _positive_weights(sample_weight, X)
        return np.asarray(X, dtype=float), yi.astype(float), w, _lower_bounds(self, X.shape[1])

    def _fit_with(self, C: float, Xf: np.ndarray, t: np.ndarray, w: np.ndarray,
                  lower: np.ndarray) -> Any:
        """Fit every row at ``C``; set ``intercept_``, ``coef_``, ``n_iter_``; return self."""
        res = _penalised_fit(Xf, t, w, C, lower, None, self.max_iter, self.tol)
        self.intercept_ = np.array([res.x[0]])
        self.coef_ = res.x[1:].reshape(1, -1)
        self.n_iter_ = np.array([res.nit])
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def decision_function(self, X):
        """Log-odds of the second class, shape (n_rows,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype="numeric")
        return np.asarray(X, float) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        """Class probabilities, shape (n_rows, 2)."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Most probable class."""
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


class MonotoneLogisticRegression(ValidatedParams, _LinearLogOdds, ClassifierMixin,
                                 BaseEstimator):
    """L2-penalised binary logistic regression with sign-bounded coefficients.

    Coefficients of features whose name starts with one of ``nonnegative_prefixes`` are
    bounded below by zero (L-BFGS-B), so the prediction is non-decreasing in them.

    Parameters
    ----------
    C : float
        Inverse penalty strength, as in scikit-learn: minimises C * sum(log loss) + ||w||^2 / 2.
    nonnegative_prefixes : tuple of str
        Feature-name prefixes whose coefficients must be >= 0 (needs named input).
    max_iter : int
        Iterations of L-BFGS-B.
    tol : float
        Gradient tolerance.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "nonnegative_prefixes": [Strings()],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, C: float = 1.0, nonnegative_prefixes: tuple[str, ...] = (),
                 max_iter: int = 1000, tol: float = 1e-6) -> None:
        self.C = C
        self.nonnegative_prefixes = nonnegative_prefixes
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None):
        """Fit by penalised maximum likelihood; the intercept is not penalised."""
        Xf, t, w, lower = self._fit_inputs(X, y, sample_weight)
        return self._fit_with(self.C, Xf, t, w, lower)


#: inverse penalty strengths tried by :class:`MonotoneLogisticRegressionCV` by default:
#: 13 values, 3 per decade from 0.001 to 10 (C = 1, the large-data default, in the middle)
DEFAULT_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3, 1, 13))


class MonotoneLogisticRegressionCV(ValidatedParams, _LinearLogOdds, ClassifierMixin,
                                   BaseEstimator):
    """:class:`MonotoneLogisticRegression` with C chosen by cross-validated log loss.

    Each C of ``Cs`` is fitted on the training part of ``cv`` stratified folds (shuffled with
    ``random_state``) and scored by the log loss of the held-out part; the C with the lowest
    total held-out log loss (the smallest such C on a tie: more penalty) is refitted on every
    row. Inside a pipeline that is validated by cross-validation, the search runs inside each
    validation fold's training rows only (nested cross-validation), so the validation stays
    honest. The penalty shrinks the coefficients towards zero, pulling an overfitted model's
    calibration slope back towards 1 (Steyerberg, Clinical Prediction Models, 2nd ed. 2019,
    ch. 13); Riley et al. (J Clin Epidemiol 2021;132:88-96, doi:10.1016/j.jclinepi.2020.12.005)
    show that the C so chosen varies a lot between small samples, so the slope of any one
    small-sample model may still be far from 1.

    Parameters
    ----------
    Cs : sequence of float
        Inverse penalty strengths tried (> 0), as in :class:`MonotoneLogisticRegression`.
    cv : int
        Inner folds, at least 2; fewer when the minority class has fewer rows.
    nonnegative_prefixes : tuple of str
        Feature-name prefixes whose coefficients must be >= 0 (needs named input).
    random_state : int
        Seed of the fold shuffle.
    max_iter, tol
        As in :class:`MonotoneLogisticRegression`.

    Attributes
    ----------
    Cs_ : ndarray of shape (n_Cs,)
        ``Cs`` in increasing order.
    cv_log_loss_ : ndarray of shape (n_Cs,)
        Mean held-out log loss (nats per row, weighted) of each C.
    C_ : float
        The C chosen and refitted on every row.
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    n_iter_ : ndarray of shape (1,)
        Iterations of the final fit.
    classes_ : ndarray of shape (2,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "Cs": [Satisfies(lambda c: len(c) >= 1 and all(float(v) > 0 for v in c),
                         "a non-empty sequence of positive floats")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "nonnegative_prefixes": [Strings()],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, Cs: tuple[float, ...] = DEFAULT_CS, cv: int = 5,
                 nonnegative_prefixes: tuple[str, ...] = (), random_state: int = 0,
                 max_iter: int = 1000, tol: float = 1e-6) -> None:
        self.Cs = Cs
        self.cv = cv
        self.nonnegative_prefixes = nonnegative_prefixes
        self.random_state = random_state
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None):
        """Choose C by inner cross-validation, then fit on every row with it."""
        from sklearn.model_selection import StratifiedKFold

        Xf, t, w, lower = self._fit_inputs(X, y, sample_weight)
        yi = t.astype(int)
        minority = int(min(np.sum(yi == 0), np.sum(yi == 1)))
        if minority < 1:
            raise ValueError("MonotoneLogisticRegressionCV needs both classes; y holds one "
                             "class only")
        self.Cs_ = np.sort(np.asarray(self.Cs, dtype=float))
        if minority < 2:
            # one row of a class (a leave-one-site-out training fold, a bootstrap resample):
            # no inner fold can hold it, so nothing can be tuned; the strongest penalty
            # offered is the cautious choice
            self.cv_log_loss_ = np.full(self.Cs_.size, np.nan)
            self.C_ = float(self.Cs_[0])
            return self._fit_with(self.C_, Xf, t, w, lower)
        folds = StratifiedKFold(min(self.cv, minority), shuffle=True,
                                random_state=self.random_state)
        loss = np.zeros(self.Cs_.size)
        for train, test in folds.split(Xf, yi):
            x0 = None  # warm start along the path, from strong to weak penalty
            for i, C in enumerate(self.Cs_):
                res = _penalised_fit(Xf[train], t[train], w[train], C, lower, x0,
                                     self.max_iter, self.tol)
                x0 = res.x
                z = Xf[test] @ res.x[1:] + res.x[0]
                loss[i] += np.sum(w[test] * (np.logaddexp(0.0, z) - t[test] * z))
        self.cv_log_loss_ = loss / w.sum()
        self.C_ = float(self.Cs_[int(np.argmin(self.cv_log_loss_))])
        return self._fit_with(self.C_, Xf, t, w, lower)
