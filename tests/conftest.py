"""Shared fixtures: small factory functions that build canonical frames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    """Run the test inside an empty temporary working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


#: small bootstrap counts and small candidates, for quick tests (CLI: ``--params`` this file)
FAST_PARAMS = Path(__file__).with_name("params_fast.yaml")


@pytest.fixture(scope="session")
def fast_params():
    """The packaged defaults with tests/params_fast.yaml over them."""
    from resorb.config import Params

    return Params.resolve(FAST_PARAMS)
