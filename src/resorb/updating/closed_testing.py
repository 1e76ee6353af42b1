"""Vergouwe's closed testing procedure: the least extensive adequate update.

Vergouwe Y, Nieboer D, Oostenbrink R et al., Stat Med 2017;36:4529-4539,
doi:10.1002/sim.7179; the order and the comparator are described in :mod:`resorb.updating`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from resorb.updating.likelihood import _binary, _fit, _nll, _Standardised
from resorb.updating.methods import KEEP, check_alpha
from resorb.updating.terms import parent_log_odds, revision_terms


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

