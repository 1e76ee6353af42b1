"""Calibration where clinicians look: subgroups of the strongest imaging findings.

A clinician reads a prediction against herniation type and rim enhancement (EVIDENCE.md
sections 1-2: a sequestrated fragment without rim enhancement almost never resorbs, 0 of 16 in
the 2025 contrast study) and the migration grade (Komori 1996). A model calibrated overall can
still be far off in a rare but decisive combination, so :func:`finding_calibration` gives, per
herniation type x rim enhancement (no contrast as its own level) and per migration grade:

- rows, events, observed and expected (mean predicted) resorption;
- observed minus expected with its exact 95% interval (Clopper-Pearson on the observed
  proportion, the expected held fixed), and O/E on the same interval (Debray et al., BMJ
  2017;356:i6460, doi:10.1136/bmj.i6460, treat E as fixed in the same way);
- calibration-in-the-large (the intercept of ``logit P(y) = a + logit(p)``, 0 when calibrated)
  with a Wald 95% interval, and where the rows allow the calibration slope with its Wald
  interval (Van Calster et al., J Clin Epidemiol 2016;74:167-176);
- on synthetic data, the mean of ``true_resorption_probability`` (the truth) beside them.

Subgroups below ``min_rows`` stay in the table with ``below_minimum`` set and a ``note``; they
are never dropped. Subgroups of fewer than :data:`SMALL_CELL` rows keep only their label and
row band (their numbers are blanked), as every subgroup table of resorb does.

The intervals are closed-form rather than bootstrapped: compare computes one table per
candidate, and a bootstrap of some 20 subgroups x 200 resamples per candidate would add
seconds to every comparison for intervals that, for a proportion, the exact binomial gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import beta

#: subgroups with fewer rows keep only their label (as resorb.training.subgroup_table)
SMALL_CELL = 10
#: rows from which a subgroup counts for the worst subgroup (and the champion rule)
MIN_ROWS = 100
#: rows of each outcome from which a subgroup gets a calibration slope
MIN_SLOPE_EVENTS = 10
TRUTH = "true_resorption_probability"
GROUPINGS = ("type x rim", "migration grade")
_Z = 1.959963984540054
_EPS = 1e-6


def finding_groups(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The subgroup label of each row for each grouping of :data:`GROUPINGS` present.

    ``"type x rim"``: ``"sequestration + none"``, ``"extrusion + no contrast"`` (rim missing
    means no contrast was given; a missing type is ``"type not recorded"``);
    ``"migration grade"``: ``"grade 0"`` ... ``"grade 3"``, ``"not recorded"``. A grouping
    whose column is absent from ``frame`` is left out.
    """
    out: dict[str, pd.Series] = {}
    index = frame.index
    if "herniation_type" in frame:
        kind = frame["herniation_type"].astype(object).where(
            frame["herniation_type"].notna(), "type not recorded").astype(str)
        if "rim_enhancement" in frame:
            rim = frame["rim_enhancement"].astype(object).where(
                frame["rim_enhancement"].notna(), "no contrast").astype(str)
            out["type x rim"] = pd.Series(kind.to_numpy() + " + " + rim.to_numpy(), index=index)
        else:
            out["type x rim"] = kind
    if "migration_grade" in frame:
        grade = pd.to_numeric(frame["migration_grade"], errors="coerce")
        labels = [f"grade {int(g)}" if np.isfinite(g) else "not recorded"
                  for g in grade.to_numpy(dtype=float)]
        out["migration grade"] = pd.Series(labels, index=index)
    return out


def _intercept(y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Calibration-in-the-large ``a`` of ``logit P(y) = a + z`` and its standard error."""
    events = y.sum()
    if events == 0 or events == y.size:
        return float("nan"), float("nan")
    a = 0.0
    for _ in range(50):  # Newton on a concave 1-D likelihood
        q = expit(a + z)
        info = float(np.sum(q * (1 - q)))
        if not info > 0:
            return float("nan"), float("nan")
        step = float(np.sum(y - q)) / info
        a += step
        if abs(step) < 1e-10:
            break
    q = expit(a + z)
    info = float(np.sum(q * (1 - q)))
    if not (np.isfinite(a) and info > 0):
        return float("nan"), float("nan")
    return a, float(1.0 / np.sqrt(info))


def _slope(y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Calibration slope ``b`` of ``logit P(y) = c + b z`` and its standard error; NaN when
    the fit does not converge (predictions nearly constant, or the outcomes separated)."""
    c, b = 0.0, 1.0
    design = np.column_stack([np.ones_like(z), z])
    nan = (float("nan"), float("nan"))
    try:
        for _ in range(100):  # Newton-Raphson of a logistic regression on one covariate
            q = expit(c + b * z)
            info = design.T @ (design * (q * (1 - q))[:, None])
            step = np.linalg.solve(info, design.T @ (y - q))
            c, b = c + step[0], b + step[1]
            if not np.all(np.isfinite(step)):
                return nan
            if np.max(np.abs(step)) < 1e-10:
                break
        else:
            return nan
        q = expit(c + b * z)
        cov = np.linalg.inv(design.T @ (design * (q * (1 - q))[:, None]))
    except np.linalg.LinAlgError:
        return nan
    if not (np.isfinite(b) and cov[1, 1] > 0):
        return nan
    return float(b), float(np.sqrt(cov[1, 1]))


def _one(y: np.ndarray, p: np.ndarray, truth: np.ndarray | None, min_rows: int) -> dict:
    n, events = int(y.size), int(y.sum())
    observed, expected = events / n, float(p.mean())
    low = beta.ppf(0.025, events, n - events + 1) if events > 0 else 0.0
    high = beta.ppf(0.975, events + 1, n - events) if events < n else 1.0
    z = logit(np.clip(p, _EPS, 1 - _EPS))
    a, se_a = _intercept(y, z)
    row = {"rows": n, "events": events, "observed": observed, "expected": expected,
           "difference": observed - expected, "difference_ci_low": low - expected,
           "difference_ci_high": high - expected,
           "o_e": observed / expected if expected > 0 else np.nan,
           "o_e_ci_low": low / expected if expected > 0 else np.nan,
           "o_e_ci_high": high / expected if expected > 0 else np.nan,
           "citl": a, "citl_ci_low": a - _Z * se_a, "citl_ci_high": a + _Z * se_a,
           "slope": np.nan, "slope_ci_low": np.nan, "slope_ci_high": np.nan,
           "truth": float(truth.mean()) if truth is not None else np.nan,
           "below_minimum": n < min_rows, "note": ""}
    if min(events, n - events) >= MIN_SLOPE_EVENTS and np.ptp(z) > 0:
        b, se_b = _slope(y, z)
        row.update(slope=b, slope_ci_low=b - _Z * se_b, slope_ci_high=b + _Z * se_b)
    notes = []
    if n < min_rows:
        notes.append(f"fewer than {min_rows} rows: not counted for the worst subgroup")
    if not np.isfinite(a):
        notes.append("one outcome only: no calibration-in-the-large")
    row["note"] = "; ".join(notes)
    return row


def finding_calibration(frame: pd.DataFrame, y: np.ndarray, p: np.ndarray,
                        min_rows: int = MIN_ROWS) -> pd.DataFrame:
    """Calibration per herniation type x rim enhancement and per migration grade.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, ...)
        The rows scored, with ``herniation_type``, ``rim_enhancement`` and
        ``migration_grade`` where available (a grouping whose column is absent is left out)
        and, on synthetic data, ``true_resorption_probability``. Not modified.
    y : ndarray of shape (n_rows,)
        Outcome, 1 = resorbed.
    p : ndarray of shape (n_rows,)
        Predicted probability of resorption (cross-validated on training data).
    min_rows : int, default 100
        Subgroups with fewer rows are flagged ``below_minimum`` (kept, with a note).

    Returns
    -------
    DataFrame
        One row per subgroup, in the order of :data:`GROUPINGS` and then by label:
        ``grouping, subgroup, rows, events, observed, expected, difference`` (observed -
        expected, probability), ``difference_ci_low/high``, ``o_e`` with ``o_e_ci_low/high``,
        ``citl`` (log-odds) with ``citl_ci_low/high``, ``slope`` with ``slope_ci_low/high``
        (NaN below :data:`MIN_SLOPE_EVENTS` of either outcome), ``truth`` (NaN without the
        truth column), ``below_minimum``, ``note``. Subgroups of fewer than
        :data:`SMALL_CELL` rows have every number but ``rows`` blanked.

    Raises
    ------
    ValueError
        ``y`` or ``p`` not of the frame's length, or ``p`` outside [0, 1] or not finite.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != (len(frame),) or p.shape != (len(frame),):
        raise ValueError(f"finding_calibration needs y and p of shape ({len(frame)},); got "
                         f"{y.shape} and {p.shape}")
    if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
        raise ValueError("finding_calibration needs probabilities in [0, 1]; p has values "
                         "outside it or missing")
    truth = None
    if TRUTH in frame and frame[TRUTH].notna().all():
        truth = frame[TRUTH].to_numpy(dtype=float)
    rows = []
    for grouping, labels in finding_groups(frame).items():
        values = labels.to_numpy()
        for label in sorted(set(values)):
            mask = values == label
            row = _one(y[mask], p[mask], None if truth is None else truth[mask], min_rows)
            rows.append({"grouping": grouping, "subgroup": label, **row})
    table = pd.DataFrame(rows, columns=_COLUMNS)
    small = table["rows"].to_numpy() < SMALL_CELL
    if small.any():
        numbers = [c for c in _COLUMNS if c not in ("grouping", "subgroup", "rows",
                                                     "below_minimum", "note")]
        table = table.astype({c: float for c in [*numbers, "events"]})
        table.loc[small, [*numbers, "events"]] = np.nan
        table.loc[small, "note"] = f"fewer than {SMALL_CELL} rows: numbers suppressed"
    return table


_COLUMNS = ["grouping", "subgroup", "rows", "events", "observed", "expected", "difference",
            "difference_ci_low", "difference_ci_high", "o_e", "o_e_ci_low", "o_e_ci_high",
            "citl", "citl_ci_low", "citl_ci_high", "slope", "slope_ci_low", "slope_ci_high",
            "truth", "below_minimum", "note"]


@dataclass(frozen=True)
class WorstSubgroup:
    """The subgroup whose calibration is worst: largest absolute observed - expected.

    Attributes
    ----------
    subgroup : str
        e.g. ``"type x rim: sequestration + none"``; ``""`` when no subgroup qualifies.
    difference, ci_low, ci_high : float
        Observed - expected resorption (probability) and its exact 95% interval.
    o_e, o_e_ci_low, o_e_ci_high : float
        The same subgroup's O/E and interval.
    """

    subgroup: str = ""
    difference: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    o_e: float = float("nan")
    o_e_ci_low: float = float("nan")
    o_e_ci_high: float = float("nan")

    @property
    def gap(self) -> float:
        """Absolute observed - expected (0 when no subgroup qualifies)."""
        return abs(self.difference) if np.isfinite(self.difference) else 0.0

    def clearly_beyond(self, tolerance: float) -> bool:
        """Whether the whole 95% interval of observed - expected lies beyond +-tolerance."""
        if not np.isfinite(self.difference):
            return False
        return bool(self.ci_low > tolerance or self.ci_high < -tolerance)

    def columns(self) -> dict[str, object]:
        """Leaderboard columns: ``worst_subgroup``, ``worst_subgroup_gap`` and its interval."""
        return {"worst_subgroup": self.subgroup, "worst_subgroup_gap": self.difference,
                "worst_subgroup_gap_ci_low": self.ci_low,
                "worst_subgroup_gap_ci_high": self.ci_high,
                "worst_subgroup_o_e": self.o_e}


def subgroup_excess(table: pd.DataFrame) -> float:
    """The miscalibration the data show beyond chance: over the subgroups of ``table``
    (:func:`finding_calibration`) not ``below_minimum``, the largest distance of the exact 95%
    interval of observed - expected from 0 (0 for a subgroup whose interval holds 0; 0 when
    none qualifies).

    Unlike the worst point estimate, it does not reward a model that follows the chance
    deviation of a cell of a few hundred training rows: out of fold on the 20,000-patient
    reference cohort, the mixture cure candidate's worst cell was 0.062 off the observed rate
    (95% CI -0.133 to 0.006) while 0.017 off the truth on 392,000 new rows, and the logistic
    model's type x rim terms, which follow each cell's observed rate, 0.010 off out of fold
    and 0.046 off the truth (docs/training.md, "Mixture cure candidate").
    """
    ok = table[~table["below_minimum"].astype(bool) & table["difference"].notna()]
    if ok.empty:
        return 0.0
    low = ok["difference_ci_low"].to_numpy(dtype=float)
    high = ok["difference_ci_high"].to_numpy(dtype=float)
    return float(np.nanmax(np.maximum(0.0, np.maximum(low, -high)), initial=0.0))


def worst_subgroup(table: pd.DataFrame) -> WorstSubgroup:
    """The subgroup of ``table`` (:func:`finding_calibration`) with the largest absolute
    observed - expected, among those not ``below_minimum``; empty when none qualifies.

    The absolute difference, not O/E, ranks the subgroups: near 0 an O/E of 0.25 is a
    difference of 0.015 (bulge without rim, truth 0.005, prediction 0.02), which a clinician
    would not act on, while 0.48 against 0.08 is the error that matters.
    """
    ok = table[~table["below_minimum"].astype(bool) & table["difference"].notna()]
    if ok.empty:
        return WorstSubgroup()
    r = ok.iloc[int(np.argmax(ok["difference"].abs().to_numpy()))]
    return WorstSubgroup(f"{r['grouping']}: {r['subgroup']}", float(r["difference"]),
                         float(r["difference_ci_low"]), float(r["difference_ci_high"]),
                         float(r["o_e"]), float(r["o_e_ci_low"]), float(r["o_e_ci_high"]))
