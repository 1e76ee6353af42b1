"""Harrell's optimism-corrected bootstrap of a whole modelling pipeline.

Harrell, Lee & Mark, Stat Med 1996;15:361-387,
doi:10.1002/(SICI)1097-0258(19960229)15:4<361::AID-SIM168>3.0.CO;2-4. Resamples are those of
:func:`resorb.metrics.bootstrap_indices`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from resorb.metrics.bootstrap import percentile_limits, resample_counts
from resorb.metrics.discrimination import METRICS, metric_table
from resorb.metrics.inputs import check_bootstrap, check_outcome_and_risk

FitPredict = Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], np.ndarray]
"""``fit_predict(X_train, y_train, X_eval) -> p_eval``: fit a fresh pipeline, predict."""


def _fitted(fit_predict: FitPredict, x_train: pd.DataFrame, y_train: np.ndarray,
            x_eval: pd.DataFrame) -> np.ndarray:
    """Call ``fit_predict`` and check it returned one probability per evaluation row."""
    p = np.asarray(fit_predict(x_train, y_train, x_eval), dtype=float)
    if p.shape != (len(x_eval),) or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(
            f"fit_predict must return {len(x_eval)} probabilities in [0, 1] (one per row of "
            f"X_eval, e.g. predict_proba(X_eval)[:, 1]); got shape {p.shape}"
        )
    return p


def _optimism_of(fit_predict: FitPredict, x_full: pd.DataFrame, y: np.ndarray,
                 resamples: list[np.ndarray]) -> np.ndarray:
    """Optimism of each resample (row indices into ``x_full``); shape (len(resamples), metrics).

    One refit per resample, scored on the resample and on all rows: the unit of work of
    :func:`optimism_corrected`, run here or in a worker process.
    """
    out = np.empty((len(resamples), len(METRICS)))
    for i, rows in enumerate(resamples):
        p_all = _fitted(fit_predict, x_full.iloc[rows].reset_index(drop=True), y[rows],
                        x_full)
        own, test = metric_table(y[rows], p_all[rows]), metric_table(y, p_all)
        with np.errstate(invalid="ignore"):
            out[i] = [own[k] - test[k] for k in METRICS]
    return out


def optimism_corrected(fit_predict: FitPredict, X: pd.DataFrame, y: np.ndarray,
                       n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                       groups: np.ndarray | None = None,
                       progress: Callable[[int, int], Any] | None = None,
                       jobs: int = 1) -> pd.DataFrame:
    """Harrell's optimism-corrected bootstrap of a whole modelling pipeline.

    The pipeline is refitted on each resample b (``fit_predict(X_b, y_b, X)``, imputation and
    any selection or tuning included) and scored twice: on the resample itself (apparent_b)
    and on the original data (test_b); optimism_b = apparent_b - test_b. The corrected value
    is ``apparent - mean(optimism_b)``, with apparent the pipeline fitted and scored on all of
    ``X`` (Harrell, Lee & Mark, Stat Med 1996;15:361). Predictions on the resample are taken
    from the predictions on ``X`` (a resampled row is a copy of an original row), so each
    resample costs one fit.

    The interval reported is the ``alpha/2`` and ``1 - alpha/2`` percentiles of
    ``apparent - optimism_b``: it shows how much the optimism estimate varies between
    resamples, not the sampling uncertainty of the corrected value, which is wider. For
    learners that interpolate their training data (1-nearest neighbour, unpruned trees,
    random forests scored on their own rows) the method underestimates optimism, because the
    refitted model has seen about 63% of the original rows: prefer repeated cross-validation
    for those.

    Parameters
    ----------
    fit_predict : callable
        ``fit_predict(X_train, y_train, X_eval) -> p_eval`` of shape (len(X_eval),): fits a
        fresh pipeline, returns predicted resorption probabilities. It receives copies with a
        fresh RangeIndex and must not keep state between calls.
    X : DataFrame of shape (n, features)
        Predictors; not modified.
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    n_boot, seed, alpha, groups
        As in :func:`~resorb.metrics.bootstrap_metrics`.
    progress : callable, optional
        Called as ``progress(b, n_boot)`` after each resample, b = 1..n_boot (with ``jobs``
        above 1: after each block of resamples).
    jobs : int
        Processes refitting the resamples (:func:`resorb.parallel.run_units`; ``fit_predict``
        must then be picklable: a module-level function or a :func:`functools.partial` of
        one). The resamples are drawn here, in order, whatever ``jobs``: the same seed gives
        the same table for any number.

    Returns
    -------
    DataFrame of shape (len(METRICS), 6)
        ``metric``, ``apparent``, ``optimism``, ``corrected``, ``ci_low``, ``ci_high``.

    Raises
    ------
    ValueError
        ``X`` and ``y`` of different lengths, bad bootstrap settings, or ``fit_predict``
        returning anything but one probability per row.
    TrainingError
        ``y`` holds a single class.
    """
    y_arr, _ = check_outcome_and_risk(y, np.zeros(np.shape(y)))
    if len(X) != y_arr.size:
        raise ValueError(f"X has {len(X)} rows but y has {y_arr.size}; they must be paired")
    check_bootstrap(n_boot, seed, alpha)
    x_full = X.reset_index(drop=True)
    apparent = metric_table(y_arr, _fitted(fit_predict, x_full, y_arr, x_full))
    optimism = np.empty((n_boot, len(METRICS)))
    resamples = (np.repeat(np.arange(y_arr.size), counts)
                 for counts in resample_counts(y_arr, n_boot, seed, groups))
    if jobs <= 1:
        for b, rows in enumerate(resamples):
            optimism[b] = _optimism_of(fit_predict, x_full, y_arr, [rows])[0]
            if progress is not None:
                progress(b + 1, n_boot)
    else:
        from resorb.parallel import run_units

        drawn = list(resamples)
        size = max(1, -(-n_boot // (4 * jobs)))  # about 4 blocks per process
        blocks = [drawn[i:i + size] for i in range(0, n_boot, size)]
        done = 0
        for block in run_units(_optimism_of, [(fit_predict, x_full, y_arr, rows)
                                              for rows in blocks], jobs):
            optimism[done:done + len(block)] = block
            done += len(block)
            if progress is not None:
                progress(done, n_boot)
    app = np.array(list(apparent.values()))
    with np.errstate(invalid="ignore"):
        low, high = percentile_limits(app - optimism, alpha)
        # a resample whose metric is undefined or infinite (a slope of constant or separated
        # predictions) says nothing about its size: it leaves that metric's mean
        finite = np.where(np.isfinite(optimism), optimism, np.nan)
        some = ~np.all(np.isnan(finite), axis=0)
        mean_optimism = np.full(len(METRICS), np.nan)
        mean_optimism[some] = np.nanmean(finite[:, some], axis=0)
        return pd.DataFrame({"metric": list(METRICS), "apparent": app,
                             "optimism": mean_optimism, "corrected": app - mean_optimism,
                             "ci_low": low, "ci_high": high})
