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
    """Global importance of a model's explanations and, on synthetic data, their fidelity.

    ``contributions`` (one row per explained row, one column per clinical variable) and
    ``row_keys`` (the same rows: ``source_row`` and the identifiers the data hold) stay in
    memory for the user's own ``--out`` file (:meth:`table`); only ``importance`` and the
    plots are logged, never a row.
    """

    importance: pd.Series
    contributions: pd.DataFrame
    base_value: float
    agreement: dict[str, Any] | None
    model: str
    method: str
    run_id: str | None
    #: ``source_row`` (1-based data row of the input, as ``resorb score`` and the validation
    #: reports number rows) and the identifiers present (patient_id, site, baseline_date),
    #: one row per row of ``contributions``, in the same order
    row_keys: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """The contributions with their row keys first, to join back to the input.

        Returns
        -------
        DataFrame of shape (n_explained, n_keys + n_variables)
            The identifiers present (as ``resorb score`` passes them through), then
            ``source_row``, then one column per clinical variable (probability units);
            rows in input order.
        """
        contributions = self.contributions.reset_index(drop=True)
        if self.row_keys is None:
            return contributions
        return pd.concat([self.row_keys.reset_index(drop=True), contributions], axis=1)


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
    from resorb.schema import IDENTIFIERS
    from resorb.scoring.model import load_model

    loaded = model_ref if hasattr(model_ref, "estimator") else load_model(model_ref)
    frame = data.frame
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed).sort_index()
    positions = data.frame.index.get_indexer(frame.index)
    row_keys = frame[[c for c in IDENTIFIERS if c in frame.columns]].assign(
        source_row=data.row_numbers[positions])
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
                         loaded.describe(), expl.method, run_id, row_keys=row_keys)
