"""MLflow: the only package that imports it (it takes seconds to import).

Runs hold parameters, a fingerprint of the data (hash, rows, events, prevalence: never rows
or identifiers), metrics with intervals, figures and the model. Models are logged in the
pyfunc flavor with :mod:`resorb.mlflow_model` as ``loader_module``: a folder of data (a skops
file, its card, ``MLmodel``) that MLflow loads through the installed resorb package, with the
allow-list in :mod:`resorb.serialization`. No pickle and no code is written or read.

The package: :mod:`~resorb.tracking.store` (the store's creation under a lock, the
experiment, retries, refused credentials), :mod:`~resorb.tracking.runs` (a run record:
:func:`write_run` and :func:`read_run`, and small wrappers for other modules),
:mod:`~resorb.tracking.registry` (models logged, registered, described, promoted,
exported), :mod:`~resorb.tracking.datasets` (datasets that describe the data and hold none
of it), :mod:`~resorb.tracking.evaluations` (external validation runs). Everything is
re-exported here: other modules write ``from resorb import tracking`` as before. Nothing
outside :mod:`resorb.jobs`, :mod:`resorb.cli` commands and the like imports it at start-up.
"""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient

from resorb.tracking.datasets import data_description, log_dataset
from resorb.tracking.evaluations import EVALUATION_METRICS, list_evaluations, log_evaluation
from resorb.tracking.registry import (
    HISTORY_TAG,
    REGISTERED_MODEL,
    VERSION_METRICS,
    alias_history,
    describe_version,
    export,
    list_versions,
    load_pyfunc,
    log_model,
    promote,
    register,
    registered_version_of_run,
    resolve_model_uri,
    save_model_folder,
    spark_udf,
)
from resorb.tracking.runs import (
    active_run_id,
    child_runs,
    download_run_artifacts,
    fingerprint,
    get_run,
    git_commit,
    log_artifacts,
    log_batch,
    log_file_to_run,
    log_metrics,
    log_table,
    read_run,
    run_tags,
    set_tags,
    start_run,
    write_run,
)
from resorb.tracking.store import (
    EXPERIMENT,
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    _client,
    access_errors,
    configure,
    discard_new_store,
    mark_training_experiment,
    refused_message,
    retrying,
)

__all__ = [
    "EVALUATION_METRICS", "EXPERIMENT", "EXPERIMENT_KIND", "EXPERIMENT_KIND_TAG",
    "HISTORY_TAG", "REGISTERED_MODEL", "VERSION_METRICS", "MlflowClient", "_client",
    "access_errors", "active_run_id", "alias_history", "child_runs", "configure",
    "data_description", "describe_version", "discard_new_store", "download_run_artifacts",
    "export", "fingerprint", "get_run", "git_commit", "list_evaluations", "list_versions",
    "load_pyfunc", "log_artifacts", "log_batch", "log_dataset", "log_evaluation", "log_file_to_run",
    "log_metrics", "log_model", "log_table", "mark_training_experiment", "mlflow", "promote",
    "read_run", "refused_message", "register", "registered_version_of_run",
    "resolve_model_uri", "retrying", "run_tags", "save_model_folder", "set_tags", "spark_udf",
    "start_run", "write_run",
]
