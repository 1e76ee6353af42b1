"""The written report: self-contained, reads like a model report, fingerprints, no identifiers.

Uses the session's ``tracking_store`` (``tests/report/store.py``): one compare run on a small
synthetic cohort with a planted patient id and site name, registered, promoted to champion and
reported through the CLI.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resorb import report
from resorb.card import DataSource
from resorb.cli import app
from resorb.cohort import make_cohort
from tests.report.pages import Page, png_of
from tests.store import PLANTED_ID, PLANTED_SITE, PLANTED_VOLUME

MAX_BYTES = 5 * 2**20
runner = CliRunner()


# --------------------------------------------------------------------- the written report


def test_cli_writes_a_self_contained_report_under_5_mb(tracking_store):
    assert "wrote" in tracking_store.output and "logged to run" in tracking_store.output
    size = tracking_store.report.stat().st_size
    assert 10_000 < size < MAX_BYTES, f"report is {size:,} bytes"
    text = tracking_store.report.read_text(encoding="utf-8")
    page = Page(text)
    assert "http://" not in text and "https://" not in text, "the report links outside"
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert all(href.startswith("#") for href in page.links)
    # 3 validation curves + SHAP importance, beeswarm and one example patient's waterfall,
    # each a valid embedded PNG
    assert len(page.images) == 6
    for img in page.images:
        assert img.get("alt")
        assert len(png_of(img["src"])) > 1000


def test_report_reads_like_a_model_report(tracking_store):
    text = tracking_store.report.read_text(encoding="utf-8")
    page = Page(text)
    for heading in ("At a glance", "Contents", "Intended use", "Data", "Outcome and label rule",
                    "Sample size", "Discrimination and calibration", "Subgroups",
                    "What drives the predictions (SHAP)", "Model comparison",
                    "TRIPOD+AI checklist", "Versions and fingerprints"):
        assert heading in page.headings, heading
    assert "Not for clinical use." in text and "trained on synthetic data" in text
    assert "cauda equina" in text.lower() and "progressive or profound motor deficit" in text
    assert "Riley minimum sample size" in text
    assert re.search(r"AUROC \(C-statistic\) 0\.\d\d \(0\.\d\d-0\.\d\d\)", text)
    assert re.search(r"Calibration slope -?\d\.\d\d \(", text)
    assert "random_forest" in text and "logistic" in text  # the leaderboard
    assert "Zou 2023" in text  # a source of the literature preset
    for number in ("1", "10", "12c", "18f", "27c"):
        assert f"<b>{number}</b>" in text
    assert "needs author input" in text and "e078378" in text
    assert "scikit-learn" in text and "mlflow" in text


def test_report_fingerprints_match_the_store(in_store):
    from resorb import tracking
    from resorb.scoring.model import load_model

    text = in_store.report.read_text(encoding="utf-8")
    loaded = load_model("models:/resorb@champion")
    digest = hashlib.sha256((loaded.folder / "artifacts" / "model.skops").read_bytes())
    assert digest.hexdigest() in text
    tags = tracking.MlflowClient().get_run(in_store.run_id).data.tags
    assert tags["data_sha256"] in text and in_store.run_id in text


def test_report_is_logged_to_the_model_run(in_store, tmp_path):
    from resorb import tracking

    local = tracking.mlflow.artifacts.download_artifacts(
        run_id=in_store.run_id, artifact_path=report.REPORT_ARTIFACT, dst_path=str(tmp_path))
    assert Path(local).read_bytes() == in_store.report.read_bytes()


def _strings_in(path: Path) -> bytes:
    data = path.read_bytes()
    if zipfile.is_zipfile(path):  # skops files are zip archives: search their members too
        with zipfile.ZipFile(path) as archive:
            data += b"".join(archive.read(name) for name in archive.namelist())
    return data


def test_no_identifier_in_the_report_or_any_artifact(tracking_store):
    text = tracking_store.report.read_text(encoding="utf-8")
    for planted in (PLANTED_ID, PLANTED_SITE, PLANTED_VOLUME):
        assert planted not in text, f"{planted} leaked into the report"
    files = [p for p in (tracking_store.folder / "mlartifacts").rglob("*") if p.is_file()]
    assert any(p.as_posix().endswith(report.REPORT_ARTIFACT) for p in files)
    files.append(tracking_store.folder / "mlflow.db")
    for path in files:
        data = _strings_in(path)
        for planted in (PLANTED_ID, PLANTED_SITE):
            assert planted.encode() not in data, f"{planted} leaked into {path}"


def test_real_data_model_is_explained_only_from_a_given_file(in_store, tmp_path):
    from resorb import tracking
    from resorb.config import Params
    from resorb.scoring.model import load_model

    loaded = load_model("models:/resorb@champion")
    record = tracking.read_run(in_store.run_id)
    real = loaded.metadata.model_copy(update={"data_source": DataSource("real")})
    skipped = report.explain_for_report(loaded.estimator, loaded.features, real.data_source)
    assert skipped.importance_png is None and "--data FILE" in skipped.note
    cohort = make_cohort(n=150, seed=9)
    ids = cohort["patient_id"].astype(object).to_numpy().copy()
    ids[:] = [f"{PLANTED_ID}-{i}" for i in range(len(ids))]
    path = tmp_path / "clinic.csv"
    cohort.assign(patient_id=ids, site=PLANTED_SITE).to_csv(path, index=False)
    expl = report.explain_for_report(loaded.estimator, loaded.features, real.data_source,
                                     data=path, rows=100)
    assert expl.importance_png is not None and expl.beeswarm_png is not None
    assert expl.rows.startswith("100 rows of clinic.csv")
    facts = report.ModelFacts(name="resorb", version="1", source="models:/resorb@champion",
                              card=real, skops_bytes=1)
    text = report.render_report(record, facts, expl, Params.default())
    assert "Not for clinical use." not in text and "Internal validation only." in text
    assert PLANTED_ID not in text and PLANTED_SITE not in text
    assert len(Page(text).images) == 6
    assert expl.waterfall_png is not None and "nearest the median" in expl.waterfall_caption


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "report.pdf"], "name the output file *.html"),
    (["--model", "models:/resorb@champion", "--run", "abc"], "give --model or --run, not both"),
    (["--run", "0" * 32], "no run '" + "0" * 32 + "'"),
    (["--model", "models:/resorb/99"], "cannot fetch models:/resorb/99"),
])
def test_cli_report_errors_are_one_line(in_store, args, message):
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_report_on_a_candidate_run_points_at_its_compare_run(in_store):
    from resorb import tracking

    client = tracking.MlflowClient()
    parent = client.get_run(in_store.run_id)
    child = client.search_runs([parent.info.experiment_id],
                               f"tags.mlflow.parentRunId = '{in_store.run_id}'")[0]
    result = runner.invoke(app, ["report", "--run", child.info.run_id])
    assert result.exit_code == 2, result.output
    assert f"--run {in_store.run_id}" in result.output


def test_cli_report_without_a_registry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 2
    assert "no model registry here" in result.output
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "report.html").exists()
