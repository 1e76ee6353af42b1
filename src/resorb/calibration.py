"""Calibration of predicted resorption probabilities: how far predicted risk is from observed.

Pure functions of an outcome vector ``y`` (1 = the herniation resorbed, 0 = it did not) and a
vector ``p`` of predicted resorption probabilities, both of shape ``(n,)``:

- :func:`calibration_intercept_slope`: logistic recalibration (Cox 1958; Van Calster 2016);
- :func:`smoothed_calibration_curve`: local linear (loess-style) smoother of ``y`` on ``p``;
- :func:`integrated_calibration_index` and :func:`calibration_errors`: ICI, E50, E90, Emax
  (Austin & Steyerberg, Stat Med 2019;38:4051);
- :func:`calibration_in_bins`: observed against predicted by quantile group, for reports.

Every estimator is written for a matrix of row weights ``w`` of shape ``(B, n)``: one row per
bootstrap resample holding how often each observation was drawn. The public functions call it
with a single row of ones; :mod:`resorb.validation` calls it with the resamples, so that point
estimates and bootstrap replicates come from the same code.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

from resorb.errors import TrainingError

CLIP = 1e-8
"""Predictions are clipped to [CLIP, 1 - CLIP] before taking logits or logs."""

_MAX_CELLS = 2_000_000  # elements of one (rows x n) block built at a time: bounds memory
_MAX_SHOWN = 5


# ---------------------------------------------------------------------------- input checks


def _positions(mask: np.ndarray) -> str:
    """'at positions 3, 7 and 12 more' for the True entries of ``mask``."""
    where = np.flatnonzero(mask)
    shown = ", ".join(map(str, where[:_MAX_SHOWN]))
    more = f" and {where.size - _MAX_SHOWN} more" if where.size > _MAX_SHOWN else ""
    return f"at positions {shown}{more} (0-based)"


def check_outcome_and_risk(
    y: np.ndarray, p: np.ndarray, *, both_classes: bool = True, name: str = "p"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of outcome and prediction vectors and return them as float arrays.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 0/1 or boolean (1 = resorbed).
    p : array-like of shape (n,)
        Predicted probability of resorption, in [0, 1].
    both_classes : bool
        Raise :class:`TrainingError` when ``y`` holds a single class.
    name : str
        How ``p`` is called in error messages.

    Returns
    -------
    y, p : ndarray of shape (n,), float64

    Raises
    ------
    ValueError
        Different lengths, no rows, non-binary ``y`` or ``p`` outside [0, 1] or missing.
    TrainingError
        ``both_classes`` and ``y`` has no events or no non-events.
    """
    y_arr = np.asarray(y)
    p_arr = np.asarray(p, dtype=float)
    if y_arr.ndim != 1 or p_arr.ndim != 1:
        raise ValueError(
            f"y and {name} must be 1-D; got shapes {y_arr.shape} and {p_arr.shape}"
        )
    if y_arr.size != p_arr.size:
        raise ValueError(
            f"y and {name} must have the same length; got {y_arr.size} outcomes and "
            f"{p_arr.size} predictions"
        )
    if y_arr.size == 0:
        raise ValueError("y and p are empty; there is nothing to validate")
    try:
        y_float = y_arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"y must hold 0/1 outcomes; got dtype {y_arr.dtype}") from None
    bad = ~np.isin(y_float, (0.0, 1.0))
    if bad.any():
        found = ", ".join(map(str, np.unique(y_arr[bad])[:3]))
        raise ValueError(
            f"y must hold 0/1 outcomes; found {found} {_positions(bad)}; "
            "recode the outcome as 1 = resorbed, 0 = not resorbed"
        )
    bad = ~((p_arr >= 0.0) & (p_arr <= 1.0))  # also catches NaN
    if bad.any():
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; found {int(bad.sum())} values outside "
            f"[0, 1] or missing {_positions(bad)}"
        )
    if both_classes:
        n_events = int(y_float.sum())
        if n_events == 0:
            raise TrainingError(
                "the outcome has no events (all 0): AUROC and calibration are undefined; "
                "validate on data holding both resorbed and non-resorbed herniations"
            )
        if n_events == y_float.size:
            raise TrainingError(
                "the outcome has only events (all 1): AUROC and calibration are undefined; "
                "validate on data holding both resorbed and non-resorbed herniations"
            )
    return y_float, p_arr


def _logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of ``p`` after clipping to [CLIP, 1 - CLIP]."""
    q = np.clip(p, CLIP, 1.0 - CLIP)
    return np.log(q) - np.log1p(-q)


def _ones(n: int) -> np.ndarray:
    """A single row of unit weights, shape (1, n)."""
    return np.ones((1, n))


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


def _recalibration(
    y: np.ndarray, p: np.ndarray, w: np.ndarray, *, fit_slope: bool
) -> np.ndarray:
    """Calibration intercept (offset model) or slope, one value per weight row, shape (B,)."""
    lp = _logit(p)
    one = _ones(y.size)
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


def calibration_intercept_slope(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration intercept (calibration-in-the-large) and calibration slope.

    The slope is ``b`` in the logistic model ``logit P(y=1) = a + b * logit(p)``; the intercept
    is ``a`` in ``logit P(y=1) = a + logit(p)`` (``logit(p)`` as offset, slope fixed at 1).
    Both are unpenalised maximum likelihood estimates (Newton-Raphson); ``p`` is clipped to
    [1e-8, 1 - 1e-8] first. Ideal values: intercept 0, slope 1. A slope below 1 means
    predictions too extreme (overfitting), above 1 too modest; a positive intercept means
    resorption is under-predicted on average.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption.

    Returns
    -------
    intercept, slope : float
        The slope is ``inf`` (``-inf``) when ``p`` separates the classes perfectly (inversely),
        as for the apparent predictions of a model that memorised its training data, and
        ``nan`` when ``p`` is constant.
    """
    y, p = check_outcome_and_risk(y, p)
    w = _ones(y.size)
    return (float(_recalibration(y, p, w, fit_slope=False)[0]),
            float(_recalibration(y, p, w, fit_slope=True)[0]))


def calibration_intercept(y: np.ndarray, p: np.ndarray) -> float:
    """Calibration-in-the-large: the first value of :func:`calibration_intercept_slope`."""
    y, p = check_outcome_and_risk(y, p)
    return float(_recalibration(y, p, _ones(y.size), fit_slope=False)[0])


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """Calibration slope: the second value of :func:`calibration_intercept_slope`."""
    y, p = check_outcome_and_risk(y, p)
    return float(_recalibration(y, p, _ones(y.size), fit_slope=True)[0])


# ------------------------------------------------------------------------ smoothed curve


def _check_frac(frac: float) -> float:
    """Validate the smoother span."""
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"frac must be in (0, 1], the share of rows in each local fit; got {frac}")
    return float(frac)


def _default_grid(p: np.ndarray, size: int = 100) -> np.ndarray:
    """``size`` evenly spaced points from min(p) to max(p)."""
    return np.linspace(p.min(), p.max(), size)


def _local_linear(
    y: np.ndarray, p: np.ndarray, w: np.ndarray, grid: np.ndarray, frac: float
) -> np.ndarray:
    """Tricube-weighted local linear fit of y on p at each grid point, shape (B, grid.size).

    The span of each local fit holds the ``ceil(frac * n)`` rows nearest to the grid point in
    the unweighted sample, so bootstrap weights change the fit but not the window.
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


def smoothed_calibration_curve(
    y: np.ndarray, p: np.ndarray, grid: np.ndarray | None = None, frac: float = 0.3
) -> pd.DataFrame:
    """Observed resorption rate as a smooth function of predicted risk (loess-style).

    A local linear regression of ``y`` on ``p`` with tricube weights over the ``frac * n``
    nearest predictions (like R's ``loess(y ~ p, span=frac, degree=1)`` without robustness
    iterations), evaluated at each grid point and clipped to [0, 1]. Cost O(n * grid), in
    blocks of bounded memory.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption.
    grid : array-like of shape (m,), optional
        Predicted risks at which to evaluate the curve; default 100 evenly spaced points from
        min(p) to max(p).
    frac : float
        Share of the rows in each local fit, in (0, 1].

    Returns
    -------
    DataFrame of shape (m, 2)
        ``predicted`` (the grid) and ``observed`` (smoothed observed resorption rate).
    """
    y, p = check_outcome_and_risk(y, p, both_classes=False)
    frac = _check_frac(frac)
    g = _default_grid(p) if grid is None else np.asarray(grid, dtype=float).ravel()
    observed = _local_linear(y, p, _ones(y.size), g, frac)[0]
    return pd.DataFrame({"predicted": g, "observed": observed})


def _abs_errors(y: np.ndarray, p: np.ndarray, w: np.ndarray, frac: float) -> np.ndarray:
    """|smoothed observed(p_i) - p_i| per weight row and observation, shape (B, n)."""
    grid = _default_grid(p)
    curve = _local_linear(y, p, w, grid, frac)
    if grid[-1] <= grid[0]:  # constant predictions: a single point
        return np.abs(curve[:, :1] - p[None, :])
    # linear interpolation of the grid curve at each p_i, for all rows at once
    left = np.clip(np.searchsorted(grid, p, side="right") - 1, 0, grid.size - 2)
    share = np.clip((p - grid[left]) / (grid[left + 1] - grid[left]), 0.0, 1.0)
    at_p = curve[:, left] * (1.0 - share) + curve[:, left + 1] * share
    return np.abs(at_p - p[None, :])


def _ici(y: np.ndarray, p: np.ndarray, w: np.ndarray, frac: float = 0.3) -> np.ndarray:
    """Weighted integrated calibration index per weight row, shape (B,)."""
    err = _abs_errors(y, p, w, frac)
    return (w * err).sum(axis=1) / w.sum(axis=1)


def calibration_errors(y: np.ndarray, p: np.ndarray, frac: float = 0.3) -> dict[str, float]:
    """ICI, E50, E90 and Emax: summaries of |smoothed observed - predicted| over patients.

    Austin & Steyerberg (Stat Med 2019;38:4051): the smoothed calibration curve
    (:func:`smoothed_calibration_curve`) is evaluated at each patient's prediction by linear
    interpolation of the default 100-point grid; the absolute differences from the
    predictions are then averaged (ICI), or summarised by their median (E50), 90th percentile
    (E90) and maximum (Emax). All are on the probability scale: 0.02 means predictions are off
    by 2 percentage points for a typical patient.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption.
    frac : float
        Span of the smoother, in (0, 1].

    Returns
    -------
    dict
        ``{"ici", "e50", "e90", "emax"}`` -> float.
    """
    y, p = check_outcome_and_risk(y, p)
    err = _abs_errors(y, p, _ones(y.size), _check_frac(frac))[0]
    return {"ici": float(err.mean()), "e50": float(np.median(err)),
            "e90": float(np.quantile(err, 0.9)), "emax": float(err.max())}


def integrated_calibration_index(y: np.ndarray, p: np.ndarray, frac: float = 0.3) -> float:
    """Integrated calibration index (ICI): mean |smoothed observed(p_i) - p_i|.

    See :func:`calibration_errors`, which also returns E50, E90 and Emax.
    """
    y, p = check_outcome_and_risk(y, p)
    return float(_ici(y, p, _ones(y.size), _check_frac(frac))[0])


# -------------------------------------------------------------------------------- bins


def calibration_in_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Observed against mean predicted resorption in quantile groups of predicted risk.

    Groups are quantiles of ``p`` (deciles by default); tied predictions stay in one group, so
    heavily tied ``p`` can give fewer groups. Intervals are Wilson 95% intervals for the
    observed proportion.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption.
    n_bins : int
        Number of quantile groups requested.

    Returns
    -------
    DataFrame with one row per group
        ``bin`` (1 = lowest risk), ``p_min``, ``p_max``, ``n``, ``events``, ``predicted``
        (mean p), ``observed`` (event rate), ``observed_low``, ``observed_high``.
    """
    y, p = check_outcome_and_risk(y, p, both_classes=False)
    if n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins}")
    codes = pd.qcut(p, q=min(n_bins, y.size), labels=False, duplicates="drop")
    frame = pd.DataFrame({"bin": np.asarray(codes) + 1, "p": p, "y": y})
    table = frame.groupby("bin", sort=True).agg(
        p_min=("p", "min"), p_max=("p", "max"), n=("y", "size"), events=("y", "sum"),
        predicted=("p", "mean"), observed=("y", "mean"),
    ).reset_index()
    z = float(ndtri(0.975))
    n, obs = table["n"].to_numpy(float), table["observed"].to_numpy(float)
    centre = (obs + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(obs * (1 - obs) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return table.assign(events=table["events"].astype(int),
                        observed_low=np.clip(centre - half, 0.0, 1.0),
                        observed_high=np.clip(centre + half, 0.0, 1.0))
