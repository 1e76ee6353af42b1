"""MLflow conventions a user expects: datasets, experiment kind, described versions, quiet CLI.

Real MLflow in a fresh SQLite store per module. The dataset a run logs must describe the data
(name, digest, schema, counts, file name) and hold none of it: the store's own tables are
searched for a planted identifier, site, folder name and value.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from resorb.cohort import make_cohort
from resorb.files import write_table
from tests.factories import FAST_PARAMS

pytestmark = pytest.mark.slow

PLANTED_ID = "PLANTED-PATIENT-7731"
PLANTED_SITE = "Hospital-Planted-Suedost"
PLANTED_FOLDER = "Ward-Planted-Folder-19"
PLANTED_VOLUME = 4321.987
RESORB = Path(sys.executable).with_name("resorb")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fast_params):
    """A registered ``resorb train`` run on a real-data file with planted identifiers."""
    import mlflow

    from resorb import tracking
    from resorb.jobs import load_training_data, train_job

    root = tmp_path_factory.mktemp("conventions")
    frame = make_cohort(400, seed=8)
    ids = frame["patient_id"].astype(object).to_numpy().copy()
    ids[0] = PLANTED_ID
    volume = frame["herniation_volume_mm3"].astype(float).to_numpy().copy()
    volume[0] = PLANTED_VOLUME
    frame = frame.assign(patient_id=ids, herniation_volume_mm3=volume,
                         site=frame["site"].astype(object).replace({"site_A": PLANTED_SITE}))
    (root / PLANTED_FOLDER).mkdir()
    data_file = write_table(frame, root / PLANTED_FOLDER / "cohort_2024.csv")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        tracking.configure()
        data = load_training_data(data_file, None, "literature", 0)
        result = train_job(data, fast_params, "logistic", register=True)
        run = mlflow.MlflowClient().get_run(result.run_id)
        experiment = mlflow.get_experiment(run.info.experiment_id)
        version = mlflow.MlflowClient().get_model_version("resorb", result.version)
    mlflow.set_tracking_uri(None)
    return root, result, run, experiment, version


def test_the_experiment_opens_on_runs(trained):
    _, _, _, experiment, _ = trained
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_run_logs_a_dataset_that_describes_the_data(trained):
    _, _, run, _, _ = trained
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.name == "cohort_2024" and dataset.source_type == "resorb"
    assert json.loads(dataset.source) == {"file": "cohort_2024.csv"}
    assert dataset.digest == run.data.params["data_sha256"][:32]
    profile = json.loads(dataset.profile)
    assert profile["num_rows"] == int(run.data.metrics["data_rows"])
    assert profile["num_events"] == int(run.data.metrics["data_events"])
    columns = json.loads(dataset.schema)["mlflow_colspec"]
    names = {c["name"]: c["type"] for c in columns}
    assert names["resorbed"] == "boolean" and names["symptom_duration_days"] == "long"
    assert "patient_id" not in names and "site" not in names
    assert [t.value for t in inputs[0].tags if t.key == "mlflow.data.context"] == ["training"]


def test_no_row_value_reaches_the_store(trained):
    root, _, _, _, _ = trained
    db = sqlite3.connect(root / "mlflow.db")
    try:
        tables = [t for (t,) in db.execute("select name from sqlite_master where type='table'")]
        blob = "\n".join(repr(row) for table in tables
                         for row in db.execute(f'select * from "{table}"'))
    finally:
        db.close()
    assert "cohort_2024.csv" in blob  # the file name is there; its folder and rows are not
    for planted in (PLANTED_ID, PLANTED_SITE, PLANTED_FOLDER, repr(PLANTED_VOLUME)):
        assert planted not in blob


def test_the_registered_version_is_described_by_its_card(trained):
    _, _, run, _, version = trained
    tags = version.tags
    assert tags["candidate"] == "logistic" and tags["trained_on"] == "real data"
    assert tags["label_rule"].startswith("any_regression") or "(>=" in tags["label_rule"]
    assert float(tags["decision_threshold"]) == 0.5
    auroc = run.data.metrics["auroc"]
    assert tags["auroc"].startswith(f"{auroc:.3f} (95% CI ")
    for key in ("calibration_slope", "ici"):
        assert "95% CI" in tags[key]
    assert "logistic" in version.description and "real data" in version.description
    assert f"auroc {tags['auroc']}" in version.description


def _resorb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run([str(RESORB), "--params", str(FAST_PARAMS), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=900)


def test_the_cli_prints_no_mlflow_info_or_progress_bars_unless_verbose(tmp_path):
    write_table(make_cohort(300, seed=4), tmp_path / "candidates.parquet")
    steps = [
        ("train", "--synthetic", "400", "--seed", "3", "--register"),
        ("compare", "--synthetic", "400", "--seed", "3", "--register"),
        ("models", "promote", "latest", "--alias", "champion"),
        ("score", "--input", "candidates.parquet", "--output", "scored.parquet",
         "--model", "models:/resorb@champion"),
        ("report", "--out", "report.html"),
        ("models", "export", "--alias", "champion", "--to", "exported"),
    ]
    for step in steps:
        ran = _resorb(*step, cwd=tmp_path)
        assert ran.returncode == 0, (step, ran.stdout[-2000:], ran.stderr[-2000:])
        assert "INFO mlflow" not in ran.stderr, (step, ran.stderr[-2000:])
        assert "Downloading artifacts" not in ran.stderr, (step, ran.stderr[-2000:])
    # exporting again replaces the folder, as scripts expect, and says so in one line
    again = _resorb("models", "export", "--alias", "champion", "--to", "exported", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [line for line in again.stderr.splitlines() if "replaced" in line] == [
        f"note: replaced the existing folder {Path('exported') / 'reference'}"]
    verbose = _resorb("--verbose", "models", "export", "--alias", "champion", "--to",
                      "verbose", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    assert "DEBUG resorb" in verbose.stderr or "INFO" in verbose.stderr
