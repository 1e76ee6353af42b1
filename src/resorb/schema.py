"""The data dictionary: one table that drives validation, encoding, generation and docs.

Every column a resorb frame may hold is declared once, in :data:`COLUMNS`, with its clinical
role, type, unit (and the units a mapping may convert from), allowed values and how a model
should encode it; :data:`BOOLEAN_SPELLINGS` says how a table may write true and false. Data
checks and mappings (:mod:`resorb.intake`), the feature pipeline (:mod:`resorb.features`), the
cohort generator (:mod:`resorb.cohort`) and the documentation (``resorb schema``) all read
these tables, so a column is added in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a column is for; decides whether it may ever become a model feature."""

    IDENTIFIER = "identifier"
    CLINICAL = "clinical"
    IMAGING = "imaging"
    RED_FLAG = "red_flag"
    HORIZON = "horizon"
    OUTCOME = "outcome"
    SYNTHETIC = "synthetic"


class Kind(StrEnum):
    """Storage type of a column in a canonical frame."""

    STRING = "string"
    DATE = "date"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CATEGORY = "category"


class Encoding(StrEnum):
    """How the feature pipeline turns a predictor into model inputs."""

    NONE = "none"  # never a feature
    NUMERIC = "numeric"  # scaled, linear in the logistic model
    SPLINE = "spline"  # non-linear effect in the literature: splines in the logistic model
    ORDINAL = "ordinal"  # ordered grade, kept as its rank
    ONEHOT = "onehot"  # nominal category, one indicator per level
    BOOLEAN = "boolean"  # 0/1


#: How a table may spell true and false: cells are compared after stripping and case-folding.
#: Mappings read a YAML ``true``/``false`` code as every spelling of itself.
BOOLEAN_SPELLINGS: dict[bool, tuple[str, ...]] = {
    True: ("true", "t", "yes", "y", "1", "1.0"),
    False: ("false", "f", "no", "n", "0", "0.0"),
}

Conversions = Mapping[str, tuple[float, float]]

#: Units a mapping file may convert a column from, per canonical unit (``Column.unit``):
#: ``{source unit: (multiply, divide)}``. The first entry is how mapping files name the
#: canonical unit itself. Dividing, not multiplying by 0.1, keeps 70 -> 7.0 exact.
UNIT_CONVERSIONS: dict[str, Conversions] = {
    "points": {"0-10": (1, 1), "0-100": (1, 10)},
    "mm3": {"mm3": (1, 1), "mL": (1000, 1), "ml": (1000, 1), "cm3": (1000, 1), "cc": (1000, 1)},
    "days": {"days": (1, 1), "hours": (1, 24), "weeks": (7, 1), "months": (30.4375, 1),
             "years": (365.25, 1)},
    "%": {"%": (1, 1), "percent": (1, 1), "fraction": (100, 1)},
    "years": {"years": (1, 1), "months": (1, 12)},
}

PREDICTOR_ROLES = frozenset({Role.CLINICAL, Role.IMAGING})
FEATURE_ROLES = PREDICTOR_ROLES | {Role.HORIZON}
FORBIDDEN_FEATURE_ROLES = frozenset(
    {Role.IDENTIFIER, Role.RED_FLAG, Role.OUTCOME, Role.SYNTHETIC}
)


@dataclass(frozen=True)
class Column:
    """One entry of the data dictionary.

    Parameters
    ----------
    name : str
        Canonical column name.
    role : Role
        Clinical role; identifiers, red flags, outcomes and synthetic truth never become features.
    kind : Kind
        Storage type.
    description : str
        What the column means, in clinical words.
    unit : str
        Unit of measurement ("" when unitless).
    minimum, maximum : float or None
        Inclusive allowed range for numbers and integers.
    categories : tuple of str
        Allowed values of a category, in clinical order when ``ordered``.
    ordered : bool
        Whether the categories are ordered (encoded by rank).
    required : bool
        Whether the column must be present and complete in a baseline (scoring) file.
    encoding : Encoding
        How the feature pipeline encodes it.
    missing_means : str
        What a missing value means clinically, when it is informative ("" otherwise).
    hints : dict
        Likely fix per rule (``"above"``, ``"below"``, ``"category"``, ``"type"``).
    extra_units : dict
        Source units of this column only, beyond those of its unit in
        :data:`UNIT_CONVERSIONS` (an instrument's own scale): ``{unit: (multiply, divide)}``.
    """

    name: str
    role: Role
    kind: Kind
    description: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    ordered: bool = False
    required: bool = True
    encoding: Encoding = Encoding.NONE
    missing_means: str = ""
    hints: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    extra_units: dict[str, tuple[float, float]] = field(default_factory=dict, hash=False,
                                                        compare=False)

    @property
    def conversions(self) -> dict[str, tuple[float, float]]:
        """Units a mapping may convert this column from: ``{unit: (multiply, divide)}``.

        The first entry names the canonical unit in mapping files (factor ``(1, 1)``); empty
        for a column without a unit.
        """
        if not self.unit:
            return {}
        return {**UNIT_CONVERSIONS.get(self.unit, {self.unit: (1, 1)}), **self.extra_units}

    @property
    def mapping_unit(self) -> str:
        """How mapping files name this column's canonical unit (``"0-10"`` for points)."""
        return next(iter(self.conversions), "")

    @property
    def is_feature(self) -> bool:
        """Whether the column may enter a model (predictors and the horizon)."""
        return self.role in FEATURE_ROLES

    @property
    def allowed(self) -> str:
        """Human-readable allowed values, for reports and docs."""
        if self.categories:
            return " / ".join(self.categories)
        if self.kind in (Kind.NUMBER, Kind.INTEGER):
            lo = "" if self.minimum is None else f"{self.minimum:g}"
            hi = "" if self.maximum is None else f"{self.maximum:g}"
            return f"{lo}-{hi}" if hi else f">= {lo}"
        if self.kind is Kind.BOOLEAN:
            return "true / false"
        if self.kind is Kind.DATE:
            return "ISO date (YYYY-MM-DD)"
        return "text"


_C, _I = Role.CLINICAL, Role.IMAGING
_VAS_HINT = "recorded on 0-100? divide by 10, or map it with a unit conversion (--mapping)"

COLUMNS: tuple[Column, ...] = (
    # identifiers: never features, never logged
    Column("patient_id", Role.IDENTIFIER, Kind.STRING, "Patient identifier"),
    Column("site", Role.IDENTIFIER, Kind.STRING, "Hospital or scanner site", required=False),
    Column("baseline_date", Role.IDENTIFIER, Kind.DATE, "Date of the baseline MRI",
           required=False, hints={"type": "write dates as YYYY-MM-DD"}),
    # clinical predictors
    Column("age", _C, Kind.NUMBER, "Age at baseline", "years", 18, 100,
           encoding=Encoding.SPLINE, hints={"above": "is it a birth year or age in months?"}),
    Column("sex", _C, Kind.CATEGORY, "Sex", categories=("female", "male"),
           encoding=Encoding.ONEHOT, hints={"category": "recode with a mapping (F -> female)"}),
    Column("bmi", _C, Kind.NUMBER, "Body-mass index", "kg/m2", 12, 70, required=False,
           encoding=Encoding.NUMERIC),
    Column("smoker", _C, Kind.BOOLEAN, "Current smoker", required=False,
           encoding=Encoding.BOOLEAN),
    Column("diabetes", _C, Kind.BOOLEAN, "Diabetes mellitus", required=False,
           encoding=Encoding.BOOLEAN),
    Column("symptom_duration_days", _C, Kind.INTEGER, "Duration of radicular symptoms",
           "days", 1, 3650, encoding=Encoding.SPLINE,
           hints={"below": "recorded in weeks or months? convert with a mapping",
                  "above": "recorded in hours? convert with a mapping"}),
    Column("vas_leg", _C, Kind.NUMBER, "Leg pain, visual analogue scale", "points", 0, 10,
           encoding=Encoding.NUMERIC, hints={"above": _VAS_HINT}),
    Column("vas_back", _C, Kind.NUMBER, "Back pain, visual analogue scale", "points", 0, 10,
           encoding=Encoding.NUMERIC, hints={"above": _VAS_HINT}),
    Column("odi", _C, Kind.NUMBER, "Oswestry Disability Index", "%", 0, 100,
           encoding=Encoding.NUMERIC,
           hints={"above": "is it the raw 0-50 score doubled twice?"},
           extra_units={"0-50": (2, 1)}),
    Column("slr_positive", _C, Kind.BOOLEAN, "Positive straight-leg raise",
           encoding=Encoding.BOOLEAN),
    Column("motor_deficit", _C, Kind.BOOLEAN, "Motor deficit in the root's myotome",
           encoding=Encoding.BOOLEAN),
    Column("sensory_deficit", _C, Kind.BOOLEAN, "Sensory deficit in the root's dermatome",
           encoding=Encoding.BOOLEAN),
    Column("treatment", _C, Kind.CATEGORY, "Conservative treatment given",
           categories=("conservative", "epidural_steroid", "periradicular_infiltration"),
           encoding=Encoding.ONEHOT),
    # imaging predictors
    Column("level", _I, Kind.CATEGORY, "Herniated level",
           categories=("L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"), encoding=Encoding.ONEHOT,
           hints={"category": "write levels as L4-L5 (map L4/L5 or IVD labels with --mapping)"}),
    Column("herniation_type", _I, Kind.CATEGORY, "Herniation morphology (MSU/NASS)",
           categories=("bulge", "protrusion", "extrusion", "sequestration"), ordered=True,
           encoding=Encoding.ORDINAL),
    Column("migration_grade", _I, Kind.INTEGER, "Migration grade (Komori 1996)", "grade", 0, 3,
           encoding=Encoding.ORDINAL),
    Column("rim_enhancement", _I, Kind.CATEGORY, "Rim enhancement on gadolinium MRI",
           categories=("none", "partial", "complete"), ordered=True, required=False,
           encoding=Encoding.ORDINAL, missing_means="no contrast given"),
    Column("t2_signal", _I, Kind.CATEGORY, "T2 signal of the herniated mass",
           categories=("low", "iso", "high"), ordered=True, encoding=Encoding.ORDINAL),
    Column("herniation_volume_mm3", _I, Kind.NUMBER, "Herniation volume at baseline", "mm3",
           10, 20000, encoding=Encoding.SPLINE,
           hints={"below": "recorded in mL or cm3? multiply by 1000 with a mapping"}),
    Column("canal_occupation_pct", _I, Kind.NUMBER, "Spinal canal occupied by the herniation",
           "%", 0, 100, encoding=Encoding.NUMERIC,
           hints={"below": "recorded as a fraction? multiply by 100"}),
    Column("pfirrmann_grade", _I, Kind.INTEGER, "Disc degeneration (Pfirrmann)", "grade", 1, 5,
           encoding=Encoding.ORDINAL),
    Column("modic_type", _I, Kind.INTEGER, "Modic endplate change (0 = none)", "type", 0, 3,
           encoding=Encoding.ONEHOT),
    Column("multifidus_fat_pct", _I, Kind.NUMBER, "Multifidus fatty infiltration", "%", 0, 100,
           required=False, encoding=Encoding.NUMERIC),
    # red flags: decide eligibility for waiting, never predictors
    Column("cauda_equina", Role.RED_FLAG, Kind.BOOLEAN, "Cauda equina syndrome"),
    Column("progressive_motor_deficit", Role.RED_FLAG, Kind.BOOLEAN,
           "Progressive or profound motor deficit"),
    # horizon
    Column("followup_days", Role.HORIZON, Kind.INTEGER,
           "Baseline to follow-up MRI (training) or the horizon asked about (scoring)", "days",
           1, 3650, encoding=Encoding.NUMERIC, required=False,
           hints={"below": "recorded in months? convert with a mapping"}),
    # outcomes: never features
    Column("volume_followup_mm3", Role.OUTCOME, Kind.NUMBER, "Herniation volume at follow-up",
           "mm3", 0, 40000, required=False,
           hints={"below": "recorded in mL or cm3? multiply by 1000 with a mapping"}),
    Column("resorbed", Role.OUTCOME, Kind.BOOLEAN,
           "Resorbed at follow-up, by the label rule in params.yaml", required=False),
    Column("resorption_grade", Role.OUTCOME, Kind.CATEGORY, "Change at follow-up (Komori 1998)",
           categories=("disappeared", "marked_decrease", "slight_decrease", "no_change",
                       "enlargement"), required=False),
    Column("surgery", Role.OUTCOME, Kind.BOOLEAN,
           "Operated before the follow-up MRI (competing event)", required=False),
    Column("vas_leg_followup", Role.OUTCOME, Kind.NUMBER, "Leg pain at follow-up", "points", 0, 10,
           required=False, hints={"above": _VAS_HINT}),
    Column("odi_followup", Role.OUTCOME, Kind.NUMBER, "ODI at follow-up", "%", 0, 100,
           required=False, extra_units={"0-50": (2, 1)}),
    # synthetic truth
    Column("true_resorption_probability", Role.SYNTHETIC, Kind.NUMBER,
           "Generator's exact resorption probability at the row's horizon", "", 0, 1,
           required=False),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
IDENTIFIERS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role is Role.IDENTIFIER)
PREDICTORS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role in PREDICTOR_ROLES)
FEATURES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.is_feature)
RED_FLAGS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role is Role.RED_FLAG)
OUTCOMES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role is Role.OUTCOME)


def column(name: str) -> Column:
    """Return the dictionary entry for ``name``.

    Raises
    ------
    KeyError
        With the list of known columns, when ``name`` is not in the dictionary.
    """
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(NAMES)
        raise KeyError(f"'{name}' is not in the data dictionary; known: {known}") from None


def columns_with_role(*roles: Role) -> tuple[Column, ...]:
    """Dictionary entries whose role is one of ``roles``, in dictionary order."""
    return tuple(c for c in COLUMNS if c.role in roles)


def dictionary_frame():
    """The data dictionary as a DataFrame (one row per column), for docs and ``resorb schema``."""
    import pandas as pd

    return pd.DataFrame(
        {
            "column": c.name,
            "role": c.role.value,
            "type": c.kind.value,
            "unit": c.unit,
            "allowed": c.allowed,
            "required": c.required,
            "encoding": c.encoding.value,
            "missing_means": c.missing_means,
            "description": c.description,
        }
        for c in COLUMNS
    )


# ----------------------------------------------------------------------------- predictor sets
@dataclass(frozen=True)
class PredictorSet:
    """A named set of predictors a model may be trained on (``--predictors NAME``).

    Attributes
    ----------
    name : str
        How commands and params.yaml (``training.predictors``) name it.
    description : str
        Who has these findings, in one sentence.
    members : tuple of str
        Its predictors, in dictionary order (the horizon is always added to a model).
    """

    name: str
    description: str
    members: tuple[str, ...]


#: Why each predictor is in the ``routine`` set or not: ``{predictor: (member, why)}``. The
#: routine set is what a routine lumbar MRI report and a spine clinic's intake form record
#: (the situation of issue 15: a hospital export with type, level, migration, Modic,
#: Pfirrmann, perhaps rim enhancement, and age, sex, duration, leg pain, straight-leg raise,
#: motor deficit); research measurements and questionnaires few clinics fill in stay out.
ROUTINE_MEMBERSHIP: dict[str, tuple[bool, str]] = {
    "age": (True, "intake form: every record has it"),
    "sex": (True, "intake form: every record has it"),
    "bmi": (True, "intake form, often recorded; optional (a missing value is imputed)"),
    "smoker": (True, "intake form, often recorded; optional (a missing value is imputed)"),
    "diabetes": (True, "intake form or problem list; optional (a missing value is imputed)"),
    "symptom_duration_days": (True, "history taken at every visit (onset of leg pain)"),
    "vas_leg": (True, "leg pain is the complaint of radiculopathy: asked at every visit"),
    "vas_back": (False, "many forms record one pain score, the leg's (the complaint of "
                        "radiculopathy)"),
    "odi": (False, "a 10-item questionnaire that few clinics administer at the first visit"),
    "slr_positive": (True, "bedside examination of every radicular patient"),
    "motor_deficit": (True, "bedside examination of every radicular patient"),
    "sensory_deficit": (True, "bedside examination of every radicular patient"),
    "treatment": (True, "the conservative treatment the clinic chooses at the visit it scores"),
    "level": (True, "every MRI report names the herniated level"),
    "herniation_type": (True, "every MRI report grades protrusion, extrusion, sequestration"),
    "migration_grade": (True, "MRI reports say whether and how far a fragment migrated"),
    "rim_enhancement": (True, "reported when gadolinium was given; optional, a missing value "
                              "means no contrast"),
    "t2_signal": (False, "the T2 signal of the herniated mass is rarely graded in reports"),
    "herniation_volume_mm3": (False, "3D volumetry is a research measurement; a clinic with "
                                     "three diameters may derive it and add it "
                                     "(--predictors routine,herniation_volume_mm3)"),
    "canal_occupation_pct": (False, "needs measured canal and herniation diameters, rarely "
                                    "reported"),
    "pfirrmann_grade": (True, "disc degeneration is graded in most MRI reports"),
    "modic_type": (True, "endplate changes are graded in most MRI reports"),
    "multifidus_fat_pct": (False, "muscle fat infiltration is a research measurement"),
}

PREDICTOR_SETS: dict[str, PredictorSet] = {
    "full": PredictorSet("full", "every predictor of the data dictionary (research cohorts "
                                 "with volumetry and questionnaires)", PREDICTORS),
    "routine": PredictorSet(
        "routine", "findings of a routine MRI report and a spine clinic's intake form",
        tuple(p for p in PREDICTORS if ROUTINE_MEMBERSHIP[p][0])),
}
DEFAULT_PREDICTOR_SET = "full"


def resolve_predictors(selection: str) -> tuple[str, ...]:
    """The predictors of a selection: a set name, predictor names, or both, comma-separated.

    Parameters
    ----------
    selection : str
        ``"routine"``, ``"herniation_type,rim_enhancement"`` or
        ``"routine,herniation_volume_mm3"`` (a union).

    Returns
    -------
    tuple of str
        The predictors, in dictionary order, at least one.

    Raises
    ------
    ValueError
        An item is neither a set in :data:`PREDICTOR_SETS` nor a predictor (the message
        lists both), or the selection is empty.
    """
    items = [s.strip() for s in str(selection).split(",") if s.strip()]
    if not items:
        raise ValueError(f"no predictors selected; give a set ({', '.join(PREDICTOR_SETS)}) "
                         f"or predictor names separated by commas")
    chosen: set[str] = set()
    for item in items:
        if item in PREDICTOR_SETS:
            chosen.update(PREDICTOR_SETS[item].members)
        elif item in PREDICTORS:
            chosen.add(item)
        else:
            col = BY_NAME.get(item)
            what = (f"never a predictor (role: {col.role.value})" if col is not None
                    else "neither a predictor set nor a predictor")
            raise ValueError(f"'{item}' is {what}; give a set ({', '.join(PREDICTOR_SETS)}) "
                             f"or predictors of the data dictionary ({', '.join(PREDICTORS)})")
    return tuple(p for p in PREDICTORS if p in chosen)


def predictor_set_name(predictors: tuple[str, ...] | list[str]) -> str:
    """The name of the set holding exactly ``predictors``, else ``"custom"``."""
    wanted = set(predictors)
    return next((s.name for s in PREDICTOR_SETS.values() if set(s.members) == wanted),
                "custom")


def predictor_sets_frame():
    """One row per predictor: its membership of each set and why (docs, ``resorb schema``)."""
    import pandas as pd

    return pd.DataFrame(
        {"predictor": p, **{name: p in s.members for name, s in PREDICTOR_SETS.items()},
         "why (routine)": ROUTINE_MEMBERSHIP[p][1]}
        for p in PREDICTORS)
