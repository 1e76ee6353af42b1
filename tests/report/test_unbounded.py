"""An unbounded bootstrap interval is shown as such: ``15.14 (9.02 to unbounded)`` and a note.

MLflow stores no infinite metric, so the limit of an interval that the bootstrap could not
bound (the calibration slope when enough resamples are separated by the predictions,
:func:`resorb.metrics.bootstrap.percentile_limits`) used to vanish from the run and the
report printed the estimate alone. Now the run keeps it in the tag ``infinite_metrics`` and
the report prints it. Real commands in a fresh tracking store: a model trained on a clinic's
file (``resorb train --register``), an external validation of it on 40 patients whose outcome
the model ranks perfectly but for one swapped pair (most resamples separate: the slope's
upper limit is infinite), one on 200 ordinary patients (a bounded interval), then
``resorb report``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb.cli import app
from resorb.cohort import make_cohort
from tests.factories import FAST_PARAMS

RESORB = Path(sys.executable).with_name("resorb")


def _resorb(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([str(RESORB), "--params", str(FAST_PARAMS), *args], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


@contextlib.contextmanager
def _store_in(folder: Path) -> Iterator[None]:
    """Work in the store of ``folder``; afterwards MLflow points where it pointed before
    (tests that follow call the store without configuring it: tests/store.py)."""
    import mlflow

    from resorb import tracking

    registry = mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        tracking.configure()
        try:
            yield
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(registry)


def _separated_but_one_pair(model, n: int = 40, seed: int = 77) -> pd.DataFrame:
    """``n`` patients whose recorded outcome is 'resorbed' for the upper half of the model's
    predictions, but for one swapped pair at the boundary: not separated, nearly."""
    from resorb.features import model_input

    frame = make_cohort(n=n, seed=seed)
    order = np.argsort(model.predict(model_input(frame, columns=model.features)))
    y = np.zeros(n, dtype=bool)
    y[order[n // 2:]] = True
    y[order[n // 2 - 1]], y[order[n // 2]] = True, False
    return frame.assign(resorbed=y, surgery=False).drop(
        columns=["volume_followup_mm3", "resorption_grade"])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store with a registered model, its two evaluations and its report."""
    from resorb import tracking
    from resorb.scoring.model import load_model

    folder = tmp_path_factory.mktemp("unbounded")
    make_cohort(n=300, seed=41).to_csv(folder / "clinic.csv", index=False)  # real: no SHAP
    _resorb(folder, "train", "--data", "clinic.csv", "--register", "--jobs", "1")
    with _store_in(folder):
        model = load_model("models:/resorb/1")
        _separated_but_one_pair(model).to_csv(folder / "separated.csv", index=False)
        make_cohort(n=200, seed=43).to_csv(folder / "ordinary.csv", index=False)
        for name in ("ordinary", "separated"):
            _resorb(folder, "evaluate", "--model", "models:/resorb/1", "--data",
                    f"{name}.csv", "--out", f"{name}-out")
        table = tracking.list_evaluations(model_sha256=model.metadata.skops_sha256)
        tags = {r: tracking.get_run(r).data.tags for r in table["run_id"]}
        listed = CliRunner().invoke(app, ["evaluations", "--model", "models:/resorb/1"])
    _resorb(folder, "report", "--model", "models:/resorb/1", "--out", "report.html")
    html = unescape((folder / "report.html").read_text(encoding="utf-8"))
    return folder, table, tags, html, listed


def _slope(folder: Path, name: str) -> pd.Series:
    """The evaluation's calibration slope row as ``resorb evaluate --out`` wrote it."""
    metrics = pd.read_csv(folder / f"{name}-out" / "metrics.csv").set_index("metric")
    return metrics.loc["calibration_slope"]


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start:html.index("</section>", start)]


@pytest.mark.slow
def test_an_unbounded_limit_is_kept_by_the_run_and_listed(store):
    folder, table, tags, _, listed = store
    separated, ordinary = _slope(folder, "separated"), _slope(folder, "ordinary")
    assert math.isfinite(separated["estimate"]) and math.isfinite(separated["ci_low"])
    assert separated["ci_high"] == math.inf  # what the bootstrap found, in the --out table
    assert all(math.isfinite(ordinary[c]) for c in ("estimate", "ci_low", "ci_high"))
    assert len(table) == 2  # newest first: the separated patients' evaluation
    row, other = table.iloc[0], table.iloc[1]
    assert (row["rows"], row["events"]) == (40, 20)
    assert row["calibration_slope_ci_high"] == math.inf
    assert row["calibration_slope_ci_low"] == pytest.approx(separated["ci_low"])
    assert other["calibration_slope_ci_high"] == pytest.approx(ordinary["ci_high"])
    kept = {json.loads(t.get("infinite_metrics", "{}")).get("calibration_slope_ci_high")
            for t in tags.values()}
    assert kept == {"inf", None}  # the separated run only
    assert listed.exit_code == 0, listed.output  # resorb evaluations
    assert f"{separated['ci_low']:.2f} to unbounded" in " ".join(listed.output.split())


@pytest.mark.slow
def test_the_report_shows_the_unbounded_interval_and_says_why(store):
    folder, _, _, html, _ = store
    separated, ordinary = _slope(folder, "separated"), _slope(folder, "ordinary")
    evaluations = _section(html, "evaluations")
    shown = f"{separated['estimate']:.2f} ({separated['ci_low']:.2f} to unbounded)"
    assert shown in evaluations
    assert (f"{ordinary['estimate']:.2f} ({ordinary['ci_low']:.2f}-{ordinary['ci_high']:.2f})"
            in evaluations or f"{ordinary['ci_low']:.2f} to {ordinary['ci_high']:.2f}"
            in evaluations)
    assert evaluations.count("An interval reaching 'unbounded' has no finite limit") == 1
    # the training run's own intervals are bounded: no note there
    performance = _section(html, "performance")
    assert "unbounded" not in performance and re.search(r"\d\.\d\d \(\d", performance)


def test_an_infinite_limit_survives_the_run_record(tmp_path):
    # the training run's table (validation/metrics.csv) and its metrics, in a real store
    from resorb import report, tracking
    from resorb.report.sections import metric_rows
    from resorb.runs import RunRecord

    metrics = pd.DataFrame({"metric": ["auroc", "calibration_slope"],
                            "estimate": [0.93, 1.02], "ci_low": [0.88, 0.61],
                            "ci_high": [0.97, math.inf]})
    with _store_in(tmp_path):
        with tracking.start_run("unbounded"):
            tracking.write_run(RunRecord(metrics=metrics, validation_method="bootstrap"))
            run_id = tracking.active_run_id()
        run = tracking.get_run(run_id)
        assert "calibration_slope_ci_high" not in run.data.metrics
        assert json.loads(run.data.tags["infinite_metrics"]) == {
            "calibration_slope_ci_high": "inf"}
        record = tracking.read_run(run_id)
    assert "infinite_metrics" not in record.tags
    assert record.metrics["ci_high"].tolist() == [0.97, math.inf]
    html = unescape(report.render_section(report.Section(
        "performance", "Discrimination and calibration", metric_rows(record))))
    assert "1.02 (0.61 to unbounded)" in html and "0.93 (0.88-0.97)" in html
    assert "An interval reaching 'unbounded' has no finite limit" in html
