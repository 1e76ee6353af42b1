"""The MLflow UI on the project's tracking store, bound to the loopback interface only."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from resorb.config import artifact_root, tracking_uri
from resorb.errors import ResorbError

HOST = "127.0.0.1"


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
    """Run the UI in the foreground until interrupted; returns its exit code."""
    cmd = ui_command(port, store_uri)
    store = cmd[cmd.index("--backend-store-uri") + 1]
    announce(f"MLflow UI on http://{HOST}:{port}  (store: {store})  - press Ctrl+C to stop")
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        raise ResorbError(f"cannot start the MLflow UI: {exc}") from None
