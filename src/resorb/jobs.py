"""The main jobs as named steps: load data -> train or compare -> log -> register.

Each job returns a small result the CLI prints; MLflow is imported only through
:mod:`resorb.tracking`, and only when a job runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from resorb.card import DataSource, ModelCard
from resorb.config import Params, tracking_uri
from resorb.errors import DataValidationError, InputError, TrainingError
from resorb.training import Progress, compare_candidates, train_candidate


@dataclass(frozen=True)
class TrainingData:
    """A canonical frame and what it is, for tags (never identifiers)."""

    frame: pd.DataFrame
    source: DataSource
    notes: tuple[str, ...] = ()


def load_training_data(data: str | os.PathLike[str] | None, synthetic: int | None,
                       preset: str, seed: int, mapping: str | os.PathLike[str] | None = None,
                       params: Params | None = None) -> TrainingData:
    """Read a file (optionally through a column mapping) or generate a synthetic cohort.

    A synthetic cohort follows ``params.cohort`` (default: the packaged parameters).

    Raises
    ------
    InputError
        Neither or both of ``data`` and ``synthetic`` given.
    DataValidationError
        The file breaks the data dictionary (the report lists every problem).
    """
    if (data is None) == (synthetic is None):
        raise InputError("give either --data FILE or --synthetic N (not both, not neither)")
    if synthetic is not None:
        from resorb.cohort import load_cohort_params, make_cohort

        frame = make_cohort(n=synthetic, seed=seed, params=load_cohort_params(preset, params))
        return TrainingData(frame, DataSource("synthetic", preset, seed, synthetic))
    notes: list[str] = []
    if mapping is not None:
        from resorb.intake import describe, read_mapped

        frame, report, result = read_mapped(data, mapping, purpose="training")
        if result is not None:
            notes.append(describe(result))
    else:
        from resorb.intake import check_file

        frame, report = check_file(Path(data), purpose="training")
    if not report.ok:
        raise DataValidationError(report)
    return TrainingData(frame, DataSource("real"), tuple(notes))


@dataclass(frozen=True)
class JobResult:
    """What a training job produced."""

    run_id: str
    leaderboard: pd.DataFrame
    champion: str
    model_uri: str
    version: str | None
    account: str
    sample_size: str
    tracking_uri: str
    sample_size_ok: bool = True
    #: small-sample adaptations of the logged model, in words (empty: none)
    adaptations: tuple[str, ...] = ()
    #: heuristic shrinkage factor of a logistic model (van Houwelingen 1990); None otherwise
    heuristic_shrinkage: float | None = None
    #: candidates ranked above the champion by score and passed over by the rule's guards
    passed_over: tuple[str, ...] = ()


def _card(result: Any, source: DataSource, params: Params, threshold: float) -> ModelCard:
    """The model card of a fitted candidate (its file hash is added by tracking.log_model)."""
    from resorb import __version__
    from resorb.card import MetricEstimate

    return ModelCard(
        candidate=result.name, kind=result.spec.kind, calibration=result.spec.calibration,
        data_source=source, seed=result.seed, label_rule=params.label,
        decision_threshold=threshold, resorb_version=__version__,
        metrics={r.metric: MetricEstimate.of(r.estimate, r.ci_low, r.ci_high)
                 for r in result.evaluation.metrics.itertuples(index=False)},
        training_ranges=_ranges(result.X), features=tuple(result.X.columns),
        skops_sha256="",  # tracking.log_model adds the hash of the file it writes
        adaptations=tuple(getattr(result, "adaptations", ())),
        heuristic_shrinkage=getattr(result, "heuristic_shrinkage", None))


def _ranges(X: pd.DataFrame) -> dict[str, Any]:
    """What the model was trained on, as aggregates: the central 98% of each number (1st and
    99th percentiles, rounded outwards to 2 significant digits, so that no single patient's
    value is stored) and the categories seen."""
    import numpy as np

    out: dict[str, Any] = {}
    for name in X.columns:
        s = X[name]
        if pd.api.types.is_numeric_dtype(s.dtype):
            if not s.notna().any():
                out[name] = None
                continue
            lo, hi = (float(v) for v in s.quantile([0.01, 0.99]))
            out[name] = [_round_out(lo, np.floor), _round_out(hi, np.ceil)]
        else:
            out[name] = sorted(str(v) for v in s.dropna().unique())
    return out


def _round_out(x: float, how: Any) -> float:
    import math

    if x == 0 or not math.isfinite(x):
        return x
    step = 10 ** (math.floor(math.log10(abs(x))) - 1)
    return float(how(x / step) * step)


def _log_final_model(result: Any, data: TrainingData, params: Params, threshold: float,
                     register: bool) -> tuple[str, str | None]:
    from resorb import tracking

    info = tracking.log_model(result.model, _card(result, data.source, params, threshold))
    version = None
    if register:
        tags = {"candidate": result.name, "trained_on": data.source.describe(),
                "data_kind": data.source.kind,
                "label_rule": f"{params.label.name} (>= {params.label.min_reduction_pct:g}%)",
                "decision_threshold": f"{threshold:g}"}
        version = tracking.register(info.model_uri, tags)
    return info.model_uri, version


def _evaluated(evaluations: dict[str, Any], own: Any) -> dict[str, Any]:
    """RunRecord fields of a validation: the metric tables of ``own``, the figures of all."""
    from resorb.figures import png_bytes, validation_figures

    return {"metrics": own.metrics, "calibration": own.calibration,
            "decision_curve": own.decision, "validation_method": own.method,
            "figures": {k: png_bytes(f) for k, f in validation_figures(evaluations).items()}}


def train_job(data: TrainingData, params: Params, model: str, register: bool = False,
              strict: bool = False, progress: Progress | None = None) -> JobResult:
    """Train one candidate, validate it, log one MLflow run, optionally register it."""
    from resorb import tracking
    from resorb.runs import RunRecord, flatten_params

    tp = params.training
    uri = tracking_uri(params.tracking.uri)  # the store the CLI opened (tracking.configure)
    seed = data.source.seed if data.source.seed is not None else tp.seed
    result = train_candidate(data.frame, model, params, seed=seed, progress=progress)
    if strict and data.source.kind == "real" and not result.sample_size.ok:
        raise TrainingError(f"--strict: {result.sample_size.message}")
    fp = tracking.fingerprint(result.X, result.data.y)
    record = RunRecord(
        tags=tracking.run_tags(data.source, fp, params.label), fingerprint=fp,
        params=flatten_params({"candidate": model, "spec": result.spec.model_dump(),
                               "label": params.label.model_dump(), "seed": seed,
                               "training": tp.model_dump()}),
        **_evaluated({model: result.evaluation}, result.evaluation),
        **_aggregates(result.data.frame, result.data.y, result.oof),
        data_account=result.data.account(), sample_size=result.sample_size.message,
        sample_size_ok=bool(result.sample_size.ok))
    with tracking.start_run(f"train-{model}"):
        tracking.write_run(record)
        model_uri, version = _log_final_model(result, data, params, tp.decision_threshold,
                                              register)
        run_id = tracking.active_run_id()
    board = result.evaluation.metrics.assign(candidate=model)
    return JobResult(run_id, board, model, model_uri, version, result.data.account(),
                     result.sample_size.message, uri, bool(result.sample_size.ok),
                     adaptations=result.adaptations,
                     heuristic_shrinkage=result.heuristic_shrinkage)


def _aggregates(frame: pd.DataFrame, y: Any, oof: Any) -> dict[str, pd.DataFrame]:
    """Subgroup performance, missingness and data aggregates (no rows, no identifiers)."""
    import numpy as np

    from resorb.training import missingness_table, subgroup_table

    out = {"missingness": missingness_table(frame)}
    if np.isfinite(oof).all():
        out["subgroups"] = subgroup_table(frame, y, oof)
    summary = {"rows": len(frame), "events": int(np.sum(y)),
               "prevalence": round(float(np.mean(y)), 4)}
    if "site" in frame and frame["site"].notna().any():
        summary["sites"] = int(frame["site"].nunique())
    if "baseline_date" in frame and frame["baseline_date"].notna().any():
        dates = pd.to_datetime(frame["baseline_date"])
        summary["baseline_period"] = f"{dates.min():%Y-%m} to {dates.max():%Y-%m}"
    out["summary"] = pd.DataFrame([summary])
    return out


def compare_job(data: TrainingData, params: Params, register: bool = False,
                candidates: list[str] | None = None,
                progress: Progress | None = None) -> JobResult:
    """Compare candidates on identical folds: parent run, child run per candidate, champion."""
    from resorb import tracking
    from resorb.runs import RunRecord, flatten_params

    tp = params.training
    uri = tracking_uri(params.tracking.uri)  # the store the CLI opened (tracking.configure)
    seed = data.source.seed if data.source.seed is not None else tp.seed
    comp = compare_candidates(data.frame, params, seed=seed, names=candidates,
                              progress=progress)
    fp = tracking.fingerprint(comp.X, comp.y)
    tags = tracking.run_tags(data.source, fp, params.label)
    with tracking.start_run("compare"):
        for name, ev in comp.evaluations.items():
            with tracking.start_run(name, nested=True):
                tracking.write_run(RunRecord(
                    tags=tags, **_evaluated({name: ev}, ev),
                    params=flatten_params({"candidate": name, "spec": comp.specs.get(
                        name, params.candidates[name]).model_dump()})))
        if progress:
            progress(f"champion {comp.champion}: fitting on all {len(comp.y):,} rows")
        champion = train_candidate(data.frame, comp.champion, params, seed=seed,
                                   evaluation=comp.evaluations[comp.champion])
        tracking.write_run(RunRecord(
            tags=tags, fingerprint=fp,
            params=flatten_params({"candidates": list(comp.evaluations),
                                   "label": params.label.model_dump(), "seed": seed,
                                   "training": tp.model_dump(),
                                   "champion": comp.champion}),
            **_evaluated(comp.evaluations, champion.evaluation),
            **_aggregates(comp.data.frame, comp.y, comp.oof[comp.champion]),
            leaderboard=comp.leaderboard, paired_differences=comp.differences,
            data_account=comp.data.account(), sample_size=champion.sample_size.message,
            sample_size_ok=bool(champion.sample_size.ok)))
        model_uri, version = _log_final_model(champion, data, params, tp.decision_threshold,
                                              register)
        run_id = tracking.active_run_id()
    return JobResult(run_id, comp.leaderboard, comp.champion, model_uri, version,
                     comp.data.account(), champion.sample_size.message, uri,
                     bool(champion.sample_size.ok), adaptations=champion.adaptations,
                     heuristic_shrinkage=champion.heuristic_shrinkage,
                     passed_over=tuple(f"{k}: {v}" for k, v in comp.passed_over.items()))


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


def explain_job(model_ref: str | None, data: TrainingData, params: Params, rows: int = 2000,
                seed: int = 0, log: bool = True) -> ExplainResult:
    """SHAP contributions per clinical variable for a sample of rows; log the plots.

    On a synthetic cohort the global ranking is compared with the generator's true effects
    (:func:`resorb.cohort.true_effects`).
    """
    import tempfile

    from resorb import explain as ex
    from resorb.features import model_input
    from resorb.scoring.model import load_model

    loaded = load_model(model_ref)
    frame = data.frame
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed).sort_index()
    X = model_input(frame)
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
            tracking.set_tags({"explained_model": loaded.describe(),
                                      "trained_on": data.source.describe(),
                                      "explanation_method": expl.method})
            ex.importance_figure(expl).savefig(Path(tmp) / "shap_importance.png")
            ex.beeswarm_figure(expl).savefig(Path(tmp) / "shap_beeswarm.png")
            tracking.log_artifacts(tmp, ARTIFACTS.explanations)
            tracking.log_table(importance.rename("mean_abs_shap").reset_index(),
                               ARTIFACTS.importance)
            if agreement is not None:
                tracking.log_metrics({"shap_truth_spearman": agreement["spearman"],
                                             "shap_truth_top5_overlap":
                                                 agreement["top_k_overlap"]})
            run_id = tracking.active_run_id()
    return ExplainResult(importance, expl.values, expl.base_value, agreement,
                         loaded.describe(), expl.method, run_id)
