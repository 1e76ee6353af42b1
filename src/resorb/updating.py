"""Updating a fitted model to a new hospital's patients: recalibrate, revise or refit.

Every method except refit acts on the parent model's log-odds ``LP = logit(p_parent(x))``
(``p`` clipped to [1e-6, 1 - 1e-6]), so it works for every candidate of :mod:`resorb.models`,
tree ensembles and recalibrated models included (Steyerberg EW, Clinical Prediction Models,
2nd ed., Springer 2019, ch. 20; Janssen KJM et al., J Clin Epidemiol 2008;61:76-86,
doi:10.1016/j.jclinepi.2007.04.018):

- ``intercept``: recalibration in the large, ``logit p = a + LP`` (LP as offset, 1 parameter);
- ``recalibrate``: logistic recalibration, ``logit p = a + b LP`` (2 parameters);
- ``revise``: ``logit p = a + b LP + sum_j g_j t_j(x)`` with the :data:`REVISION_TERMS`, a
  compact linear encoding of the main clinical predictors (herniation type, rim enhancement,
  migration, Modic change, symptom duration, age: 9 terms), re-estimated on the new data with
  a ridge penalty on the ``g_j`` (standardised terms) chosen by AIC with effective degrees of
  freedom (le Cessie S, van Houwelingen JC, Appl Stat 1992;41:191-201); the parent's
  remaining structure (splines, trees, other predictors) is kept through LP;
- ``refit``: the parent's candidate (its params.yaml spec) fitted from scratch on the new data.

``auto`` is the closed testing procedure of Vergouwe Y, Nieboer D, Oostenbrink R et al., A
closed testing procedure to select an appropriate method for updating prediction models, Stat
Med 2017;36:4529-4539, doi:10.1002/sim.7179 (:func:`closed_test`): likelihood-ratio tests on
the new data, each against the most extensive model (the revision, fitted by unpenalised
maximum likelihood), from the least extensive method up, stopping at the first that is not
rejected at ``alpha``:

1. original model vs revision, ``df = k + 2``: not rejected -> keep the original;
2. recalibration in the large vs revision, ``df = k + 1``: not rejected -> ``intercept``;
3. logistic recalibration vs revision, ``df = k``: not rejected -> ``recalibrate``;
   rejected -> ``revise``,

with ``k`` the revision terms that vary in the data. The order and the comparator follow the
paper's description: the extensiveness of the updating increases progressively from the
original model to the revised model, every test against the revised model, with P + 1, P
and P - 1 degrees of freedom for a revision of P coefficients (here P = k + 1). Only the
paper's abstract could be checked while writing this; docs/updating.md says so.
Refit is never chosen by ``auto``: it discards the parent.

The updated model is one estimator, :class:`UpdatedModel`, with ``predict_proba`` on the same
model input as the parent; it is saved with :mod:`resorb.serialization` (skops) and explained
by :func:`resorb.explain.explain`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import chdtrc, expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from resorb.arguments import HasMethods, Options, Satisfies, ValidatedParams
from resorb.errors import InputError, TrainingError

#: updating methods, least extensive first; "auto" chooses among the first three
METHODS: tuple[str, ...] = ("intercept", "recalibrate", "revise", "refit")
CHOICES: tuple[str, ...] = ("auto", *METHODS)
KEEP = "keep"
#: predicted probabilities are clipped to [CLIP, 1 - CLIP] before taking the log-odds
CLIP = 1e-6
#: ridge penalties tried for the revision terms (standardised), chosen by AIC
PENALTIES: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
#: the revision's terms: (name, clinical variable); see :func:`revision_terms`
REVISION_TERMS: tuple[tuple[str, str], ...] = (
    ("herniation_type=bulge", "herniation_type"),
    ("herniation_type=protrusion", "herniation_type"),
    ("herniation_type=sequestration", "herniation_type"),
    ("rim_enhancement grade (0 none, 1 partial, 2 complete)", "rim_enhancement"),
    ("rim_enhancement missing (no contrast given)", "rim_enhancement"),
    ("migration_grade", "migration_grade"),
    ("modic_type any (1-3)", "modic_type"),
    ("log symptom_duration_days", "symptom_duration_days"),
    ("age (years)", "age"),
)
_RIM = {"none": 0.0, "partial": 1.0, "complete": 2.0}
METHOD_WORDS = {KEEP: "original model kept", "intercept": "recalibration in the large",
                "recalibrate": "logistic recalibration", "revise": "model revision",
                "refit": "refit from scratch"}


def parent_log_odds(parent: Any, X: pd.DataFrame) -> np.ndarray:
    """``logit(p_parent(x))`` with ``p`` clipped to [1e-6, 1 - 1e-6]; shape (n_rows,)."""
    from resorb.models import predict_resorption

    return logit(np.clip(predict_resorption(parent, X), CLIP, 1.0 - CLIP))


def revision_terms(X: pd.DataFrame) -> np.ndarray:
    """The :data:`REVISION_TERMS` of model input ``X``, unstandardised; NaN where missing.

    Parameters
    ----------
    X : DataFrame of shape (n_rows, n_columns)
        Model input (:func:`resorb.features.model_input`) with the columns herniation_type,
        rim_enhancement, migration_grade, modic_type, symptom_duration_days and age.

    Returns
    -------
    ndarray of shape (n_rows, 9)
        Indicators (0/1), the rim grade (no contrast counts as grade 0 plus its indicator),
        migration grade, any Modic change, log of symptom days, age in years.
    """
    n = len(X)

    def col(name: str) -> pd.Series:
        return X[name] if name in X else pd.Series([np.nan] * n, index=X.index)

    kind = col("herniation_type")
    known = kind.notna().to_numpy()
    out = np.full((n, len(REVISION_TERMS)), np.nan)
    for j, level in enumerate(("bulge", "protrusion", "sequestration")):
        out[known, j] = (kind[known] == level).to_numpy(dtype=float)
    rim = col("rim_enhancement")
    seen = rim.notna().to_numpy()
    out[:, 3] = np.where(seen, rim.map(_RIM).to_numpy(dtype=float, na_value=np.nan), 0.0)
    out[:, 4] = (~seen).astype(float)
    out[:, 5] = pd.to_numeric(col("migration_grade"), errors="coerce").to_numpy(float)
    modic = pd.to_numeric(col("modic_type"), errors="coerce").to_numpy(float)
    out[:, 6] = np.where(np.isnan(modic), np.nan, (modic > 0).astype(float))
    days = pd.to_numeric(col("symptom_duration_days"), errors="coerce").to_numpy(float)
    out[:, 7] = np.log(np.clip(days, 1.0, None))
    out[:, 8] = pd.to_numeric(col("age"), errors="coerce").to_numpy(float)
    return out


# ------------------------------------------------------------------ penalised logistic core
def _nll(y: np.ndarray, eta: np.ndarray) -> float:
    """Negative Bernoulli log-likelihood at log-odds ``eta``."""
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta))


def _fit(y: np.ndarray, offset: np.ndarray, Z: np.ndarray, ridge: np.ndarray,
         max_iter: int = 100, tol: float = 1e-10) -> tuple[np.ndarray, float]:
    """Penalised logistic regression with an offset by Newton-Raphson with step halving.

    Minimises ``nll(y; offset + Z beta) + beta' diag(ridge) beta / 2``; returns ``beta`` and
    the (unpenalised) log-likelihood at it.
    """
    beta = np.zeros(Z.shape[1])

    def objective(b: np.ndarray) -> float:
        return _nll(y, offset + Z @ b) + 0.5 * float(b @ (ridge * b))

    current = objective(beta)
    for _ in range(max_iter):
        p = expit(offset + Z @ beta)
        grad = Z.T @ (p - y) + ridge * beta
        hess = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(ridge + 1e-10)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-8:
            trial = beta - t * step
            value = objective(trial)
            if value <= current + 1e-12:
                break
            t /= 2
        else:
            break
        done = current - value < tol
        beta, current = trial, value
        if done:
            break
    return beta, -_nll(y, offset + Z @ beta)


def _effective_df(y: np.ndarray, eta: np.ndarray, Z: np.ndarray, ridge: np.ndarray) -> float:
    """trace((H + P)^-1 H): effective degrees of freedom of a ridge fit (le Cessie 1992)."""
    p = expit(eta)
    hess = (Z * (p * (1 - p))[:, None]).T @ Z
    return float(np.trace(np.linalg.solve(hess + np.diag(ridge + 1e-10), hess)))


@dataclass(frozen=True)
class _Standardised:
    """Revision terms standardised with the update data's means and SDs (missing -> mean)."""

    center: np.ndarray
    scale: np.ndarray
    used: np.ndarray  # bool: the term varies in the update data

    @classmethod
    def of(cls, T: np.ndarray) -> _Standardised:
        seen = ~np.isnan(T)
        counts = seen.sum(axis=0)
        center = np.where(counts > 0, np.where(seen, T, 0.0).sum(axis=0)
                          / np.maximum(counts, 1), 0.0)
        filled = np.where(seen, T, center)
        sd = filled.std(axis=0)
        used = sd > 1e-9
        return cls(center, np.where(used, sd, 1.0), used)

    def apply(self, T: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(T), 0.0, (T - self.center) / self.scale) * self.used


# ------------------------------------------------------------------------ the estimator
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


def _binary(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y, dtype=float).ravel()
    if arr.shape != (n,) or not np.isin(arr, (0.0, 1.0)).all():
        raise InputError(f"the outcome must be {n} values of 0 or 1")
    if arr.min() == arr.max():
        raise TrainingError(f"the outcome has a single class among {n:,} rows: an update "
                            f"needs both resorbed and not resorbed herniations")
    return arr


# ------------------------------------------------------------------ the closed test
@dataclass(frozen=True)
class TestStep:
    """One likelihood-ratio test of the closed testing procedure.

    Attributes
    ----------
    method : str
        The less extensive method tested (``keep``, ``intercept``, ``recalibrate``).
    against : str
        The comparator (``revise``, unpenalised).
    chi2 : float
        ``2 (loglik_revision - loglik_method)``.
    df : int
    p : float
    rejected : bool
        ``p < alpha``: the method is not adequate.
    """

    method: str
    against: str
    chi2: float
    df: int
    p: float
    rejected: bool


@dataclass(frozen=True)
class ClosedTest:
    """The closed testing procedure's decision, its tests and the log-likelihoods."""

    chosen: str
    alpha: float
    steps: tuple[TestStep, ...]
    loglik: dict[str, float]
    revision_df: int

    def table(self) -> pd.DataFrame:
        """One row per test performed: method, against, chi2, df, p, rejected."""
        return pd.DataFrame([s.__dict__ for s in self.steps])


def closed_test(parent: Any, X: pd.DataFrame, y: Any, alpha: float = 0.05) -> ClosedTest:
    """Vergouwe's closed testing procedure: the least extensive adequate update at ``alpha``.

    Vergouwe Y, Nieboer D, Oostenbrink R, Debray TPA, Murray GD, Kattan MW, Koffijberg H,
    Moons KGM, Steyerberg EW. A closed testing procedure to select an appropriate method for
    updating prediction models. Stat Med 2017;36:4529-4539, doi:10.1002/sim.7179. The
    original model, recalibration in the large and logistic recalibration are each tested
    against the revision (unpenalised maximum likelihood) by a likelihood-ratio test with
    ``k + 2``, ``k + 1`` and ``k`` degrees of freedom, in that order; the first not rejected
    is chosen, else the revision.

    Parameters
    ----------
    parent : fitted classifier with ``predict_proba``
    X : DataFrame of shape (n_rows, n_columns)
        Model input of the new data.
    y : array-like of shape (n_rows,)
        Observed outcome, 1 = resorbed.
    alpha : float
        Level of every test, in (0, 1).

    Returns
    -------
    ClosedTest

    Raises
    ------
    InputError
        ``alpha`` outside (0, 1).
    TrainingError
        ``y`` holds a single class.
    """
    check_alpha(alpha)
    y = _binary(y, len(X))
    lp = parent_log_odds(parent, X)
    n = len(y)
    T = _Standardised.of(revision_terms(X))
    terms = T.apply(revision_terms(X))[:, T.used]
    k = terms.shape[1]
    ones = np.ones((n, 1))
    loglik = {KEEP: -_nll(y, lp),
              "intercept": _fit(y, lp, ones, np.zeros(1))[1],
              "recalibrate": _fit(y, np.zeros(n), np.column_stack([ones, lp]), np.zeros(2))[1],
              "revise": _fit(y, np.zeros(n), np.column_stack([ones, lp, terms]),
                             np.zeros(k + 2))[1]}
    steps = []
    chosen = "revise"
    for method, df in ((KEEP, k + 2), ("intercept", k + 1), ("recalibrate", k)):
        stat = max(0.0, 2.0 * (loglik["revise"] - loglik[method]))
        p = float(chdtrc(df, stat)) if df > 0 else 1.0
        steps.append(TestStep(method, "revise", float(stat), int(df), p, p < alpha))
        if p >= alpha:
            chosen = method
            break
    return ClosedTest(chosen, float(alpha), tuple(steps), loglik, k)


def update_parameters(method: str, refit_parameters: int | None = None) -> int:
    """Parameters an updating method estimates, for the sample-size check.

    ``intercept`` 1, ``recalibrate`` 2 (intercept and slope), ``revise`` 2 plus the
    :data:`REVISION_TERMS` (counted whole although ridge-penalised, as Riley counts candidate
    parameters), ``refit`` the candidate's own (``refit_parameters``); ``auto`` fits the
    revision in its closed test, so it needs what ``revise`` needs.

    Raises
    ------
    InputError
        Unknown method, or ``refit`` without ``refit_parameters``.
    """
    counts = {"intercept": 1, "recalibrate": 2, "revise": 2 + len(REVISION_TERMS),
              "auto": 2 + len(REVISION_TERMS)}
    if method == "refit":
        if refit_parameters is None:
            raise InputError("the parameter count of a refit is the candidate's own: give it")
        return max(int(refit_parameters), 1)
    if method not in counts:
        raise InputError(f"unknown updating method {method!r}; choose one of: "
                         f"{', '.join(CHOICES)}")
    return counts[method]


def update_sample_size(method: str, n_rows: int, n_events: int, *,
                       refit_parameters: int | None = None,
                       c_statistic: float | None = None) -> Any:
    """The data an update is fitted on against Riley's minimum for what the method estimates.

    Riley et al. 2020 (BMJ 368:m441, doi:10.1136/bmj.m441) with the parameter count of
    :func:`update_parameters`: updating estimates parameters on the new data as development
    does, so the same criteria apply (Riley et al. 2021, Stat Med 40:4230, on updating as a
    model developed with the parent's linear predictor as an offset). Even recalibration in
    the large (one parameter) needs the rows criterion (iii) asks for to estimate the
    intercept within 0.05.

    Parameters
    ----------
    method : {"auto", "intercept", "recalibrate", "revise", "refit"}
    n_rows, n_events : int
        Labelled rows (operated rows excluded) and resorptions among them.
    refit_parameters : int, optional
        The candidate's parameter count (``refit`` only).
    c_statistic : float, optional
        Anticipated C (``training.anticipated_c``) for Riley's Cox-Snell R2.

    Returns
    -------
    resorb.metrics.SampleSizeReport
        ``below_minimum`` True when the rows fall short; ``message`` names both numbers.

    Raises
    ------
    TrainingError
        No events or only events.
    """
    from resorb.metrics import sample_size_check

    k = update_parameters(method, refit_parameters)
    return sample_size_check(n_rows, n_events, k, c_statistic=c_statistic)


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a float in (0, 1), else :class:`InputError` saying so."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < float(alpha) < 1:
        raise InputError(f"--alpha must be a number between 0 and 1 (exclusive), the level of "
                         f"each likelihood-ratio test, e.g. 0.05; got {alpha!r}")
    return float(alpha)


# -------------------------------------------------------------------------- the update
@dataclass(frozen=True)
class Update:
    """An update: the method used, the model (None when the original is kept), the test."""

    requested: str
    method: str
    model: UpdatedModel | None
    test: ClosedTest | None


def fit_update(parent: Any, X: pd.DataFrame, y: Any, method: str = "auto",
               alpha: float = 0.05, refit_estimator: Any = None, test: bool = True) -> Update:
    """Update ``parent`` on new data by ``method``, or by the closed test when ``"auto"``.

    Parameters
    ----------
    parent : fitted classifier with ``predict_proba``
    X : DataFrame of shape (n_rows, n_columns)
        Model input of the new data.
    y : array-like of shape (n_rows,)
        Observed outcome, 1 = resorbed.
    method : {"auto", "intercept", "recalibrate", "revise", "refit"}
    alpha : float
        Level of the closed test (``auto``); recorded but unused otherwise.
    refit_estimator : unfitted classifier, optional
        Needed for ``refit``.
    test : bool
        Run the closed test for the record when a method is named (``auto`` always runs it).

    Returns
    -------
    Update
        ``model`` is None when ``auto`` keeps the original model.

    Raises
    ------
    InputError
        Unknown method, bad alpha, or ``refit`` without an estimator.
    TrainingError
        ``y`` holds a single class.
    """
    if method not in CHOICES:
        raise InputError(f"unknown updating method {method!r}; choose one of: "
                         f"{', '.join(CHOICES)}")
    check_alpha(alpha)
    decision = closed_test(parent, X, y, alpha) if method == "auto" or test else None
    chosen = decision.chosen if method == "auto" and decision is not None else method
    if chosen == KEEP:
        return Update(method, KEEP, None, decision)
    model = UpdatedModel(parent=None if chosen == "refit" else parent, method=chosen,
                         refit_estimator=refit_estimator).fit(X, y)
    return Update(method, chosen, model, decision)


def update_fit_predict(parent: Any, method: str, alpha: float, refit_estimator: Any = None
                       ) -> Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], np.ndarray]:
    """``fit_predict`` for :func:`resorb.metrics.optimism_corrected`: the update (the closed
    test included, for ``auto``) refitted on each resample, the parent fixed."""
    from resorb.models import predict_resorption

    def fit_predict(x_train: pd.DataFrame, y_train: np.ndarray, x_eval: pd.DataFrame
                    ) -> np.ndarray:
        update = fit_update(parent, x_train, y_train, method, alpha, refit_estimator,
                            test=False)
        model = parent if update.model is None else update.model
        return predict_resorption(model, x_eval)

    return fit_predict
