"""The main jobs as named steps: load data -> train or compare -> log -> register.

Each job returns a small result the CLI prints; MLflow is imported only through
:mod:`resorb.tracking`, and only when a job runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from resorb.card import DataSource, ModelCard
from resorb.config import Params, tracking_uri
from resorb.errors import ConfigError, DataValidationError, InputError, TrainingError
from resorb.splits import DataCounts, small_data_errors
from resorb.training import Progress, compare_candidates, train_candidate


@dataclass(frozen=True)
class TrainingData:
    """A canonical frame and what it is, for tags (never identifiers)."""

    frame: pd.DataFrame
    source: DataSource
    notes: tuple[str, ...] = ()
    file_name: str = ""  # the data file's name, without its folder ("" when synthetic)
    #: columns the mapping derived, in words (:func:`resorb.intake.mapping_derivations`)
    derived: dict[str, str] = field(default_factory=dict)
    #: predictors the file holds outside ``training.predictors``: dropped, never used
    ignored: tuple[str, ...] = ()


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
    derived: dict[str, str] = {}
    if mapping is not None:
        from resorb.intake import Mapping, load_mapping, mapping_derivations

        mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        derived = mapping_derivations(mapping)
    if params is not None and params.training.predictor_set != "full":
        return replace(_load_for_predictors(Path(data), mapping, params), derived=derived)
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
    return TrainingData(frame, DataSource("real"), tuple(notes), file_name=Path(data).name,
                        derived=derived)


def _load_for_predictors(data: Path, mapping: str | os.PathLike[str] | None,
                         params: Params) -> TrainingData:
    """A labelled file checked against the predictor set of ``params`` only (predictors
    outside it are dropped, never checked, never used; the CLI lists them)."""
    from resorb.features import model_columns
    from resorb.intake import describe
    from resorb.scoring.frame import validate_for_model

    columns = model_columns(params.training.predictor_columns)
    frame, report, ignored, result = validate_for_model(data, columns, mapping, "training")
    if not report.ok:
        raise DataValidationError(report)
    notes = (describe(result),) if result is not None else ()
    return TrainingData(frame, DataSource("real"), notes, file_name=data.name,
                        ignored=ignored)


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
    checked = check_training_data(data, params, [model], seed=seed, command="train")
    with small_data_errors(checked.counts, f"training {model}"):
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
    with tracking.start_run("compare"):
        for name, ev in comp.evaluations.items():
            with tracking.start_run(name, nested=True):
                tracking.log_dataset(tuple(comp.X.columns), fp, data.source, data.file_name)
                tracking.write_run(RunRecord(
                    tags=tags, **_evaluated({name: ev}, ev),
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
                     bool(champion.sample_size.ok), notes=checked.notes,
                     adaptations=champion.adaptations,
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


# ------------------------------------------------------------------------------- updating
@dataclass(frozen=True)
class UpdateOutcome:
    """An update fitted and validated, not yet logged (:func:`update_job`).

    ``model`` and ``card`` are None when the closed test kept the parent; ``metrics`` is then
    None too. ``parent_metrics`` is the parent's performance on the new data (external
    validation, bootstrap 95% intervals); ``metrics`` the updated model's, optimism-corrected.
    ``measured_otherwise``: what the update mixes, measured with derived values
    (:func:`resorb.intake.derive.update_measurement_warnings`); empty when nothing.
    """

    parent: Any  # resorb.scoring.model.LoadedModel
    update: Any  # resorb.updating.Update
    model: Any
    card: ModelCard | None
    parent_metrics: pd.DataFrame
    metrics: pd.DataFrame | None
    evaluation: Any
    data: TrainingData
    labelled: Any
    X: pd.DataFrame
    predictions: Any
    fingerprint: Any
    seed: int
    measured_otherwise: tuple[str, ...] = ()

    @property
    def kept(self) -> bool:
        """Whether the closed test kept the parent unchanged."""
        return self.model is None


def update_job(model_ref: Any, data: TrainingData, params: Params, method: str = "auto",
               alpha: float = 0.05, progress: Progress | None = None) -> UpdateOutcome:
    """Update a model on new labelled data: closed test or a named method, then validate.

    Reads the parent (registry URI, exported folder, the reference predictor, or a
    :class:`~resorb.scoring.model.LoadedModel` already loaded), applies the
    label rule of ``params`` (operated rows leave, as in training), fits the update
    (:func:`resorb.updating.fit_update`), validates the parent on the new data and the
    updated model by Harrell's optimism-corrected bootstrap (the update, and for ``auto`` the
    closed test, refitted in each resample; the parent fixed) and builds the updated model's
    card. Nothing is logged: :func:`record_update` does that.

    Raises
    ------
    InputError
        Unknown method or bad alpha.
    ModelNotFoundError
        No such parent model.
    TrainingError
        The new data hold a single outcome class.
    ConfigError
        ``refit`` of a parent whose candidate is not in params.yaml.
    """
    from resorb import __version__
    from resorb.card import MetricEstimate, UpdateRecord, UpdateTest
    from resorb.features import model_input
    from resorb.label import labelled_rows
    from resorb.metrics import bootstrap_metrics, optimism_corrected
    from resorb.models import build_model, predict_resorption
    from resorb.scoring.model import is_registry_uri, load_model
    from resorb.training import Evaluation, evaluate
    from resorb.updating import (
        CHOICES,
        REVISION_TERMS,
        check_alpha,
        fit_update,
        update_fit_predict,
    )

    if method not in CHOICES:
        raise InputError(f"unknown updating method {method!r}; choose one of: "
                         f"{', '.join(CHOICES)}")
    check_alpha(alpha)
    say = progress or (lambda _msg: None)
    tp = params.training
    seed = data.source.seed if data.source.seed is not None else tp.seed
    labelled = labelled_rows(data.frame, params.label)  # a single class fails here, first
    loaded = model_ref if hasattr(model_ref, "estimator") else load_model(model_ref)
    from resorb.intake.derive import update_measurement_warnings

    mixed = update_measurement_warnings(loaded.metadata.derived, data.derived, loaded.features,
                                        tuple(data.frame.columns))
    X = model_input(labelled.frame, columns=loaded.features)
    y = labelled.y
    refit = None
    if method == "refit":
        spec = params.candidates.get(loaded.metadata.candidate)
        if spec is not None:  # refitted on the parent's predictors only
            spec = params.with_predictors(loaded.predictors).candidate(
                loaded.metadata.candidate)
        if spec is None:
            raise ConfigError(
                f"--method refit fits the parent's candidate '{loaded.metadata.candidate}' "
                f"from scratch, but params.yaml has no such candidate (it has "
                f"{', '.join(params.candidates)}); add it, or choose another method")
        refit = build_model(spec, seed=seed)
    say(f"parent {loaded.describe()}: {method} update on {len(y):,} rows")
    with _refit_errors(method, loaded.metadata.candidate, y):
        update = fit_update(loaded.estimator, X, y, method, alpha, refit)
    p_parent = predict_resorption(loaded.estimator, X)
    parent_metrics = bootstrap_metrics(y, p_parent, n_boot=tp.n_boot, seed=seed)
    from resorb.tracking import fingerprint  # imports MLflow: only once the update is made

    fp = fingerprint(X, y)
    if update.model is None:
        return UpdateOutcome(loaded, update, None, None, parent_metrics, None, None, data,
                             labelled, X, p_parent, fp, seed, measured_otherwise=mixed)
    say(f"{update.method}: optimism-corrected bootstrap ({tp.optimism_n_boot} refits)")
    with _refit_errors(method, loaded.metadata.candidate, y):
        opt = optimism_corrected(update_fit_predict(loaded.estimator, method, alpha, refit),
                                 X, y, n_boot=tp.optimism_n_boot, seed=seed)
    metrics = opt.rename(columns={"corrected": "estimate"})[
        ["metric", "estimate", "ci_low", "ci_high", "apparent", "optimism"]]
    p = predict_resorption(update.model, X)
    how = ("the update" + (" and the closed test" if method == "auto" else "")
           + " refitted in each resample, the parent fixed")
    curves = evaluate(y, p, tp, "apparent", seed)
    evaluation = Evaluation(metrics=metrics, calibration=curves.calibration,
                            decision=curves.decision, roc=curves.roc,
                            method=f"optimism-corrected bootstrap x {tp.optimism_n_boot} "
                                   f"({how}; curves: apparent)")
    m = update.model
    revised = update.method == "revise"
    registered = is_registry_uri(loaded.source) and bool(loaded.version)
    sha = loaded.metadata.skops_sha256
    record = UpdateRecord(
        parent=(f"{loaded.name} version {loaded.version}" if registered
                else f"folder {Path(str(loaded.source)).name} (model sha256 {sha[:12]})"),
        parent_version=loaded.version if registered else "", parent_skops_sha256=sha,
        parent_candidate=loaded.metadata.candidate, requested=method, method=update.method,
        alpha=float(alpha),
        tests=tuple(UpdateTest(**s.__dict__) for s in update.test.steps) if update.test
        else (),
        intercept=None if update.method == "refit" else float(m.intercept_),
        slope=None if update.method == "refit" else float(m.slope_),
        revision_terms=tuple(t for t, _ in REVISION_TERMS) if revised else (),
        revision_coefficients=tuple(float(c) for c in m.revision_coef_) if revised else (),
        revision_penalty=float(m.penalty_) if revised else None,
        data_sha256=fp.data_sha256, rows=fp.rows, events=fp.events, prevalence=fp.prevalence)
    parent_card = loaded.metadata
    card = parent_card.model_copy(update={
        "data_source": data.source, "seed": int(seed), "label_rule": params.label,
        "resorb_version": __version__, "skops_sha256": "", "update": record,
        "derived": dict(data.derived) if update.method == "refit"
        else {**parent_card.derived, **data.derived},
        "metrics": {r.metric: MetricEstimate.of(r.estimate, r.ci_low, r.ci_high)
                    for r in metrics.itertuples(index=False)},
        # model_copy does not validate: the card's ranges are tuples, not _ranges' lists
        "training_ranges": {k: None if v is None else tuple(v) for k, v in _ranges(X).items()}
        if update.method == "refit" else parent_card.training_ranges})
    return UpdateOutcome(loaded, update, update.model, card, parent_metrics, metrics,
                         evaluation, data, labelled, X, p, fp, seed, measured_otherwise=mixed)


@contextmanager
def _refit_errors(method: str, candidate: str, y: Any) -> Iterator[None]:
    """A refit too big for the data (folds without both classes...) as a TrainingError."""
    try:
        yield
    except ValueError as exc:
        if method != "refit":
            raise
        events = int(sum(y))
        raise TrainingError(
            f"refitting candidate '{candidate}' on {len(y):,} rows ({events:,} resorbed, "
            f"{len(y) - events:,} not) failed: {str(exc).splitlines()[0]}; use a less "
            f"extensive method (--method auto, intercept, recalibrate or revise)") from None


@dataclass(frozen=True)
class UpdateRecorded:
    """Where an updated model went: run, model URI, registered version, exported folder."""

    run_id: str | None = None
    model_uri: str | None = None
    version: str | None = None
    folder: Path | None = None
    tracking_uri: str | None = None


def record_update(outcome: UpdateOutcome, params: Params, register: bool = True,
                  out: str | os.PathLike[str] | None = None) -> UpdateRecorded:
    """Log an updated model as an MLflow run and register it, and/or export it to a folder.

    With ``register`` (the store must be configured: :func:`resorb.tracking.configure`) an
    ``update`` run holds the validation, the closed test (``update/closed_test.csv``) and the
    model, registered as a new version of ``resorb`` tagged with its parent. With ``out`` the
    model is also written as a folder (:func:`resorb.tracking.save_model_folder`).

    Raises
    ------
    InputError
        Nothing to record: the parent was kept, or neither ``register`` nor ``out``.
    """
    from resorb import tracking
    from resorb.runs import RunRecord, flatten_params
    from resorb.updating import METHOD_WORDS

    if outcome.kept:
        raise InputError("the closed test kept the parent model: there is no updated model "
                         "to register or export")
    if not register and out is None:
        raise InputError("--no-register needs --out FOLDER: the updated model must go "
                         "somewhere")
    card, update = outcome.card, outcome.update
    result = UpdateRecorded()
    if register:
        uri = tracking_uri(params.tracking.uri)
        source = outcome.data.source
        fp = outcome.fingerprint
        words = METHOD_WORDS[update.method]
        parent = card.update.parent
        tags = {**tracking.run_tags(source, fp, params.label), "updated_from": parent,
                "update_method": update.method}
        if outcome.measured_otherwise:  # column names and derivations only, no values
            tags["measured_otherwise"] = "; ".join(outcome.measured_otherwise)
        described = (f"{card.kind.replace('_', ' ')} ({card.candidate}) from {parent}, "
                     f"updated on new data by {words}"
                     + (" (closed testing procedure, Vergouwe 2017)"
                        if update.requested == "auto" else ""))
        run_params = flatten_params({
            "update": {"requested": update.requested, "method": update.method,
                       "alpha": card.update.alpha, "parent": parent,
                       "parent_skops_sha256": card.update.parent_skops_sha256},
            "spec": {"kind": card.kind, "calibration": card.calibration,
                     "description": described},
            "label": params.label.model_dump(), "seed": outcome.seed})
        record = RunRecord(
            tags=tags, fingerprint=fp, params=run_params,
            **_evaluated({card.candidate: outcome.evaluation}, outcome.evaluation),
            **_aggregates(outcome.labelled.frame, outcome.labelled.y, outcome.predictions),
            data_account=outcome.labelled.account())
        with tracking.start_run("update"):
            tracking.write_run(record)
            if update.test is not None:
                tracking.log_table(update.test.table(), "update/closed_test.csv")
            tracking.log_table(outcome.parent_metrics, "update/parent_on_new_data.csv")
            info = tracking.log_model(outcome.model, card)
            version = tracking.register(info.model_uri, {
                "candidate": f"{card.candidate}+{update.method}", "trained_on":
                    source.describe(), "data_kind": source.kind, "updated_from": parent,
                "update_method": update.method,
                "label_rule": f"{params.label.name} (>= {params.label.min_reduction_pct:g}%)",
                "decision_threshold": f"{card.decision_threshold:g}"})
            result = UpdateRecorded(tracking.active_run_id(), info.model_uri, version, None,
                                    uri)
    if out is not None:
        folder = tracking.save_model_folder(outcome.model, card, out)
        result = UpdateRecorded(result.run_id, result.model_uri, result.version, folder,
                                result.tracking_uri)
    return result
@dataclass(frozen=True)
class CheckedData:
    """What :func:`check_training_data` found: the counts, and notes for the user."""

    counts: DataCounts
    notes: tuple[str, ...] = ()


def check_training_data(data: TrainingData, params: Params, candidates: list[str],
                        seed: int, command: str = "compare") -> CheckedData:
    """Check, before any fit, that the labelled rows can train and validate ``candidates``.

    Every split (outer folds, recalibration folds, final fit) is counted by
    :func:`resorb.splits.check_split_capacity`; predictors the labelled rows do not inform
    (no observed value, or one value only) are named in a note, since the model leaves
    them out (:class:`resorb.features.EncodeIfObserved`).

    Parameters
    ----------
    data : TrainingData
    params : Params
    candidates : list of str
        Candidate names to be fitted; names not in ``params.candidates`` are left to the
        training functions, which refuse them.
    seed : int
        Seed of the outer folds.
    command : {"compare", "train"}
        Which command the fixes name.

    Returns
    -------
    CheckedData

    Raises
    ------
    TrainingError
        A split holds too few events or non-events (its counts and a fix), or the outcome
        has a single class.
    """
    from resorb.features import describe_unused, unused_predictors
    from resorb.splits import check_split_capacity
    from resorb.training import prepare

    labelled, X, groups = prepare(data.frame, params)
    specs = {n: params.candidates[n] for n in candidates if n in params.candidates}
    counts = check_split_capacity(labelled.y, groups, params.training, specs, seed=seed,
                                  command=command)
    note = describe_unused(unused_predictors(X))
    return CheckedData(counts=counts, notes=(note,) if note else ())


def preflight(data: TrainingData, params: Params, candidates: list[str] | None,
              command: str = "compare") -> CheckedData:
    """:func:`check_training_data` with the seed the jobs use, for the CLI to call before it
    opens the tracking store: data too small to validate then leave no store behind."""
    seed = data.source.seed if data.source.seed is not None else params.training.seed
    return check_training_data(data, params, candidates or list(params.candidates), seed,
                               command=command)
