"""An update of a parent model: the method named, or chosen by the closed test, and fitted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from resorb.errors import InputError
from resorb.updating.closed_testing import ClosedTest, closed_test
from resorb.updating.methods import CHOICES, KEEP, check_alpha
from resorb.updating.model import UpdatedModel


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

