"""Where runs go: the store's creation (under a lock), its experiment, retries and refusals."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from resorb.config import artifact_root, tracking_uri
from resorb.config.database import masked_uri, unreachable_database
from resorb.errors import ConfigError, TrackingAccessError

EXPERIMENT = "resorb"


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
    ConfigError
        A tracking database (``postgresql://``, ``mysql://``, ``mssql://``) refuses the
        connection or does not answer within seconds
        (:func:`resorb.config.database.unreachable_database`): MLflow would retry it for
        minutes, then raise.
    """
    uri = tracking_uri(configured_uri)
    if (why := unreachable_database(uri)) is not None:
        raise ConfigError(f"the tracking database {masked_uri(uri)} cannot be reached "
                          f"({why}); start it, or fix MLFLOW_TRACKING_URI (params.yaml "
                          f"tracking.uri)")
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
    """Turn the server's 401/403 into :class:`TrackingAccessError`, and Databricks
    credentials MLflow cannot read into :class:`ConfigError` (exit 2, no traceback)."""
    import logging

    # MLflow warns of the failed SDK client before raising: the error below is the one line
    quiet = logging.getLogger("mlflow.utils.databricks_utils")
    level = quiet.level
    if uri.startswith("databricks"):
        quiet.setLevel(logging.ERROR)
    try:
        yield
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        text = str(exc)
        if "Databricks credential configuration failed" in text:
            # credentials configured but unusable (a profile section without a host):
            # resorb.config refuses only their absence, without connecting
            raise ConfigError(f"the tracking store {masked_uri(uri)} is a Databricks "
                              f"workspace whose credentials MLflow could not read; check "
                              f"DATABRICKS_HOST/DATABRICKS_TOKEN or ~/.databrickscfg "
                              f"(databricks auth login), or fix MLFLOW_TRACKING_URI "
                              f"(params.yaml tracking.uri)") from None
        if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or any(
                s in text for s in ("error code 401", "error code 403")):
            raise TrackingAccessError(refused_message(uri, text)) from None
        raise
    finally:
        quiet.setLevel(level)


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


def _client() -> MlflowClient:
    return MlflowClient()


#: experiment tag the MLflow 3 UI reads to open an experiment on its runs (machine learning)
#: rather than on GenAI traces
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


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
