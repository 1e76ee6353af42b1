"""The model report: one self-contained HTML file, TRIPOD+AI filled from the run, no identifiers.

One compare run on a small synthetic cohort with a planted patient id and site name, in a
fresh SQLite store, registered and promoted to champion, and its report written through the
CLI, are built once per session (:func:`build_store`; the browser test uses them too).
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resorb import report, tripod
from resorb.card import DataSource
from resorb.cli import app
from resorb.cohort import make_cohort
from resorb.runs import RunRecord

PLANTED_ID = "PLANTED-PATIENT-4417"
PLANTED_SITE = "Hospital-Planted-Nordwest"
PLANTED_VOLUME = "4321.987"
MAX_BYTES = 5 * 2**20
runner = CliRunner()


@dataclass(frozen=True)
class Store:
    """A tracking store with one registered compare run and the report of its champion."""

    folder: Path
    run_id: str
    report: Path
    output: str


_BUILT: dict[str, Store] = {}


def build_store(tmp_path_factory: pytest.TempPathFactory, fast_params) -> Store:
    """Train, register, promote and report once per session (shared by both report tests)."""
    if "store" in _BUILT:
        return _BUILT["store"]
    import mlflow

    from resorb import tracking
    from resorb.jobs import TrainingData, compare_job
    from resorb.tracking import DataSource

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
        result = compare_job(data, fast_params, register=True,
                             candidates=["logistic", "random_forest"])
        tracking.promote(result.version, "champion")
        out = folder / "report.html"
        ran = runner.invoke(app, ["report", "--out", str(out)])
        assert ran.exit_code == 0, ran.output
    mlflow.set_tracking_uri(None)
    _BUILT["store"] = Store(folder, result.run_id, out, ran.output)
    return _BUILT["store"]


@pytest.fixture(scope="module")
def store(tmp_path_factory, fast_params) -> Store:
    return build_store(tmp_path_factory, fast_params)


@pytest.fixture
def in_store(store, monkeypatch) -> Store:
    """Run the test inside the store's folder (its mlflow.db is the registry)."""
    import mlflow

    monkeypatch.chdir(store.folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield store
    mlflow.set_tracking_uri(None)


class Page(HTMLParser):
    """Headings, images, links and scripts of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self._in_heading = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag in ("h1", "h2", "h3"):
            self._in_heading = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data


def png_of(src: str) -> bytes:
    """The PNG bytes of a data URI, or an AssertionError saying what is wrong."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), f"image source is not an embedded PNG: {src[:40]!r}"
    data = base64.b64decode(src.removeprefix(prefix), validate=True)
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "data URI does not hold a PNG"
    return data


# ----------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("values", "decimals", "expected"), [
    ((0.7612, 0.7501, 0.7703), 2, "0.76 (0.75-0.77)"),
    ((0.0241, 0.0185, 0.0421), 3, "0.024 (0.018-0.042)"),
    ((-0.031, -0.081, 0.024), 2, "-0.03 (-0.08 to 0.02)"),
    ((0.98, float("nan"), float("nan")), 2, "0.98"),
    ((float("nan"), 0.1, 0.2), 2, "n/a"),
])
def test_intervals_read_as_estimate_and_range(values, decimals, expected):
    assert report.format_interval(*values, decimals=decimals) == expected


def test_checklist_has_the_27_published_items_and_their_sub_items():
    numbers = [i.number for i in tripod.ITEMS]
    assert numbers == ["1", "2", "3a", "3b", "3c", "4", "5a", "5b", "6a", "6b", "6c", "7", "8a",
                       "8b", "8c", "9a", "9b", "9c", "10", "11", "12a", "12b", "12c", "12d",
                       "12e", "12f", "12g", "13", "14", "15", "16", "17", "18a", "18b", "18c",
                       "18d", "18e", "18f", "19", "20a", "20b", "20c", "21", "22", "23a",
                       "23b", "24", "25", "26", "27a", "27b", "27c"]
    assert sorted({i.main for i in tripod.ITEMS}) == list(range(1, 28))
    by_number = {i.number: i for i in tripod.ITEMS}
    assert by_number["10"].topic == "Sample size"
    assert by_number["14"].text == ("Describe any approaches that were used to address model "
                                    "fairness and their rationale.")
    assert {i.applies for i in tripod.ITEMS} == {"D", "E", "D;E"}
    assert "BMJ 2024;385:e078378" in tripod.CITATION


FULL = tripod.StudyFacts(
    synthetic=False, trained_on="real data", data_account="900 rows in, 800 used (400 "
    "resorbed); excluded: 100 operated before follow-up (competing event)", rows=800,
    events=400, prevalence=0.5, sites=3, baseline_period="2019-01 to 2023-12",
    label_rule="Resorbed when volume fell by 10%.", horizon="Horizon: followup_days.",
    predictors="age (years)", sample_size="Riley minimum sample size: 700 rows.",
    sample_size_ok=True, missing="bmi 10%.", validation_method="leave-one-site-out",
    model_type="Candidate 'logistic'.", encodings="Cubic splines.", comparison="3 compared.",
    metrics="AUROC 0.76 (0.75-0.77)", subgroups=("sex", "site"), decision_threshold=0.5,
    model_file="model.skops, sha256 abc", code_version="resorb 0.1.0", data_sha256="f00")


@pytest.mark.parametrize(("number", "status", "fragment"), [
    ("8a", tripod.PARTLY, "Resorbed when volume fell by 10%."),
    ("10", tripod.FILLED, "Riley minimum sample size: 700 rows."),
    ("11", tripod.FILLED, "bmi 10%."),
    ("12c", tripod.FILLED, "Candidate 'logistic'."),
    ("12e", tripod.FILLED, "calibration curve"),
    ("15", tripod.FILLED, "at least 0.5"),
    ("23a", tripod.FILLED, "AUROC 0.76 (0.75-0.77)"),
    ("23b", tripod.FILLED, "Per-site"),
    ("17", tripod.AUTHOR, "needs author input"),
    ("18a", tripod.AUTHOR, "needs author input"),
    ("19", tripod.AUTHOR, "needs author input"),
    ("25", tripod.AUTHOR, "needs author input"),
])
def test_checklist_fills_what_the_run_knows(number, status, fragment):
    entry = {e.item.number: e for e in tripod.fill_checklist(FULL)}[number]
    assert entry.status == status
    assert fragment in entry.answer


def test_checklist_says_needs_author_input_when_the_run_knows_nothing():
    bare = tripod.StudyFacts(synthetic=False, trained_on="real data")
    entries = tripod.fill_checklist(bare)
    assert len(entries) == len(tripod.ITEMS)
    unknown = {e.item.number for e in entries if e.status == tripod.AUTHOR}
    assert {"5b", "6a", "12d", "14", "20b", "21", "23a", "23b"} <= unknown
    for e in entries:
        assert e.status == tripod.FILLED or tripod.AUTHOR in e.answer.lower(), e


# --------------------------------------------------------------------- the written report


def test_cli_writes_a_self_contained_report_under_5_mb(store):
    assert "wrote" in store.output and "logged to run" in store.output
    size = store.report.stat().st_size
    assert 10_000 < size < MAX_BYTES, f"report is {size:,} bytes"
    text = store.report.read_text(encoding="utf-8")
    page = Page(text)
    assert "http://" not in text and "https://" not in text, "the report links outside"
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    assert all(href.startswith("#") for href in page.links)
    # 3 validation curves + SHAP importance and beeswarm, each a valid embedded PNG
    assert len(page.images) == 5
    for img in page.images:
        assert img.get("alt")
        assert len(png_of(img["src"])) > 1000


def test_report_reads_like_a_model_report(store):
    text = store.report.read_text(encoding="utf-8")
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


def test_no_identifier_in_the_report_or_any_artifact(store):
    text = store.report.read_text(encoding="utf-8")
    for planted in (PLANTED_ID, PLANTED_SITE, PLANTED_VOLUME):
        assert planted not in text, f"{planted} leaked into the report"
    files = [p for p in (store.folder / "mlartifacts").rglob("*") if p.is_file()]
    assert any(p.as_posix().endswith(report.REPORT_ARTIFACT) for p in files)
    files.append(store.folder / "mlflow.db")
    for path in files:
        data = _strings_in(path)
        for planted in (PLANTED_ID, PLANTED_SITE):
            assert planted.encode() not in data, f"{planted} leaked into {path}"


def test_real_data_model_is_explained_only_from_a_given_file(in_store, tmp_path):
    from resorb import tracking
    from resorb.config import load_params
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
    text = report.render_report(record, facts, expl, load_params())
    assert "Not for clinical use." not in text and "Internal validation only." in text
    assert PLANTED_ID not in text and PLANTED_SITE not in text
    assert len(Page(text).images) == 5


def test_small_subgroups_are_suppressed(store):
    record = RunRecord(
        run_id="r", run_name="n",
        subgroups=_subgroups([("level", "L1-L2", 4, 3), ("sex", "female", 300, 150)]))
    html = report._subgroup_section(record)
    assert "&lt;10" in html and "suppressed" in html and "300" in html
    assert "L1-L2" in html and ">3<" not in html


def _subgroups(rows):
    import pandas as pd

    return pd.DataFrame([{"variable": v, "subgroup": s, "rows": n, "events": e,
                          "observed": e / n, "predicted": 0.5, "auroc": np.nan,
                          "calibration_slope": np.nan, "o_e_ratio": e / n / 0.5}
                         for v, s, n, e in rows])


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "report.pdf"], "name the output file *.html"),
    (["--model", "models:/resorb@champion", "--run", "abc"], "give --model or --run, not both"),
    (["--run", "0" * 32], "no run '" + "0" * 32 + "'"),
    (["--model", "models:/resorb/99"], "cannot export models:/resorb/99"),
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
