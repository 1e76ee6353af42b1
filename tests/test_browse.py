"""`resorb ui`: a real MLflow server on a free loopback port, checked through its REST API."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest

from resorb.browse import HOST, ui_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(url: str, payload: dict | None = None) -> dict:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback only
        return json.loads(resp.read())


@pytest.mark.slow
def test_ui_serves_experiment_runs_and_registered_versions(tmp_path, monkeypatch, fast_params):
    from resorb import tracking
    from resorb.card import DataSource
    from resorb.cohort import make_cohort
    from resorb.jobs import TrainingData, train_job

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = TrainingData(make_cohort(600, seed=4), DataSource("synthetic", "literature", 4, 600))
    tracking.configure()
    train_job(data, fast_params, "logistic", register=True)

    port = free_port()
    cmd = ui_command(port)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://{HOST}:{port}/api/2.0/mlflow"
    try:
        deadline = time.monotonic() + 240  # mlflow server starts slowly on a loaded machine
        while True:
            try:
                exp = get(f"{base}/experiments/get-by-name?experiment_name=resorb")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(1)
        exp_id = exp["experiment"]["experiment_id"]
        runs = get(f"{base}/runs/search", {"experiment_ids": [exp_id]})
        assert len(runs["runs"]) == 1
        versions = get(f"{base}/model-versions/search?filter=name%3D%27resorb%27")
        assert [v["version"] for v in versions["model_versions"]] == ["1"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
