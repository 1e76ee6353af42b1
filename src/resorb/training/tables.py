"""Aggregate tables of the training data: performance per subgroup, and missingness.

Aggregates only: no row of a patient, and sites as anonymous numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resorb.metrics import auroc, bootstrap_observed_expected, calibration_intercept_slope


def _age_band(age: pd.Series) -> pd.Series:
    bands = pd.cut(age.astype(float), [17, 30, 40, 50, 60, 101],
                   labels=["18-30", "31-40", "41-50", "51-60", "61+"])
    return bands.astype(object)


def subgroup_table(frame: pd.DataFrame, y: np.ndarray, p: np.ndarray,
                   min_rows: int = 30, hide_below: int | None = None,
                   o_e_boot: int = 0, seed: int = 0) -> pd.DataFrame:
    """Discrimination and calibration per subgroup (sex, age band, level, site).

    Aggregates only: one row per subgroup with rows, events, mean predicted and observed
    resorption, their ratio (O/E), AUROC and calibration slope; subgroups below ``min_rows``
    rows, or with one outcome class, get no AUROC or slope.

    With ``hide_below`` (a display rule, e.g. 10), a subgroup of fewer rows keeps only its
    label: every number is blanked (NaN) and an added column ``note`` says
    ``"fewer than 10 rows"`` (empty for the others). Without it, nothing is hidden and there
    is no ``note`` column.

    With ``o_e_boot`` resamples (e.g. 200), the O/E ratio of each subgroup that gets an
    AUROC also gets a percentile bootstrap 95% interval (``o_e_ci_low``, ``o_e_ci_high``;
    whole rows resampled, seed ``seed``: :func:`resorb.metrics.bootstrap_observed_expected`).
    Without it there are no such columns.
    """
    groupings = {"sex": frame.get("sex"), "age band": _age_band(frame["age"])
                 if "age" in frame else None, "level": frame.get("level")}
    if "site" in frame and frame["site"].notna().any():
        # site names are identifiers: report them as anonymous site numbers
        codes, _ = pd.factorize(frame["site"], sort=True)
        groupings["site"] = pd.Series([f"site {c + 1}" if c >= 0 else None for c in codes],
                                      index=frame.index)
    rows = []
    for variable, values in groupings.items():
        if values is None:
            continue
        v = pd.Series(values).reset_index(drop=True)
        for level in sorted(v.dropna().unique(), key=str):
            mask = (v == level).to_numpy()
            n, events = int(mask.sum()), int(y[mask].sum())
            row = {"variable": variable, "subgroup": str(level), "rows": n, "events": events,
                   "observed": events / n if n else np.nan,
                   "predicted": float(p[mask].mean()) if n else np.nan,
                   "auroc": np.nan, "calibration_slope": np.nan}
            row["o_e_ratio"] = row["observed"] / row["predicted"] if n else np.nan
            if o_e_boot:
                row["o_e_ci_low"] = row["o_e_ci_high"] = np.nan
            if n >= min_rows and 0 < events < n:
                row["auroc"] = auroc(y[mask], p[mask])
                row["calibration_slope"] = calibration_intercept_slope(
                    y[mask], p[mask])[1]
                if o_e_boot:
                    _, row["o_e_ci_low"], row["o_e_ci_high"] = bootstrap_observed_expected(
                        y[mask], p[mask], n_boot=o_e_boot, seed=seed, groups=np.arange(n))
            rows.append(row)
    table = pd.DataFrame(rows)
    return table if hide_below is None else _hide_small(table, hide_below)


def _hide_small(table: pd.DataFrame, below: int) -> pd.DataFrame:
    """Blank every number of subgroups with fewer than ``below`` rows; say so in ``note``."""
    if table.empty:
        return table.assign(note=pd.Series(dtype=object))
    small = table["rows"].to_numpy() < below
    numbers = [c for c in table.columns if c not in ("variable", "subgroup")]
    out = table.astype({c: float for c in numbers})
    out.loc[small, numbers] = np.nan
    return out.assign(note=np.where(small, f"fewer than {below} rows", ""))


def missingness_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of missing values per predictor (aggregates only), with what missing means."""
    from resorb import schema

    rows = []
    for col in schema.COLUMNS:
        if not col.is_feature:
            continue
        share = float(frame[col.name].isna().mean()) if col.name in frame else 1.0
        rows.append({"variable": col.name, "missing_pct": round(100 * share, 1),
                     "missing_means": col.missing_means})
    return pd.DataFrame(rows)

