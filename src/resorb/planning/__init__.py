"""Simulation-based sample size: how many patients a resorb model needs, by simulation.

Two questions a study asks before collecting data, answered with the synthetic cohort's
known truth (``true_resorption_probability``) and set beside the closed-form answers:

- **development** (:func:`plan_sample_size`, ``development`` table): for each development
  size n, ``replicates`` cohorts of n usable rows (labelled as training labels them,
  operated patients out) are drawn, the candidate is fitted on each, and its predictions on
  one large fresh validation cohort give the calibration slope and AUROC (on the observed
  outcome) and the mean absolute error against the true probability. Monte Carlo intervals
  (2.5 and 97.5 percentiles), the Monte Carlo SE of the mean and the assurance quantile of
  the target (the 20th percentile of the slope for "slope >= 0.9 with 80% assurance") give
  the smallest n that reaches the target, beside Riley et al.'s closed-form minimum (BMJ
  2020;368:m441, doi:10.1136/bmj.m441) and its expected shrinkage at each n. The idea is
  that of the R packages pmsims and samplesizedev (simulation-based sample size for
  prediction models); resorb can simulate from a data-generating process calibrated to the
  literature.
- **external validation** (``validation`` table): a fixed model (the candidate fitted on a
  large development cohort, or a given model) is validated on ``replicates`` samples of each
  size; the spread of O/E, calibration slope and C over the samples is the precision a
  validation study of that size gets, beside the widths Riley et al. (Stat Med
  2021;40:4230, doi:10.1002/sim.9025) anticipate and the n they require.

Replicate r uses one cohort for every size, its first n usable rows (nested samples: common
random numbers, so the trend over n is estimated more precisely than the levels); its seeds
come from ``SeedSequence([seed, study, r])``, never from the order the work is done in, so
the tables are the same bytes whatever the number of worker processes. Rows are always drawn
independently (``sampling: iid``), as a real study samples patients, whatever the preset.

Pure computation: nothing here writes files or prints; :mod:`resorb.cli.plan` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resorb.errors import ConfigError
from resorb.planning.figure import learning_curve_figure
from resorb.planning.settings import (
    _CLIP,
    DEVELOPMENT_METRICS,
    TARGET_RANGES,
    VALIDATION_STATISTICS,
    Plan,
    PlanSettings,
    Progress,
    Target,
    target_problem,
    target_range,
)
from resorb.planning.summaries import _development_table, _summary, _validation_table
from resorb.planning.workers import _Context, _executor, _run, _seeds

__all__ = ["DEVELOPMENT_METRICS", "TARGET_RANGES", "VALIDATION_STATISTICS", "Plan",
           "PlanSettings", "Progress", "Target", "learning_curve_figure", "plan_sample_size",
           "target_problem", "target_range"]

if TYPE_CHECKING:
    from resorb.cohort import CohortParams
    from resorb.config import Params


# ----------------------------------------------------------------------------- the plan
def plan_sample_size(params: Params, cohort: CohortParams, candidate: str,
                     settings: PlanSettings | None = None, *, fixed_model: Any = None,
                     fixed_model_name: str = "", progress: Progress | None = None) -> Plan:
    """Sample size for developing and for externally validating a model, by simulation.

    Parameters
    ----------
    params : Params
        Resolved parameters: ``params.label`` labels the rows, ``params.candidates[candidate]``
        is fitted, ``params.training.anticipated_c`` feeds Riley 2020's closed form.
    cohort : CohortParams
        The population (a preset, :func:`resorb.cohort.load_cohort_params`); its rows are
        drawn independently whatever its ``sampling``.
    candidate : str
        Candidate name in ``params.candidates``.
    settings : PlanSettings, optional
        Sizes, replicates, seed, workers, target; default :class:`PlanSettings()`.
    fixed_model : fitted estimator, optional
        The model of the external-validation study (with ``predict_proba`` on model input);
        default: the candidate fitted on ``settings.reference_rows`` drawn rows.
    fixed_model_name : str
        What ``fixed_model`` is, for ``info`` (no identifiers).
    progress : callable, optional
        ``progress(done, total)`` after each replicate.

    Returns
    -------
    Plan

    Notes
    -----
    With ``settings.workers > 1`` the replicates run in processes started by ``spawn``
    (fresh interpreters whose BLAS/OpenMP pools start with one thread), so, as for any
    ``multiprocessing`` code, the calling program must be importable: the CLI, a script
    file with an ``if __name__ == "__main__":`` guard or a notebook, not code piped on stdin.

    Raises
    ------
    ConfigError
        Unknown candidate or invalid settings.
    TrainingError
        A replicate cannot be fitted or validated (a size too small for two classes).
    """
    from resorb.cohort import make_cohort
    from resorb.metrics import auroc, minimum_sample_size, validation_sample_size
    from resorb.models import build_model, predict_resorption
    from resorb.training import count_parameters, prepare

    settings = settings or PlanSettings()
    if candidate not in params.candidates:
        raise ConfigError(f"unknown candidate {candidate!r}; params.yaml has "
                          f"{', '.join(params.candidates)}")
    spec = params.candidate(candidate)
    cohort = cohort.model_copy(update={"sampling": "iid"})
    seed = settings.seed

    # the large validation cohort of the development study, drawn once
    val_seed, _ = _seeds(seed, "validation_cohort", 0)
    val_data, X_val, _ = prepare(make_cohort(settings.validation_rows, seed=val_seed,
                                             params=cohort), params)
    y_val = val_data.y
    truth = val_data.frame["true_resorption_probability"].to_numpy(dtype=float)
    usable = len(y_val) / settings.validation_rows
    prevalence = float(y_val.mean())

    # the reference fit: parameter count, and the fixed model when none is given
    ref_seed, ref_model_seed = _seeds(seed, "reference", 0)
    ref_data, X_ref, _ = prepare(make_cohort(settings.reference_rows, seed=ref_seed,
                                             params=cohort), params)
    reference = build_model(spec, seed=ref_model_seed).fit(X_ref, ref_data.y)
    n_parameters = max(count_parameters(reference), 1)
    if fixed_model is None:
        fixed_model = reference
        fixed_model_name = (f"{candidate} fitted on {len(ref_data.y):,} usable rows "
                            f"of a fresh cohort")
    p_fixed = predict_resorption(fixed_model, X_val)
    lp_fixed = np.log(np.clip(p_fixed, _CLIP, 1 - _CLIP) / (1 - np.clip(p_fixed, _CLIP,
                                                                        1 - _CLIP)))
    fixed_auroc = auroc(y_val, p_fixed)
    fixed_oe = float(y_val.sum() / p_fixed.sum())

    # criterion (i) at the target's slope, so that the two answer the same question
    shrinkage = settings.target.value if settings.target.metric == "calibration_slope" \
        and 0 < settings.target.value < 1 else 0.9
    riley_dev = minimum_sample_size(n_parameters, prevalence, shrinkage=shrinkage,
                                    c_statistic=params.training.anticipated_c)
    riley_dev["shrinkage"] = shrinkage
    riley_val = validation_sample_size(prevalence, fixed_auroc, oe=fixed_oe,
                                       oe_ci_width=settings.oe_ci_width,
                                       slope_ci_width=settings.slope_ci_width,
                                       c_ci_width=settings.c_ci_width, lp_sample=lp_fixed)

    context = _Context(cohort=cohort, params=params, spec=spec, X_val=X_val, y_val=y_val,
                       truth_val=truth, fixed_model=fixed_model, usable_fraction=usable,
                       max_size=max(settings.sizes))
    dev_tasks = [(n, r, seed) for r in range(settings.replicates) for n in settings.sizes]
    val_tasks = [(settings.validation_sizes, r, seed) for r in range(settings.replicates)]
    dev_results: list[Any] = [None] * len(dev_tasks)
    val_results: list[Any] = [None] * len(val_tasks)
    total, done = len(dev_tasks) + len(val_tasks), [0]
    with _executor(context, settings.workers) as executor:
        _run("development", dev_tasks, dev_results, done, total, progress, executor)
        _run("validation", val_tasks, val_results, done, total, progress, executor)

    dev_reps = pd.DataFrame(dev_results).sort_values(["n", "replicate"], ignore_index=True)
    val_reps = pd.DataFrame([row for rows in val_results for row in rows]).sort_values(
        ["n", "replicate"], ignore_index=True)
    development = _development_table(dev_reps, settings.target, riley_dev, n_parameters)
    validation = _validation_table(val_reps, prevalence, fixed_auroc, fixed_oe, lp_fixed)
    summary = _summary(development, validation, settings.target, riley_dev, riley_val,
                       settings)
    info = {"candidate": candidate, "preset": cohort.preset, "n_parameters": n_parameters,
            "prevalence": prevalence, "validation_rows": len(y_val),
            "truth_auroc": auroc(y_val, truth), "anticipated_c": params.training.anticipated_c,
            "fixed_model": fixed_model_name, "fixed_model_auroc": fixed_auroc,
            "fixed_model_oe": fixed_oe, "target": settings.target.describe(),
            "target_value": settings.target.value, "target_column": settings.target.column,
            "replicates": settings.replicates, "seed": seed}
    return Plan(development=development, validation=validation, summary=summary,
                replicates=dev_reps, riley_development=riley_dev, riley_validation=riley_val,
                info=info)


