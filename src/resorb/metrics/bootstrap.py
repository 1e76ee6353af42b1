"""Percentile bootstrap intervals of the metrics, the decision curve and paired differences.

Resamples are drawn within outcome class (stratified) or by cluster, and resample ``b``
depends only on ``(seed, b)`` (``SeedSequence.spawn``), so every function here sees the same
resamples for the same seed. They are vectorised as weighted statistics
(:mod:`resorb.metrics.weighted`): a resample is a vector of how often each row was drawn, so
no metric is recomputed row by row in Python. Intervals are percentile intervals (Efron &
Tibshirani, An Introduction to the Bootstrap, Chapman & Hall 1993). The optimism-corrected
bootstrap of a whole pipeline is :mod:`resorb.metrics.optimism`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resorb.errors import TrainingError
from resorb.metrics import weighted
from resorb.metrics.decision import net_benefit
from resorb.metrics.discrimination import METRICS, metric_table
from resorb.metrics.inputs import check_bootstrap, check_outcome_and_risk

_MAX_CELLS = 4_000_000  # resamples x rows held at once: about 32 MB of float64 weights


def resample_counts(y: np.ndarray, n_boot: int, seed: int,
                    groups: np.ndarray | None) -> Iterator[np.ndarray]:
    """How often each row is drawn, one array of shape (n,) per resample.

    Resample ``b`` depends only on ``(seed, b)``. Stratified by outcome class without
    ``groups``; with ``groups`` of shape (n,), whole clusters are drawn and single-class
    resamples redrawn (:class:`~resorb.errors.TrainingError` after 1000 tries).
    """
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
    counts = resample_counts(y, n_boot, seed, groups)
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
                       lambda w: np.column_stack(list(weighted.evaluate(ys, ps, w).values())),
                       order)


def percentile_limits(values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ``alpha/2``, ``1 - alpha/2`` percentiles along axis 0, ignoring NaN.

    ``values`` has shape (B, ...); each limit has shape ``values.shape[1:]``, NaN where a
    column is all NaN (e.g. slopes of constant predictions). Infinite replicates (the
    calibration slope of a resample the predictions separate) count as the most extreme
    values: a limit that falls between ``-inf`` and a finite replicate is ``-inf`` (between
    a finite one and ``+inf``, ``+inf``), the interval unbounded on that side. Linear
    interpolation alone gives ``-inf + inf = NaN`` there, which was printed as a blank
    lower limit with 48 rows (``resorb train``) and left out of MLflow.
    """
    low, high = np.full((2, *values.shape[1:]), np.nan)
    some = ~np.all(np.isnan(values), axis=0)  # all-NaN columns (e.g. slopes of constant p)
    if not np.any(some):  # numpy's quantile of no column has shape (0,), not (2, 0)
        return low, high
    kept = values[:, some]
    with np.errstate(invalid="ignore"):  # +-inf slopes from separated resamples
        low[some], high[some] = np.nanquantile(kept, [alpha / 2, 1 - alpha / 2], axis=0)
        if np.isinf(kept).any():  # interpolation towards an infinite replicate
            low[some] = np.where(np.isnan(low[some]),
                                 np.nanquantile(kept, alpha / 2, axis=0, method="lower"),
                                 low[some])
            high[some] = np.where(np.isnan(high[some]),
                                  np.nanquantile(kept, 1 - alpha / 2, axis=0, method="higher"),
                                  high[some])
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
    check_bootstrap(n_boot, seed, 0.05)
    rows = np.arange(y.size)
    return (np.repeat(rows, counts) for counts in resample_counts(y, n_boot, seed, groups))


def bootstrap_replicates(y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0,
                         groups: np.ndarray | None = None) -> pd.DataFrame:
    """All of :data:`~resorb.metrics.METRICS` on each resample of :func:`bootstrap_indices`.

    The ICI of a resample uses the smoother window of the full sample (see
    :func:`bootstrap_metrics`); every other value equals the metric of the resampled rows.

    Returns
    -------
    DataFrame of shape (n_boot, len(METRICS))
        One row per resample, one column per metric.
    """
    y, p = check_outcome_and_risk(y, p)
    check_bootstrap(n_boot, seed, 0.05)
    values = _metric_replicates(y, p, n_boot, seed, groups)
    return pd.DataFrame(values, columns=list(METRICS))


def bootstrap_metrics(y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0,
                      alpha: float = 0.05, groups: np.ndarray | None = None) -> pd.DataFrame:
    """Metrics of :data:`~resorb.metrics.METRICS` with percentile bootstrap confidence intervals.

    Resamples are those of :func:`bootstrap_indices` (stratified by outcome class, or by
    cluster with ``groups``); the same seed gives the same resamples, hence the same bytes, in
    every bootstrap function here. Metrics are computed on all resamples at once as weighted
    statistics. To keep that vectorised, the ICI smoother of a resample keeps the window
    (nearest ``frac * n`` rows) of the full sample; the local fits themselves are reweighted.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed; resamples keep its events and non-events.
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

    Raises
    ------
    ValueError
        Malformed inputs or bootstrap settings.
    TrainingError
        ``y`` holds a single class, or no cluster resample holds both.
    """
    y, p = check_outcome_and_risk(y, p)
    check_bootstrap(n_boot, seed, alpha)
    values = _metric_replicates(y, p, n_boot, seed, groups)
    low, high = percentile_limits(values, alpha)
    return pd.DataFrame({"metric": list(METRICS), "estimate": list(metric_table(y, p).values()),
                         "ci_low": low, "ci_high": high})


def bootstrap_net_benefit(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray,
                          n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                          groups: np.ndarray | None = None) -> pd.DataFrame:
    """Decision curve of :func:`~resorb.metrics.net_benefit` with bootstrap intervals for the model.

    Same resamples as :func:`bootstrap_metrics`. No interval is given for treat-all: stratified
    resamples keep the prevalence, so its bootstrap interval would be a single point.

    Returns
    -------
    DataFrame of shape (k, 5)
        ``threshold``, ``model`` (full-sample net benefit), ``ci_low``, ``ci_high``,
        ``treat_all``.
    """
    y, p = check_outcome_and_risk(y, p)
    check_bootstrap(n_boot, seed, alpha)
    curve = net_benefit(y, p, thresholds)
    t = curve["threshold"].to_numpy()
    low, high = percentile_limits(
        _replicates(y, n_boot, seed, groups, lambda w: weighted.net_benefit(y, p, t, w)), alpha)
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
    check_bootstrap(n_boot, seed, alpha)

    def difference(w: np.ndarray) -> np.ndarray:
        a, b = weighted.evaluate(y, p_a, w), weighted.evaluate(y, p_b, w)
        with np.errstate(invalid="ignore"):
            return np.column_stack([a[k] - b[k] for k in a])

    low, high = percentile_limits(_replicates(y, n_boot, seed, groups, difference), alpha)
    full = difference(weighted.unit_weights(y.size))[0]
    return pd.DataFrame({"metric": list(METRICS), "difference": full,
                         "ci_low": low, "ci_high": high})


#: rows of :func:`bootstrap_calibration`, in the order of the calibration hierarchy
CALIBRATION_SUMMARIES = ("o_e_ratio", "ici", "e50", "e90", "emax")


def bootstrap_calibration(y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0,
                          alpha: float = 0.05, groups: np.ndarray | None = None,
                          frac: float = 0.3) -> pd.DataFrame:
    """O/E ratio, ICI, E50, E90 and Emax with percentile bootstrap intervals.

    The calibration summaries that :func:`bootstrap_metrics` leaves out (it has ICI too: the
    same values), on the same resamples for the same seed and ``groups``. O/E is
    :func:`~resorb.metrics.observed_expected_ratio`; the others are
    :func:`~resorb.metrics.calibration_errors` (Austin & Steyerberg, Stat Med
    2019;38:4051-4065, doi:10.1002/sim.8281), the smoother keeping the full sample's window as
    in :func:`bootstrap_metrics`.

    Mind the resampling: without ``groups`` resamples are stratified by outcome class, so
    every resample holds the observed number of events and the interval of O/E reflects only
    the uncertainty of the expected count. In external validation the number of events is
    itself random; pass ``groups=np.arange(n)`` (every row its own cluster) for the ordinary
    bootstrap.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed; both classes required.
    p : array-like of shape (n,)
        Predicted probability of resorption.
    n_boot, seed, alpha, groups
        As in :func:`bootstrap_metrics`.
    frac : float
        Span of the smoother, in (0, 1].

    Returns
    -------
    DataFrame of shape (5, 4)
        ``metric`` (:data:`CALIBRATION_SUMMARIES`), ``estimate``, ``ci_low``, ``ci_high``.
    """
    from resorb.metrics.inputs import check_frac

    y, p = check_outcome_and_risk(y, p)
    check_bootstrap(n_boot, seed, alpha)
    frac = check_frac(frac)

    def statistic(w: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            oe = weighted.observed_expected(y, p, w)
        return np.column_stack([oe, weighted.calibration_error_summary(y, p, w, frac)])

    low, high = percentile_limits(_replicates(y, n_boot, seed, groups, statistic), alpha)
    full = statistic(weighted.unit_weights(y.size))[0]
    return pd.DataFrame({"metric": list(CALIBRATION_SUMMARIES), "estimate": full,
                         "ci_low": low, "ci_high": high})


def bootstrap_calibration_curve(y: np.ndarray, p: np.ndarray, grid: np.ndarray | None = None,
                                n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                                groups: np.ndarray | None = None,
                                frac: float = 0.3) -> pd.DataFrame:
    """The smoothed calibration curve with a pointwise percentile bootstrap band.

    The curve is :func:`~resorb.metrics.smoothed_calibration_curve`; its band is the
    ``alpha/2`` and ``1 - alpha/2`` percentiles of the curve refitted on each resample (same
    resamples as :func:`bootstrap_metrics`; each local fit keeps the full sample's window).
    Pointwise, not simultaneous: at any one predicted risk the band covers the true observed
    proportion with about ``1 - alpha`` probability (Van Calster et al. 2016; Austin &
    Steyerberg 2019).

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed; both classes required.
    p : array-like of shape (n,)
        Predicted probability of resorption.
    grid : array-like of shape (m,), optional
        Predicted risks at which to evaluate; default 100 points from min(p) to max(p).
    n_boot, seed, alpha, groups
        As in :func:`bootstrap_metrics`.
    frac : float
        Span of the smoother, in (0, 1].

    Returns
    -------
    DataFrame of shape (m, 4)
        ``predicted``, ``observed`` (full sample), ``ci_low``, ``ci_high``: proportions.
    """
    from resorb.metrics.inputs import check_frac

    y, p = check_outcome_and_risk(y, p)
    check_bootstrap(n_boot, seed, alpha)
    frac = check_frac(frac)
    g = weighted.default_grid(p) if grid is None else np.asarray(grid, dtype=float).ravel()
    low, high = percentile_limits(
        _replicates(y, n_boot, seed, groups, lambda w: weighted.local_linear(y, p, w, g, frac)),
        alpha)
    observed = weighted.local_linear(y, p, weighted.unit_weights(y.size), g, frac)[0]
    return pd.DataFrame({"predicted": g, "observed": observed, "ci_low": low, "ci_high": high})


def bootstrap_observed_expected(y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0,
                                alpha: float = 0.05,
                                groups: np.ndarray | None = None) -> tuple[float, float, float]:
    """O/E ratio with its percentile bootstrap interval, alone (cheap: no smoother).

    The ``o_e_ratio`` row of :func:`bootstrap_calibration` without the other summaries, on
    the same resamples; for the many small tables of subgroups and sites. See
    :func:`bootstrap_calibration` on ``groups=np.arange(n)`` (whole rows) for external
    validation.

    Returns
    -------
    (float, float, float)
        Estimate, lower and upper limit.
    """
    y, p = check_outcome_and_risk(y, p)
    check_bootstrap(n_boot, seed, alpha)

    def statistic(w: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return weighted.observed_expected(y, p, w)[:, None]

    low, high = percentile_limits(_replicates(y, n_boot, seed, groups, statistic), alpha)
    return float(statistic(weighted.unit_weights(y.size))[0, 0]), float(low[0]), float(high[0])


@dataclass(frozen=True)
class BootstrapEvaluation:
    """Metrics and decision curve of one model on one set of resamples, with the replicates.

    ``replicates`` keeps every metric of every resample, so that the paired difference of
    two models bootstrapped with the same seed (the same resamples) is a subtraction
    (:func:`paired_difference`), not a second pass over the resamples.
    """

    metrics: pd.DataFrame  # as bootstrap_metrics: metric, estimate, ci_low, ci_high
    decision: pd.DataFrame  # as bootstrap_net_benefit: threshold, model, ci_*, treat_all
    replicates: np.ndarray = field(repr=False)  # (n_boot, len(METRICS))
    full: np.ndarray = field(repr=False)  # (len(METRICS),): the weighted core, unit weights
    alpha: float = 0.05


def bootstrap_evaluation(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray,
                         n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                         groups: np.ndarray | None = None) -> BootstrapEvaluation:
    """:func:`bootstrap_metrics` and :func:`bootstrap_net_benefit` in one pass over resamples.

    Each block of resample weights is drawn once and serves every metric and the net benefit
    at every threshold, so the results equal those of the two functions (same seed, same
    resamples) at about half their cost; the metric replicates are kept for
    :func:`paired_difference`.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption.
    thresholds : array-like of shape (k,)
        Threshold probabilities of the decision curve, in (0, 1).
    n_boot, seed, alpha, groups
        As in :func:`bootstrap_metrics`.

    Returns
    -------
    BootstrapEvaluation

    Raises
    ------
    ValueError, TrainingError
        As :func:`bootstrap_metrics`.
    """
    y, p = check_outcome_and_risk(y, p)
    check_bootstrap(n_boot, seed, alpha)
    curve = net_benefit(y, p, thresholds)
    t = curve["threshold"].to_numpy()
    order = np.argsort(p, kind="stable")
    ys, ps = y[order], p[order]
    n_metrics = len(METRICS)

    def statistic(w: np.ndarray) -> np.ndarray:
        # w follows the sorted order; the net benefit is a sum over rows, so order-free
        metrics = np.column_stack(list(weighted.evaluate(ys, ps, w).values()))
        return np.column_stack([metrics, weighted.net_benefit(ys, ps, t, w)])

    values = _replicates(y, n_boot, seed, groups, statistic, order)
    low, high = percentile_limits(values, alpha)
    full = np.array([v[0] for v in weighted.evaluate(ys, ps).values()])
    metrics = pd.DataFrame({"metric": list(METRICS),
                            "estimate": list(metric_table(y, p).values()),
                            "ci_low": low[:n_metrics], "ci_high": high[:n_metrics]})
    decision = curve[["threshold", "model"]].assign(
        ci_low=low[n_metrics:], ci_high=high[n_metrics:], treat_all=curve["treat_all"])
    return BootstrapEvaluation(metrics, decision, values[:, :n_metrics], full, alpha)


def paired_difference(a: BootstrapEvaluation, b: BootstrapEvaluation) -> pd.DataFrame:
    """:func:`paired_bootstrap_difference` of two models from their kept replicates.

    ``a`` and ``b`` must come from :func:`bootstrap_evaluation` of the same ``y``, ``n_boot``,
    ``seed`` and ``groups`` (hence the same resamples); the interval of ``a - b`` is then
    that of :func:`paired_bootstrap_difference`, without drawing the resamples again.

    Returns
    -------
    DataFrame of shape (len(METRICS), 4)
        ``metric``, ``difference`` (a - b on the full sample), ``ci_low``, ``ci_high``.

    Raises
    ------
    ValueError
        Replicates of different shapes (not the same bootstrap).
    """
    if a.replicates.shape != b.replicates.shape or a.alpha != b.alpha:
        raise ValueError(f"paired_difference needs two bootstraps of the same resamples; got "
                         f"replicates of shapes {a.replicates.shape} and {b.replicates.shape}")
    with np.errstate(invalid="ignore"):  # inf - inf of separated resamples' slopes
        low, high = percentile_limits(a.replicates - b.replicates, a.alpha)
        full = a.full - b.full
    return pd.DataFrame({"metric": list(METRICS), "difference": full,
                         "ci_low": low, "ci_high": high})
