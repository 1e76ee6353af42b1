"""What a run and its model say about the study: typed facts and the sentences built from them.

Everything here is a pure function of a :class:`resorb.runs.RunRecord`, the model's
:class:`ModelFacts` (its :class:`resorb.card.ModelCard`) and the parameters; nothing reads a
file or the tracking store, and nothing sees a patient row. :func:`study_facts` gathers what
the TRIPOD+AI checklist (:mod:`resorb.report.tripod`) is answered from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from resorb import schema
from resorb.card import DataSource, ModelCard
from resorb.config import LabelRule, Params
from resorb.report.tripod import StudyFacts
from resorb.runs import RunRecord


@dataclass(frozen=True)
class Measure:
    """How the report names, rounds and explains one validation metric."""

    label: str
    decimals: int
    ideal: str
    meaning: str
    group: str = "Overall"


MEASURES: dict[str, Measure] = {
    "auroc": Measure("AUROC (C-statistic)", 2, "1; 0.5 is chance",
                     "chance that a herniation that resorbed got a higher prediction than one "
                     "that did not", "Discrimination"),
    "auprc": Measure("Average precision", 2, "1", "precision averaged over all sensitivities",
                     "Discrimination"),
    "calibration_intercept": Measure(
        "Calibration intercept", 2, "0",
        "below 0: predictions too high on average; above 0: too low", "Calibration"),
    "calibration_slope": Measure(
        "Calibration slope", 2, "1",
        "below 1: predictions too extreme (overfitting); above 1: too timid", "Calibration"),
    "ici": Measure("Integrated calibration index", 3, "0",
                   "mean distance between predicted and observed probability", "Calibration"),
    "brier": Measure("Brier score", 3, "0", "mean squared error of the predicted probabilities"),
    "scaled_brier": Measure("Scaled Brier score", 2, "1",
                            "improvement on predicting the prevalence for everyone"),
    "log_loss": Measure("Log loss", 3, "0", "penalises confident wrong predictions"),
}
#: the metrics of the one-line summary (at a glance, TRIPOD item 23a)
HEADLINE = ("auroc", "calibration_slope", "calibration_intercept", "ici", "brier")

MISSING_HANDLING = (
    "Predictors missing at baseline are imputed inside the model pipeline, fitted within each "
    "validation fold: median for numbers, most frequent value for yes/no findings, with a "
    "missing-value indicator for optional predictors; a missing rim enhancement means no "
    "contrast was given (lowest grade plus an indicator).")


@dataclass(frozen=True)
class ModelFacts:
    """The model, its card (``resorb.json``) and its file, as the report shows them."""

    name: str
    version: str
    source: str
    card: ModelCard
    skops_bytes: int
    model_id: str = ""

    @property
    def title(self) -> str:
        """e.g. ``resorb version 3 (random_forest)``."""
        who = f"{self.name} version {self.version}" if self.version else self.name
        return f"{who} ({self.card.candidate})" if self.card.candidate != self.name else who


@dataclass(frozen=True)
class SyntheticCohort:
    """A synthetic training cohort: its preset, size and seed, and the preset's sources."""

    preset: str
    n: int | None
    seed: int | None
    description: str = ""
    sources: tuple[tuple[str, str], ...] = ()
    followup: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSummary:
    """``data/summary.csv`` of a run: rows, events, prevalence, sites, baseline months."""

    rows: int | None = None
    events: int | None = None
    prevalence: float | None = None
    sites: int | None = None
    baseline_period: str = ""


def format_interval(estimate: float, low: float, high: float, decimals: int = 2) -> str:
    """``0.76 (0.75-0.77)``; ``-0.03 (-0.08 to 0.02)`` when a bound is negative;
    ``1.02 (0.61 to unbounded)`` when a bound is infinite.

    An infinite bound is what :func:`resorb.metrics.bootstrap.percentile_limits` gives when
    more than ``alpha / 2`` of the resamples have an infinite value (the calibration slope of
    a resample the predictions separate): the data set no limit on that side, which the
    page says (:data:`UNBOUNDED_NOTE`) rather than leaving the interval out.

    Parameters
    ----------
    estimate, low, high : float
        Point estimate and 95% interval; NaN (or None) prints as "n/a" (the interval is
        left out when a bound is missing); an infinite estimate prints as "infinite"
        ("-infinite"), an infinite bound as "unbounded".
    decimals : int
        Decimals of every number.
    """
    def finite(x: float | None) -> bool:
        return x is not None and math.isfinite(x)

    def known(x: float | None) -> bool:
        return x is not None and not math.isnan(x)

    def shown(x: float) -> str:
        return UNBOUNDED if math.isinf(x) else f"{x:.{decimals}f}"

    if not known(estimate):
        return "n/a"
    est = (f"{estimate:.{decimals}f}" if finite(estimate)
           else "infinite" if estimate > 0 else "-infinite")
    if not (known(low) and known(high)):
        return est
    sep = " to " if min(low, high) < 0 or not (finite(low) and finite(high)) else "-"
    return f"{est} ({shown(low)}{sep}{shown(high)})"


#: an infinite interval bound as printed
UNBOUNDED = "unbounded"
#: the line under a table that shows an unbounded interval
UNBOUNDED_NOTE = (
    "An interval reaching 'unbounded' has no finite limit on that side: in more than 2.5% of "
    "the bootstrap resamples the value was infinite. For the calibration slope these are "
    "resamples in which the predictions completely separate the herniations that resorbed "
    "from those that did not, so no finite slope fits them: the data are too few (or the "
    "outcomes too perfectly ranked) to bound the slope, which is not evidence that it is "
    "good.")


def unbounded(values: Iterable[Any]) -> bool:
    """Whether any of ``values`` (objects with ``estimate``, ``low``, ``high``, or tuples
    and lists of them) would print an infinite estimate or bound, i.e. needs
    :data:`UNBOUNDED_NOTE` under its table."""
    for value in values:
        if isinstance(value, tuple | list):
            if unbounded(value):
                return True
            continue
        for name in ("estimate", "low", "high"):
            x = getattr(value, name, None)
            if isinstance(x, int | float) and math.isinf(x):
                return True
    return False


def synthetic_cohort(source: DataSource) -> SyntheticCohort | None:
    """The preset's description, sources and follow-up of a synthetic source, else None."""
    if not source.synthetic:
        return None
    from resorb.cohort.presets import preset_data
    from resorb.errors import ConfigError

    try:
        data = preset_data(source.preset)
    except ConfigError:
        data = {}
    sources = tuple((group.replace("_", " "), str(block["source"]))
                    for group, block in data.items()
                    if isinstance(block, dict) and block.get("source"))
    return SyntheticCohort(preset=source.preset, n=source.n_requested, seed=source.seed,
                           description=" ".join(str(data.get("description", "")).split()),
                           sources=sources, followup=dict(data.get("followup") or {}))


def data_summary(record: RunRecord) -> DataSummary:
    """The run's one-row summary table, typed (missing values as None)."""
    if record.summary is None or record.summary.empty:
        return DataSummary()
    row = record.summary.iloc[0]

    def get(name: str) -> Any:
        return row[name] if name in row.index and pd.notna(row[name]) else None

    def count(name: str) -> int | None:
        value = get(name)
        return None if value is None else int(value)

    prevalence = get("prevalence")
    return DataSummary(rows=count("rows"), events=count("events"),
                       prevalence=None if prevalence is None else float(prevalence),
                       sites=count("sites"), baseline_period=str(get("baseline_period") or ""))


def label_sentence(rule: LabelRule) -> str:
    """What counts as resorbed, in words (TRIPOD item 8a)."""
    pct = rule.min_reduction_pct
    grades = ", ".join(str(g).replace("_", " ") for g in rule.grades_resorbed)
    what = ("the follow-up volume is zero" if pct >= 100 else
            f"the herniation volume fell by at least {pct:g}% between the baseline and the "
            f"follow-up MRI")
    return (f"Resorbed (rule '{rule.name}') when {what}; where both volumes are not "
            f"measured, when the Komori grade is {grades or 'a reduction'}; otherwise the "
            f"recorded 'resorbed' value. Patients operated before the follow-up MRI are a "
            f"competing event and leave the training data."
            + (f" Source: {rule.source}." if rule.source else ""))


def horizon_sentence(cohort: SyntheticCohort | None, default_days: int) -> str:
    """The prediction horizon, and the simulated follow-up of a synthetic cohort."""
    text = ("The horizon is the input followup_days, the days from the baseline MRI to the "
            "follow-up MRI (in scoring, the time asked about")
    text += f"; {default_days} days when a row gives none)."
    followup = cohort.followup if cohort else {}
    if followup.get("fixed_days"):
        text += f" Training horizon: {followup['fixed_days']} days for everyone."
    elif followup.get("components"):
        total = sum(float(c["weight"]) for c in followup["components"])
        parts = [f"about {float(c['mean_days']):g} days ({float(c['weight']) / total:.0%})"
                 for c in followup["components"]]
        text += f" Training horizons (simulated repeat MRI): {', '.join(parts)}."
    return text


def missing_sentence(record: RunRecord) -> str:
    """How missing predictors are handled, and which were missing how often."""
    text = MISSING_HANDLING
    miss = record.missingness
    if miss is not None and not miss.empty:
        some = miss[miss["missing_pct"] > 0]
        listed = ", ".join(f"{r.variable} {r.missing_pct:g}%" for r in some.itertuples())
        text += f" Missing: {listed or 'none'}."
    return text


def model_type(record: RunRecord, card: ModelCard) -> str:
    """The candidate, its description (params.yaml, as logged) and hyperparameters."""
    described = record.candidate_params.get("spec.description") or ""
    if not described:
        described = card.kind.replace("_", " ")
        if card.calibration != "none":  # a description says so itself
            described += f"; {card.calibration} recalibration fitted inside cross-validation"
    hyper = {k.removeprefix("spec.params."): v for k, v in record.candidate_params.items()
             if k.startswith("spec.params.")}
    text = f"Candidate '{card.candidate}': {described}"
    if hyper:
        text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(hyper.items())) + ")"
    return text + "."


def encodings(card: ModelCard) -> str:
    """How the model's pipeline encodes the predictors (TRIPOD item 12b)."""
    if card.kind == "logistic":
        splines = [c.name for c in schema.COLUMNS if c.encoding is schema.Encoding.SPLINE]
        return (f"Cubic splines (quantile knots) for {', '.join(splines)}; other numbers "
                "standardised; ordered grades by rank; categories one-hot; the horizon as "
                "monotone ramps of log-days so that the probability never falls as the "
                "horizon grows.")
    if card.kind == "mixture_cure":
        splines = [c.name for c in schema.COLUMNS if c.encoding is schema.Encoding.SPLINE]
        return (f"Mixture cure model: the probability of eventual resorption is logistic in "
                f"the predictors (cubic splines with quantile knots for {', '.join(splines)}; "
                "other numbers standardised; herniation type and rim enhancement as levels, "
                "no contrast its own level; categories one-hot), multiplied by a Weibull "
                "distribution function of the follow-up days fitted with it, so that the "
                "probability never falls as the horizon grows.")
    return ("Tree model: numbers as measured, ordered grades by rank, categories one-hot; "
            "predictions constrained to rise with the horizon.")


def comparison_sentence(record: RunRecord) -> str:
    """How many candidates were compared and by which champion rule ("" without one)."""
    board = record.leaderboard
    if board is None or board.empty:
        return ""
    p = record.params
    weights = {k.removeprefix("training.champion.weights."): v for k, v in p.items()
               if k.startswith("training.champion.weights.")}
    rule = ", ".join(f"{k} x {v}" for k, v in sorted(weights.items()))
    slope = p.get("training.champion.slope_range", "")
    margin = p.get("training.champion.auroc_margin", "")
    guards = (f" A candidate is passed over when another discriminates clearly better (paired "
              f"95% interval of the AUROC difference above 0) and either has a calibration-"
              f"slope interval containing 1 while its own does not, or is at least {margin} "
              f"better in AUROC with a slope interval reaching that range." if margin else "")
    return (f"{len(board)} candidates ({', '.join(map(str, board['candidate']))}) were "
            f"compared on identical folds; the champion maximises {rule or 'a weighted score'}"
            + (f" among candidates with a calibration slope in {slope}" if slope else "") + "."
            + guards)


def headline(record: RunRecord) -> str:
    """The key metrics with intervals in one line, e.g. ``AUROC (C-statistic) 0.76 (...)``."""
    if record.metrics is None:
        return ""
    return "; ".join(
        f"{MEASURES[r.metric].label} "
        f"{format_interval(r.estimate, r.ci_low, r.ci_high, MEASURES[r.metric].decimals)}"
        for r in record.metrics.itertuples(index=False) if r.metric in HEADLINE)


def _predictor_label(name: str) -> str:
    col = schema.BY_NAME.get(name)
    return f"{name} ({col.unit})" if col is not None and col.unit else name


def study_facts(record: RunRecord, model: ModelFacts, params: Params) -> StudyFacts:
    """The run's answers to the TRIPOD+AI checklist, as sentences (aggregates only).

    Parameters
    ----------
    record : RunRecord
        The run that trained the model.
    model : ModelFacts
        The model and its card.
    params : Params
        For the default horizon and the risk bands of scoring.

    Returns
    -------
    StudyFacts
    """
    card = model.card
    cohort = synthetic_cohort(card.data_source)
    summary = data_summary(record)
    cuts, labels = params.scoring.risk_bands.cuts, params.scoring.risk_bands.labels
    band_text = ", ".join(labels) + (f" at {', '.join(f'{c:g}' for c in cuts)}" if cuts
                                     else "")
    subgroups = () if record.subgroups is None else tuple(
        dict.fromkeys(str(v) for v in record.subgroups["variable"]))
    return StudyFacts(
        synthetic=card.data_source.synthetic, trained_on=card.trained_on,
        preset=cohort.preset if cohort else "", n_requested=cohort.n if cohort else None,
        seed=cohort.seed if cohort else None,
        sources=tuple(f"{g}: {s}" for g, s in cohort.sources) if cohort else (),
        data_account=record.data_account.rstrip("."), rows=summary.rows or None,
        events=summary.events or None, prevalence=summary.prevalence,
        sites=summary.sites or None, baseline_period=summary.baseline_period,
        label_rule=label_sentence(card.label_rule),
        horizon=horizon_sentence(cohort, default_horizon(params)),
        predictors=", ".join(_predictor_label(f) + (" derived from other findings (see "
                                                      "'Predictors')" if f in card.derived
                                                      else "") for f in card.features),
        sample_size=record.sample_size, sample_size_ok=record.sample_size_ok,
        missing=missing_sentence(record),
        validation_method=record.validation_method or "not recorded",
        model_type=model_type(record, card), encodings=encodings(card),
        comparison=comparison_sentence(record), metrics=headline(record),
        subgroups=subgroups, decision_threshold=card.decision_threshold,
        risk_bands=band_text, model_file=f"model.skops, sha256 {card.skops_sha256}",
        code_version=f"resorb {record.tags.get('resorb_version', '?')}, git commit "
                     f"{record.tags.get('git_commit', 'unknown')}",
        data_sha256=record.fingerprint.data_sha256 if record.fingerprint else "")


def default_horizon(params: Params) -> int:
    """Days of follow-up scored when a row gives none (params.yaml ``scoring.horizon_days``)."""
    return params.scoring.horizon_days
