"""Models: logged as resorb pyfunc folders, registered, described, promoted, exported."""

from __future__ import annotations

import getpass
import json
import os
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from resorb import __version__
from resorb.card import ModelCard
from resorb.errors import ModelNotFoundError
from resorb.runs import ARTIFACTS
from resorb.tracking.store import _client, retrying

REGISTERED_MODEL = "resorb"
HISTORY_TAG = "alias_history"

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


def register(model_uri: str, tags: dict[str, str]) -> str:
    """Register a logged model as a new version of ``resorb``; returns the version."""
    mv = mlflow.register_model(model_uri, REGISTERED_MODEL, tags=tags)
    return str(mv.version)


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


def registered_version_of_run(run_id: str) -> str:
    """The newest registered version of ``resorb`` logged by the run, or ''."""
    versions = _client().search_model_versions(
        f"name = '{REGISTERED_MODEL}' and run_id = '{run_id}'")
    return str(max(int(v.version) for v in versions)) if versions else ""


def spark_udf(spark: Any, model_uri: str, result_type: str = "double", **kwargs: Any) -> Any:
    """The model as a Spark UDF (``mlflow.pyfunc.spark_udf``)."""
    return mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type, **kwargs)


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


#: model card metrics written on a registered version, with their intervals
VERSION_METRICS = ("auroc", "calibration_slope", "calibration_intercept", "ici", "brier")


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
