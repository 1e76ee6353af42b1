"""No debris, no stale state: killed runs, read-only commands, unwritable outputs, `resorb ui`.

Real subprocesses throughout: ``kill -9`` of a running ``resorb score``, SIGTERM of
``resorb ui`` with its MLflow server on a free port, the CLI on /proc. Also the CSV output's
spreadsheet safety (OWASP CSV injection).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from resorb.cohort import make_cohort
from resorb.files import atomic_path, partial_files, remove_stale_partials, write_table
from tests.factories import FAST_PARAMS

ROOT = Path(__file__).resolve().parents[1]
RESORB = str(Path(sys.executable).with_name("resorb"))
REFERENCE = ROOT / "models" / "reference"


def resorb(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([RESORB, *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def cohort_csv(tmp_path_factory) -> Path:
    return write_table(make_cohort(20_000, seed=8), tmp_path_factory.mktemp("debris") / "in.csv")


# ------------------------------------------------------------------------- partial files
@pytest.mark.slow
def test_kill_9_during_score_leaves_a_partial_that_the_next_run_removes(cohort_csv, tmp_path):
    out = tmp_path / "scored.csv"
    args = ["score", "-i", str(cohort_csv), "-o", str(out), "--model", str(REFERENCE),
            "--chunk-rows", "100", "--explain", "0"]
    proc = subprocess.Popen([RESORB, *args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not partial_files(out):
        assert proc.poll() is None, "score ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    stale = partial_files(out)
    assert len(stale) == 1 and not out.exists()  # kill -9 runs no clean-up: debris
    run = resorb(*args, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert partial_files(out) == [] and not stale[0].exists()
    assert len(pd.read_csv(out)) == 20_000


@pytest.mark.slow
def test_cohort_generate_removes_the_partial_of_a_killed_writer(tmp_path):
    out = tmp_path / "cohort.csv"
    ready = tmp_path / "ready"
    code = ("import sys, time\nfrom pathlib import Path\nfrom resorb.files import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_text('half a cohort')\n"
            "    Path(sys.argv[2]).touch()\n"
            "    time.sleep(600)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(out), str(ready)])
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert writer.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    # while the writer lives its partial is locked: another run leaves it alone
    assert remove_stale_partials(out) == [] and len(partial_files(out)) == 1
    writer.kill()
    writer.wait(timeout=30)
    assert len(partial_files(out)) == 1
    run = resorb("cohort", "generate", "--n", "50", "--out", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert partial_files(out) == [] and len(pd.read_csv(out)) > 0


def test_a_live_writer_keeps_its_partial_and_a_finished_one_leaves_none(tmp_path):
    out = tmp_path / "x.csv"
    with atomic_path(out) as tmp:
        tmp.write_text("a")
        assert remove_stale_partials(out) == [] and tmp.exists()
    assert out.read_text() == "a" and partial_files(out) == []
    # a name with glob characters only matches its own partials
    odd = tmp_path / "a[1].csv"
    (tmp_path / ".a1.csv.x.partial").write_text("not mine")
    assert partial_files(odd) == []


# ----------------------------------------------------------- outputs that cannot be written
@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["score", "-i", "{csv}", "-o", "/proc/out.csv", "--model", str(REFERENCE)],
    ["cohort", "generate", "--n", "50", "--out", "/proc/out.csv"],
    ["explain", "--synthetic", "200", "--out", "/proc/contributions.csv"],
    ["report", "--out", "/proc/report.html"],
    ["models", "export", "--to", "/proc/models"],
    ["score", "-i", "{csv}", "-o", "{folder}", "--model", str(REFERENCE)],
], ids=["score", "cohort-generate", "explain", "report", "models-export", "score-to-folder"])
def test_an_unwritable_output_is_refused_before_any_work(args, cohort_csv, tmp_path):
    folder = tmp_path / "a.csv"
    folder.mkdir()
    run = resorb("--params", str(FAST_PARAMS),
                 *[a.format(csv=cohort_csv, folder=folder) for a in args], cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.startswith("error: "), run.stderr
    assert ("cannot write in /proc" in run.stderr) or ("is a folder" in run.stderr), run.stderr
    assert not (tmp_path / "mlflow.db").exists()


# --------------------------------------------------------------- no store created by reading
@pytest.mark.slow
def test_reading_commands_never_create_a_store(tmp_path):
    for args, code in ((["models", "list"], 0), (["models", "history"], 0),
                       (["models", "promote", "1"], 2)):
        run = resorb(*args, cwd=tmp_path)
        assert run.returncode == code, run.stderr
        assert "no model registry here" in run.stdout + run.stderr
        assert not (tmp_path / "mlflow.db").exists(), args


@pytest.mark.slow
def test_an_empty_store_is_no_registry_and_score_uses_the_reference(tmp_path, monkeypatch,
                                                                    cohort_csv):
    from resorb import tracking
    from resorb.scoring.model import registry_holds_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure()  # a real MLflow store holding no model
    assert (tmp_path / "mlflow.db").is_file() and not registry_holds_model()
    small = write_table(pd.read_csv(cohort_csv).head(50), tmp_path / "small.csv")
    run = resorb("score", "-i", str(small), "-o", str(tmp_path / "out.csv"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "not found" not in run.stderr and (tmp_path / "out.csv").is_file()


def test_a_failed_command_removes_the_empty_store_it_created(tmp_path, monkeypatch):
    import typer

    from resorb.cli.options import domain_errors
    from resorb.errors import TrainingError
    from resorb.scoring.model import registry_holds_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    @domain_errors
    def failing_train() -> None:
        from resorb import tracking

        tracking.configure()
        assert (tmp_path / "mlflow.db").is_file()
        raise TrainingError("only one class in the data")

    with pytest.raises(typer.Exit):
        failing_train()
    assert not (tmp_path / "mlflow.db").exists() and not registry_holds_model()
    # a store that existed before is never removed
    (tmp_path / "mlflow.db").write_bytes(b"")
    with pytest.raises(typer.Exit):
        failing_train()
    assert (tmp_path / "mlflow.db").exists()


# ------------------------------------------------------------------------------ resorb ui
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sigterm_of_resorb_ui_stops_every_process_it_started(tmp_path):
    import psutil

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    ui = subprocess.Popen([RESORB, "ui", "--port", str(port)], cwd=tmp_path, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300  # mlflow server starts slowly on a loaded machine
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except OSError:
                assert ui.poll() is None and time.monotonic() < deadline
                time.sleep(1)
        started = psutil.Process(ui.pid).children(recursive=True)
        assert len(started) >= 2  # the mlflow server and its uvicorn worker (and consumers)
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(started, timeout=30)
        assert alive == [], [p.cmdline() for p in alive]
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # the port is free again
    finally:
        if ui.poll() is None:
            ui.kill()


# --------------------------------------------------------------------- spreadsheet safety
FORMULAS = ["=cmd|'/C calc'!A0", "+SUM(1,2)", "-2+3", "@SUM(1)", "\tTAB", "\rCR", "P0001",
            "a=b"]


def test_identifier_cells_that_are_formulas_are_neutralised_in_csv_only(tmp_path):
    from resorb.scoring import score_file

    cohort = make_cohort(len(FORMULAS), seed=3).assign(patient_id=FORMULAS)
    src = tmp_path / "in.parquet"
    cohort.to_parquet(src, index=False)
    score_file(src, tmp_path / "out.csv", str(REFERENCE), explain_k=0)
    score_file(src, tmp_path / "out.parquet", str(REFERENCE), explain_k=0)
    as_csv = pd.read_csv(tmp_path / "out.csv", dtype={"patient_id": str},
                         keep_default_na=False)["patient_id"].tolist()
    assert as_csv == ["'=cmd|'/C calc'!A0", "'+SUM(1,2)", "'-2+3", "'@SUM(1)", "'\tTAB",
                      "'\rCR", "P0001", "a=b"]
    assert pd.read_parquet(tmp_path / "out.parquet")["patient_id"].tolist() == FORMULAS
