"""Fit one candidate on every labelled row and validate it: :func:`train_candidate`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from resorb.adaptation import logistic_heuristic_shrinkage
from resorb.config import CandidateSpec, Params
from resorb.errors import ConfigError
from resorb.label import LabelledData
from resorb.metrics import optimism_corrected, sample_size_check
from resorb.models import build_model
from resorb.parallel import run_units
from resorb.training.crossval import (
    _averaged,
    fold_prediction,
    make_folds,
    prepare,
    refit_predict,
)
from resorb.training.sizing import count_parameters, size_candidate
from resorb.training.validation import Evaluation, evaluate_candidate

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """A fitted candidate with its validation and an account of the data."""

    name: str
    spec: CandidateSpec
    model: Any
    data: LabelledData
    evaluation: Evaluation
    oof: np.ndarray
    sample_size: Any
    X: pd.DataFrame = field(repr=False)  # model input of the training rows
    seed: int = 0
    #: small-sample adaptations made (resorb.adaptation), in words; empty: none
    adaptations: tuple[str, ...] = ()
    #: van Houwelingen's heuristic shrinkage of a logistic candidate's design; None otherwise
    heuristic_shrinkage: float | None = None



def _train_unit(kind: str, spec: CandidateSpec, X: pd.DataFrame, y: np.ndarray,
                train: np.ndarray | None, test: np.ndarray | None, seed: int) -> Any:
    """One unit of ``train``: a fold's held-out predictions, or the model fitted on all rows.

    Returns
    -------
    ndarray of shape (len(test),) for ``kind="fold"`` (:func:`fold_prediction`); the fitted
    pipeline for ``kind="final"``.
    """
    if kind == "fold":
        return fold_prediction(spec, X, y, train, test, seed)
    return build_model(spec, seed=seed).fit(X, y)



def _fitted_penalty(model: Any) -> str | None:
    """'C = 0.0464 chosen on all rows' for a logistic model whose C was tuned, else None."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    pipe = calibrated[0].estimator if calibrated else model
    final = getattr(pipe, "named_steps", {}).get("model")
    chosen = getattr(final, "C_", None)
    return None if chosen is None else f"C = {chosen:.3g} chosen on all rows"



def train_candidate(
    frame: pd.DataFrame,
    name: str,
    params: Params,
    seed: int | None = None,
    progress: Progress | None = None,
    evaluation: Evaluation | None = None,
    jobs: int = 1,
) -> TrainResult:
    """Fit one candidate on every labelled row and validate it.

    Large data: cross-validated predictions with bootstrap intervals. Small data (below
    ``optimism_below_rows``): Harrell's optimism-corrected bootstrap, refitting the whole
    pipeline (imputation included) in each resample, for the headline metrics.
    An ``evaluation`` already computed on the same rows (by :func:`compare_candidates`) is
    reused instead of validating again.

    Below the Riley minimum the candidate is first sized for the data
    (:func:`size_candidate`); validation, the bootstrap and the final fit all use the
    adapted candidate, whose inner tuning (the logistic penalty) then runs inside every
    training fold and resample. ``adaptations`` of the result says what changed and which C
    the final fit chose; ``heuristic_shrinkage`` is van Houwelingen's factor of a logistic
    candidate (:func:`resorb.adaptation.logistic_heuristic_shrinkage`).

    ``jobs`` processes (:func:`resorb.parallel.run_units`, one BLAS/OpenMP thread each) fit
    the folds and the final model side by side, then the resamples of the optimism
    bootstrap; every unit takes the seed explicitly and results are gathered in order, so
    any ``jobs`` gives the same bytes (``tests/test_jobs_parallel.py``).
    """
    tp = params.training
    if name not in params.candidates:
        raise ConfigError(
            f"no candidate '{name}' in params.yaml; choose one of {', '.join(params.candidates)}"
        )
    seed = tp.seed if seed is None else seed
    say = progress or (lambda _msg: None)
    data, X, groups = prepare(frame, params)
    sized = size_candidate(params.candidate(name), X, data.y, tp)
    spec = sized.spec
    for change in sized.changes:
        say(f"{name}: {change}")
    reuse = evaluation is not None
    oof = np.full(len(data.y), np.nan)
    if evaluation is None:
        splits, method = make_folds(data.y, groups, tp.folds, tp.repeats, seed)
        say(f"{name}: {method}")
        say(f"{name}: fitting on all {len(data.y):,} rows")
        # the units: every fold's fit, and the final fit beside them
        done = run_units(_train_unit,
                         [("fold", spec, X, data.y, train, test, seed)
                          for train, test in splits]
                         + [("final", spec, X, data.y, None, None, seed)], jobs)
        oof = _averaged(len(data.y), splits, done[:-1])
        model = done[-1]
        # one pass over the resamples: the same numbers as evaluate() (tested)
        evaluation, _ = evaluate_candidate(data.y, oof, tp, method, seed)
    else:
        say(f"{name}: fitting on all {len(data.y):,} rows")
        model = run_units(_train_unit, [("final", spec, X, data.y, None, None, seed)])[0]
    method = evaluation.method
    if len(data.y) < tp.optimism_below_rows and not reuse:
        say(f"{name}: optimism-corrected bootstrap ({tp.optimism_n_boot} refits)")
        opt = optimism_corrected(
            partial(refit_predict, spec, seed), X, data.y, n_boot=tp.optimism_n_boot,
            seed=seed, jobs=jobs
        )
        metrics = opt.rename(columns={"corrected": "estimate"})[
            ["metric", "estimate", "ci_low", "ci_high", "apparent", "optimism"]
        ]
        evaluation = Evaluation(
            metrics=metrics,
            calibration=evaluation.calibration,
            decision=evaluation.decision,
            roc=evaluation.roc,
            method=f"optimism-corrected bootstrap x {tp.optimism_n_boot} (curves: {method})",
        )
    n_params = count_parameters(model)
    sample = sample_size_check(
        len(data.y), data.n_events, max(n_params, 1), c_statistic=tp.anticipated_c
    )
    adaptations = sized.changes
    penalty = _fitted_penalty(model)
    if penalty is not None:
        adaptations = (*adaptations, penalty)
    return TrainResult(
        name=name,
        spec=spec,
        model=model,
        data=data,
        evaluation=evaluation,
        oof=oof,
        sample_size=sample,
        X=X,
        seed=seed,
        adaptations=adaptations,
        heuristic_shrinkage=logistic_heuristic_shrinkage(spec, X, data.y),
    )

