"""Discrimination and overall accuracy of predicted resorption, and every scalar metric at once.

Pure functions of an outcome vector ``y`` of shape ``(n,)`` (1 = the herniation resorbed under
conservative care, 0 = it did not) and predicted probabilities ``p`` of shape ``(n,)``:

- discrimination: :func:`auroc` (C-statistic; Hanley & McNeil, Radiology 1982;143:29-36,
  doi:10.1148/radiology.143.1.7063747) and :func:`auprc` (average precision);
- overall accuracy: :func:`brier` (Brier, Mon Weather Rev 1950;78:1-3,
  doi:10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2), :func:`scaled_brier` and
  :func:`log_loss` (Steyerberg et al., Epidemiology 2010;21:128-138,
  doi:10.1097/EDE.0b013e3181c30fb2);
- :data:`METRICS` and :func:`metric_table`: these and the calibration metrics of
  :mod:`resorb.metrics.calibration`, in report order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from resorb.metrics.calibration import (
    calibration_intercept,
    calibration_slope,
    integrated_calibration_index,
)
from resorb.metrics.inputs import check_outcome_and_risk
from resorb.metrics.weighted import evaluate


def _scalar(name: str, y: np.ndarray, p: np.ndarray) -> float:
    """One metric on unit weights."""
    y, p = check_outcome_and_risk(y, p, both_classes=name not in ("brier", "log_loss"))
    return float(evaluate(y, p, names=(name,))[name][0])


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (C-statistic), ties counted one half.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption (any score ranks the same way).

    Returns
    -------
    float
        Probability that a resorbed herniation gets a higher prediction than one that did not
        (the Mann-Whitney statistic; Hanley & McNeil 1982).

    Raises
    ------
    ValueError
        Malformed ``y`` or ``p`` (see :func:`~resorb.metrics.check_outcome_and_risk`).
    TrainingError
        ``y`` holds a single class.
    """
    return _scalar("auroc", y, p)


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step rule of scikit-learn).

    Parameters and return as :func:`auroc`; baseline is the prevalence of resorption.
    """
    return _scalar("auprc", y, p)


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score: mean of (y - p)^2 over the n patients; 0 is perfect, lower is better.

    Brier (1950). Defined for a single outcome class too.
    """
    return _scalar("brier", y, p)


def scaled_brier(y: np.ndarray, p: np.ndarray) -> float:
    """Scaled Brier score: 1 - Brier / (prev * (1 - prev)), prev the observed prevalence.

    1 is perfect, 0 is no better than predicting the prevalence for everyone, negative worse
    (Steyerberg et al. 2010).
    """
    return _scalar("scaled_brier", y, p)


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood in nats, p clipped to [1e-8, 1 - 1e-8]; lower is better."""
    return _scalar("log_loss", y, p)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "auroc": auroc,
    "auprc": auprc,
    "brier": brier,
    "scaled_brier": scaled_brier,
    "log_loss": log_loss,
    "calibration_intercept": calibration_intercept,
    "calibration_slope": calibration_slope,
    "ici": integrated_calibration_index,
}
"""Scalar metrics in report order: name -> ``f(y, p) -> float``."""


def metric_table(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRICS` at once (inputs checked and p sorted only once).

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed; both classes required.
    p : array-like of shape (n,)
        Predicted probability of resorption.

    Returns
    -------
    dict
        Metric name -> value, in the order of :data:`METRICS`.
    """
    y, p = check_outcome_and_risk(y, p)
    return {k: float(v[0]) for k, v in evaluate(y, p).items()}
