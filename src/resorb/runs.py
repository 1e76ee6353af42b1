"""What a resorb run holds (:class:`RunRecord`) and where each part is kept (:data:`ARTIFACTS`).

Pure data, no MLflow: :func:`resorb.tracking.write_run` logs a record to the active MLflow
run and :func:`resorb.tracking.read_run` reads it back, both through the one table of
artifact paths below, so the writer and the reader cannot drift apart. A record holds
aggregates only (tables of metrics and subgroups, counts, figures of curves); no identifier
and no patient row is ever part of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class ArtifactPaths:
    """Artifact paths of a run (relative to its artifact root) and of a model folder."""

    metrics: str = "validation/metrics.csv"
    calibration: str = "validation/calibration.csv"
    decision_curve: str = "validation/decision_curve.csv"
    subgroups: str = "validation/subgroups.csv"
    finding_subgroups: str = "validation/finding_subgroups.csv"
    sample_size: str = "validation/sample_size.txt"
    data_account: str = "validation/data_account.txt"
    missingness: str = "data/missingness.csv"
    summary: str = "data/summary.csv"
    leaderboard: str = "leaderboard.csv"
    paired_differences: str = "paired_differences.csv"
    figures: str = "figures"
    model: str = "model"
    report: str = "report/report.html"
    explanations: str = "explanations"
    importance: str = "explanations/importance.csv"
    # inside a model folder (``resorb models export``, or the run's ``model`` artifact)
    model_skops: str = "artifacts/model.skops"
    model_card: str = "artifacts/resorb.json"
    mlmodel: str = "MLmodel"
    registered_meta: str = "registered_model_meta"

    def figure(self, name: str) -> str:
        """Path of a validation figure, e.g. ``figures/roc.png``."""
        return f"{self.figures}/{name}.png"


ARTIFACTS = ArtifactPaths()
#: the validation figures of every run, in the order the report shows them
FIGURES = ("calibration", "roc", "decision_curve")
#: RunRecord field -> CSV artifact
TABLES = {"metrics": ARTIFACTS.metrics, "calibration": ARTIFACTS.calibration,
          "decision_curve": ARTIFACTS.decision_curve, "subgroups": ARTIFACTS.subgroups,
          "finding_subgroups": ARTIFACTS.finding_subgroups,
          "missingness": ARTIFACTS.missingness, "summary": ARTIFACTS.summary,
          "leaderboard": ARTIFACTS.leaderboard,
          "paired_differences": ARTIFACTS.paired_differences}
#: RunRecord field -> text artifact
TEXTS = {"data_account": ARTIFACTS.data_account, "sample_size": ARTIFACTS.sample_size}


@dataclass(frozen=True)
class Fingerprint:
    """The training data in four numbers that may be logged: hash, rows, events, prevalence."""

    data_sha256: str
    rows: int
    events: int
    prevalence: float


@dataclass(frozen=True)
class RunRecord:
    """One resorb run: tags, parameters, aggregate tables, texts and figures.

    Attributes
    ----------
    tags, params : mapping of str to str
        As logged (``params`` flattened with dots, see :func:`flatten_params`); read back
        with MLflow's own tags beside them.
    metrics : DataFrame, optional
        One row per metric: ``metric, estimate, ci_low, ci_high`` (optimism-corrected runs
        also ``apparent, optimism``); also logged as run metrics ``<metric>``,
        ``<metric>_ci_low`` and ``<metric>_ci_high``.
    calibration, decision_curve, subgroups, missingness, summary, leaderboard,
    paired_differences : DataFrame, optional
        The CSV artifacts of :data:`TABLES`; ``None`` when the run has none.
    data_account, sample_size : str
        How many rows were used and left out, and the Riley sample-size check in words.
    sample_size_ok : bool, optional
        Whether the data meet the Riley minimum (tag ``sample_size_ok``); ``None``: unknown.
    validation_method : str
        e.g. ``"5-fold stratified cross-validation x 1"`` (tag ``validation_method``).
    fingerprint : Fingerprint, optional
        Of the training data (param ``data_sha256``, metrics ``data_rows``, ...).
    figures : mapping of str to bytes
        PNG bytes of :data:`FIGURES`.
    run_id, run_name : str
        Set by MLflow; empty in a record not yet written.
    started : datetime, optional
        Start of the run (UTC).
    candidate_params : mapping of str to str
        Read only: the ``spec.*`` parameters of the run's candidate (a compare run's
        champion child).
    """

    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: pd.DataFrame | None = None
    calibration: pd.DataFrame | None = None
    decision_curve: pd.DataFrame | None = None
    subgroups: pd.DataFrame | None = None
    #: calibration by herniation type x rim and migration grade (resorb.metrics.subgroups)
    finding_subgroups: pd.DataFrame | None = None
    missingness: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    leaderboard: pd.DataFrame | None = None
    paired_differences: pd.DataFrame | None = None
    data_account: str = ""
    sample_size: str = ""
    sample_size_ok: bool | None = None
    validation_method: str = ""
    fingerprint: Fingerprint | None = None
    figures: Mapping[str, bytes] = field(default_factory=dict)
    run_id: str = ""
    run_name: str = ""
    started: datetime | None = None
    candidate_params: Mapping[str, str] = field(default_factory=dict)


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as MLflow stores them: dotted keys, lists as JSON, at most 500 chars.

    Parameters
    ----------
    params : mapping
        e.g. ``{"spec": {"params": {"C": 1.0}}}``.
    prefix : str
        Prepended to every key (with a dot).

    Returns
    -------
    dict of str to str
        e.g. ``{"spec.params.C": "1.0"}``.
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten_params(value, name))
        else:
            text = json.dumps(value) if isinstance(value, list | tuple) else str(value)
            out[name] = text[:500]
    return out
