"""Explain a model: SHAP contributions per clinical variable; log the plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from resorb.config import Params
from resorb.jobs.data import TrainingData


@dataclass(frozen=True)
class ExplainResult:
    """Global importance of a model's explanations and, on synthetic data, their fidelity."""

    importance: pd.Series
    contributions: pd.DataFrame
    base_value: float
    agreement: dict[str, Any] | None
    model: str
    method: str
    run_id: str | None


def explain_job(model_ref: Any, data: TrainingData, params: Params, rows: int = 2000,
                seed: int = 0, log: bool = True) -> ExplainResult:
    """SHAP contributions per clinical variable for a sample of rows; log the plots.

    ``model_ref``: a registry URI, an exported folder, None (the champion, else the
    reference predictor) or a :class:`~resorb.scoring.model.LoadedModel` already loaded.

    On a synthetic cohort the global ranking is compared with the generator's true effects
    (:func:`resorb.cohort.true_effects`).
    """
    import tempfile

    from resorb import explain as ex
    from resorb.features import model_input
    from resorb.scoring.model import load_model

    loaded = model_ref if hasattr(model_ref, "estimator") else load_model(model_ref)
    frame = data.frame
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed).sort_index()
    X = model_input(frame, columns=loaded.features)
    expl = ex.explain(loaded.estimator, X, background=X, seed=seed)
    importance = ex.global_importance(expl)
    agreement = None
    if data.source.kind == "synthetic":
        from resorb.cohort import load_cohort_params, true_effects

        truth = true_effects(params=load_cohort_params(data.source.preset, params))
        agreement = ex.ranking_agreement(importance, truth)
    run_id = None
    if log:
        from resorb import tracking
        from resorb.runs import ARTIFACTS

        with tracking.start_run("explain"), tempfile.TemporaryDirectory() as tmp:
            metrics = {} if agreement is None else {
                "shap_truth_spearman": agreement["spearman"],
                "shap_truth_top5_overlap": agreement["top_k_overlap"]}
            # one log_batch (tags and metrics) and one log_artifacts of the folder
            tracking.log_batch(tags={"explained_model": loaded.describe(),
                                     "trained_on": data.source.describe(),
                                     "explanation_method": expl.method}, metrics=metrics)
            ex.importance_figure(expl).savefig(Path(tmp) / "shap_importance.png")
            ex.beeswarm_figure(expl).savefig(Path(tmp) / "shap_beeswarm.png")
            importance.rename("mean_abs_shap").reset_index().to_csv(
                Path(tmp) / Path(ARTIFACTS.importance).name, index=False)
            tracking.log_artifacts(tmp, ARTIFACTS.explanations)
            run_id = tracking.active_run_id()
    return ExplainResult(importance, expl.values, expl.base_value, agreement,
                         loaded.describe(), expl.method, run_id)
