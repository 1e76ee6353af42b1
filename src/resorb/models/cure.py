"""Mixture cure model of a binary status at one follow-up time (current-status data).

``P(resorbed by t | x) = expit(b0 + x @ beta) * F(t)``, ``F`` the Weibull distribution
function ``1 - exp(-(t / scale) ** shape)`` of the time to resorption of eventual resorbers:
the mixture cure model of Farewell (Biometrics 1982;38:1007-1015, doi:10.2307/2529885), here
for one status per patient at its follow-up day. It is the shape of the generator
(:mod:`resorb.cohort.outcome`: eventual resorption additive in logit, times a Weibull time
course; Autio 2006, Albert 2024), which the additive logistic model with horizon ramps cannot
represent: its horizon effect shifts the logit by the same amount for every patient, where
the truth multiplies the probability (docs/training.md, "Mixture cure candidate").

Fitted by penalised maximum likelihood with scipy's L-BFGS-B and the analytic gradient, as
:func:`resorb.models.logistic._penalised_fit` (one BLAS thread, same seed same model); no
library offers a penalised cure model on a scikit-learn design (lifelines' cure models fit
right-censored times, not a status at one time, and take no penalty).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from resorb.arguments import Interval, ValidatedParams
from resorb.models._common import HORIZON_PREFIX, _binary_classes, _positive_weights

#: bounds of the Weibull shape and scale (days): wide, but keep a horizon that the data do
#: not inform (every follow-up on one day) from running away
SHAPE_BOUNDS = (0.05, 20.0)
SCALE_BOUNDS_DAYS = (0.5, 36_500.0)


def weibull_cdf(days: np.ndarray, shape: float, scale: float) -> np.ndarray:
    """``1 - exp(-(days / scale) ** shape)``, shape of ``days``; days > 0."""
    return -np.expm1(-((np.asarray(days, dtype=float) / scale) ** shape))


def _weighted_median(values: np.ndarray, w: np.ndarray) -> float:
    """The median of ``values`` each repeated ``w`` times (``np.median`` for unit weights)."""
    keep = w > 0
    order = np.argsort(values[keep], kind="stable")
    v, cw = values[keep][order], np.cumsum(w[keep][order])
    half = cw[-1] / 2.0
    k = int(np.searchsorted(cw, half, side="left"))
    if np.isclose(cw[k], half, rtol=0.0, atol=1e-12 * cw[-1]) and k + 1 < len(v):
        return float((v[k] + v[k + 1]) / 2.0)
    return float(v[k])


def _cure_loss_grad(theta: np.ndarray, Xf: np.ndarray, log_t: np.ndarray, y: np.ndarray,
                    w: np.ndarray, C: float) -> tuple[float, np.ndarray]:
    """C * sum(w * log loss) + ||beta||^2 / 2 and its gradient; theta = (b0, beta, log k,
    log scale)."""
    b0, beta, log_k, log_s = theta[0], theta[1:-2], theta[-2], theta[-1]
    k = np.exp(log_k)
    z = Xf @ beta + b0
    a = np.clip(k * (log_t - log_s), -700.0, 700.0)
    u = np.exp(a)                                   # (t / scale) ** shape
    log_f = np.log(-np.expm1(-np.maximum(u, 1e-300)))
    log_s_eta = -np.logaddexp(0.0, -z)              # log expit(z)
    s = expit(z)
    p = np.exp(log_s_eta + log_f)
    one_minus_p = expit(-z) + s * np.exp(-u)        # 1 - s F, without cancellation
    loss = -np.sum(w * (y * (log_s_eta + log_f) + (1.0 - y) * np.log(one_minus_p)))
    # d loss / d log p = (p - y) / (1 - p); d log p / dz = 1 - s; d log F / du = 1 / expm1(u)
    g = w * (p - y) / one_minus_p
    ratio = np.ones_like(u)                          # u / expm1(u), without overflow
    away = u > 1e-12
    ratio[away] = u[away] * np.exp(-u[away]) / -np.expm1(-u[away])
    g_eta = g * (1.0 - s)
    g_a = g * ratio                                  # d/da, a = k (log t - log scale)
    grad = np.concatenate(([g_eta.sum()], Xf.T @ g_eta,
                           [np.sum(g_a * a), -k * g_a.sum()]))
    total = C * loss + 0.5 * beta @ beta
    grad = C * grad
    grad[1:-2] += beta
    return float(total), grad


class MixtureCureClassifier(ValidatedParams, ClassifierMixin, BaseEstimator):
    """Eventual resorption (logistic) times a Weibull time course of the follow-up days.

    ``predict_proba(X)[:, 1] = expit(intercept_ + X_other @ beta) * F(t)``, ``t`` the one
    column of ``X`` whose name starts with ``horizon_prefix`` (days, > 0; the last column
    when ``X`` has no names), ``X_other`` the rest. Minimises ``C * sum(w * log loss) +
    ||beta||^2 / 2``; neither the intercept nor the Weibull shape and scale are penalised.
    The probability rises with the horizon for every patient (F is a distribution function).

    Parameters
    ----------
    C : float
        Inverse penalty strength (> 0), as in :class:`MonotoneLogisticRegression`.
    horizon_prefix : str
        Name prefix of the horizon column (the follow-up days, unscaled).
    max_iter : int
        Iterations of L-BFGS-B.
    tol : float
        Gradient tolerance.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
        Log-odds coefficients of eventual resorption; 0 at the horizon column.
    intercept_ : ndarray of shape (1,)
    shape_, scale_ : float
        The Weibull shape and scale (days) of the time to resorption of eventual resorbers.
    horizon_index_ : int
        Position of the horizon column.
    n_iter_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)

    References
    ----------
    Farewell VT. The use of mixture models for the analysis of survival data with long-term
    survivors. Biometrics 1982;38:1007-1015, doi:10.2307/2529885.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "horizon_prefix": [str],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, C: float = 1.0, horizon_prefix: str = HORIZON_PREFIX,
                 max_iter: int = 2000, tol: float = 1e-6) -> None:
        self.C = C
        self.horizon_prefix = horizon_prefix
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        # the horizon column only raises the probability (F is a distribution function): on
        # data where it is no follow-up time, e.g. make_blobs, whose last column separates the
        # classes the other way, the training accuracy stays below scikit-learn's 0.83
        tags.classifier_tags.poor_score = True
        return tags

    def _horizon_index(self, n_features: int) -> int:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return n_features - 1
        found = [i for i, n in enumerate(names) if str(n).startswith(self.horizon_prefix)]
        if len(found) != 1:
            raise ValueError(f"MixtureCureClassifier needs exactly one column named "
                             f"'{self.horizon_prefix}...' (the follow-up days); got "
                             f"{len(found)}")
        return found[0]

    def _split(self, X) -> tuple[np.ndarray, np.ndarray]:
        Xf = np.asarray(X, dtype=float)
        t = Xf[:, self.horizon_index_]
        if np.any(~(t > 0)):
            raise ValueError(f"MixtureCureClassifier: the horizon (follow-up days) must be "
                             f"> 0; got {int(np.sum(~(t > 0)))} rows that are not")
        return np.delete(Xf, self.horizon_index_, axis=1), t

    def fit(self, X, y, sample_weight=None):
        """Fit by penalised maximum likelihood (L-BFGS-B, analytic gradient)."""
        from threadpoolctl import threadpool_limits

        self._validate_params()
        X, y = validate_data(self, X, y, reset=True, dtype="numeric")
        self.classes_, yi = _binary_classes(y)
        w = _positive_weights(sample_weight, X)
        if X.shape[1] < 1:
            raise ValueError("MixtureCureClassifier needs the horizon column")
        self.horizon_index_ = self._horizon_index(X.shape[1])
        Xf, t = self._split(X)
        log_t = np.log(t)
        yf = yi.astype(float)
        rate = float(np.clip(np.average(yf, weights=w), 0.01, 0.99))
        # start: eventual fraction a little above the observed rate, time course of shape 1
        # whose scale is the median follow-up (weighted: a row of weight 2 starts the fit as
        # two rows do; on a flat likelihood the start decides where L-BFGS-B stops)
        start = np.concatenate(([np.log(min(0.99, rate * 1.25) / (1 - min(0.99, rate * 1.25)))],
                                np.zeros(Xf.shape[1]),
                                [0.0, _weighted_median(log_t, w)]))
        bounds = ([(None, None)] * (Xf.shape[1] + 1)
                  + [tuple(np.log(SHAPE_BOUNDS)), tuple(np.log(SCALE_BOUNDS_DAYS))])
        start[-1] = float(np.clip(start[-1], *np.log(SCALE_BOUNDS_DAYS)))
        with threadpool_limits(limits=1, user_api="blas"):
            res = minimize(_cure_loss_grad, start, args=(Xf, log_t, yf, w, float(self.C)),
                           jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": self.max_iter, "gtol": self.tol})
        beta = res.x[1:-2]
        self.intercept_ = np.array([res.x[0]])
        self.coef_ = np.insert(beta, self.horizon_index_, 0.0).reshape(1, -1)
        self.shape_ = float(np.exp(res.x[-2]))
        self.scale_ = float(np.exp(res.x[-1]))
        self.n_iter_ = np.array([res.nit])
        return self

    def eventual_log_odds(self, X) -> np.ndarray:
        """Log-odds of eventual resorption (the horizon ignored), shape (n_rows,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype="numeric")
        return np.asarray(X, dtype=float) @ self.coef_[0] + self.intercept_[0]

    def time_course(self, X) -> np.ndarray:
        """F(t): share of eventual resorbers resorbed by each row's horizon, shape (n_rows,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype="numeric")
        _, t = self._split(X)
        return weibull_cdf(t, self.shape_, self.scale_)

    def predict_proba(self, X):
        """Class probabilities, shape (n_rows, 2)."""
        check_is_fitted(self)
        p = expit(self.eventual_log_odds(X)) * self.time_course(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Most probable class, shape (n_rows,)."""
        check_is_fitted(self)
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]
