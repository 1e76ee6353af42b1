"""The tables of a plan: development, validation, smallest n per target."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resorb.planning.settings import (
    _LABELS,
    DEVELOPMENT_METRICS,
    VALIDATION_STATISTICS,
    PlanSettings,
    Target,
)

if TYPE_CHECKING:

    pass


# ---------------------------------------------------------------------------- summaries
def _pct(q: float) -> str:
    return f"p{q:g}".replace(".", "_")


def _development_table(reps: pd.DataFrame, target: Target, riley: dict[str, Any],
                       n_parameters: int) -> pd.DataFrame:
    from resorb.metrics import expected_shrinkage

    rows = []
    for n, group in reps.groupby("n", sort=True):
        row: dict[str, Any] = {"n": int(n), "replicates": len(group),
                               "events": float(group["events"].mean())}
        for metric in DEVELOPMENT_METRICS:
            values = group[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"] = float(np.mean(values))
            row[f"{metric}_mc_se"] = float(np.std(values, ddof=1) / math.sqrt(len(values)))
            row[f"{metric}_{_pct(2.5)}"] = float(np.percentile(values, 2.5))
            row[f"{metric}_{_pct(97.5)}"] = float(np.percentile(values, 97.5))
        row[target.column] = float(np.percentile(group[target.metric], 100 * target.quantile))
        row["target_met"] = target.met(row[target.column])
        row["riley_expected_shrinkage"] = expected_shrinkage(int(n), n_parameters,
                                                             riley["r2_cs"])
        rows.append(row)
    return pd.DataFrame(rows)


def _validation_table(reps: pd.DataFrame, prevalence: float, c_statistic: float, oe: float,
                      lp: np.ndarray) -> pd.DataFrame:
    from resorb.metrics import validation_precision

    rows = []
    for n, group in reps.groupby("n", sort=True):
        riley = validation_precision(int(n), prevalence, c_statistic, oe=oe, lp_sample=lp)
        row: dict[str, Any] = {"n": int(n), "replicates": len(group),
                               "events": float(group["events"].mean())}
        for stat in VALIDATION_STATISTICS:
            values = group[stat].to_numpy(dtype=float)
            if stat == "oe":  # Riley's interval is exp(ln OE +- 1.96 SE)
                logs = np.log(values)
                centre, sd = float(np.exp(logs.mean())), float(np.std(logs, ddof=1))
                width = 2 * centre * math.sinh(1.96 * sd)
            else:
                width = 3.92 * float(np.std(values, ddof=1))
            row[f"{stat}_mean"] = float(np.mean(values))
            row[f"{stat}_width"] = width
            row[f"{stat}_{_pct(2.5)}"] = float(np.percentile(values, 2.5))
            row[f"{stat}_{_pct(97.5)}"] = float(np.percentile(values, 97.5))
            row[f"{stat}_riley_width"] = riley[stat]
        rows.append(row)
    return pd.DataFrame(rows)


def _first_reaching(sizes: np.ndarray, values: np.ndarray, goal: float,
                    higher_is_better: bool, log_values: bool = False) -> tuple[float, float]:
    """(smallest size reaching ``goal``, its interpolation between the sizes); NaN if none.

    The interpolation is linear in log n (and in log value with ``log_values``: interval
    widths fall as n^-1/2, a straight line on log-log axes).
    """
    ok = values >= goal if higher_is_better else values <= goal
    if not ok.any():
        return math.nan, math.nan
    i = int(np.argmax(ok))
    if i == 0:
        return float(sizes[0]), float(sizes[0])
    x0, x1 = math.log(sizes[i - 1]), math.log(sizes[i])
    v0, v1, g = float(values[i - 1]), float(values[i]), goal
    if log_values:
        v0, v1, g = math.log(v0), math.log(v1), math.log(goal)
    frac = (g - v0) / (v1 - v0) if v1 != v0 else 1.0
    return float(sizes[i]), float(math.exp(x0 + frac * (x1 - x0)))


def _summary(dev: pd.DataFrame, val: pd.DataFrame, target: Target, riley_dev: dict[str, Any],
             riley_val: Any, settings: PlanSettings) -> pd.DataFrame:
    rows = []
    n, n_interp = _first_reaching(dev["n"].to_numpy(), dev[target.column].to_numpy(),
                                  target.value, target.higher_is_better)
    shrinkage = riley_dev["shrinkage"]
    criterion_i = f"(i) expected shrinkage >= {shrinkage:g}"
    slope_target = target.metric == "calibration_slope"
    rows.append({"study": "development", "criterion": target.column,
                 "target": target.describe(), "simulated_n": n,
                 "simulated_n_interpolated": n_interp,
                 "riley_n": riley_dev["n_shrinkage"] if slope_target
                 else riley_dev["required_n"],
                 "riley_criterion": criterion_i if slope_target
                 else f"binding: {riley_dev['binding']}"})
    # Riley's criterion (i) as simulated: the mean slope, i.e. the expected shrinkage
    n, n_interp = _first_reaching(dev["n"].to_numpy(),
                                  dev["calibration_slope_mean"].to_numpy(), shrinkage, True)
    rows.append({"study": "development", "criterion": "calibration_slope_mean",
                 "target": f"mean calibration slope >= {shrinkage:g}", "simulated_n": n,
                 "simulated_n_interpolated": n_interp, "riley_n": riley_dev["n_shrinkage"],
                 "riley_criterion": criterion_i})
    widths = {"oe": settings.oe_ci_width, "slope": settings.slope_ci_width,
              "c": settings.c_ci_width}
    for stat in VALIDATION_STATISTICS:
        n, n_interp = _first_reaching(val["n"].to_numpy(), val[f"{stat}_width"].to_numpy(),
                                      widths[stat], higher_is_better=False,
                                      log_values=True)
        rows.append({"study": "validation", "criterion": stat,
                     "target": f"95% interval of {_LABELS[stat]} at most {widths[stat]:g} wide",
                     "simulated_n": n, "simulated_n_interpolated": n_interp,
                     "riley_n": riley_val.criterion(stat).n,
                     "riley_criterion": f"Riley 2021 {_LABELS[stat]}"})
    out = pd.DataFrame(rows)
    out["ratio"] = out["simulated_n_interpolated"] / out["riley_n"]
    return out


