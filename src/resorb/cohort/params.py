"""Typed, validated parameters of the synthetic cohort (params.yaml ``cohort:``).

Allowed values are declared on the models and checked once, when a preset is loaded
(:mod:`resorb.cohort.presets`). Probabilities may be written as fractions of counts
(``22/48``) so a preset that reproduces a study keeps that study's counts visible.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from resorb import schema
from resorb.config import Frozen, Preset

PRESETS: tuple[str, ...] = tuple(p.value for p in Preset)
BASE_PRESET: str = Preset.LITERATURE.value
TYPES = schema.column("herniation_type").categories
RIMS = schema.column("rim_enhancement").categories
LATENT = ("volume", "canal", "vas_leg", "vas_back", "odi")  # Gaussian-copula variables


def _fraction(v: Any) -> Any:
    """Accept ``"22/48"`` as a probability so presets can keep a study's counts."""
    if isinstance(v, str) and "/" in v:
        num, _, den = v.partition("/")
        try:
            return float(num) / float(den)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number or a fraction like 22/48, got {v!r}") from None
    return v


Probability = Annotated[float, BeforeValidator(_fraction), Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]


def _check_distribution(name: str, probs: dict[Any, float],
                        allowed: tuple[Any, ...] | None) -> None:
    if allowed is not None:
        unknown = [k for k in probs if k not in allowed]
        if unknown:
            raise ValueError(f"{name} has unknown categories {unknown}; allowed: {list(allowed)}")
    total = sum(probs.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(f"{name} probabilities sum to {total:.6g}, expected 1")


def distribution(probs: dict[Any, float], categories: tuple[Any, ...]) -> np.ndarray:
    """Probabilities of ``probs`` in the order of ``categories`` (absent categories get 0)."""
    return np.array([float(probs.get(c, 0.0)) for c in categories])


class MeanSd(Frozen):
    """A mean and standard deviation, on the scale of the variable."""

    mean: float
    sd: Positive


class Bounded(MeanSd):
    """A normal distribution truncated to ``[low, high]``."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Bounded:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class DateRange(Frozen):
    first: dt.date
    last: dt.date


class Population(Frozen):
    """Demographics, symptoms, signs, treatment and level (EVIDENCE.md section 5)."""

    source: str = ""
    age: Bounded
    male: Probability
    bmi: Bounded
    smoker: Probability
    diabetes: Probability
    symptom_months: MeanSd
    slr_positive: Probability
    motor_deficit: Probability
    sensory_deficit: Probability
    cauda_equina: Probability
    progressive_motor_deficit: Probability
    treatment: dict[str, Probability]
    level: dict[str, Probability]
    site: dict[str, Probability]
    baseline_dates: DateRange

    @model_validator(mode="after")
    def _distributions(self) -> Population:
        _check_distribution("treatment", self.treatment, schema.column("treatment").categories)
        _check_distribution("level", self.level, schema.column("level").categories)
        _check_distribution("site", self.site, None)
        if self.progressive_motor_deficit > self.motor_deficit:
            raise ValueError("progressive_motor_deficit must not exceed motor_deficit (a subset)")
        return self


class Symptoms(Frozen):
    """Pain and disability, tied to herniation size by a latent Gaussian copula."""

    source: str = ""
    vas_leg: MeanSd
    vas_back: MeanSd
    odi: MeanSd
    latent_correlation: dict[str, float]

    @model_validator(mode="after")
    def _positive_definite(self) -> Symptoms:
        correlation_matrix(self.latent_correlation)
        return self


def correlation_matrix(pairs: dict[str, float]) -> np.ndarray:
    """Latent correlation matrix over :data:`LATENT` from ``{"a~b": r}`` (absent pairs: 0)."""
    index = {name: i for i, name in enumerate(LATENT)}
    r = np.eye(len(LATENT))
    for key, value in pairs.items():
        a, _, b = key.partition("~")
        if a not in index or b not in index or a == b:
            raise ValueError(f"latent_correlation key {key!r} must be 'a~b' with a, b in {LATENT}")
        if not -1 < value < 1:
            raise ValueError(f"latent_correlation {key!r} must lie in (-1, 1), got {value}")
        r[index[a], index[b]] = r[index[b], index[a]] = value
    if np.linalg.eigvalsh(r).min() <= 1e-9:
        raise ValueError("latent_correlation is not positive definite; lower some correlations")
    return r


class CanalOccupation(Frozen):
    median_pct: Annotated[float, Field(gt=0, lt=100)]
    log_odds_sd: Positive


class Multifidus(Frozen):
    mean: float
    sd: Positive
    per_decade: float


class Imaging(Frozen):
    """Morphology, enhancement, signal, size and degeneration of the herniated disc."""

    source: str = ""
    herniation_type: dict[str, Probability]
    migration_grade: dict[str, tuple[Probability, Probability, Probability, Probability]]
    contrast_given: Probability
    rim_enhancement: dict[str, dict[str, Probability]]
    t2_signal: dict[str, Probability]
    pfirrmann_grade: dict[int, Probability]
    modic_type: dict[int, Probability]
    volume_mm3: MeanSd
    reading_cv: Annotated[float, Field(ge=0, le=1)]
    readings: Annotated[int, Field(ge=1, le=16)]
    canal_occupation: CanalOccupation
    multifidus_fat_pct: Multifidus

    @model_validator(mode="after")
    def _distributions(self) -> Imaging:
        _check_distribution("herniation_type", self.herniation_type, TYPES)
        _check_distribution("t2_signal", self.t2_signal, schema.column("t2_signal").categories)
        _check_distribution("pfirrmann_grade", self.pfirrmann_grade, (1, 2, 3, 4, 5))
        _check_distribution("modic_type", self.modic_type, (0, 1, 2, 3))
        for key in (*TYPES, "migrated"):
            if key not in self.rim_enhancement:
                raise ValueError(f"rim_enhancement needs a row for {key!r}")
            _check_distribution(f"rim_enhancement.{key}", self.rim_enhancement[key], RIMS)
        for key in TYPES:
            if key not in self.migration_grade:
                raise ValueError(f"migration_grade needs a row for {key!r}")
            grades = dict(enumerate(self.migration_grade[key]))
            _check_distribution(f"migration_grade.{key}", grades, None)
        return self


class AgeEffect(Frozen):
    peak_years: float
    width_years: Positive
    height: float


class VolumeEffect(Frozen):
    height: float
    half_mm3: Positive
    hill: Positive


class TimeToResorption(Frozen):
    weibull_shape: Positive
    weibull_scale_days: Positive


class Resorption(Frozen):
    """Logistic model of eventual resorption and the time it takes."""

    source: str = ""
    intercept: float = 0.0
    type_logit: dict[str, float]
    rim_logit: dict[str, float]
    migration_per_grade: float
    t2_logit: dict[str, float]
    modic_logit: float
    long_duration_logit: float
    long_duration_days: Positive
    long_duration_width_days: Positive
    age: AgeEffect
    volume: VolumeEffect
    treatment_logit: dict[str, float]
    time: TimeToResorption

    @model_validator(mode="after")
    def _complete(self) -> Resorption:
        for name, keys in (("type_logit", TYPES), ("rim_logit", RIMS),
                           ("t2_logit", schema.column("t2_signal").categories),
                           ("treatment_logit", schema.column("treatment").categories)):
            missing = sorted(set(keys) - set(getattr(self, name)))
            if missing:
                raise ValueError(f"{name} needs a value for {missing}")
        return self


class Surgery(Frozen):
    """Proportional-hazards model of surgery during conservative care (a competing event)."""

    source: str = ""
    hazard_per_year: Annotated[float, Field(ge=0)]
    vas_leg_per_point: float
    canal_per_pp: float
    canal_reference_pct: float
    motor_deficit: float
    cauda_equina: float
    progressive_motor_deficit: float


class GradeCuts(Frozen):
    """Lower bounds of measured volume reduction (%) for the Komori 1998 grades."""

    disappeared: float
    marked_decrease: float
    slight_decrease: float
    no_change: float

    @model_validator(mode="after")
    def _descending(self) -> GradeCuts:
        cuts = [self.disappeared, self.marked_decrease, self.slight_decrease, self.no_change]
        if cuts != sorted(cuts, reverse=True) or self.disappeared > 100:
            raise ValueError(f"grade cut-points must descend from at most 100, got {cuts}")
        return self


class VolumeChange(Frozen):
    """Follow-up volume: extent of shrinkage for resorbers, drift for the others."""

    source: str = ""
    complete_share: dict[str, Probability]
    extent_median: dict[str, Annotated[float, Field(gt=0, lt=1)]]
    extent_logit_sd: Positive
    modic_extent_logit: float
    stable_log_ratio: MeanSd
    grades_pct: GradeCuts

    @model_validator(mode="after")
    def _complete(self) -> VolumeChange:
        for name, keys in (("complete_share", TYPES), ("extent_median", RIMS)):
            missing = sorted(set(keys) - set(getattr(self, name)))
            if missing:
                raise ValueError(f"{name} needs a value for {missing}")
        return self


class PainChange(Frozen):
    """Change from baseline to follow-up of one symptom score."""

    change: float
    per_reduction: float
    modic: float
    surgery: float
    sd: Positive
    treatment: dict[str, float]


class FollowupPain(Frozen):
    source: str = ""
    vas_leg: PainChange
    odi: PainChange


class FollowupComponent(Frozen):
    weight: Positive
    mean_days: Positive
    sd_days: Annotated[float, Field(ge=0)]


class Followup(Frozen):
    """Baseline to follow-up MRI: a mixture of scheduled visits, or one fixed horizon."""

    source: str = ""
    components: tuple[FollowupComponent, ...] = ()
    low_days: Annotated[int, Field(ge=1)] = 30
    high_days: Annotated[int, Field(le=3650)] = 1095
    fixed_days: Annotated[int, Field(ge=1, le=3650)] | None = None

    @model_validator(mode="after")
    def _something(self) -> Followup:
        if self.fixed_days is None and not self.components:
            raise ValueError("followup needs components or fixed_days")
        return self


class Target(Frozen):
    """One published figure the simulated cohort must reproduce (see :mod:`.fidelity`)."""

    statistic: str
    measure: Literal["share", "rate", "mean", "sd", "correlation", "volume_ratio_change",
                     "volume_mean_change", "mean_change", "time_to_resorption_mean"]
    column: str | None = None
    column2: str | None = None
    values: tuple[bool | int | float | str, ...] = ()
    where: dict[str, tuple[bool | int | float | str, ...]] = Field(default_factory=dict)
    horizon_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    published: float
    tolerance: Positive
    source: str
    note: str = ""

    @model_validator(mode="after")
    def _columns(self) -> Target:
        for name in (self.column, self.column2, *self.where):
            if name is not None and name not in schema.BY_NAME:
                raise ValueError(f"target {self.statistic!r}: {name!r} is not a schema column")
        return self


class CohortParams(Frozen):
    """All parameters of one preset, merged onto the literature preset and validated."""

    preset: str
    description: str = ""
    sampling: Literal["iid", "systematic"] = "iid"
    min_reduction_pct: Annotated[float, Field(ge=0, le=100)] = 10.0
    population: Population
    symptoms: Symptoms
    imaging: Imaging
    resorption: Resorption
    surgery: Surgery
    volume_change: VolumeChange
    followup_pain: FollowupPain
    followup: Followup
    missing: dict[str, Probability] = Field(default_factory=dict)
    targets: tuple[Target, ...] = ()

    @model_validator(mode="after")
    def _optional_only(self) -> CohortParams:
        required = [k for k in self.missing
                    if k not in schema.BY_NAME or schema.BY_NAME[k].required]
        if required:
            raise ValueError(f"missing may only name optional schema columns, got {required}")
        return self
