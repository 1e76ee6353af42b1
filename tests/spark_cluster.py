"""A real standalone Spark cluster for the tests: one master and two workers on 127.0.0.1.

Started with the daemon script shipped in the pyspark package (``pyspark/sbin/
spark-daemon.sh``, what Spark's ``start-master.sh``/``start-worker.sh`` call; pyspark 4.3's
wheel ships the daemon script but not those two wrappers), with ``SPARK_HOME`` set to the
pyspark package, its work, log and pid folders in a temporary folder, free ports, one core
and 1 GB per worker. :func:`standalone_cluster` stops the three daemons on exit, failure
included.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent
DAEMON = SPARK_HOME / "sbin" / "spark-daemon.sh"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster: its master URL and log folder."""

    url: str
    logs: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SPARK_HOME=str(SPARK_HOME), PYSPARK_PYTHON=sys.executable,
               SPARK_LOG_DIR=str(folder / "logs"), SPARK_PID_DIR=str(folder / "pids"),
               SPARK_WORKER_DIR=str(folder / "work"), SPARK_LOCAL_IP="127.0.0.1",
               SPARK_IDENT_STRING=f"resorb-tests-{os.getpid()}",
               SPARK_DAEMON_MEMORY="512m", SPARK_CONF_DIR=str(folder / "conf"))
    for sub in ("logs", "pids", "work", "conf"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return env


def _daemon(env: dict[str, str], action: str, cls: str, instance: int, *args: str) -> None:
    subprocess.run(["bash", str(DAEMON), action, cls, str(instance), *args], env=env,
                   check=action == "start", capture_output=True, timeout=120)


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except OSError:
        return 0


@contextlib.contextmanager
def standalone_cluster(folder: Path, workers: int = 2,
                       timeout: float = 240.0) -> Iterator[Cluster]:
    """Start a master and ``workers`` workers; yield when all workers are registered."""
    env = _env(folder)
    port, ui = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    started: list[tuple[str, int]] = []
    try:
        _daemon(env, "start", MASTER_CLASS, 1, "--host", "127.0.0.1", "--port", str(port),
                "--webui-port", str(ui))
        started.append((MASTER_CLASS, 1))
        for i in range(1, workers + 1):
            _daemon(env, "start", WORKER_CLASS, i, url, "--host", "127.0.0.1", "--cores", "1",
                    "--memory", "1g", "--port", str(_free_port()),
                    "--webui-port", str(_free_port()), "--work-dir", str(folder / "work"))
            started.append((WORKER_CLASS, i))
        deadline = time.monotonic() + timeout
        while _alive_workers(ui) < workers:
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-2000:]
                                 for p in sorted((folder / "logs").glob("*.out")))
                raise RuntimeError(f"the standalone cluster did not start in {timeout:.0f} s; "
                                   f"logs:\n{logs}")
            time.sleep(1.0)
        yield Cluster(url, folder / "logs")
    finally:
        for cls, instance in reversed(started):
            _daemon(env, "stop", cls, instance)
