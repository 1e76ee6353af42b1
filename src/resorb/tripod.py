"""The TRIPOD+AI checklist as data, and which of its items a resorb run can fill.

TRIPOD+AI (Collins GS et al., BMJ 2024;385:e078378) has 27 main items in eight sections,
52 numbered items counting sub-items (3a, 3b, ...). :data:`ITEMS` holds every one, numbered,
titled and worded as in the published checklist, with whether it concerns model development
(D), evaluation (E) or both (D;E). :func:`fill_checklist` answers an item only from
:class:`StudyFacts` (what the MLflow run records); every other item says "needs author input",
because the run cannot know the ethics approval, the funders or the clinical setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CITATION = ("Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated guidance for "
            "reporting clinical prediction models that use regression or machine learning "
            "methods. BMJ 2024;385:e078378. doi:10.1136/bmj-2023-078378")

FILLED = "filled from the run"
PARTLY = "partly filled"
AUTHOR = "needs author input"
STATUSES = (FILLED, PARTLY, AUTHOR)


@dataclass(frozen=True)
class Item:
    """One numbered item of the TRIPOD+AI checklist.

    Attributes
    ----------
    number : str
        As printed: ``"1"``, ``"3a"``, ``"18f"``.
    section : str
        Title, Abstract, Introduction, Methods, Open science, Patient and public involvement,
        Results or Discussion.
    topic : str
        The item's title (e.g. "Sample size").
    applies : str
        ``"D"`` development, ``"E"`` evaluation, ``"D;E"`` both.
    text : str
        The recommendation, worded as in the published checklist.
    """

    number: str
    section: str
    topic: str
    applies: str
    text: str

    @property
    def main(self) -> int:
        """Main item number, 1-27 (``"18f"`` -> 18)."""
        return int(self.number.rstrip("abcdefg"))


_I, _M, _O, _R, _D = "Introduction", "Methods", "Open science", "Results", "Discussion"
_MU = "Usability of the model in the context of current care"

ITEMS: tuple[Item, ...] = (
    Item("1", "Title", "Title", "D;E",
         "Identify the study as developing or evaluating the performance of a multivariable "
         "prediction model, the target population, and the outcome to be predicted."),
    Item("2", "Abstract", "Abstract", "D;E", "See TRIPOD+AI for Abstracts checklist."),
    Item("3a", _I, "Background", "D;E",
         "Explain the healthcare context (including whether diagnostic or prognostic) and "
         "rationale for developing or evaluating the prediction model, including references "
         "to existing models."),
    Item("3b", _I, "Background", "D;E",
         "Describe the target population and the intended purpose of the prediction model in "
         "the context of the care pathway, including its intended users (e.g., healthcare "
         "professionals, patients, public)."),
    Item("3c", _I, "Background", "D;E",
         "Describe any known health inequalities between sociodemographic groups."),
    Item("4", _I, "Objectives", "D;E",
         "Specify the study objectives, including whether the study describes the "
         "development or validation of a prediction model (or both)."),
    Item("5a", _M, "Data", "D;E",
         "Describe the sources of data separately for the development and evaluation "
         "datasets (e.g., randomised trial, cohort, routine care or registry data), the "
         "rationale for using these data, and representativeness of the data."),
    Item("5b", _M, "Data", "D;E",
         "Specify the dates of the collected participant data, including start and end of "
         "participant accrual; and, if applicable, end of follow-up."),
    Item("6a", _M, "Participants", "D;E",
         "Specify key elements of the study setting (e.g., primary care, secondary care, "
         "general population) including the number and location of centres."),
    Item("6b", _M, "Participants", "D;E",
         "Describe the eligibility criteria for study participants."),
    Item("6c", _M, "Participants", "D;E",
         "Give details of any treatments received, and how they were handled during model "
         "development or evaluation, if relevant."),
    Item("7", _M, "Data preparation", "D;E",
         "Describe any data pre-processing and quality checking, including whether this was "
         "similar across relevant sociodemographic groups."),
    Item("8a", _M, "Outcome", "D;E",
         "Clearly define the outcome that is being predicted and the time horizon, including "
         "how and when assessed, the rationale for choosing this outcome, and whether the "
         "method of outcome assessment is consistent across sociodemographic groups."),
    Item("8b", _M, "Outcome", "D;E",
         "If outcome assessment requires subjective interpretation, describe the "
         "qualifications and demographic characteristics of the outcome assessors."),
    Item("8c", _M, "Outcome", "D;E",
         "Report any actions to blind assessment of the outcome to be predicted."),
    Item("9a", _M, "Predictors", "D",
         "Describe the choice of initial predictors (e.g., literature, previous models, all "
         "available predictors) and any pre-selection of predictors before model building."),
    Item("9b", _M, "Predictors", "D;E",
         "Clearly define all predictors, including how and when they were measured (and any "
         "actions to blind assessment of predictors for the outcome and other predictors)."),
    Item("9c", _M, "Predictors", "D;E",
         "If predictor measurement requires subjective interpretation, describe the "
         "qualifications and demographic characteristics of the predictor assessors."),
    Item("10", _M, "Sample size", "D;E",
         "Explain how the study size was arrived at (separately for development and "
         "evaluation), and justify that the study size was sufficient to answer the research "
         "question. Include details of any sample size calculation."),
    Item("11", _M, "Missing data", "D;E",
         "Describe how missing data were handled. Provide reasons for omitting any data."),
    Item("12a", _M, "Analytical methods", "D",
         "Describe how the data were used (e.g., for development and evaluation of model "
         "performance) in the analysis, including whether the data were partitioned, "
         "considering any sample size requirements."),
    Item("12b", _M, "Analytical methods", "D",
         "Depending on the type of model, describe how predictors were handled in the "
         "analyses (functional form, rescaling, transformation, or any standardisation)."),
    Item("12c", _M, "Analytical methods", "D",
         "Specify the type of model, rationale, all model-building steps, including any "
         "hyperparameter tuning, and method for internal validation."),
    Item("12d", _M, "Analytical methods", "D;E",
         "Describe if and how any heterogeneity in estimates of model parameter values and "
         "model performance was handled and quantified across clusters (e.g., hospitals, "
         "countries). See TRIPOD-Cluster for additional considerations."),
    Item("12e", _M, "Analytical methods", "D;E",
         "Specify all measures and plots used (and their rationale) to evaluate model "
         "performance (e.g., discrimination, calibration, clinical utility) and, if relevant, "
         "to compare multiple models."),
    Item("12f", _M, "Analytical methods", "E",
         "Describe any model updating (e.g., recalibration) arising from the model "
         "evaluation, either overall or for particular sociodemographic groups or settings."),
    Item("12g", _M, "Analytical methods", "E",
         "For model evaluation, describe how the model predictions were calculated (e.g., "
         "formula, code, object, application programming interface)."),
    Item("13", _M, "Class imbalance", "D;E",
         "If class imbalance methods were used, state why and how this was done, and any "
         "subsequent methods to recalibrate the model or the model predictions."),
    Item("14", _M, "Fairness", "D;E",
         "Describe any approaches that were used to address model fairness and their "
         "rationale."),
    Item("15", _M, "Model output", "D",
         "Specify the output of the prediction model (e.g., probabilities, classification). "
         "Provide details and rationale for any classification and how the thresholds were "
         "identified."),
    Item("16", _M, "Training versus evaluation", "D;E",
         "Identify any differences between the development and evaluation data in healthcare "
         "setting, eligibility criteria, outcome, and predictors."),
    Item("17", _M, "Ethical approval", "D;E",
         "Name the institutional research board or ethics committee that approved the study "
         "and describe the participant informed consent or the ethics committee waiver of "
         "informed consent."),
    Item("18a", _O, "Funding", "D;E",
         "Give the source of funding and the role of the funders for the present study."),
    Item("18b", _O, "Conflicts of interest", "D;E",
         "Declare any conflicts of interest and financial disclosures for all authors."),
    Item("18c", _O, "Protocol", "D;E",
         "Indicate where the study protocol can be accessed or state that a protocol was not "
         "prepared."),
    Item("18d", _O, "Registration", "D;E",
         "Provide registration information for the study, including register name and "
         "registration number, or state that the study was not registered."),
    Item("18e", _O, "Data sharing", "D;E",
         "Provide details of the availability of the study data."),
    Item("18f", _O, "Code sharing", "D;E",
         "Provide details of the availability of the analytical code."),
    Item("19", "Patient and public involvement", "Patient and public involvement", "D;E",
         "Provide details of any patient and public involvement during the design, conduct, "
         "reporting, interpretation, or dissemination of the study or state no involvement."),
    Item("20a", _R, "Participants", "D;E",
         "Describe the flow of participants through the study, including the number of "
         "participants with and without the outcome and, if applicable, a summary of the "
         "follow-up time. A diagram may be helpful."),
    Item("20b", _R, "Participants", "D;E",
         "Report the characteristics overall and, where applicable, for each data source or "
         "setting, including the key dates, key predictors (including demographics), "
         "treatments received, sample size, number of outcome events, follow-up time, and "
         "amount of missing data. A table may be helpful. Report any differences across key "
         "demographic groups."),
    Item("20c", _R, "Participants", "E",
         "For model evaluation, show a comparison with the development data of the "
         "distribution of important predictors (demographics, predictors, and outcome)."),
    Item("21", _R, "Model development", "D;E",
         "Specify the number of participants and outcome events in each analysis (e.g., for "
         "model development, hyperparameter tuning, model evaluation)."),
    Item("22", _R, "Model specification", "D",
         "Provide details of the full prediction model (e.g., formula, code, object, "
         "application programming interface) to allow predictions in new individuals and to "
         "enable third-party evaluation and implementation, including any restrictions to "
         "access or re-use (e.g., freely available, proprietary)."),
    Item("23a", _R, "Model performance", "D;E",
         "Report model performance estimates with confidence intervals, including for any key "
         "subgroups (e.g., sociodemographic). Consider plots to aid presentation."),
    Item("23b", _R, "Model performance", "D;E",
         "If examined, report results of any heterogeneity in model performance across "
         "clusters. See TRIPOD-Cluster for additional details."),
    Item("24", _R, "Model updating", "E",
         "Report the results from any model updating, including the updated model and "
         "subsequent performance."),
    Item("25", _D, "Interpretation", "D;E",
         "Give an overall interpretation of the main results, including issues of fairness in "
         "the context of the objectives and previous studies."),
    Item("26", _D, "Limitations", "D;E",
         "Discuss any limitations of the study (such as a non-representative sample, sample "
         "size, overfitting, missing data) and their effects on any biases, statistical "
         "uncertainty, and generalizability."),
    Item("27a", _D, _MU, "D",
         "Describe how poor quality or unavailable input data (e.g., predictor values) should "
         "be assessed and handled when implementing the prediction model."),
    Item("27b", _D, _MU, "D",
         "Specify whether users will be required to interact in the handling of the input "
         "data or use of the model, and what level of expertise is required of users."),
    Item("27c", _D, _MU, "D;E",
         "Discuss any next steps for future research, with a specific view to applicability "
         "and generalizability of the model."),
)


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
