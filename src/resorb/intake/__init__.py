"""Intake: reading a table, mapping it to the data dictionary, and checking it (validation).

Every command reads files the same way and checks cells by the same rules:

- :mod:`~resorb.intake.reader`: :class:`TableFile` and :func:`read_table`, CSV or Parquet,
  whole or in chunks (pyarrow);
- :mod:`~resorb.intake.dialect`: how a CSV export is written (separator, decimal comma,
  encoding, codes, dates), declared in a mapping file or guessed (:func:`sniff`);
- :mod:`~resorb.intake.rules`: the cell rules, declared once, evaluated to one mask per rule;
- :mod:`~resorb.intake.check`: :func:`conform` (the grouped :class:`ValidationReport`),
  :func:`conform_rows` (a reason per row, for scoring), :func:`check_header`,
  :func:`check_file`;
- :mod:`~resorb.intake.mapping_file`: :func:`load_mapping` into a frozen :class:`Mapping`;
- :mod:`~resorb.intake.row_filter` and :mod:`~resorb.intake.transform`: a mapping's row
  filter and its column rules; :mod:`~resorb.intake.derive`: its derived measurements
  (ellipsoid volume, canal occupation, days between dates);
- :mod:`~resorb.intake.mapping`: :func:`apply_mapping`, :func:`read_mapped`,
  :func:`describe` and :class:`ChunkMapping` (once per chunk, for scoring).

Row numbers in reports are 1-based data rows: row 1 is the first row under the header.
Identifier values are never quoted.
"""

from __future__ import annotations

import os

from resorb.intake.check import (
    check_file,
    check_header,
    conform,
    conform_rows,
    required_columns,
)
from resorb.intake.derive import (
    METHODS,
    DerivedColumn,
    DerivedColumns,
    derive_columns,
    fold_into_report,
    mapping_derivations,
)
from resorb.intake.dialect import Dialect, sniff
from resorb.intake.mapping import (
    ChunkMapping,
    MappingResult,
    apply_mapping,
    describe,
    in_source_rows,
    read_mapped,
)
from resorb.intake.mapping_file import (
    ColumnRule,
    Condition,
    Derivation,
    Mapping,
    allowed_units,
    load_mapping,
    parse_mapping,
)
from resorb.intake.reader import TableFile, read_table
from resorb.intake.report import (
    MAX_ROWS_SHOWN,
    MAX_VALUES_SHOWN,
    Problem,
    Purpose,
    ValidationReport,
)
from resorb.intake.row_filter import FilterStep, filter_rows
from resorb.intake.rules import CELL_RULES, CellRule, ColumnCheck, check_column
from resorb.intake.transform import ColumnPlan, plan_columns, transform


def dialect_advice(path: str | os.PathLike[str], mapping: str | os.PathLike[str] | None) -> str:
    """The dialect keys to declare for a CSV ``path`` read with ``mapping`` (a path or None).

    Empty for Parquet, for a file that reads as declared, or when the mapping cannot be read
    (its own error is reported elsewhere).
    """
    from pathlib import Path

    from resorb.errors import ResorbError
    from resorb.intake.dialect import advice

    p = Path(path)
    if ".csv" not in [s.lower() for s in p.suffixes] or not p.is_file():
        return ""
    try:
        declared = load_mapping(mapping).dialect if mapping is not None else None
    except ResorbError:
        return ""
    return advice(p, declared)

__all__ = [
    "CELL_RULES",
    "MAX_ROWS_SHOWN",
    "MAX_VALUES_SHOWN",
    "METHODS",
    "CellRule",
    "ChunkMapping",
    "ColumnCheck",
    "ColumnPlan",
    "ColumnRule",
    "Condition",
    "Derivation",
    "DerivedColumn",
    "DerivedColumns",
    "Dialect",
    "FilterStep",
    "Mapping",
    "MappingResult",
    "Problem",
    "Purpose",
    "TableFile",
    "ValidationReport",
    "allowed_units",
    "apply_mapping",
    "check_column",
    "check_file",
    "check_header",
    "conform",
    "conform_rows",
    "derive_columns",
    "describe",
    "dialect_advice",
    "filter_rows",
    "fold_into_report",
    "in_source_rows",
    "load_mapping",
    "mapping_derivations",
    "parse_mapping",
    "plan_columns",
    "read_mapped",
    "read_table",
    "required_columns",
    "sniff",
    "transform",
]
