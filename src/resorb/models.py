"""Candidate model specifications, declared in params.yaml, built into sklearn pipelines.

Every candidate predicts a probability that never falls as the horizon grows: the logistic
model bounds the horizon coefficients at zero from below (:class:`MonotoneLogisticRegression`
on the monotone :class:`resorb.features.HorizonRamps` basis); tree models get a +1 monotonic
constraint on the horizon (:class:`HorizonMonotone`). Recalibration (sigmoid or isotonic)
is fitted inside cross-validation and maps scores monotonically, so it keeps the property.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from resorb.arguments import (
    ARRAY_LIKE,
    HasMethods,
    Interval,
    Satisfies,
    Strings,
    ValidatedParams,
    validate_arguments,
)
from resorb.config import CandidateSpec
from resorb.errors import ConfigError
from resorb.features import HORIZON, build_preprocessor

HORIZON_PREFIX = f"{HORIZON}__"


def _binary_classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classes and their codes 0/1; scikit-learn's error for any other kind of target."""
    check_classification_targets(y)
    y_type = type_of_target(y, input_name="y", raise_unknown=True)
    if y_type != "binary":
        raise ValueError("Only binary classification is supported. The type of the target "
                         f"is {y_type}.")
    return np.unique(y, return_inverse=True)


class MonotoneLogisticRegression(ValidatedParams, ClassifierMixin, BaseEstimator):
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit by penalised maximum likelihood; the intercept is not penalised."""
        self._validate_params()
        X, y = validate_data(self, X, y, reset=True, dtype="numeric")
        self.classes_, yi = _binary_classes(y)
        w = _check_sample_weight(sample_weight, X)
        if not np.any(w > 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        names = getattr(self, "feature_names_in_", None)
        lower = np.full(X.shape[1], -np.inf)
        if names is not None and self.nonnegative_prefixes:
            bounded = [any(str(n).startswith(p) for p in self.nonnegative_prefixes)
                       for n in names]
            lower[np.asarray(bounded, dtype=bool)] = 0.0
        Xf = np.asarray(X, dtype=float)
        t = yi.astype(float)

        def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            b, coef = theta[0], theta[1:]
            z = Xf @ coef + b
            # log(1 + exp(z)) - t z, stable
            loss = np.sum(w * (np.logaddexp(0.0, z) - t * z))
            r = w * (expit(z) - t)
            grad = np.concatenate(([r.sum()], Xf.T @ r))
            total = self.C * loss + 0.5 * coef @ coef
            g = self.C * grad
            g[1:] += coef
            return float(total), g

        bounds = [(None, None)] + [(lo if np.isfinite(lo) else None, None) for lo in lower]
        res = minimize(loss_grad, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B",
                       bounds=bounds, options={"maxiter": self.max_iter, "gtol": self.tol})
        self.intercept_ = np.array([res.x[0]])
        self.coef_ = res.x[1:].reshape(1, -1)
        self.n_iter_ = np.array([res.nit])
        return self

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


class HorizonMonotone(ValidatedParams, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a tree ensemble with a +1 monotonic constraint on features named by a prefix.

    The constraint vector is derived from the fitted feature names at fit time, so the
    wrapped estimator's own parameters are never overwritten. Binary targets only (the
    constraint is on the probability of the second class).

    Parameters
    ----------
    estimator : classifier with a ``monotonic_cst`` parameter, or None
        None means ``HistGradientBoostingClassifier()``.
    prefixes : tuple of str
        Feature-name prefixes constrained to a non-decreasing effect.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``, with ``monotonic_cst`` set.
    classes_ : ndarray of shape (2,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on named columns
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [None, Satisfies(lambda e: "monotonic_cst" in e.get_params(),
                                      "a classifier with a 'monotonic_cst' parameter")],
        "prefixes": [Strings()],
    }

    def __init__(self, estimator: Any = None, prefixes: tuple[str, ...] = (HORIZON_PREFIX,)):
        self.estimator = estimator
        self.prefixes = prefixes

    def _base(self) -> Any:
        return self.estimator if self.estimator is not None else HistGradientBoostingClassifier()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        base = self._base()
        if hasattr(base, "__sklearn_tags__"):
            tags.input_tags.allow_nan = get_tags(base).input_tags.allow_nan
        return tags

    def _checked(self, X, *, reset: bool, y=None):
        nan = "allow-nan" if get_tags(self).input_tags.allow_nan else True
        if reset:
            return validate_data(self, X, y, reset=True, ensure_all_finite=nan)
        return validate_data(self, X, reset=False, ensure_all_finite=nan)

    def _passed_on(self, X, checked):
        # a frame reaches the wrapped estimator as it came, so that it learns (and later
        # checks) the same feature names; explanations call it directly with such frames
        return X if hasattr(self, "feature_names_in_") and hasattr(X, "columns") else checked

    def fit(self, X, y, sample_weight=None):
        """Fit a clone of ``estimator`` with the derived monotonic constraints."""
        self._validate_params()
        checked, y = self._checked(X, reset=True, y=y)
        _binary_classes(y)
        names = getattr(self, "feature_names_in_", None)
        cst = ([1 if any(str(n).startswith(p) for p in self.prefixes) else 0 for n in names]
               if names is not None else [0] * self.n_features_in_)
        self.estimator_ = clone(self._base()).set_params(monotonic_cst=cst)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.estimator_.fit(self._passed_on(X, checked), y, **kwargs)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        """Class probabilities of the wrapped estimator, shape (n_rows, 2)."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(self._passed_on(X, self._checked(X, reset=False)))

    def predict(self, X):
        """Class labels of the wrapped estimator, shape (n_rows,)."""
        check_is_fitted(self)
        return self.estimator_.predict(self._passed_on(X, self._checked(X, reset=False)))


@validate_arguments({"spec": [CandidateSpec],
                     "seed": [Interval(Integral, 0, 2**32 - 1, closed="both")]})
def build_model(spec: CandidateSpec, seed: int = 0) -> Any:
    """Build the (unfitted) pipeline for a candidate.

    Parameters
    ----------
    spec : CandidateSpec
    seed : int
        Seed for every random part of the estimator, in [0, 2**32 - 1].

    Returns
    -------
    sklearn estimator with ``predict_proba``

    Raises
    ------
    ConfigError
        If ``spec.params`` holds a parameter the estimator does not take.
    InvalidParameterError
        If ``spec`` or ``seed`` is of the wrong type or range.
    """
    params = dict(spec.params)
    try:
        if spec.kind == "logistic":
            knots = int(params.pop("spline_knots", 5))
            pipe = Pipeline([
                ("features", build_preprocessor("linear", spline_knots=knots)),
                ("model", MonotoneLogisticRegression(nonnegative_prefixes=(HORIZON_PREFIX,),
                                                     **params)),
            ])
        elif spec.kind == "hist_gradient_boosting":
            clf = HistGradientBoostingClassifier(random_state=seed, **params)
            pipe = Pipeline([("features", build_preprocessor("tree")),
                             ("model", HorizonMonotone(clf))])
        else:
            # one job: threaded predict_proba sums trees in a racy order (last-bit differences)
            clf = RandomForestClassifier(random_state=seed, n_jobs=params.pop("n_jobs", 1),
                                         **params)
            pipe = Pipeline([("features", build_preprocessor("tree")),
                             ("model", HorizonMonotone(clf))])
    except TypeError as exc:
        raise ConfigError(f"candidate of kind '{spec.kind}': {exc}") from None
    if spec.calibration == "none":
        return pipe
    from sklearn.model_selection import StratifiedKFold

    cv = StratifiedKFold(spec.calibration_folds, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(pipe, method=spec.calibration, cv=cv, ensemble=False)


@validate_arguments({"model": [HasMethods("predict_proba")], "X": [ARRAY_LIKE]})
def predict_resorption(model: Any, X) -> np.ndarray:
    """Probability of resorption (the positive class), shape (n_rows,).

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    X : DataFrame or array-like of shape (n_rows, n_features)
        Model input (see :func:`resorb.features.model_input`).

    Returns
    -------
    ndarray of shape (n_rows,)
        The column of class 1 (the last column when the model has no class 1).
    """
    proba = model.predict_proba(X)
    classes = list(getattr(model, "classes_", [0, 1]))
    return proba[:, classes.index(1) if 1 in classes else -1]
