"""Checking a table against the data dictionary: the header, then every cell.

:func:`conform` coerces every known column to its canonical dtype and collects every problem
at once into a :class:`~resorb.intake.ValidationReport` (grouped by column and rule, with
counts, the first row numbers and a likely fix); :func:`conform_rows` applies the same cell
rules (:mod:`resorb.intake.rules`) but says, row by row, which rules each row breaks.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from resorb import schema
from resorb.intake.reader import read_table
from resorb.intake.report import EMPTY_COLUMNS, Problem, Purpose, ValidationReport, row_numbers
from resorb.intake.rules import ColumnCheck, check_column

if TYPE_CHECKING:
    from resorb.config import LabelRule


def required_columns(purpose: Purpose) -> tuple[str, ...]:
    """Columns that must be present for a purpose ("any", "scoring" or "training")."""
    req = [c.name for c in schema.COLUMNS if c.required]
    if purpose == "training":
        req.append("followup_days")
    return tuple(req)


def check_header(columns: Sequence[str], purpose: Purpose = "any",
                 allow_unknown: bool = False) -> ValidationReport:
    """Check a table's header: columns given twice, required columns absent, unknown names.

    Parameters
    ----------
    columns : sequence of str
        The header, in file order.
    purpose
        As for :func:`conform`.
    allow_unknown
        As for :func:`conform`; the header's problems are the same either way (it only says
        whether a frame would carry the unknown columns).

    Returns
    -------
    ValidationReport
        Column problems only (no rows are read), in dictionary order of the columns.
    """
    names = [str(c) for c in columns]
    problems = _header_problems(names, purpose)
    return ValidationReport(n_rows=0, n_columns=len(names), problems=_in_dictionary_order(problems),
                            purpose=purpose, rows_read=False)


def _header_problems(names: list[str], purpose: Purpose) -> list[Problem]:
    # empty names are trailing separators (``a;b;c;;``), not a column given twice: a note
    problems = [Problem(name, "duplicate_column", names.count(name),
                        f"appears {names.count(name)} times in the header", hint="keep one copy")
                for name in sorted({c for c in names if c and names.count(c) > 1})]
    for name in required_columns(purpose):
        if name not in names:
            col = schema.BY_NAME[name]
            problems.append(Problem(name, "missing_column", 0, "is required but absent",
                                    hint=f"{col.description} ({col.allowed}); rename or map "
                                         f"a source column with --mapping"))
    if purpose != "scoring":  # scoring ignores them all: a note, below
        for name in _misspelt(names):
            close = _closest(name)
            problems.append(Problem(name, "unknown_column", 0,
                                    f"is not in the data dictionary, and '{close}', which "
                                    "is, is absent",
                                    hint=f"did you mean '{close}'? rename it or map it with "
                                         "--mapping (see `resorb schema`); a predictor left "
                                         "out by a typo would be silently unused"))
    return problems


def _misspelt(names: list[str]) -> list[str]:
    """Unknown names close to a dictionary column the header lacks: likely typos."""
    present = set(names)
    return [c for c in dict.fromkeys(names) if c not in schema.BY_NAME
            and (close := _closest(c)) is not None and close not in present]


def _ignored_note(names: list[str], purpose: Purpose = "scoring",
                  df: pd.DataFrame | None = None) -> tuple[str, ...]:
    """Columns not in the dictionary are read by no command: a note naming them.

    Scoring ignores every one (as ``score`` says); for "any" and "training" the likely typos
    (:func:`_misspelt`) are problems instead, so only the others are named here. Columns
    without a name get a note of their own (:func:`_blank_names_note`), which says, when the
    table ``df`` is given, whether they hold any value.
    """
    skip = set() if purpose == "scoring" else set(_misspelt(names))
    unknown = [c for c in dict.fromkeys(names)
               if c and c not in schema.BY_NAME and c not in skip]
    verb = "scoring ignores" if purpose == "scoring" else "every command ignores"
    notes = _blank_names_note(names, verb, df)
    if not unknown:
        return notes
    shown = [f"'{c}'" + (f" (did you mean '{close}'?)" if (close := _closest(c)) else "")
             for c in unknown]
    return (f"{verb} {len(unknown)} column{'s' * (len(unknown) != 1)} not in the "
            f"data dictionary: {', '.join(shown)}", *notes)


def _blank_names_note(names: list[str], verb: str,
                      df: pd.DataFrame | None) -> tuple[str, ...]:
    """Columns without a name, as trailing separators make them (``a;b;c;;``): a note.

    Ignored as any column outside the dictionary is; with the table's cells at hand the
    note says whether they hold a value (lost to every command) or none (nothing lost).
    """
    at = [i for i, c in enumerate(names) if not c]
    if not at:
        return ()
    n = len(at)
    s, it, they = ("", "it", "it") if n == 1 else ("s", "them", "they")
    if at == list(range(len(names) - n, len(names))):
        what = (f"the header ends with {n} empty column name{s} (trailing separator{s}, as a "
                "spreadsheet exports 'a;b;c;;')")
    else:
        what = (f"the header has {n} empty column name{s} (column{s} "
                f"{', '.join(str(i + 1) for i in at)} of {len(names)})")
    text = f"{what}: {verb} {it}"
    if df is not None:
        filled = int((~empty_rows(df.iloc[:, at])).sum())
        if filled:
            text += (f"; {filled} row{'s' * (filled != 1)} hold a value there, which no "
                     f"command reads: name {it} in the header if {they} matter")
        else:
            text += (f"; {they} hold{'s' * (n == 1)} no value, so nothing is lost (delete "
                     f"{it} in the sheet to silence this)")
    return (text,)


def _in_dictionary_order(problems: list[Problem]) -> tuple[Problem, ...]:
    order = {name: i for i, name in enumerate(schema.NAMES)}
    return tuple(sorted(problems, key=lambda p: order.get(p.column, len(order))))


def _closest(name: str) -> str | None:
    match = difflib.get_close_matches(name.lower().replace(" ", "_"), schema.NAMES, n=1,
                                      cutoff=0.75)
    return match[0] if match else None


#: the reason ``score`` gives a row whose every cell is blank
EMPTY_ROW = "empty row"
#: how many empty rows the report names (as runs: ``rows 61-260``)
MAX_EMPTY_SHOWN = 10_000


def empty_rows(df: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is missing or blank text: spreadsheet export leftovers.

    Excel exports rows it once formatted as ``;;;;;;``: no cell filled in. Reported as one
    problem (``empty_row``) rather than one missing value per required column.

    Parameters
    ----------
    df : DataFrame
        Raw or canonical table, any columns.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
        False everywhere for a table without columns.
    """
    if df.shape[1] == 0:
        return np.zeros(len(df), dtype=bool)
    empty = np.ones(len(df), dtype=bool)
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        blank = col.isna().to_numpy(dtype=bool, copy=True)
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            filled = np.flatnonzero(empty & ~blank)  # only rows still empty so far: cheap
            if filled.size:
                text = col.iloc[filled].astype("string").str.strip()
                blank[filled] = (text == "").fillna(True).to_numpy(dtype=bool)
        empty &= blank
        if not empty.any():
            break
    return empty


def empty_row_problem(empty: np.ndarray) -> Problem:
    """One problem naming the entirely empty rows (the first :data:`MAX_EMPTY_SHOWN`)."""
    n = int(empty.sum())
    rows = tuple(int(i) + 1 for i in np.flatnonzero(empty)[:MAX_EMPTY_SHOWN])
    return Problem(EMPTY_COLUMNS, "empty_row", n,
                   f"{'is' if n == 1 else 'are'} entirely empty, probably spreadsheet export "
                   "leftovers", rows,
                   hint="delete them (or save the sheet again without its trailing rows)")


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
        Carry columns that are not in the dictionary into the frame (a mapping's
        ``drop_unmapped: false``). They are reported either way, as docs/hardening.md says:
        a note naming them (no command reads them), and for "any" and "training" a likely
        typo of an absent dictionary column is a problem (``unknown_column``).

    Returns
    -------
    (DataFrame, ValidationReport)
        The canonical frame (same rows, same order; invalid cells set missing) and the report.
    """
    names = [str(c) for c in df.columns]
    problems = _header_problems(names, purpose)
    as_read = df
    if df.columns.duplicated().any():
        df = df.loc[:, ~df.columns.duplicated()]
    bad = np.zeros(len(df), dtype=bool)
    out: dict[str, pd.Series] = {}
    empty = empty_rows(df)
    for checked in _check_columns(df, purpose):
        out[checked.column.name] = checked.values
        if empty.any():  # one problem for the empty rows, not one per required column
            checked = dataclasses.replace(checked, broken=tuple(
                (rule, mask & ~empty) for rule, mask in checked.broken if (mask & ~empty).any()))
        problems.extend(checked.problems())
        bad |= checked.bad
    if empty.any():
        problems.append(empty_row_problem(empty))
        bad |= empty
    if "patient_id" in out and "level" in out:
        repeated = _repeated_episodes(out["patient_id"], out["level"])
        if repeated.any():
            n = int(repeated.sum())
            problems.append(Problem(
                "patient_id", "duplicate_episode", n,
                f"has {n} row{'s' * (n != 1)} repeating the same patient and level",
                row_numbers(repeated),
                "one row per herniation episode; keep the latest or give each a level"))
            bad |= repeated
    if allow_unknown:
        for name in df.columns:
            if name not in schema.BY_NAME:
                out[str(name)] = df[name]
    canonical = pd.DataFrame(out, index=df.index)
    notes = (*purpose_notes(canonical, purpose), *_ignored_note(names, purpose, as_read))
    report = ValidationReport(n_rows=len(df), n_columns=len(names),
                              problems=_in_dictionary_order(problems), purpose=purpose,
                              bad_rows=bad, notes=notes)
    return canonical, report


OUTCOME_SOURCES = ("volume_followup_mm3", "resorption_grade", "resorbed")


def outcome_problems(frame: pd.DataFrame, rule: LabelRule | None = None) -> list[Problem]:
    """A training file must hold both outcomes among its labelled rows.

    The label is derived as training derives it (:func:`resorb.label.derive_resorbed`; rows
    operated before follow-up do not count, :func:`resorb.label.labelled_rows`), so
    ``validate --purpose training`` refuses what ``train`` would refuse (``train`` itself
    refuses it later, in :func:`resorb.label.labelled_rows`, after the label rule of its
    run is known).

    Parameters
    ----------
    frame : DataFrame
        Canonical frame (invalid cells missing); not modified.
    rule : LabelRule, optional
        Default: the packaged rule (``label`` in params.yaml).

    Returns
    -------
    list of Problem
        Empty, or one problem (rule ``no_outcome`` or ``one_outcome_class``) naming the
        outcome column the label comes from, the counts and the fix.
    """
    from resorb.config import LabelRule
    from resorb.label import derive_resorbed

    rule = rule or LabelRule()
    label = derive_resorbed(frame, rule)
    operated = (frame["surgery"].fillna(False).astype(bool) if "surgery" in frame
                else pd.Series(False, index=frame.index))
    y = label[~operated & label.notna()].astype(bool)
    given = [c for c in OUTCOME_SOURCES if c in frame.columns and frame[c].notna().any()]
    column = given[0] if given else "resorbed"
    source = (f" (the label comes from {', '.join(given)} by the label rule '{rule.name}')"
              if given else "")
    if y.empty:
        return [Problem(column, "no_outcome", 0,
                        f"gives no row an observed outcome{source}; operated rows do not count",
                        hint="training needs the outcome: give 'resorbed', "
                             "'resorption_grade' or both 'herniation_volume_mm3' and "
                             "'volume_followup_mm3' (map them with --mapping)")]
    if y.all() or not y.any():
        which = ("no non-events (all resorbed)" if y.all()
                 else "no events (nothing resorbed)")
        return [Problem(column, "one_outcome_class", len(y),
                        f"has one outcome class only: {which} among {len(y):,} labelled "
                        f"rows{source}",
                        hint="training needs both outcomes: add patients with the other "
                             "outcome, or check the label rule in params.yaml (label."
                             f"min_reduction_pct {rule.min_reduction_pct:g}, label."
                             "grades_resorbed) and the mapping's recoding of the outcome")]
    return []


def purpose_notes(frame: pd.DataFrame, purpose: Purpose) -> tuple[str, ...]:
    """Warnings about a valid table's fitness for its purpose (they do not invalidate it).

    For training: predictors with no observed value or one value only among the rows
    (:func:`resorb.features.unused_predictors`), which a model trained on them leaves out.
    A predictor whose column is absent counts as having no observed value. Counted over
    every row of the file; training counts again over the rows it uses (labelled, not
    operated before follow-up).

    Parameters
    ----------
    frame : DataFrame
        Canonical frame (invalid cells missing); not modified.
    purpose : {"any", "scoring", "training"}

    Returns
    -------
    tuple of str
        One note per kind of problem; empty when there is nothing to say.
    """
    if purpose != "training" or frame.empty:
        return ()
    from resorb.features import describe_unused, model_input, unused_predictors

    note = describe_unused(unused_predictors(model_input(frame)))
    return (note,) if note else ()


def _check_columns(df: pd.DataFrame, purpose: Purpose) -> Iterator[ColumnCheck]:
    """The cell rules on every dictionary column of ``df``, in dictionary order."""
    return (check_column(df[col.name], col, purpose) for col in schema.COLUMNS
            if col.name in df.columns)


#: the reason a scored file's row is rejected for the cross-row rule (validate: the problem
#: ``duplicate_episode`` of ``patient_id``)
REPEATED_EPISODE = "patient_id: repeats another row's patient and level (one row per episode)"


def _repeated_episodes(pid: pd.Series, level: pd.Series) -> np.ndarray:
    """Rows whose patient and level another row repeats (a cross-row rule: whole files only)."""
    keyed = pd.DataFrame({"p": pid, "l": level})
    return keyed.duplicated(keep=False).to_numpy() & keyed.notna().all(axis=1).to_numpy()


def episode_keys(frame: pd.DataFrame) -> np.ndarray | None:
    """A 64-bit hash of each row's canonical patient and level, for the cross-row rule in chunks.

    ``score`` reads a file chunk by chunk: it hashes every row's (patient_id, level) in a
    first pass (8 bytes per row, never the identifiers themselves), keeps the hashes seen
    twice (:func:`repeated_keys`) and rejects, chunk by chunk, the rows whose hash is among
    them, so it refuses exactly the rows ``validate`` flags. The cells are canonicalised by
    the same rules first (``L5/S1`` and ``L5-S1`` are one level). Two different episodes
    share a hash with probability about n^2 / 2^65 (3e-6 for 10 million rows).

    Parameters
    ----------
    frame : DataFrame
        Raw or canonical cells with canonical column names; not modified.

    Returns
    -------
    ndarray of uint64, shape (n_rows,), or None
        None when ``patient_id`` or ``level`` is absent; rows where either is missing or
        invalid get 0, which :func:`repeated_keys` never reports.
    """
    if "patient_id" not in frame.columns or "level" not in frame.columns:
        return None
    pid = check_column(frame["patient_id"], schema.BY_NAME["patient_id"], "scoring").values
    level = check_column(frame["level"], schema.BY_NAME["level"], "scoring").values
    keyed = pd.DataFrame({"p": pid.astype(object), "l": level.astype(object)})
    hashes = pd.util.hash_pandas_object(keyed, index=False).to_numpy(dtype=np.uint64)
    return np.where(keyed.notna().all(axis=1).to_numpy(), hashes, np.uint64(0))


def repeated_keys(keys: np.ndarray) -> np.ndarray:
    """The nonzero keys of :func:`episode_keys` that occur more than once, sorted."""
    values, counts = np.unique(keys[keys != 0], return_counts=True)
    return values[counts > 1]


def conform_rows(df: pd.DataFrame, purpose: Purpose = "scoring", *,
                 quote_values: bool = False) -> tuple[pd.DataFrame, pd.Series]:
    """Coerce the dictionary's columns and say, row by row, which rules each row breaks.

    The per-row counterpart of :func:`conform`, for scoring files chunk by chunk: the same
    cell rules evaluated by the same code, but the result is a reason per row instead of a
    grouped report. Column-level checks (absent, unknown or duplicated columns) are left to
    :func:`check_header`, and so is the cross-row rule (one row per patient and level), which
    a chunk cannot decide alone. Cell values are quoted only with ``quote_values``, and
    never those of identifiers (:mod:`resorb.intake.found`).

    Parameters
    ----------
    df : DataFrame
        Raw table (text cells or typed columns) with unique column names; not modified.
        Columns that are not in the dictionary are ignored.
    purpose : {"any", "scoring", "training"}
        Which cells are required (training also needs the horizon).
    quote_values : bool
        Add the value found and what is allowed to each reason that can name them
        (``resorb score``'s ``reason`` column); False for a text that may reach a server's
        log (the pyfunc's refusal).

    Returns
    -------
    (DataFrame, Series)
        The canonical frame of the dictionary columns present (dictionary order, same index,
        invalid cells missing), and a ``str`` Series with one entry per row: ``""`` for a
        valid row, else its problems joined by ``"; "``, e.g.
        ``"vas_leg above 10 points; sex: unknown category"``, or with ``quote_values``
        ``"vas_leg above 10 points (found '55', allowed 0-10); sex: unknown category (found
        'm', allowed female / male)"``; :data:`EMPTY_ROW` for a row whose every cell is
        blank.
    """
    from resorb.intake.found import quoted_reasons

    reasons = np.full(len(df), "", dtype=object)
    out: dict[str, pd.Series] = {}
    for checked in _check_columns(df, purpose):
        out[checked.column.name] = checked.values
        for rule, mask in checked.broken:
            text = rule.reason(checked.column)
            if quote_values and (quoted := quoted_reasons(checked, rule, mask)) is not None:
                text = quoted
            current = reasons[mask]
            reasons[mask] = np.where(current == "", text, current + "; " + text)
    reasons[empty_rows(df)] = EMPTY_ROW  # one reason, not one per required column
    canonical = pd.DataFrame(out, index=df.index)
    return canonical, pd.Series(reasons, index=df.index, dtype="str", name="reason")


def check_file(path: str | os.PathLike[str],
               purpose: Purpose = "any") -> tuple[pd.DataFrame, ValidationReport]:
    """Read a file (:func:`~resorb.intake.read_table`) and conform it; ``resorb validate``.

    Raises
    ------
    InputError
        The file cannot be read (see :func:`~resorb.intake.read_table`).
    """
    return conform(read_table(path), purpose=purpose)
