"""What a fresh user broke (session 2 of 2026-11-30), as real subprocesses of `resorb`: a
tracking URI MLflow 3 cannot open, `resorb ui` on a busy port, outputs only their writer
could read, and a bootstrap interval printed blank."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resorb.metrics.bootstrap import percentile_limits

REPO = Path(__file__).resolve().parents[1]
FAST = REPO / "tests" / "params_fast.yaml"
RESORB = str(Path(sys.executable).with_name("resorb"))


def resorb(*args: str, cwd: Path, uri: str | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`resorb ARGS` in a fresh process, with ``MLFLOW_TRACKING_URI`` set to ``uri`` (or unset)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    return subprocess.run([RESORB, "--params", str(FAST), *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A working folder holding a small cohort, ``cohort.csv``."""
    path = tmp_path_factory.mktemp("fresh")
    out = resorb("cohort", "generate", "--n", "60", "--seed", "5", "--out", "cohort.csv",
                 cwd=path)
    assert out.returncode == 0, out.stderr
    return path


@pytest.mark.slow
@pytest.mark.parametrize(("uri", "words"), [
    ("file:///tmp/resorb-no-such-store", "is a folder"),
    ("htp://me:secret@tracking.example", "unknown scheme 'htp://'"),
    ("sqlite://", "sqlite:/// and the file's path"),
    ("sqlite:///no/such/folder/mlflow.db", "does not exist"),
    ("postgresql://me:secret@127.0.0.1:9/mlflow", "driver"),  # psycopg (v3) is not installed
])
def test_a_tracking_uri_mlflow_cannot_open_is_a_one_line_error(folder, uri, words):
    # each one used to end in an MlflowException, ValueError or ModuleNotFoundError
    # traceback, exit 1
    out = resorb("models", "list", cwd=folder, uri=uri)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "MLFLOW_TRACKING_URI" in out.stderr and words in out.stderr, out.stderr
    assert "secret" not in out.stderr + out.stdout  # a password in the URI is not shown
    assert sorted(p.name for p in folder.iterdir()) == ["cohort.csv"]  # no store created


@pytest.mark.slow
def test_a_folder_store_is_refused_before_training_or_scoring(folder):
    # ./mlruns, the value of MLflow's own tutorials: MLflow 3 refused the folder store with a
    # traceback, exit 1, once the data had been read and checked
    for args in (("score", "--input", "cohort.csv", "--output", "scored.csv"),
                 ("train", "--data", "cohort.csv")):
        out = resorb(*args, cwd=folder, uri="./mlruns")
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr
        assert "MLFLOW_TRACKING_URI './mlruns' is a folder" in out.stderr, out.stderr
        assert "cross-validation" not in out.stdout + out.stderr  # refused before training
    assert sorted(p.name for p in folder.iterdir()) == ["cohort.csv"]  # no store, no output


@pytest.mark.slow
def test_a_relative_sqlite_path_is_the_working_folder_s(tmp_path):
    # sqlite:///runs/mlflow.db is relative; naming its artifact folder raised "relative path
    # can't be expressed as a file URI" in every command that opened the store
    (tmp_path / "runs").mkdir()
    out = resorb("evaluate", "--model", str(REPO / "models" / "reference"), "--synthetic",
                 "300", cwd=tmp_path, uri="sqlite:///runs/mlflow.db")  # logs a run, a figure
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "runs" / "mlflow.db").is_file()
    assert any((tmp_path / "runs" / "mlartifacts").rglob("*.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


@pytest.mark.slow
def test_ui_on_a_busy_port_says_so_and_exits_2(folder):
    # it used to announce "MLflow UI on http://127.0.0.1:PORT" (another program's), log
    # uvicorn's bind error and then wait, exit 0 only at Ctrl+C
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = resorb("ui", "--port", str(port), cwd=folder, timeout=60)
    assert out.returncode == 2, out.stderr
    assert f"127.0.0.1:{port} is already in use" in out.stderr
    assert "MLflow UI on" not in out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_outputs_get_the_permissions_a_new_file_gets(folder):
    # written through mkstemp, a cohort, a scored list or a plan's CSV appeared as 0o600,
    # unreadable by the colleagues whose umask-granted access every other file has
    old = os.umask(0o022)
    try:
        out = resorb("cohort", "generate", "--n", "50", "--out", "perm.csv", cwd=folder)
        assert out.returncode == 0, out.stderr
        assert stat.S_IMODE((folder / "perm.csv").stat().st_mode) == 0o644
        (folder / "perm.csv").chmod(0o640)  # a file replaced keeps its permissions
        out = resorb("cohort", "generate", "--n", "50", "--out", "perm.csv", cwd=folder)
        assert out.returncode == 0, out.stderr
        assert stat.S_IMODE((folder / "perm.csv").stat().st_mode) == 0o640
    finally:
        os.umask(old)
        (folder / "perm.csv").unlink(missing_ok=True)


def test_an_infinite_replicate_bounds_the_interval_instead_of_blanking_it():
    # slopes of resamples the predictions separate are -inf or +inf; linear interpolation
    # between one and a finite replicate gave NaN, printed as an empty ci_low (48 rows)
    finite = np.linspace(-3.0, 3.0, 39)  # with one infinite: the limits fall next to it
    low, high = percentile_limits(np.r_[-np.inf, finite, np.nan][:, None], 0.05)
    assert low[0] == -np.inf and high[0] == pytest.approx(np.quantile(finite, 0.975), abs=0.1)
    low, high = percentile_limits(np.r_[finite, np.inf][:, None], 0.05)
    assert high[0] == np.inf and np.isfinite(low[0])
    low, high = percentile_limits(finite[:, None], 0.05)  # finite replicates: unchanged
    assert (low[0], high[0]) == tuple(np.quantile(finite, [0.025, 0.975]))
    low, high = percentile_limits(np.full((20, 1), np.nan), 0.05)  # all NaN: NaN
    assert np.isnan(low[0]) and np.isnan(high[0])


@pytest.mark.slow
def test_evaluate_help_names_every_file_its_out_folder_gets(tmp_path):
    # finding_subgroups.csv was written but named neither in --help nor in docs/validation.md
    out = resorb("cohort", "generate", "--n", "300", "--seed", "8", "--out", "c.csv",
                 cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = resorb("evaluate", "--model", str(REPO / "models" / "reference"), "--data", "c.csv",
                 "--out", "ev", "--no-track", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    written = sorted(p.name for p in (tmp_path / "ev").iterdir())
    assert "finding_subgroups.csv" in written
    helptext = " ".join(resorb("evaluate", "--help", cwd=tmp_path).stdout.split())
    docs = " ".join((REPO / "docs" / "validation.md").read_text().split())
    for name in written:
        assert name in helptext, name
        assert f"`{name}`" in docs, name


@pytest.mark.slow
def test_ctrl_c_stops_a_plan_and_its_workers_without_tracebacks(tmp_path):
    # the terminal's SIGINT reaches the whole process group: every worker printed a
    # KeyboardInterrupt traceback, and the pool's manager thread an InvalidStateError
    import signal
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([RESORB, "plan", "--out", "plan", "--sizes", "500,1000,2000",
                             "--replicates", "20", "--workers", "2"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own group, as a terminal's job
    time.sleep(8)  # workers started (or starting): the plan takes minutes
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the workers are gone with it
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("worker processes outlived the interrupted plan")
    assert not any(tmp_path.iterdir())  # nothing written
