"""The MLflow UI on the project's tracking store, bound to the loopback interface only.

``mlflow server`` starts a uvicorn worker and job consumers of its own, and does not stop
them when it is told to stop: ``kill <pid>`` of ``resorb ui`` used to leave all of them
running on the port. The server therefore runs in a process group of its own, and
whatever stops ``resorb ui`` (Ctrl+C, SIGTERM, SIGHUP, the server exiting) ends that whole
group: SIGTERM first, SIGKILL to whatever is left after :data:`GRACE_SECONDS`.

A port already in use is refused before the server starts (:func:`check_port_free`):
``mlflow server`` on a busy port logs uvicorn's bind error and then keeps running, so
``resorb ui`` announced a URL another program was serving and waited for Ctrl+C.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from resorb.config import artifact_root, tracking_uri
from resorb.config.database import masked_uri, unreachable_database
from resorb.errors import ConfigError, ResorbError

HOST = "127.0.0.1"
#: seconds the server's processes get to stop after SIGTERM before they are killed
GRACE_SECONDS = 10.0


class _StopSignalError(Exception):
    """SIGTERM or SIGHUP received: stop the server."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _StopSignalError(signum)


def ui_command(port: int, store_uri: str | None = None) -> list[str]:
    """The ``mlflow server`` command line for the store (SQLite in the cwd by default)."""
    uri = tracking_uri(store_uri)
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", HOST, "--port", str(port),
           "--backend-store-uri", uri, "--workers", "1"]
    root = artifact_root(uri)
    if root:
        cmd += ["--default-artifact-root", root]
    return cmd


def serve_ui(port: int = 5000, announce: Callable[[str], None] = print,
             store_uri: str | None = None) -> int:
    """Run the UI in the foreground until interrupted; returns its exit code.

    Ctrl+C, SIGTERM and SIGHUP stop the server and every process it started
    (:func:`stop_group`); so does the server's own exit.

    Raises
    ------
    ResorbError
        The server cannot be started, or the port is in use (:func:`check_port_free`).
    ConfigError
        The store is a database that cannot be reached
        (:func:`resorb.config.database.unreachable_database`).
    """
    cmd = ui_command(port, store_uri)
    check_port_free(port)
    store = cmd[cmd.index("--backend-store-uri") + 1]
    if (why := unreachable_database(store)) is not None:  # the server would retry for minutes
        raise ConfigError(f"the tracking database {masked_uri(store)} cannot be reached "
                          f"({why}); start it, or fix MLFLOW_TRACKING_URI (params.yaml "
                          f"tracking.uri)")
    announce(f"MLflow UI on http://{HOST}:{port}  (store: {masked_uri(store)})  - press "
             f"Ctrl+C to stop")
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    proc = None
    try:
        proc = subprocess.Popen(cmd, start_new_session=True)  # its own process group
        return proc.wait()
    except (KeyboardInterrupt, _StopSignalError):
        return 0
    except OSError as exc:
        raise ResorbError(f"cannot start the MLflow UI: {exc}") from None
    finally:
        if proc is not None:
            stop_group(proc.pid)
            proc.poll()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_port_free(port: int) -> None:
    """Refuse a loopback port that another program already listens on.

    Binds a socket to ``(HOST, port)`` the way uvicorn will (``SO_REUSEADDR``, so a port
    left in TIME_WAIT by an earlier UI counts as free) and closes it at once.

    Raises
    ------
    ResorbError
        The port is in use (exit code 2), or cannot be bound for another reason.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ResorbError(f"--port {port}: {HOST}:{port} is already in use by another "
                                  f"program (an earlier `resorb ui`?); stop it, or choose "
                                  f"another port, e.g. --port {port + 1 if port < 65535 else 5001}"
                                  ) from None
            raise ResorbError(f"--port {port}: cannot listen on {HOST}:{port} "
                              f"({exc.strerror})") from None


def stop_group(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """End every process of group ``pgid``: SIGTERM, then SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(-pgid, os.WNOHANG)  # reap our own child so the group can empty
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
