"""Filtering: which source rows a mapping keeps (its ``filter`` conditions, on source cells).

Cells and codes are compared as :mod:`resorb.intake.codes` says (``1``, ``"1.0"`` and a YAML
``true`` can be one code). A row is kept when it meets every condition.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resorb.intake.codes import code_keys, keys
from resorb.intake.mapping_file import Condition
from resorb.intake.report import row_numbers


@dataclass(frozen=True)
class FilterStep:
    """One filter condition and the source rows it left out (of those still kept)."""

    condition: str
    removed: int
    rows: tuple[int, ...] = ()

    def __str__(self) -> str:
        if not self.removed:
            return f"{self.condition}: no rows left out"
        more = " ..." if self.removed > len(self.rows) else ""
        word = "row" if self.removed == 1 else "rows"
        return (f"{self.condition}: {self.removed:,} {word} left out "
                f"(source {word} {', '.join(map(str, self.rows))}{more})")


def filter_rows(raw: pd.DataFrame, conditions: Sequence[Condition],
                labels: Mapping[str, Hashable] | None = None,
                ) -> tuple[np.ndarray, tuple[FilterStep, ...]]:
    """Which rows of a source table meet every condition, and what each condition left out.

    Parameters
    ----------
    raw : DataFrame of shape (n_rows, n_columns)
        The source table as read; not modified.
    conditions : sequence of Condition
        A mapping's ``filter`` (no conditions keep every row).
    labels : mapping, optional
        Column name (as the mapping writes it) -> label in ``raw``; default ``str(label)``.

    Returns
    -------
    keep : ndarray of bool, shape (n_rows,)
    steps : tuple of FilterStep
        One per condition, with the rows (1-based) it removed from those still kept.
    """
    labels = labels if labels is not None else {str(c): c for c in raw.columns}
    keep = np.ones(len(raw), dtype=bool)
    steps = []
    for cond in conditions:
        ok = np.isin(keys(raw[labels[cond.column]]),
                     [k for c in cond.accepted for k in code_keys(c)])
        out = keep & ~ok
        steps.append(FilterStep(str(cond), int(out.sum()), row_numbers(out)))
        keep &= ok
    return keep, tuple(steps)
