"""The TRIPOD+AI checklist as published: 27 items, 52 with their sub-items, as data.

TRIPOD+AI (Collins GS et al., BMJ 2024;385:e078378) has 27 main items in eight sections,
52 numbered items counting sub-items (3a, 3b, ...). :data:`ITEMS` holds every one, numbered,
titled and worded as in the published checklist, with whether it concerns model development
(D), evaluation (E) or both (D;E). Which of them a run can answer is
:mod:`resorb.report.tripod`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass

CITATION = ("Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated guidance for "
            "reporting clinical prediction models that use regression or machine learning "
            "methods. BMJ 2024;385:e078378. doi:10.1136/bmj-2023-078378")


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
