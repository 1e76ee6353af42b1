"""The cell rules of the data dictionary, declared once and evaluated to one mask per rule.

Each :class:`CellRule` says when it applies to a column, which cells break it (a boolean
mask over the column's parsed cells), how the grouped report words it and how a rejected
row's reason words it. :func:`check_column` parses one column and evaluates every rule that
applies; the whole-file report (:func:`resorb.intake.conform`) groups the masks by rule and
the per-row reasons of scoring (:func:`resorb.intake.conform_rows`) read the same masks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resorb import schema
from resorb.intake.report import MAX_VALUES_SHOWN, Problem, Purpose, row_numbers
from resorb.schema import Column, Kind, Role

_TRUE = frozenset(schema.BOOLEAN_SPELLINGS[True])
_FALSE = frozenset(schema.BOOLEAN_SPELLINGS[False])
_NUMERIC = (Kind.NUMBER, Kind.INTEGER)
_PLURAL = {Kind.NUMBER: "numbers", Kind.INTEGER: "whole numbers", Kind.BOOLEAN: "true/false",
           Kind.DATE: "dates (YYYY-MM-DD)"}
_SINGULAR = {Kind.NUMBER: "a number", Kind.INTEGER: "a whole number",
             Kind.BOOLEAN: "true/false", Kind.DATE: "a date (YYYY-MM-DD)"}


@dataclass(frozen=True)
class Cells:
    """One column's cells parsed: what every rule tests.

    Attributes
    ----------
    values : Series
        Canonical values (float for numbers, ``boolean``, ``datetime64[ns]``, ``str``);
        missing where the cell is empty or cannot be parsed.
    missing : ndarray of bool
        The cell is empty (missing, or only blanks).
    unparsed : ndarray of bool
        The cell holds something that is not a value of the column's kind.
    number : ndarray of float or None
        The numbers of a number or integer column (NaN when missing or unparsed, +-inf kept).
    """

    values: pd.Series
    missing: np.ndarray
    unparsed: np.ndarray
    number: np.ndarray | None = None

    @property
    def finite(self) -> np.ndarray:
        """Cells holding a finite number (number and integer columns only)."""
        return np.isfinite(self.number)


@dataclass(frozen=True)
class CellRule:
    """One rule of the data dictionary on single cells.

    ``rule`` is the name the report shows (``"type"`` covers text that is no number and an
    infinite number, which ``name`` tells apart). ``message`` may use ``{n}``, ``{s}`` and
    ``{are}`` for the count; ``reason`` words one rejected row and never quotes the value.
    """

    name: str
    rule: str
    applies: Callable[[Column, Purpose], bool]
    test: Callable[[Column, Cells], np.ndarray]
    message: Callable[[Column], str]
    reason: Callable[[Column], str]
    hint: Callable[[Column], str]
    quotes_values: bool = False


def _unit(col: Column) -> str:
    return f" {col.unit}" if col.unit else ""


def _required(col: Column, purpose: Purpose) -> bool:
    return col.required or (purpose == "training" and col.role is Role.HORIZON)


CELL_RULES: tuple[CellRule, ...] = (
    CellRule(
        "unparsed", "type", lambda c, _: c.kind is not Kind.CATEGORY,
        lambda c, cells: cells.unparsed,
        lambda c: "has {n} value{s} that {are} not " + _PLURAL.get(c.kind, "text"),
        lambda c: f"{c.name}: not {_SINGULAR.get(c.kind, 'text')}",
        lambda c: c.hints.get("type", "fix the cells or recode with --mapping"),
        quotes_values=True),
    CellRule(
        "category", "category", lambda c, _: c.kind is Kind.CATEGORY,
        lambda c, cells: cells.unparsed,
        lambda c: "has {n} value{s} outside " + c.allowed,
        lambda c: f"{c.name}: unknown category",
        lambda c: c.hints.get("category", "recode them with --mapping"),
        quotes_values=True),
    CellRule(
        "integer", "integer", lambda c, _: c.kind is Kind.INTEGER,
        lambda c, cells: cells.finite & (np.abs(cells.number - np.round(cells.number)) > 1e-9),
        lambda c: f"has {{n}} non-whole value{{s}} ({c.unit})",
        lambda c: f"{c.name}: not a whole number",
        lambda c: "round them, or check the unit"),
    CellRule(
        "below", "below", lambda c, _: c.kind in _NUMERIC and c.minimum is not None,
        lambda c, cells: cells.finite & (cells.number < c.minimum),
        lambda c: f"has {{n}} value{{s}} below {c.minimum:g}{_unit(c)}",
        lambda c: f"{c.name} below {c.minimum:g}{_unit(c)}",
        lambda c: c.hints.get("below", "")),
    CellRule(
        "above", "above", lambda c, _: c.kind in _NUMERIC and c.maximum is not None,
        lambda c, cells: cells.finite & (cells.number > c.maximum),
        lambda c: f"has {{n}} value{{s}} above {c.maximum:g}{_unit(c)}",
        lambda c: f"{c.name} above {c.maximum:g}{_unit(c)}",
        lambda c: c.hints.get("above", "")),
    CellRule(
        "nonfinite", "type", lambda c, _: c.kind in _NUMERIC,
        lambda c, cells: np.isinf(cells.number),
        lambda c: "has {n} infinite value{s}",
        lambda c: f"{c.name}: infinite",
        lambda c: c.hints.get("type", "")),
    CellRule(
        "required", "required", _required,
        lambda c, cells: cells.missing,
        lambda c: "has {n} missing value{s}" + (f" ({c.missing_means})" if c.missing_means
                                                else ""),
        lambda c: f"{c.name} missing",
        lambda c: "every row needs it; fill it in or drop the rows"),
)


@dataclass(frozen=True)
class ColumnCheck:
    """One column checked: canonical values and the rows breaking each rule.

    Attributes
    ----------
    column : Column
    raw : Series
        The cells as read (for quoting offending values in the report).
    values : Series
        Canonical values, same index as ``raw``; missing where a rule is broken.
    broken : tuple of (CellRule, ndarray of bool)
        Each rule at least one row breaks, in :data:`CELL_RULES` order, with its row mask.
    """

    column: Column
    raw: pd.Series
    values: pd.Series
    broken: tuple[tuple[CellRule, np.ndarray], ...]

    @property
    def bad(self) -> np.ndarray:
        """Rows breaking at least one rule of this column."""
        bad = np.zeros(len(self.raw), dtype=bool)
        for _, mask in self.broken:
            bad |= mask
        return bad

    def problems(self) -> list[Problem]:
        """The broken rules as report entries (count, first rows, message, likely fix)."""
        out = []
        for rule, mask in self.broken:
            n = int(mask.sum())
            message = rule.message(self.column).format(
                n=n, s="" if n == 1 else "s", are="is" if n == 1 else "are")
            if rule.quotes_values and (found := self._examples(mask)):
                message += f" (found {found})"
            out.append(Problem(self.column.name, rule.rule, n, message, row_numbers(mask),
                               rule.hint(self.column)))
        return out

    def _examples(self, mask: np.ndarray) -> str:
        if self.column.role is Role.IDENTIFIER:
            return ""  # identifier values are never echoed
        values = pd.unique(self.raw[mask].astype(str))[:MAX_VALUES_SHOWN]
        return ", ".join(f"'{v}'" for v in values)


def check_column(raw: pd.Series, col: Column, purpose: Purpose = "any") -> ColumnCheck:
    """Parse one column to its canonical dtype and evaluate every cell rule that applies.

    Parameters
    ----------
    raw : Series of shape (n_rows,)
        Text cells (as read from CSV) or typed values (Parquet); not modified.
    col : Column
        The column's entry in the data dictionary.
    purpose : {"any", "scoring", "training"}
        Training also requires the horizon.

    Returns
    -------
    ColumnCheck
    """
    rules = [r for r in CELL_RULES if r.applies(col, purpose)]
    if not _is_typed(raw) and len(raw) >= 1000:
        # every rule is a function of the cell alone: check each distinct text once (category,
        # boolean and date columns hold a few distinct texts in millions of rows)
        codes, uniques = pd.factorize(raw, use_na_sentinel=False)
        if len(uniques) * 4 <= len(raw):
            values, broken = _evaluate(pd.Series(uniques, dtype=raw.dtype), col, rules)
            return ColumnCheck(col, raw, values.iloc[codes].set_axis(raw.index),
                               tuple((rule, mask[codes]) for rule, mask in broken))
    values, broken = _evaluate(raw, col, rules)
    return ColumnCheck(col, raw, values, tuple(broken))


def _evaluate(raw: pd.Series, col: Column,
              rules: list[CellRule]) -> tuple[pd.Series, list[tuple[CellRule, np.ndarray]]]:
    cells = parse(raw, col)
    broken = [(rule, mask) for rule in rules if (mask := rule.test(col, cells)).any()]
    values = cells.values
    if cells.number is not None:
        bad = np.zeros(len(raw), dtype=bool)
        for _, mask in broken:
            bad |= mask
        values = pd.Series(np.where(bad, np.nan, cells.number), index=raw.index)
    return values.rename(col.name), broken


def parse(raw: pd.Series, col: Column) -> Cells:
    """Parse one column's cells to the column's kind (no rule applied yet)."""
    if not _is_typed(raw):
        raw = raw.where(raw.astype("str").str.strip() != "")  # blank cells are missing
    missing = raw.isna().to_numpy()
    number = None
    if col.kind in _NUMERIC:
        values = _to_float(raw)
        number = values.to_numpy(dtype=float, na_value=np.nan)
        unparsed = np.isnan(number) & ~missing
    else:
        if col.kind is Kind.BOOLEAN:
            values = _to_boolean(raw)
        elif col.kind is Kind.DATE:
            text = raw if _is_typed(raw) else raw.str.strip()
            values = pd.to_datetime(text, errors="coerce", format="ISO8601")
            values = values.astype("datetime64[ns]")
        elif col.kind is Kind.CATEGORY:
            values = _to_category(raw, col)
        else:
            values = raw.astype("str").where(~raw.isna(), None) if raw.dtype != "str" else raw
        unparsed = values.isna().to_numpy() & ~missing
    return Cells(values, missing, unparsed, number)


def _is_typed(raw: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype)
            or pd.api.types.is_datetime64_any_dtype(raw.dtype))


def _to_float(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64")
    return pd.to_numeric(raw.astype("str").str.strip().where(raw.notna()), errors="coerce")


def _to_boolean(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        arr = raw.to_numpy(dtype=float, na_value=np.nan)
        out = pd.array(np.where(arr == 1, True, False), dtype="boolean")
        out[~np.isin(arr, (0.0, 1.0))] = pd.NA
        return pd.Series(out, index=raw.index)
    text = raw.astype("str").str.strip().str.lower()
    res = pd.Series(pd.array([pd.NA] * len(raw), dtype="boolean"), index=raw.index)
    res = res.mask(text.isin(_TRUE).to_numpy(), True).mask(text.isin(_FALSE).to_numpy(), False)
    return res.where(raw.notna(), pd.NA).astype("boolean")


def _to_category(raw: pd.Series, col: Column) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw.dtype):
        raw = raw.astype("str").where(raw.notna())
    lookup = {c.casefold(): c for c in col.categories}
    key = raw.astype("str").str.strip().str.casefold()
    mapped = key.map(lookup)
    return mapped.where(raw.notna()).astype("str").where(mapped.notna() & raw.notna(), None)
