"""Contributions for the mixture cure model ``p = expit(eta(x)) * F(t)``, per clinical variable.

Two parts multiply: the eventual resorption ``s = expit(eta)`` (every predictor) and the time
course ``F(t)`` (the horizon alone). Between the two, the split is the exact Shapley value
of the two-player game on the probability scale, with ``s0 = expit(eta0)`` (``eta0`` the
log-odds at the reference rows' mean encoded features, as for the logistic model) and ``F0``
the reference rows' mean time course::

    horizon    = (F - F0) * (s + s0) / 2
    predictors = (s - s0) * (F + F0) / 2          # the two sum to s F - s0 F0

The predictors' share is then split between them in proportion to their exact linear SHAP
values of ``eta`` in log-odds (``coef_j (z_j - mean z_j)`` summed per variable; Lundberg &
Lee 2017, arXiv:1705.07874), the secant-slope scaling used for the logistic model. Closed
form: one pass over the rows, no sampling.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from resorb.explain.linear import grouped_log_odds

__all__ = ["cure_contributions", "is_cure"]


def is_cure(estimator: Any) -> bool:
    """Whether ``estimator`` is a fitted mixture cure model (eventual log-odds x time course)."""
    return hasattr(estimator, "eventual_log_odds") and hasattr(estimator, "time_course") \
        and hasattr(estimator, "coef_")


def cure_contributions(estimator: Any, Z: Any, reference: Any, groups: np.ndarray,
                       n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int,
                                               float, np.ndarray]:
    """The parts of a cure model's explanation.

    Parameters
    ----------
    estimator : fitted :class:`resorb.models.MixtureCureClassifier`
    Z : DataFrame or array of shape (n_rows, n_features)
        Transformed rows to explain.
    reference : DataFrame or array of shape (n_reference, n_features)
        Transformed reference rows (mean features, mean time course).
    groups : ndarray of int, shape (n_features,)
        Group (clinical variable) of each feature.
    n_groups : int

    Returns
    -------
    phi : ndarray of shape (n_rows, n_groups)
        Log-odds contributions to eventual resorption (0 for the horizon's group).
    predictors : ndarray of shape (n_rows,)
        The predictors' share, in probability points.
    horizon : ndarray of shape (n_rows,)
        The horizon's share, in probability points.
    horizon_group : int
        Group of the horizon.
    base : float
        ``s0 * F0``, the probability at the reference.
    p : ndarray of shape (n_rows,)
        ``s * F``, the model's probabilities.
    """
    phi, base_log_odds = grouped_log_odds(estimator, Z, reference, groups, n_groups)
    s = expit(np.asarray(estimator.eventual_log_odds(Z), dtype=float))
    s0 = float(expit(base_log_odds))
    F = np.asarray(estimator.time_course(Z), dtype=float)
    F0 = float(np.mean(estimator.time_course(reference)))
    horizon_group = int(groups[estimator.horizon_index_])
    return (phi, (s - s0) * (F + F0) / 2, (F - F0) * (s + s0) / 2, horizon_group, s0 * F0,
            s * F)
