"""A run record: write_run and read_run over one core, and small wrappers for other modules."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from resorb import __version__, schema
from resorb.card import DataSource
from resorb.config import LabelRule
from resorb.errors import ModelNotFoundError, ResorbError
from resorb.runs import ARTIFACTS, FIGURES, TABLES, TEXTS, Fingerprint, RunRecord
from resorb.tracking.store import _client


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
#: tag: the metrics whose value is infinite (an unbounded interval's limit), which MLflow
#: cannot store as metrics: JSON ``{"calibration_slope_ci_high": "inf"}``
INFINITE_METRICS = "infinite_metrics"


def infinite_metrics(tags: dict[str, str]) -> dict[str, float]:
    """The run metrics :func:`log_batch` kept in the tag :data:`INFINITE_METRICS`, as floats
    (``{}`` when the run has none)."""
    text = tags.get(INFINITE_METRICS)
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in found.items() if v in ("inf", "-inf")}


def write_run(record: RunRecord, extra_files: dict[str, bytes] | None = None) -> None:
    """Log a run record into the active run; :func:`read_run` reads it back.

    Tags and parameters as given (plus ``validation_method`` and ``sample_size_ok``); the
    metric table also as run metrics ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high``
    (finite values; infinite ones, an unbounded interval's limit, in the tag
    :data:`INFINITE_METRICS`; NaN ones are left out); the fingerprint as param
    ``data_sha256`` and metrics ``data_rows``, ``data_events``, ``data_prevalence``; tables,
    texts and figures as the artifacts of :data:`resorb.runs.ARTIFACTS`.

    One :func:`log_batch` call (tags, parameters and metrics together) and one
    ``log_artifacts`` of a folder holding every file: two store transactions per run where
    there were three calls plus the artifacts (docs/training.md, "MLflow logging").

    Parameters
    ----------
    record : RunRecord
        Aggregates only (the caller's tables hold no identifier).
    extra_files : dict of str to bytes, optional
        More artifacts (run-relative path -> bytes, e.g. ``update/closed_test.csv``) logged
        in the same ``log_artifacts`` call; aggregates only.
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
    log_batch(tags=tags, params=params, metrics=metrics)
    files = {**_encode_files(record), **(extra_files or {})}
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
    tags.pop(INFINITE_METRICS, None)  # the metric table (an artifact) holds them as inf
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


# ----------------------------------------------------------- small wrappers for other modules
# Other modules reach MLflow only through these, so the boundary stays in this file.


def set_tags(tags: dict[str, str]) -> None:
    """Tag the active run."""
    mlflow.set_tags(tags)


def log_batch(tags: dict[str, str] | None = None, params: dict[str, Any] | None = None,
              metrics: dict[str, float] | None = None) -> None:
    """Tags, parameters and metrics of the active run in one ``MlflowClient.log_batch``.

    MLflow's client splits a batch over its request limits (100 parameters and tags, 1000
    entities per request) by itself; on a SQLite store each request is one transaction.
    Parameter values are written as ``str(value)``, as ``mlflow.log_params`` does. MLflow
    stores only finite metrics: an infinite one (the limit of an unbounded bootstrap
    interval, e.g. of the calibration slope when resamples separate the outcomes) goes
    into the tag :data:`INFINITE_METRICS` (read back by :func:`infinite_metrics`), and a
    NaN one (undefined) is left out.
    """
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.time import get_current_time_millis

    now = get_current_time_millis()
    metrics = {k: float(v) for k, v in (metrics or {}).items()}
    infinite = {k: "inf" if v > 0 else "-inf" for k, v in metrics.items() if np.isinf(v)}
    tags = dict(tags or {})
    if infinite:
        tags[INFINITE_METRICS] = json.dumps(infinite, sort_keys=True)
    _client().log_batch(
        active_run_id(),
        metrics=[Metric(k, v, now, 0) for k, v in metrics.items() if np.isfinite(v)],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, str(v)) for k, v in tags.items()])


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
