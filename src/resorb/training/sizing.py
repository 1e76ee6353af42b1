"""Candidate parameters and the Riley check: the candidate as it is trained on these rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from resorb.adaptation import Adaptation, adapt_candidate
from resorb.config import CandidateSpec, TrainingParams
from resorb.metrics import sample_size_check
from resorb.models import build_model


def count_parameters(model: Any) -> int:
    """Candidate parameters for the sample-size check: encoded features of the pipeline."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    pipe = calibrated[0].estimator if calibrated else model
    if hasattr(pipe, "named_steps"):
        return len(pipe.named_steps["features"].get_feature_names_out())
    return 0


def candidate_parameters(spec: CandidateSpec, X: pd.DataFrame) -> int:
    """Candidate parameters of ``spec`` on these rows, before any model is fitted.

    The encoded features of its pipeline (:func:`count_parameters`), from the feature step
    alone fitted on ``X`` (no outcome is used).
    """
    pipe = build_model(spec.model_copy(update={"calibration": "none"}))
    return len(pipe.named_steps["features"].fit(X).get_feature_names_out())


def size_candidate(spec: CandidateSpec, X: pd.DataFrame, y: np.ndarray,
                   tp: TrainingParams) -> Adaptation:
    """The candidate as it is trained on these rows: adapted below the Riley minimum.

    The Riley et al. 2020 check (:func:`resorb.metrics.sample_size_check`) is run with the
    candidate's own parameter count; below the minimum, and with ``small_sample.adapt`` on,
    :func:`resorb.adaptation.adapt_candidate` sizes it for the data. The changes then start
    with the verdict and the parameter counts before and after; ``below_minimum`` of the
    result holds the verdict whether or not anything was adapted.

    Parameters
    ----------
    spec : CandidateSpec
        The candidate as params.yaml declares it.
    X : DataFrame of shape (n_rows, n_columns)
        Model input of the labelled rows.
    y : ndarray of shape (n_rows,)
        Outcome, 1 = resorbed.
    tp : TrainingParams

    Returns
    -------
    Adaptation
    """
    n_rows, n_events = len(y), int(np.sum(y))
    before = candidate_parameters(spec, X)
    check = sample_size_check(n_rows, n_events, max(before, 1), c_statistic=tp.anticipated_c)
    if not check.below_minimum:
        return Adaptation(spec)
    adapted = adapt_candidate(spec, n_rows, n_events, tp.small_sample)
    if not adapted.adapted:
        return Adaptation(spec, below_minimum=True)
    after = candidate_parameters(adapted.spec, X)
    verdict = (f"below the Riley minimum ({n_rows:,} rows of {check.required_n:,} needed for "
               f"{before} candidate parameters): candidate parameters {before} -> {after}")
    return Adaptation(adapted.spec, (verdict, *adapted.changes), below_minimum=True)

