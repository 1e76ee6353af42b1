"""Reading a hospital's table as a canonical resorb frame, through a mapping file.

A hospital's export never arrives in resorb's column names, codes or units. A mapping file
(YAML) says, for each canonical column, where its values come from and how they become
resorb's vocabulary::

    filter:                                   # optional: rows to keep, on SOURCE columns
      - {column: "Disc herniation", equals: 1}
      - {column: "IVD label", in: [1, 2, 3, 4, 5]}
    columns:
      patient_id: {from: "Patient", format: "SPIDER-{}"}      # copy (optionally formatted)
      level: {from: "IVD label", values: {1: L5-S1, 2: L4-L5}}  # recode codes
      vas_leg: {from: "VAS_leg_100", unit: "0-100"}          # convert to the canonical unit
      treatment: {value: conservative}                       # fixed value
    drop_unmapped: true

:func:`load_mapping` validates the file once into a frozen :class:`Mapping`.
:func:`apply_mapping` is a pure function from the raw frame to a :class:`MappingResult` whose
frame still holds raw-ish values: :func:`resorb.intake.conform` coerces and checks them, so a
code that a ``values`` map forgot shows up there as an unknown category instead of vanishing.
:func:`read_mapped` chains read, map and conform for ``validate``, ``train`` and ``score``.

Codes are compared as text after stripping and case-folding, with numbers normalised
(``1``, ``1.0`` and ``"1"`` are one code) and YAML booleans standing for their spellings
(an unquoted ``yes:`` key matches cells ``yes``, ``true``, ``1``...). A ``""`` or ``null``
key matches empty cells.
"""

from __future__ import annotations

import difflib
import math
import os
import string
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from resorb import schema
from resorb.config import Frozen
from resorb.errors import ConfigError, InputError
from resorb.intake import (
    MAX_ROWS_SHOWN,
    MAX_VALUES_SHOWN,
    Purpose,
    ValidationReport,
    conform,
    read_table,
)
from resorb.schema import Kind, Role

Scalar = str | bool | int | float
Code = Scalar | None
_IN_CODE = "(built in code)"

# --- units: constraints as data -----------------------------------------------------------

# Canonical unit (schema.Column.unit) -> (name of that unit in mapping files,
# {source unit: (multiply, divide)}). Dividing, not multiplying by 0.1, keeps 70 -> 7.0 exact.
UNITS: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "points": ("0-10", {"0-10": (1, 1), "0-100": (1, 10)}),
    "mm3": ("mm3", {"mm3": (1, 1), "mL": (1000, 1), "ml": (1000, 1), "cm3": (1000, 1),
                    "cc": (1000, 1)}),
    "days": ("days", {"days": (1, 1), "hours": (1, 24), "weeks": (7, 1),
                      "months": (30.4375, 1), "years": (365.25, 1)}),
    "%": ("%", {"%": (1, 1), "percent": (1, 1), "fraction": (100, 1)}),
    "years": ("years", {"years": (1, 1), "months": (1, 12)}),
}
# Scales that belong to one instrument rather than to a unit.
EXTRA_UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "odi": {"0-50": (2, 1)},
    "odi_followup": {"0-50": (2, 1)},
}
# A YAML boolean code stands for every way a table spells it (as conform reads booleans).
_BOOL_SPELLINGS = {True: ("true", "t", "yes", "y", "on", "1"),
                   False: ("false", "f", "no", "n", "off", "0")}


def allowed_units(target: str) -> dict[str, tuple[float, float]]:
    """Source units a mapping may declare for canonical column ``target``.

    Returns
    -------
    dict
        ``{unit: (multiply, divide)}``; empty when the column takes no unit conversion.
    """
    col = schema.BY_NAME[target]
    if not col.unit:
        return {}
    _, units = UNITS.get(col.unit, (col.unit, {col.unit: (1, 1)}))
    return {**units, **EXTRA_UNITS.get(target, {})}


def _canonical_unit(target: str) -> str:
    unit = schema.BY_NAME[target].unit
    return UNITS.get(unit, (unit, {}))[0]


# --- the mapping file -----------------------------------------------------------------------


def _as_name(v: Any) -> Any:
    """Column names written as numbers in YAML are still names."""
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


class Condition(Frozen):
    """Keep the rows whose SOURCE ``column`` equals ``equals`` or is one of ``in``."""

    column: str
    in_: tuple[Code, ...] | None = Field(default=None, alias="in", min_length=1)
    equals: Code = None

    @field_validator("column", mode="before")
    @classmethod
    def _column_name(cls, v: Any) -> Any:
        return _as_name(v)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if len({"in_", "equals"} & self.model_fields_set) != 1:
            raise ValueError("needs exactly one of 'in' (a list of values) or 'equals' (a value)")
        return self

    @property
    def accepted(self) -> tuple[Code, ...]:
        """The codes a kept row may hold."""
        return self.in_ if self.in_ is not None else (self.equals,)

    def __str__(self) -> str:
        shown = ", ".join(_show(c) for c in self.accepted)
        test = f"in [{shown}]" if self.in_ is not None else f"equals {shown}"
        return f"'{self.column}' {test}"


class ColumnRule(Frozen):
    """Where one canonical column comes from: a source column (``from``) or a fixed ``value``.

    A ``from`` column is copied as is, recoded (``values``, optional ``default`` for codes the
    map lacks), converted from ``unit`` to the canonical unit, or copied through ``format``
    (a text with one ``{}``, e.g. ``"SPIDER-{}"``).
    """

    source: str | None = Field(default=None, alias="from")
    value: Code = None
    values: dict[Code, Code] | None = Field(default=None, min_length=1)
    default: Code = None
    unit: str | None = None
    format: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _source_name(cls, v: Any) -> Any:
        return _as_name(v)

    @model_validator(mode="after")
    def _consistent(self) -> ColumnRule:
        # an explicit null is absent, except for a fixed value or a default (both mean "missing")
        given = {k for k in self.model_fields_set
                 if getattr(self, k) is not None or k in ("value", "default")}
        if "source" in given and "value" in given:
            raise ValueError("has both 'from' and 'value': read the column from the file or "
                             "fix its value, not both")
        if "source" not in given and "value" not in given:
            raise ValueError("needs 'from' (a source column) or 'value' (a fixed value)")
        extras = sorted(given & {"values", "default", "unit", "format"})
        if "value" in given and extras:
            raise ValueError(f"has a fixed 'value', which takes no {_quoted(extras)}")
        if len(given & {"values", "unit", "format"}) > 1:
            raise ValueError("may recode ('values'), convert ('unit') or format ('format'), "
                             f"only one of them; got {_quoted(extras)}")
        if "default" in given and "values" not in given:
            raise ValueError("has a 'default' but no 'values' map for it to complete")
        if self.values is not None:
            _check_codes(tuple(self.values), "values")
        if self.format is not None:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.format)
                      if f is not None]
            if fields != [""]:
                raise ValueError(f"has format '{self.format}', which needs exactly one '{{}}' "
                                 "where the value goes (e.g. 'SPIDER-{}')")
        return self

    @property
    def kind(self) -> str:
        """One of "fixed", "recode", "convert", "format", "copy"."""
        if self.source is None:
            return "fixed"
        if self.values is not None:
            return "recode"
        return "convert" if self.unit is not None else "format" if self.format else "copy"


class Mapping(Frozen):
    """A validated mapping file: row filter, one rule per canonical column, unmapped policy."""

    filter: tuple[Condition, ...] = ()
    columns: dict[str, ColumnRule] = Field(min_length=1)
    drop_unmapped: bool = True
    _origin: str = PrivateAttr(default=_IN_CODE)

    @field_validator("filter", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        if v is None:
            return ()
        return [v] if isinstance(v, dict) else v

    @field_validator("columns")
    @classmethod
    def _targets(cls, columns: dict[str, ColumnRule]) -> dict[str, ColumnRule]:
        for target, rule in columns.items():
            if target not in schema.BY_NAME:
                close = difflib.get_close_matches(target.lower(), schema.NAMES, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise PydanticCustomError("resorb", f"'columns.{target}' is not a resorb column; "
                                          f"{hint}see `resorb schema` for the list")
            if rule.unit is not None:
                _check_unit(target, rule.unit)
            targets = [v for v in (rule.values or {}).values() if v is not None]
            for name in ("default", "value"):
                if name in rule.model_fields_set and getattr(rule, name) is not None:
                    targets.append(getattr(rule, name))
            if targets:
                _check_targets(target, targets)
        return columns

    @property
    def origin(self) -> str:
        """The file the mapping was read from ("(built in code)" otherwise)."""
        return self._origin


def _check_unit(target: str, unit: str) -> None:
    units = allowed_units(target)
    if not units:
        raise PydanticCustomError("resorb", f"'columns.{target}.unit': {target} has no unit, so "
                                  f"'{unit}' cannot be converted; remove 'unit'")
    if unit.casefold() not in {u.casefold() for u in units}:
        raise PydanticCustomError("resorb", f"'columns.{target}.unit': unknown unit '{unit}' for "
                                  f"{target}; allowed: {', '.join(units)}")


def _check_targets(target: str, targets: list[Scalar]) -> None:
    """Recode targets and fixed values must be values the dictionary accepts."""
    _, report = conform(pd.DataFrame({target: pd.Series([_cell(v) for v in targets],
                                                        dtype=object)}))
    for p in report.problems:
        if p.column == target and p.rule in ("category", "type", "integer", "below", "above"):
            raise PydanticCustomError("resorb", f"'columns.{target}': mapped values break the "
                                      f"data dictionary: {target} {p.message}")


def _check_codes(codes: tuple[Code, ...], where: str) -> None:
    seen: dict[str, Code] = {}
    for code in codes:
        for key in _code_keys(code):
            if key in seen and seen[key] != code:
                raise ValueError(f"has '{where}' keys {_show(seen[key])} and {_show(code)}, which "
                                 f"are the same code once compared as text; keep one")
            seen[key] = code


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
                seen.add(key)
            except TypeError:
                continue
            if dup:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """Read and validate a mapping file.

    Parameters
    ----------
    path : path-like
        YAML file with ``columns`` (required), ``filter`` and ``drop_unmapped``.

    Returns
    -------
    Mapping
        Frozen, validated; ``origin`` names the file.

    Raises
    ------
    ConfigError
        Missing file, invalid YAML, a key given twice, an unknown key, a target that is not a
        resorb column (with a suggestion), both ``from`` and ``value``, an unknown unit, or a
        recode to a value the data dictionary does not accept. The message names the file and
        the offending key.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"mapping file {p} not found" if not p.exists()
                          else f"mapping file {p} is a directory, not a file")
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        if "cannot start any token" in str(exc.problem):
            where += "; put the value in quotes"
        raise ConfigError(f"mapping file {p} is not valid YAML: {exc.problem}{where}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mapping file {p} is not valid YAML: {exc}") from None
    return parse_mapping(data, origin=str(p))


def parse_mapping(data: Any, origin: str = _IN_CODE) -> Mapping:
    """Validate already-parsed mapping data (a dict as YAML would give).

    Parameters
    ----------
    data : dict
        The mapping, as :func:`yaml.safe_load` returns it.
    origin : str
        Where it came from, for messages.

    Raises
    ------
    ConfigError
        As :func:`load_mapping`.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"mapping {origin} must be a YAML mapping with a 'columns' "
                          f"section; got {type(data).__name__}")
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"mapping {origin}: {_explain(exc)}") from None
    mapping._origin = origin
    return mapping


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors as one line that names each offending key."""
    lines = []
    for err in sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden"):
        loc = tuple(str(p) for p in err["loc"])
        where = ".".join(loc)
        if err["type"] == "resorb":
            lines.append(err["msg"])
        elif err["type"] == "extra_forbidden":
            model = (Mapping if len(loc) == 1 else Condition if loc[0] == "filter"
                     else ColumnRule)
            allowed = [f.alias or name for name, f in model.model_fields.items()]
            close = difflib.get_close_matches(loc[-1], allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            lines.append(f"unknown key '{where}'; {hint}allowed: {', '.join(allowed)}")
        elif err["type"] == "value_error":
            lines.append(f"'{where}' {err['ctx']['error']}")
        elif err["type"] == "missing":
            lines.append(f"'{where}' is missing")
        else:
            lines.append(f"'{where}' {err['msg'][0].lower()}{err['msg'][1:]}")
    return "; ".join(lines)


# --- applying it -----------------------------------------------------------------------------


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


@dataclass(frozen=True, eq=False)
class MappingResult:
    """What :func:`apply_mapping` made of a raw table, and how.

    Attributes
    ----------
    frame : DataFrame
        Canonical column names, raw-ish values for :func:`resorb.intake.conform`; one row per
        kept source row, in source order, with a fresh 0..n-1 index.
    kept_rows : ndarray of bool, shape (n_source_rows,)
        Which source rows passed the filter.
    source_rows : ndarray of int, shape (n_rows,)
        1-based source row number (1 = first row under the header) of each frame row.
    filtered : tuple of FilterStep
        Each filter condition with how many rows it left out; they sum to the rows dropped.
    dropped_columns : tuple of str
        Source columns not in the frame: unmapped (when ``drop_unmapped``), or replaced by a
        mapping target of the same name.
    passed_through : tuple of str
        Unmapped source columns that already carry a canonical name, copied unchanged.
    kept_unmapped : tuple of str
        Unmapped source columns kept under their own names (``drop_unmapped: false``).
    log : tuple of str
        One human line per transform, e.g. ``vas_leg <- VAS_leg_100 (0-100 -> 0-10, /10)``.
    origin : str
        The mapping file.
    n_source_columns : int
        Columns of the source table.
    """

    frame: pd.DataFrame
    kept_rows: np.ndarray
    source_rows: np.ndarray
    filtered: tuple[FilterStep, ...]
    dropped_columns: tuple[str, ...]
    passed_through: tuple[str, ...]
    kept_unmapped: tuple[str, ...]
    log: tuple[str, ...]
    origin: str = _IN_CODE
    n_source_columns: int = 0

    @property
    def n_source_rows(self) -> int:
        """Rows of the source table, before the filter."""
        return int(self.kept_rows.size)

    @property
    def n_filtered_out(self) -> int:
        """Source rows the filter left out."""
        return self.n_source_rows - int(self.kept_rows.sum())


def apply_mapping(raw: pd.DataFrame, mapping: Mapping, *,
                  source_name: str = "the file") -> MappingResult:
    """Filter, rename, recode and convert a raw table into canonical columns.

    Parameters
    ----------
    raw : DataFrame
        The source table as read (text cells from CSV or typed Parquet columns). Not modified.
    mapping : Mapping
        From :func:`load_mapping`.
    source_name : str
        How messages name the source table.

    Returns
    -------
    MappingResult
        The mapped frame (not yet coerced: pass it to :func:`resorb.intake.conform`), the
        filter's effect, the dropped columns and a log line per transform.

    Raises
    ------
    ConfigError
        The mapping reads a column the table lacks.
    InputError
        The filter keeps none of the rows.
    """
    labels = {str(c): c for c in raw.columns}
    _check_sources(mapping, labels, source_name)

    keep = np.ones(len(raw), dtype=bool)
    steps = []
    for cond in mapping.filter:
        ok = np.isin(_keys(raw[labels[cond.column]]),
                     [k for c in cond.accepted for k in _code_keys(c)])
        out = keep & ~ok
        steps.append(FilterStep(str(cond), int(out.sum()),
                                tuple(int(i) + 1 for i in np.flatnonzero(out)[:MAX_ROWS_SHOWN])))
        keep &= ok
    if not keep.any():
        raise InputError(f"{source_name}: the mapping's filter keeps none of its {len(raw):,} "
                         f"rows ({'; '.join(map(str, steps))}); check the filter's values")
    rows = raw.loc[keep].reset_index(drop=True)

    log = [f"filter: kept {int(keep.sum()):,} of {len(raw):,} source rows"] if steps else []
    log += [f"  {s}" for s in steps]
    out_cols: dict[str, pd.Series] = {}
    for target in (n for n in schema.NAMES if n in mapping.columns):
        rule = mapping.columns[target]
        series = rows[labels[rule.source]] if rule.source is not None else None
        out_cols[target], line = _build(target, rule, series, len(rows))
        log.append(line)

    read = {r.source for r in mapping.columns.values() if r.source is not None}
    dropped, passed, kept = [], [], []
    for name, label in labels.items():
        if name in mapping.columns:
            if name not in read:
                dropped.append(name)
                log.append(f"dropped '{name}' (replaced by the mapping's '{name}')")
        elif name in schema.BY_NAME:
            passed.append(name)
            out_cols[name] = rows[label]
            log.append(f"{name} <- {name} (already a resorb column, passed through)")
        elif name in read:
            continue
        elif mapping.drop_unmapped:
            dropped.append(name)
        else:
            kept.append(name)
            out_cols[name] = rows[label]
    if dropped_unmapped := [d for d in dropped if d not in mapping.columns]:
        log.append(f"dropped {len(dropped_unmapped)} unmapped source column"
                   f"{'s' * (len(dropped_unmapped) != 1)}: {', '.join(dropped_unmapped)}")
    if kept:
        log.append(f"kept {len(kept)} unmapped source column{'s' * (len(kept) != 1)} "
                   f"under their own names: {', '.join(kept)}")

    return MappingResult(
        frame=pd.DataFrame(out_cols, index=pd.RangeIndex(len(rows))),
        kept_rows=keep, source_rows=np.flatnonzero(keep) + 1, filtered=tuple(steps),
        dropped_columns=tuple(dropped), passed_through=tuple(passed), kept_unmapped=tuple(kept),
        log=tuple(log), origin=mapping.origin, n_source_columns=raw.shape[1])


def _check_sources(mapping: Mapping, labels: dict[str, Any], source_name: str) -> None:
    wanted = [(f"mapping '{t}'", r.source) for t, r in mapping.columns.items()
              if r.source is not None]
    wanted += [("the filter", c.column) for c in mapping.filter]
    missing = [(who, col) for who, col in wanted if col not in labels]
    if not missing:
        return
    names = list(labels)
    shown = ", ".join(names[:15]) + (f", ... ({len(names) - 15} more)" if len(names) > 15 else "")
    if len(missing) > 3:  # most likely the wrong file, or a mapping written for another export
        listed = ", ".join(f"'{col}'" for _, col in missing[:5])
        raise ConfigError(f"{Path(mapping.origin).name}: {len(missing)} columns the mapping reads "
                          f"are not in {source_name} ({listed}, ...); is it the file the "
                          f"mapping was written for? (columns: {shown})")
    folded = {n.casefold(): n for n in names}
    parts = []
    for who, col in missing:
        close = difflib.get_close_matches(col.casefold(), list(folded), n=1, cutoff=0.7)
        hint = f"; did you mean '{folded[close[0]]}'?" if close else ""
        parts.append(f"{who} reads column '{col}', which {source_name} lacks{hint}")
    raise ConfigError(f"{Path(mapping.origin).name}: {'; '.join(parts)} (columns: {shown})")


def _build(target: str, rule: ColumnRule, series: pd.Series | None,
           n: int) -> tuple[pd.Series, str]:
    """One canonical column from its rule, and the log line saying what was done."""
    if series is None:
        return (pd.Series([_cell(rule.value)] * n, dtype="str", name=target),
                f"{target} = {_show(rule.value)} (fixed value, not read from the file)")
    head = f"{target} <- {rule.source}"
    if rule.kind == "recode":
        return _recode(target, rule, series, head)
    if rule.kind == "convert":
        return _convert(target, rule, series, head)
    if rule.kind == "format":
        fmt = rule.format or "{}"
        text = pd.Series([None if pd.isna(v) else fmt.format(_text(v)) for v in series],
                         dtype="str", name=target)
        return text, f"{head} (copied as text, formatted '{fmt}')"
    return series.rename(target), f"{head} (copied)"


def _recode(target: str, rule: ColumnRule, series: pd.Series,
            head: str) -> tuple[pd.Series, str]:
    lookup = {k: v for code, v in (rule.values or {}).items() for k in _code_keys(code)}
    codes, uniques = pd.factorize(series)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    has_default = "default" in rule.model_fields_set
    cells: list[str | None] = []
    unmatched: list[str] = []
    n_unmatched = n_default = 0
    for u, count in zip(uniques, counts, strict=True):
        key = _key(u)
        if key in lookup:
            cells.append(_cell(lookup[key]))
        elif has_default:
            cells.append(_cell(rule.default))
            n_default += int(count)
        else:
            cells.append(_text(u))
            unmatched.append(_text(u))
            n_unmatched += int(count)
    cells.append(_cell(lookup[""]) if "" in lookup else None)  # codes == -1: empty cells
    out = pd.Series(np.asarray(cells, dtype=object)[codes], dtype="str", name=target)
    notes = [f"recoded {len(rule.values or {})} code{'s' * (len(rule.values or {}) != 1)}"]
    if n_default:
        notes.append(f"{n_default} cell{'s' * (n_default != 1)} not in the map set to "
                     f"default {_show(rule.default)}")
    if n_unmatched:
        shown = ("" if schema.BY_NAME[target].role is Role.IDENTIFIER else ": " + ", ".join(
            f"'{u}'" for u in unmatched[:MAX_VALUES_SHOWN]))
        notes.append(f"{n_unmatched} cell{'s' * (n_unmatched != 1)} not in the map left as "
                     f"found{shown}")
    return out, f"{head} ({'; '.join(notes)})"


def _convert(target: str, rule: ColumnRule, series: pd.Series,
             head: str) -> tuple[pd.Series, str]:
    unit = rule.unit or ""
    mul, div = {u.casefold(): f for u, f in allowed_units(target).items()}[unit.casefold()]
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype):
        numbers = series.astype("float64")
    else:
        numbers = pd.to_numeric(series.astype("str").str.strip(), errors="coerce")
    unparsed = (numbers.isna() & series.notna()).to_numpy()
    identity = (mul, div) == (1, 1)
    # round away float noise (0.58 x 100 = 57.99999999999999), far below any unit's precision
    values = numbers if identity else (numbers * mul / div).round(9)
    notes = [f"{unit} -> {_canonical_unit(target)}, "
             + ("unchanged" if identity else f"x{mul:g}" if div == 1 else f"/{div:g}")]
    if schema.BY_NAME[target].kind is Kind.INTEGER and not identity:
        values = np.floor(values + 0.5)  # whole days: half up, as a clinician would round
        notes.append("rounded to whole " + _canonical_unit(target))
    values = values.rename(target)
    if unparsed.any():
        values = values.astype(object).where(~unparsed, series)
        n_bad = int(unparsed.sum())
        notes.append(f"{n_bad} cell{'s' * (n_bad != 1)} not a number left as found")
    return values, f"{head} ({'; '.join(notes)})"


# --- codes as text ---------------------------------------------------------------------------


def _key(v: Any) -> str:
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
    return _key(number) if math.isfinite(number) else text.casefold()


def _code_keys(code: Code) -> tuple[str, ...]:
    """The keys a code in a mapping file matches (a YAML boolean stands for its spellings)."""
    return _BOOL_SPELLINGS[code] if isinstance(code, bool) else (_key(code),)


def _keys(series: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(series)
    return np.asarray([_key(u) for u in uniques] + [""], dtype=object)[codes]


def _text(v: Any) -> str:
    """A source cell as text, as a person would write it (7.0 -> '7')."""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _cell(v: Code) -> str | None:
    """A mapped value as the text cell conform will parse."""
    return None if v is None else _text(v)


def _show(v: Code) -> str:
    return "null" if v is None else repr(v) if isinstance(v, str) else _text(v)


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


# --- reading and describing ------------------------------------------------------------------


def in_source_rows(report: ValidationReport, result: MappingResult) -> ValidationReport:
    """Rewrite a report's row numbers (rows of the mapped frame) as source file rows.

    ``bad_rows`` stays aligned with the mapped frame; only the numbers shown to people change.
    """
    problems = tuple(
        replace(p, rows=tuple(int(result.source_rows[r - 1]) for r in p.rows))
        for p in report.problems)
    return replace(report, problems=problems)


def read_mapped(path: str | os.PathLike[str],
                mapping_path: str | os.PathLike[str] | Mapping | None = None,
                purpose: Purpose = "any",
                ) -> tuple[pd.DataFrame, ValidationReport, MappingResult | None]:
    """Read a table, map it (when a mapping is given) and conform it to the dictionary.

    Parameters
    ----------
    path : path-like
        CSV or Parquet file.
    mapping_path : path-like or Mapping, optional
        Mapping file (or an already loaded :class:`Mapping`); without it the file must
        already use canonical names.
    purpose : {"any", "scoring", "training"}
        Which columns are required.

    Returns
    -------
    (DataFrame, ValidationReport, MappingResult or None)
        The canonical frame (one row per kept source row), the report with row numbers
        pointing at SOURCE file rows, and what the mapping did (None without a mapping).
        Unmapped columns kept by ``drop_unmapped: false`` are carried, not reported.

    Raises
    ------
    InputError
        The file cannot be read, or the filter keeps no rows.
    ConfigError
        The mapping file is invalid or reads columns the file lacks.
    """
    raw = read_table(path)
    if mapping_path is None:
        frame, report = conform(raw, purpose=purpose)
        return frame, report, None
    mapping = (mapping_path if isinstance(mapping_path, Mapping)
               else load_mapping(mapping_path))
    result = apply_mapping(raw, mapping, source_name=Path(path).name)
    frame, report = conform(result.frame, purpose=purpose,
                            allow_unknown=not mapping.drop_unmapped)
    return frame, in_source_rows(report, result), result


def describe(result: MappingResult) -> str:
    """A human summary of what a mapping did, for ``resorb validate --mapping``.

    Returns
    -------
    str
        Several lines: sizes before and after, the filter's effect, one line per column.
    """
    rows, cols = result.frame.shape
    lines = [f"mapping {result.origin}: {result.n_source_rows:,} source rows x "
             f"{result.n_source_columns} columns -> {rows:,} rows x {cols} columns"]
    lines += [f"  {line}" for line in result.log]
    if result.n_filtered_out:
        lines.append("  row numbers in the validation report are source file rows "
                     "(1 = first row under the header)")
    return "\n".join(lines)
