"""The penalised logistic core of the updates: offset, ridge, effective degrees of freedom.

Newton-Raphson with step halving on ``nll(y; offset + Z beta) + beta' diag(ridge) beta / 2``;
the ridge's effective degrees of freedom after le Cessie S, van Houwelingen JC, Appl Stat
1992;41:191-201.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from resorb.errors import InputError, TrainingError


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



def _binary(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y, dtype=float).ravel()
    if arr.shape != (n,) or not np.isin(arr, (0.0, 1.0)).all():
        raise InputError(f"the outcome must be {n} values of 0 or 1")
    if arr.min() == arr.max():
        raise TrainingError(f"the outcome has a single class among {n:,} rows: an update "
                            f"needs both resorbed and not resorbed herniations")
    return arr

