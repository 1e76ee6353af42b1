"""Exact interventional SHAP of a linear model in log-odds, summed per clinical variable.

For ``f(z) = intercept + coef @ z`` with independent features the interventional Shapley value
of feature ``j`` is ``coef_j * (z_j - mean(z_bg)_j)`` (Lundberg & Lee, "A unified approach to
interpreting model predictions", NeurIPS 2017, arXiv:1705.07874, linear SHAP); a variable's
contribution is the sum over the output features it becomes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["is_linear", "linear_contributions"]


def is_linear(estimator: Any) -> bool:
    """Whether ``estimator`` is a fitted binary linear classifier (one row of ``coef_``)."""
    coef = getattr(estimator, "coef_", None)
    return coef is not None and hasattr(estimator, "decision_function") \
        and np.asarray(coef).ndim == 2 and np.asarray(coef).shape[0] == 1


def linear_contributions(estimator: Any, Z: Any, reference: Any, groups: np.ndarray,
                         n_groups: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Interventional linear SHAP in log-odds, summed per group of features.

    Parameters
    ----------
    estimator : fitted linear classifier
        With ``coef_`` of shape (1, n_features), ``intercept_`` and ``decision_function``.
    Z : array-like of shape (n_rows, n_features)
        Transformed rows to explain.
    reference : array-like of shape (n_reference, n_features)
        Transformed reference rows; only their mean is used.
    groups : ndarray of int, shape (n_features,)
        Group (clinical variable) of each feature, in ``0 .. n_groups - 1``.
    n_groups : int
        Number of groups.

    Returns
    -------
    phi : ndarray of shape (n_rows, n_groups)
        Contributions in log-odds.
    base : float
        Log-odds at the reference mean; ``base + phi.sum(axis=1) == raw``.
    raw : ndarray of shape (n_rows,)
        The model's decision function for each row.
    """
    phi, base = grouped_log_odds(estimator, Z, reference, groups, n_groups)
    return phi, base, np.asarray(estimator.decision_function(Z))


def grouped_log_odds(estimator: Any, Z: Any, reference: Any, groups: np.ndarray,
                     n_groups: int) -> tuple[np.ndarray, float]:
    """The linear part of :func:`linear_contributions`: ``(phi, base)`` without ``raw``.

    For any estimator with ``coef_`` and ``intercept_`` (the mixture cure model's eventual
    part included, :mod:`resorb.explain.cure`); shapes as in :func:`linear_contributions`.
    """
    coef = np.asarray(estimator.coef_, dtype=float).ravel()
    intercept = float(np.ravel(estimator.intercept_)[0])
    mean = np.asarray(reference, dtype=float).mean(axis=0)
    to_groups = np.zeros((groups.size, n_groups))
    to_groups[np.arange(groups.size), groups] = 1.0
    phi = ((np.asarray(Z, dtype=float) - mean) * coef) @ to_groups
    return phi, intercept + float(mean @ coef)
