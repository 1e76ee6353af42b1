"""The validation report: every rule a table breaks, grouped by column, with rows and fixes.

Row numbers are 1-based data rows: row 1 is the first row under the header. Identifier values
are never quoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Purpose = Literal["any", "scoring", "training"]
MAX_ROWS_SHOWN = 5
MAX_VALUES_SHOWN = 3
#: the "column" of a problem about whole rows (rule ``empty_row``)
EMPTY_COLUMNS = "(every column)"


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
        if self.rule == "empty_row":
            word = "row" if self.count == 1 else "rows"
            more = " ..." if self.count > len(self.rows) else ""
            return f"{word} {_spans(self.rows)}{more} {self.message}: {self.hint}"
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
    #: warnings that do not make the table invalid (e.g. predictors training cannot use)
    notes: tuple[str, ...] = ()
    #: False for a header checked before any row was read (:func:`~resorb.intake.check_header`):
    #: ``n_rows`` is then unknown, and the summary claims no row count
    rows_read: bool = True

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
            return (f"valid: {_count(self.n_rows, 'row')}, "
                    f"{_count(self.n_columns, 'column')} ({self.purpose})")
        n = len(self.problems)
        cols = len({p.column for p in self.problems} - {EMPTY_COLUMNS})
        out = f"invalid: {_count(n, 'problem')}"
        out += f" in {_count(cols, 'column')}, " if cols else ", "
        out += (f"{self.n_bad_rows:,} of {_count(self.n_rows, 'row')} affected" if self.rows_read
                else "found in the header (no row was read)")
        missing = [p.column for p in self.problems if p.rule == "missing_column"]
        if missing:
            shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
            out += f"; {len(missing)} required column{'s' * (len(missing) != 1)} absent ({shown})"
            out += other_set_hint(missing, self.purpose)
        return out

    def render(self) -> str:
        """The full report, grouped by column, one problem per line."""
        lines = [self.summary()]
        if self.ok:
            return lines[0]
        if self.rows_read:
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


def _spans(rows: tuple[int, ...]) -> str:
    """``61-62, 70``: row numbers with consecutive runs joined."""
    runs: list[list[int]] = []
    for r in rows:
        if runs and r == runs[-1][-1] + 1:
            runs[-1].append(r)
        else:
            runs.append([r])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def _count(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``: a count with its noun in agreement."""
    return f"{n:,} {noun}{'s' * (n != 1)}"


def other_set_hint(missing: list[str], purpose: str) -> str:
    """What to do when every absent column is one a shipped predictor set does without.

    A routine clinic's file lacks exactly the research measurements the ``routine`` set
    leaves out (docs/predictor_sets.md); the fix is then a model of that set, not mapping
    columns the clinic never recorded.

    Parameters
    ----------
    missing : list of str
        The absent required columns.
    purpose : str
        ``scoring`` suggests the set's reference predictor (``--model models/<set>``); any
        other purpose also suggests training on the set (``--predictors <set>``).

    Returns
    -------
    str
        ``""`` when no set other than ``full`` does without all of them, else a clause
        starting with ``"; "``.
    """
    from resorb.schema import PREDICTOR_SETS

    absent = set(missing)
    for name, pset in PREDICTOR_SETS.items():
        if name == "full" or not absent or absent & set(pset.members):
            continue
        if not absent <= set(PREDICTOR_SETS["full"].members):
            return ""
        fix = f"--model models/{name}"
        if purpose != "scoring":
            fix = f"--predictors {name} to train, or validate with {fix}"
        return (f"; the file holds the {name} predictor set, which does without "
                f"{'it' if len(absent) == 1 else 'them'}: use {fix}")
    return ""


def row_numbers(mask: np.ndarray) -> tuple[int, ...]:
    """The first :data:`MAX_ROWS_SHOWN` 1-based row numbers where ``mask`` is true."""
    return tuple(int(i) + 1 for i in np.flatnonzero(mask)[:MAX_ROWS_SHOWN])


def renumbered(report: ValidationReport, source_rows: np.ndarray) -> ValidationReport:
    """The report with its row numbers rewritten as source file rows.

    Parameters
    ----------
    report : ValidationReport
        Row numbers count rows of a mapped (filtered) frame.
    source_rows : ndarray of int, shape (n_rows,)
        1-based source row number of each frame row.

    Returns
    -------
    ValidationReport
        ``bad_rows`` stays aligned with the frame; only the numbers shown to people change.
    """
    problems = tuple(replace(p, rows=tuple(int(source_rows[r - 1]) for r in p.rows))
                     for p in report.problems)
    return replace(report, problems=problems)
