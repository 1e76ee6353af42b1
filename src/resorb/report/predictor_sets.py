"""The report's "Predictors and what is lost without a finding" section.

It names the predictor set the model was trained on (its card's ``predictor_set`` and
``features``), the predictors it ignores, the measurements a mapping file derived rather
than read (its card's ``derived``: e.g. a volume from three diameters), in clinical words
(:func:`derived_inputs`), and shows the table of
``benchmarks/bench_predictor_sets.py``: the AUROC and calibration of the champion candidates
on each predictor set against the generator's true probability. The table is packaged with
resorb (``report/predictor_sets.csv``, aggregates of synthetic cohorts only) and read, never
computed, so the section costs the report nothing measurable.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from resorb import schema

TABLE = "predictor_sets.csv"
#: the benchmark's label of each named set (its SELECTIONS keys)
SET_LABELS = {"full": "full", "routine": "routine"}


@dataclass(frozen=True)
class SetRow:
    """One row of the table, in words."""

    predictors: str
    model: str
    auroc: str
    lost: str
    slope: str
    citl: str
    own: bool  # the model's own predictor set


@dataclass(frozen=True)
class DerivedInput:
    """One measurement the training data derived rather than measured, in clinical words."""

    column: str  # canonical name
    meaning: str  # the data dictionary's description, e.g. "Herniation volume at baseline"
    use: str  # "model input", "label", both, or "not used by this model"
    how: str  # how it was derived, in clinical words
    caveat: str  # what that means for its users ("" for an exact derivation)


@dataclass(frozen=True)
class PredictorSetFacts:
    """What the section shows."""

    name: str
    predictors: tuple[str, ...]
    ignored: tuple[str, ...]
    rows: tuple[SetRow, ...]
    source: str
    derived: tuple[DerivedInput, ...] = ()


def _interval(row: Any, metric: str, digits: int) -> str:
    return (f"{row[metric]:.{digits}f} ({row[f'{metric}_low']:.{digits}f} to "
            f"{row[f'{metric}_high']:.{digits}f})")


def read_table() -> Any:
    """The packaged benchmark table (a DataFrame), or None when it is not there."""
    import pandas as pd

    path = resources.files("resorb.report").joinpath(TABLE)
    if not path.is_file():
        return None
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def predictor_set_facts(card: Any) -> PredictorSetFacts:
    """The section's facts for a model card (``ModelCard``)."""
    name = getattr(card, "predictor_set", "full")
    used = tuple(f for f in card.features if f in schema.PREDICTORS)
    ignored = tuple(p for p in schema.PREDICTORS if p not in used)
    table = read_table()
    rows: list[SetRow] = []
    if table is not None:
        own = SET_LABELS.get(name)
        for _, r in table.iterrows():
            rows.append(SetRow(str(r["selection"]), str(r["candidate"]),
                               _interval(r, "auroc", 3), f"{r['lost']:+.3f}",
                               _interval(r, "calibration_slope", 2),
                               _interval(r, "calibration_intercept", 2),
                               own is not None and r["selection"] == own
                               and r["candidate"] == card.candidate))
    return PredictorSetFacts(name, used, ignored, tuple(rows),
                             "benchmarks/bench_predictor_sets.py (docs/predictor_sets.md)",
                             derived_inputs(card))


#: what each derivation method means at the bedside ({units}: the declared length units,
#: {dates}: the declared date format); keyed by resorb.intake.derive.METHODS names
_HOW = {
    "ellipsoid_volume": "not measured by 3D volumetry but computed from the herniation's three "
                        "diameters on MRI (anteroposterior, transverse and craniocaudal, read "
                        "{units}) as an ellipsoid: pi/6 x AP x transverse x craniocaudal",
    "canal_occupation": "computed from the anteroposterior diameters of the herniation and of "
                        "the spinal canal (read {units}): 100 x herniation AP / canal AP",
    "days_between": "counted in whole days between the two dates recorded ({dates})",
}
_DATES = {"symptom_duration_days": "from the onset of symptoms to the baseline MRI",
          "followup_days": "from the baseline MRI to the follow-up MRI"}
_CAVEAT = {
    "ellipsoid_volume": "An approximation of volumetry whose bias depends on the herniation's "
                        "shape (in vitro: about -18% for elongated objects, -1.5% for "
                        "globular ones; docs/derived.md).",
}
_AS_INPUT = (" Give this model volumes derived the same way: resorb score and evaluate warn "
             "when a file's volumes are measured otherwise.")
_AS_LABEL = (" The label compares the baseline and follow-up volumes, which must be measured "
             "the same way.")
#: the label rule's volumes (resorb.label.derive_resorbed)
_LABEL = ("herniation_volume_mm3", "volume_followup_mm3")
#: how the report names each input of a derivation (resorb.intake.derive.METHODS inputs)
_INPUT_WORDS = {"ap": "AP", "herniation_ap": "herniation AP", "canal_ap": "canal AP"}


def _units(detail: str) -> str:
    """``"from mm"`` -> ``"in mm"``; ``"from ap mm, transverse cm"`` -> ``"AP in mm,
    transverse in cm"``."""
    units = detail.removeprefix("from ").strip() or "mm"
    if " " not in units:
        return f"in {units}"
    pairs = [part.strip().rsplit(" ", 1) for part in units.split(",")]
    return ", ".join(f"{_INPUT_WORDS.get(k, k)} in {u}" for k, u in pairs)


def derived_inputs(card: Any) -> tuple[DerivedInput, ...]:
    """The card's ``derived`` (column -> derivation in words) in clinical words.

    Parameters
    ----------
    card : ModelCard
        Its ``derived`` maps canonical columns to :func:`resorb.intake.describe_derivation`
        texts; its ``features`` say which were model inputs (the others were label or
        horizon columns of the training data).

    Returns
    -------
    tuple of DerivedInput
        In the card's order; empty when every measurement was read as measured. A text no
        method of :data:`resorb.intake.derive.METHODS` wrote is shown as recorded.
    """
    derived = dict(getattr(card, "derived", {}) or {})
    if not derived:
        return ()
    from resorb.intake.derive import ISO_DATE, METHODS  # only for a card that needs it

    out = []
    for column, words in derived.items():
        col = schema.BY_NAME.get(column)
        meaning = col.description if col is not None else column
        # a derived volume is the label's only when both were derived (else the label came
        # from 'resorbed' or the grade; a mix is refused or warned about at intake and update)
        as_input = column in card.features
        as_label = column in _LABEL and all(v in derived for v in _LABEL)
        use = ("model input and label" if as_input and as_label else "model input" if as_input
               else "label" if as_label else "not used by this model")
        method = next((m for m in METHODS.values() if words.startswith(m.formula)), None)
        if method is None:
            out.append(DerivedInput(column, meaning, use, words, ""))
            continue
        detail = words[len(method.formula):].strip().removeprefix("(").removesuffix(")")
        how = _HOW[method.name].format(units=_units(detail), dates=detail or ISO_DATE)
        if method.name == "days_between" and column in _DATES:
            how = f"{how}, {_DATES[column]}"
        caveat = _CAVEAT.get(method.name, "")
        if caveat:
            caveat += (_AS_INPUT if as_input else "") + (_AS_LABEL if as_label else "")
        out.append(DerivedInput(column, meaning, use, how, caveat))
    return tuple(out)
