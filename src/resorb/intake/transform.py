"""Transforming: a mapping's column rules turn source columns into canonical ones.

The plan (:func:`plan_columns`) depends on the header alone: which source column feeds each
canonical column, which columns pass through, are kept or dropped. :func:`transform` then
renames, recodes, converts units and formats the rows of a table, or of each chunk of one,
by that plan. Values stay raw-ish: the cell rules (:func:`resorb.intake.conform`) coerce and
check them afterwards, so a code that a ``values`` map forgot shows up as an unknown
category instead of vanishing.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Sequence
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from resorb import schema
from resorb.errors import ConfigError
from resorb.intake.check import empty_rows
from resorb.intake.codes import cell, code_keys, key, show, text
from resorb.intake.derive import DerivedColumns, derive_columns
from resorb.intake.mapping_file import ColumnRule, Mapping, allowed_units
from resorb.intake.report import MAX_VALUES_SHOWN
from resorb.schema import Kind, Role


@dataclass(frozen=True)
class ColumnPlan:
    """What a mapping does with a table's columns, decided from the header alone.

    Attributes
    ----------
    targets : tuple of str
        Canonical columns the mapping builds, in dictionary order.
    carried : tuple of str
        Unmapped source columns copied under their own names, in source order: canonical
        names (``passed_through``) and, with ``drop_unmapped: false``, the others
        (``kept_unmapped``).
    passed_through, kept_unmapped, dropped : tuple of str
        As in :class:`~resorb.intake.MappingResult`.
    log : tuple of str
        What happened to the columns that are not built (passed through, dropped, kept).
    read : tuple of str
        Every source column the mapping reads: its column rules and derivations, its
        filter, then the carried columns. A row blank in all of them is an empty row
        (:func:`transform` fills nothing into it).
    """

    targets: tuple[str, ...]
    carried: tuple[str, ...]
    passed_through: tuple[str, ...]
    kept_unmapped: tuple[str, ...]
    dropped: tuple[str, ...]
    log: tuple[str, ...]
    read: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """The mapped table's header."""
        return [*self.targets, *self.carried]


def plan_columns(mapping: Mapping, names: Sequence[str],
                 source_name: str = "the file") -> ColumnPlan:
    """Plan a mapping over a source header.

    Parameters
    ----------
    mapping : Mapping
    names : sequence of str
        The source table's column names.
    source_name : str
        How messages name the source table.

    Returns
    -------
    ColumnPlan

    Raises
    ------
    ConfigError
        The mapping (columns or filter) reads a column the header lacks.
    """
    labels = list(dict.fromkeys(names))
    _check_sources(mapping, labels, source_name)
    read = set(mapping.sources)
    built = set(mapping.columns) | set(mapping.derive)
    dropped, passed, kept, carried, log = [], [], [], [], []
    for name in labels:
        if name in built:
            if name not in read:
                dropped.append(name)
                log.append(f"dropped '{name}' (replaced by the mapping's '{name}')")
        elif name in schema.BY_NAME:
            passed.append(name)
            carried.append(name)
            log.append(f"{name} <- {name} (already a resorb column, passed through)")
        elif name in read:
            continue
        elif mapping.drop_unmapped:
            dropped.append(name)
        else:
            kept.append(name)
            carried.append(name)
    _one_way_label_volumes(mapping, passed, source_name)
    if dropped_unmapped := [d for d in dropped if d not in built]:
        named = [d for d in dropped_unmapped if d]
        # columns without a name (trailing separators, 'a;b;c;;'), counted, not shown as ''
        blank = names.count("") if "" in dropped_unmapped else 0
        n = len(named) + blank
        what = ", ".join([*named, *([f"{blank} without a name (trailing separator"
                                     f"{'s' * (blank != 1)}?)"] if blank else [])])
        log.append(f"dropped {n} unmapped source column{'s' * (n != 1)}: {what}")
    if kept:
        log.append(f"kept {len(kept)} unmapped source column{'s' * (len(kept) != 1)} "
                   f"under their own names: {', '.join(kept)}")
    targets = tuple(n for n in schema.NAMES if n in built)
    sources = [*mapping.sources, *(c.column for c in mapping.filter), *carried]
    return ColumnPlan(targets, tuple(carried), tuple(passed), tuple(kept), tuple(dropped),
                      tuple(log), tuple(dict.fromkeys(sources)))


#: the two volumes the label rule compares (``label.min_reduction_pct``)
_LABEL_VOLUMES = ("herniation_volume_mm3", "volume_followup_mm3")


def _one_way_label_volumes(mapping: Mapping, passed: Sequence[str], source_name: str) -> None:
    """Refuse one label volume derived while the other passes through as measured.

    The mapping file's own check (:class:`~resorb.intake.mapping_file.Mapping`) sees only the
    columns it names; a volume already under its resorb name passes through unmapped, and the
    label would then compare an ellipsoid estimate with a measured volume (on generated data
    the share labelled resorbed rose from 0.52-0.56 to 0.81-0.84).

    Raises
    ------
    ConfigError
        Naming both volumes, how each is obtained and the fix.
    """
    derived = [v for v in _LABEL_VOLUMES if v in mapping.derive]
    measured = [v for v in _LABEL_VOLUMES if v in passed]
    if len(derived) == 1 and measured:
        raise ConfigError(
            f"{source_name}: {derived[0]} is derived ({mapping.derive[derived[0]].method}) "
            f"but {measured[0]} passes through as measured: the label compares the two "
            "volumes (label rule min_reduction_pct), so measure both the same way: derive "
            f"both from diameters, or map {derived[0]} from its measured column too")


def transform(rows: pd.DataFrame, mapping: Mapping, plan: ColumnPlan,
              labels: AnyMapping[str, Hashable] | None = None,
              derived: DerivedColumns | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Build the canonical columns of ``rows`` by the plan (no row is filtered here).

    Parameters
    ----------
    rows : DataFrame of shape (n_rows, n_source_columns)
        Source rows (text cells from CSV or typed Parquet columns); not modified.
    mapping : Mapping
    plan : ColumnPlan
        From :func:`plan_columns` on the same header.
    labels : mapping, optional
        Column name -> label in ``rows``; default ``str(label)``.
    derived : DerivedColumns, optional
        The mapping's derivations already computed on ``rows``
        (:func:`resorb.intake.derive.derive_columns`; computed here when not given).

    Returns
    -------
    frame : DataFrame of shape (n_rows, len(plan.columns))
        Fresh ``0..n-1`` index, columns ``plan.columns``. A row whose every cell the mapping
        reads (``plan.read``) is blank stays blank: a fixed ``value``, a recode of empty
        cells and a derivation fill nothing into it, so the cell rules see an empty row
        (:func:`resorb.intake.check.empty_rows`) and report it as one, as they do without
        a mapping.
    log : list of str
        One line per built column, e.g. ``vas_leg <- VAS_leg_100 (0-100 -> 0-10, /10)``.
    """
    labels = labels if labels is not None else {str(c): c for c in rows.columns}
    if not rows.index.equals(pd.RangeIndex(len(rows))):
        rows = rows.reset_index(drop=True)
    if mapping.derive and derived is None:
        derived = derive_columns(rows, mapping, labels)
    blank = source_empty_rows(rows, plan, labels)
    out: dict[str, pd.Series] = {}
    log = []
    for target in plan.targets:
        if target in mapping.derive and derived is not None:
            out[target] = derived[target].values
            log.append(derived[target].log)
            continue
        rule = mapping.columns[target]
        series = rows[labels[rule.source]] if rule.source is not None else None
        out[target], line = _build(target, rule, series, len(rows))
        log.append(line)
    if blank.any():  # an export's trailing ;;;; rows: no fixed value makes them a patient
        out = {name: values.mask(blank) for name, values in out.items()}
        n = int(blank.sum())
        log.append(f"{n:,} source row{'s' * (n != 1)} with no cell the mapping reads "
                   "left empty (no fixed value or derivation filled in)")
    for name in plan.carried:
        out[name] = rows[labels[name]]
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows))), log


def source_empty_rows(rows: pd.DataFrame, plan: ColumnPlan,
                      labels: AnyMapping[str, Hashable] | None = None) -> np.ndarray:
    """Source rows blank in every column the mapping reads (spreadsheet export leftovers).

    Emptiness is decided on the source cells, before fixed values, recodes of empty cells
    and derivations; the same columns whether the whole table was read (``validate``,
    ``train``) or only the columns the mapping reads (``score``, either engine).

    Parameters
    ----------
    rows : DataFrame of shape (n_rows, n_source_columns)
        Source rows; not modified.
    plan : ColumnPlan
        From :func:`plan_columns` on the same header.
    labels : mapping, optional
        Column name -> label in ``rows``; default ``str(label)``.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
        False everywhere when the mapping reads no column.
    """
    labels = labels if labels is not None else {str(c): c for c in rows.columns}
    read = [labels[c] for c in plan.read if c in labels]
    return empty_rows(rows.loc[:, read])


def _check_sources(mapping: Mapping, names: list[str], source_name: str) -> None:
    wanted = [(f"mapping '{t}'", r.source) for t, r in mapping.columns.items()
              if r.source is not None]
    wanted += [("the filter", c.column) for c in mapping.filter]
    wanted += [(f"derivation '{t}'", src) for t, d in mapping.derive.items()
               for src in d.inputs.values()]
    missing = [(who, col) for who, col in wanted if col not in names]
    if not missing:
        return
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
        return (pd.Series([cell(rule.value)] * n, dtype="str", name=target),
                f"{target} = {show(rule.value)} (fixed value, not read from the file)")
    head = f"{target} <- {rule.source}"
    if rule.kind == "recode":
        return _recode(target, rule, series, head)
    if rule.kind == "convert":
        return _convert(target, rule, series, head)
    if rule.kind == "format":
        fmt = rule.format or "{}"
        formatted = pd.Series([None if pd.isna(v) else fmt.format(text(v)) for v in series],
                              dtype="str", name=target)
        return formatted, f"{head} (copied as text, formatted '{fmt}')"
    return series.rename(target), f"{head} (copied)"


def _recode(target: str, rule: ColumnRule, series: pd.Series,
            head: str) -> tuple[pd.Series, str]:
    lookup = {k: v for code, v in (rule.values or {}).items() for k in code_keys(code)}
    codes, uniques = pd.factorize(series)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    has_default = "default" in rule.model_fields_set
    cells: list[str | None] = []
    unmatched: list[str] = []
    n_unmatched = n_default = 0
    for u, count in zip(uniques, counts, strict=True):
        code = key(u)
        if code in lookup:
            cells.append(cell(lookup[code]))
        elif has_default:
            cells.append(cell(rule.default))
            n_default += int(count)
        else:
            cells.append(text(u))
            unmatched.append(text(u))
            n_unmatched += int(count)
    cells.append(cell(lookup[""]) if "" in lookup else None)  # codes == -1: empty cells
    out = pd.Series(np.asarray(cells, dtype=object)[codes], dtype="str", name=target)
    notes = [f"recoded {len(rule.values or {})} code{'s' * (len(rule.values or {}) != 1)}"]
    if n_default:
        notes.append(f"{n_default} cell{'s' * (n_default != 1)} not in the map set to "
                     f"default {show(rule.default)}")
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
    notes = [f"{unit} -> {schema.BY_NAME[target].mapping_unit}, "
             + ("unchanged" if identity else f"x{mul:g}" if div == 1 else f"/{div:g}")]
    if schema.BY_NAME[target].kind is Kind.INTEGER and not identity:
        values = np.floor(values + 0.5)  # whole days: half up, as a clinician would round
        notes.append("rounded to whole " + schema.BY_NAME[target].mapping_unit)
    values = values.rename(target)
    if unparsed.any():
        values = values.astype(object).where(~unparsed, series)
        n_bad = int(unparsed.sum())
        notes.append(f"{n_bad} cell{'s' * (n_bad != 1)} not a number left as found")
    return values, f"{head} ({'; '.join(notes)})"
