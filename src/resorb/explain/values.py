"""How a clinical variable's values read: in words (reasons, waterfall) and as numbers (colours).

The one place that decides how a patient's value is shown, so that a reason
(``rim_enhancement = complete: +0.18``), a waterfall label and a beeswarm colour agree. Words
follow the data dictionary (:mod:`resorb.schema`): booleans read yes/no, integers as integers,
numbers to three significant digits, a missing value as what it means clinically.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resorb import schema
from resorb.schema import Kind

__all__ = ["value_numbers", "value_words"]


def value_words(values: pd.Series, variable: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes of ``values`` and the words of each code, missing last.

    Parameters
    ----------
    values : Series
        One variable's clinical values (model input).
    variable : str
        Its data-dictionary name; unknown names are shown as numbers or as text.

    Returns
    -------
    codes : ndarray of int, shape (len(values),)
        Index into ``words`` of each value.
    words : list of str
        e.g. ``["L4-L5", "L5-S1", "missing"]``, ``["yes", "no", "missing (no contrast given)"]``;
        the last entry is the missing value.
    """
    col = schema.BY_NAME.get(variable)
    kind = col.kind if col is not None else None
    if kind is None and pd.api.types.is_numeric_dtype(values.dtype):
        kind = Kind.NUMBER
    if kind in (Kind.NUMBER, Kind.INTEGER, Kind.BOOLEAN):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        numbers = _round_significant(numbers, 3) if kind is Kind.NUMBER else np.round(numbers)
        codes, uniques = pd.factorize(numbers)
        if kind is Kind.BOOLEAN:
            shown = ["yes" if u else "no" for u in uniques]
        elif kind is Kind.INTEGER:
            shown = [f"{int(u)}" for u in uniques]
        else:
            shown = [f"{u:.6g}" for u in uniques]
    else:
        codes, uniques = pd.factorize(values.astype(object))
        shown = [str(u) for u in uniques]
    missing = "missing" + (f" ({col.missing_means})" if col is not None and col.missing_means
                           else "")
    codes = np.where(codes < 0, len(shown), codes)
    return codes, [*shown, missing]


def value_numbers(values: pd.Series, variable: str) -> np.ndarray:
    """Each value as a number: categories by their position in the data dictionary.

    Parameters
    ----------
    values : Series
        One variable's clinical values (model input).
    variable : str
        Its data-dictionary name.

    Returns
    -------
    ndarray of float, shape (len(values),)
        Numbers and booleans (0/1) as they are; a category's position in its clinical order
        (``rim_enhancement``: none 0, partial 1, complete 2); other text by order of first
        appearance; NaN when missing or not a known category.
    """
    col = schema.BY_NAME.get(variable)
    if col is not None and col.categories:
        position = pd.Series(np.arange(len(col.categories), dtype=float), index=col.categories)
        return values.astype(object).map(position).to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=float, na_value=np.nan)
    codes = pd.factorize(values)[0].astype(float)
    return np.where(codes < 0, np.nan, codes)


def _round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(x)))
    scale = 10.0 ** (digits - 1 - np.where(np.isfinite(magnitude), magnitude, 0.0))
    return np.round(x * scale) / scale
