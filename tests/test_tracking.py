"""Real MLflow (SQLite store in a temporary folder): log, register, promote, load, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resorb.features import model_input
from tests.store import PLANTED_ID, PLANTED_SITE


@pytest.fixture
def store(in_store):
    """The suite's shared compare run (tests/store.py: 600 rows, seed 5, planted identifiers)."""
    from resorb import tracking

    tracking.configure()
    return in_store.folder, in_store.result, in_store.frame, tracking


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
    out = model.predict(frame.head(50))  # the dictionary's columns, as the cohort holds them
    assert list(out.columns) == ["p_resorption"]
    p = out["p_resorption"].to_numpy()
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
    via_pyfunc = mlflow.pyfunc.load_model(str(path)).predict(frame.head(20))["p_resorption"]
    np.testing.assert_allclose(direct, via_pyfunc, rtol=0, atol=1e-12)


def test_identifiers_never_reach_mlflow(store):
    folder, result, _, _ = store
    from mlflow import MlflowClient

    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("resorb").experiment_id])
    assert runs
    for run in runs:
        blob = repr(run.data.params) + repr(run.data.tags) + repr(run.data.metrics)
        assert PLANTED_ID not in blob and PLANTED_SITE not in blob
    hits = [p for p in Path(folder).rglob("*") if p.is_file() and p.suffix not in (".db", ".skops")
            and (PLANTED_ID.encode() in p.read_bytes() or PLANTED_SITE.encode() in p.read_bytes())]
    assert hits == []
    assert "patient_id" not in result.leaderboard.columns


def test_write_run_and_read_run_are_one_symmetric_pair(store):
    import pandas as pd

    from resorb import tracking
    from resorb.figures import png_bytes, roc_figure
    from resorb.runs import FIGURES, Fingerprint, RunRecord

    png = png_bytes(roc_figure({"m": pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})}, {"m": 0.5}))
    metrics = pd.DataFrame({"metric": ["auroc", "ici"], "estimate": [0.75, 0.02],
                            "ci_low": [0.7, 0.01], "ci_high": [0.8, float("nan")]})
    record = RunRecord(
        tags={"trained_on": "real data"}, params={"seed": "3", "spec.kind": "logistic"},
        metrics=metrics, summary=pd.DataFrame([{"rows": 10, "baseline_period": "2020-01"}]),
        data_account="10 rows in", sample_size="Riley minimum sample size: 9 rows.",
        sample_size_ok=False, validation_method="5-fold", figures={"roc": png},
        fingerprint=Fingerprint("f" * 64, 10, 4, 0.4))
    with tracking.start_run("roundtrip"):
        tracking.write_run(record)
        run_id = tracking.active_run_id()
    back = tracking.read_run(run_id)
    assert back.run_id == run_id and back.run_name == "roundtrip" and back.started is not None
    assert back.tags["trained_on"] == "real data"
    assert "validation_method" not in back.tags and "sample_size_ok" not in back.tags
    assert dict(back.params) == dict(record.params)
    pd.testing.assert_frame_equal(back.metrics, metrics)
    pd.testing.assert_frame_equal(back.summary, record.summary)
    assert (back.data_account, back.sample_size) == (record.data_account, record.sample_size)
    assert back.sample_size_ok is False and back.validation_method == "5-fold"
    assert back.fingerprint == record.fingerprint and back.figures == {"roc": png}
    assert back.leaderboard is None and back.subgroups is None
    assert back.candidate_params == {"spec.kind": "logistic"}
    assert set(FIGURES) >= set(back.figures)
    numbers = tracking.get_run(run_id).data.metrics
    assert numbers["auroc_ci_high"] == 0.8 and "ici_ci_high" not in numbers  # finite only
    assert numbers["data_rows"] == 10


def test_compare_run_reads_back_with_its_artifacts(store):
    from resorb import tracking
    from resorb.runs import ARTIFACTS, FIGURES, TABLES

    _, result, _, _ = store
    record = tracking.read_run(result.run_id)
    for name in ("metrics", "calibration", "decision_curve", "subgroups", "missingness",
                 "summary", "leaderboard", "paired_differences"):
        assert getattr(record, name) is not None, name
    board = record.leaderboard
    assert board["auroc_ci_low"].dtype == float and (board["auroc_ci_low"] < board["auroc"]).all()
    assert board["champion"].dtype == bool
    assert set(record.figures) == set(FIGURES)
    assert record.sample_size_ok is result.sample_size_ok and "Riley" in record.sample_size
    assert record.sample_size == result.sample_size
    assert record.fingerprint.rows == int(record.summary["rows"].iloc[0])
    assert record.candidate_params["spec.kind"] == result.champion
    logged = {a.path for top in ("validation", "data", "figures")
              for a in tracking.MlflowClient().list_artifacts(result.run_id, top)}
    logged |= {a.path for a in tracking.MlflowClient().list_artifacts(result.run_id)}
    assert set(TABLES.values()) <= logged
    assert {ARTIFACTS.figure(f) for f in FIGURES} | {ARTIFACTS.sample_size} <= logged


def test_compare_draws_its_figures_once_for_every_run(store):
    """Each child run holds the comparison's figures (every candidate on each), the same
    bytes as the parent's, and its own metrics and parameters from one batch."""
    from resorb import tracking

    _, result, _, _ = store
    parent = tracking.read_run(result.run_id)
    children = tracking.child_runs(tracking.get_run(result.run_id))
    assert len(children) == len(result.leaderboard) >= 2
    for child in children:
        record = tracking.read_run(child.info.run_id)
        assert record.figures == parent.figures, child.info.run_name
        assert record.params["candidate"] == child.info.run_name
        assert record.tags["data_sha256"] == parent.fingerprint.data_sha256
        assert "auroc" in child.data.metrics and "auroc_ci_low" in child.data.metrics


def test_logged_model_carries_its_card(store, tmp_path):
    from resorb.scoring.model import load_model

    _, result, _, _ = store
    loaded = load_model(result.model_uri)
    card = loaded.metadata
    assert card.candidate == result.champion and card.features == loaded.features
    assert card.data_source.n_requested == 600 and card.data_source.seed == 5
    assert card.metrics["auroc"].ci_low < card.metrics["auroc"].estimate
    assert loaded.describe().endswith(f"({result.champion}, synthetic:literature (n=600, seed 5))")
