"""MLflow: the only module that imports it (it takes seconds to import).

Runs hold parameters, a fingerprint of the data (hash, rows, events, prevalence: never rows
or identifiers), metrics with intervals, figures and the model. Models are logged as MLflow
"models from code": :mod:`resorb.mlflow_model` builds a :class:`ResorbModel` whose
``predict`` returns the probability of resorption from a skops file, loaded with the
allow-list in :mod:`resorb.serialization`. No pickle is written or read.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from resorb import __version__, schema
from resorb.config import artifact_root, tracking_uri
from resorb.errors import ModelNotFoundError, ResorbError

EXPERIMENT = "resorb"
REGISTERED_MODEL = "resorb"
HISTORY_TAG = "alias_history"


@dataclass(frozen=True)
class DataSource:
    """What a model was trained on, in words that may be logged (no identifiers)."""

    kind: str  # "synthetic" or "real"
    preset: str = ""
    seed: int | None = None
    n_requested: int | None = None

    def describe(self) -> str:
        """e.g. 'synthetic:literature (n=20000, seed 2026)' or 'real data'."""
        if self.kind == "synthetic":
            return f"synthetic:{self.preset} (n={self.n_requested}, seed {self.seed})"
        return "real data"


def configure(configured_uri: str | None = None) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns the URI."""
    uri = tracking_uri(configured_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_root(uri))
    mlflow.set_experiment(EXPERIMENT)
    return uri


def fingerprint(frame: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """Hash, rows, events and prevalence of the training data; identifiers are left out."""
    cols = [c for c in frame.columns if c not in schema.IDENTIFIERS]
    hashed = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes() + np.asarray(y, np.int8).tobytes()).hexdigest()
    return {"data_sha256": digest, "data_rows": len(y), "data_events": int(np.sum(y)),
            "data_prevalence": round(float(np.mean(y)), 4)}


def git_commit() -> str:
    """The project's git commit, or 'unknown' outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def log_evaluation(evaluation: Any, prefix: str = "") -> None:
    """Log every metric and its interval, and the curves as CSV artifacts."""
    metrics: dict[str, float] = {}
    for m in evaluation.metrics.itertuples(index=False):
        metrics[f"{prefix}{m.metric}"] = float(m.estimate)
        metrics[f"{prefix}{m.metric}_ci_low"] = float(m.ci_low)
        metrics[f"{prefix}{m.metric}_ci_high"] = float(m.ci_high)
    mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_text(evaluation.metrics.to_csv(index=False), "validation/metrics.csv")
    mlflow.log_text(evaluation.calibration.to_csv(index=False), "validation/calibration.csv")
    mlflow.log_text(evaluation.decision.to_csv(index=False), "validation/decision_curve.csv")
    mlflow.set_tag("validation_method", evaluation.method)


def log_figures(evaluations: dict[str, Any]) -> None:
    """Calibration, ROC and decision curves as PNG artifacts."""
    from resorb import figures

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        figures.plot_calibration({k: e.calibration for k, e in evaluations.items()},
                                 d / "calibration.png")
        figures.plot_roc({k: e.roc for k, e in evaluations.items()},
                         {k: e.metric("auroc") for k, e in evaluations.items()}, d / "roc.png")
        figures.plot_decision_curve({k: e.decision for k, e in evaluations.items()},
                                    d / "decision_curve.png")
        mlflow.log_artifacts(str(d), "figures")


def log_model(model: Any, metadata: dict[str, Any]) -> Any:
    """Log a fitted pipeline as a pyfunc model (from code) with its input signature.

    The input example and the signature are built from the data dictionary
    (:func:`resorb.features.dictionary_example`), so no patient row is stored.
    """
    from mlflow.models import infer_signature

    from resorb.features import dictionary_example
    from resorb.models import predict_resorption
    from resorb.serialization import save_estimator

    # the example and the signature come from the data dictionary, never from training rows
    example = dictionary_example()
    with tempfile.TemporaryDirectory() as tmp:
        path = save_estimator(model, Path(tmp) / "model.skops")
        meta = Path(tmp) / "resorb.json"
        meta.write_text(json.dumps(metadata, indent=2, default=str))
        preds = predict_resorption(model, example)
        signature = infer_signature(example, preds)
        code = Path(__file__).with_name("mlflow_model.py")
        with warnings.catch_warnings():
            # MLflow compares the example's columns with a range (deprecated in pandas 3)
            warnings.filterwarnings("ignore", message="Operation with range is deprecated")
            return _log_pyfunc(code, path, meta, signature, example)


def _log_pyfunc(code: Path, path: Path, meta: Path, signature: Any, example: pd.DataFrame):
    return mlflow.pyfunc.log_model(
        name="model", python_model=str(code),
        artifacts={"estimator": str(path), "metadata": str(meta)},
        signature=signature, input_example=example,
        pip_requirements=[f"resorb=={__version__}"],
    )


def run_tags(source: DataSource, fp: dict[str, Any], params: Any) -> dict[str, str]:
    """Tags every resorb run carries."""
    return {"resorb_version": __version__, "git_commit": git_commit(),
            "trained_on": source.describe(), "data_kind": source.kind,
            "label_rule": f"{params.label.name} (>= {params.label.min_reduction_pct:g}% "
                          f"volume reduction)",
            "data_sha256": fp["data_sha256"]}


def start_run(name: str, nested: bool = False):
    """Start an MLflow run (context manager)."""
    return mlflow.start_run(run_name=name, nested=nested)


def log_params(params: dict[str, Any]) -> None:
    """Log a nested dict of parameters, flattened with dots."""
    flat = {k: (json.dumps(v) if isinstance(v, list | tuple) else v)
            for k, v in _flatten("", params).items()}
    mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})


def log_fingerprint(fp: dict[str, Any]) -> None:
    """Log the data fingerprint as params and metrics."""
    mlflow.log_params({"data_sha256": fp["data_sha256"]})
    mlflow.log_metrics({k: float(v) for k, v in fp.items() if k != "data_sha256"})


def log_table(frame: pd.DataFrame, path: str) -> None:
    """Log a DataFrame as a CSV artifact."""
    mlflow.log_text(frame.to_csv(index=False), path)


def log_text(text: str, path: str) -> None:
    """Log a text artifact."""
    mlflow.log_text(text, path)


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
    history = alias_history()
    history.append(entry)
    client.set_registered_model_tag(REGISTERED_MODEL, HISTORY_TAG, json.dumps(history))
    return entry


def alias_history() -> list[dict[str, str]]:
    """Every alias move recorded by :func:`promote`, oldest first."""
    try:
        model = _client().get_registered_model(REGISTERED_MODEL)
    except MlflowException:
        return []
    raw = (model.tags or {}).get(HISTORY_TAG)
    return json.loads(raw) if raw else []


def resolve_model_uri(alias: str | None = None, version: str | None = None) -> str:
    """``models:/resorb@alias`` or ``models:/resorb/version``."""
    return (f"models:/{REGISTERED_MODEL}@{alias}" if alias
            else f"models:/{REGISTERED_MODEL}/{version}")


def export(model_uri: str, to: str | os.PathLike[str]) -> Path:
    """Download a registered model (MLmodel, skops file, metadata) into a folder."""
    import shutil

    target = Path(to)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            staging = target.with_name(f".{target.name}.partial")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(local, staging)
            staging.chmod(0o755)  # the download folder is private (0700); an export is not
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
    except MlflowException as exc:
        raise ModelNotFoundError(f"cannot export {model_uri}: {str(exc).splitlines()[0]}") from None
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
