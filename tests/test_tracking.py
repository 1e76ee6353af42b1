"""Real MLflow (SQLite store in a temporary folder): log, register, promote, load, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resorb.cohort import make_cohort
from resorb.features import model_input
from resorb.jobs import TrainingData, compare_job
from resorb.tracking import DataSource

PLANTED = "PLANTED-ID-7Q"


@pytest.fixture(scope="module")
def store(tmp_path_factory, fast_params):
    """One compare run with --register in a fresh store; the cohort carries a planted id."""
    import mlflow

    from resorb import tracking

    folder = tmp_path_factory.mktemp("store")
    mp = pytest.MonkeyPatch()
    mp.chdir(folder)
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = make_cohort(n=700, seed=3)
    ids = frame["patient_id"].astype(object).to_numpy().copy()
    ids[0] = PLANTED
    frame = frame.assign(patient_id=ids, site="Hospital-" + PLANTED)
    data = TrainingData(frame, DataSource("synthetic", "literature", 3, 700))
    tracking.configure()
    result = compare_job(data, fast_params, register=True)
    yield folder, result, frame, tracking
    mlflow.set_tracking_uri(None)
    mp.undo()


def test_registered_version_is_listed_with_its_training_data(store):
    _, result, _, tracking = store
    assert result.version == "1"
    versions = tracking.list_versions()
    row = versions.iloc[0]
    assert row["version"] == 1
    assert row["trained_on"].startswith("synthetic:literature")
    assert "any_regression" in row["label_rule"]
    assert float(row["threshold"]) == 0.5
    assert 0.5 < row["auroc"] < 1


def test_promote_keeps_a_history(store):
    _, _, _, tracking = store
    first = tracking.promote("1", "champion")
    second = tracking.promote("1", "champion")
    history = tracking.alias_history()
    assert [h["version"] for h in history[-2:]] == ["1", "1"]
    assert second["previous"] == "1" and first["by"]
    assert tracking.list_versions().iloc[0]["aliases"] == "champion"


def test_pyfunc_returns_probabilities_with_a_signature(store):
    import mlflow

    _, _, frame, tracking = store
    tracking.promote("1", "champion")
    model = mlflow.pyfunc.load_model("models:/resorb@champion")
    assert model.metadata.signature is not None
    X = model_input(frame.head(50))
    p = np.asarray(model.predict(X))
    assert p.shape == (50,)
    assert np.all((p >= 0) & (p <= 1)) and len(np.unique(p)) > 10


def test_export_gives_a_loadable_folder(store, tmp_path):
    import mlflow

    _, _, frame, tracking = store
    tracking.promote("1", "champion")
    path = tracking.export("models:/resorb@champion", tmp_path / "reference")
    assert (path / "MLmodel").is_file() and (path / "artifacts" / "model.skops").is_file()
    from resorb.models import predict_resorption
    from resorb.serialization import load_estimator

    est = load_estimator(path / "artifacts" / "model.skops")
    X = model_input(frame.head(20))
    direct = predict_resorption(est, X)
    via_pyfunc = np.asarray(mlflow.pyfunc.load_model(str(path)).predict(X))
    np.testing.assert_allclose(direct, via_pyfunc, rtol=0, atol=1e-12)


def test_identifiers_never_reach_mlflow(store):
    folder, result, _, _ = store
    from mlflow import MlflowClient

    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("resorb").experiment_id])
    assert runs
    for run in runs:
        blob = repr(run.data.params) + repr(run.data.tags) + repr(run.data.metrics)
        assert PLANTED not in blob
    hits = [p for p in Path(folder).rglob("*") if p.is_file()
            and p.suffix not in (".db", ".skops") and PLANTED.encode() in p.read_bytes()]
    assert hits == []
    assert "patient_id" not in result.leaderboard.columns
