"""Factories for small canonical frames, driven by the data dictionary."""

from __future__ import annotations

import pandas as pd

from resorb import schema
from resorb.schema import Kind


def valid_value(col: schema.Column) -> object:
    """A value that every rule of ``col`` accepts, as a CSV cell would hold it."""
    if col.categories:
        return col.categories[-1]
    if col.kind in (Kind.NUMBER, Kind.INTEGER):
        lo = col.minimum if col.minimum is not None else 0
        hi = col.maximum if col.maximum is not None else lo + 10
        mid = (lo + hi) / 2
        return str(round(mid)) if col.kind is Kind.INTEGER else str(mid)
    if col.kind is Kind.BOOLEAN:
        return "false"
    if col.kind is Kind.DATE:
        return "2024-03-01"
    return "P0001"


def baseline_rows(n: int = 3, with_outcomes: bool = False) -> pd.DataFrame:
    """``n`` valid rows (text cells, like a CSV) with every baseline column filled."""
    cols = [c for c in schema.COLUMNS
            if with_outcomes or c.role not in (schema.Role.OUTCOME, schema.Role.SYNTHETIC)]
    data = {c.name: [valid_value(c)] * n for c in cols}
    data["patient_id"] = [f"P{i:04d}" for i in range(n)]
    return pd.DataFrame(data)
