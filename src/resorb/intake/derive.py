"""Derived measurements: canonical columns computed from several source columns.

A routine MRI report gives a herniation's diameters, not its volume; a clinic's intake form
gives the date symptoms began, not their duration. A mapping file's ``derive`` section names
a method for such a column and the source columns it reads::

    derive:
      herniation_volume_mm3:
        method: ellipsoid_volume
        from: {ap: "Hern AP", transverse: "Hern LR", craniocaudal: "Hern CC"}
        unit: mm                       # or cm, or one unit per input
      canal_occupation_pct:
        method: canal_occupation
        from: {herniation_ap: "Hern AP", canal_ap: "Canal AP"}
        unit: mm
      symptom_duration_days:
        method: days_between
        from: {start: "Onset", end: "Scan date"}
        format: "%d.%m.%Y"             # strptime format of both dates (default ISO)

The methods (:data:`METHODS`):

- ``ellipsoid_volume``: pi/6 x AP x transverse x craniocaudal (mm3), the volume of the
  ellipsoid whose three orthogonal axes are the measured diameters. It is an approximation
  of a manual 3D volume, not a volumetry: the same formula (as "ABC/2", pi/6 ~ 1/2) is
  used for haematomas, where it overestimates irregular shapes (Huttner et al. proposed
  ABC/3 for irregular bleeds, as cited in PeerJ 2016;4:e1921, doi 10.7717/peerj.1921), and
  in vitro it underestimates elongated objects (Kodikara I et al., Acta Radiol 2020;
  doi 10.1177/0284185120901505: ellipsoid bias -18.4% for elongated objects, -1.5% for
  globular ones). No study comparing it with 3D volumetry on lumbar disc herniations was
  found in the sources this project stores; a model trained on such volumes says so in
  its card (``derived``), and ``docs/derived.md`` measures what the bias costs.
- ``canal_occupation``: 100 x herniation AP diameter / canal AP diameter (%), the relative
  herniation size ("canal compromise") on the level's axial or sagittal slice (Fardon DF et
  al., Spine J 2014;14:2525-2545; ``EVIDENCE.md`` section 10).
- ``days_between``: whole days from a start date to an end date (symptom onset to the
  baseline MRI for ``symptom_duration_days``; baseline to follow-up MRI for
  ``followup_days``).

Lengths are checked against their declared unit (``mm`` or ``cm``, converted to mm); dates
are parsed with the declared ``format`` (a cell that does not match it is refused, never
guessed). A row whose inputs are all empty gets an empty value (the data dictionary then
says whether that column may be missing); a row with some inputs empty, or one that is not a
number or a date, is not positive, or is in the wrong order is refused with the reason:
:func:`fold_into_report` adds those reasons to ``validate``'s report (rule ``derivation``)
and :meth:`DerivedColumns.reasons` gives them row by row to ``score``. No row is dropped.

The arithmetic is a few vectorised numpy lines; no library offers these clinical formulas
with per-row refusal reasons, so they are written here.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from resorb import schema
from resorb.intake.report import Problem, ValidationReport, row_numbers

if TYPE_CHECKING:
    from resorb.intake.mapping_file import Derivation, Mapping

#: Length units a derivation may declare, as millimetres per unit.
LENGTH_UNITS: dict[str, float] = {"mm": 1.0, "cm": 10.0}
ISO_DATE = "%Y-%m-%d"
DERIVATION_RULE = "derivation"


@dataclass(frozen=True)
class Method:
    """One derivation method: its inputs, the columns it may build and how the card words it.

    Attributes
    ----------
    name : str
        How mapping files name it.
    inputs : tuple of str
        The keys of its ``from`` section, in formula order.
    labels : tuple of str
        How reasons name each input (``"AP diameter"``).
    targets : tuple of str
        Canonical columns it may build.
    kind : {"length", "date"}
        What its inputs are: lengths take a ``unit``, dates a ``format``.
    formula : str
        The formula in words, for logs and the model card.
    """

    name: str
    inputs: tuple[str, ...]
    labels: tuple[str, ...]
    targets: tuple[str, ...]
    kind: str
    formula: str


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("ellipsoid_volume", ("ap", "transverse", "craniocaudal"),
           ("AP diameter", "transverse diameter", "craniocaudal diameter"),
           ("herniation_volume_mm3", "volume_followup_mm3"), "length",
           "ellipsoid from 3 diameters (pi/6 x AP x transverse x craniocaudal), an "
           "approximation of a 3D volumetry"),
    Method("canal_occupation", ("herniation_ap", "canal_ap"),
           ("herniation AP diameter", "canal AP diameter"),
           ("canal_occupation_pct",), "length",
           "100 x herniation AP diameter / canal AP diameter"),
    Method("days_between", ("start", "end"), ("start date", "end date"),
           ("symptom_duration_days", "followup_days"), "date",
           "whole days from the start date to the end date"),
)}


def describe_derivation(derivation: Derivation) -> str:
    """The derivation in words for the model card, e.g. ``"ellipsoid from 3 diameters ..."``."""
    method = METHODS[derivation.method]
    if method.kind == "date":
        return f"{method.formula} ({derivation.format or ISO_DATE})"
    return f"{method.formula} (from {_units_text(derivation)})"


def mapping_derivations(mapping: Mapping | None) -> dict[str, str]:
    """``{target: description}`` of every derivation a mapping makes (empty without one)."""
    if mapping is None:
        return {}
    return {t: describe_derivation(d) for t, d in mapping.derive.items()}


def measurement_mismatches(trained: AnyMapping[str, str], given: AnyMapping[str, str],
                           features: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Model inputs measured one way in training and another way in the file to score.

    Parameters
    ----------
    trained : mapping of str to str
        The model card's ``derived`` (column -> derivation in words; absent = measured).
    given : mapping of str to str
        :func:`mapping_derivations` of the scoring mapping.
    features : sequence of str
        The model's input columns.

    Returns
    -------
    tuple of str
        One sentence per input measured differently, e.g. ``"herniation_volume_mm3:
        measured in training, derived (ellipsoid from 3 diameters ...) here"``; empty when
        they agree. Only approximations count (the ellipsoid volume): a duration from dates
        or an occupation from its two diameters is the measurement itself.
    """
    out = []
    for name in features:
        was, now = trained.get(name), given.get(name)
        if _method(was) == _method(now):
            continue
        out.append(f"{name}: {'derived (' + was + ')' if was else 'measured'} in training, "
                   f"{'derived (' + now + ')' if now else 'measured'} here")
    return tuple(out)


def _method(words: str | None) -> str | None:
    """An approximating derivation's method in words, without its units (mm and cm give the
    same mm3); None for a measured column or an exact derivation (durations, occupations as
    defined), which stands for the measured value."""
    if words is None or "approximation" not in words:
        return None
    return words.split(" (from ")[0]


def input_units(derivation: Derivation) -> dict[str, str]:
    """The unit of each length input (``{}`` for dates)."""
    method = METHODS[derivation.method]
    if method.kind != "length":
        return {}
    unit = derivation.unit
    if isinstance(unit, str):
        return dict.fromkeys(method.inputs, unit)
    return dict(unit or {})


def _units_text(derivation: Derivation) -> str:
    units = set(input_units(derivation).values())
    return (f"{units.pop()}" if len(units) == 1
            else ", ".join(f"{k} {u}" for k, u in input_units(derivation).items()))


@dataclass(frozen=True)
class DerivedColumn:
    """One derived column over a table's rows, with the rows it could not derive and why.

    Attributes
    ----------
    target : str
        The canonical column.
    values : Series of float, shape (n_rows,)
        Derived values (mm3, %, days); NaN where refused or where every input is empty.
    absent : ndarray of bool, shape (n_rows,)
        Rows whose inputs are all empty (the value is missing, not refused).
    failures : tuple of (str, ndarray of bool)
        Each reason a row is refused, with its row mask (a row may have several).
    log : str
        One line for ``validate``: method, sources, units, rows derived and refused.
    """

    target: str
    values: pd.Series
    absent: np.ndarray
    failures: tuple[tuple[str, np.ndarray], ...]
    log: str

    @property
    def refused(self) -> np.ndarray:
        """Rows refused for at least one reason."""
        out = np.zeros(len(self.values), dtype=bool)
        for _, mask in self.failures:
            out |= mask
        return out


@dataclass(frozen=True)
class DerivedColumns:
    """Every derivation of a mapping over one table (or chunk)."""

    columns: tuple[DerivedColumn, ...] = ()

    def __getitem__(self, target: str) -> DerivedColumn:
        return next(c for c in self.columns if c.target == target)

    @property
    def log(self) -> tuple[str, ...]:
        """One line per derived column."""
        return tuple(c.log for c in self.columns)

    def reasons(self, n: int) -> np.ndarray:
        """Why each row is refused (``""`` when it is not), e.g.
        ``"herniation_volume_mm3 not derived: transverse diameter ('Hern LR') missing"``.

        Returns
        -------
        ndarray of object, shape (n,)
        """
        out = np.full(n, "", dtype=object)
        for col in self.columns:
            for reason, mask in col.failures:
                text = f"{col.target} not derived: {reason}"
                out[mask] = np.where(out[mask] == "", text, out[mask] + "; " + text)
        return out


def derive_columns(rows: pd.DataFrame, mapping: Mapping,
                   labels: AnyMapping[str, Hashable] | None = None) -> DerivedColumns:
    """Compute every derivation of ``mapping`` on ``rows``.

    Parameters
    ----------
    rows : DataFrame of shape (n_rows, n_source_columns)
        Source rows (text cells or typed columns), index ``0..n-1``; not modified.
    mapping : Mapping
        Its ``derive`` section (empty: nothing is computed).
    labels : mapping, optional
        Column name -> label in ``rows``; default ``str(label)``.

    Returns
    -------
    DerivedColumns
        One :class:`DerivedColumn` per derivation, in the mapping's order.
    """
    labels = labels if labels is not None else {str(c): c for c in rows.columns}
    return DerivedColumns(tuple(
        derive_column(target, d, {k: rows[labels[src]] for k, src in d.inputs.items()})
        for target, d in mapping.derive.items()))


def derive_column(target: str, derivation: Derivation,
                  cells: AnyMapping[str, pd.Series]) -> DerivedColumn:
    """One derivation on its input columns.

    Parameters
    ----------
    target : str
        The canonical column built.
    derivation : Derivation
        Method, sources, unit or date format.
    cells : mapping of str to Series
        Each input of the method (``"ap"``, ...) -> its source column (same length).

    Returns
    -------
    DerivedColumn
    """
    method = METHODS[derivation.method]
    names = {k: derivation.inputs[k] for k in method.inputs}
    label = dict(zip(method.inputs, method.labels, strict=True))
    n = len(next(iter(cells.values())))
    empty = {k: _empty(cells[k]) for k in method.inputs}
    absent = np.logical_and.reduce([empty[k] for k in method.inputs])
    failures: list[tuple[str, np.ndarray]] = []

    def fail(reason: str, mask: np.ndarray) -> None:
        if mask.any():
            failures.append((reason, mask))

    for k in method.inputs:
        fail(f"{label[k]} ('{names[k]}') missing", empty[k] & ~absent)
    if method.kind == "date":
        fmt = derivation.format or ISO_DATE
        parsed = {}
        for k in method.inputs:
            parsed[k] = _dates(cells[k], fmt)
            fail(f"{label[k]} ('{names[k]}') not a date in the format '{fmt}'",
                 np.isnat(parsed[k]) & ~empty[k])
        days = (parsed["end"] - parsed["start"]).astype("timedelta64[D]").astype(float)
        days[np.isnat(parsed["end"] - parsed["start"])] = np.nan
        fail(f"{label['start']} ('{names['start']}') after {label['end']} ('{names['end']}')",
             days < 0)
        values = days
        unit_note = f"dates '{fmt}' -> days"
    else:
        units = input_units(derivation)
        mm = {}
        for k in method.inputs:
            number = _numbers(cells[k])
            fail(f"{label[k]} ('{names[k]}') not a number", np.isnan(number) & ~empty[k])
            fail(f"{label[k]} ('{names[k]}') not finite", np.isinf(number))
            fail(f"{label[k]} ('{names[k]}') not above 0 {units[k]}",
                 np.isfinite(number) & (number <= 0))
            mm[k] = number * LENGTH_UNITS[units[k]]
        if method.name == "ellipsoid_volume":
            values = np.round(math.pi / 6 * mm["ap"] * mm["transverse"] * mm["craniocaudal"], 1)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.round(100 * mm["herniation_ap"] / mm["canal_ap"], 1)
            fail(f"{label['herniation_ap']} ('{names['herniation_ap']}') larger than the "
                 f"{label['canal_ap']} ('{names['canal_ap']}')",
                 (mm["herniation_ap"] > mm["canal_ap"]) & (mm["canal_ap"] > 0))
        converted = any(u != "mm" for u in units.values())
        unit_note = f"lengths in {_units_text(derivation)}" + (" -> mm" if converted else "")
    refused = np.zeros(n, dtype=bool)
    for _, mask in failures:
        refused |= mask
    values = np.where(refused | absent, np.nan, values)
    derived = int((~refused & ~absent).sum())
    notes = [unit_note, f"{derived:,} row{'s' * (derived != 1)} derived"]
    if refused.any():
        notes.append(f"{int(refused.sum()):,} refused")
    if absent.any():
        notes.append(f"{int(absent.sum()):,} without any input left empty")
    sources = ", ".join(f"{k}='{names[k]}'" for k in method.inputs)
    log = (f"{target} <- {method.name}({sources}): {method.formula} ({'; '.join(notes)})")
    return DerivedColumn(target, pd.Series(values, dtype="float64", name=target), absent,
                         tuple(failures), log)


def _empty(raw: pd.Series) -> np.ndarray:
    missing = raw.isna().to_numpy()
    if pd.api.types.is_object_dtype(raw.dtype) or pd.api.types.is_string_dtype(raw.dtype):
        missing = missing | (raw.astype("str").str.strip() == "").to_numpy()
    return missing


def _numbers(raw: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return np.full(len(raw), np.nan)  # true/false is no length
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=float, na_value=np.nan)
    text = raw.astype("str").str.strip().where(raw.notna())
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _dates(raw: pd.Series, fmt: str) -> np.ndarray:
    """Dates as datetime64[D] (NaT where empty or not in ``fmt``); typed dates kept as is."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return raw.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if pd.api.types.infer_dtype(raw, skipna=True) in ("date", "datetime"):  # Parquet date32
        return pd.to_datetime(raw).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    text = raw.astype("str").str.strip().where(raw.notna())
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    return parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def check_date_format(fmt: str) -> str | None:
    """Why ``fmt`` is no usable date format (``None`` when it is): it must round-trip a date."""
    probe = datetime(2024, 3, 15)
    try:
        back = datetime.strptime(probe.strftime(fmt), fmt)
    except ValueError as exc:
        return str(exc)
    if back.date() != probe.date():
        return "it does not hold a whole date (needs the day, the month and the year)"
    return None


def fold_into_report(report: ValidationReport, derived: DerivedColumns) -> ValidationReport:
    """Add the refused rows of each derivation to a report of the mapped frame.

    Each reason becomes one problem (rule ``derivation``) of the derived column, with its
    rows and a fix; those rows no longer count as merely "missing" in the column's
    ``required`` problem, which keeps only rows with no input at all.

    Parameters
    ----------
    report : ValidationReport
        From :func:`resorb.intake.conform` on the mapped frame (rows of that frame).
    derived : DerivedColumns
        The derivations behind the frame (same rows).

    Returns
    -------
    ValidationReport
        ``bad_rows`` also marks every refused row.
    """
    if not derived.columns:
        return report
    problems = list(report.problems)
    bad = report.bad_rows.copy() if report.bad_rows.size else np.zeros(report.n_rows, bool)
    for col in derived.columns:
        for i, p in enumerate(problems):
            if p.column == col.target and p.rule == "required":
                still = col.absent
                problems[i] = (replace(p, count=int(still.sum()), rows=row_numbers(still))
                               if still.any() else None)
        problems = [p for p in problems if p is not None]
        for reason, mask in col.failures:
            count = int(mask.sum())
            problems.append(Problem(
                col.target, DERIVATION_RULE, count,
                f"could not be derived in {count} row{'s' * (count != 1)}: {reason}",
                row_numbers(mask), "fix the source cells; a row is never dropped silently"))
            bad |= mask
    order = {name: i for i, name in enumerate(schema.NAMES)}
    problems.sort(key=lambda p: order.get(p.column, len(order)))  # stable: rules keep order
    return replace(report, problems=tuple(problems), bad_rows=bad)


#: the two volumes the label rule compares (:func:`resorb.label.derive_resorbed`)
LABEL_VOLUMES = ("herniation_volume_mm3", "volume_followup_mm3")


def update_measurement_warnings(trained: AnyMapping[str, str], given: AnyMapping[str, str],
                                features: tuple[str, ...] | list[str],
                                columns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """What an update on new data mixes: values measured one way with values derived another.

    An update (``resorb update``) keeps the parent's structure and re-estimates part of it on
    the new data, so the updated model mixes the two measurements when they differ; and its
    label compares the two volumes of the new data, which must be measured the same way.

    Parameters
    ----------
    trained : mapping of str to str
        The parent's card ``derived`` (column -> derivation in words; absent = measured).
    given : mapping of str to str
        :func:`mapping_derivations` of the update data's mapping (empty without one).
    features : sequence of str
        The parent's input columns.
    columns : sequence of str
        The update data's canonical columns (after the mapping).

    Returns
    -------
    tuple of str
        One sentence per problem, naming columns and derivations only (never a value or a
        source column, so that they may be logged): inputs measured otherwise than in the
        parent's training (:func:`measurement_mismatches`); the label's two volumes, one
        derived by an approximation and the other measured in the update data; a label
        volume that is not an input measured otherwise than in the parent's training. Empty
        when the update data measure everything as the parent's training did.

    Notes
    -----
    A mapping file never gives the label's two volumes measured two ways (it is refused when
    it loads or is applied: ``transform._one_way_label_volumes``), so ``resorb update`` does
    not meet that sentence; :func:`resorb.jobs.update_job` does, with a
    :class:`~resorb.jobs.TrainingData` whose ``derived`` its caller sets
    (tests/leftovers/test_update_label_mix.py).
    """
    out = list(measurement_mismatches(trained, given, features))
    present = [v for v in LABEL_VOLUMES if v in columns]
    ways = {v: _method(given.get(v)) for v in present}
    if len(ways) == 2 and len(set(ways.values())) == 2:
        words = [f"{v} {'derived (' + given[v] + ')' if ways[v] else 'measured'}"
                 for v in LABEL_VOLUMES]
        out.append(f"the label compares {words[0]} with {words[1]}: its volume reduction "
                   f"mixes two measurements; derive both volumes from diameters or give both "
                   f"measured (docs/derived.md)")
    label_only = [v for v in present if v not in features]
    out += [f"{m.split(':', 1)[0]} (label): {m.split(': ', 1)[1]}"
            for m in measurement_mismatches(trained, given, label_only)]
    return tuple(out)
