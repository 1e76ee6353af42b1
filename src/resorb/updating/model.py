"""The updated model as one estimator: :class:`UpdatedModel` (see :mod:`resorb.updating`).

Its ``__module__`` is ``resorb.updating`` (set in the package), the path skops stores in every
saved model and :data:`resorb.serialization.TRUSTED_TYPES` names.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from resorb.arguments import HasMethods, Options, Satisfies, ValidatedParams
from resorb.errors import InputError
from resorb.updating.likelihood import _binary, _effective_df, _fit, _Standardised
from resorb.updating.methods import METHODS
from resorb.updating.terms import REVISION_TERMS, parent_log_odds, revision_terms

#: ridge penalties tried for the revision terms (standardised), chosen by AIC
PENALTIES: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)


class UpdatedModel(ValidatedParams, ClassifierMixin, BaseEstimator):
    """A parent model updated on new data: its log-odds recalibrated or revised, or a refit.

    ``logit p(x) = intercept_ + slope_ * LP(x) + revision_coef_ @ t(x)`` with
    ``LP = logit(p_parent(x))`` (clipped) and ``t`` the standardised :data:`REVISION_TERMS`
    (all zero unless ``method="revise"``); for ``method="refit"`` the prediction is that of
    ``refitted_``, the ``refit_estimator`` fitted on the new data.

    Parameters
    ----------
    parent : fitted classifier with ``predict_proba``, or None
        The model to update (a candidate of :mod:`resorb.models`, or another UpdatedModel);
        not refitted. None only with ``method="refit"``.
    method : {"intercept", "recalibrate", "revise", "refit"}
        See :mod:`resorb.updating`.
    refit_estimator : unfitted classifier, or None
        With ``method="refit"``: the pipeline to fit (``resorb.models.build_model(spec)``).
    penalties : tuple of float
        Ridge penalties tried for the revision terms; the one with the lowest AIC is used.

    Attributes
    ----------
    intercept_, slope_ : float
        Of the recalibration (0 and 1 when not estimated).
    revision_coef_ : ndarray of shape (9,)
        Per standardised revision term (zeros unless ``revise``).
    revision_center_, revision_scale_ : ndarray of shape (9,)
        Means and SDs of the raw terms in the update data (missing values take the mean).
    penalty_ : float
        Chosen ridge penalty (``revise``), else 0.
    refitted_ : fitted classifier or None
    classes_ : ndarray ``[0, 1]``
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "parent": [None, HasMethods("predict_proba")],
        "method": [Options(*METHODS)],
        "refit_estimator": [None, HasMethods("fit", "predict_proba")],
        "penalties": [Satisfies(lambda v: isinstance(v, tuple | list) and len(v) > 0 and all(
            isinstance(x, Real) and x >= 0 for x in v), "a non-empty tuple of penalties >= 0")],
    }

    def __init__(self, parent: Any = None, method: str = "intercept",
                 refit_estimator: Any = None, penalties: tuple[float, ...] = PENALTIES) -> None:
        self.parent = parent
        self.method = method
        self.refit_estimator = refit_estimator
        self.penalties = penalties

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        return tags

    def __sklearn_clone__(self) -> UpdatedModel:
        """An unfitted copy of this update around the same fitted parent.

        The parent is the data the update is estimated on, not a hyper-parameter:
        scikit-learn's default :func:`~sklearn.base.clone` clones it too, and an update of
        an unfitted parent cannot be fitted (``clone(updated).fit(X, y)`` raised
        ``NotFittedError``), so neither could ``cross_val_predict``, ``GridSearchCV`` or a
        bootstrap of the update. As :class:`sklearn.frozen.FrozenEstimator` does for its
        estimator, the parent is kept: the same object (``fit`` only reads its
        predictions), while ``refit_estimator`` and the other parameters are cloned as
        ``clone`` clones them. No attribute is added, so saved updates (skops) keep their
        structure.

        Returns
        -------
        UpdatedModel
            Unfitted; ``clone(u).parent is u.parent``.
        """
        params = self.get_params(deep=False)
        return type(self)(**{name: value if name == "parent" else clone(value, safe=False)
                             for name, value in params.items()})

    @property
    def base(self) -> Any:
        """The model whose log-odds are updated: the parent, or the refitted model."""
        check_is_fitted(self)
        return self.refitted_ if self.refitted_ is not None else self.parent

    def fit(self, X: pd.DataFrame, y: Any) -> UpdatedModel:
        """Estimate the update on model input ``X`` and outcome ``y`` (0/1) of the new data.

        Raises
        ------
        InputError
            ``X`` is not a DataFrame, no parent for a method that needs one, or no
            ``refit_estimator`` for ``refit``.
        TrainingError
            ``y`` does not hold both outcomes.
        """
        self._validate_params()
        if not isinstance(X, pd.DataFrame):
            raise InputError(f"UpdatedModel.fit needs model input as a DataFrame, got "
                             f"{type(X).__name__}")
        y = _binary(y, len(X))
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.intercept_, self.slope_, self.penalty_ = 0.0, 1.0, 0.0
        self.revision_coef_ = np.zeros(len(REVISION_TERMS))
        self.revision_center_ = np.zeros(len(REVISION_TERMS))
        self.revision_scale_ = np.ones(len(REVISION_TERMS))
        self.refitted_ = None
        if self.method == "refit":
            if self.refit_estimator is None:
                raise InputError("method 'refit' needs refit_estimator (an unfitted pipeline)")
            self.refitted_ = clone(self.refit_estimator).fit(X, y)
            return self
        if self.parent is None:
            raise InputError(f"method '{self.method}' updates a parent model; none given")
        lp = parent_log_odds(self.parent, X)
        if self.method == "intercept":
            (a,), _ = _fit(y, lp, np.ones((len(y), 1)), np.zeros(1))
            self.intercept_ = float(a)
        elif self.method == "recalibrate":
            (a, b), _ = _fit(y, np.zeros(len(y)), np.column_stack([np.ones(len(y)), lp]),
                             np.zeros(2))
            self.intercept_, self.slope_ = float(a), float(b)
        else:
            std = _Standardised.of(revision_terms(X))
            T = std.apply(revision_terms(X))
            Z = np.column_stack([np.ones(len(y)), lp, T])
            best = None
            for penalty in self.penalties:
                ridge = np.concatenate([[0.0, 0.0], np.full(T.shape[1], float(penalty))])
                beta, loglik = _fit(y, np.zeros(len(y)), Z, ridge)
                aic = -2 * loglik + 2 * _effective_df(y, Z @ beta, Z, ridge)
                if best is None or aic < best[0] - 1e-9:
                    best = (aic, float(penalty), beta)
            _, self.penalty_, beta = best
            self.intercept_, self.slope_ = float(beta[0]), float(beta[1])
            self.revision_coef_ = beta[2:] * std.used
            self.revision_center_, self.revision_scale_ = std.center, std.scale
        return self

    def revision_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """Standardised revision terms of ``X`` as this model uses them, shape (n_rows, 9)."""
        check_is_fitted(self)
        T = revision_terms(X)
        return np.where(np.isnan(T), 0.0, (T - self.revision_center_) / self.revision_scale_)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Updated log-odds of resorption, shape (n_rows,)."""
        check_is_fitted(self)
        if self.refitted_ is not None:
            return parent_log_odds(self.refitted_, X)
        eta = self.intercept_ + self.slope_ * parent_log_odds(self.parent, X)
        if np.any(self.revision_coef_ != 0):
            eta = eta + self.revision_matrix(X) @ self.revision_coef_
        return eta

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n_rows, 2)."""
        check_is_fitted(self)
        if self.refitted_ is not None:
            from resorb.models import predict_resorption

            p = predict_resorption(self.refitted_, X)
        else:
            p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Most probable class, shape (n_rows,)."""
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

