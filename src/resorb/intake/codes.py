"""Codes as text: how a mapping file's codes and a table's cells are compared.

Codes are compared as text after stripping and case-folding, with numbers normalised (``1``,
``1.0`` and ``"1"`` are one code) and YAML booleans standing for every spelling of themselves
(the data dictionary's :data:`~resorb.schema.BOOLEAN_SPELLINGS`, and YAML's own ``on``/``off``).
A ``""`` or ``null`` code matches empty cells.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from resorb.schema import BOOLEAN_SPELLINGS

Scalar = str | bool | int | float
Code = Scalar | None

# YAML 1.1 reads an unquoted on/off as a boolean too: the author may have meant those cells
_YAML_SPELLINGS = {True: ("on",), False: ("off",)}
_SPELLINGS = {value: BOOLEAN_SPELLINGS[value] + _YAML_SPELLINGS[value] for value in (True, False)}


def key(v: Any) -> str:
    """A cell or a code as comparable text: stripped, case-folded, numbers normalised."""
    if v is None or v is pd.NA or (isinstance(v, float | np.floating) and math.isnan(v)):
        return ""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    text = str(v).strip()
    try:
        number = float(text)
    except ValueError:
        return text.casefold()
    return key(number) if math.isfinite(number) else text.casefold()


def code_keys(code: Code) -> tuple[str, ...]:
    """The keys a code in a mapping file matches (a YAML boolean stands for its spellings)."""
    return _SPELLINGS[code] if isinstance(code, bool) else (key(code),)


def keys(series: pd.Series) -> np.ndarray:
    """:func:`key` of every cell of ``series`` (computed once per distinct cell)."""
    codes, uniques = pd.factorize(series)
    return np.asarray([key(u) for u in uniques] + [""], dtype=object)[codes]


def text(v: Any) -> str:
    """A source cell as text, as a person would write it (7.0 -> '7')."""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def cell(v: Code) -> str | None:
    """A mapped value as the text cell the cell rules will parse."""
    return None if v is None else text(v)


def show(v: Code) -> str:
    """A code as a message shows it (text quoted, null for None)."""
    return "null" if v is None else repr(v) if isinstance(v, str) else text(v)


def quoted(names: list[str]) -> str:
    """``'a', 'b'``."""
    return ", ".join(f"'{n}'" for n in names)
