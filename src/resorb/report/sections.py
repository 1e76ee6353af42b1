"""The report's page as typed facts: banners, the summary, and one object per section.

:func:`gather` turns what was read (run record, model, explanations, parameters) into a
:class:`Page`; the templates only lay it out and format its numbers. Numbers stay numbers
here (an interval is a :class:`Shown`), so formatting happens once, where it is displayed.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from resorb import schema
from resorb.config import Params
from resorb.report import facts as f
from resorb.report.checklist import CITATION
from resorb.report.explanations import Explanations
from resorb.report.predictor_sets import predictor_set_facts
from resorb.report.tripod import STATUSES, Entry, StudyFacts, fill_checklist
from resorb.runs import RunRecord

#: subgroups with fewer rows are shown as "<10", their numbers suppressed
SMALL_CELL = 10
PACKAGES = ("resorb", "numpy", "pandas", "scipy", "scikit-learn", "skops", "shap", "mlflow",
            "matplotlib", "pyarrow", "pydantic")
_PNG = b"\x89PNG\r\n\x1a\n"
_CAPTIONS = {
    "calibration": ("Calibration curve", "Observed against predicted resorption (smoothed, "
                    "out-of-fold). On the diagonal, a predicted 60% means 60 of 100 such "
                    "herniations resorb."),
    "roc": ("ROC curve", "Sensitivity against 1 - specificity over every threshold."),
    "decision_curve": ("Decision curve", "Net benefit of offering watchful waiting when the "
                       "predicted probability is at least the threshold, against waiting for "
                       "everyone and for no one; the model helps where its curve lies above "
                       "both."),
}


@dataclass(frozen=True)
class Term:
    """A label and its text (``code``: shown as code); ``text`` may hold `code spans`."""

    label: str
    text: str
    code: bool = False


@dataclass(frozen=True)
class Picture:
    """An embedded figure: PNG bytes (None: not available), alternative text, caption."""

    png: bytes | None
    alt: str
    caption: str

    @property
    def available(self) -> bool:
        """Whether the bytes are a PNG image."""
        return bool(self.png) and self.png.startswith(_PNG)


@dataclass(frozen=True)
class Shown:
    """An estimate with its 95% interval, as shown (NaN or None: unknown)."""

    estimate: float | None
    low: float | None = None
    high: float | None = None
    decimals: int = 2


@dataclass(frozen=True)
class MetricRow:
    """One row of the performance table."""

    group: str
    measure: f.Measure
    value: Shown
    extra: tuple[float, ...] = ()


@dataclass(frozen=True)
class SubgroupRow:
    """One subgroup: counts, observed and predicted resorption, O/E, AUROC and slope."""

    variable: str
    subgroup: str
    rows: int
    events: int
    observed: float
    predicted: float
    o_e_ratio: float
    auroc: float
    calibration_slope: float

    @property
    def suppressed(self) -> bool:
        """Fewer than :data:`SMALL_CELL` rows: only the label is shown."""
        return self.rows < SMALL_CELL


@dataclass(frozen=True)
class FindingRow:
    """One subgroup of herniation type x rim or migration grade, with 95% intervals."""

    grouping: str
    subgroup: str
    rows: int
    observed: float
    expected: float
    difference: Shown
    o_e: Shown
    citl: Shown
    slope: Shown
    truth: float
    note: str

    @property
    def suppressed(self) -> bool:
        """Fewer than :data:`SMALL_CELL` rows: only the label is shown."""
        return self.rows < SMALL_CELL


@dataclass(frozen=True)
class FindingFacts:
    """The table of :func:`resorb.metrics.subgroups.finding_calibration`, as rows."""

    rows: tuple[FindingRow, ...]
    truth: bool

    def __bool__(self) -> bool:
        return bool(self.rows)


@dataclass(frozen=True)
class MissingRow:
    """A predictor with missing values: how many, and what missing means."""

    variable: str
    meaning: str
    missing_pct: float
    missing_means: str


@dataclass(frozen=True)
class BoardRow:
    """One candidate of the comparison: AUROC, slope, ICI, Brier, AUROC difference."""

    candidate: str
    champion: bool
    cells: tuple[Shown, ...]


@dataclass(frozen=True)
class DataFacts:
    """The Data section: the cohort (synthetic) or a note (real), counts and missingness."""

    cohort: f.SyntheticCohort | None
    counts: tuple[Term, ...]
    missing: tuple[MissingRow, ...] | None  # None: no missingness table in the run
    n_predictors: int = 0


@dataclass(frozen=True)
class PerformanceFacts:
    """The performance table: validation method, extra columns, one row per metric."""

    method: str
    extra: tuple[str, ...]
    rows: tuple[MetricRow, ...]


@dataclass(frozen=True)
class ComparisonFacts:
    """The comparison: how candidates were compared, and one row per candidate."""

    sentence: str
    rows: tuple[BoardRow, ...]


@dataclass(frozen=True)
class AdaptationFacts:
    """Small-sample adaptations of the model (its card) and its heuristic shrinkage factor."""

    changes: tuple[str, ...]
    heuristic_shrinkage: float | None = None


@dataclass(frozen=True)
class ChecklistFacts:
    """Every TRIPOD+AI item with its status, and how many items have each status."""

    entries: tuple[Entry, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Status -> number of items."""
        return {s: sum(e.status == s for e in self.entries) for s in STATUSES}


@dataclass(frozen=True)
class ProvenanceFacts:
    """Model, run, hashes and code version; the software that made the report."""

    rows: tuple[Term, ...]
    versions: tuple[Term, ...]


@dataclass(frozen=True)
class Banner:
    """A boxed warning at the top: ``stop`` (red) or ``warn`` (amber)."""

    level: Literal["stop", "warn"]
    title: str
    text: str


@dataclass(frozen=True)
class Section:
    """One numbered section: anchor (also the template's name), heading and its facts."""

    anchor: str
    title: str
    facts: Any


@dataclass(frozen=True)
class Page:
    """Everything the report shows."""

    title: str
    run_id: str
    generated_at: str
    banners: tuple[Banner, ...]
    glance: tuple[Term, ...]
    sections: tuple[Section, ...]
    citation: str = CITATION


def gather(record: RunRecord, model: f.ModelFacts, expl: Explanations, params: Params,
           generated_at: str = "", evaluations: EvaluationsFacts | None = None) -> Page:
    """The report's page from what was read.

    Parameters
    ----------
    record : RunRecord
    model : ModelFacts
    expl : Explanations
    params : Params
    generated_at : str
        Time stamp printed in the report.
    evaluations : EvaluationsFacts, optional
        The model's external validations (``resorb evaluate``); None or empty: the section
        says none is recorded.

    Returns
    -------
    Page
    """
    study = f.study_facts(record, model, params)
    cohort = f.synthetic_cohort(model.card.data_source)
    sections = [
        Section("use", "Intended use", intended_use(model, cohort, params)),
        Section("data", "Data", data_facts(record, cohort)),
        Section("outcome", "Outcome and label rule", study),
        Section("sample", "Sample size", study),
        *adaptation_sections(model.card),
        Section("performance", "Discrimination and calibration", metric_rows(record)),
        Section("predictor_sets", "Predictors, and what is lost without a finding",
                predictor_set_facts(model.card)),
        Section("figures", "Calibration, ROC and decision curves", tuple(
            Picture(record.figures.get(k), alt, cap) for k, (alt, cap) in _CAPTIONS.items())),
        Section("subgroups", "Subgroups", subgroup_rows(record.subgroups)),
        Section("finding_subgroups", "Calibration by the strongest findings",
                finding_rows(record.finding_subgroups)),
        Section("evaluations", "External validation on other data",
                evaluations or EvaluationsFacts(())),
        Section("explanations", "What drives the predictions (SHAP)", expl),
    ]
    if record.leaderboard is not None and not record.leaderboard.empty:
        sections.append(Section("comparison", "Model comparison", ComparisonFacts(
            study.comparison, board_rows(record.leaderboard))))
    sections += [Section("tripod", "TRIPOD+AI checklist",
                         ChecklistFacts(tuple(fill_checklist(study)))),
                 Section("provenance", "Versions and fingerprints",
                         provenance(record, model, generated_at))]
    return Page(title=model.title, run_id=record.run_id, generated_at=generated_at,
                banners=banners(study, evaluations), glance=glance(study), sections=tuple(sections))


def banners(study: StudyFacts,
            evaluations: EvaluationsFacts | None = None) -> tuple[Banner, ...]:
    """Not for clinical use (synthetic), or internal validation only (no external validation
    on real data recorded), or how many external validations there are; below the sample
    size."""
    external = [r for r in (evaluations.rows if evaluations else ())
                if not r.evaluated_on.startswith("synthetic")]
    if study.synthetic:
        first = Banner("stop", "Not for clinical use.",
                       f"This model was trained on synthetic data ({study.trained_on}). It "
                       f"shows how the method works; it must not inform the care of any "
                       f"patient.")
    elif external:
        first = Banner("warn", f"Externally validated on {len(external)} data "
                       f"set{'s' * (len(external) != 1)}.",
                       "Read their calibration in 'External validation on other data' below; "
                       "before the model informs care, it needs calibration checked in the "
                       "clinic that will use it.")
    else:
        first = Banner("warn", "Internal validation only.", "Before it informs care, the "
                       "model needs external validation in the clinic that will use it.")
    out = [first]
    if study.sample_size_ok is False:
        out.append(Banner("warn", "Below the minimum sample size.", study.sample_size))
    return tuple(out)


def glance(study: StudyFacts) -> tuple[Term, ...]:
    """The summary box at the top."""
    verdict = {True: "meets the Riley minimum", False: "below the Riley minimum",
               None: "not recorded"}[study.sample_size_ok]
    return (Term("Data", f"{study.trained_on}; {study.data_account}"),
            Term("Performance", study.metrics or "not recorded"),
            Term("Validation", study.validation_method), Term("Sample size", verdict))


def intended_use(model: f.ModelFacts, cohort: f.SyntheticCohort | None,
                 params: Params) -> tuple[Term, ...]:
    """What the model predicts, for whom, when it must not be used, and its output."""
    return (
        Term("What it predicts", "The probability that a lumbar disc herniation seen on a "
             "baseline MRI has resorbed on a follow-up MRI, under conservative care."),
        Term("For whom", "Adults (18 years or older) with symptomatic lumbar disc herniation "
             "(radicular pain with a herniation on MRI) who are considered for conservative "
             "care."),
        Term("Eligibility", "A baseline MRI and clinical examination recording the predictors "
             "of the data dictionary (see `resorb schema`); no red flag."),
        Term("Red flags", "Cauda equina syndrome and progressive or profound motor deficit "
             "rule out waiting for resorption: such patients are never offered watchful "
             "waiting, whatever the model says (`resorb score` marks them ineligible)."),
        Term("Horizon", f.horizon_sentence(cohort, f.default_horizon(params))),
        Term("Output", f"A probability between 0 and 1. Watchful waiting may be offered when "
             f"it is at least {model.card.decision_threshold:g}, the model's decision "
             f"threshold."),
        Term("Intended users", "Spine clinicians (surgeons, physiatrists, radiologists) "
             "deciding between watchful waiting and referral; the model supports, never "
             "replaces, their judgement."),
    )


def data_facts(record: RunRecord, cohort: f.SyntheticCohort | None) -> DataFacts:
    """Counts from ``data/summary.csv`` and the predictors with missing values."""
    s = f.data_summary(record)
    counts = (Term("Rows used", f"{s.rows:,}" if s.rows is not None else ""),
              Term("Resorbed (events)", f"{s.events:,}" if s.events is not None else ""),
              Term("Prevalence", f"{100 * s.prevalence:.1f}%" if s.prevalence is not None
                   else ""),
              Term("Sites", str(s.sites) if s.sites is not None else "not recorded"),
              Term("Baseline MRI period", s.baseline_period or "not recorded"),
              Term("Flow of rows", record.data_account))
    miss = record.missingness
    if miss is None or miss.empty:
        return DataFacts(cohort, counts, None)
    rows = tuple(MissingRow(str(r.variable), schema.BY_NAME[r.variable].description
                            if r.variable in schema.BY_NAME else "", float(r.missing_pct),
                            str(r.missing_means) if pd.notna(r.missing_means) else "")
                 for r in miss.itertuples() if r.missing_pct > 0)
    return DataFacts(cohort, counts, rows, n_predictors=len(miss))


def metric_rows(record: RunRecord) -> PerformanceFacts | None:
    """Validation method, extra columns (apparent, optimism) and one row per known metric."""
    if record.metrics is None:
        return None
    extra = tuple(c for c in ("apparent", "optimism") if c in record.metrics.columns)
    by_name = {r.metric: r for r in record.metrics.itertuples(index=False)}
    rows = tuple(
        MetricRow(m.group, m, Shown(by_name[k].estimate, by_name[k].ci_low, by_name[k].ci_high,
                                    m.decimals),
                  tuple(float(getattr(by_name[k], c)) for c in extra))
        for k, m in f.MEASURES.items() if k in by_name)
    return PerformanceFacts(record.validation_method or "not recorded", extra, rows)


def finding_rows(table: pd.DataFrame | None) -> FindingFacts:
    """The run's calibration by type x rim and migration grade (empty: none logged)."""
    if table is None or table.empty:
        return FindingFacts((), False)

    def shown(r: Any, col: str, decimals: int) -> Shown:
        return Shown(float(getattr(r, col)), float(getattr(r, f"{col}_ci_low")),
                     float(getattr(r, f"{col}_ci_high")), decimals)

    rows = tuple(FindingRow(str(r.grouping), str(r.subgroup), int(r.rows), float(r.observed),
                            float(r.expected), shown(r, "difference", 3), shown(r, "o_e", 2),
                            shown(r, "citl", 2), shown(r, "slope", 2), float(r.truth),
                            "" if pd.isna(r.note) else str(r.note))
                 for r in table.itertuples(index=False))
    return FindingFacts(rows, bool(table["truth"].notna().any()))


def subgroup_rows(table: pd.DataFrame | None) -> tuple[SubgroupRow, ...]:
    """The run's subgroup table as rows (suppression is decided by each row)."""
    if table is None:
        return ()
    return tuple(SubgroupRow(str(r.variable), str(r.subgroup), int(r.rows), int(r.events),
                             float(r.observed), float(r.predicted), float(r.o_e_ratio),
                             float(r.auroc), float(r.calibration_slope))
                 for r in table.itertuples(index=False))


#: leaderboard column and decimals of each comparison cell
BOARD = (("auroc", 3), ("calibration_slope", 2), ("ici", 3), ("brier", 3),
         ("d_auroc_vs_champion", 3))


def board_rows(board: pd.DataFrame) -> tuple[BoardRow, ...]:
    """Each candidate's estimates with their intervals (numeric leaderboard columns)."""
    def cell(row: dict[str, Any], col: str, decimals: int) -> Shown:
        return Shown(row.get(col), row.get(f"{col}_ci_low"), row.get(f"{col}_ci_high"),
                     decimals)

    return tuple(BoardRow(str(r["candidate"]), bool(r.get("champion")),
                          tuple(cell(r, col, dec) for col, dec in BOARD))
                 for r in board.to_dict("records"))


def provenance(record: RunRecord, model: f.ModelFacts, generated_at: str) -> ProvenanceFacts:
    """Model, run, hashes and code version; the versions of the software making the report."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    card, fp = model.card, record.fingerprint
    rows = (Term("Model", model.title), Term("Model URI", model.source),
            Term("Logged model id", model.model_id),
            Term("MLflow run", f"{record.run_id} ({record.run_name})"),
            Term("Trained", f"{record.started:%Y-%m-%d %H:%M UTC}" if record.started else ""),
            Term("Trained on", card.trained_on),
            Term("Model file", f"model.skops, {model.skops_bytes / 1e6:.1f} MB, sha256 "
                               f"{card.skops_sha256}"),
            Term("Data fingerprint", f"sha256 {fp.data_sha256 if fp else 'not recorded'}"),
            Term("Trained with", f"resorb {record.tags.get('resorb_version', '?')}, git "
                                 f"commit {record.tags.get('git_commit', 'unknown')}"),
            Term("Report generated", generated_at))
    versions = (Term("python", platform.python_version()),
                *(Term(p, installed(p)) for p in PACKAGES))
    return ProvenanceFacts(tuple(Term(t.label, t.text, code=True) for t in rows if t.text),
                           versions)


# ------------------------------------------------------------ external validations


@dataclass(frozen=True)
class EvaluationRow:
    """One external validation of the model (``resorb evaluate``), as logged: aggregates only.

    ``cells`` follow :data:`EVALUATION_CELLS`; ``figure`` is its calibration plot (None: not
    fetched).
    """

    started: str
    run_id: str
    evaluated_on: str
    rows: int | None
    events: int | None
    sample_size_ok: bool | None
    cells: tuple[Shown, ...]
    figure: Picture | None = None


@dataclass(frozen=True)
class EvaluationsFacts:
    """The model's external validations, newest first (empty: none recorded)."""

    rows: tuple[EvaluationRow, ...]


#: run metric and decimals of each cell of the evaluations table, in the hierarchy's order
EVALUATION_CELLS = (("o_e_ratio", 2), ("calibration_intercept", 2), ("calibration_slope", 2),
                    ("ici", 3), ("auroc", 2), ("scaled_brier", 2))


def evaluation_rows(table: pd.DataFrame | None,
                    figures: dict[str, bytes] | None = None) -> EvaluationsFacts:
    """The evaluations table of :func:`resorb.tracking.list_evaluations` as report rows.

    Parameters
    ----------
    table : DataFrame, optional
        One row per evaluation run (metrics with ``_ci_low``/``_ci_high`` columns).
    figures : dict of str to bytes, optional
        Run id -> PNG bytes of the evaluation's calibration plot.
    """
    if table is None or table.empty:
        return EvaluationsFacts(())
    figures = figures or {}

    def count(x: Any) -> int | None:
        return None if x is None or pd.isna(x) else int(x)

    out = []
    for r in table.to_dict("records"):
        cells = tuple(Shown(r.get(k), r.get(f"{k}_ci_low"), r.get(f"{k}_ci_high"), dec)
                      for k, dec in EVALUATION_CELLS)
        png = figures.get(str(r["run_id"]))
        picture = None if png is None else Picture(
            png, f"Calibration on {r.get('evaluated_on', '')}",
            f"Evaluation {r['run_id']} ({r.get('started', '')}): flexible calibration curve "
            f"with its 95% bootstrap band, the ideal line, and the predictions below.")
        ok = r.get("sample_size_ok")
        out.append(EvaluationRow(str(r.get("started", "")), str(r["run_id"]),
                                 str(r.get("evaluated_on", "")), count(r.get("rows")),
                                 count(r.get("events")),
                                 None if ok is None or pd.isna(ok) else bool(ok), cells,
                                 picture))
    return EvaluationsFacts(tuple(out))


def adaptation_sections(card: Any) -> tuple[Section, ...]:
    """The "Small-sample adaptations" section when the model's card records any (else none)."""
    changes = tuple(getattr(card, "adaptations", ()) or ())
    if not changes:
        return ()
    return (Section("adaptations", "Small-sample adaptations",
                    AdaptationFacts(changes, getattr(card, "heuristic_shrinkage", None))),)
