"""``resorb report``: find the model and its run, read them, explain, render, write and log.

The only part of the report that touches the tracking store and the file system: it resolves
a registry URI or a run id to the model folder (downloaded from the store) and the run that
trained it, reads the run back (:func:`resorb.tracking.read_run`), has the model loaded and
explained (:mod:`.explanations`, in a forked worker when the command gives one:
:mod:`.worker`), renders the page (:mod:`.render`), writes the file atomically and logs it to
the run as ``report/report.html``.

Nothing here imports scikit-learn or matplotlib: the model is loaded and drawn by
:func:`resorb.report.worker.explain_folder`, so the command's process spends its time on
MLflow while the worker spends its own on the model (docs/report.md "Speed").
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resorb.card import ModelCard
from resorb.config import Params
from resorb.errors import InputError, ModelNotFoundError
from resorb.report.explanations import SHAP_ROWS
from resorb.report.facts import ModelFacts
from resorb.report.render import prepare as prepare_templates
from resorb.report.render import render_report
from resorb.runs import ARTIFACTS, RunRecord

if TYPE_CHECKING:
    from resorb.intake.mapping_file import Mapping
    from resorb.report.worker import ExplainedModel, ExplainWorker

REPORT_ARTIFACT = ARTIFACTS.report
#: the model a report is about when none is named (resorb.scoring.model.DEFAULT_MODEL_URI)
DEFAULT_MODEL_URI = "models:/resorb@champion"


@dataclass(frozen=True)
class ReportResult:
    """What :func:`make_report` wrote: the file, its size in bytes and the seconds it took."""

    path: Path
    run_id: str
    model: str
    size_bytes: int
    seconds: float
    logged_as: str | None


def make_report(params: Params, model: str | None = None, run: str | None = None,
                out: str | os.PathLike[str] = "report.html",
                data: str | os.PathLike[str] | None = None, shap_rows: int = SHAP_ROWS,
                log: bool = True, now: datetime | None = None,
                worker: ExplainWorker | None = None,
                mapping: str | os.PathLike[str] | None = None) -> ReportResult:
    """Write the HTML report of a model and log it to the model's MLflow run.

    Parameters
    ----------
    params : Params
        The resolved parameters (label rule, scoring defaults, candidates).
    model : str, optional
        Registry URI (``models:/resorb@champion``, the default; ``models:/resorb/3``;
        ``runs:/ID/model``).
    run : str, optional
        Run id whose model to report on, instead of ``model``.
    out : path-like
        HTML file to write (its folder must exist).
    data : path-like, optional
        Table to compute SHAP explanations on, in the data dictionary or read through
        ``mapping`` (needed for a model trained on real data; a synthetic model is explained
        on a fresh synthetic cohort). Only the model's own predictors are read and checked.
    shap_rows : int
        Rows explained (a seeded sample beyond that).
    log : bool
        Log the file to the run as ``report/report.html``.
    now : datetime, optional
        Time stamp printed in the report (default: now, UTC).
    worker : ExplainWorker, optional
        A started worker that loads and explains the model while this process reads the
        run (``resorb report`` starts one); without it, this process does both in turn.
    mapping : path-like, optional
        Mapping file from ``data``'s columns, codes, units and dialect to the data
        dictionary's (``--mapping``, as ``score``, ``evaluate`` and ``train`` take it);
        loaded and checked before anything is downloaded.

    Returns
    -------
    ReportResult

    Raises
    ------
    InputError
        Both ``model`` and ``run`` given, ``mapping`` without ``data``, ``out`` is not an
        .html file in a folder, or ``data`` cannot be read.
    ConfigError
        ``mapping`` is not a valid mapping file, or reads columns ``data`` lacks.
    ModelNotFoundError
        No registry, or no such model or run.
    ModelCardError, ModelIntegrityError
        The model folder fails its checks (:func:`resorb.scoring.model.load_model`).
    DataValidationError
        ``data`` (as mapped) breaks the data dictionary for the model's predictors.
    """
    from resorb.report.worker import ExplainJob, explain_folder

    start = time.perf_counter()
    target = _check_out(out)
    if model is not None and run is not None:
        raise InputError("give --model or --run, not both")
    rules = _load_mapping(mapping, data)
    tmp = Path(tempfile.mkdtemp(prefix="resorb-report-"))
    try:
        found = _resolve(model, run, tmp / "model")
        job = ExplainJob(found.folder, found.source, None if data is None else Path(data),
                         shap_rows, mapping=rules)
        if worker is not None:
            worker.submit(job)  # the worker loads and explains while the run is read here
        from resorb.tracking import read_run

        record = read_run(found.run_id)
        evaluations = _evaluations(found.card.skops_sha256)
        if worker is not None:
            prepare_templates()  # while the worker draws
            explained = worker.result()
        else:
            explained = explain_folder(job)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    facts = _model_facts(found, explained, record)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    text = render_report(record, facts, explained.explanations, params, generated_at=stamp,
                         evaluations=evaluations)
    from resorb.files import atomic_path

    with atomic_path(target) as tmp_file:
        tmp_file.write_text(text, encoding="utf-8")
        tmp_file.chmod(0o644)  # a document to share, not a private temporary file
    logged = _log_report(found.run_id, target) if log else None
    return ReportResult(target, found.run_id, facts.title, target.stat().st_size,
                        time.perf_counter() - start, logged)


def _check_out(out: str | os.PathLike[str]) -> Path:
    path = Path(out)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{path.name}: the report is HTML; name the output file *.html")
    if not path.parent.exists():
        raise InputError(f"{path.parent}: folder does not exist; create it first")
    from resorb.files import check_writable_folder

    check_writable_folder(path.parent, f"--out {path}")  # /proc, read-only: before any work
    return path


def _load_mapping(mapping: str | os.PathLike[str] | None,
                  data: str | os.PathLike[str] | None) -> Mapping | None:
    """``--mapping`` loaded and checked before any work (its columns are checked against
    ``--data`` when the worker reads it)."""
    if mapping is None:
        return None
    if data is None:
        raise InputError("--mapping applies to --data FILE (the table the explanations are "
                         "computed on); give the file the mapping reads with --data")
    from resorb.intake.mapping_file import load_mapping

    return load_mapping(mapping)


@dataclass(frozen=True)
class _Found:
    """The model folder downloaded from the store, its card and the run that trained it."""

    folder: Path
    source: str
    run_id: str
    card: ModelCard
    skops_bytes: int
    model_id: str


def _resolve(model: str | None, run: str | None, folder: Path) -> _Found:
    """Download the model into ``folder`` and find the id of the run that trained it.

    The model is not loaded here (no scikit-learn in this process): its folder is handed to
    :func:`resorb.report.worker.explain_folder`, which loads it with every check. The card
    is read for what the page and the store queries need.
    """
    from resorb import tracking
    from resorb.config import store_present, tracking_uri

    if not store_present():  # the report reads the run: an exported folder is not enough
        raise ModelNotFoundError(f"no model registry here (no mlflow.db in {Path.cwd()}, "
                                 f"MLFLOW_TRACKING_URI unset); run `resorb report` in the folder "
                                 f"that holds the tracking store")
    if run is None:
        source = model or DEFAULT_MODEL_URI
        if not tracking_uri().startswith("sqlite:///"):  # a server: is it there, with the model
            from resorb.scoring.model import check_server_model

            check_server_model(source, chosen=model is None)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        tracking.export(source, folder)
        run_id = str(_mlmodel(folder).get("run_id") or "")
        if not run_id:
            raise ModelNotFoundError(f"{source} records no MLflow run; the report reads "
                                     f"its validation from the run that trained the model")
        if tracking.get_run(run_id) is None:
            raise ModelNotFoundError(f"{source} was trained in run {run_id}, which is "
                                     f"not in this tracking store")
        return _found(folder, source, run_id)
    found = tracking.get_run(run)
    if found is None:
        raise ModelNotFoundError(f"no run '{run}' in the tracking store; see `resorb ui` or "
                                 f"`resorb models list`")
    source = f"runs:/{run}/{ARTIFACTS.model}"
    try:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        tracking.export(source, folder)
        if not (folder / ARTIFACTS.model_skops).is_file():
            raise ModelNotFoundError(f"{source} is not a resorb model")
    except ModelNotFoundError:
        parent = found.data.tags.get("mlflow.parentRunId")
        hint = (f"it is candidate '{found.info.run_name}' of compare run {parent}, whose "
                f"champion carries the model: --run {parent}" if parent
                else "give the run of a `resorb train` or `resorb compare`")
        raise ModelNotFoundError(f"run {run} has no model; {hint}") from None
    return _found(folder, source, run)


def _found(folder: Path, source: str, run_id: str) -> _Found:
    """The card and file facts of a downloaded model folder (checked again when loaded)."""
    skops = folder / ARTIFACTS.model_skops
    card_file = folder / ARTIFACTS.model_card
    if not skops.is_file() or not card_file.is_file():
        # raises with the messages of every load (resorb.scoring.model.load_model)
        from resorb.scoring.model import load_folder

        load_folder(folder, source=source)
    card = ModelCard.from_json(card_file.read_bytes(), source=f"{source}: {card_file.name}")
    return _Found(folder=folder, source=source, run_id=run_id, card=card,
                  skops_bytes=skops.stat().st_size,
                  model_id=str(_mlmodel(folder).get("model_id") or ""))


def _mlmodel(folder: Path) -> dict[str, Any]:
    """MLflow's ``MLmodel`` file of a model folder (run id, logged-model id), or {}."""
    import yaml

    path = folder / ARTIFACTS.mlmodel
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def _log_report(run_id: str, path: Path) -> str:
    """Log the file as ``report/report.html`` of the run; returns its runs:/ URI."""
    from resorb import tracking

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / Path(REPORT_ARTIFACT).name
        shutil.copyfile(path, copy)
        tracking.log_file_to_run(run_id, copy, str(Path(REPORT_ARTIFACT).parent))
    return f"runs:/{run_id}/{REPORT_ARTIFACT}"


def _model_facts(found: _Found, explained: ExplainedModel, record: RunRecord) -> ModelFacts:
    name, version = explained.name, explained.version
    if not version and found.source.startswith("runs:/"):
        from resorb import tracking

        registered = tracking.registered_version_of_run(record.run_id)
        if registered:
            name, version = "resorb", registered
    return ModelFacts(name=name, version=version, source=found.source, card=found.card,
                      skops_bytes=found.skops_bytes, model_id=found.model_id)


#: newest external validations whose calibration plot the report embeds
EVALUATION_FIGURES = 3


def _evaluations(model_sha256: str) -> Any:
    """The model's external validations in the store, with the newest calibration plots."""
    from resorb import tracking
    from resorb.report.sections import evaluation_rows

    table = tracking.list_evaluations(model_sha256=model_sha256)
    figures: dict[str, bytes] = {}
    for run_id in table["run_id"].head(EVALUATION_FIGURES):
        with tempfile.TemporaryDirectory() as tmp:
            tracking.download_run_artifacts(run_id, (ARTIFACTS.figures,), tmp)
            png = Path(tmp) / ARTIFACTS.figure("calibration")
            if png.is_file():
                figures[run_id] = png.read_bytes()
    return evaluation_rows(table, figures)
