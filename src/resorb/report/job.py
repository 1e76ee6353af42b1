"""``resorb report``: find the model and its run, read them, explain, render, write and log.

The only part of the report that touches the tracking store and the file system: it resolves
a registry URI or a run id to the loaded model and the run that trained it, reads the run
back (:func:`resorb.tracking.read_run`), explains the model (:mod:`.explanations`), renders
the page (:mod:`.render`), writes the file atomically and logs it to the run as
``report/report.html``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from resorb.config import Params
from resorb.errors import InputError, ModelNotFoundError
from resorb.report.explanations import SHAP_ROWS, explain_for_report
from resorb.report.facts import ModelFacts
from resorb.report.render import render_report
from resorb.runs import ARTIFACTS, RunRecord

REPORT_ARTIFACT = ARTIFACTS.report


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
                log: bool = True, now: datetime | None = None) -> ReportResult:
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
        Table in the data dictionary to compute SHAP explanations on (needed for a model
        trained on real data; a synthetic model is explained on a fresh synthetic cohort).
    shap_rows : int
        Rows explained (a seeded sample beyond that).
    log : bool
        Log the file to the run as ``report/report.html``.
    now : datetime, optional
        Time stamp printed in the report (default: now, UTC).

    Returns
    -------
    ReportResult

    Raises
    ------
    InputError
        Both ``model`` and ``run`` given, or ``out`` is not an .html file in a folder.
    ModelNotFoundError
        No registry, or no such model or run.
    DataValidationError
        ``data`` breaks the data dictionary.
    """
    start = time.perf_counter()
    target = _check_out(out)
    if model is not None and run is not None:
        raise InputError("give --model or --run, not both")
    loaded, run_id = _resolve(model, run)
    from resorb.tracking import read_run

    record = read_run(run_id)
    facts = _model_facts(loaded, record)
    card = loaded.metadata
    expl = explain_for_report(loaded.estimator, loaded.features, card.data_source, data,
                              shap_rows, seed=card.seed + 1)  # fresh rows, not the training draw
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    text = render_report(record, facts, expl, params, generated_at=stamp,
                         evaluations=_evaluations(card.skops_sha256))
    from resorb.files import atomic_path

    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)  # a document to share, not a private temporary file
    logged = _log_report(run_id, target) if log else None
    return ReportResult(target, run_id, facts.title, target.stat().st_size,
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


def _resolve(model: str | None, run: str | None) -> tuple[Any, str]:
    """The loaded model and the id of the run that trained it."""
    from resorb import tracking
    from resorb.scoring.model import DEFAULT_MODEL_URI, load_model, registry_available

    if not registry_available():  # the report reads the run: an exported folder is not enough
        raise ModelNotFoundError(f"no model registry here (no mlflow.db in {Path.cwd()}, "
                                 f"MLFLOW_TRACKING_URI unset); run `resorb report` in the folder "
                                 f"that holds the tracking store")
    if run is None:
        loaded = load_model(model or DEFAULT_MODEL_URI)
        run_id = _mlmodel(loaded.folder).get("run_id")
        if not run_id:
            raise ModelNotFoundError(f"{loaded.source} records no MLflow run; the report reads "
                                     f"its validation from the run that trained the model")
        if tracking.get_run(str(run_id)) is None:
            raise ModelNotFoundError(f"{loaded.source} was trained in run {run_id}, which is "
                                     f"not in this tracking store")
        return loaded, str(run_id)
    found = tracking.get_run(run)
    if found is None:
        raise ModelNotFoundError(f"no run '{run}' in the tracking store; see `resorb ui` or "
                                 f"`resorb models list`")
    try:
        return load_model(f"runs:/{run}/{ARTIFACTS.model}"), run
    except ModelNotFoundError:
        parent = found.data.tags.get("mlflow.parentRunId")
        hint = (f"it is candidate '{found.info.run_name}' of compare run {parent}, whose "
                f"champion carries the model: --run {parent}" if parent
                else "give the run of a `resorb train` or `resorb compare`")
        raise ModelNotFoundError(f"run {run} has no model; {hint}") from None


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


def _model_facts(loaded: Any, record: RunRecord) -> ModelFacts:
    name, version = loaded.name, loaded.version
    if not version and loaded.source.startswith("runs:/"):
        from resorb import tracking

        registered = tracking.registered_version_of_run(record.run_id)
        if registered:
            name, version = "resorb", registered
    return ModelFacts(name=name, version=version, source=loaded.source, card=loaded.metadata,
                      skops_bytes=(loaded.folder / ARTIFACTS.model_skops).stat().st_size,
                      model_id=str(_mlmodel(loaded.folder).get("model_id") or ""))


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
