"""MLflow: the only module that imports it (it takes seconds to import).

Runs hold parameters, a fingerprint of the data (hash, rows, events, prevalence: never rows
or identifiers), metrics with intervals, figures and the model. Models are logged in the
pyfunc flavor with :mod:`resorb.mlflow_model` as ``loader_module``: a folder of data (a skops
file, its card, ``MLmodel``) that MLflow loads through the installed resorb package, with the
allow-list in :mod:`resorb.serialization`. No pickle and no code is written or read.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import io
import json
import os
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from resorb import __version__, schema
from resorb.card import DataSource, ModelCard
from resorb.config import LabelRule, artifact_root, tracking_uri
from resorb.errors import ModelNotFoundError, ResorbError, TrackingAccessError
from resorb.runs import ARTIFACTS, FIGURES, TABLES, TEXTS, Fingerprint, RunRecord

EXPERIMENT = "resorb"
REGISTERED_MODEL = "resorb"
HISTORY_TAG = "alias_history"


def configure(configured_uri: str | None = None) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns the URI.

    Safe for several processes at once. A new SQLite store's tables are created under an
    exclusive lock on ``<file>.lock`` beside it: MLflow creates them without one, so four
    clients starting together on an empty folder used to crash three times ("table scorers
    already exists"). An experiment another client created first is taken as it is, and a
    call refused by a locked SQLite file is retried with backoff (:func:`retrying`).

    Raises
    ------
    TrackingAccessError
        The server refused the credentials (HTTP 401/403).
    """
    uri = tracking_uri(configured_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.exists():
            _CREATED.append(db)
    with _store_creation_lock(uri), access_errors(uri):
        retrying(_ensure_experiment, uri)
        retrying(mark_training_experiment, EXPERIMENT)
        # the registry store is a second SQLAlchemy store over the same file: create it here too
        retrying(_client().search_registered_models, max_results=1)
    return uri


#: SQLite stores this process created (by :func:`configure`), for :func:`discard_new_store`
_CREATED: list[Path] = []


def discard_new_store() -> list[Path]:
    """Remove the SQLite stores this process created that hold no run and no model.

    A command that fails after opening the store (a training refused by its data) leaves
    no empty ``mlflow.db`` behind: its only trace would make later commands believe a
    registry exists. A store holding a run or a registered model is kept.

    Returns
    -------
    list of Path
        The files removed (the store and its ``.lock``).
    """
    import sqlite3

    removed = []
    while _CREATED:
        db = _CREATED.pop()
        if not db.is_file():
            continue
        try:
            con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
            try:
                used = any(con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                           for table in ("runs", "registered_models", "logged_models"))
            finally:
                con.close()
        except sqlite3.Error as exc:
            used = "no such table" not in str(exc)  # keep a file resorb cannot read
        if used:
            continue
        for path in (db, db.with_name(db.name + ".lock")):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def _ensure_experiment(uri: str) -> None:
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        try:
            mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_root(uri))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":  # another client made it first
                raise
    mlflow.set_experiment(EXPERIMENT)


@contextlib.contextmanager
def _store_creation_lock(uri: str) -> Iterator[None]:
    """Exclusive lock on ``<db>.lock`` beside a SQLite store (no-op for a server)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


# MLflow's REST client already retries a server that does not answer (with backoff), so only
# SQLite's refusals are retried here
_TRANSIENT = ("database is locked", "database table is locked")


def _transient(exc: BaseException) -> bool:
    """A locked SQLite file: worth another try."""
    text = str(exc).lower()
    return any(t in text for t in _TRANSIENT)


def retrying(fn: Any, *args: Any, attempts: int = 8, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, retried with exponential backoff on transient store errors.

    MLflow waits up to 20 s for a locked SQLite file, but a transaction that read first and
    then writes is refused at once when another holds the write lock ("database is
    locked"): that is retried after 0.2, 0.4, ... s (capped at 5 s, with jitter) up to
    ``attempts`` times. Any other error is raised at once.
    """
    import random

    # jitter keeps clients that collided from colliding again; seeded by the process id, so
    # each client draws its own and a rerun of one process draws the same
    jitter = random.Random(os.getpid())
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or not _transient(exc):
                raise
            time.sleep(min(5.0, 0.2 * 2 ** attempt) * (0.5 + jitter.random()))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def access_errors(uri: str) -> Iterator[None]:
    """Turn the server's 401/403 into :class:`TrackingAccessError` (exit 2, no traceback)."""
    try:
        yield
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        text = str(exc)
        if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or any(
                s in text for s in ("error code 401", "error code 403")):
            raise TrackingAccessError(refused_message(uri, text)) from None
        raise


def refused_message(uri: str, text: str) -> str:
    """What to tell a user the server refused (``text``: MLflow's error); names no secret."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if "403" in text or "PERMISSION_DENIED" in text:
        why = f"user '{user}' lacks the permission for it"
    elif user:
        why = f"user '{user}' and the password were not accepted"
    else:
        why = "no credentials were given"
    return (f"the tracking server {uri} refused the request: {why}; set "
            f"MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in the environment "
            f"(never in params.yaml) to an account the server's admin created")


def fingerprint(frame: pd.DataFrame, y: np.ndarray) -> Fingerprint:
    """Hash, rows, events and prevalence of the training data; identifiers are left out."""
    cols = [c for c in frame.columns if c not in schema.IDENTIFIERS]
    hashed = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes() + np.asarray(y, np.int8).tobytes()).hexdigest()
    return Fingerprint(data_sha256=digest, rows=len(y), events=int(np.sum(y)),
                       prevalence=round(float(np.mean(y)), 4))


def git_commit() -> str:
    """The project's git commit, or 'unknown' outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def log_model(model: Any, card: ModelCard) -> Any:
    """Log a fitted pipeline as a resorb pyfunc model: data only, loaded by installed code.

    The model file and its card (with the file's SHA-256, :meth:`ModelCard.with_skops_hash`)
    go into the model's ``artifacts/``; ``MLmodel`` names :mod:`resorb.mlflow_model` as the
    pyfunc ``loader_module``, so any MLflow client loads it through the installed resorb
    package and nothing in the folder is executed or unpickled. The signature and the input
    example come from the data dictionary (:func:`resorb.mlflow_model.input_schema`), so no
    patient row is stored.

    Returns
    -------
    mlflow.models.model.ModelInfo
        With ``model_uri`` (``models:/<model id>``) to register.
    """
    from resorb.serialization import save_estimator

    with tempfile.TemporaryDirectory() as tmp:
        path = save_estimator(model, Path(tmp) / Path(ARTIFACTS.model_skops).name)
        meta = Path(tmp) / Path(ARTIFACTS.model_card).name
        meta.write_text(card.with_skops_hash(path).to_json(), encoding="utf-8")
        return _log_pyfunc(path, meta, card.features)


def _log_pyfunc(path: Path, meta: Path, features: tuple[str, ...]) -> Any:
    """``Model.log`` with :mod:`resorb.mlflow_model` as the flavor that writes the folder."""
    from mlflow.models import Model

    from resorb import mlflow_model

    with warnings.catch_warnings():
        # MLflow compares the example's columns with a range (deprecated in pandas 3)
        warnings.filterwarnings("ignore", message="Operation with range is deprecated")
        return Model.log(None, flavor=mlflow_model, name=ARTIFACTS.model, skops=path, card=meta,
                         features=tuple(features),
                         requirements=[f"resorb=={__version__}",
                                       f"mlflow=={mlflow.__version__}"])


def run_tags(source: DataSource, fp: Fingerprint, label: LabelRule) -> dict[str, str]:
    """Tags every resorb run carries."""
    return {"resorb_version": __version__, "git_commit": git_commit(),
            "trained_on": source.describe(), "data_kind": source.kind,
            "label_rule": f"{label.name} (>= {label.min_reduction_pct:g}% volume reduction)",
            "data_sha256": fp.data_sha256}


def start_run(name: str, nested: bool = False):
    """Start an MLflow run (context manager)."""
    return mlflow.start_run(run_name=name, nested=nested)


# ------------------------------------------------- a run record: write_run and read_run
# One pair over one core: the scalar keys below and the artifact table of resorb.runs.

_VALIDATION_METHOD = "validation_method"  # tag
_SAMPLE_SIZE_OK = "sample_size_ok"  # tag: "true" or "false"
_DATA_SHA256 = "data_sha256"  # param
_FP_METRICS = {"rows": "data_rows", "events": "data_events", "prevalence": "data_prevalence"}


def write_run(record: RunRecord) -> None:
    """Log a run record into the active run; :func:`read_run` reads it back.

    Tags and parameters as given (plus ``validation_method`` and ``sample_size_ok``); the
    metric table also as run metrics ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high``
    (finite values only); the fingerprint as param ``data_sha256`` and metrics
    ``data_rows``, ``data_events``, ``data_prevalence``; tables, texts and figures as the
    artifacts of :data:`resorb.runs.ARTIFACTS`.

    Parameters
    ----------
    record : RunRecord
        Aggregates only (the caller's tables hold no identifier).
    """
    tags, params, metrics = dict(record.tags), dict(record.params), {}
    if record.validation_method:
        tags[_VALIDATION_METHOD] = record.validation_method
    if record.sample_size_ok is not None:
        tags[_SAMPLE_SIZE_OK] = json.dumps(record.sample_size_ok)
    if record.metrics is not None:
        for m in record.metrics.itertuples(index=False):
            metrics.update({m.metric: m.estimate, f"{m.metric}_ci_low": m.ci_low,
                            f"{m.metric}_ci_high": m.ci_high})
    if record.fingerprint is not None:
        params[_DATA_SHA256] = record.fingerprint.data_sha256
        metrics.update({key: getattr(record.fingerprint, field)
                        for field, key in _FP_METRICS.items()})
    mlflow.set_tags(tags)
    mlflow.log_params(params)
    log_metrics(metrics)
    files = _encode_files(record)
    if files:
        with tempfile.TemporaryDirectory() as tmp:
            for path, data in files.items():
                (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / path).write_bytes(data)
            mlflow.log_artifacts(tmp)


def read_run(run_id: str) -> RunRecord:
    """A run as :func:`write_run` logged it, with MLflow's own tags, name and start time.

    Parameters
    ----------
    run_id : str
        MLflow run id (the tracking store must be configured).

    Returns
    -------
    RunRecord
        ``candidate_params`` from the run's own ``spec.*`` parameters or, for a compare
        run, from its champion child run.

    Raises
    ------
    ModelNotFoundError
        No such run in the tracking store.
    """
    run = get_run(run_id)
    if run is None:
        raise ModelNotFoundError(f"no run '{run_id}' in the tracking store")
    tags, params = dict(run.data.tags), dict(run.data.params)
    method, ok = tags.pop(_VALIDATION_METHOD, ""), tags.pop(_SAMPLE_SIZE_OK, None)
    digest, numbers = params.pop(_DATA_SHA256, None), run.data.metrics
    fp = None
    if digest is not None and all(k in numbers for k in _FP_METRICS.values()):
        fp = Fingerprint(digest, int(numbers["data_rows"]), int(numbers["data_events"]),
                         float(numbers["data_prevalence"]))
    tops = tuple(dict.fromkeys(p.split("/")[0] for p in (*TABLES.values(), *TEXTS.values(),
                                                          ARTIFACTS.figures)))
    with tempfile.TemporaryDirectory() as tmp:
        download_run_artifacts(run_id, tops, tmp)
        root = Path(tmp)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
                 if p.is_file()}
    return RunRecord(
        tags=tags, params=params, **_decode_files(files), validation_method=method,
        sample_size_ok=None if ok is None else bool(json.loads(ok)), fingerprint=fp,
        run_id=run.info.run_id, run_name=run.info.run_name or "",
        started=datetime.fromtimestamp(run.info.start_time / 1000, UTC),
        candidate_params=_candidate_params(run))


def _encode_files(record: RunRecord) -> dict[str, bytes]:
    """Artifact path -> bytes of every table, text and figure the record holds."""
    files = {path: getattr(record, name).to_csv(index=False).encode()
             for name, path in TABLES.items() if getattr(record, name) is not None}
    files.update({path: getattr(record, name).encode()
                  for name, path in TEXTS.items() if getattr(record, name)})
    files.update({ARTIFACTS.figure(name): png for name, png in record.figures.items()})
    return files


def _decode_files(files: dict[str, bytes]) -> dict[str, Any]:
    """The inverse of :func:`_encode_files`: RunRecord fields from artifact bytes."""
    out: dict[str, Any] = {name: pd.read_csv(io.BytesIO(files[path]))
                           for name, path in TABLES.items() if path in files}
    out.update({name: files[path].decode() for name, path in TEXTS.items() if path in files})
    out["figures"] = {name: files[ARTIFACTS.figure(name)] for name in FIGURES
                      if ARTIFACTS.figure(name) in files}
    return out


def _candidate_params(run: Any) -> dict[str, str]:
    """``spec.*`` parameters of the run's candidate (a compare run's champion child)."""
    own = {k: v for k, v in run.data.params.items() if k.startswith("spec.")}
    champion = run.data.params.get("champion")
    if own or not champion:
        return own
    for child in child_runs(run):
        if child.info.run_name == champion:
            return {k: v for k, v in child.data.params.items() if k.startswith("spec.")}
    return {}


def log_table(frame: pd.DataFrame, path: str) -> None:
    """Log a DataFrame as a CSV artifact."""
    mlflow.log_text(frame.to_csv(index=False), path)


def active_run_id() -> str:
    """The id of the active run."""
    run = mlflow.active_run()
    if run is None:
        raise ResorbError("no active MLflow run")
    return run.info.run_id


def register(model_uri: str, tags: dict[str, str]) -> str:
    """Register a logged model as a new version of ``resorb``; returns the version."""
    mv = mlflow.register_model(model_uri, REGISTERED_MODEL, tags=tags)
    return str(mv.version)


def _client() -> MlflowClient:
    return MlflowClient()


def list_versions() -> pd.DataFrame:
    """Every registered version with aliases, what it was trained on and key metrics."""
    client = _client()
    try:
        model = client.get_registered_model(REGISTERED_MODEL)
    except MlflowException:
        return pd.DataFrame(columns=["version", "aliases", "trained_on", "auroc",
                                     "calibration_slope", "ici", "created"])
    aliases: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name='{REGISTERED_MODEL}'"):
        metrics = {}
        if mv.run_id:
            try:
                metrics = client.get_run(mv.run_id).data.metrics
            except MlflowException:
                metrics = {}
        rows.append({
            "version": int(mv.version),
            "aliases": ", ".join(sorted(aliases.get(str(mv.version), []))),
            "candidate": mv.tags.get("candidate", ""),
            "trained_on": mv.tags.get("trained_on", ""),
            "label_rule": mv.tags.get("label_rule", ""),
            "threshold": mv.tags.get("decision_threshold", ""),
            "auroc": metrics.get("auroc", np.nan),
            "calibration_slope": metrics.get("calibration_slope", np.nan),
            "ici": metrics.get("ici", np.nan),
            "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC)
            .strftime("%Y-%m-%d %H:%M"),
        })
    return pd.DataFrame(rows).sort_values("version", ascending=False, ignore_index=True)


def promote(version: str, alias: str) -> dict[str, str]:
    """Point ``alias`` at ``version`` and append the move to the alias history."""
    client = _client()
    try:
        client.get_model_version(REGISTERED_MODEL, str(version))
    except MlflowException:
        raise ModelNotFoundError(f"model '{REGISTERED_MODEL}' has no version {version}; "
                                 f"see `resorb models list`") from None
    model = client.get_registered_model(REGISTERED_MODEL)
    previous = (model.aliases or {}).get(alias)
    client.set_registered_model_alias(REGISTERED_MODEL, alias, str(version))
    entry = {"alias": alias, "version": str(version),
             "previous": "" if previous is None else str(previous),
             "by": getpass.getuser(), "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    # one tag per move, keyed by time: clients promoting at once each add their own entry,
    # where rewriting one shared list would let the last writer drop the others' moves
    key = f"{HISTORY_TAG}.{time.time_ns():020d}.{uuid.uuid4().hex[:8]}"
    retrying(client.set_registered_model_tag, REGISTERED_MODEL, key, json.dumps(entry))
    return entry


def alias_history() -> list[dict[str, str]]:
    """Every alias move recorded by :func:`promote`, oldest first.

    Moves are tags ``alias_history.<time ns>.<id>`` of the registered model (one each); a
    store written by an earlier resorb holds them as one JSON list in ``alias_history``.
    """
    try:
        model = _client().get_registered_model(REGISTERED_MODEL)
    except MlflowException:
        return []
    tags = model.tags or {}
    legacy = json.loads(tags[HISTORY_TAG]) if tags.get(HISTORY_TAG) else []
    moves = [json.loads(tags[k]) for k in sorted(tags) if k.startswith(f"{HISTORY_TAG}.")]
    return legacy + moves


def resolve_model_uri(alias: str | None = None, version: str | None = None) -> str:
    """``models:/resorb@alias`` or ``models:/resorb/version``."""
    return (f"models:/{REGISTERED_MODEL}@{alias}" if alias
            else f"models:/{REGISTERED_MODEL}/{version}")


def export(model_uri: str, to: str | os.PathLike[str], verify: bool = False) -> Path:
    """Download a registered model (MLmodel, skops file, metadata) into a folder.

    With ``verify``, the download is checked as every resorb load checks a folder
    (:func:`resorb.scoring.model.load_model`: loader, code and environment files, the skops
    file's hash and allow-list) before it replaces ``to``; a refused model leaves ``to``
    as it was.
    """
    import shutil

    target = Path(to)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            target.parent.mkdir(parents=True, exist_ok=True)  # only once there is a model
            staging = target.with_name(f".{target.name}.partial")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(local, staging)
            if verify:
                from resorb.scoring.model import load_model

                try:
                    load_model(staging)
                except BaseException:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
            staging.chmod(0o755)  # the download folder is private (0700); an export is not
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
    except MlflowException as exc:
        raise ModelNotFoundError(f"cannot fetch {model_uri}: {str(exc).splitlines()[0]}; "
                                 f"`resorb models list` shows the versions and aliases") from None
    return target


def load_pyfunc(model_uri: str) -> Any:
    """Load a model through MLflow's generic python-function interface."""
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(f"no model at {model_uri}: {str(exc).splitlines()[0]}") from None


# ----------------------------------------------------------- small wrappers for other modules
# Other modules reach MLflow only through these, so the boundary stays in this file.


def set_tags(tags: dict[str, str]) -> None:
    """Tag the active run."""
    mlflow.set_tags(tags)


def log_metrics(metrics: dict[str, float]) -> None:
    """Log finite metrics to the active run."""
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})


def log_artifacts(folder: str | os.PathLike[str], path: str) -> None:
    """Log every file of a folder under ``path`` of the active run."""
    mlflow.log_artifacts(str(folder), path)


def get_run(run_id: str) -> Any | None:
    """The run, or None when the store has no such run."""
    try:
        return _client().get_run(str(run_id))
    except MlflowException:
        return None


def download_run_artifacts(run_id: str, paths: tuple[str, ...], dst: str | os.PathLike[str]
                           ) -> None:
    """Download those of ``paths`` (files or folders) that the run has into ``dst``."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    available = {a.path for a in _client().list_artifacts(run_id)}
    for path in paths:
        if path in available:
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path,
                                                dst_path=str(dst))


def child_runs(run: Any) -> list[Any]:
    """The nested runs of a parent run (a compare run's candidates)."""
    return _client().search_runs([run.info.experiment_id],
                                 filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")


def log_file_to_run(run_id: str, path: str | os.PathLike[str], artifact_dir: str) -> None:
    """Log one file into ``artifact_dir`` of a finished run."""
    _client().log_artifact(run_id, str(path), artifact_dir)


def registered_version_of_run(run_id: str) -> str:
    """The newest registered version of ``resorb`` logged by the run, or ''."""
    versions = _client().search_model_versions(
        f"name = '{REGISTERED_MODEL}' and run_id = '{run_id}'")
    return str(max(int(v.version) for v in versions)) if versions else ""


def spark_udf(spark: Any, model_uri: str, result_type: str = "double", **kwargs: Any) -> Any:
    """The model as a Spark UDF (``mlflow.pyfunc.spark_udf``)."""
    return mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type, **kwargs)


# --------------------------------------------------------------- external validation runs
#: run metrics shown by :func:`list_evaluations`, each with ``_ci_low`` and ``_ci_high``
EVALUATION_METRICS = ("o_e_ratio", "calibration_intercept", "calibration_slope", "ici",
                      "auroc", "scaled_brier", "net_benefit")


def log_evaluation(record: RunRecord, run_name: str = "evaluate",
                   dataset: tuple[tuple[str, ...], DataSource, str] | None = None) -> str:
    """Log an external validation (:func:`resorb.evaluation.evaluation_record`) as a new run.

    The run carries the record's tags (``kind=evaluation`` and the evaluated model's name,
    version and file SHA-256), resorb's version and git commit, and everything
    :func:`write_run` logs; aggregates only. ``dataset`` (the model's input columns, the
    data source and the file's name) is logged as the run's evaluation dataset
    (:func:`data_description`: schema, digest and counts, never a row).

    Returns
    -------
    str
        The run id.
    """
    tags = {"resorb_version": __version__, "git_commit": git_commit(), **record.tags}
    if record.fingerprint is not None:
        tags[_DATA_SHA256] = record.fingerprint.data_sha256
    from dataclasses import replace

    with start_run(run_name):
        write_run(replace(record, tags=tags))
        if dataset is not None and record.fingerprint is not None:
            features, source, file_name = dataset
            log_dataset(features, record.fingerprint, source, file_name, context="evaluation")
        return active_run_id()


def list_evaluations(model_sha256: str | None = None, name: str | None = None,
                     version: str | None = None) -> pd.DataFrame:
    """The external validations logged for a model, newest first.

    Parameters
    ----------
    model_sha256 : str, optional
        SHA-256 of the model file (its card's ``skops_sha256``): finds the evaluations of
        the same model however it was loaded (registry or exported folder).
    name, version : str, optional
        Registered name and version, as tagged when the model was loaded from the registry.

    Returns
    -------
    DataFrame
        One row per evaluation run: ``run_id``, ``started`` (UTC), ``model_version``,
        ``evaluated_on``, ``data_kind``, ``label_rule``, ``rows``, ``events``,
        ``prevalence``, ``sample_size_ok`` and, for each of :data:`EVALUATION_METRICS`,
        the estimate with ``_ci_low`` and ``_ci_high``. Empty when none (or no store).
    """
    from resorb.evaluation import KIND, KIND_TAG

    metric_cols = [f"{m}{s}" for m in EVALUATION_METRICS for s in ("", "_ci_low", "_ci_high")]
    columns = ["run_id", "started", "model_version", "evaluated_on", "data_kind", "label_rule",
               "rows", "events", "prevalence", "sample_size_ok", *metric_cols]
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return pd.DataFrame(columns=columns)
    conditions = [f"tags.{KIND_TAG} = '{KIND}'"]
    for key, value in (("evaluated_model_sha256", model_sha256),
                       ("evaluated_model_name", name), ("evaluated_model_version", version)):
        if value is not None:
            conditions.append(f"tags.{key} = '{_quoted(value)}'")
    runs = _client().search_runs([experiment.experiment_id], " and ".join(conditions),
                                 order_by=["attributes.start_time DESC"])
    rows = []
    for run in runs:
        tags, numbers = run.data.tags, run.data.metrics
        ok = tags.get(_SAMPLE_SIZE_OK)
        rows.append({
            "run_id": run.info.run_id,
            "started": datetime.fromtimestamp(run.info.start_time / 1000, UTC)
            .strftime("%Y-%m-%d %H:%M"),
            "model_version": tags.get("evaluated_model_version", ""),
            "evaluated_on": tags.get("evaluated_on", ""),
            "data_kind": tags.get("data_kind", ""),
            "label_rule": tags.get("label_rule", ""),
            "rows": numbers.get(_FP_METRICS["rows"], np.nan),
            "events": numbers.get(_FP_METRICS["events"], np.nan),
            "prevalence": numbers.get(_FP_METRICS["prevalence"], np.nan),
            "sample_size_ok": None if ok is None else bool(json.loads(ok)),
            **{c: numbers.get(c, np.nan) for c in metric_cols}})
    return pd.DataFrame(rows, columns=columns)


def _quoted(value: str) -> str:
    """A value safe inside a single-quoted MLflow search string."""
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def save_model_folder(model: Any, card: ModelCard, to: str | os.PathLike[str]) -> Path:
    """Write a fitted model as an MLflow model folder, as ``resorb models export`` would.

    The folder (``MLmodel``, ``artifacts/model.skops``, ``artifacts/resorb.json`` with the
    file's SHA-256) is built beside ``to`` and moved into place at the end, so a failure
    leaves no folder; an existing folder ``to`` is replaced. No tracking store is used.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    card : ModelCard
        Its card (the hash of the file is added here).
    to : path-like
        The folder to write.

    Returns
    -------
    Path
        ``to``.
    """
    import shutil

    from mlflow.models import Model

    from resorb import mlflow_model
    from resorb.serialization import save_estimator

    target = Path(to)
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = save_estimator(model, Path(tmp) / Path(ARTIFACTS.model_skops).name)
            meta = Path(tmp) / Path(ARTIFACTS.model_card).name
            meta.write_text(card.with_skops_hash(path).to_json(), encoding="utf-8")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Operation with range is deprecated")
                mlflow_model.save_model(
                    staging, Model(), skops=path, card=meta, features=tuple(card.features),
                    requirements=[f"resorb=={__version__}", f"mlflow=={mlflow.__version__}"])
        staging.chmod(0o755)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# ------------------------------------------- MLflow conventions: datasets, experiment kind,
# registered versions described from the model card

#: experiment tag the MLflow 3 UI reads to open an experiment on its runs (machine learning)
#: rather than on GenAI traces
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
#: model card metrics written on a registered version, with their intervals
VERSION_METRICS = ("auroc", "calibration_slope", "calibration_intercept", "ici", "brier")


def mark_training_experiment(name: str = EXPERIMENT) -> None:
    """Tag the experiment as model training, so the MLflow 3 UI opens on its runs."""
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None and \
            experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        try:
            _client().set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG,
                                         EXPERIMENT_KIND)
        except MlflowException:
            # clients starting at once all find the tag missing; on PostgreSQL all but one
            # insert then fails on the tag's primary key: the tag being there is the goal
            again = mlflow.get_experiment_by_name(name)
            if again is None or again.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
                raise


def data_description(features: tuple[str, ...], fp: Fingerprint, source: DataSource,
                     file_name: str = "") -> Any:
    """An MLflow dataset that describes the data and holds none of it.

    Parameters
    ----------
    features : tuple of str
        The model's input columns (data dictionary names); with the label ``resorbed`` they
        make the dataset's schema (the dictionary's types, never values).
    fp : Fingerprint
        Hash, rows, events and prevalence (:func:`fingerprint`): the digest is the first 32
        hex digits of the hash, the profile the counts.
    source : DataSource
        Synthetic preset, size and seed, or real data.
    file_name : str
        The data file's name, without its folder (``""`` for synthetic data).

    Returns
    -------
    mlflow.data.meta_dataset.MetaDataset
        Named after the file's stem or ``synthetic-<preset>``; source type ``resorb``.
    """
    from mlflow.types import ColSpec, DataType, Schema

    kinds = {schema.Kind.BOOLEAN: DataType.boolean, schema.Kind.INTEGER: DataType.long,
             schema.Kind.NUMBER: DataType.double, schema.Kind.CATEGORY: DataType.string}
    columns = [schema.BY_NAME[n] for n in (*features, "resorbed")]
    spec = Schema([ColSpec(kinds[c.kind], c.name, required=c.required or c.name == "resorbed")
                   for c in columns])
    name = Path(file_name).name
    described = {"file": name} if name else {
        "synthetic": source.preset, "rows_requested": source.n_requested, "seed": source.seed}
    profile = {"num_rows": fp.rows, "num_events": fp.events, "prevalence": fp.prevalence}
    label = Path(name).stem if name else f"synthetic-{source.preset}"
    source_cls, dataset_cls = _description_classes()
    return dataset_cls(source_cls(described), profile, name=label,
                       digest=fp.data_sha256[:32], schema=spec)


@functools.cache
def _description_classes() -> tuple[type, type]:
    """The dataset source and dataset of :func:`data_description` (built once, lazily)."""
    from mlflow.data.dataset_source import DatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    class DescribedSource(DatasetSource):
        """Where the data came from, in words: a file name or a synthetic preset."""

        def __init__(self, described: dict[str, Any]) -> None:
            self._described = dict(described)

        @staticmethod
        def _get_source_type() -> str:
            return "resorb"

        def load(self, **kwargs: Any) -> Any:
            raise ResorbError("a resorb dataset describes the data and holds none of it")

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> Any:
            raise ResorbError("a resorb dataset source is never resolved from a URI")

        def to_dict(self) -> dict[Any, Any]:
            return dict(self._described)

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> Any:
            return cls(source_dict)

    class Description(MetaDataset):
        """Name, digest, schema and counts of the data; no row of it."""

        def __init__(self, source: Any, profile: dict[str, Any], **kwargs: Any) -> None:
            self._profile = dict(profile)
            super().__init__(source, **kwargs)

        @property
        def profile(self) -> dict[str, Any]:
            return dict(self._profile)

        def to_dict(self) -> dict[str, str]:
            return {**super().to_dict(), "profile": json.dumps(self._profile)}

    return DescribedSource, Description


def log_dataset(features: tuple[str, ...], fp: Fingerprint, source: DataSource,
                file_name: str = "", context: str = "training") -> None:
    """Log :func:`data_description` as the active run's input (the UI's Dataset column).

    Parameters
    ----------
    features, fp, source, file_name
        As for :func:`data_description`.
    context : str
        ``training``, ``evaluation``, ...: what the run did with the data.
    """
    mlflow.log_input(data_description(features, fp, source, file_name), context=context)


def describe_version(version: str, card: ModelCard) -> None:
    """Give a registered version of ``resorb`` a description and tags from its model card.

    Tags: ``candidate``, ``trained_on``, ``data_kind``, ``label_rule``,
    ``decision_threshold``, ``derived`` (when the card records derived columns) and, for
    each of :data:`VERSION_METRICS` the card has, ``<metric>`` =
    ``"0.769 (95% CI 0.762-0.775)"``; the description says the same in words.
    """
    client = _client()
    label = card.label_rule
    rule = f"{label.name} (>= {label.min_reduction_pct:g}% volume reduction)"
    tags = {"candidate": card.candidate, "trained_on": card.trained_on,
            "data_kind": card.data_source.kind, "label_rule": rule,
            "decision_threshold": f"{card.decision_threshold:g}"}
    for name in VERSION_METRICS:
        m = card.metrics.get(name)
        if m is not None and m.estimate is not None:
            interval = "" if m.ci_low is None or m.ci_high is None \
                else f" (95% CI {m.ci_low:.3f} to {m.ci_high:.3f})"
            tags[name] = f"{m.estimate:.3f}{interval}"
    metrics = "; ".join(f"{k} {tags[k]}" for k in VERSION_METRICS if k in tags)
    derived = "; ".join(f"{k}: {v}" for k, v in card.derived.items())
    if derived:  # a model trained on ellipsoid volumes says so (resorb.intake.derive)
        tags["derived"] = derived
    description = (
        f"P(resorption) of a lumbar disc herniation at follow-up MRI from a {card.candidate} "
        f"model ({card.kind}, calibration {card.calibration}), trained on {card.trained_on}; "
        f"label: {rule}; watchful waiting offered from P >= {card.decision_threshold:g}. "
        f"Validation: {metrics or 'no metrics recorded'}. Input: the data dictionary's "
        f"columns (see the MLmodel signature); output: p_resorption."
        + (f" Derived, not measured, in training: {derived}." if derived else ""))
    client.update_model_version(REGISTERED_MODEL, str(version), description=description)
    for key, value in tags.items():
        client.set_model_version_tag(REGISTERED_MODEL, str(version), key, value)
