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
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    TransformerMixin,
    clone,
)
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
    Options,
    Satisfies,
    Strings,
    ValidatedParams,
    validate_arguments,
)
from resorb.config import CandidateSpec
from resorb.errors import ConfigError
from resorb.features import (
    HORIZON,
    MIN_DISTINCT_VALUES,
    build_preprocessor,
    check_no_leakage,
    distinct_observed,
)
from resorb.schema import FEATURES

HORIZON_PREFIX = f"{HORIZON}__"


def _binary_classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classes and their codes 0/1; scikit-learn's error for any other kind of target."""
    check_classification_targets(y)
    y_type = type_of_target(y, input_name="y", raise_unknown=True)
    if y_type != "binary":
        raise ValueError("Only binary classification is supported. The type of the target "
                         f"is {y_type}.")
    return np.unique(y, return_inverse=True)


def _positive_weights(sample_weight, X) -> np.ndarray:
    """Sample weights (ones by default); scikit-learn's error when none is positive."""
    w = _check_sample_weight(sample_weight, X)
    if not np.any(w > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return w


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
    """Predictions of a fitted binary linear model from ``coef_`` and ``intercept_``."""

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
        self._validate_params()
        X, y = validate_data(self, X, y, reset=True, dtype="numeric")
        self.classes_, yi = _binary_classes(y)
        w = _positive_weights(sample_weight, X)
        Xf, lower = np.asarray(X, dtype=float), _lower_bounds(self, X.shape[1])
        res = _penalised_fit(Xf, yi.astype(float), w, self.C, lower, None, self.max_iter,
                             self.tol)
        self.intercept_ = np.array([res.x[0]])
        self.coef_ = res.x[1:].reshape(1, -1)
        self.n_iter_ = np.array([res.nit])
        return self


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

        self._validate_params()
        X, y = validate_data(self, X, y, reset=True, dtype="numeric")
        self.classes_, yi = _binary_classes(y)
        w = _positive_weights(sample_weight, X)
        Xf, lower, t = np.asarray(X, dtype=float), _lower_bounds(self, X.shape[1]), yi.astype(float)
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
            res = _penalised_fit(Xf, t, w, self.C_, lower, None, self.max_iter, self.tol)
            self.intercept_ = np.array([res.x[0]])
            self.coef_ = res.x[1:].reshape(1, -1)
            self.n_iter_ = np.array([res.nit])
            return self
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
        res = _penalised_fit(Xf, t, w, self.C_, lower, None, self.max_iter, self.tol)
        self.intercept_ = np.array([res.x[0]])
        self.coef_ = res.x[1:].reshape(1, -1)
        self.n_iter_ = np.array([res.nit])
        return self


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


#: herniation types after the reference (bulge), rim grades after the reference (none)
_TYPES = ("protrusion", "extrusion", "sequestration")
_RIMS = ("partial", "complete")


class FindingTerms(ValidatedParams, TransformerMixin, BaseEstimator):
    """Indicator terms of herniation type or rim enhancement for the logistic model.

    The generator's truth, like the literature, gives each type and each rim grade its own
    log-odds (EVIDENCE.md 1-2: no rim 0/16 resorbed, partial 50%, complete 81.5%; types 13% to
    88%), far from linear in their rank, and without contrast the rim is unknown, so its
    expected effect depends on type and migration (migrated herniations rim-enhance, Komori
    1998). The default linear encoding (one slope per rank, no contrast = lowest grade plus
    an indicator) cannot represent that: a sequestration without rim got 0.32 against a
    truth of 0.09 (docs/training.md, "Subgroups of the strongest findings").

    ``variable="herniation_type"`` (input column ``herniation_type``): one indicator per
    type but bulge, and one for a missing type. ``variable="rim_enhancement"`` (input
    ``rim_enhancement`` then, where the model has them, ``herniation_type`` and
    ``migration_grade``): indicators of partial and complete rim and of no contrast; with the
    type, type x partial, type x complete and no contrast x type; with migration, no contrast
    x migrated. Unknown category values count as none of the indicators. Like
    :class:`~resorb.features.EncodeIfObserved`, a ``variable`` the training rows observe with
    fewer than two distinct values (a hospital that never gives contrast) makes no terms.

    Parameters
    ----------
    variable : {"herniation_type", "rim_enhancement"}
        The finding whose terms are made; output names are ``<term>`` (the ColumnTransformer
        prefixes the variable).

    Attributes
    ----------
    used_ : bool
        Whether ``variable`` was observed with at least two distinct values (False: no terms).
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "variable": [Options("herniation_type", "rim_enhancement")],
    }

    def __init__(self, variable: str = "rim_enhancement") -> None:
        self.variable = variable

    def fit(self, X, y=None):
        """Record the input columns (a DataFrame whose first column is ``variable``)."""
        self._validate_params()
        if not hasattr(X, "columns") or len(X.columns) == 0 or X.columns[0] != self.variable:
            raise ValueError(f"FindingTerms({self.variable!r}) needs a DataFrame whose first "
                             f"column is {self.variable!r}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        self.used_ = distinct_observed(X[self.variable]) >= MIN_DISTINCT_VALUES
        return self

    def _terms(self, X) -> dict[str, np.ndarray]:
        if not self.used_:
            return {}
        def text(name: str) -> np.ndarray:
            return X[name].astype(object).to_numpy()

        names = set(self.feature_names_in_)
        out: dict[str, np.ndarray] = {}
        kind = text("herniation_type") if "herniation_type" in names else None
        if self.variable == "herniation_type":
            for k in _TYPES:
                out[f"type_{k}"] = kind == k
            out["type_missing"] = pd.isna(kind)
            return out
        rim = text("rim_enhancement")
        none_given = pd.isna(rim)
        for r in _RIMS:
            out[f"rim_{r}"] = rim == r
        out["no_contrast"] = none_given
        if kind is not None:
            for k in _TYPES:
                for r in _RIMS:
                    out[f"{k}_x_{r}"] = (kind == k) & (rim == r)
                out[f"no_contrast_x_{k}"] = none_given & (kind == k)
        if "migration_grade" in names:
            grade = pd.to_numeric(X["migration_grade"], errors="coerce").to_numpy(dtype=float)
            out["no_contrast_x_migrated"] = none_given & (np.nan_to_num(grade) > 0)
        return out

    def transform(self, X):
        """The indicator terms, shape (n_rows, n_terms), float 0/1."""
        check_is_fitted(self)
        if not hasattr(X, "columns"):
            X = pd.DataFrame(X, columns=self.feature_names_in_)
        terms = self._terms(X)
        if not terms:
            return np.empty((len(X), 0))
        return np.column_stack([v.astype(float) for v in terms.values()])

    def get_feature_names_out(self, input_features=None):
        """Names of the terms, e.g. ``sequestration_x_complete``."""
        check_is_fitted(self)
        empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in self.feature_names_in_})
        return np.asarray(list(self._terms(empty)), dtype=object)


def with_finding_terms(features: Any, columns: tuple[str, ...]) -> Any:
    """``features`` (the linear ColumnTransformer) with type and rim encoded by
    :class:`FindingTerms`; a variable the model does not use keeps its absence."""
    rim_inputs = [c for c in ("rim_enhancement", "herniation_type", "migration_grade")
                  if c in columns]
    swap = {"herniation_type": (FindingTerms("herniation_type"), ["herniation_type"]),
            "rim_enhancement": (FindingTerms("rim_enhancement"), rim_inputs)}
    transformers = [(name, *swap[name]) if name in swap else (name, t, cols)
                    for name, t, cols in features.transformers]
    return features.set_params(transformers=transformers)


class OutOfBagCalibratedClassifier(ValidatedParams, CalibratedClassifierCV):
    """A forest pipeline recalibrated on its own out-of-bag predictions: one forest fit.

    ``CalibratedClassifierCV(ensemble=False)`` with ``k`` folds fits the forest ``k + 1``
    times (``k`` to predict held-out rows for the calibrator, one on every row). A bagged
    forest already holds held-out predictions: each row is predicted by the trees whose
    bootstrap sample left it out (Breiman 2001, out-of-bag estimates). Here the pipeline is
    fitted once, the sigmoid (or isotonic) calibrator is fitted on those out-of-bag
    probabilities, and the result has the fitted attributes of
    ``CalibratedClassifierCV(ensemble=False)`` (one ``_CalibratedClassifier`` in
    ``calibrated_classifiers_``), so it predicts, explains and serialises as one.

    An out-of-bag prediction averages about ``exp(-max_samples)`` of the trees (half of 40
    at ``max_samples=0.7``), so it is slightly noisier than the whole forest's; measured
    against the generator's true probabilities, calibration is as good as with 3-fold
    recalibration (docs/training.md, "Speed"). Rows that no tree left out (none, in practice,
    at 40 trees) are left out of the calibrator's fit.

    Parameters
    ----------
    estimator : Pipeline
        Ending in a step ``model``: :class:`HorizonMonotone` of a bagged
        ``RandomForestClassifier`` (``bootstrap=True``), after a step ``features``.
    method : {"sigmoid", "isotonic"}
        The calibrator, as in ``CalibratedClassifierCV``.

    Attributes
    ----------
    calibrated_classifiers_ : list of one ``_CalibratedClassifier``
    classes_ : ndarray of shape (2,)
    oob_rows_ : int
        Rows the calibrator was fitted on.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [HasMethods("fit", "predict_proba")],
        "method": [Options("sigmoid", "isotonic")],
    }

    def __init__(self, estimator: Any = None, method: str = "sigmoid") -> None:
        self.estimator = estimator
        self.method = method

    def _get_estimator(self) -> Any:
        return self.estimator

    def fit(self, X, y, sample_weight=None):
        """Fit the pipeline once and the calibrator on its out-of-bag predictions."""
        from sklearn.calibration import _CalibratedClassifier, _SigmoidCalibration
        from sklearn.isotonic import IsotonicRegression

        self._validate_params()
        if sample_weight is not None:
            raise ValueError("OutOfBagCalibratedClassifier does not take sample weights")
        self.classes_, codes = _binary_classes(np.asarray(y))
        pipe = clone(self.estimator)
        steps = getattr(pipe, "named_steps", {})
        forest = getattr(steps.get("model"), "estimator", None)
        if "features" not in steps or not isinstance(forest, RandomForestClassifier) \
                or not forest.bootstrap:
            raise ValueError("OutOfBagCalibratedClassifier needs a Pipeline of 'features' and "
                             "'model' = HorizonMonotone(RandomForestClassifier(bootstrap=True))")
        features = steps["features"].fit_transform(X, y)
        steps["model"].fit(features, y)
        oob, spread, count = _out_of_bag_positive(steps["model"].estimator_, features)
        seen = count > 0
        if seen.sum() < 2 or np.unique(codes[seen]).size < 2:
            raise ValueError(f"out-of-bag predictions cover {int(seen.sum())} rows and not "
                             "both classes; use more trees or calibration_data: folds")
        calibrator = (_SigmoidCalibration() if self.method == "sigmoid"
                      else IsotonicRegression(out_of_bounds="clip"))
        calibrator.fit(oob[seen], codes[seen].astype(float))
        if self.method == "sigmoid":
            calibrator.a_, calibrator.b_ = _matched_to_forest(
                calibrator.a_, calibrator.b_, oob[seen], spread[seen], count[seen],
                len(steps["model"].estimator_.estimators_))
        self.calibrated_classifiers_ = [_CalibratedClassifier(
            pipe, [calibrator], method=self.method, classes=self.classes_)]
        self.oob_rows_ = int(seen.sum())
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(pipe, name):
                setattr(self, name, getattr(pipe, name))
        return self


def _out_of_bag_positive(forest: RandomForestClassifier, features: Any
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-bag P(second class) per training row, the variance between those trees'
    predictions and how many trees left the row out; each of shape (n,)."""
    Xt = np.asarray(features, dtype=np.float32)
    n = Xt.shape[0]
    total, squares, count = np.zeros(n), np.zeros(n), np.zeros(n)
    for tree, drawn in zip(forest.estimators_, forest.estimators_samples_, strict=True):
        left_out = np.ones(n, dtype=bool)
        left_out[drawn] = False
        q = tree.predict_proba(Xt[left_out], check_input=False)[:, 1]
        total[left_out] += q
        squares[left_out] += q * q
        count[left_out] += 1
    seen = count > 0
    mean = np.divide(total, count, out=np.zeros(n), where=seen)
    spread = np.divide(squares - count * mean**2, count - 1, out=np.zeros(n), where=count > 1)
    return mean, np.maximum(spread, 0.0), count


def _matched_to_forest(a: float, b: float, oob: np.ndarray, spread: np.ndarray,
                       count: np.ndarray, trees: int) -> tuple[float, float]:
    """Platt's (a, b) fitted on out-of-bag means, rescaled for the whole forest's mean.

    An out-of-bag mean averages ``count`` trees, the forest ``trees``: the noise of the
    average, ``spread / count`` against ``spread / trees``, attenuates the sigmoid fitted on
    the former more (regression calibration: Carroll et al., Measurement Error in Nonlinear
    Models, 2nd ed. 2006, ch. 4). The slope is multiplied by the ratio of the two
    reliabilities and the intercept moved so that the calibrated value at the mean
    prediction is unchanged.
    """
    total = float(np.var(oob))
    noise_oob = float(np.mean(spread / count))
    noise_forest = float(np.mean(spread / trees))
    signal = total - noise_oob
    if total <= 0 or signal <= 0:
        return a, b
    ratio = (signal / (signal + noise_forest)) / (signal / total)
    centre = float(np.mean(oob))
    return a * ratio, b + a * centre - a * ratio * centre


def _model_columns(predictors: Any) -> tuple[str, ...]:
    """The variables a model encodes: ``predictors`` (None: all) plus the horizon, in the
    data dictionary's order."""
    if predictors is None:
        return tuple(FEATURES)
    if isinstance(predictors, str) or not all(isinstance(p, str) for p in predictors):
        raise ConfigError(f"candidate parameter 'predictors' must be a list of column names; "
                          f"got {predictors!r}")
    check_no_leakage(list(predictors))
    wanted = {*predictors, HORIZON}
    return tuple(f for f in FEATURES if f in wanted)


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
    LeakageError
        If ``spec.params["predictors"]`` names a column that may not be a feature.

    Notes
    -----
    Besides the estimator's own hyperparameters, ``spec.params`` may hold ``predictors``
    (the variables the model uses, by default every predictor; the horizon is always added)
    and, for the logistic kind, ``spline_knots``, ``Cs`` (C chosen by inner
    cross-validation, :class:`MonotoneLogisticRegressionCV`) and ``finding_terms`` (true:
    type and rim as indicators with their interactions, :class:`FindingTerms`).
    """
    params = dict(spec.params)
    columns = _model_columns(params.pop("predictors", None))
    try:
        if spec.kind == "logistic":
            knots = int(params.pop("spline_knots", 5))
            findings = bool(params.pop("finding_terms", False))
            if "Cs" in params:  # C chosen by inner cross-validation (resorb.adaptation)
                params["Cs"] = tuple(float(c) for c in params["Cs"])
                clf = MonotoneLogisticRegressionCV(nonnegative_prefixes=(HORIZON_PREFIX,),
                                                   random_state=seed, **params)
            else:
                clf = MonotoneLogisticRegression(nonnegative_prefixes=(HORIZON_PREFIX,),
                                                 **params)
            features = build_preprocessor("linear", columns, spline_knots=knots)
            if findings:
                features = with_finding_terms(features, columns)
            pipe = Pipeline([("features", features), ("model", clf)])
        elif spec.kind == "hist_gradient_boosting":
            clf = HistGradientBoostingClassifier(random_state=seed, **params)
            pipe = Pipeline([("features", build_preprocessor("tree", columns)),
                             ("model", HorizonMonotone(clf))])
        else:
            # one job: threaded predict_proba sums trees in a racy order (last-bit differences)
            clf = RandomForestClassifier(random_state=seed, n_jobs=params.pop("n_jobs", 1),
                                         **params)
            pipe = Pipeline([("features", build_preprocessor("tree", columns)),
                             ("model", HorizonMonotone(clf))])
    except TypeError as exc:
        raise ConfigError(f"candidate of kind '{spec.kind}': {exc}") from None
    if spec.calibration == "none":
        return pipe
    if spec.calibration_data == "out_of_bag":
        if spec.kind != "random_forest":
            raise ConfigError(f"calibration_data: out_of_bag needs a random_forest candidate "
                              f"(its trees' out-of-bag predictions); got kind '{spec.kind}'")
        return OutOfBagCalibratedClassifier(pipe, method=spec.calibration)
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
