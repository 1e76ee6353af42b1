"""Fixtures of the report tests: the session's tracking store (``tests/store.py``) with its
own report put back after a test whose ``resorb report`` replaced it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def relog(in_store):
    """Log the session's report back to its run afterwards (these commands replace it)."""
    yield in_store
    from resorb import tracking

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "report.html"
        shutil.copyfile(in_store.report, copy)
        tracking.log_file_to_run(in_store.run_id, copy, "report")
