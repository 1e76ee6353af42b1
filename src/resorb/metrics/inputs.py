"""Checks of the arguments every metric shares: outcomes, predictions and bootstrap settings.

Bad arguments raise :class:`ValueError` naming the argument, what was expected and what was
found; an outcome of a single class raises :class:`~resorb.errors.TrainingError` wherever a
metric needs both classes.
"""

from __future__ import annotations

import numpy as np

from resorb.errors import TrainingError

_MAX_SHOWN = 5


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


def check_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """Risk thresholds as a float array of shape (k,), each strictly inside (0, 1).

    Raises
    ------
    ValueError
        Empty, not 1-D, or a threshold at or outside 0 or 1 (net benefit divides by 1 - t).
    """
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all((t > 0.0) & (t < 1.0)):
        raise ValueError(
            "thresholds must be a non-empty 1-D array of probabilities strictly between 0 and "
            f"1 (net benefit divides by 1 - t); got {np.asarray(thresholds)!r}"
        )
    return t


def check_frac(frac: float) -> float:
    """The smoother span as a float in (0, 1]; ValueError otherwise."""
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"frac must be in (0, 1], the share of rows in each local fit; got {frac}")
    return float(frac)


def check_bootstrap(n_boot: int, seed: int, alpha: float) -> None:
    """Validate the settings every bootstrap shares.

    Raises
    ------
    ValueError
        ``n_boot`` not a positive integer, ``seed`` not a non-negative integer, or ``alpha``
        outside (0, 1).
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer; got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05 for 95% intervals; got {alpha}")
