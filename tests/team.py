"""The test suite's team tracking server: PostgreSQL + ``mlflow server`` with basic auth.

Started once per session (the ``team_server`` fixture of ``tests/conftest.py``) in a temporary
folder by the script ``make team-server`` uses (scripts/team_server.sh), and removed at the
end. Tests talk to it only through real processes: the ``resorb`` CLI as a subprocess and
MLflow's own client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "team_server.sh"
RESORB = Path(sys.executable).with_name("resorb")
FAST = ROOT / "tests" / "params_fast.yaml"
# small settings: the same code paths, quick fits (fast params, 20 bootstrap resamples, the
# plain bootstrap instead of the optimism bootstrap's refits)
QUICK = ["--params", str(FAST), "--set", "training.n_boot=20",
         "--set", "training.optimism_below_rows=0"]
TWO_CANDIDATES = ["--candidate", "logistic", "--candidate", "random_forest"]


@dataclass(frozen=True)
class TeamServer:
    """A running team server: its folder, URI and admin credentials."""

    folder: Path
    uri: str
    password: str

    def env(self, *, signed_in: bool = True, **extra: str) -> dict[str, str]:
        """The environment of a client process (credentials only when ``signed_in``)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MLFLOW_TRACKING_", "RESORB_PARAMS"))}
        env.update(MLFLOW_TRACKING_URI=self.uri, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        if signed_in:
            env.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=self.password)
        env.update(extra)
        return env

    def dump(self) -> str:
        """``pg_dump`` of the tracking database (plain SQL)."""
        return subprocess.run([str(SCRIPT), "dump", str(self.folder)], capture_output=True,
                              text=True, check=True, timeout=120).stdout

    @contextmanager
    def client(self) -> Iterator[object]:
        """An ``MlflowClient`` signed in to the server (environment restored afterwards)."""
        import mlflow

        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME",
                                                "MLFLOW_TRACKING_PASSWORD")}
        os.environ.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=self.password)
        try:
            yield mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_team_server(folder: Path) -> Iterator[TeamServer]:
    """Start a fresh cluster and server in ``folder`` with basic auth; remove both at the end."""
    port = free_port()
    env = {**os.environ, "MLFLOW": str(Path(sys.executable).with_name("mlflow")),
           "TEAM_WORKERS": "1"}
    started = subprocess.run([str(SCRIPT), "start", str(folder), str(port), "--auth"],
                             env=env, capture_output=True, text=True, timeout=420)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        password = (folder / "auth" / "admin.password").read_text().strip()
        yield TeamServer(folder, f"http://127.0.0.1:{port}", password)
    finally:
        subprocess.run([str(SCRIPT), "remove", str(folder)], env=env, timeout=120,
                       capture_output=True)


def resorb(args: list[str], env: dict[str, str], cwd: Path,
           timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the ``resorb`` CLI as a subprocess."""
    return subprocess.run([str(RESORB), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def resorb_async(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start the ``resorb`` CLI as a subprocess without waiting for it."""
    return subprocess.Popen([str(RESORB), *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
