"""The rows and folds every candidate shares, and one unit of cross-validation.

:func:`prepare` turns a canonical frame into labelled rows and model input; :func:`make_folds`
gives identical folds to every candidate; :func:`fold_prediction` and :func:`refit_predict`
are the units that worker processes receive by reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resorb.config import CandidateSpec, Params
from resorb.features import model_columns, model_input
from resorb.label import LabelledData, labelled_rows
from resorb.models import build_model, predict_resorption


def prepare(
    frame: pd.DataFrame, params: Params
) -> tuple[LabelledData, pd.DataFrame, np.ndarray | None]:
    """Labelled rows, model inputs and site groups (when present) from a canonical frame.

    The model input holds the predictors of ``params.training.predictors`` and the horizon
    only: a predictor outside the set never reaches a model."""
    data = labelled_rows(frame, params.label)
    X = model_input(data.frame, columns=model_columns(params.training.predictor_columns))
    groups = None
    if "site" in data.frame and data.frame["site"].notna().all():
        groups = data.frame["site"].astype(str).to_numpy()
    return data, X, groups



def make_folds(
    y: np.ndarray, groups: np.ndarray | None, folds: int, repeats: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Identical folds for every candidate: repeated stratified, or leave one site out.

    Leave-one-site-out when ``groups`` holds three or more sites; the checks and the folds
    are :func:`resorb.splits.outer_folds`.

    Raises
    ------
    TrainingError
        Too few events or non-events for the folds, or a training set with one class; the
        message gives the counts and a fix.
    """
    from resorb.splits import outer_folds

    return outer_folds(y, groups, folds, repeats, seed)


def out_of_fold(
    spec: CandidateSpec,
    X: pd.DataFrame,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> np.ndarray:
    """Cross-validated predictions, averaged over repeats; shape (n_rows,)."""
    predictions = [fold_prediction(spec, X, y, train, test, seed) for train, test in splits]
    return _averaged(len(y), splits, predictions)


def fold_prediction(spec: CandidateSpec, X: pd.DataFrame, y: np.ndarray, train: np.ndarray,
                    test: np.ndarray, seed: int) -> np.ndarray:
    """One unit of cross-validation: fit on the ``train`` rows, predict the ``test`` rows.

    Returns
    -------
    ndarray of shape (len(test),)
        Predicted probability of resorption of the held-out rows.
    """
    model = build_model(spec, seed=seed).fit(X.iloc[train], y[train])
    return predict_resorption(model, X.iloc[test])



def refit_predict(spec: CandidateSpec, seed: int, x_train: pd.DataFrame, y_train: np.ndarray,
                  x_eval: pd.DataFrame) -> np.ndarray:
    """Fit a fresh ``spec`` pipeline on the training rows, predict ``x_eval``; shape (n_eval,).

    The ``fit_predict`` of :func:`resorb.metrics.optimism_corrected` (bound with
    :func:`functools.partial`, so that worker processes receive it by reference).
    """
    return predict_resorption(build_model(spec, seed=seed).fit(x_train, y_train), x_eval)


def _averaged(n: int, splits: list[tuple[np.ndarray, np.ndarray]],
              predictions: list[np.ndarray]) -> np.ndarray:
    """Out-of-fold predictions of ``n`` rows, averaged over repeats, in the splits' order."""
    total = np.zeros(n)
    count = np.zeros(n)
    for (_, test), p in zip(splits, predictions, strict=True):
        total[test] += p
        count[test] += 1
    return total / np.maximum(count, 1)

