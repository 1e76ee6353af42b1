"""How good are predicted resorption probabilities: metrics, bootstrap, decision curves.

Pure functions of an outcome vector ``y`` of shape ``(n,)`` (1 = the herniation resorbed under
conservative care, 0 = it did not) and predicted probabilities ``p`` of shape ``(n,)``:

- scalar metrics (:data:`METRICS`, :func:`metric_table`): discrimination (AUROC, average
  precision), overall accuracy (Brier, scaled Brier, log loss) and calibration (intercept,
  slope, ICI; see :mod:`resorb.calibration`, re-exported here);
- :func:`net_benefit`: decision curve analysis (Vickers & Elkin, Med Decis Making 2006);
- percentile bootstrap intervals (:func:`bootstrap_metrics`, :func:`bootstrap_net_benefit`,
  :func:`paired_bootstrap_difference`), vectorised as weighted statistics: a resample is a
  vector of how often each row was drawn, so no metric is recomputed row by row in Python;
- :func:`optimism_corrected`: Harrell's optimism-corrected bootstrap of a whole pipeline;
- :func:`minimum_sample_size`, :func:`sample_size_check`: Riley et al. (BMJ 2020;368:m441).

A single-class outcome raises :class:`~resorb.errors.TrainingError` wherever a metric needs
both classes (everything except Brier, log loss, net benefit and the binned table).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit, ndtri

from resorb.calibration import (
    CLIP,
    _ici,
    _recalibration,
    calibration_errors,
    calibration_in_bins,
    calibration_intercept,
    calibration_intercept_slope,
    calibration_slope,
    check_outcome_and_risk,
    integrated_calibration_index,
    smoothed_calibration_curve,
)
from resorb.errors import TrainingError

__all__ = [
    "METRICS", "SampleSizeReport", "auprc", "auroc", "bootstrap_indices", "bootstrap_metrics",
    "bootstrap_net_benefit", "bootstrap_replicates", "brier", "calibration_errors",
    "calibration_in_bins", "calibration_intercept", "calibration_intercept_slope",
    "calibration_slope", "integrated_calibration_index", "log_loss", "metric_table",
    "minimum_sample_size", "net_benefit", "optimism_corrected", "paired_bootstrap_difference",
    "sample_size_check", "scaled_brier", "smoothed_calibration_curve",
]

_MAX_CELLS = 4_000_000  # resamples x rows held at once: about 32 MB of float64 weights

# --------------------------------------------------------------- weighted metric kernels
# Each kernel maps (y, p, starts, w) to one value per row of the weights w (B, n). The rows are
# sorted by ascending p, and ``starts`` marks where each run of tied p begins.


def _class_sums(y: np.ndarray, starts: np.ndarray,
                w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weight of events and of non-events in each tie group of ascending p, each (B, G)."""
    pos = w * y
    if starts.size == y.size:  # no ties
        return pos, w - pos
    return np.add.reduceat(pos, starts, axis=1), np.add.reduceat(w - pos, starts, axis=1)


def _k_auroc(y, p, starts, w):
    """Mann-Whitney AUROC with ties counted one half."""
    gp, gn = _class_sums(y, starts, w)
    below = np.cumsum(gn, axis=1) - 0.5 * gn
    return np.einsum("ij,ij->i", gp, below) / (gp.sum(axis=1) * gn.sum(axis=1))


def _k_auprc(y, p, starts, w):
    """Average precision: sum over distinct thresholds of recall gain times precision."""
    gp, gn = _class_sums(y, starts, w)
    gp, gn = gp[:, ::-1], gn[:, ::-1]
    tp, flagged = np.cumsum(gp, axis=1), np.cumsum(gp + gn, axis=1)
    precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
    return np.einsum("ij,ij->i", gp, precision) / gp.sum(axis=1)


def _k_brier(y, p, starts, w):
    """Mean squared error of p."""
    return w @ (y - p) ** 2 / w.sum(axis=1)


def _k_scaled_brier(y, p, starts, w):
    """1 - Brier / Brier of predicting the (resample's) prevalence for everyone."""
    prev = w @ y / w.sum(axis=1)
    return 1.0 - _k_brier(y, p, starts, w) / (prev * (1.0 - prev))


def _k_log_loss(y, p, starts, w):
    """Mean negative Bernoulli log-likelihood, p clipped to [CLIP, 1 - CLIP]."""
    q = np.clip(p, CLIP, 1.0 - CLIP)
    return w @ -(y * np.log(q) + (1.0 - y) * np.log1p(-q)) / w.sum(axis=1)


_KERNELS: dict[str, Callable[..., np.ndarray]] = {
    "auroc": _k_auroc,
    "auprc": _k_auprc,
    "brier": _k_brier,
    "scaled_brier": _k_scaled_brier,
    "log_loss": _k_log_loss,
    "calibration_intercept": lambda y, p, s, w: _recalibration(y, p, w, fit_slope=False),
    "calibration_slope": lambda y, p, s, w: _recalibration(y, p, w, fit_slope=True),
    "ici": lambda y, p, s, w: _ici(y, p, w),
}


def _evaluate(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
              names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Every kernel (or those named) per weight row, name -> (B,); unit weights by default.

    Sorts by p unless it is sorted already (the bootstrap sorts once, before resampling).
    """
    if np.any(p[1:] < p[:-1]):
        order = np.argsort(p, kind="stable")
        y, p = y[order], p[order]
        w = None if w is None else w[:, order]
    if w is None:
        w = np.ones((1, y.size))
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    return {name: _KERNELS[name](y, p, starts, w) for name in (names or _KERNELS)}


def _scalar(name: str, y: np.ndarray, p: np.ndarray) -> float:
    """One metric on unit weights."""
    y, p = check_outcome_and_risk(y, p, both_classes=name not in ("brier", "log_loss"))
    return float(_evaluate(y, p, names=(name,))[name][0])


# ----------------------------------------------------------------------- scalar metrics


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
        Probability that a resorbed herniation gets a higher prediction than one that did not.
    """
    return _scalar("auroc", y, p)


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step rule of scikit-learn).

    Parameters and return as :func:`auroc`; baseline is the prevalence of resorption.
    """
    return _scalar("auprc", y, p)


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score: mean of (y - p)^2 over the n patients; 0 is perfect, lower is better."""
    return _scalar("brier", y, p)


def scaled_brier(y: np.ndarray, p: np.ndarray) -> float:
    """Scaled Brier score: 1 - Brier / (prev * (1 - prev)), prev the observed prevalence.

    1 is perfect, 0 is no better than predicting the prevalence for everyone, negative worse.
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
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption.

    Returns
    -------
    dict
        Metric name -> value, in the order of :data:`METRICS`.
    """
    y, p = check_outcome_and_risk(y, p)
    return {k: float(v[0]) for k, v in _evaluate(y, p).items()}


# ------------------------------------------------------------------------ decision curve


def _thresholds(thresholds: np.ndarray) -> np.ndarray:
    """Validate risk thresholds: a 1-D array strictly inside (0, 1)."""
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all((t > 0.0) & (t < 1.0)):
        raise ValueError(
            "thresholds must be a non-empty 1-D array of probabilities strictly between 0 and "
            f"1 (net benefit divides by 1 - t); got {np.asarray(thresholds)!r}"
        )
    return t


def _net_benefit_w(y: np.ndarray, p: np.ndarray, t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Model net benefit per weight row and threshold, shape (B, thresholds)."""
    offered = (p[:, None] >= t[None, :]).astype(float)
    total = w.sum(axis=1)[:, None]
    tp, fp = (w * y) @ offered, (w * (1.0 - y)) @ offered
    return tp / total - fp / total * (t / (1.0 - t))


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
        Predicted probability of resorption.
    thresholds : array-like of shape (k,)
        Risk thresholds strictly between 0 and 1.

    Returns
    -------
    DataFrame of shape (k, 4)
        ``threshold``, ``model``, ``treat_all``, ``treat_none``: net benefits in true
        positives (avoided surgeries) per patient.
    """
    y, p = check_outcome_and_risk(y, p, both_classes=False)
    t = _thresholds(thresholds)
    prev = y.mean()
    return pd.DataFrame({
        "threshold": t,
        "model": _net_benefit_w(y, p, t, np.ones((1, y.size)))[0],
        "treat_all": prev - (1.0 - prev) * t / (1.0 - t),
        "treat_none": np.zeros_like(t),
    })


# ------------------------------------------------------------------------------ bootstrap


def _check_bootstrap(n_boot: int, seed: int, alpha: float) -> None:
    """Validate the common bootstrap parameters."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer; got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05 for 95% intervals; got {alpha}")


def _resample_counts(y: np.ndarray, n_boot: int, seed: int,
                     groups: np.ndarray | None) -> Iterator[np.ndarray]:
    """How often each row is drawn, per resample (n,); resample b depends only on (seed, b)."""
    children = np.random.SeedSequence(seed).spawn(n_boot)
    if groups is None:  # stratified: each resample keeps the numbers of events and non-events
        events, non_events = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        return (np.bincount(np.r_[events[rng.integers(0, events.size, events.size)],
                                  non_events[rng.integers(0, non_events.size, non_events.size)]],
                            minlength=y.size)
                for rng in map(np.random.default_rng, children))
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise ValueError(f"groups must have one label per row ({y.size}); got shape {g.shape}")
    _, codes = np.unique(g, return_inverse=True)
    return (_cluster_counts(y, codes, np.random.default_rng(c)) for c in children)


def _cluster_counts(y: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row counts of one cluster resample, redrawn until both outcome classes are present."""
    n_groups = int(codes.max()) + 1
    for _ in range(1000):
        counts = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[codes]
        if 0 < counts @ y < counts.sum():
            return counts
    raise TrainingError(
        f"1000 cluster resamples of {n_groups} groups all held a single outcome class; "
        "the groups are too few or too homogeneous to bootstrap"
    )


def _replicates(y: np.ndarray, n_boot: int, seed: int, groups: np.ndarray | None,
                statistic: Callable[[np.ndarray], np.ndarray],
                order: np.ndarray | None = None) -> np.ndarray:
    """``statistic(w)`` over all resamples, weights (B, n) built in blocks of bounded memory.

    With ``order`` the weight columns follow ``y[order]`` (resamples are still drawn in the
    original order, so they do not depend on it).
    """
    block = max(1, _MAX_CELLS // y.size)
    counts = _resample_counts(y, n_boot, seed, groups)
    parts = []
    for start in range(0, n_boot, block):
        rows = [next(counts) for _ in range(min(block, n_boot - start))]
        w = np.stack(rows if order is None else [c[order] for c in rows]).astype(float)
        parts.append(statistic(w))
    return np.concatenate(parts, axis=0)


def _metric_replicates(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int,
                       groups: np.ndarray | None) -> np.ndarray:
    """Every metric on every resample, shape (n_boot, len(METRICS)); sorts p once."""
    order = np.argsort(p, kind="stable")
    ys, ps = y[order], p[order]
    return _replicates(y, n_boot, seed, groups,
                       lambda w: np.column_stack(list(_evaluate(ys, ps, w).values())), order)


def _percentiles(values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile limits along the resample axis, ignoring NaN."""
    low, high = np.full((2, *values.shape[1:]), np.nan)
    some = ~np.all(np.isnan(values), axis=0)  # all-NaN columns (e.g. slopes of constant p)
    with np.errstate(invalid="ignore"):  # +-inf slopes from separated resamples
        low[some], high[some] = np.nanquantile(values[:, some], [alpha / 2, 1 - alpha / 2],
                                               axis=0)
    return low, high


def bootstrap_indices(y: np.ndarray, n_boot: int = 200, seed: int = 0,
                      groups: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Row indices of each bootstrap resample, the same ones every bootstrap here uses.

    Without ``groups`` rows are drawn with replacement within each outcome class (stratified),
    so every resample keeps the numbers of events and non-events. With ``groups`` (e.g. patient
    or centre identifiers) whole groups are drawn with replacement and single-class resamples
    are redrawn. Resample ``b`` depends only on ``seed`` and ``b`` (``SeedSequence.spawn``).

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed; both classes required.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the random draws.
    groups : array-like of shape (n,), optional
        Cluster label per row for a cluster bootstrap.

    Returns
    -------
    iterator of ndarray of shape (m,), int
        Sorted row positions of each resample (m = n without groups).
    """
    y, _ = check_outcome_and_risk(y, np.zeros(np.shape(y)))
    _check_bootstrap(n_boot, seed, 0.05)
    rows = np.arange(y.size)
    return (np.repeat(rows, counts) for counts in _resample_counts(y, n_boot, seed, groups))


def bootstrap_replicates(y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0,
                         groups: np.ndarray | None = None) -> pd.DataFrame:
    """Every metric of :data:`METRICS` on every resample of :func:`bootstrap_indices`.

    The ICI of a resample uses the smoother window of the full sample (see
    :func:`bootstrap_metrics`); every other value equals the metric of the resampled rows.

    Returns
    -------
    DataFrame of shape (n_boot, len(METRICS))
        One row per resample, one column per metric.
    """
    y, p = check_outcome_and_risk(y, p)
    _check_bootstrap(n_boot, seed, 0.05)
    values = _metric_replicates(y, p, n_boot, seed, groups)
    return pd.DataFrame(values, columns=list(METRICS))


def bootstrap_metrics(y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0,
                      alpha: float = 0.05, groups: np.ndarray | None = None) -> pd.DataFrame:
    """Metrics of :data:`METRICS` with percentile bootstrap confidence intervals.

    Resamples are those of :func:`bootstrap_indices` (stratified by outcome class, or by
    cluster with ``groups``); the same seed gives the same resamples, hence the same bytes, in
    every bootstrap function here. Metrics are computed on all resamples at once as weighted
    statistics. To keep that vectorised, the ICI smoother of a resample keeps the window
    (nearest ``frac * n`` rows) of the full sample; the local fits themselves are reweighted.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption.
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the random draws.
    alpha : float
        1 - confidence level of the intervals.
    groups : array-like of shape (n,), optional
        Cluster label per row (patient, centre) for a cluster bootstrap.

    Returns
    -------
    DataFrame of shape (len(METRICS), 4)
        ``metric``, ``estimate`` (on the full sample), ``ci_low``, ``ci_high``.
    """
    y, p = check_outcome_and_risk(y, p)
    _check_bootstrap(n_boot, seed, alpha)
    values = _metric_replicates(y, p, n_boot, seed, groups)
    low, high = _percentiles(values, alpha)
    return pd.DataFrame({"metric": list(METRICS), "estimate": list(metric_table(y, p).values()),
                         "ci_low": low, "ci_high": high})


def bootstrap_net_benefit(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray,
                          n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                          groups: np.ndarray | None = None) -> pd.DataFrame:
    """Decision curve of :func:`net_benefit` with percentile bootstrap intervals for the model.

    Same resamples as :func:`bootstrap_metrics`. No interval is given for treat-all: stratified
    resamples keep the prevalence, so its bootstrap interval would be a single point.

    Returns
    -------
    DataFrame of shape (k, 5)
        ``threshold``, ``model`` (full-sample net benefit), ``ci_low``, ``ci_high``,
        ``treat_all``.
    """
    y, p = check_outcome_and_risk(y, p)
    _check_bootstrap(n_boot, seed, alpha)
    curve = net_benefit(y, p, thresholds)
    t = curve["threshold"].to_numpy()
    low, high = _percentiles(
        _replicates(y, n_boot, seed, groups, lambda w: _net_benefit_w(y, p, t, w)), alpha)
    return curve[["threshold", "model"]].assign(
        ci_low=low, ci_high=high, treat_all=curve["treat_all"])


def paired_bootstrap_difference(y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray,
                                n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                                groups: np.ndarray | None = None) -> pd.DataFrame:
    """Difference of every metric between two models' predictions on the same patients.

    Both models are scored on the same resamples, so the interval of ``a - b`` accounts for
    the correlation between them. Mind the direction: a positive difference is better for
    AUROC, AUPRC and scaled Brier, worse for Brier, log loss and ICI; for the calibration
    intercept and slope compare distances from 0 and 1 instead.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p_a, p_b : array-like of shape (n,)
        Predicted probabilities of the two models, row by row for the same patients.
    n_boot, seed, alpha, groups
        As in :func:`bootstrap_metrics`.

    Returns
    -------
    DataFrame of shape (len(METRICS), 4)
        ``metric``, ``difference`` (a - b on the full sample), ``ci_low``, ``ci_high``.
    """
    y, p_a = check_outcome_and_risk(y, p_a, name="p_a")
    _, p_b = check_outcome_and_risk(y, p_b, name="p_b")
    _check_bootstrap(n_boot, seed, alpha)

    def difference(w: np.ndarray) -> np.ndarray:
        a, b = _evaluate(y, p_a, w), _evaluate(y, p_b, w)
        with np.errstate(invalid="ignore"):
            return np.column_stack([a[k] - b[k] for k in a])

    low, high = _percentiles(_replicates(y, n_boot, seed, groups, difference), alpha)
    full = difference(np.ones((1, y.size)))[0]
    return pd.DataFrame({"metric": list(METRICS), "difference": full,
                         "ci_low": low, "ci_high": high})


# ---------------------------------------------------------------------- optimism (Harrell)

FitPredict = Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], np.ndarray]


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


def optimism_corrected(fit_predict: FitPredict, X: pd.DataFrame, y: np.ndarray,
                       n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                       groups: np.ndarray | None = None,
                       progress: Callable[[int, int], Any] | None = None) -> pd.DataFrame:
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
        As in :func:`bootstrap_metrics`.
    progress : callable, optional
        Called as ``progress(b, n_boot)`` after each resample, b = 1..n_boot.

    Returns
    -------
    DataFrame of shape (len(METRICS), 6)
        ``metric``, ``apparent``, ``optimism``, ``corrected``, ``ci_low``, ``ci_high``.
    """
    y_arr, _ = check_outcome_and_risk(y, np.zeros(np.shape(y)))
    if len(X) != y_arr.size:
        raise ValueError(f"X has {len(X)} rows but y has {y_arr.size}; they must be paired")
    _check_bootstrap(n_boot, seed, alpha)
    x_full = X.reset_index(drop=True)
    apparent = metric_table(y_arr, _fitted(fit_predict, x_full, y_arr, x_full))
    optimism = np.empty((n_boot, len(METRICS)))
    for b, counts in enumerate(_resample_counts(y_arr, n_boot, seed, groups)):
        rows = np.repeat(np.arange(y_arr.size), counts)
        p_all = _fitted(fit_predict, x_full.iloc[rows].reset_index(drop=True), y_arr[rows],
                        x_full)
        own, test = metric_table(y_arr[rows], p_all[rows]), metric_table(y_arr, p_all)
        with np.errstate(invalid="ignore"):
            optimism[b] = [own[k] - test[k] for k in METRICS]
        if progress is not None:
            progress(b + 1, n_boot)
    app = np.array(list(apparent.values()))
    with np.errstate(invalid="ignore"):
        low, high = _percentiles(app - optimism, alpha)
        mean_optimism = optimism.mean(axis=0)
        return pd.DataFrame({"metric": list(METRICS), "apparent": app,
                             "optimism": mean_optimism, "corrected": app - mean_optimism,
                             "ci_low": low, "ci_high": high})


# --------------------------------------------------------------------------- sample size


def _max_r2_cs(prevalence: float) -> float:
    """Largest Cox-Snell R2 a binary outcome of this prevalence allows (Riley 2020, eq. 2)."""
    ll_null = prevalence * math.log(prevalence) + (1 - prevalence) * math.log(1 - prevalence)
    return 1.0 - math.exp(2.0 * ll_null)


def _r2_cs_from_c(c_statistic: float, prevalence: float) -> float:
    """Cox-Snell R2 implied by a C-statistic (Riley, Van Calster & Collins, Stat Med 2021).

    Their approach assumes a linear predictor N(0, 1) in non-events and N(mu, 1) in events,
    mu = sqrt(2) * Phi^-1(C), and reads R2 off a logistic fit to a simulated million patients.
    The logistic model is exact under that assumption, so the expected log-likelihood is
    integrated here by Gauss-Hermite quadrature instead: same target, no simulation noise.
    """
    mu = math.sqrt(2.0) * float(ndtri(c_statistic))
    x, wts = np.polynomial.hermite_e.hermegauss(120)
    wts = wts / math.sqrt(2 * math.pi)
    base = float(logit(prevalence)) - mu * mu / 2
    ll_events = wts @ -np.logaddexp(0.0, -(base + mu * (x + mu)))
    ll_non_events = wts @ -np.logaddexp(0.0, base + mu * x)
    ll_model = prevalence * ll_events + (1 - prevalence) * ll_non_events
    ll_null = prevalence * math.log(prevalence) + (1 - prevalence) * math.log(1 - prevalence)
    return 1.0 - math.exp(-2.0 * (ll_model - ll_null))


def _n_for_shrinkage(n_parameters: int, r2_cs: float, shrinkage: float) -> float:
    """Riley 2020 eq. 1: rows for an expected uniform shrinkage factor ``shrinkage``."""
    return n_parameters / ((shrinkage - 1.0) * math.log(1.0 - r2_cs / shrinkage))


def _ceil(x: float) -> int:
    """Round up, forgiving floating-point noise just above an integer."""
    return math.ceil(x - 1e-9)


def minimum_sample_size(n_parameters: int, prevalence: float, r2_cs: float | None = None,
                        shrinkage: float = 0.9, max_optimism: float = 0.05,
                        margin: float = 0.05,
                        c_statistic: float | None = None) -> dict[str, Any]:
    """Minimum rows to develop a model for a binary outcome (Riley et al., BMJ 2020;368:m441).

    Three criteria, the largest n wins:

    (i) expected uniform shrinkage >= ``shrinkage``:
        ``n = P / ((S - 1) ln(1 - R2cs / S))``;
    (ii) optimism in apparent Nagelkerke R2 <= ``max_optimism``: the same formula with
        ``S = R2cs / (R2cs + max_optimism * max R2cs)``,
        ``max R2cs = 1 - (phi^phi (1 - phi)^(1 - phi))^2``;
    (iii) overall risk within +-``margin`` (95%): ``n = (1.96 / margin)^2 phi (1 - phi)``.

    The anticipated Cox-Snell R2 is, in order: ``r2_cs`` when given; else derived from
    ``c_statistic`` by the approximation of Riley, Van Calster & Collins (Stat Med
    2021;40:859), computed by quadrature rather than simulation; else the conservative default
    of Riley 2020, 15% of max R2cs (Nagelkerke R2 = 0.15).

    Values are not rounded midway, unlike the R/Stata ``pmsampsize`` (which rounds max R2cs to
    2 and S of (ii) to 3 decimals): (i) and (iii) agree exactly, (ii) can differ by about 1%.

    Parameters
    ----------
    n_parameters : int
        Candidate predictor parameters (dummy columns, spline terms, interactions), P.
    prevalence : float
        Anticipated outcome proportion phi, in (0, 1).
    r2_cs, c_statistic : float, optional
        Anticipated (optimism-adjusted) Cox-Snell R2 or C-statistic; give at most one.
    shrinkage : float
        Target expected shrinkage S of (i).
    max_optimism : float
        Largest acceptable optimism in Nagelkerke R2 of (ii).
    margin : float
        Absolute margin of error of the overall risk in (iii).

    Returns
    -------
    dict
        ``n_shrinkage``, ``n_optimism``, ``n_intercept`` (rows per criterion, rounded up),
        ``required_n``, ``events_required`` (rounded up), ``epp`` (events per parameter),
        ``binding`` ("shrinkage", "optimism" or "intercept"), ``r2_cs``, ``r2_cs_source``
        ("given", "c_statistic" or "15% of max"), ``max_r2_cs``, ``shrinkage_optimism``
        (S of criterion ii).
    """
    if isinstance(n_parameters, bool) or not isinstance(n_parameters, int | np.integer) \
            or n_parameters < 1:
        raise ValueError(f"n_parameters must be a positive integer; got {n_parameters!r}")
    for name, value in (("prevalence", prevalence), ("shrinkage", shrinkage),
                        ("max_optimism", max_optimism), ("margin", margin)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be in (0, 1); got {value}")
    if r2_cs is not None and c_statistic is not None:
        raise ValueError("give r2_cs or c_statistic, not both")
    max_r2 = _max_r2_cs(prevalence)
    if r2_cs is not None:
        source = "given"
    elif c_statistic is not None:
        if not 0.5 < c_statistic < 1.0:
            raise ValueError(f"c_statistic must be in (0.5, 1); got {c_statistic}")
        r2_cs, source = _r2_cs_from_c(c_statistic, prevalence), "c_statistic"
    else:
        r2_cs, source = 0.15 * max_r2, "15% of max"
    if not 0.0 < r2_cs < min(max_r2, shrinkage):
        raise ValueError(
            f"r2_cs must be in (0, {min(max_r2, shrinkage):.3f}): positive, below the maximum "
            f"Cox-Snell R2 at prevalence {prevalence} ({max_r2:.3f}) and below shrinkage; "
            f"got {r2_cs}"
        )
    s_optimism = r2_cs / (r2_cs + max_optimism * max_r2)
    n = {"shrinkage": _ceil(_n_for_shrinkage(n_parameters, r2_cs, shrinkage)),
         "optimism": _ceil(_n_for_shrinkage(n_parameters, r2_cs, s_optimism)),
         "intercept": _ceil((1.96 / margin) ** 2 * prevalence * (1 - prevalence))}
    binding = max(n, key=n.__getitem__)
    required = n[binding]
    return {"n_shrinkage": n["shrinkage"], "n_optimism": n["optimism"],
            "n_intercept": n["intercept"], "required_n": required,
            "events_required": _ceil(required * prevalence),
            "epp": required * prevalence / n_parameters, "binding": binding,
            "r2_cs": float(r2_cs), "r2_cs_source": source, "max_r2_cs": max_r2,
            "shrinkage_optimism": s_optimism}


@dataclass(frozen=True)
class SampleSizeReport:
    """A development data set against the Riley minimum sample size."""

    n_rows: int
    n_events: int
    n_parameters: int
    prevalence: float
    required_n: int
    required_events: int
    epp: float
    required_epp: float
    binding: str
    r2_cs: float
    r2_cs_source: str
    ok: bool
    message: str

    def __str__(self) -> str:
        return self.message


def sample_size_check(n_rows: int, n_events: int, n_parameters: int, *,
                      r2_cs: float | None = None, c_statistic: float | None = None,
                      shrinkage: float = 0.9, max_optimism: float = 0.05,
                      margin: float = 0.05) -> SampleSizeReport:
    """Whether a development data set meets :func:`minimum_sample_size` at its own prevalence.

    Parameters
    ----------
    n_rows, n_events : int
        Rows (herniations) and events (resorptions) in the development data.
    n_parameters : int
        Candidate predictor parameters (after one-hot encoding and splines).
    r2_cs, c_statistic, shrinkage, max_optimism, margin
        As in :func:`minimum_sample_size`; prevalence is ``n_events / n_rows``.

    Returns
    -------
    SampleSizeReport
        ``ok`` is True when ``n_rows >= required_n``; ``message`` names both numbers.
    """
    if not 0 < n_events < n_rows:
        raise TrainingError(
            f"the development data has {n_events} events in {n_rows} rows; a model of "
            "resorption needs both resorbed and non-resorbed herniations"
        )
    prevalence = n_events / n_rows
    need = minimum_sample_size(n_parameters, prevalence, r2_cs=r2_cs, shrinkage=shrinkage,
                               max_optimism=max_optimism, margin=margin,
                               c_statistic=c_statistic)
    ok = n_rows >= need["required_n"]
    epp = n_events / n_parameters
    message = (
        f"Riley minimum sample size: {need['required_n']:,} rows ({need['events_required']:,} "
        f"events) for {n_parameters} candidate parameters at prevalence {prevalence:.2f}; the "
        f"data has {n_rows:,} rows ({n_events:,} events, {epp:.1f} per parameter). Binding "
        f"criterion: {need['binding']}; Cox-Snell R2 {need['r2_cs']:.3f} ({need['r2_cs_source']})."
    )
    if not ok:
        message += (" Too few rows: expect overfitting; reduce the candidate parameters or "
                    "use a penalised model, and check the optimism-corrected calibration slope.")
    return SampleSizeReport(
        n_rows=n_rows, n_events=n_events, n_parameters=n_parameters, prevalence=prevalence,
        required_n=need["required_n"], required_events=need["events_required"], epp=epp,
        required_epp=need["epp"], binding=need["binding"], r2_cs=need["r2_cs"],
        r2_cs_source=need["r2_cs_source"], ok=ok, message=message)

