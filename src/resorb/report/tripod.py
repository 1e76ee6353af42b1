"""Which items of the TRIPOD+AI checklist a resorb run can fill, and how.

:func:`fill_checklist` answers an item of :data:`resorb.report.checklist.ITEMS` (TRIPOD+AI,
Collins GS et al., BMJ 2024;385:e078378) only from :class:`StudyFacts` (what the MLflow run
and the model card record); every other item says "needs author input", because the run
cannot know the ethics approval, the funders or the clinical setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resorb.report.checklist import CITATION, ITEMS, Item

__all__ = ["AUTHOR", "CITATION", "FILLED", "ITEMS", "PARTLY", "STATUSES", "Entry", "Item",
           "StudyFacts", "fill_checklist"]

FILLED = "filled from the run"
PARTLY = "partly filled"
AUTHOR = "needs author input"
STATUSES = (FILLED, PARTLY, AUTHOR)


@dataclass(frozen=True)
class StudyFacts:
    """What one MLflow run says about the study, in sentences ready for the checklist.

    Only aggregates: no identifier, no patient row. Empty strings and ``None`` mean unknown.
    """

    synthetic: bool
    trained_on: str
    preset: str = ""
    n_requested: int | None = None
    seed: int | None = None
    sources: tuple[str, ...] = ()
    data_account: str = ""
    rows: int | None = None
    events: int | None = None
    prevalence: float | None = None
    sites: int | None = None
    baseline_period: str = ""
    label_rule: str = ""
    horizon: str = ""
    predictors: str = ""
    sample_size: str = ""
    sample_size_ok: bool | None = None
    missing: str = ""
    validation_method: str = ""
    model_type: str = ""
    encodings: str = ""
    comparison: str = ""
    metrics: str = ""
    subgroups: tuple[str, ...] = ()
    decision_threshold: float | None = None
    risk_bands: str = ""
    model_file: str = ""
    code_version: str = ""
    data_sha256: str = ""


@dataclass(frozen=True)
class Entry:
    """One checklist item with its status (:data:`STATUSES`) and what the run reports."""

    item: Item
    status: str
    answer: str


Answer = tuple[str, str]


def _partly(text: str, missing: str) -> Answer:
    return PARTLY, f"{text} {AUTHOR.capitalize()}: {missing}."


def _answers(f: StudyFacts) -> dict[str, Callable[[], Answer | None]]:
    """Item number -> how the run answers it (None: it cannot)."""
    syn = f.synthetic
    na_synthetic = (FILLED, "Not applicable: synthetic data, no participants and no "
                            "assessors.") if syn else None
    sites = f"{f.sites} sites (names withheld, numbered in the subgroup table)" if f.sites \
        else ""
    rows = f"{f.rows:,} rows" if f.rows is not None else "the rows"
    per_site = "site" in f.subgroups
    return {
        "1": lambda: (AUTHOR, f"{AUTHOR} (suggested: development and internal validation of "
                              "a model predicting spontaneous resorption of lumbar disc "
                              "herniation under conservative care)"),
        "3a": lambda: _partly(
            "Prognostic model: the chance that a lumbar disc herniation seen on a baseline "
            "MRI resorbs under conservative care by a given horizon, to inform whether "
            "watchful waiting is reasonable.", "clinical rationale and references to "
            "existing models"),
        "3b": lambda: (FILLED, "Adults with symptomatic lumbar disc herniation considered for "
                               "conservative care, at the decision between watchful waiting "
                               "and referral for surgery; users are spine clinicians "
                               "(surgeons, physiatrists, radiologists). Patients with a red "
                               "flag (cauda equina syndrome, progressive motor deficit) are "
                               "never offered waiting."),
        "4": lambda: _partly(f"Development with internal validation ({f.validation_method}).",
                             "the study objectives"),
        "5a": lambda: (FILLED, f"Synthetic cohort, preset '{f.preset}' ({f.trained_on}), "
                               f"drawn from a generator whose parameters follow published "
                               f"figures: {'; '.join(f.sources)}. Not patient data and not "
                               f"representative of any clinic.") if syn else _partly(
            f"Real data, {rows} used for development.", "source (cohort, registry, "
            "routine care), rationale and representativeness"),
        "5b": lambda: ((FILLED, f"Simulated baseline MRI dates {f.baseline_period}.") if syn
                       else _partly(f"Baseline MRI from {f.baseline_period} (first and last "
                                    "month).", "accrual and end of follow-up")
                       ) if f.baseline_period else None,
        "6a": lambda: ((FILLED, f"Simulated: {sites}.") if syn else _partly(
            f"{sites}.", "the setting (e.g., secondary care spine clinic) and centre "
            "locations")) if sites else None,
        "6b": lambda: (FILLED if syn else PARTLY,
                       "Adults with symptomatic lumbar disc herniation and a follow-up MRI; "
                       "rows without an observed outcome and patients operated before the "
                       f"follow-up MRI are excluded ({f.data_account})."
                       + ("" if syn else f" {AUTHOR.capitalize()}: the study's inclusion and "
                                         "exclusion criteria.")),
        "6c": lambda: (FILLED, "Conservative treatment (conservative care, epidural steroid, "
                               "periradicular infiltration) is a predictor. Surgery before the "
                               "follow-up MRI is a competing event: those patients are "
                               "excluded, their resorption was never observed."),
        "7": lambda: (FILLED if syn else PARTLY,
                      "Every input is checked against the data dictionary (types, units, "
                      "ranges, categories) and training refuses a file that breaks it; the "
                      "same checks apply to every row whatever the sociodemographic group."
                      + ("" if syn else f" {AUTHOR.capitalize()}: extraction and cleaning "
                                        "before resorb.")),
        "8a": lambda: (FILLED, f"{f.label_rule} {f.horizon}") if syn else _partly(
            f"{f.label_rule} {f.horizon}", "who assessed the follow-up MRI and whether the "
            "assessment was the same across sociodemographic groups"),
        "8b": lambda: na_synthetic,
        "8c": lambda: na_synthetic,
        "9a": lambda: (FILLED, "Predictors were chosen from the published evidence on "
                               "resorption and fixed in the data dictionary before any model "
                               "was fitted; no data-driven pre-selection."),
        "9b": lambda: (FILLED, f"Measured at the baseline visit and MRI: {f.predictors}.")
        if syn else _partly(f"Measured at the baseline visit and MRI: {f.predictors}.",
                            "measurement protocol and blinding"),
        "9c": lambda: na_synthetic,
        "10": lambda: (FILLED, f"All eligible rows were used. {f.sample_size}"),
        "11": lambda: (FILLED, f"{f.missing} Rows left out: {f.data_account}."),
        "12a": lambda: (FILLED, f"All eligible rows ({rows}) fitted the model; performance "
                                f"comes from internal validation ({f.validation_method}) "
                                "with bootstrap 95% intervals; no hold-out split."),
        "12b": lambda: (FILLED, f.encodings),
        "12c": lambda: (FILLED, f"{f.model_type} Hyperparameters are fixed in params.yaml "
                                f"(no tuning). Internal validation: {f.validation_method}."
                                + (f" {f.comparison}" if f.comparison else "")),
        "12d": lambda: _partly("Discrimination, calibration slope and observed/expected ratio "
                               "are reported per site.", "how heterogeneity was handled")
        if per_site else None,
        "12e": lambda: (FILLED, "Discrimination: AUROC (C-statistic), average precision. "
                                "Calibration: intercept, slope, integrated calibration index, "
                                "smoothed calibration curve. Overall: Brier score, scaled "
                                "Brier, log loss. Clinical utility: decision curve (net "
                                "benefit of offering watchful waiting). All with bootstrap 95% "
                                "intervals" + ("; candidates compared by paired bootstrap "
                                               "differences on identical folds."
                                               if f.comparison else ".")),
        "12f": lambda: (FILLED, "No model updating after evaluation."),
        "12g": lambda: (FILLED, f"Predictions come from the saved scikit-learn pipeline "
                                f"({f.model_file}), through `resorb score` or the MLflow "
                                "python-function model."),
        "13": lambda: (FILLED, "No class-imbalance method (no resampling, no class weights); "
                               + (f"prevalence {f.prevalence:.2f}; " if f.prevalence is not None
                                  else "") + "probabilities are used as predicted."),
        "14": lambda: _partly("No fairness method was applied; discrimination and calibration "
                              f"are reported per {', '.join(f.subgroups)}.",
                              "rationale and any further fairness analysis")
        if f.subgroups else None,
        "15": lambda: (FILLED, "The probability of resorption by the horizon. "
                               + (f"Watchful waiting may be offered when it is at least "
                                  f"{f.decision_threshold:g} (decision threshold in "
                                  "params.yaml)" if f.decision_threshold is not None else "")
                               + (f"; bands {f.risk_bands}" if f.risk_bands else "")
                               + ". Red flags exclude waiting whatever the probability."),
        "16": lambda: (FILLED, "Internal validation: evaluation resamples the development "
                               "data, so setting, eligibility, outcome and predictors are the "
                               "same."),
        "17": lambda: na_synthetic,
        "18e": lambda: (FILLED, f"Regenerate the data exactly with `resorb cohort generate "
                                f"--preset {f.preset} --n {f.n_requested} --seed {f.seed}` "
                                f"(fingerprint sha256 {f.data_sha256}).") if syn else _partly(
            f"The data are identified by their fingerprint (sha256 {f.data_sha256}).",
            "availability of the data"),
        "18f": lambda: _partly(f"Analysis code: {f.code_version}.", "where the code is "
                                                                    "available"),
        "20a": lambda: (FILLED, f"{f.data_account}. {f.horizon}"),
        "20b": lambda: _partly(
            f"{f.rows:,} rows, {f.events:,} resorbed (prevalence {f.prevalence:.2f})"
            + (f", {sites}" if sites else "")
            + (f", baseline {f.baseline_period}" if f.baseline_period else "")
            + "; missing data per predictor in the Data section.",
            "a table of characteristics (demographics, predictors, treatments) overall and "
            "by setting") if f.rows is not None and f.events is not None
        and f.prevalence is not None else None,
        "21": lambda: (FILLED, f"Development: {f.rows:,} rows ({f.events:,} resorbed); "
                               f"evaluation: {f.validation_method} on the same rows"
                               + ("; every candidate on identical folds." if f.comparison
                                  else ".")) if f.rows is not None and f.events is not None
        else None,
        "22": lambda: _partly(f"The fitted pipeline is saved ({f.model_file}) and runs "
                              "through `resorb score` or MLflow.",
                              "restrictions to access or re-use"),
        "23a": lambda: (FILLED, f"{f.metrics}; per subgroup in the subgroup table.")
        if f.metrics else None,
        "23b": lambda: (FILLED, "Per-site AUROC, calibration slope and observed/expected "
                                "ratio in the subgroup table.") if per_site else None,
        "24": lambda: (FILLED, "No model updating."),
        "26": lambda: _partly("Synthetic data: the model reproduces the generator's "
                              "assumptions and shows nothing about real patients.",
                              "the study's limitations") if syn else (_partly(
            "The data are below the Riley minimum sample size.", "the study's limitations")
            if f.sample_size_ok is False else None),
        "27a": lambda: (FILLED, "`resorb score` checks every row against the data dictionary: "
                                "a row that breaks it is rejected with its reasons, inputs "
                                "outside the training ranges are listed, optional predictors "
                                "left missing are imputed as in training, and a missing rim "
                                "enhancement means no contrast was given."),
        "27b": lambda: _partly("Users supply a table in the data dictionary's columns (or a "
                               "column mapping) and run `resorb score`; each patient gets a "
                               "probability, a band, eligibility for waiting and the findings "
                               "that move the probability most.",
                               "the level of expertise required"),
    }


def fill_checklist(facts: StudyFacts) -> list[Entry]:
    """Every TRIPOD+AI item, answered from the run where it can be.

    Parameters
    ----------
    facts : StudyFacts
        What the run records.

    Returns
    -------
    list of Entry
        One per item of :data:`ITEMS`, in order; status "needs author input" where the run
        cannot answer.
    """
    answers = _answers(facts)
    out = []
    for item in ITEMS:
        make = answers.get(item.number)
        answer = make() if make is not None else None
        status, text = answer if answer is not None else (AUTHOR, AUTHOR)
        out.append(Entry(item, status, text))
    return out
