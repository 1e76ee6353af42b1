"""Update a model on new labelled data, validate it, then log and register or export it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from resorb.card import ModelCard
from resorb.config import Params, tracking_uri
from resorb.errors import ConfigError, InputError, TrainingError
from resorb.jobs.data import TrainingData
from resorb.jobs.fit import _aggregates, _evaluated, _ranges
from resorb.training import Progress


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
        data_sha256=fp.data_sha256, rows=fp.rows, events=fp.events, prevalence=fp.prevalence,
        parent_derived=dict(loaded.metadata.derived))
    parent_card = loaded.metadata
    card = parent_card.model_copy(update={
        "data_source": data.source, "seed": int(seed), "label_rule": params.label,
        "resorb_version": __version__, "skops_sha256": "", "update": record,
        # what the update data were, for every method: the card's data_source, label rule
        # and calibration are the update data's, and scoring compares its mapping with
        # this (the parent's own derivations stay in update.parent_derived)
        "derived": dict(data.derived),
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
            tables = {"update/parent_on_new_data.csv": outcome.parent_metrics}
            if update.test is not None:
                tables["update/closed_test.csv"] = update.test.table()
            # one log_batch and one log_artifacts, the update's tables included
            tracking.write_run(record, extra_files={
                path: table.to_csv(index=False).encode() for path, table in tables.items()})
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
