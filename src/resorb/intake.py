"""Reading tables and checking them against the data dictionary.

:func:`read_table` turns a CSV or Parquet file into a DataFrame or raises :class:`InputError`
with a one-line reason. :func:`conform` coerces every known column to its canonical dtype and
collects every problem at once into a :class:`ValidationReport` (grouped by column and rule,
with counts, the first row numbers and a likely fix). Identifier values are never quoted.

Row numbers in reports are 1-based data rows: row 1 is the first row under the header.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from resorb import schema
from resorb.errors import InputError
from resorb.schema import Column, Kind, Role

Purpose = Literal["any", "scoring", "training"]
SUFFIXES = (".csv", ".parquet", ".pq")
MAX_ROWS_SHOWN = 5
MAX_VALUES_SHOWN = 3

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


@dataclass(frozen=True)
class Problem:
    """One rule broken by one column: how often, where, and a likely fix."""

    column: str
    rule: str
    count: int
    message: str
    rows: tuple[int, ...] = ()
    hint: str = ""

    def __str__(self) -> str:
        where = ""
        if self.rows:
            more = " ..." if self.count > len(self.rows) else ""
            word = "row" if self.count == 1 else "rows"
            where = f" ({word} {', '.join(map(str, self.rows))}{more})"
        hint = f": {self.hint}" if self.hint else ""
        return f"'{self.column}' {self.message}{where}{hint}"


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found in a frame, in dictionary order of the columns."""

    n_rows: int
    n_columns: int
    problems: tuple[Problem, ...] = ()
    purpose: str = "any"
    bad_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.problems

    @property
    def n_bad_rows(self) -> int:
        """Number of rows that break at least one row-level rule."""
        return int(self.bad_rows.sum()) if self.bad_rows.size else 0

    def summary(self) -> str:
        """A one-line verdict."""
        if self.ok:
            return f"valid: {self.n_rows:,} rows, {self.n_columns} columns ({self.purpose})"
        n = len(self.problems)
        cols = len({p.column for p in self.problems})
        out = (f"invalid: {n} problem{'s' * (n != 1)} in {cols} column{'s' * (cols != 1)}, "
               f"{self.n_bad_rows:,} of {self.n_rows:,} rows affected")
        missing = [p.column for p in self.problems if p.rule == "missing_column"]
        if missing:
            shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
            out += f"; {len(missing)} required column{'s' * (len(missing) != 1)} absent ({shown})"
        return out

    def render(self) -> str:
        """The full report, grouped by column, one problem per line."""
        lines = [self.summary()]
        if self.ok:
            return lines[0]
        lines.append("row numbers count data rows from 1 (the first row under the header)")
        by_col: dict[str, list[Problem]] = {}
        for p in self.problems:
            by_col.setdefault(p.column, []).append(p)
        for col, probs in by_col.items():
            lines.append(f"  {col}:")
            lines.extend(f"    - [{p.rule}] {p}" for p in probs)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def read_table(path: str | os.PathLike[str], columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file without guessing types for the dictionary's columns.

    CSV cells are read as text so that :func:`conform` can say which cell is wrong; empty
    cells become missing values.

    Raises
    ------
    InputError
        Missing or unreadable file, unsupported extension, empty file or header only.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{p.name}: unsupported file type '{suffix or '(none)'}'; "
                         f"use .csv or .parquet")
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a file")
    if p.stat().st_size == 0:
        raise InputError(f"{p.name}: the file is empty")
    cols = list(columns) if columns is not None else None
    try:
        if suffix == ".csv":
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""],
                             usecols=cols, skipinitialspace=True)
        else:
            df = pd.read_parquet(p, columns=cols)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError,
            ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{p.name}: cannot be read as {suffix[1:].upper()}: {reason}") from None
    if df.shape[1] == 0:
        raise InputError(f"{p.name}: no columns found")
    if len(df) == 0:
        raise InputError(f"{p.name}: has a header but no data rows")
    return df


def required_columns(purpose: Purpose) -> tuple[str, ...]:
    """Columns that must be present for a purpose ("any", "scoring" or "training")."""
    req = [c.name for c in schema.COLUMNS if c.required]
    if purpose == "training":
        req.append("followup_days")
    return tuple(req)


def conform(df: pd.DataFrame, purpose: Purpose = "any",
            allow_unknown: bool = False) -> tuple[pd.DataFrame, ValidationReport]:
    """Coerce known columns to canonical dtypes and check every rule of the dictionary.

    Parameters
    ----------
    df : DataFrame
        Raw table (text cells from CSV, or typed columns from Parquet). Not modified.
    purpose : {"any", "scoring", "training"}
        Which columns are required: training also needs the horizon ``followup_days``.
    allow_unknown : bool
        Keep columns that are not in the dictionary instead of reporting them.

    Returns
    -------
    (DataFrame, ValidationReport)
        The canonical frame (same rows, same order; invalid cells set missing) and the report.
    """
    problems: list[Problem] = []
    bad = np.zeros(len(df), dtype=bool)
    present = [c for c in df.columns]

    dupes = sorted({c for c in present if present.count(c) > 1})
    for name in dupes:
        problems.append(Problem(str(name), "duplicate_column", present.count(name),
                                f"appears {present.count(name)} times in the header",
                                hint="keep one copy"))
    if dupes:
        df = df.loc[:, ~df.columns.duplicated()]

    for name in required_columns(purpose):
        if name not in df.columns:
            col = schema.BY_NAME[name]
            problems.append(Problem(name, "missing_column", 0, "is required but absent",
                                    hint=f"{col.description} ({col.allowed}); rename or map "
                                         f"a source column with --mapping"))
    unknown = [c for c in df.columns if c not in schema.BY_NAME]
    if unknown and not allow_unknown:
        for name in unknown:
            close = _closest(str(name))
            problems.append(Problem(str(name), "unknown_column", 0,
                                    "is not in the data dictionary",
                                    hint=(f"did you mean '{close}'? " if close else "")
                                    + "rename or drop it with --mapping (see `resorb schema`)"))

    out: dict[str, pd.Series] = {}
    for col in schema.COLUMNS:
        if col.name not in df.columns:
            continue
        values, col_problems, col_bad = _conform_column(df[col.name], col, purpose)
        out[col.name] = values
        problems.extend(col_problems)
        bad |= col_bad
    if "patient_id" in out and "level" in out:
        problems_dup, dup_bad = _duplicate_episodes(out["patient_id"], out["level"])
        problems.extend(problems_dup)
        bad |= dup_bad
    if allow_unknown:
        for name in unknown:
            out[str(name)] = df[name]

    order = {name: i for i, name in enumerate(schema.NAMES)}
    problems.sort(key=lambda p: order.get(p.column, len(order)))
    canonical = pd.DataFrame(out, index=df.index)
    report = ValidationReport(n_rows=len(df), n_columns=df.shape[1], problems=tuple(problems),
                              purpose=purpose, bad_rows=bad)
    return canonical, report


def _row_numbers(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) + 1 for i in np.flatnonzero(mask)[:MAX_ROWS_SHOWN])


def _problem(col: Column, rule: str, mask: np.ndarray, message: str, hint: str = "") -> Problem:
    n = int(mask.sum())
    return Problem(col.name, rule, n,
                   message.format(n=n, s="" if n == 1 else "s", are="is" if n == 1 else "are"),
                   _row_numbers(mask), hint or col.hints.get(rule, ""))


def _examples(col: Column, raw: pd.Series, mask: np.ndarray) -> str:
    if col.role is Role.IDENTIFIER:
        return ""  # identifier values are never echoed
    vals = pd.unique(raw[mask].astype(str))[:MAX_VALUES_SHOWN]
    return ", ".join(f"'{v}'" for v in vals)


def _conform_column(raw: pd.Series, col: Column,
                    purpose: Purpose) -> tuple[pd.Series, list[Problem], np.ndarray]:
    """Coerce one column and check its rules; returns values, problems and bad-row mask."""
    problems: list[Problem] = []
    if not (pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype)
            or pd.api.types.is_datetime64_any_dtype(raw.dtype)):
        raw = raw.where(raw.astype("str").str.strip() != "")  # blank cells are missing
    missing_raw = raw.isna().to_numpy()
    if col.kind in (Kind.NUMBER, Kind.INTEGER):
        values = _to_float(raw)
    elif col.kind is Kind.BOOLEAN:
        values = _to_boolean(raw)
    elif col.kind is Kind.DATE:
        values = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        values = values.astype("datetime64[ns]")
    elif col.kind is Kind.CATEGORY:
        values = _to_category(raw, col)
    else:
        values = raw.astype("str").where(~raw.isna(), None) if raw.dtype != "str" else raw
    unparsed = values.isna().to_numpy() & ~missing_raw
    bad = unparsed.copy()

    if unparsed.any():
        if col.kind is Kind.CATEGORY:
            ex = _examples(col, raw, unparsed)
            problems.append(_problem(
                col, "category", unparsed,
                "has {n} value{s} outside " + col.allowed + (f" (found {ex})" if ex else ""),
                col.hints.get("category", "recode them with --mapping")))
        else:
            ex = _examples(col, raw, unparsed)
            problems.append(_problem(
                col, "type", unparsed,
                "has {n} value{s} that {are} not " + _kind_word(col.kind)
                + (f" (found {ex})" if ex else ""),
                col.hints.get("type", "fix the cells or recode with --mapping")))

    if col.kind in (Kind.NUMBER, Kind.INTEGER):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(arr)
        if col.kind is Kind.INTEGER:
            frac = finite & (np.abs(arr - np.round(arr)) > 1e-9)
            if frac.any():
                problems.append(_problem(col, "integer", frac,
                                         "has {n} non-whole value{s} (" + col.unit + ")",
                                         "round them, or check the unit"))
                bad |= frac
        if col.minimum is not None:
            below = finite & (arr < col.minimum)
            if below.any():
                problems.append(_problem(col, "below", below,
                                         "has {n} value{s} below " + f"{col.minimum:g}"
                                         + (f" {col.unit}" if col.unit else "")))
                bad |= below
        if col.maximum is not None:
            above = finite & (arr > col.maximum)
            if above.any():
                problems.append(_problem(col, "above", above,
                                         "has {n} value{s} above " + f"{col.maximum:g}"
                                         + (f" {col.unit}" if col.unit else "")))
                bad |= above
        nonfinite = ~finite & ~np.isnan(arr)
        if nonfinite.any():
            problems.append(_problem(col, "type", nonfinite, "has {n} infinite value{s}"))
            bad |= nonfinite
        values = pd.Series(np.where(bad, np.nan, arr), index=raw.index, name=col.name)

    if col.required or (purpose == "training" and col.role is Role.HORIZON):
        absent = missing_raw
        if absent.any():
            meaning = f" ({col.missing_means})" if col.missing_means else ""
            problems.append(_problem(col, "required", absent,
                                     "has {n} missing value{s}" + meaning,
                                     "every row needs it; fill it in or drop the rows"))
            bad |= absent
    return values.rename(col.name), problems, bad


def _kind_word(kind: Kind) -> str:
    return {Kind.NUMBER: "numbers", Kind.INTEGER: "whole numbers",
            Kind.BOOLEAN: "true/false", Kind.DATE: "dates (YYYY-MM-DD)"}.get(kind, "text")


def _to_float(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64")
    if pd.api.types.is_numeric_dtype(raw.dtype):
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


def _duplicate_episodes(pid: pd.Series, level: pd.Series) -> tuple[list[Problem], np.ndarray]:
    keyed = pd.DataFrame({"p": pid, "l": level})
    dup = keyed.duplicated(keep=False).to_numpy() & keyed.notna().all(axis=1).to_numpy()
    if not dup.any():
        return [], dup
    col = schema.BY_NAME["patient_id"]
    return [_problem(col, "duplicate_episode", dup,
                     "has {n} row{s} repeating the same patient and level",
                     "one row per herniation episode; keep the latest or give each a level")], dup


def _closest(name: str) -> str | None:
    import difflib

    match = difflib.get_close_matches(name.lower().replace(" ", "_"), schema.NAMES, n=1,
                                      cutoff=0.75)
    return match[0] if match else None


def check_file(path: str | os.PathLike[str],
               purpose: Purpose = "any") -> tuple[pd.DataFrame, ValidationReport]:
    """Read a file and conform it; convenience for the CLI's ``validate``."""
    return conform(read_table(path), purpose=purpose)


def conform_rows(df: pd.DataFrame,
                 purpose: Purpose = "scoring") -> tuple[pd.DataFrame, pd.Series]:
    """Coerce the dictionary's columns and say, row by row, which rules each row breaks.

    The per-row counterpart of :func:`conform`, for scoring files chunk by chunk: the same
    cell rules (type, category, whole number, range, required cell) through the same code,
    but the result is a reason per row instead of a grouped report. Column-level checks
    (absent, unknown or duplicated columns) are left to :func:`conform`, and so is the
    cross-row rule (one row per patient and level), which a chunk cannot decide alone.
    Cell values are never quoted, so identifiers cannot leak into the reasons.

    Parameters
    ----------
    df : DataFrame
        Raw table (text cells or typed columns) with unique column names; not modified.
        Columns that are not in the dictionary are ignored.
    purpose : {"any", "scoring", "training"}
        Which cells are required (training also needs the horizon).

    Returns
    -------
    (DataFrame, Series)
        The canonical frame of the dictionary columns present (dictionary order, same index,
        invalid cells missing), and a ``str`` Series with one entry per row: ``""`` for a
        valid row, else its problems joined by ``"; "``, e.g.
        ``"vas_leg above 10 points; sex: unknown category"``.
    """
    reasons = np.full(len(df), "", dtype=object)
    out: dict[str, pd.Series] = {}
    for col in schema.COLUMNS:
        if col.name not in df.columns:
            continue
        raw = df[col.name]
        values, problems, bad = _conform_by_value(raw, col, purpose)
        out[col.name] = values
        if problems:
            for rows, text in _row_reasons(raw, col, problems, bad):
                current = reasons[rows]
                reasons[rows] = np.where(current == "", text, current + "; " + text)
    canonical = pd.DataFrame(out, index=df.index)
    return canonical, pd.Series(reasons, index=df.index, dtype="str", name="reason")


def _row_text(col: Column, key: str) -> str:
    """How one broken rule reads in a row's reason (never the cell's value)."""
    unit = f" {col.unit}" if col.unit else ""
    singular = {Kind.NUMBER: "a number", Kind.INTEGER: "a whole number",
                Kind.BOOLEAN: "true/false", Kind.DATE: "a date (YYYY-MM-DD)"}
    return {
        "required": f"{col.name} missing",
        "category": f"{col.name}: unknown category",
        "unparsed": f"{col.name}: not {singular.get(col.kind, 'text')}",
        "nonfinite": f"{col.name}: infinite",
        "integer": f"{col.name}: not a whole number",
        "below": f"{col.name} below {col.minimum:g}{unit}" if col.minimum is not None else "",
        "above": f"{col.name} above {col.maximum:g}{unit}" if col.maximum is not None else "",
    }[key]


def _rule_key(problem: Problem) -> str:
    if problem.rule == "type":
        return "nonfinite" if "infinite" in problem.message else "unparsed"
    return problem.rule


def _row_reasons(raw: pd.Series, col: Column, problems: list[Problem],
                 bad: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """(row positions, text) per rule broken in one column; rules re-derived on bad rows only."""
    rows = np.flatnonzero(bad)
    keys = list(dict.fromkeys(_rule_key(p) for p in problems))
    if len(keys) == 1:  # the common case: the column's bad rows all break the same rule
        key = "category" if keys[0] == "unparsed" and col.kind is Kind.CATEGORY else keys[0]
        return [(rows, _row_text(col, key))]
    sub = raw.iloc[rows]
    if not (pd.api.types.is_numeric_dtype(sub.dtype) or pd.api.types.is_bool_dtype(sub.dtype)
            or pd.api.types.is_datetime64_any_dtype(sub.dtype)):
        sub = sub.where(sub.astype("str").str.strip() != "")
    missing = sub.isna().to_numpy()
    masks: dict[str, np.ndarray] = {"required": missing}
    if col.kind in (Kind.NUMBER, Kind.INTEGER):
        arr = _to_float(sub).to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(arr)
        masks["unparsed"] = np.isnan(arr) & ~missing
        masks["nonfinite"] = ~finite & ~np.isnan(arr)
        masks["integer"] = finite & (np.abs(arr - np.round(arr)) > 1e-9)
        if col.minimum is not None:
            masks["below"] = finite & (arr < col.minimum)
        if col.maximum is not None:
            masks["above"] = finite & (arr > col.maximum)
    elif col.kind is Kind.BOOLEAN:
        masks["unparsed"] = _to_boolean(sub).isna().to_numpy() & ~missing
    elif col.kind is Kind.DATE:
        parsed = pd.to_datetime(sub, errors="coerce", format="ISO8601")
        masks["unparsed"] = parsed.isna().to_numpy() & ~missing
    elif col.kind is Kind.CATEGORY:
        masks["category"] = _to_category(sub, col).isna().to_numpy() & ~missing
    out = []
    covered = np.zeros(rows.size, dtype=bool)
    for key in keys:
        key = "category" if key == "unparsed" and col.kind is Kind.CATEGORY else key
        mask = masks.get(key)
        if mask is not None and mask.any():
            out.append((rows[mask], _row_text(col, key)))
            covered |= mask
    if not covered.all():  # defensive: a rule this function does not know
        out.append((rows[~covered], f"{col.name}: invalid value"))
    return out


def _conform_by_value(raw: pd.Series, col: Column,
                      purpose: Purpose) -> tuple[pd.Series, list[Problem], np.ndarray]:
    """:func:`_conform_column` on the distinct cells of a text column, spread back to rows.

    Every rule is a function of the cell alone, so checking each distinct text once gives the
    same values and bad rows; category, boolean and date columns hold a few distinct texts
    in millions of rows. Problem counts and row numbers refer to the distinct values (the
    caller only uses their rules).
    """
    typed = (pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype)
             or pd.api.types.is_datetime64_any_dtype(raw.dtype))
    if typed or len(raw) < 1000:
        return _conform_column(raw, col, purpose)
    codes, uniques = pd.factorize(raw, use_na_sentinel=False)
    if len(uniques) * 4 > len(raw):
        return _conform_column(raw, col, purpose)
    distinct = pd.Series(uniques, dtype=raw.dtype)
    values, problems, bad = _conform_column(distinct, col, purpose)
    spread = values.iloc[codes].set_axis(raw.index)
    return spread.rename(col.name), problems, bad[codes]
