"""MLflow: the only module that imports it (it takes seconds to import).

Runs hold parameters, a fingerprint of the data (hash, rows, events, prevalence: never rows
or identifiers), metrics with intervals, figures and the model. Models are logged as MLflow
"models from code": :mod:`resorb.mlflow_model` builds a :class:`ResorbModel` whose
``predict`` returns the probability of resorption from a skops file, loaded with the
allow-list in :mod:`resorb.serialization`. No pickle is written or read.
"""

from __future__ import annotations

import contextlib
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
    with _store_creation_lock(uri), access_errors(uri):
        retrying(_ensure_experiment, uri)
        # the registry store is a second SQLAlchemy store over the same file: create it here too
        retrying(_client().search_registered_models, max_results=1)
    return uri


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
    """Log a fitted pipeline as a pyfunc model (from code) with its input signature and card.

    The model file and its card (with the file's SHA-256, :meth:`ModelCard.with_skops_hash`)
    go into the model's ``artifacts/``. The input example and the signature are built from
    the data dictionary (:func:`resorb.features.dictionary_example`), so no patient row is
    stored.
    """
    from mlflow.models import infer_signature

    from resorb.features import dictionary_example
    from resorb.models import predict_resorption
    from resorb.serialization import save_estimator

    # the example and the signature come from the data dictionary, never from training rows
    example = dictionary_example()
    with tempfile.TemporaryDirectory() as tmp:
        path = save_estimator(model, Path(tmp) / Path(ARTIFACTS.model_skops).name)
        meta = Path(tmp) / Path(ARTIFACTS.model_card).name
        meta.write_text(card.with_skops_hash(path).to_json(), encoding="utf-8")
        preds = predict_resorption(model, example)
        signature = infer_signature(example, preds)
        code = Path(__file__).with_name("mlflow_model.py")
        with warnings.catch_warnings():
            # MLflow compares the example's columns with a range (deprecated in pandas 3)
            warnings.filterwarnings("ignore", message="Operation with range is deprecated")
            return _log_pyfunc(code, path, meta, signature, example)


def _log_pyfunc(code: Path, path: Path, meta: Path, signature: Any, example: pd.DataFrame):
    return mlflow.pyfunc.log_model(
        name=ARTIFACTS.model, python_model=str(code),
        artifacts={"estimator": str(path), "metadata": str(meta)},
        signature=signature, input_example=example,
        pip_requirements=[f"resorb=={__version__}"],
    )


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


def export(model_uri: str, to: str | os.PathLike[str]) -> Path:
    """Download a registered model (MLmodel, skops file, metadata) into a folder."""
    import shutil

    target = Path(to)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            target.parent.mkdir(parents=True, exist_ok=True)  # only once there is a model
            staging = target.with_name(f".{target.name}.partial")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(local, staging)
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
