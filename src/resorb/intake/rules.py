"""The cell rules of the data dictionary, declared once and evaluated to one mask per rule.

Each :class:`CellRule` says when it applies to a column, which cells break it (a boolean
mask over the column's parsed cells), how the grouped report words it and how a rejected
row's reason words it. :func:`check_column` parses one column and evaluates every rule that
applies; the whole-file report (:func:`resorb.intake.conform`) groups the masks by rule and
the per-row reasons of scoring (:func:`resorb.intake.conform_rows`) read the same masks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

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
#: cell texts (compared stripped and lower-cased) that exports write for "no value": the
#: reader knows only the empty cell and a mapping's ``dialect.missing`` codes, so a cell
#: rule that meets one of these says how to declare it rather than only "not a number"
MISSING_SPELLINGS = frozenset({
    "na", "n/a", "n.a.", "n.a", "#n/a", "nan", "null", "none", "nil", "missing", "unknown",
    "unk", "n/k", "nk", "not known", "not recorded", "not done", "-", "--", "---", "?",
    "??", ".", "k.a.", "keine angabe", "nv", "n.v.", "nd", "n.d."})
#: years a date may fall in: a clinical record's dates, and well inside what a timestamp holds
#: (pandas' nanosecond timestamps stop at 1677 and 2262: year 1200 or 99999 is a typo, not a date)
DATE_YEARS = (1900, 2200)
# a time of day followed by a zone, or a date followed by an offset: "10:00+02:00", "...Z"
_ZONED = re.compile(r"(?:\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)"
                    r"|^\d{4}-\d{1,2}-\d{1,2}\s*(?:Z|[+-]\d{2}:?\d{2}))$", re.IGNORECASE)


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
    flags : dict of str to ndarray of bool
        Cells that parse but cannot be represented, by kind (``"encoding"``: bytes that are
        not UTF-8 text; ``"timezone"``: a date with a time zone; ``"date_range"``: a year
        outside :data:`DATE_YEARS`). Not counted in ``unparsed``; values there are missing.
    """

    values: pd.Series
    missing: np.ndarray
    unparsed: np.ndarray
    number: np.ndarray | None = None
    flags: dict[str, np.ndarray] = field(default_factory=dict)

    def flagged(self, kind: str) -> np.ndarray:
        """Cells flagged ``kind`` (all False when none is)."""
        return self.flags.get(kind, np.zeros(len(self.missing), dtype=bool))

    @property
    def finite(self) -> np.ndarray:
        """Cells holding a finite number (number and integer columns only)."""
        return np.isfinite(self.number)


@dataclass(frozen=True)
class CellRule:
    """One rule of the data dictionary on single cells.

    ``rule`` is the name the report shows (``"type"`` covers text that is no number and an
    infinite number, which ``name`` tells apart). ``message`` may use ``{n}``, ``{s}`` and
    ``{are}`` for the count, and ``{kind}`` for what the column holds in agreement with it
    ("a number", "numbers"); ``reason`` words one rejected row and never quotes the value.
    """

    name: str
    rule: str
    applies: Callable[[Column, Purpose], bool]
    test: Callable[[Column, Cells], np.ndarray]
    message: Callable[[Column], str]
    reason: Callable[[Column], str]
    hint: Callable[[Column], str]
    quotes_values: bool = False


def _fraction(cells: Cells) -> np.ndarray:
    """Distance of each finite number to the nearest whole number (0 for the others)."""
    number = np.where(cells.finite, cells.number, 0.0)
    return np.abs(number - np.round(number))


def _unit(col: Column) -> str:
    return f" {col.unit}" if col.unit else ""


def _required(col: Column, purpose: Purpose) -> bool:
    return col.required or (purpose == "training" and col.role is Role.HORIZON)


CELL_RULES: tuple[CellRule, ...] = (
    CellRule(
        "encoding", "type", lambda c, _: True,
        lambda c, cells: cells.flagged("encoding"),
        lambda c: "has {n} value{s} that {are} not UTF-8 text",
        lambda c: f"{c.name}: not UTF-8 text",
        lambda c: "re-export the file as UTF-8 (or declare its dialect.encoding in the mapping)"),
    CellRule(
        "timezone", "type", lambda c, _: c.kind is Kind.DATE,
        lambda c, cells: cells.flagged("timezone"),
        lambda c: "has {n} date{s} with a time zone",
        lambda c: f"{c.name}: has a time zone",
        lambda c: "write the local date as YYYY-MM-DD, without a time or time zone"),
    CellRule(
        "date_range", "type", lambda c, _: c.kind is Kind.DATE,
        lambda c, cells: cells.flagged("date_range"),
        lambda c: f"has {{n}} date{{s}} with a year outside {DATE_YEARS[0]}-{DATE_YEARS[1]}",
        lambda c: f"{c.name}: year outside {DATE_YEARS[0]}-{DATE_YEARS[1]}",
        lambda c: "check the year (a typo, or a placeholder date such as 9999-12-31)"),
    CellRule(
        "unparsed", "type", lambda c, _: c.kind is not Kind.CATEGORY,
        lambda c, cells: cells.unparsed,
        lambda c: "has {n} value{s} that {are} not {kind}",
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
        lambda c, cells: _fraction(cells) > 1e-9,
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
        """The broken rules as report entries (count, first rows, message, likely fix).

        Cells of a quoting rule that spell a missing value (:data:`MISSING_SPELLINGS`:
        ``n/a``, ``NA``, ``-``, ...) are an entry of their own, whose fix is the mapping
        file's ``dialect: {missing: [...]}`` with the exact spellings found.
        """
        out = []
        for rule, mask in self.broken:
            codes = self._missing_codes(mask) if rule.quotes_values else None
            rest = mask if codes is None else mask & ~codes
            if rest.any():
                n = int(rest.sum())
                kind = (_SINGULAR if n == 1 else _PLURAL).get(self.column.kind, "text")
                message = rule.message(self.column).format(
                    n=n, s="" if n == 1 else "s", are="is" if n == 1 else "are", kind=kind)
                if rule.quotes_values and (found := self._examples(rest)):
                    message += f" (found {found})"
                out.append(Problem(self.column.name, rule.rule, n, message, row_numbers(rest),
                                   rule.hint(self.column)))
            if codes is not None and codes.any():
                out.append(self._missing_code_problem(rule, codes))
        return out

    def _examples(self, mask: np.ndarray) -> str:
        if self.column.role is Role.IDENTIFIER:
            return ""  # identifier values are never echoed
        values = pd.unique(self.raw[mask].astype(str))[:MAX_VALUES_SHOWN]
        return ", ".join(f"'{v}'" for v in values)

    def _missing_codes(self, mask: np.ndarray) -> np.ndarray | None:
        """Rows of ``mask`` whose cell spells a missing value; None when none does."""
        if _is_typed(self.raw) and self.raw.dtype.kind in "biufcmM":
            return None  # a typed number or date column holds no text
        # only the offending cells are looked at: a few among millions of rows
        text = self.raw[mask].astype(str).str.strip().str.lower().to_numpy()
        codes = np.zeros(len(mask), dtype=bool)
        codes[np.flatnonzero(mask)[np.isin(text, list(MISSING_SPELLINGS))]] = True
        return codes if codes.any() else None

    def _missing_code_problem(self, rule: CellRule, codes: np.ndarray) -> Problem:
        """One entry for the missing-value spellings: the column, each spelling, the rows
        and the ``dialect.missing`` declaration that makes the reader treat them as empty.
        (Quoted even in an identifier column: a spelling from a fixed list names no one.)"""
        n = int(codes.sum())
        found = list(pd.unique(self.raw[codes].astype(str).str.strip()))
        quoted = ", ".join(f"'{v}'" for v in found)
        listed = ", ".join("'" + v.replace("'", "''") + "'" for v in found)
        it, they = ("it", "it means") if len(found) == 1 else ("them", "they mean")
        message = (f"has {n} cell{'s' * (n != 1)} spelling a missing value that the reader "
                   f"does not know (found {quoted})")
        hint = (f"if {they} 'missing', declare {it} in the mapping file (--mapping FILE; "
                f"for a file already in resorb's column names the file may hold only this "
                f"line): dialect: {{missing: [{listed}]}}; otherwise fix the cells")
        return Problem(self.column.name, rule.rule, n, message, row_numbers(codes), hint)


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
    flags: dict[str, np.ndarray] = {}
    stripped = None
    if not _is_typed(raw):
        raw, undecodable = _as_text(raw)
        if undecodable.any():
            flags["encoding"] = undecodable
        stripped = raw.str.strip()
        raw = raw.where(stripped != "")  # blank cells are missing
    missing = raw.isna().to_numpy().copy()
    number = None
    if col.kind in _NUMERIC:
        values = _to_float(raw, stripped)
        number = values.to_numpy(dtype=float, na_value=np.nan)
        unparsed = np.isnan(number) & ~missing
    else:
        if col.kind is Kind.BOOLEAN:
            values = _to_boolean(raw)
        elif col.kind is Kind.DATE:
            values, zoned, outside = _to_date(raw)
            flags.update({k: m for k, m in (("timezone", zoned), ("date_range", outside))
                          if m.any()})
        elif col.kind is Kind.CATEGORY:
            values = _to_category(raw, col)
        else:
            values = raw.astype("str").where(~raw.isna(), None) if raw.dtype != "str" else raw
        unparsed = values.isna().to_numpy() & ~missing
    unparsed = unparsed.copy()
    for mask in flags.values():
        unparsed &= ~mask
        missing &= ~mask
    return Cells(values, missing, unparsed, number, flags)


def _as_text(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells as ``str`` (missing kept); bytes that are not UTF-8 become missing and flagged.

    Parquet ``binary`` columns arrive as bytes and ``date32`` columns as ``datetime.date``.
    """
    if raw.dtype == "str":
        return raw, np.zeros(len(raw), dtype=bool)
    bad = np.zeros(len(raw), dtype=bool)
    out: list[object] = []
    for i, v in enumerate(raw.array):
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, bytes | bytearray | memoryview):
            try:
                out.append(bytes(v).decode("utf-8"))
            except UnicodeDecodeError:
                bad[i] = True
                out.append(None)
        elif isinstance(v, dt.date | dt.time):
            out.append(v.isoformat())
        else:
            out.append(str(v))
    return pd.Series(out, index=raw.index, dtype="str"), bad


def _to_date(raw: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Dates as ``datetime64[ns]``, and the cells with a time zone or an implausible year.

    Both kinds parse but cannot be one timestamp column: a time zone (mixed with local dates
    pandas refuses the whole column) and years beyond pandas' nanosecond range.
    """
    n = len(raw)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        if getattr(raw.dtype, "tz", None) is not None:  # a zoned Parquet timestamp column
            return (pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]"),
                    raw.notna().to_numpy(), np.zeros(n, dtype=bool))
        parsed, zoned = raw, np.zeros(n, dtype=bool)
    elif _is_typed(raw):  # numbers or booleans: not dates
        return (pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]"),
                np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    else:
        text = raw.str.strip()
        zoned = text.str.contains(_ZONED, na=False).to_numpy()
        parsed = _iso_dates(text.where(~zoned))
    year = parsed.dt.year.to_numpy(dtype=float, na_value=np.nan)
    outside = (year < DATE_YEARS[0]) | (year > DATE_YEARS[1])
    if not _is_typed(raw):  # a year too large for any timestamp ("99999-01-01")
        lead = pd.to_numeric(text.str.extract(r"^([+-]?\d{5,})-", expand=False),
                             errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        outside |= np.isfinite(lead) & parsed.isna().to_numpy()
    values = parsed.where(~outside).astype("datetime64[ns]")
    return values.set_axis(raw.index), zoned, outside


def _iso_dates(text: pd.Series) -> pd.Series:
    """ISO 8601 text to timestamps (missing where it is none), whatever a cell holds."""
    try:
        return pd.to_datetime(text, errors="coerce", format="ISO8601")
    except (ValueError, OverflowError, TypeError):  # one odd cell: parse the cells one by one
        out = []
        for v in text:
            try:
                out.append(pd.to_datetime(v, errors="coerce", format="ISO8601"))
            except (ValueError, OverflowError, TypeError):
                out.append(pd.NaT)
        return pd.Series(out, index=text.index, dtype="datetime64[us]")


def _is_typed(raw: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype)
            or pd.api.types.is_datetime64_any_dtype(raw.dtype))


def _to_float(raw: pd.Series, stripped: pd.Series | None = None) -> pd.Series:
    """Numbers of a column; ``stripped``: its text cells already stripped (as :func:`parse`
    has them), not stripped again."""
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64")
    text = raw.astype("str").str.strip() if stripped is None else stripped
    return pd.to_numeric(text.where(raw.notna()), errors="coerce")


def _to_boolean(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        arr = raw.to_numpy(dtype=float, na_value=np.nan)
        out = pd.array(np.where(arr == 1, True, False), dtype="boolean")
        out[~np.isin(arr, (0.0, 1.0))] = pd.NA
        return pd.Series(out, index=raw.index)
    text = raw.astype("str").str.strip().str.lower()
    # built as one masked array: four Series.mask/where calls were two thirds of the cost of
    # checking a boolean column of a 10-row chunk (cProfile)
    true = text.isin(_TRUE).to_numpy(dtype=bool)
    known = (true | text.isin(_FALSE).to_numpy(dtype=bool)) & raw.notna().to_numpy(dtype=bool)
    return pd.Series(pd.arrays.BooleanArray(true & known, ~known), index=raw.index)


def _to_category(raw: pd.Series, col: Column) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw.dtype):
        raw = raw.astype("str").where(raw.notna())
    lookup = {c.casefold(): c for c in col.categories}
    key = raw.astype("str").str.strip().str.casefold()
    # a dict look-up per cell and one Series built from the kept values: Series.map and three
    # where/astype calls were two thirds of the cost of checking a category column of a
    # 10-row chunk (cProfile); chunks of 1,000 rows or more reach here as distinct cells only
    mapped = np.array([lookup.get(k) for k in key.to_numpy(dtype=object)], dtype=object)
    keep = (mapped != None) & raw.notna().to_numpy(dtype=bool)  # noqa: E711 (elementwise)
    return pd.Series(np.where(keep, mapped, None), index=raw.index, dtype="str", name=raw.name)
