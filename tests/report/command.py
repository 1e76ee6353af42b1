"""The real ``resorb report`` in a subprocess, as a user runs it (tests of the report)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def report_command(folder: Path, args: list[str], probe: str = ""
                   ) -> subprocess.CompletedProcess:
    """``resorb report ARGS`` in a fresh interpreter in ``folder``; ``probe`` runs after it."""
    code = ("import sys\nfrom resorb.cli import app\n"
            f"sys.argv = ['resorb', 'report', *{args!r}]\n"
            "try:\n    app()\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
            f"{probe}\nsys.exit(code)\n")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([sys.executable, "-c", code], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
