"""The weighted core: every metric as a function of a matrix of row weights ``w`` (B, n).

A bootstrap resample is a vector of how often each row was drawn, so a metric written for
weights gives all B replicates at once, and its point estimate is the same code on a single row
of ones (:func:`unit_weights`). Every metric of :mod:`resorb.metrics`, plain or bootstrapped,
is computed here, so point estimates and replicates cannot drift apart: the scheme of
scikit-survival's ``metrics.py``, where one weighted estimator serves the plain and the
inverse-probability-weighted concordance index.

Inputs are already checked (:mod:`resorb.metrics.inputs`): ``y`` (0/1) and ``p`` are float
arrays of shape (n,). The functions here are for the modules of :mod:`resorb.metrics`; callers
elsewhere use the public metrics re-exported by the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import expit

CLIP = 1e-8
"""Predictions are clipped to [CLIP, 1 - CLIP] before taking logits or logs."""

_MAX_CELLS = 2_000_000  # elements of one (grid x n) smoother block built at a time: bounds memory


def unit_weights(n: int) -> np.ndarray:
    """A single row of unit weights, shape (1, n): the plain (unbootstrapped) metric."""
    return np.ones((1, n))


def _clipped(p: np.ndarray) -> np.ndarray:
    """``p`` clipped to [CLIP, 1 - CLIP]."""
    return np.clip(p, CLIP, 1.0 - CLIP)


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of ``p`` after clipping to [CLIP, 1 - CLIP], same shape as ``p``."""
    q = _clipped(p)
    return np.log(q) - np.log1p(-q)


# --------------------------------------------------------------- ranking and accuracy
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
    q = _clipped(p)
    return w @ -(y * np.log(q) + (1.0 - y) * np.log1p(-q)) / w.sum(axis=1)


# ----------------------------------------------------------------- logistic recalibration


def _newton(
    y: np.ndarray, lp: np.ndarray, w: np.ndarray, *, fit_slope: bool,
    start: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """Unpenalised ML of (intercept, slope) per weight row by Newton-Raphson.

    Fits ``logit P(y=1) = b0 + b1 * lp``; with ``fit_slope=False`` b1 stays at 1 (``lp`` is an
    offset). Weighted sums are matrix products, so all B rows are fitted at once. From the
    default start (0, 1) a step is halved while it lowers the likelihood; from a given
    ``start`` (the full-sample fit, for bootstrap rows) at most 8 plain steps are taken and
    rows that have not converged are left to the caller. Convergence is quadratic, so stopping
    at a step below ``tol`` leaves an error of order ``tol**2``.

    Returns the estimates, shape (B, 2), and whether each row converged, shape (B,).
    """
    safe = start is None
    beta = np.tile([0.0, 1.0] if safe else start, (w.shape[0], 1))
    basis = np.column_stack([np.ones_like(lp), lp, lp * lp])
    wy_sums = (w * y) @ basis[:, :2]  # sufficient statistics of the data term
    converged = np.zeros(w.shape[0], dtype=bool)

    def loglik(b: np.ndarray, eta: np.ndarray) -> np.ndarray:
        return (wy_sums * b).sum(axis=1) - np.einsum("ij,ij->i", w, np.logaddexp(0.0, eta))

    eta = beta[:, :1] + beta[:, 1:] * lp
    ll = loglik(beta, eta) if safe else None
    for _ in range(max_iter if safe else 8):
        mu = expit(eta)
        wmu = w * mu
        g = wy_sums - wmu @ basis[:, :2]
        h = (wmu - wmu * mu) @ basis
        step = np.zeros_like(beta)
        ok = h[:, 0] > 0
        if fit_slope:
            det = h[:, 0] * h[:, 2] - h[:, 1] ** 2
            ok &= det > 1e-12 * h[:, 0] * h[:, 2]
            det = np.where(ok, det, 1.0)
            step[:, 0] = np.where(ok, (h[:, 2] * g[:, 0] - h[:, 1] * g[:, 1]) / det, 0.0)
            step[:, 1] = np.where(ok, (h[:, 0] * g[:, 1] - h[:, 1] * g[:, 0]) / det, 0.0)
        else:
            step[:, 0] = np.where(ok, g[:, 0] / np.where(ok, h[:, 0], 1.0), 0.0)
        converged = ok & (np.abs(step).max(axis=1) < tol)
        if converged.all():
            return beta + step, converged
        if not safe:
            beta = beta + step
            eta = beta[:, :1] + beta[:, 1:] * lp
            continue
        t = np.ones(w.shape[0])
        for _ in range(40):  # halve the step of the rows whose likelihood fell
            cand = beta + t[:, None] * step
            eta_cand = cand[:, :1] + cand[:, 1:] * lp
            ll_cand = loglik(cand, eta_cand)
            worse = ll_cand < ll - 1e-12 * np.abs(ll)
            if not worse.any():
                break
            t = np.where(worse, t / 2.0, t)
        beta, eta, ll = cand, eta_cand, ll_cand
    return beta, converged & np.all(np.isfinite(beta), axis=1)


def _slope_model(y: np.ndarray, lp: np.ndarray, w: np.ndarray,
                 start: np.ndarray | None = None) -> np.ndarray:
    """(intercept, slope) of logit P = a + b * lp per weight row, shape (B, 2).

    Rows where the ML slope does not exist get slope +-inf under (quasi-)complete separation
    (Newton would only crawl towards infinity) and NaN when ``lp`` is constant.
    """
    if start is not None:  # fast path for bootstrap rows; the few failures take the slow one
        beta, converged = _newton(y, lp, w, fit_slope=True, start=start)
        if not converged.all():
            beta[~converged] = _slope_model(y, lp, w[~converged])
        return beta
    out = np.full((w.shape[0], 2), np.nan)
    used = w > 0
    lo0 = np.where(used & (y == 0), lp, np.inf).min(axis=1)
    hi0 = np.where(used & (y == 0), lp, -np.inf).max(axis=1)
    lo1 = np.where(used & (y == 1), lp, np.inf).min(axis=1)
    hi1 = np.where(used & (y == 1), lp, -np.inf).max(axis=1)
    constant = np.maximum(hi0, hi1) <= np.minimum(lo0, lo1)
    out[~constant & (hi0 <= lo1), 1] = np.inf
    out[~constant & (hi1 <= lo0), 1] = -np.inf
    fit = ~constant & (hi0 > lo1) & (hi1 > lo0)
    if fit.any():
        out[fit] = _newton(y, lp, w[fit], fit_slope=True)[0]
    return out


def recalibration(
    y: np.ndarray, p: np.ndarray, w: np.ndarray, *, fit_slope: bool
) -> np.ndarray:
    """Calibration intercept (offset model) or slope per weight row, shape (B,).

    See :func:`resorb.metrics.calibration_intercept_slope` for the models. With several rows
    the full-sample fit is the Newton start of every row.
    """
    lp = logit(p)
    one = unit_weights(y.size)
    if fit_slope:
        start = _slope_model(y, lp, one)[0] if w.shape[0] > 1 else None
        if start is not None and not np.all(np.isfinite(start)):
            start = None
        return _slope_model(y, lp, w, start)[:, 1]
    if w.shape[0] == 1:
        return _newton(y, lp, w, fit_slope=False)[0][:, 0]
    beta, converged = _newton(y, lp, w, fit_slope=False,
                              start=_newton(y, lp, one, fit_slope=False)[0][0])
    if not converged.all():
        beta[~converged] = _newton(y, lp, w[~converged], fit_slope=False)[0]
    return beta[:, 0]


# ------------------------------------------------------------------------ smoothed curve


def default_grid(p: np.ndarray, size: int = 100) -> np.ndarray:
    """``size`` evenly spaced points from min(p) to max(p), shape (size,)."""
    return np.linspace(p.min(), p.max(), size)


def local_linear(
    y: np.ndarray, p: np.ndarray, w: np.ndarray, grid: np.ndarray, frac: float
) -> np.ndarray:
    """Tricube-weighted local linear fit of y on p at each grid point, shape (B, grid.size).

    The span of each local fit holds the ``ceil(frac * n)`` rows nearest to the grid point in
    the unweighted sample, so bootstrap weights change the fit but not the window. Fitted
    values are clipped to [0, 1]; ``y`` may be any real response.
    """
    n = p.size
    k = min(n, max(2, math.ceil(frac * n)))
    wy = w * y
    out = np.empty((w.shape[0], grid.size))
    step = max(1, _MAX_CELLS // n)
    for start in range(0, grid.size, step):
        g = grid[start:start + step]
        d = p[None, :] - g[:, None]
        ad = np.abs(d)
        # widened a hair so that the k-th neighbour keeps a (tiny) weight: with few rows all
        # k neighbours can sit exactly at the window's edge
        h = np.maximum(np.partition(ad, k - 1, axis=1)[:, k - 1:k] * 1.001, 1e-12)
        u = np.minimum(ad / h, 1.0)
        a0 = (1.0 - u**3) ** 3
        a1 = a0 * d
        s0, s1, s2 = w @ a0.T, w @ a1.T, w @ (a1 * d).T
        t0, t1 = wy @ a0.T, wy @ a1.T
        den = s0 * s2 - s1 * s1
        linear = den > 1e-10 * s0 * s2
        mean = np.divide(t0, s0, out=np.full_like(t0, np.nan), where=s0 > 0)
        # intercept of the local line = fitted value at the grid point; local mean if degenerate
        out[:, start:start + step] = np.divide(s2 * t0 - s1 * t1, den, out=mean, where=linear)
    return np.clip(out, 0.0, 1.0)


def absolute_errors(y: np.ndarray, p: np.ndarray, w: np.ndarray, frac: float) -> np.ndarray:
    """|smoothed observed(p_i) - p_i| per weight row and observation, shape (B, n)."""
    grid = default_grid(p)
    curve = local_linear(y, p, w, grid, frac)
    if grid[-1] <= grid[0]:  # constant predictions: a single point
        return np.abs(curve[:, :1] - p[None, :])
    # linear interpolation of the grid curve at each p_i, for all rows at once
    left = np.clip(np.searchsorted(grid, p, side="right") - 1, 0, grid.size - 2)
    share = np.clip((p - grid[left]) / (grid[left + 1] - grid[left]), 0.0, 1.0)
    at_p = curve[:, left] * (1.0 - share) + curve[:, left + 1] * share
    return np.abs(at_p - p[None, :])


def ici(y: np.ndarray, p: np.ndarray, w: np.ndarray, frac: float = 0.3) -> np.ndarray:
    """Weighted integrated calibration index per weight row, shape (B,)."""
    err = absolute_errors(y, p, w, frac)
    return (w * err).sum(axis=1) / w.sum(axis=1)


# ------------------------------------------------------------------ all metrics at once

_KERNELS: dict[str, Callable[..., np.ndarray]] = {
    "auroc": _k_auroc,
    "auprc": _k_auprc,
    "brier": _k_brier,
    "scaled_brier": _k_scaled_brier,
    "log_loss": _k_log_loss,
    "calibration_intercept": lambda y, p, s, w: recalibration(y, p, w, fit_slope=False),
    "calibration_slope": lambda y, p, s, w: recalibration(y, p, w, fit_slope=True),
    "ici": lambda y, p, s, w: ici(y, p, w),
}


def evaluate(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
             names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Every scalar metric (or those named) per weight row; unit weights by default.

    Parameters
    ----------
    y, p : ndarray of shape (n,)
        Checked outcomes and predictions.
    w : ndarray of shape (B, n), optional
        Row weights, one row per resample; a single row of ones when omitted.
    names : tuple of str, optional
        Metrics to compute, among those of :data:`resorb.metrics.METRICS`; all by default.

    Returns
    -------
    dict
        Metric name -> ndarray of shape (B,), in the order of :data:`resorb.metrics.METRICS`.

    Notes
    -----
    Sorts by ``p`` unless it is sorted already (the bootstrap sorts once, before resampling).
    """
    if np.any(p[1:] < p[:-1]):
        order = np.argsort(p, kind="stable")
        y, p = y[order], p[order]
        w = None if w is None else w[:, order]
    if w is None:
        w = unit_weights(y.size)
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    return {name: _KERNELS[name](y, p, starts, w) for name in (names or _KERNELS)}


def net_benefit(y: np.ndarray, p: np.ndarray, t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Model net benefit per weight row and threshold ``t`` (k,), shape (B, k).

    ``TP/n - FP/n * t / (1 - t)`` with weighted counts (Vickers & Elkin 2006).
    """
    offered = (p[:, None] >= t[None, :]).astype(float)
    total = w.sum(axis=1)[:, None]
    tp, fp = (w * y) @ offered, (w * (1.0 - y)) @ offered
    return tp / total - fp / total * (t / (1.0 - t))


# ------------------------------------------------------------ external validation extras


def observed_expected(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Observed over expected events (O/E) per weight row, shape (B,): ``sum w y / sum w p``."""
    return (w @ y) / (w @ p)


def repeated_quantile(values: np.ndarray, w: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of each row of ``values`` (B, n), row ``b`` repeated ``w[b]`` times.

    With integer counts (a bootstrap resample) this is exactly ``np.quantile`` (linear
    interpolation) of the resampled values; with unit weights it is ``np.quantile`` itself.
    """
    order = np.argsort(values, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    cum = np.cumsum(np.take_along_axis(w, order, axis=1), axis=1)
    h = (cum[:, -1] - 1.0) * q  # position in the repeated, sorted values (0-based)
    lo, hi = np.floor(h), np.ceil(h)
    rows = np.arange(values.shape[0])
    last = values.shape[1] - 1
    # the value at repeated position k is the first sorted value whose cumulative count > k
    i_lo = np.minimum((cum <= lo[:, None] + 1e-9).sum(axis=1), last)
    i_hi = np.minimum((cum <= hi[:, None] + 1e-9).sum(axis=1), last)
    return v[rows, i_lo] + (h - lo) * (v[rows, i_hi] - v[rows, i_lo])


def calibration_error_summary(y: np.ndarray, p: np.ndarray, w: np.ndarray,
                              frac: float = 0.3) -> np.ndarray:
    """ICI, E50, E90 and Emax per weight row, shape (B, 4) (Austin & Steyerberg 2019).

    Weighted mean, quantiles (:func:`repeated_quantile`) and maximum over the rows drawn of
    the absolute errors of :func:`absolute_errors`.
    """
    err = absolute_errors(y, p, w, frac)
    mean = (w * err).sum(axis=1) / w.sum(axis=1)
    drawn_max = np.where(w > 0, err, -np.inf).max(axis=1)
    return np.column_stack([mean, repeated_quantile(err, w, 0.5),
                            repeated_quantile(err, w, 0.9), drawn_max])
