"""Validated performance of a set of predictions: metrics with intervals and the curves.

:func:`evaluate` and :func:`evaluate_candidate` give the same numbers (same seed, same
resamples); the latter keeps the resamples for paired differences between candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from resorb.config import TrainingParams
from resorb.metrics import bootstrap_metrics, bootstrap_net_benefit, smoothed_calibration_curve
from resorb.metrics.bootstrap import BootstrapEvaluation, bootstrap_evaluation


@dataclass(frozen=True)
class Evaluation:
    """Validated performance of one set of predictions."""

    metrics: pd.DataFrame  # metric, estimate, ci_low, ci_high
    calibration: pd.DataFrame  # predicted, observed
    decision: pd.DataFrame  # threshold, model, ci_low, ci_high, treat_all, treat_none
    roc: pd.DataFrame  # fpr, tpr
    method: str

    def metric(self, name: str) -> float:
        """Point estimate of one metric."""
        row = self.metrics.loc[self.metrics["metric"] == name, "estimate"]
        return float(row.iloc[0]) if len(row) else float("nan")



def evaluate(
    y: np.ndarray, p: np.ndarray, tp: TrainingParams, method: str, seed: int
) -> Evaluation:
    """Metrics with bootstrap intervals, calibration curve, decision curve and ROC."""
    from sklearn.metrics import roc_curve

    metrics = bootstrap_metrics(y, p, n_boot=tp.n_boot, seed=seed)
    calib = smoothed_calibration_curve(y, p)
    decision = bootstrap_net_benefit(
        y, p, tp.decision_thresholds.grid(), n_boot=tp.n_boot, seed=seed
    )
    fpr, tpr, _ = roc_curve(y, p)
    return Evaluation(
        metrics=metrics,
        calibration=calib,
        decision=decision,
        roc=pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        method=method,
    )


def evaluate_candidate(y: np.ndarray, p: np.ndarray, tp: TrainingParams, method: str,
                       seed: int) -> tuple[Evaluation, BootstrapEvaluation]:
    """:func:`evaluate` in one pass over the resamples, keeping them for paired differences.

    The same numbers as :func:`evaluate` (same seed, same resamples); the second value holds
    the metric replicates for :func:`resorb.metrics.bootstrap.paired_difference`.
    """
    from sklearn.metrics import roc_curve

    boot = bootstrap_evaluation(y, p, tp.decision_thresholds.grid(), n_boot=tp.n_boot,
                                seed=seed)
    fpr, tpr, _ = roc_curve(y, p)
    evaluation = Evaluation(metrics=boot.metrics, calibration=smoothed_calibration_curve(y, p),
                            decision=boot.decision, roc=pd.DataFrame({"fpr": fpr, "tpr": tpr}),
                            method=method)
    return evaluation, boot

