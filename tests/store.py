"""The test suite's tracking store: one compare run with planted identifiers, reported once.

One compare run on a small synthetic cohort with a planted patient id, site name and volume,
in a fresh SQLite store, registered and promoted to champion, and its report written through
the CLI, are built once per session (the ``tracking_store`` fixture of ``tests/conftest.py``)
and shared by the tracking, report and browser tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb.cli import app
from resorb.cohort import make_cohort

PLANTED_ID = "PLANTED-PATIENT-4417"
PLANTED_SITE = "Hospital-Planted-Nordwest"
PLANTED_VOLUME = "4321.987"
runner = CliRunner()


@dataclass(frozen=True)
class Store:
    """A tracking store with one registered compare run and the report of its champion."""

    folder: Path
    run_id: str
    report: Path
    output: str
    result: Any  # resorb.jobs.JobResult of the compare run
    frame: pd.DataFrame  # the cohort it was trained on, planted identifiers included


def build_store(tmp_path_factory: pytest.TempPathFactory, fast_params) -> Store:
    """Train, register, promote and report (the ``tracking_store`` fixture calls it once)."""
    import mlflow

    from resorb import tracking
    from resorb.card import DataSource
    from resorb.jobs import TrainingData, compare_job

    folder = tmp_path_factory.mktemp("report-store")
    frame = make_cohort(n=600, seed=5)
    ids = frame["patient_id"].astype(object).to_numpy().copy()
    ids[0] = PLANTED_ID
    volume = frame["herniation_volume_mm3"].astype(float).to_numpy().copy()
    volume[0] = float(PLANTED_VOLUME)
    site = frame["site"].astype(object).replace({"site_A": PLANTED_SITE})
    frame = frame.assign(patient_id=ids, herniation_volume_mm3=volume, site=site)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        data = TrainingData(frame, DataSource("synthetic", "literature", 5, 600))
        tracking.configure()
        result = compare_job(data, fast_params, register=True,
                             candidates=["logistic", "random_forest"])
        tracking.promote(result.version, "champion")
        out = folder / "report.html"
        ran = runner.invoke(app, ["report", "--out", str(out)])
        assert ran.exit_code == 0, ran.output
    mlflow.set_tracking_uri(None)
    return Store(folder, result.run_id, out, ran.output, result, frame)
