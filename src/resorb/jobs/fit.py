"""Train and compare: fit, validate, log one MLflow run (a compare: a child per candidate),
register the champion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from resorb.card import DataSource, ModelCard
from resorb.config import Params, tracking_uri
from resorb.errors import TrainingError
from resorb.jobs.data import TrainingData, check_training_data
from resorb.splits import small_data_errors
from resorb.training import Progress, compare_candidates, train_candidate


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
    notes: tuple[str, ...] = ()
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
    from resorb.features import unused_predictors

    unused = tuple(unused_predictors(result.X))
    ranges = {k: (None if k in unused else v) for k, v in _ranges(result.X).items()}
    return ModelCard(
        candidate=result.name, kind=result.spec.kind, calibration=result.spec.calibration,
        data_source=source, seed=result.seed, label_rule=params.label,
        decision_threshold=threshold, resorb_version=__version__,
        metrics={r.metric: MetricEstimate.of(r.estimate, r.ci_low, r.ci_high)
                 for r in result.evaluation.metrics.itertuples(index=False)},
        training_ranges=ranges, features=tuple(result.X.columns),
        skops_sha256="",  # tracking.log_model adds the hash of the file it writes
        unused_predictors=unused,
        adaptations=tuple(getattr(result, "adaptations", ())),
        heuristic_shrinkage=getattr(result, "heuristic_shrinkage", None),
        predictor_set=params.training.predictor_set)


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

    card = _card(result, data.source, params, threshold).model_copy(
        update={"derived": dict(data.derived)})
    info = tracking.log_model(result.model, card)
    version = None
    if register:
        tags = {"candidate": result.name, "trained_on": data.source.describe(),
                "data_kind": data.source.kind,
                "label_rule": f"{params.label.name} (>= {params.label.min_reduction_pct:g}%)",
                "decision_threshold": f"{threshold:g}"}
        version = tracking.register(info.model_uri, tags)
        tracking.describe_version(version, card)
    return info.model_uri, version


def _evaluated(evaluations: dict[str, Any], own: Any,
               figures: dict[str, bytes] | None = None) -> dict[str, Any]:
    """RunRecord fields of a validation: the metric tables of ``own``, the figures of all.

    ``figures`` already drawn (:func:`_figures`) are used as they are: a comparison draws
    its three figures once, for its parent run and every child run.
    """
    return {"metrics": own.metrics, "calibration": own.calibration,
            "decision_curve": own.decision, "validation_method": own.method,
            "figures": _figures(evaluations) if figures is None else figures}


def _figures(evaluations: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes of the validation figures, every model of ``evaluations`` on each."""
    from resorb.figures import png_bytes, validation_figures

    return {k: png_bytes(f) for k, f in validation_figures(evaluations).items()}


def train_job(data: TrainingData, params: Params, model: str, register: bool = False,
              strict: bool = False, progress: Progress | None = None,
              jobs: int = 1) -> JobResult:
    """Train one candidate, validate it, log one MLflow run, optionally register it.

    ``jobs`` processes fit the folds, the final model and the optimism bootstrap's
    resamples (:func:`resorb.training.train_candidate`); the results do not depend on it.
    """
    from resorb import tracking
    from resorb.runs import RunRecord, flatten_params

    tp = params.training
    uri = tracking_uri(params.tracking.uri)  # the store the CLI opened (tracking.configure)
    seed = data.source.seed if data.source.seed is not None else tp.seed
    checked = check_training_data(data, params, [model], seed=seed, command="train")
    with small_data_errors(checked.counts, f"training {model}"):
        result = train_candidate(data.frame, model, params, seed=seed, progress=progress,
                                 jobs=jobs)
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
        tracking.log_dataset(tuple(result.X.columns), fp, data.source, data.file_name)
        model_uri, version = _log_final_model(result, data, params, tp.decision_threshold,
                                              register)
        run_id = tracking.active_run_id()
    board = result.evaluation.metrics.assign(candidate=model)
    return JobResult(run_id, board, model, model_uri, version, result.data.account(),
                     result.sample_size.message, uri, bool(result.sample_size.ok),
                     notes=checked.notes,
                     adaptations=result.adaptations,
                     heuristic_shrinkage=result.heuristic_shrinkage)


def _aggregates(frame: pd.DataFrame, y: Any, oof: Any) -> dict[str, pd.DataFrame]:
    """Subgroup performance, missingness and data aggregates (no rows, no identifiers)."""
    import numpy as np

    from resorb.metrics.subgroups import finding_calibration
    from resorb.training import missingness_table, subgroup_table

    out = {"missingness": missingness_table(frame)}
    if np.isfinite(oof).all():
        out["subgroups"] = subgroup_table(frame, y, oof)
        out["finding_subgroups"] = finding_calibration(frame, y, oof)
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
                progress: Progress | None = None, jobs: int = 1) -> JobResult:
    """Compare candidates on identical folds: parent run, child run per candidate, champion.

    ``jobs`` processes fit the folds and bootstrap the candidates
    (:func:`resorb.training.compare_candidates`); the results do not depend on it.
    """
    from resorb import tracking
    from resorb.runs import RunRecord, flatten_params

    tp = params.training
    uri = tracking_uri(params.tracking.uri)  # the store the CLI opened (tracking.configure)
    seed = data.source.seed if data.source.seed is not None else tp.seed
    checked = check_training_data(data, params, candidates or list(params.candidates),
                                  seed=seed)
    with small_data_errors(checked.counts, "comparing the candidates"):
        comp = compare_candidates(data.frame, params, seed=seed, names=candidates,
                                  progress=progress, jobs=jobs)
    fp = tracking.fingerprint(comp.X, comp.y)
    tags = tracking.run_tags(data.source, fp, params.label)
    # drawn once: every candidate on each figure, logged in the parent and each child run
    # (each child used to draw its own three, one curve each: 3 x (candidates + 1) figures)
    figures = _figures(comp.evaluations)
    with tracking.start_run("compare"):
        for name, ev in comp.evaluations.items():
            with tracking.start_run(name, nested=True):
                tracking.log_dataset(tuple(comp.X.columns), fp, data.source, data.file_name)
                tracking.write_run(RunRecord(
                    tags=tags, **_evaluated(comp.evaluations, ev, figures),
                    finding_subgroups=comp.finding_subgroups.get(name),
                    params=flatten_params({"candidate": name, "spec": comp.specs.get(
                        name, params.candidate(name)).model_dump()})))
        if progress:
            progress(f"champion {comp.champion}: fitting on all {len(comp.y):,} rows")
        with small_data_errors(checked.counts, f"fitting the champion {comp.champion}"):
            champion = train_candidate(data.frame, comp.champion, params, seed=seed,
                                       evaluation=comp.evaluations[comp.champion])
        tracking.log_dataset(tuple(comp.X.columns), fp, data.source, data.file_name)
        tracking.write_run(RunRecord(
            tags=tags, fingerprint=fp,
            params=flatten_params({"candidates": list(comp.evaluations),
                                   "label": params.label.model_dump(), "seed": seed,
                                   "training": tp.model_dump(),
                                   "champion": comp.champion}),
            **_evaluated(comp.evaluations, champion.evaluation, figures),
            **_aggregates(comp.data.frame, comp.y, comp.oof[comp.champion]),
            leaderboard=comp.leaderboard, paired_differences=comp.differences,
            data_account=comp.data.account(), sample_size=champion.sample_size.message,
            sample_size_ok=bool(champion.sample_size.ok)))
        model_uri, version = _log_final_model(champion, data, params, tp.decision_threshold,
                                              register)
        run_id = tracking.active_run_id()
    return JobResult(run_id, comp.leaderboard, comp.champion, model_uri, version,
                     comp.data.account(), champion.sample_size.message, uri,
                     bool(champion.sample_size.ok), notes=checked.notes,
                     adaptations=champion.adaptations,
                     heuristic_shrinkage=champion.heuristic_shrinkage,
                     passed_over=tuple(f"{k}: {v}" for k, v in comp.passed_over.items()))
