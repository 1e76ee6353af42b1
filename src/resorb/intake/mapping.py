"""Reading a hospital's table as a canonical resorb frame, through a mapping file.

:func:`apply_mapping` is a pure function from a raw frame to a :class:`MappingResult`: it
filters the rows (:mod:`resorb.intake.row_filter`), then renames, recodes and converts the
columns (:mod:`resorb.intake.transform`). Its frame still holds raw-ish values:
:func:`resorb.intake.conform` coerces and checks them. :func:`read_mapped` chains read, map and
conform for ``validate`` and ``train``; :class:`ChunkMapping` plans a mapping once per file
and applies it once per chunk for ``score``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from resorb.errors import InputError
from resorb.intake.check import conform
from resorb.intake.derive import DerivedColumns, derive_columns, fold_into_report
from resorb.intake.mapping_file import IN_CODE, Mapping, load_mapping
from resorb.intake.reader import read_table
from resorb.intake.report import Purpose, ValidationReport, renumbered
from resorb.intake.row_filter import FilterStep, filter_rows
from resorb.intake.transform import plan_columns, transform


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
    derived : DerivedColumns
        The mapping's derivations on the kept rows: which rows each refused, and why.
    """

    frame: pd.DataFrame
    kept_rows: np.ndarray
    source_rows: np.ndarray
    filtered: tuple[FilterStep, ...]
    dropped_columns: tuple[str, ...]
    passed_through: tuple[str, ...]
    kept_unmapped: tuple[str, ...]
    log: tuple[str, ...]
    origin: str = IN_CODE
    n_source_columns: int = 0
    derived: DerivedColumns = field(default_factory=DerivedColumns)

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
    plan = plan_columns(mapping, [str(c) for c in raw.columns], source_name)
    keep, steps = filter_rows(raw, mapping.filter, labels)
    if not keep.any():
        raise InputError(f"{source_name}: the mapping's filter keeps none of its {len(raw):,} "
                         f"rows ({'; '.join(map(str, steps))}); check the filter's values")
    kept = raw.loc[keep]
    derived = derive_columns(kept, mapping, labels)
    frame, lines = transform(kept, mapping, plan, labels, derived=derived)
    log = [f"filter: kept {int(keep.sum()):,} of {len(raw):,} source rows"] if steps else []
    log += [f"  {s}" for s in steps]
    return MappingResult(
        frame=frame, kept_rows=keep, source_rows=np.flatnonzero(keep) + 1, filtered=steps,
        dropped_columns=plan.dropped, passed_through=plan.passed_through,
        kept_unmapped=plan.kept_unmapped, log=(*log, *lines, *plan.log),
        origin=mapping.origin, n_source_columns=raw.shape[1], derived=derived)


class ChunkMapping:
    """A mapping planned once for a file's header, then applied once to each chunk.

    Scoring keeps every row (a row the filter leaves out is rejected, not dropped), so
    :meth:`apply` transforms every row and says which rows the filter keeps.

    Parameters
    ----------
    mapping : Mapping
    names : sequence of str
        The source file's header.
    source_name : str
        How messages name the source file.

    Raises
    ------
    ConfigError
        The mapping reads a column the header lacks.
    """

    def __init__(self, mapping: Mapping, names: Sequence[str],
                 source_name: str = "the file") -> None:
        self.mapping = mapping
        self.plan = plan_columns(mapping, names, source_name)

    @property
    def columns(self) -> list[str]:
        """The mapped header: canonical names, then carried source columns."""
        return self.plan.columns

    @property
    def sources(self) -> list[str]:
        """Source columns the mapping reads (the others need not be read at all)."""
        return list(self.plan.read)

    def apply(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
        """One chunk mapped: every row transformed, and which rows the filter keeps.

        Returns
        -------
        frame : DataFrame of shape (n_rows, len(columns))
            Fresh ``0..n-1`` index.
        keep : ndarray of bool, shape (n_rows,), or None
            None when the mapping has no filter.
        """
        frame, keep, _ = self.apply_with_reasons(raw)
        return frame, keep

    def apply_with_reasons(self, raw: pd.DataFrame
                           ) -> tuple[pd.DataFrame, np.ndarray | None, np.ndarray | None]:
        """As :meth:`apply`, and why the mapping's derivations refuse rows.

        Returns
        -------
        frame, keep
            As :meth:`apply`.
        reasons : ndarray of object, shape (n_rows,), or None
            ``""`` for a row every derivation accepts, else the reasons
            (:meth:`~resorb.intake.derive.DerivedColumns.reasons`); None without a
            ``derive`` section.
        """
        labels = {str(c): c for c in raw.columns}
        keep = filter_rows(raw, self.mapping.filter, labels)[0] if self.mapping.filter else None
        if not self.mapping.derive:
            return transform(raw, self.mapping, self.plan, labels)[0], keep, None
        rows = raw.reset_index(drop=True)
        derived = derive_columns(rows, self.mapping, labels)
        frame = transform(rows, self.mapping, self.plan, labels, derived=derived)[0]
        return frame, keep, derived.reasons(len(rows))


def in_source_rows(report: ValidationReport, result: MappingResult) -> ValidationReport:
    """Rewrite a report's row numbers (rows of the mapped frame) as source file rows.

    ``bad_rows`` stays aligned with the mapped frame; only the numbers shown to people change.
    """
    return renumbered(report, result.source_rows)


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
        Unmapped columns kept by ``drop_unmapped: false`` are carried, and reported as a
        file's unknown columns are (a note; a likely typo a problem for "any"/"training").

    Raises
    ------
    InputError
        The file cannot be read, or the filter keeps no rows.
    ConfigError
        The mapping file is invalid or reads columns the file lacks.
    """
    if mapping_path is None:
        frame, report = conform(read_table(path), purpose=purpose)
        return frame, report, None
    mapping = (mapping_path if isinstance(mapping_path, Mapping)
               else load_mapping(mapping_path))
    raw = read_table(path, dialect=mapping.dialect, numeric=mapping.numeric_sources)
    result = apply_mapping(raw, mapping, source_name=Path(path).name)
    frame, report = conform(result.frame, purpose=purpose,
                            allow_unknown=not mapping.drop_unmapped)
    report = fold_into_report(report, result.derived)
    return frame, in_source_rows(report, result), result


def describe(result: MappingResult) -> str:
    """A human summary of what a mapping did, for ``resorb validate --mapping``.

    Returns
    -------
    str
        Several lines: sizes before and after, the filter's effect, one line per column.
    """
    rows, cols = result.frame.shape
    lines = [f"mapping {result.origin}: {_many(result.n_source_rows, 'source row')} x "
             f"{_many(result.n_source_columns, 'column')} -> {_many(rows, 'row')} x "
             f"{_many(cols, 'column')}"]
    lines += [f"  {line}" for line in result.log]
    if result.n_filtered_out:
        lines.append("  row numbers in the validation report are source file rows "
                     "(1 = first row under the header)")
    return "\n".join(lines)


def _many(n: int, noun: str) -> str:
    """``1 row``, ``1,000 rows``: a count with its noun in agreement."""
    return f"{n:,} {noun}{'s' * (n != 1)}"
