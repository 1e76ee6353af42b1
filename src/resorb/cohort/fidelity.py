"""Fidelity check: does a simulated cohort reproduce the published figures it was built from?

Each target in params.yaml (``cohort.presets.<preset>.targets``) names a statistic, how to
compute it (``measure``), on which rows (``where``), at which horizon, the published value,
its source and a tolerance. A target with ``horizon_days`` is computed on the same patients
with every follow-up MRI moved to that day (the generator's stages have separate random
streams, so only the follow-up changes). Outcome measures use the non-operated rows only, as
the studies could only see resorption in patients who were not operated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resorb.cohort import outcome
from resorb.cohort.generator import make_cohort
from resorb.cohort.params import CohortParams, Target
from resorb.cohort.presets import load_cohort_params, with_followup

Z95 = 1.959963984540054
OUTCOME_MEASURES = frozenset({"rate", "volume_ratio_change", "volume_mean_change", "mean_change"})
COLUMNS = ("statistic", "published", "source", "simulated", "ci_low", "ci_high", "tolerance",
           "passed", "note")


def filter_rows(frame: pd.DataFrame, where: dict[str, tuple[object, ...]]) -> np.ndarray:
    """Boolean mask of the rows whose column values are among the listed ones."""
    mask = np.ones(len(frame), dtype=bool)
    for name, values in where.items():
        mask &= frame[name].isin(list(values)).to_numpy(dtype=bool)
    return mask


def where_mask(frame: pd.DataFrame, target: Target) -> np.ndarray:
    """Rows a target is computed on: its ``where`` filters, and not operated for outcomes."""
    mask = filter_rows(frame, target.where)
    if target.measure in OUTCOME_MEASURES:
        mask &= ~frame["surgery"].to_numpy(dtype=bool, na_value=False)
    return mask


def _wilson(p: float, k: int) -> tuple[float, float]:
    """Wilson score interval of a proportion (stays inside [0, 1], unlike the Wald one)."""
    if k == 0:
        return np.nan, np.nan
    z2 = Z95**2 / k
    centre = (p + z2 / 2) / (1 + z2)
    half = Z95 / (1 + z2) * np.sqrt(p * (1 - p) / k + z2 / (4 * k))
    return float(min(centre - half, p)), float(max(centre + half, p))  # p in it despite rounding


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    m = float(x.mean())
    half = Z95 * float(x.std(ddof=1)) / np.sqrt(x.size) if x.size > 1 else np.nan
    return m, m - half, m + half


def _numbers(frame: pd.DataFrame, name: str, mask: np.ndarray) -> np.ndarray:
    return frame.loc[mask, name].to_numpy(dtype=float, na_value=np.nan)


def evaluate(target: Target, frame: pd.DataFrame,
             params: CohortParams) -> tuple[float, float, float, int]:
    """``(value, ci_low, ci_high, rows used)`` of one target on one simulated frame."""
    m = target.measure
    if m == "time_to_resorption_mean":
        value = outcome.mean_time_months(params)
        return value, value, value, 0
    mask = where_mask(frame, target)
    if m in ("share", "rate"):
        col = frame.loc[mask, target.column]
        seen = col.notna().to_numpy(dtype=bool)
        hit = col.isin(list(target.values)).to_numpy(dtype=bool)[seen]
        p, k = float(hit.mean()) if hit.size else np.nan, hit.size
        return (p, *_wilson(p, k), k)
    if m in ("mean", "sd"):
        x = _numbers(frame, target.column, mask)
        x = x[~np.isnan(x)]
        if m == "mean":
            return (*_mean_ci(x), x.size)
        s = float(x.std(ddof=1))
        half = Z95 * s / np.sqrt(2 * (x.size - 1))
        return s, s - half, s + half, x.size
    if m == "correlation":
        x, y = _numbers(frame, target.column, mask), _numbers(frame, target.column2, mask)
        ok = ~(np.isnan(x) | np.isnan(y))
        r, k = float(np.corrcoef(x[ok], y[ok])[0, 1]), int(ok.sum())
        z, half = np.arctanh(r), Z95 / np.sqrt(k - 3)
        return r, float(np.tanh(z - half)), float(np.tanh(z + half)), k
    if m == "mean_change":
        x = _numbers(frame, target.column2, mask) - _numbers(frame, target.column, mask)
        x = x[~np.isnan(x)]
        return (*_mean_ci(x), x.size)
    v0 = _numbers(frame, "herniation_volume_mm3", mask)
    v1 = _numbers(frame, "volume_followup_mm3", mask)
    if m == "volume_mean_change":
        return (*_mean_ci(v1 / v0 - 1), v0.size)
    # ratio of means, as the published group means were compared (delta-method interval)
    r = v1.mean() / v0.mean() - 1
    resid = v1 - (r + 1) * v0
    half = Z95 * resid.std(ddof=1) / np.sqrt(v0.size) / v0.mean()
    return float(r), float(r - half), float(r + half), v0.size


def _note(target: Target, rows: int, params: CohortParams) -> str:
    if target.measure == "time_to_resorption_mean":
        scope = "model-implied (Weibull mean of eventual resorbers), no sampling error"
    else:
        who = "non-operated rows" if target.measure in OUTCOME_MEASURES else "rows"
        when = (f"followup_days fixed at {target.horizon_days} d" if target.horizon_days
                else "the preset's follow-up mixture" if params.followup.fixed_days is None
                else f"followup_days {params.followup.fixed_days} d")
        scope = f"{rows} {who}; simulated with {when}"
    return f"{scope}; {target.note}" if target.note else scope


def check_fidelity(preset: str, n: int, seed: int,
                   params: CohortParams | None = None) -> pd.DataFrame:
    """Compare a simulated cohort with every published target of a preset.

    Parameters
    ----------
    preset : str
        One of :data:`resorb.cohort.PRESETS`.
    n : int
        Patients per simulated cohort (one cohort per distinct target horizon, same seed).
    seed : int
        Seed of the simulated cohorts.
    params : CohortParams, optional
        Parameters to use instead of loading ``preset`` from params.yaml.

    Returns
    -------
    pandas.DataFrame
        One row per target with columns ``statistic, published, source, simulated, ci_low,
        ci_high, tolerance, passed, note``. The interval is a 95% normal-approximation
        (Fisher z for correlations, delta method for ratios of means); ``passed`` is
        ``|simulated - published| <= tolerance``.
    """
    params = load_cohort_params(preset) if params is None else params
    frames: dict[int | None, pd.DataFrame] = {}
    rows = []
    for target in params.targets:
        h = target.horizon_days
        if h not in frames:
            at = params if h is None else with_followup(params, h)
            frames[h] = make_cohort(n, seed, params=at)
        value, low, high, used = evaluate(target, frames[h], params)
        rows.append({
            "statistic": target.statistic, "published": target.published, "source": target.source,
            "simulated": value, "ci_low": low, "ci_high": high, "tolerance": target.tolerance,
            "passed": bool(abs(value - target.published) <= target.tolerance),
            "note": _note(target, used, params),
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))
