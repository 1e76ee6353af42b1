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

from resorb.config import Params, tracking_uri
from resorb.errors import DataValidationError, InputError, TrainingError
from resorb.training import Progress, compare_candidates, train_candidate


@dataclass(frozen=True)
class TrainingData:
    """A canonical frame and what it is, for tags (never identifiers)."""

    frame: pd.DataFrame
    source: Any  # tracking.DataSource
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
    from resorb.tracking import DataSource

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


def _metadata(result: Any, source: Any, params: Params, threshold: float) -> dict[str, Any]:
    from resorb import __version__

    return {"candidate": result.name, "kind": result.spec.kind,
            "calibration": result.spec.calibration, "trained_on": source.describe(),
            "data_source": {"kind": source.kind, "preset": source.preset, "seed": source.seed,
                            "n": source.n_requested},
            "seed": result.seed,
            "label_rule": params.label.model_dump(), "decision_threshold": threshold,
            "resorb_version": __version__,
            "metrics": dict(zip(result.evaluation.metrics["metric"],
                                result.evaluation.metrics["estimate"].astype(float),
                                strict=True))}


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

    meta = _metadata(result, data.source, params, threshold)
    meta["training_ranges"] = _ranges(result.X)
    info = tracking.log_model(result.model, meta)
    tracking.log_text(result.sample_size.message, "validation/sample_size.txt")
    version = None
    if register:
        tags = {"candidate": result.name, "trained_on": data.source.describe(),
                "data_kind": data.source.kind,
                "label_rule": f"{params.label.name} (>= {params.label.min_reduction_pct:g}%)",
                "decision_threshold": f"{threshold:g}"}
        version = tracking.register(info.model_uri, tags)
    return info.model_uri, version


def train_job(data: TrainingData, params: Params, model: str, register: bool = False,
              strict: bool = False, progress: Progress | None = None) -> JobResult:
    """Train one candidate, validate it, log one MLflow run, optionally register it."""
    from resorb import tracking

    tp = params.training
    uri = tracking_uri(params.tracking.uri)  # the store the CLI opened (tracking.configure)
    seed = data.source.seed if data.source.seed is not None else tp.seed
    result = train_candidate(data.frame, model, params, seed=seed, progress=progress)
    if strict and data.source.kind == "real" and not result.sample_size.ok:
        raise TrainingError(f"--strict: {result.sample_size.message}")
    fp = tracking.fingerprint(result.X, result.data.y)
    with tracking.start_run(f"train-{model}"):
        tracking.log_params({"candidate": model, "spec": result.spec.model_dump(),
                             "label": params.label.model_dump(), "seed": seed,
                             "training": tp.model_dump()})
        tracking.log_fingerprint(fp)
        tracking.set_tags(tracking.run_tags(data.source, fp, params))
        tracking.log_evaluation(result.evaluation)
        tracking.log_figures({model: result.evaluation})
        tracking.log_text(result.data.account(), "validation/data_account.txt")
        _log_aggregates(result.data.frame, result.data.y, result.oof)
        model_uri, version = _log_final_model(result, data, params, tp.decision_threshold,
                                              register)
        run_id = tracking.active_run_id()
    board = result.evaluation.metrics.assign(candidate=model)
    return JobResult(run_id, board, model, model_uri, version, result.data.account(),
                     result.sample_size.message, uri, bool(result.sample_size.ok))


def _log_aggregates(frame: pd.DataFrame, y: Any, oof: Any) -> None:
    """Subgroup performance, missingness and data aggregates (no rows, no identifiers)."""
    import numpy as np

    from resorb import tracking
    from resorb.training import missingness_table, subgroup_table

    if np.isfinite(oof).all():
        tracking.log_table(subgroup_table(frame, y, oof), "validation/subgroups.csv")
    tracking.log_table(missingness_table(frame), "data/missingness.csv")
    summary = {"rows": len(frame), "events": int(np.sum(y)),
               "prevalence": round(float(np.mean(y)), 4)}
    if "site" in frame and frame["site"].notna().any():
        summary["sites"] = int(frame["site"].nunique())
    if "baseline_date" in frame and frame["baseline_date"].notna().any():
        dates = pd.to_datetime(frame["baseline_date"])
        summary["baseline_period"] = f"{dates.min():%Y-%m} to {dates.max():%Y-%m}"
    tracking.log_table(pd.DataFrame([summary]), "data/summary.csv")


def compare_job(data: TrainingData, params: Params, register: bool = False,
                candidates: list[str] | None = None,
                progress: Progress | None = None) -> JobResult:
    """Compare candidates on identical folds: parent run, child run per candidate, champion."""
    from resorb import tracking

    tp = params.training
    uri = tracking_uri(params.tracking.uri)  # the store the CLI opened (tracking.configure)
    seed = data.source.seed if data.source.seed is not None else tp.seed
    comp = compare_candidates(data.frame, params, seed=seed, names=candidates,
                              progress=progress)
    fp = tracking.fingerprint(comp.X, comp.y)
    with tracking.start_run("compare"):
        tags = tracking.run_tags(data.source, fp, params)
        tracking.set_tags(tags)
        tracking.log_params({"candidates": list(comp.evaluations), "label":
                             params.label.model_dump(), "seed": seed,
                             "training": tp.model_dump(),
                             "champion": comp.champion})
        tracking.log_fingerprint(fp)
        for name, ev in comp.evaluations.items():
            with tracking.start_run(name, nested=True):
                tracking.set_tags(tags)
                tracking.log_params({"candidate": name,
                                     "spec": params.candidates[name].model_dump()})
                tracking.log_evaluation(ev)
                tracking.log_figures({name: ev})
        tracking.log_table(comp.leaderboard, "leaderboard.csv")
        tracking.log_table(comp.differences, "paired_differences.csv")
        tracking.log_figures(comp.evaluations)
        tracking.log_text(comp.data.account(), "validation/data_account.txt")
        _log_aggregates(comp.data.frame, comp.y, comp.oof[comp.champion])
        if progress:
            progress(f"champion {comp.champion}: fitting on all {len(comp.y):,} rows")
        champion = train_candidate(data.frame, comp.champion, params, seed=seed,
                                   evaluation=comp.evaluations[comp.champion])
        tracking.log_evaluation(champion.evaluation)
        model_uri, version = _log_final_model(champion, data, params, tp.decision_threshold,
                                              register)
        run_id = tracking.active_run_id()
    return JobResult(run_id, comp.leaderboard, comp.champion, model_uri, version,
                     comp.data.account(), champion.sample_size.message, uri,
                     bool(champion.sample_size.ok))


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

        with tracking.start_run("explain"), tempfile.TemporaryDirectory() as tmp:
            tracking.set_tags({"explained_model": loaded.describe(),
                                      "trained_on": data.source.describe(),
                                      "explanation_method": expl.method})
            ex.importance_figure(expl).savefig(Path(tmp) / "shap_importance.png")
            ex.beeswarm_figure(expl).savefig(Path(tmp) / "shap_beeswarm.png")
            tracking.log_artifacts(tmp, "explanations")
            tracking.log_table(importance.rename("mean_abs_shap").reset_index(),
                               "explanations/importance.csv")
            if agreement is not None:
                tracking.log_metrics({"shap_truth_spearman": agreement["spearman"],
                                             "shap_truth_top5_overlap":
                                                 agreement["top_k_overlap"]})
            run_id = tracking.active_run_id()
    return ExplainResult(importance, expl.values, expl.base_value, agreement,
                         loaded.describe(), expl.method, run_id)
