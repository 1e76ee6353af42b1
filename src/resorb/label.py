"""The outcome: ``resorbed`` derived from follow-up imaging by the rule in params.yaml.

Precedence per row: baseline and follow-up volumes when both are measured, else the Komori
grade, else a ``resorbed`` value already in the file. Operated rows (``surgery``) are a
competing event: their resorption was never observed, so they leave the training set, and
:class:`LabelledData` says how many left and why. No row disappears silently, and no label
changes silently: a row whose own ``resorbed`` the volumes or the grade overrule is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from resorb.config import LabelRule
from resorb.errors import TrainingError


@dataclass(frozen=True)
class LabelledData:
    """Rows usable for training, their labels, and an account of every row left out."""

    frame: pd.DataFrame
    y: np.ndarray
    n_input: int
    excluded: dict[str, int]
    #: kept rows whose own ``resorbed`` value the rule overrode (volumes or grade said
    #: otherwise): not dropped, but relabelled, so the account says how many
    relabelled: int = 0

    @property
    def n_events(self) -> int:
        """Number of resorbed rows."""
        return int(self.y.sum())

    @property
    def prevalence(self) -> float:
        """Share of resorbed rows."""
        return float(self.y.mean()) if self.y.size else float("nan")

    def account(self) -> str:
        """One line: rows in, rows used, rows excluded by reason."""
        parts = [f"{n:,} {why}" for why, n in self.excluded.items() if n]
        out = f"{self.n_input:,} rows in, {len(self.y):,} used ({self.n_events:,} resorbed)"
        out += f"; excluded: {', '.join(parts)}" if parts else ""
        if self.relabelled:
            out += (f"; {self.relabelled:,} row{'s' * (self.relabelled != 1)} relabelled: the "
                    f"file's 'resorbed' disagreed with the label rule on the measured volumes "
                    f"or the grade, which win (params.yaml label)")
        return out


def derive_resorbed(frame: pd.DataFrame, rule: LabelRule) -> pd.Series:
    """The label per row as a nullable boolean Series (missing when no outcome is known).

    Parameters
    ----------
    frame : DataFrame
        Canonical frame (not modified).
    rule : LabelRule
        ``min_reduction_pct`` on volumes; ``grades_resorbed`` on the Komori grade.
    """
    n = len(frame)
    label = pd.Series(pd.array([pd.NA] * n, dtype="boolean"), index=frame.index)
    if "resorbed" in frame:
        label = frame["resorbed"].astype("boolean")
    if "resorption_grade" in frame:
        grade = frame["resorption_grade"]
        from_grade = grade.isin(rule.grades_resorbed).astype("boolean").where(grade.notna())
        label = from_grade.where(grade.notna(), label)
    if {"herniation_volume_mm3", "volume_followup_mm3"} <= set(frame.columns):
        v0 = frame["herniation_volume_mm3"].astype(float)
        v1 = frame["volume_followup_mm3"].astype(float)
        reduction = 100.0 * (v0 - v1) / v0
        threshold = rule.min_reduction_pct
        by_volume = (reduction >= threshold - 1e-9) if threshold < 100 else (v1 <= 0)
        measured = v0.notna() & v1.notna()
        label = by_volume.astype("boolean").where(measured, label)
    return label.astype("boolean")


def labelled_rows(frame: pd.DataFrame, rule: LabelRule) -> LabelledData:
    """Rows with an observed outcome, and the count of every row left out.

    Raises
    ------
    TrainingError
        When no row has an outcome, or the outcome has a single class.
    """
    label = derive_resorbed(frame, rule)
    operated = (frame["surgery"].fillna(False).astype(bool) if "surgery" in frame
                else pd.Series(False, index=frame.index))
    unknown = label.isna() & ~operated
    keep = ~operated & ~unknown
    excluded = {"operated before follow-up (competing event)": int(operated.sum()),
                "no follow-up outcome": int(unknown.sum())}
    if not keep.any():
        raise TrainingError(
            "no row has an observed outcome: give 'resorbed', 'resorption_grade' or both "
            "'herniation_volume_mm3' and 'volume_followup_mm3' (operated rows do not count)")
    y = label[keep].astype(bool).to_numpy().astype(int)
    if y.min() == y.max():
        which = "no events (nothing resorbed)" if y.max() == 0 else "no non-events (all resorbed)"
        raise TrainingError(f"the outcome has {which} among {len(y):,} rows: discrimination and "
                            f"calibration are undefined; check the label rule "
                            f"'{rule.name}' (min_reduction_pct {rule.min_reduction_pct:g})")
    relabelled = 0
    if "resorbed" in frame:
        given = frame["resorbed"].astype("boolean")
        relabelled = int((keep & given.notna() & (given != label).fillna(False)).sum())
    return LabelledData(frame=frame.loc[keep.to_numpy()].reset_index(drop=True), y=y,
                        n_input=len(frame), excluded=excluded, relabelled=relabelled)
