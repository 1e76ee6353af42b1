"""External validation: how well a model predicts resorption in other patients.

:func:`external_validation` takes any model resorb can load (a registered version, an
exported folder, the reference predictor: :func:`resorb.scoring.model.load_model`) and a
labelled canonical frame, and returns an :class:`ExternalValidation`: aggregates only, in the
order of the calibration hierarchy of Van Calster et al. (J Clin Epidemiol 2016;74:167-176,
doi:10.1016/j.jclinepi.2015.12.005):

1. mean calibration: observed/expected ratio (O/E) and calibration-in-the-large (the
   intercept of a logistic model with the model's linear predictor as offset);
2. weak calibration: the calibration slope;
3. moderate calibration: the flexible (loess) calibration curve with its bootstrap band,
   summarised by ICI, E50, E90 and Emax (Austin & Steyerberg, Stat Med 2019;38:4051-4065,
   doi:10.1002/sim.8281);

then discrimination (AUROC), overall accuracy (Brier, scaled Brier) and clinical usefulness
(the decision curve, Vickers & Elkin, Med Decis Making 2006;26:565-574,
doi:10.1177/0272989X06295361), each with a percentile bootstrap 95% interval, and per-site
and subgroup tables in which a group of fewer than :data:`SMALL_CELL` rows shows no number.

The data are read as for training: the same label rule (the *model card's*, so that the model
is judged on the outcome it predicts) and the same exclusion of patients operated before
follow-up (:func:`resorb.label.labelled_rows`). The bootstrap resamples whole rows, not rows
within outcome class as internal validation does: in another hospital the number of events is
itself random, and fixing it would understate the uncertainty of O/E and of the intercept.

Everything here is a pure function of its arguments except :func:`save_evaluation`, which
writes a folder; MLflow logging is :func:`resorb.tracking.log_evaluation`.

The package: :mod:`.validation` computes (:func:`external_validation`, pure);
:mod:`.outputs` gives the result out (figures, the run record, the ``--out`` folder).
"""

from resorb.evaluation.outputs import (
    KIND,
    KIND_TAG,
    MODEL_TAGS,
    OUTPUT_FILES,
    calibration_figure,
    check_output_folder,
    decision_figure,
    evaluation_record,
    save_evaluation,
)
from resorb.evaluation.validation import (
    MEASURES,
    MIN_PER_CLASS,
    SMALL_CELL,
    ExternalValidation,
    Predictor,
    assess,
    check_enough_rows,
    external_validation,
    notes_for,
    prediction_histogram,
    sample_size_verdict,
)

__all__ = [
    "KIND",
    "KIND_TAG",
    "MEASURES",
    "MIN_PER_CLASS",
    "MODEL_TAGS",
    "OUTPUT_FILES",
    "SMALL_CELL",
    "ExternalValidation",
    "Predictor",
    "assess",
    "calibration_figure",
    "check_enough_rows",
    "check_output_folder",
    "decision_figure",
    "evaluation_record",
    "external_validation",
    "notes_for",
    "prediction_histogram",
    "sample_size_verdict",
    "save_evaluation",
]
