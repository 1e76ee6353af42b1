"""A tracking database that refuses or does not answer is one line and exit 2 within
seconds, not minutes of MLflow's retries ending in a traceback (docs/mlflow.md).

Real parts: a closed local port (bound, then closed), a listener whose queue is full (it
accepts no further connection), a Unix socket file nobody listens on, each reached by
``resorb`` in a subprocess. The reachable case, a real PostgreSQL over its socket, is in
tests/test_team_server.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resorb.config.database import DATABASE_TIMEOUT, database_address
from tests.leftovers.conftest import run
from tests.team import FAST

PASSWORD = "s3cret-Pa55"
#: a correctness bound, not a benchmark: MLflow's retries took 112 s on a closed port
QUICK_SECONDS = 30.0


def closed_port() -> int:
    """A local TCP port that was just bound and closed: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener never accepts and whose queue is full: a connection attempt
    gets no answer (as from a firewalled or stopped host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port), timeout=5)  # fills the queue
    try:
        yield port
    finally:
        queued.close()
        server.close()


def timed(*args: str, cwd: Path, uri: str | None = None) -> tuple[object, float]:
    start = time.perf_counter()
    result = run(*args, cwd=cwd, env={"MLFLOW_TRACKING_URI": uri} if uri else None,
                 timeout=300)
    return result, time.perf_counter() - start


def assert_one_line_exit_2(result, seconds: float, *words: str) -> None:
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    assert seconds < QUICK_SECONDS, (seconds, text)
    assert "Traceback" not in text
    assert PASSWORD not in text  # the password is masked, as everywhere
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("command", [["models", "list"],
                                     ["--params", str(FAST), "train", "--synthetic", "300"]],
                         ids=["models-list", "train"])
def test_a_closed_port_is_one_line_and_exit_2_within_seconds(tmp_path, command):
    port = closed_port()
    uri = f"postgresql+psycopg2://alice:{PASSWORD}@127.0.0.1:{port}/mlflow"
    result, seconds = timed(*command, cwd=tmp_path, uri=uri)
    assert_one_line_exit_2(result, seconds, "error: the tracking database",
                           f"postgresql+psycopg2://***@127.0.0.1:{port}/mlflow",
                           f"127.0.0.1:{port} refused the connection",
                           "unset it to keep runs in mlflow.db here")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no store, no run, no model


@pytest.mark.slow
def test_a_port_that_does_not_answer_is_refused_after_the_timeout(tmp_path, silent_port):
    uri = f"postgresql+psycopg2://alice:{PASSWORD}@127.0.0.1:{silent_port}/mlflow"
    result, seconds = timed("models", "list", cwd=tmp_path, uri=uri)
    assert_one_line_exit_2(result, seconds, f"127.0.0.1:{silent_port} did not answer "
                                            f"within {DATABASE_TIMEOUT:g} s")
    assert seconds >= DATABASE_TIMEOUT  # it did wait for an answer


@pytest.mark.slow
def test_the_uri_of_params_yaml_is_probed_too(tmp_path):
    port = closed_port()
    uri = f"postgresql+psycopg2://alice:{PASSWORD}@localhost:{port}/mlflow"
    result, seconds = timed("--set", f"tracking.uri={uri}", "models", "list", cwd=tmp_path)
    assert_one_line_exit_2(result, seconds, f"localhost:{port} refused the connection")


@pytest.mark.slow
def test_a_unix_socket_nobody_listens_on_is_refused(tmp_path):
    """PostgreSQL over a socket folder (as tests/team.py's cluster): a stale socket file,
    then no socket file at all."""
    folder = tmp_path / "run"
    folder.mkdir()
    stale = folder / ".s.PGSQL.6543"
    with socket.socket(socket.AF_UNIX) as s:  # bound and closed: the file stays, unserved
        s.bind(str(stale))
    uri = f"postgresql+psycopg2://alice:{PASSWORD}@/mlflow?host={folder}&port=6543"
    result, seconds = timed("models", "list", cwd=tmp_path, uri=uri)
    assert_one_line_exit_2(result, seconds, f"socket {stale} refused the connection")
    stale.unlink()
    result, seconds = timed("models", "list", cwd=tmp_path, uri=uri)
    assert_one_line_exit_2(result, seconds, f"socket {stale} does not exist")


@pytest.mark.slow
def test_the_ui_refuses_it_before_starting_a_server(tmp_path):
    port = closed_port()
    uri = f"postgresql+psycopg2://alice:{PASSWORD}@127.0.0.1:{port}/mlflow"
    result, seconds = timed("ui", "--port", str(closed_port()), cwd=tmp_path, uri=uri)
    assert_one_line_exit_2(result, seconds, f"127.0.0.1:{port} refused the connection")
    assert "MLflow UI on" not in result.stdout


@pytest.mark.slow
def test_an_unreachable_http_server_s_message_masks_the_password(tmp_path):
    port = closed_port()
    result, seconds = timed("models", "list", cwd=tmp_path,
                            uri=f"http://alice:{PASSWORD}@127.0.0.1:{port}")
    assert_one_line_exit_2(result, seconds, "the tracking server http://***@127.0.0.1:")


@pytest.mark.parametrize(("uri", "address"), [
    ("postgresql+psycopg2://u:p@db.example.org/mlflow", ("db.example.org", 5432)),
    ("postgresql://u@db.example.org:6000/mlflow", ("db.example.org", 6000)),
    ("mysql+pymysql://u:p@10.1.2.3/mlflow", ("10.1.2.3", 3306)),
    ("mssql+pyodbc://u:p@sql.example.org/mlflow?driver=x", ("sql.example.org", 1433)),
    ("postgresql+psycopg2://u@/mlflow?host=/run/pg&port=5433", "/run/pg/.s.PGSQL.5433"),
    ("postgresql+psycopg2://u@/mlflow?host=db.example.org", ("db.example.org", 5432)),
    ("mysql+pymysql://u@/mlflow?unix_socket=/run/mysqld.sock", "/run/mysqld.sock"),
    ("postgresql+psycopg2://u@/mlflow", None),  # the driver's compiled-in default socket
    ("postgresql://u@h1:1,h2:2/mlflow", None),  # several hosts
    (r"mssql+pyodbc://u:p@sql\inst/mlflow", None),  # a named instance
    ("http://127.0.0.1:5000", None),
    ("sqlite:////tmp/mlflow.db", None),
], ids=lambda v: v if isinstance(v, str) and "://" in v else "")
def test_the_address_probed_is_the_uri_s_or_the_scheme_s_default_port(uri, address):
    assert database_address(uri) == address
