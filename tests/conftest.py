"""Shared fixtures: small factory functions that build canonical frames."""

from __future__ import annotations

import os

import pytest

from tests.factories import FAST_PARAMS

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    """Run the test inside an empty temporary working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path



@pytest.fixture(scope="session")
def fast_params():
    """The packaged defaults with tests/params_fast.yaml over them."""
    from resorb.config import Params

    return Params.resolve(FAST_PARAMS)


@pytest.fixture(scope="session")
def tracking_store(tmp_path_factory, fast_params):
    """The suite's one tracking store: a registered compare run and its report (tests/store.py)."""
    from tests.store import build_store

    return build_store(tmp_path_factory, fast_params)


@pytest.fixture
def in_store(tracking_store, monkeypatch):
    """Run the test inside the shared store's folder (its mlflow.db is the registry)."""
    import mlflow

    monkeypatch.chdir(tracking_store.folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield tracking_store
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def team_server(tmp_path_factory):
    """A fresh PostgreSQL cluster + ``mlflow server`` with basic auth (tests/team.py)."""
    from tests.team import running_team_server

    with running_team_server(tmp_path_factory.mktemp("team") / "server") as server:
        yield server


def pytest_terminal_summary(terminalreporter):
    """The bad-input corpus's counts (tests/test_corpus.py), when it ran."""
    import sys

    corpus = sys.modules.get("tests.test_corpus")
    tally = getattr(corpus, "TALLY", None)
    if tally and tally["cases"]:
        terminalreporter.write_sep("-", "bad-input corpus")
        terminalreporter.write_line(
            f"{tally['cases']} cases, {tally['runs']} command runs, "
            f"{tally['tracebacks']} tracebacks, {tally['wrong exit codes']} wrong exit codes, "
            f"{tally['options']} bad score options")
