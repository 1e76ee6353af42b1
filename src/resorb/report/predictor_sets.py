"""The report's "Predictors and what is lost without a finding" section.

It names the predictor set the model was trained on (its card's ``predictor_set`` and
``features``), the predictors it ignores, and shows the table of
``benchmarks/bench_predictor_sets.py``: the AUROC and calibration of the champion candidates
on each predictor set against the generator's true probability. The table is packaged with
resorb (``report/predictor_sets.csv``, aggregates of synthetic cohorts only) and read, never
computed, so the section costs the report nothing measurable.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from resorb import schema

TABLE = "predictor_sets.csv"
#: the benchmark's label of each named set (its SELECTIONS keys)
SET_LABELS = {"full": "full", "routine": "routine"}


@dataclass(frozen=True)
class SetRow:
    """One row of the table, in words."""

    predictors: str
    model: str
    auroc: str
    lost: str
    slope: str
    citl: str
    own: bool  # the model's own predictor set


@dataclass(frozen=True)
class PredictorSetFacts:
    """What the section shows."""

    name: str
    predictors: tuple[str, ...]
    ignored: tuple[str, ...]
    rows: tuple[SetRow, ...]
    source: str


def _interval(row: Any, metric: str, digits: int) -> str:
    return (f"{row[metric]:.{digits}f} ({row[f'{metric}_low']:.{digits}f} to "
            f"{row[f'{metric}_high']:.{digits}f})")


def read_table() -> Any:
    """The packaged benchmark table (a DataFrame), or None when it is not there."""
    import pandas as pd

    path = resources.files("resorb.report").joinpath(TABLE)
    if not path.is_file():
        return None
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def predictor_set_facts(card: Any) -> PredictorSetFacts:
    """The section's facts for a model card (``ModelCard``)."""
    name = getattr(card, "predictor_set", "full")
    used = tuple(f for f in card.features if f in schema.PREDICTORS)
    ignored = tuple(p for p in schema.PREDICTORS if p not in used)
    table = read_table()
    rows: list[SetRow] = []
    if table is not None:
        own = SET_LABELS.get(name)
        for _, r in table.iterrows():
            rows.append(SetRow(str(r["selection"]), str(r["candidate"]),
                               _interval(r, "auroc", 3), f"{r['lost']:+.3f}",
                               _interval(r, "calibration_slope", 2),
                               _interval(r, "calibration_intercept", 2),
                               own is not None and r["selection"] == own
                               and r["candidate"] == card.candidate))
    return PredictorSetFacts(name, used, ignored, tuple(rows),
                             "benchmarks/bench_predictor_sets.py (docs/predictor_sets.md)")
