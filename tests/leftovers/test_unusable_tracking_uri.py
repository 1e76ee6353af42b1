"""Tracking URIs MLflow 3 accepts in form but this machine cannot use are one line and exit 2.

``databricks://x`` (and ``score``) ended in MLflow's "Reading Databricks credential
configuration failed" traceback; MLflow's own spelling ``databricks`` and a word such as
``garbage`` were both called "a folder". Real ``resorb`` subprocesses, with a HOME of their
own (no ``~/.databrickscfg``) and no ``DATABRICKS_*`` variable; nothing is connected to.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from resorb.config.sections import check_tracking_uri
from resorb.errors import ConfigError
from tests.leftovers.conftest import RESORB

NO_CREDENTIALS = "Databricks workspace with no credentials configured"
NOT_A_URI = "is not a tracking URI, nor an existing folder: expected sqlite:///file.db"


def resorb(*args: str, cwd: Path, uri: str) -> subprocess.CompletedProcess[str]:
    """``resorb ARGS`` with ``uri`` as MLFLOW_TRACKING_URI and no Databricks credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(MLFLOW_TRACKING_URI=uri, HOME=str(cwd), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([str(RESORB), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, cohort) -> Path:
    """A working folder holding candidates to score, ``in.csv``."""
    path = tmp_path_factory.mktemp("uri")
    cohort.head(20).to_csv(path / "in.csv", index=False)
    return path


COMMANDS = {"models-list": ("models", "list"),
            "score": ("score", "--input", "in.csv", "--output", "out.csv")}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize(("uri", "words"), [
    ("databricks://x", [NO_CREDENTIALS, "profile 'x'", "[x] section in ~/.databrickscfg",
                        "DATABRICKS_HOST/DATABRICKS_TOKEN", "databricks auth login"]),
    ("databricks", [NO_CREDENTIALS, "profile 'DEFAULT'", "[DEFAULT] section"]),
    ("garbage", [NOT_A_URI, "http(s)://host:port", "postgresql://"]),
], ids=["databricks-profile", "databricks", "garbage"])
def test_an_unusable_uri_is_one_line_and_exit_2(folder, command, uri, words):
    result = resorb(*command, cwd=folder, uri=uri)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: MLFLOW_TRACKING_URI {uri!r} "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert "a folder" not in lines[0]  # neither is described as a folder store
    assert sorted(p.name for p in folder.iterdir()) == ["in.csv"]  # no store, no output


def test_a_databricks_password_is_masked(folder):
    result = resorb("models", "list", cwd=folder, uri="databricks://u:s3cret@x")
    assert result.returncode == 2, result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "'databricks://***@x'" in result.stderr


def test_configured_but_unusable_credentials_are_one_line_too(tmp_path):
    """A profile section without a host passes the check; MLflow's own refusal (after its
    SDK warning) becomes one line naming where credentials are read from."""
    (tmp_path / ".databrickscfg").write_text("[x]\nfoo = bar\n")
    result = resorb("models", "list", cwd=tmp_path, uri="databricks://x")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: the tracking store databricks://x is a Databricks workspace whose credentials "
        "MLflow could not read; check DATABRICKS_HOST/DATABRICKS_TOKEN or ~/.databrickscfg "
        "(databricks auth login), or fix MLFLOW_TRACKING_URI (params.yaml tracking.uri)"]


@pytest.mark.parametrize(("config", "env", "uri"), [
    ("[x]\nhost = https://adb.example\n", {}, "databricks://x"),
    ("[DEFAULT]\nhost = https://adb.example\n", {}, "databricks"),
    ("[team]\nhost = https://adb.example\n", {"DATABRICKS_CONFIG_PROFILE": "team"},
     "databricks"),
    ("", {"DATABRICKS_HOST": "https://adb.example"}, "databricks"),
], ids=["profile-section", "default-section", "profile-variable", "host-variable"])
def test_configured_credentials_are_left_to_mlflow(tmp_path, monkeypatch, config, env, uri):
    for name in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    (tmp_path / "cfg").write_text(config)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "cfg"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert check_tracking_uri(uri, "MLFLOW_TRACKING_URI") == uri


@pytest.mark.parametrize(("uri", "words"), [
    ("databricks://y", "profile 'y'"),  # the file names another profile only
    ("Databricks", NOT_A_URI),  # MLflow's spelling is lower case
    ("mlruns", NOT_A_URI),  # a folder that does not exist, written as a bare word
], ids=["other-profile", "capitalised", "bare-word"])
def test_what_is_still_refused(tmp_path, monkeypatch, uri, words):
    for name in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    (tmp_path / "cfg").write_text("[x]\nhost = https://adb.example\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "cfg"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(words)):
        check_tracking_uri(uri, "MLFLOW_TRACKING_URI")


def test_an_existing_folder_is_still_a_folder_store(tmp_path, monkeypatch):
    (tmp_path / "mlruns").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="'mlruns' is a folder: MLflow 3 no longer"):
        check_tracking_uri("mlruns", "MLFLOW_TRACKING_URI")
