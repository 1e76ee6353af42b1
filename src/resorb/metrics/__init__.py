"""How good are predicted resorption probabilities: model performance (metrics).

Pure functions of an outcome vector ``y`` of shape ``(n,)`` (1 = the herniation resorbed under
conservative care, 0 = it did not) and predicted probabilities ``p`` of shape ``(n,)``.
(Checks of the *data* are validation: :mod:`resorb.intake`, ``resorb validate``.)

- :mod:`~resorb.metrics.discrimination`: AUROC, average precision, Brier, scaled Brier, log
  loss; :data:`METRICS` and :func:`metric_table` give every scalar metric in report order;
- :mod:`~resorb.metrics.calibration`: intercept, slope, smoothed curve, ICI/E50/E90/Emax,
  binned table, O/E ratio (Van Calster et al. 2016, 2019; Austin & Steyerberg 2019);
- :mod:`~resorb.metrics.decision`: net benefit, decision curves (Vickers & Elkin 2006);
- :mod:`~resorb.metrics.bootstrap`: percentile intervals and paired differences (and, for
  external validation, of O/E, E50/E90/Emax and the calibration curve's band), vectorised
  as weighted statistics on the shared core :mod:`~resorb.metrics.weighted`;
- :mod:`~resorb.metrics.optimism`: Harrell's optimism-corrected bootstrap (Harrell 1996);
- :mod:`~resorb.metrics.sample_size`: Riley et al. minimum sample size to develop (BMJ 2020)
  and to externally validate (Stat Med 2021) a model.

A single-class outcome raises :class:`~resorb.errors.TrainingError` wherever a metric needs
both classes (everything except Brier, log loss, net benefit and the binned table).
"""

from resorb.metrics.bootstrap import (
    CALIBRATION_SUMMARIES,
    bootstrap_calibration,
    bootstrap_calibration_curve,
    bootstrap_indices,
    bootstrap_metrics,
    bootstrap_net_benefit,
    bootstrap_observed_expected,
    bootstrap_replicates,
    paired_bootstrap_difference,
)
from resorb.metrics.calibration import (
    calibration_errors,
    calibration_in_bins,
    calibration_intercept,
    calibration_intercept_slope,
    calibration_slope,
    integrated_calibration_index,
    observed_expected_ratio,
    smoothed_calibration_curve,
)
from resorb.metrics.decision import net_benefit
from resorb.metrics.discrimination import (
    METRICS,
    auprc,
    auroc,
    brier,
    log_loss,
    metric_table,
    scaled_brier,
)
from resorb.metrics.inputs import check_outcome_and_risk
from resorb.metrics.optimism import FitPredict, optimism_corrected
from resorb.metrics.sample_size import (
    SampleSizeReport,
    ValidationCriterion,
    ValidationSampleSize,
    expected_shrinkage,
    minimum_sample_size,
    sample_size_check,
    validation_precision,
    validation_sample_size,
)
from resorb.metrics.weighted import CLIP

__all__ = [
    "CLIP", "METRICS", "FitPredict", "SampleSizeReport", "ValidationCriterion",
    "ValidationSampleSize", "auprc", "auroc", "bootstrap_indices",
    "bootstrap_metrics", "bootstrap_net_benefit", "bootstrap_replicates", "brier",
    "calibration_errors", "calibration_in_bins", "calibration_intercept",
    "calibration_intercept_slope", "calibration_slope", "check_outcome_and_risk",
    "expected_shrinkage",
    "integrated_calibration_index", "log_loss", "metric_table", "minimum_sample_size",
    "net_benefit", "optimism_corrected", "paired_bootstrap_difference", "sample_size_check",
    "scaled_brier", "smoothed_calibration_curve", "validation_precision",
    "validation_sample_size",
]
# external validation (resorb evaluate)
__all__ += ["CALIBRATION_SUMMARIES", "bootstrap_calibration", "bootstrap_calibration_curve",
            "bootstrap_observed_expected", "observed_expected_ratio"]
