"""What a rejected row's reason says about its cell: the value found and what is allowed.

``resorb validate`` quotes a few offending values per rule ("found 'm'"); ``resorb score``
gives one reason per rejected row. :func:`quoted_reasons` words, for each offending row of a
rule, the suffix that makes that reason as specific: ``sex: unknown category`` becomes
``sex: unknown category (found 'm', allowed female / male)``, ``vas_leg above 10 points``
becomes ``vas_leg above 10 points (found '55', allowed 0-10)``. The rule's own words stay the
prefix, so the commonest-reasons tally of both engines groups rows by rule
(:func:`rule_of_reason`, :data:`DETAIL_PATTERN`), not by value.

Identifiers are never quoted (``patient_id``, ``site``, ``baseline_date``: role identifier,
and any date column), nor cells of a rule about the encoding, a time zone, a date's year or
a missing value. A quoted cell is shortened to :data:`SHOWN_CHARS` characters, its blanks
collapsed and ``"; "`` (the separator of a row's reasons) written ``";"``.

The cost is that of the offending cells only: they are factorised and each distinct text is
worded once (500k rows, 58% of them rejected: docs/scoring.md "Benchmark", the paragraph
"Quoting the value found").
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from resorb.intake.rules import CellRule, ColumnCheck
from resorb.schema import Column, Kind, Role

#: rules whose per-row reason quotes the cell (the others have no value worth showing)
QUOTED_RULES = frozenset({"unparsed", "category", "integer", "below", "above", "nonfinite"})
#: rules whose per-row reason also says what is allowed (categories, the range)
ALLOWED_RULES = frozenset({"category", "below", "above"})
#: what starts the value part of a reason, and its pattern to the end (Python and Java regex)
FOUND = " (found "
DETAIL_PATTERN = r" \(found .*$"
#: characters of a cell shown at most (a free-text cell must not swell the output)
SHOWN_CHARS = 24
_BLANKS = re.compile(r"\s+")


def quotes(column: Column) -> bool:
    """Whether a reason may quote a cell of ``column`` (never an identifier or a date)."""
    return column.role is not Role.IDENTIFIER and column.kind is not Kind.DATE


def quoted_reasons(checked: ColumnCheck, rule: CellRule, mask: np.ndarray) -> np.ndarray | None:
    """The reason of each row ``mask`` selects, with its value part.

    Parameters
    ----------
    checked : ColumnCheck
        One column checked (:func:`resorb.intake.rules.check_column`).
    rule : CellRule
        One of its broken rules.
    mask : ndarray of bool, shape (n_rows,)
        The rows breaking it.

    Returns
    -------
    ndarray of str, shape (mask.sum(),), or None
        e.g. ``"sex: unknown category (found 'm', allowed female / male)"``, in row order;
        None when the rule or the column quotes nothing (``rule.reason`` alone is the text).
    """
    column = checked.column
    if rule.name not in QUOTED_RULES or not quotes(column):
        return None
    # each distinct cell worded once, whole (no per-row string concatenation)
    cells = checked.raw[mask]
    if cells.dtype == object:  # e.g. a Parquet list column: arrays are not hashable
        cells = cells.astype(str)
    codes, uniques = pd.factorize(cells, use_na_sentinel=False)
    allowed = f", allowed {column.allowed}" if rule.name in ALLOWED_RULES else ""
    prefix = rule.reason(column)
    words = np.array([f"{prefix}{FOUND}'{_shown(u)}'{allowed})" for u in uniques],
                     dtype=object)
    return words[codes]


def _shown(value: object) -> str:
    text = _BLANKS.sub(" ", str(value)).strip().replace("; ", ";")
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "\u2026"


def rule_of_reason(reason: str) -> str:
    """One reason without its value part: what the commonest-reasons tally counts.

    ``"sex: unknown category (found 'm', allowed female / male)"`` -> ``"sex: unknown
    category"``; a reason without a value part is returned as it is.
    """
    at = reason.find(FOUND)
    return reason if at < 0 else reason[:at]
