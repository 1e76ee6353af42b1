"""Decision curve analysis: the net benefit of offering watchful waiting by predicted risk.

Vickers & Elkin, Med Decis Making 2006;26:565-574, doi:10.1177/0272989X06295361. The
bootstrap interval of the model's curve is :func:`resorb.metrics.bootstrap_net_benefit`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resorb.metrics import weighted
from resorb.metrics.inputs import check_outcome_and_risk, check_thresholds


def net_benefit(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    """Decision curve: net benefit of offering watchful waiting when predicted resorption >= t.

    Here "treat" means offering conservative care with watchful waiting instead of early
    surgery. A true positive is a herniation that resorbed in a patient offered watchful
    waiting (surgery avoided); a false positive is one that did not resorb in a patient offered
    watchful waiting (surgery delayed). The threshold t is the predicted resorption probability
    at which a clinician and patient would be indifferent, so t / (1 - t) is the harm of a
    delayed surgery relative to the benefit of an avoided one (Vickers & Elkin 2006):

    ``NB(t) = TP/n - FP/n * t / (1 - t)``; treat all (watchful waiting for everyone, the usual
    first line) ``= prev - (1 - prev) * t / (1 - t)``; treat none (early surgery for
    everyone) ``= 0``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption; watchful waiting is offered at p >= t.
    thresholds : array-like of shape (k,)
        Risk thresholds strictly between 0 and 1.

    Returns
    -------
    DataFrame of shape (k, 4)
        ``threshold``, ``model``, ``treat_all``, ``treat_none``: net benefits in true
        positives (avoided surgeries) per patient.

    Raises
    ------
    ValueError
        Malformed ``y`` or ``p``, or a threshold outside (0, 1). A single outcome class is
        allowed.
    """
    y, p = check_outcome_and_risk(y, p, both_classes=False)
    t = check_thresholds(thresholds)
    prev = y.mean()
    return pd.DataFrame({
        "threshold": t,
        "model": weighted.net_benefit(y, p, t, weighted.unit_weights(y.size))[0],
        "treat_all": prev - (1.0 - prev) * t / (1.0 - t),
        "treat_none": np.zeros_like(t),
    })
