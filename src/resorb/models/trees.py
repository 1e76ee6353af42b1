"""Tree ensembles: the horizon monotonic constraint and out-of-bag recalibration."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from resorb.arguments import HasMethods, Options, Satisfies, Strings, ValidatedParams
from resorb.models._common import HORIZON_PREFIX, _binary_classes


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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the pipeline once and the calibrator on its out-of-bag predictions.

        Raises
        ------
        ValueError
            ``sample_weight`` given, ``y`` None, not finite, of another length than ``X``
            or of one class, or ``estimator`` not a pipeline of a bagged forest.
        TypeError
            ``X`` is sparse (the pipeline's ``features`` step needs a frame).
        """
        from scipy.sparse import issparse
        from sklearn.calibration import _CalibratedClassifier, _SigmoidCalibration
        from sklearn.isotonic import IsotonicRegression
        from sklearn.utils.validation import check_array, check_consistent_length

        self._validate_params()
        if sample_weight is not None:
            raise ValueError("OutOfBagCalibratedClassifier does not take sample weights")
        if issparse(X):
            raise TypeError("OutOfBagCalibratedClassifier does not accept sparse data: give X "
                            "as a DataFrame or a dense array")
        if y is None:
            raise ValueError("OutOfBagCalibratedClassifier requires y to be passed, but the "
                             "target y is None")
        # X reaches the pipeline as it came (its features step imputes missing values); y is
        # the outcome, checked here before a forest is fitted on it
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        check_consistent_length(X, y)
        self.classes_, codes = _binary_classes(y)
        if len(self.classes_) < 2:
            raise ValueError(f"OutOfBagCalibratedClassifier needs both outcomes; y has one "
                             f"class ({self.classes_[0]})")
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
