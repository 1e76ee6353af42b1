"""A tracking server that lacks the model, or cannot be reached: exit 2 with the fix."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from resorb.scoring.model import server_registry
from tests.leftovers.conftest import run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory):
    """A real ``mlflow server`` (SQLite backend) holding no registered model."""
    folder = tmp_path_factory.mktemp("server")
    port = _free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{folder / 's.db'}",
         "--default-artifact-root", str(folder / "art"), "--host", "127.0.0.1", "--port",
         str(port), "--workers", "1"], cwd=folder, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


@pytest.fixture
def scoring_file(tmp_path, cohort):
    cohort.head(20).to_csv(tmp_path / "in.csv", index=False)
    return tmp_path


@pytest.mark.slow
def test_server_status_is_asked_not_assumed(empty_server):
    assert server_registry(empty_server) == "lacks"
    assert server_registry(f"http://127.0.0.1:{_free_port()}") == "unreachable"
    assert server_registry("sqlite:///x.db") == "unknown"


@pytest.mark.slow
@pytest.mark.parametrize(("model", "named"), [
    ([], "models:/resorb@champion"), (["--model", "models:/resorb/3"], "models:/resorb/3")])
def test_score_against_a_server_without_the_model_exits_2_with_the_fix(
        empty_server, scoring_file, model, named):
    result = run("score", "-i", "in.csv", "-o", "out.csv", *model, cwd=scoring_file,
                 env={"MLFLOW_TRACKING_URI": empty_server})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (f"{named}: the tracking server {empty_server} holds no registered model "
            f"'resorb'") in result.stderr
    assert "pass --model FOLDER" in result.stderr and "resorb models promote" in result.stderr
    assert ("no --model was given" in result.stderr) == (not model)
    assert not (scoring_file / "out.csv").exists()
    assert not list(scoring_file.glob("mlflow.db"))


@pytest.mark.slow
def test_score_against_an_unreachable_server_exits_2_fast(scoring_file):
    url = f"http://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    result = run("score", "-i", "in.csv", "-o", "out.csv", cwd=scoring_file,
                 env={"MLFLOW_TRACKING_URI": url})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"the tracking server {url} cannot be reached" in result.stderr
    assert "also take --model FOLDER" in result.stderr
    assert time.monotonic() - start < 60  # MLflow's own retries took about 100 s
    assert not (scoring_file / "out.csv").exists()
