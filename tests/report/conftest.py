"""Fixtures of the report tests: the shared tracking store and a test run inside it."""

from __future__ import annotations

import pytest

from tests.report.store import Store, build_store


@pytest.fixture(scope="session")
def report_store(tmp_path_factory, fast_params) -> Store:
    """One registered compare run and its report, built once per session."""
    return build_store(tmp_path_factory, fast_params)


@pytest.fixture
def in_store(report_store, monkeypatch) -> Store:
    """Run the test inside the store's folder (its mlflow.db is the registry)."""
    import mlflow

    monkeypatch.chdir(report_store.folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield report_store
    mlflow.set_tracking_uri(None)
