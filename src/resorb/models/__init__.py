"""Candidate model specifications, declared in params.yaml, built into sklearn pipelines.

Every candidate predicts a probability that never falls as the horizon grows: the logistic
model bounds the horizon coefficients at zero from below (:class:`MonotoneLogisticRegression`
on the monotone :class:`resorb.features.HorizonRamps` basis); tree models get a +1 monotonic
constraint on the horizon (:class:`HorizonMonotone`). Recalibration (sigmoid or isotonic)
is fitted inside cross-validation and maps scores monotonically, so it keeps the property.

The estimators live in submodules (``logistic``, ``trees``, ``findings``); they are imported
here and their ``__module__`` set to ``resorb.models`` (as numpy's ``set_module`` does), because
that is the path skops stores in every saved model and the allow-list
(:data:`resorb.serialization.TRUSTED_TYPES`) names: the files under ``models/`` keep loading,
and a refit gives the same bytes as before the split.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline

from resorb.arguments import ARRAY_LIKE, HasMethods, Interval, validate_arguments
from resorb.config import CandidateSpec
from resorb.errors import ConfigError
from resorb.features import HORIZON, build_preprocessor, check_no_leakage
from resorb.models._common import HORIZON_PREFIX, _binary_classes, _positive_weights
from resorb.models.cure import MixtureCureClassifier
from resorb.models.findings import FindingLevels, FindingTerms, with_finding_terms
from resorb.models.logistic import (
    DEFAULT_CS,
    MonotoneLogisticRegression,
    MonotoneLogisticRegressionCV,
    _penalised_fit,
)
from resorb.models.trees import (
    HorizonMonotone,
    OutOfBagCalibratedClassifier,
    _out_of_bag_positive,
)
from resorb.schema import FEATURES

__all__ = [
    "DEFAULT_CS",
    "HORIZON_PREFIX",
    "CandidateSpec",
    "FindingLevels",
    "FindingTerms",
    "HorizonMonotone",
    "MixtureCureClassifier",
    "MonotoneLogisticRegression",
    "MonotoneLogisticRegressionCV",
    "OutOfBagCalibratedClassifier",
    "build_model",
    "predict_resorption",
    "with_finding_terms",
]

for _cls in (FindingLevels, FindingTerms, HorizonMonotone, MixtureCureClassifier,
             MonotoneLogisticRegression, MonotoneLogisticRegressionCV,
             OutOfBagCalibratedClassifier):
    _cls.__module__ = __name__
del _cls
# re-exported for callers and tests of the former single module
_REEXPORTED = (_binary_classes, _positive_weights, _penalised_fit, _out_of_bag_positive)


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


def _horizon_as_days(features: Any) -> Any:
    """``features`` with the horizon passed on in days (missing: the training median) rather
    than as ramps: the cure model's time course takes the days themselves."""
    from sklearn.impute import SimpleImputer

    transformers = [(name, SimpleImputer(strategy="median"), cols) if name == HORIZON
                    else (name, t, cols) for name, t, cols in features.transformers]
    return features.set_params(transformers=transformers)


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
    type and rim as indicators with their interactions, :class:`FindingTerms`); for the
    mixture_cure kind (:class:`MixtureCureClassifier`) ``spline_knots`` and ``type_x_rim``
    (true: :class:`FindingTerms`, false (default): :class:`FindingLevels`), the horizon
    entering as days through the Weibull time course.
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
        elif spec.kind == "mixture_cure":
            knots = int(params.pop("spline_knots", 5))
            terms = FindingTerms if bool(params.pop("type_x_rim", False)) else FindingLevels
            clf = MixtureCureClassifier(**params)
            features = with_finding_terms(
                build_preprocessor("linear", columns, spline_knots=knots), columns, terms)
            pipe = Pipeline([("features", _horizon_as_days(features)), ("model", clf)])
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
