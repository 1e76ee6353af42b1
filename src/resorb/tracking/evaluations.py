"""External validation runs: logged and listed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import mlflow
import numpy as np
import pandas as pd

from resorb import __version__
from resorb.card import DataSource
from resorb.runs import RunRecord
from resorb.tracking.datasets import log_dataset
from resorb.tracking.runs import (
    _DATA_SHA256,
    _FP_METRICS,
    _SAMPLE_SIZE_OK,
    active_run_id,
    git_commit,
    infinite_metrics,
    start_run,
    write_run,
)
from resorb.tracking.store import EXPERIMENT, _client

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
        the estimate with ``_ci_low`` and ``_ci_high`` (``inf``/``-inf`` for an unbounded
        limit, NaN when not recorded). Empty when none (or no store).
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
        tags = run.data.tags
        numbers = {**run.data.metrics, **infinite_metrics(tags)}  # unbounded limits: +-inf
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
