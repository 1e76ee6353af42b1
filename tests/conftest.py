"""Shared fixtures: small factory functions that build canonical frames."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    """Run the test inside an empty temporary working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
