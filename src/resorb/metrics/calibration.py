"""Calibration of predicted resorption probabilities: how far predicted risk is from observed.

Pure functions of an outcome vector ``y`` (1 = the herniation resorbed, 0 = it did not) and a
vector ``p`` of predicted resorption probabilities, both of shape ``(n,)``, following the
calibration hierarchy of Van Calster et al. (J Clin Epidemiol 2016;74:167-176,
doi:10.1016/j.jclinepi.2015.12.005; BMC Med 2019;17:230, doi:10.1186/s12916-019-1466-7):

- mean calibration: :func:`calibration_intercept` (calibration-in-the-large);
- weak calibration: :func:`calibration_slope`, both from logistic recalibration (Cox,
  Biometrika 1958;45:562-565, doi:10.1093/biomet/45.3-4.562);
- moderate calibration: :func:`smoothed_calibration_curve`, a local linear (loess-style)
  smoother of ``y`` on ``p``, summarised by :func:`integrated_calibration_index` and
  :func:`calibration_errors` (ICI, E50, E90, Emax: Austin & Steyerberg, Stat Med
  2019;38:4051-4065, doi:10.1002/sim.8281);
- :func:`calibration_in_bins`: observed against predicted by quantile group, for reports.

The estimators live in :mod:`resorb.metrics.weighted`, shared with the bootstrap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from resorb.metrics.inputs import check_frac, check_outcome_and_risk
from resorb.metrics.weighted import (
    absolute_errors,
    default_grid,
    ici,
    local_linear,
    recalibration,
    unit_weights,
)


def calibration_intercept_slope(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration intercept (calibration-in-the-large) and calibration slope.

    The slope is ``b`` in the logistic model ``logit P(y=1) = a + b * logit(p)``; the intercept
    is ``a`` in ``logit P(y=1) = a + logit(p)`` (``logit(p)`` as offset, slope fixed at 1).
    Both are unpenalised maximum likelihood estimates (Newton-Raphson); ``p`` is clipped to
    [1e-8, 1 - 1e-8] first. Ideal values: intercept 0, slope 1. A slope below 1 means
    predictions too extreme (overfitting), above 1 too modest; a positive intercept means
    resorption is under-predicted on average (Cox 1958; Van Calster et al. 2016, 2019).

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption, clipped before taking the logit.

    Returns
    -------
    intercept, slope : float
        The slope is ``inf`` (``-inf``) when ``p`` separates the classes perfectly (inversely),
        as for the apparent predictions of a model that memorised its training data, and
        ``nan`` when ``p`` is constant.

    Raises
    ------
    ValueError
        Malformed ``y`` or ``p`` (see :func:`~resorb.metrics.check_outcome_and_risk`).
    TrainingError
        ``y`` holds a single class: no recalibration model can be fitted.
    """
    return calibration_intercept(y, p), calibration_slope(y, p)


def calibration_intercept(y: np.ndarray, p: np.ndarray) -> float:
    """Calibration-in-the-large: the first value of :func:`calibration_intercept_slope`."""
    y, p = check_outcome_and_risk(y, p)
    return float(recalibration(y, p, unit_weights(y.size), fit_slope=False)[0])


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """Calibration slope: the second value of :func:`calibration_intercept_slope`."""
    y, p = check_outcome_and_risk(y, p)
    return float(recalibration(y, p, unit_weights(y.size), fit_slope=True)[0])


def smoothed_calibration_curve(
    y: np.ndarray, p: np.ndarray, grid: np.ndarray | None = None, frac: float = 0.3
) -> pd.DataFrame:
    """Observed resorption rate as a smooth function of predicted risk (loess-style).

    A local linear regression of ``y`` on ``p`` with tricube weights over the ``frac * n``
    nearest predictions (like R's ``loess(y ~ p, span=frac, degree=1)`` without robustness
    iterations), evaluated at each grid point and clipped to [0, 1]; the flexible calibration
    curve of Van Calster et al. (2016) and Austin & Steyerberg (2019). Cost O(n * grid), in
    blocks of bounded memory.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed; a single class is allowed.
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
    frac = check_frac(frac)
    g = default_grid(p) if grid is None else np.asarray(grid, dtype=float).ravel()
    observed = local_linear(y, p, unit_weights(y.size), g, frac)[0]
    return pd.DataFrame({"predicted": g, "observed": observed})


def calibration_errors(y: np.ndarray, p: np.ndarray, frac: float = 0.3) -> dict[str, float]:
    """ICI, E50, E90 and Emax: summaries of |smoothed observed - predicted| over patients.

    Austin & Steyerberg (Stat Med 2019;38:4051-4065, doi:10.1002/sim.8281): the smoothed
    calibration curve (:func:`smoothed_calibration_curve`) is evaluated at each patient's
    prediction by linear interpolation of the default 100-point grid; the absolute differences
    from the predictions are then averaged (ICI), or summarised by their median (E50), 90th
    percentile (E90) and maximum (Emax). All are on the probability scale: 0.02 means
    predictions are off by 2 percentage points for a typical patient.

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption: where the curve is read.
    frac : float
        Span of the smoother, in (0, 1].

    Returns
    -------
    dict
        ``{"ici", "e50", "e90", "emax"}`` -> float.
    """
    y, p = check_outcome_and_risk(y, p)
    err = absolute_errors(y, p, unit_weights(y.size), check_frac(frac))[0]
    return {"ici": float(err.mean()), "e50": float(np.median(err)),
            "e90": float(np.quantile(err, 0.9)), "emax": float(err.max())}


def integrated_calibration_index(y: np.ndarray, p: np.ndarray, frac: float = 0.3) -> float:
    """Integrated calibration index (ICI): mean |smoothed observed(p_i) - p_i|.

    Austin & Steyerberg (2019); see :func:`calibration_errors`, which also returns E50, E90
    and Emax.
    """
    y, p = check_outcome_and_risk(y, p)
    return float(ici(y, p, unit_weights(y.size), check_frac(frac))[0])


def calibration_in_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Observed against mean predicted resorption in quantile groups of predicted risk.

    Groups are quantiles of ``p`` (deciles by default); tied predictions stay in one group, so
    heavily tied ``p`` can give fewer groups. Intervals are Wilson 95% intervals for the
    observed proportion (Wilson, J Am Stat Assoc 1927;22:209-212,
    doi:10.1080/01621459.1927.10502953).

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed.
    p : array-like of shape (n,)
        Predicted probability of resorption; its quantiles make the groups.
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


def observed_expected_ratio(y: np.ndarray, p: np.ndarray) -> float:
    """Observed over expected number of resorbed herniations (O/E), the first step of the
    calibration hierarchy ("mean calibration").

    ``O/E = sum(y) / sum(p)``: 1 is ideal; above 1 the model under-predicts resorption on
    average, below 1 it over-predicts (Van Calster et al., J Clin Epidemiol 2016;74:167-176,
    doi:10.1016/j.jclinepi.2015.12.005; Riley et al., Stat Med 2021;40:4230-4251,
    doi:10.1002/sim.9025, size the validation sample for its precision).

    Parameters
    ----------
    y : array-like of shape (n,)
        Observed outcome, 1 = resorbed; a single class is allowed.
    p : array-like of shape (n,)
        Predicted probability of resorption, not all zero.

    Returns
    -------
    float
        The ratio; ``inf`` when every prediction is 0 and some herniation resorbed.

    Raises
    ------
    ValueError
        Malformed ``y`` or ``p`` (see :func:`~resorb.metrics.check_outcome_and_risk`).
    """
    from resorb.metrics.weighted import observed_expected

    y, p = check_outcome_and_risk(y, p, both_classes=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(observed_expected(y, p, unit_weights(y.size))[0])
