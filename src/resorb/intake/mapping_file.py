"""The mapping file: loading it and checking it once, into a frozen :class:`Mapping`.

A hospital's export never arrives in resorb's column names, codes or units. A mapping file
(YAML) says which rows to keep and, for each canonical column, where its values come from and
how they become resorb's vocabulary::

    filter:                                   # optional: rows to keep, on SOURCE columns
      - {column: "Disc herniation", equals: 1}
      - {column: "IVD label", in: [1, 2, 3, 4, 5]}
    columns:
      patient_id: {from: "Patient", format: "SPIDER-{}"}      # copy (optionally formatted)
      level: {from: "IVD label", values: {1: L5-S1, 2: L4-L5}}  # recode codes
      vas_leg: {from: "VAS_leg_100", unit: "0-100"}          # convert to the canonical unit
      treatment: {value: conservative}                       # fixed value
    drop_unmapped: true
    derive:                                   # optional: columns computed from several
      herniation_volume_mm3:                  # source columns (resorb.intake.derive)
        method: ellipsoid_volume
        from: {ap: "Hern AP", transverse: "Hern LR", craniocaudal: "Hern CC"}
        unit: mm
    dialect: {separator: ";", decimal: ",", encoding: latin-1}  # optional: how the CSV is written

A mapping may hold a ``dialect`` only (no ``columns``) for an export that already uses
resorb's names; :class:`~resorb.intake.dialect.Dialect` lists its keys.

Units and their conversion factors come from the data dictionary
(:attr:`resorb.schema.Column.conversions`); codes are compared as
:mod:`resorb.intake.codes` says. Applying a mapping is :mod:`resorb.intake.mapping`'s.
"""

from __future__ import annotations

import difflib
import os
import string
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from resorb import schema
from resorb.config import Frozen
from resorb.errors import ConfigError
from resorb.intake.codes import Code, Scalar, cell, code_keys, quoted, show
from resorb.intake.derive import LENGTH_UNITS, METHODS, check_date_format
from resorb.intake.dialect import Dialect
from resorb.intake.rules import check_column

IN_CODE = "(built in code)"


def allowed_units(target: str) -> dict[str, tuple[float, float]]:
    """Source units a mapping may declare for canonical column ``target``.

    Returns
    -------
    dict
        ``{unit: (multiply, divide)}`` from the data dictionary
        (:attr:`resorb.schema.Column.conversions`); empty when the column has no unit.
    """
    return schema.BY_NAME[target].conversions


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
        shown = ", ".join(show(c) for c in self.accepted)
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
            raise ValueError(f"has a fixed 'value', which takes no {quoted(extras)}")
        if len(given & {"values", "unit", "format"}) > 1:
            raise ValueError("may recode ('values'), convert ('unit') or format ('format'), "
                             f"only one of them; got {quoted(extras)}")
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
            try:  # the value is always text: a number's spec ("{:d}", "{:.2f}") fails on use
                self.format.format("12")
            except (ValueError, TypeError, IndexError, KeyError) as exc:
                raise ValueError(f"has format '{self.format}', which cannot format a cell "
                                 f"({exc}); cells are formatted as text: use a plain '{{}}' "
                                 "(e.g. 'SPIDER-{}') or a text spec such as '{:>6}'") from None
        return self

    @property
    def kind(self) -> str:
        """One of "fixed", "recode", "convert", "format", "copy"."""
        if self.source is None:
            return "fixed"
        if self.values is not None:
            return "recode"
        return "convert" if self.unit is not None else "format" if self.format else "copy"


class Derivation(Frozen):
    """A canonical column computed from several source columns by a named method.

    ``method`` is one of :data:`resorb.intake.derive.METHODS` (``ellipsoid_volume``,
    ``canal_occupation``, ``days_between``); ``from`` maps each of the method's inputs to a
    source column; ``unit`` (``mm`` or ``cm``, or one per input) is required for lengths and
    ``format`` (a strptime format, default ``%Y-%m-%d``) applies to dates.
    """

    method: Literal["ellipsoid_volume", "canal_occupation", "days_between"]
    inputs: dict[str, str] = Field(alias="from")
    unit: str | dict[str, str] | None = None
    format: str | None = None

    @field_validator("inputs", mode="before")
    @classmethod
    def _source_names(cls, v: Any) -> Any:
        return {k: _as_name(c) for k, c in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _consistent(self) -> Derivation:
        method = METHODS[self.method]
        wanted = set(method.inputs)
        if set(self.inputs) != wanted:
            lacks = sorted(wanted - set(self.inputs))
            extra = sorted(set(self.inputs) - wanted)
            parts = ([f"lacks {quoted(lacks)}"] if lacks else []) + (
                [f"has unknown {quoted(extra)}"] if extra else [])
            raise ValueError(f"method '{self.method}' reads {quoted(list(method.inputs))} "
                             f"in 'from'; it {' and '.join(parts)}")
        if method.kind == "date":
            if self.unit is not None:
                raise ValueError(f"method '{self.method}' reads dates, which take a 'format' "
                                 "(e.g. '%d.%m.%Y'), not a 'unit'")
            if self.format is not None and (why := check_date_format(self.format)):
                raise ValueError(f"has format '{self.format}', which cannot read dates: {why}")
            return self
        if self.format is not None:
            raise ValueError(f"method '{self.method}' reads lengths, which take a 'unit', "
                             "not a date 'format'")
        if self.unit is None:
            raise ValueError(f"method '{self.method}' needs the 'unit' of its lengths: "
                             f"{' or '.join(LENGTH_UNITS)} (one for all, or one per input)")
        units = (self.unit if isinstance(self.unit, dict)
                 else dict.fromkeys(method.inputs, self.unit))
        if set(units) != wanted:
            raise ValueError(f"gives units for {quoted(sorted(units))}; give one unit for all "
                             f"inputs or one for each of {quoted(list(method.inputs))}")
        for name, unit in units.items():
            if unit not in LENGTH_UNITS:
                raise ValueError(f"unknown length unit '{unit}' for '{name}'; allowed: "
                                 f"{', '.join(LENGTH_UNITS)}")
        return self


class Mapping(Frozen):
    """A validated mapping file: row filter, one rule per canonical column, unmapped policy,
    and the columns derived from several source columns."""

    filter: tuple[Condition, ...] = ()
    columns: dict[str, ColumnRule]
    drop_unmapped: bool = True
    derive: dict[str, Derivation] = Field(default_factory=dict)
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    drop_unmapped: bool = True
    dialect: Dialect | None = None
    _origin: str = PrivateAttr(default=IN_CODE)

    @model_validator(mode="after")
    def _says_something(self) -> Mapping:
        if not self.columns and not self.derive and self.dialect is None:
            raise PydanticCustomError("resorb", "'columns' is missing: map at least one column "
                                      "(or give a 'derive' section, or only a 'dialect' for a "
                                      "file in resorb's names)")
        return self

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

    @field_validator("derive", mode="before")
    @classmethod
    def _no_derivations(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("derive")
    @classmethod
    def _derived_targets(cls, derive: dict[str, Derivation]) -> dict[str, Derivation]:
        for target, d in derive.items():
            method = METHODS[d.method]
            if target not in method.targets:
                raise PydanticCustomError(
                    "resorb", f"'derive.{target}': method '{d.method}' builds "
                    f"{' or '.join(method.targets)}, not '{target}'")
        return derive

    @model_validator(mode="after")
    def _one_source_per_column(self) -> Mapping:
        if both := sorted(set(self.columns) & set(self.derive)):
            raise PydanticCustomError(
                "resorb", f"{', '.join(both)} is both in 'columns' and in 'derive': map it "
                "or derive it, not both")
        volumes = ("herniation_volume_mm3", "volume_followup_mm3")
        how = {v: self.derive[v].method if v in self.derive else "measured" for v in volumes
               if v in self.derive or v in self.columns}
        if len(how) == 2 and len(set(how.values())) == 2:
            raise PydanticCustomError(
                "resorb", f"herniation_volume_mm3 is {how[volumes[0]]} but volume_followup_mm3 "
                f"is {how[volumes[1]]}: the label compares the two volumes (label rule "
                "min_reduction_pct), so measure both the same way: derive both from "
                "diameters, or map both volumes (or map neither and give 'resorbed')")
        return self

    @property
    def origin(self) -> str:
        """The file the mapping was read from ("(built in code)" otherwise)."""
        return self._origin

    @property
    def numeric_sources(self) -> frozenset[str]:
        """Source columns read as numbers: a decimal-comma dialect rewrites only these.

        Those copied or unit-converted into a numeric dictionary column, the lengths of the
        derivations, and source columns already named as a numeric dictionary column (passed
        through unmapped). Recoded columns (their codes are compared as written), free text,
        categories, dates and identifiers are not.
        """
        numeric = {c.name for c in schema.COLUMNS
                   if c.kind in (schema.Kind.NUMBER, schema.Kind.INTEGER)}
        read = {r.source for target, r in self.columns.items()
                if r.source is not None and target in numeric and r.kind in ("copy", "convert")}
        read |= {src for d in self.derive.values() if METHODS[d.method].kind == "length"
                 for src in d.inputs.values()}
        return frozenset(read | (numeric - set(self.columns)))

    @property
    def sources(self) -> list[str]:
        """Every source column the column rules and derivations read, in mapping order."""
        read = [r.source for r in self.columns.values() if r.source is not None]
        read += [src for d in self.derive.values() for src in d.inputs.values()]
        return list(dict.fromkeys(read))


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
    cells = pd.Series([cell(v) for v in targets], dtype=object)
    for p in check_column(cells, schema.BY_NAME[target]).problems():
        if p.rule in ("category", "type", "integer", "below", "above"):
            raise PydanticCustomError("resorb", f"'columns.{target}': mapped values break the "
                                      f"data dictionary: {target} {p.message}")


def _check_codes(codes: tuple[Code, ...], where: str) -> None:
    seen: dict[str, Code] = {}
    for code in codes:
        for key in code_keys(code):
            if key in seen and seen[key] != code:
                raise ValueError(f"has '{where}' keys {show(seen[key])} and {show(code)}, which "
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
        resorb column (with a suggestion), both ``from`` and ``value``, an unknown unit, a
        recode to a value the data dictionary does not accept, or an invalid derivation (see
        :class:`Derivation`; a column both mapped and derived; the label's two volumes
        measured differently). The message names the file and the offending key.
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


def parse_mapping(data: Any, origin: str = IN_CODE) -> Mapping:
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
    if data is None:  # an empty file, or one of comments only: YAML reads it as null
        raise ConfigError(f"mapping {origin} is empty: give at least a 'columns' section "
                          "(e.g. columns: {age: {from: Age}}), a 'derive' section, or only "
                          "a 'dialect' for a file already in resorb's column names (see "
                          "examples/README.md)")
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
                     else Derivation if loc[0] == "derive"
                     else Dialect if loc[0] == "dialect" else ColumnRule)
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
