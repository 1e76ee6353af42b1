"""Four ``resorb compare --register`` clients at once, then four promotions at once.

Against the team server (PostgreSQL) and, separately, against one new SQLite file in an empty
folder, where MLflow used to create the store's tables four times at once ("table scorers
already exists"). Required: every parent and child run FINISHED, four new versions, every
alias move in the history, no "database is locked" and no traceback reaching the user. The
counts are printed on the terminal.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.team import QUICK, TWO_CANDIDATES, TeamServer, resorb_async

pytestmark = pytest.mark.slow

CLIENTS = 4
COMPARE = [*QUICK, "compare", "--synthetic", "600", *TWO_CANDIDATES, "--register"]


def _store_state(uri: str) -> tuple[dict[str, tuple[str, str]], set[str], list[dict]]:
    """run id -> (status, parent id or ''), registered versions, alias history."""
    import mlflow

    from resorb import tracking

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []
    state = {r.info.run_id: (r.info.status, r.data.tags.get("mlflow.parentRunId", ""))
             for r in runs}
    versions = {str(v.version) for v in client.search_model_versions("name = 'resorb'")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    history = tracking.alias_history()
    mlflow.set_tracking_uri(None)
    return state, versions, history


def _run_clients(env: dict[str, str], folders: list[Path]) -> tuple[list[str], list[str]]:
    """Four compares at once, then four promotions of their versions at once."""
    compares = [resorb_async([*COMPARE, "--seed", str(11 + i)], env, folder)
                for i, folder in enumerate(folders)]
    outputs = [p.communicate(timeout=900)[0] for p in compares]
    assert [p.returncode for p in compares] == [0] * CLIENTS, outputs
    versions = [re.search(r"registered: resorb version (\d+)", out).group(1) for out in outputs]
    promotes = [resorb_async(["models", "promote", v, "--alias", "champion"], env, folder)
                for v, folder in zip(versions, folders, strict=True)]
    outputs += [p.communicate(timeout=300)[0] for p in promotes]
    assert [p.returncode for p in promotes] == [0] * CLIENTS, outputs
    return versions, outputs


def _check(label: str, before, after, versions: list[str], outputs: list[str], capsys) -> None:
    runs_before, versions_before, history_before = before
    runs, all_versions, history = after
    new = {rid: s for rid, s in runs.items() if rid not in runs_before}
    parents = {rid for rid, (_, parent) in new.items() if not parent}
    children = {rid for rid, (_, parent) in new.items() if parent in parents}
    finished = sum(status == "FINISHED" for status, _ in new.values())
    new_versions = all_versions - versions_before
    moves = history[len(history_before):]
    with capsys.disabled():
        print(f"\n[concurrency] {label}: {CLIENTS} clients -> {len(parents)} parent runs, "
              f"{len(children)} child runs, {finished}/{len(new)} FINISHED, "
              f"{len(new_versions)} new versions, {len(moves)} alias moves recorded")
    assert len(parents) == CLIENTS
    assert len(children) == 2 * CLIENTS
    assert finished == len(new) == 3 * CLIENTS
    assert new_versions == set(versions) and len(new_versions) == CLIENTS
    assert history[:len(history_before)] == history_before
    assert sorted(m["version"] for m in moves) == sorted(versions)
    for out in outputs:
        assert "database is locked" not in out.lower()
        assert "Traceback" not in out


def test_four_clients_against_the_team_server(team_server: TeamServer, tmp_path, capsys):
    folders = [tmp_path / f"client{i}" for i in range(CLIENTS)]
    for f in folders:
        f.mkdir()
    with team_server.client():
        before = _store_state(team_server.uri)
    versions, outputs = _run_clients(team_server.env(), folders)
    with team_server.client():
        after = _store_state(team_server.uri)
    _check("team server (PostgreSQL)", before, after, versions, outputs, capsys)


def test_four_clients_on_one_new_sqlite_file(tmp_path, capsys):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RESORB_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    # one empty folder, four clients in it: all of them find no mlflow.db and create it
    versions, outputs = _run_clients(env, [tmp_path] * CLIENTS)
    after = _store_state(f"sqlite:///{tmp_path / 'mlflow.db'}")
    _check("new SQLite file", ({}, set(), []), after, versions, outputs, capsys)
