"""The CLI against a team tracking server: PostgreSQL backend, proxied artifacts, basic auth.

One fresh server per session (``team_server`` fixture, tests/team.py, started by the script
``make team-server`` uses); every step is a real ``resorb`` subprocess pointed at it with
``MLFLOW_TRACKING_URI`` and the admin's credentials from the environment. The training file
carries planted identifiers; the tracking database (``pg_dump``) and the artifact folder are
searched for them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from resorb.cohort import make_cohort
from tests.team import QUICK, TWO_CANDIDATES, TeamServer, resorb

pytestmark = pytest.mark.slow

PLANTED_ID = "TEAMSRV-PATIENT-90817"
PLANTED_SITE = "Klinik-Planted-Suedost-5512"


def _planted_cohort(path: Path) -> pd.DataFrame:
    """600 synthetic rows (seed 7) whose first patient id and one site are planted strings."""
    frame = make_cohort(n=600, seed=7)
    ids = frame["patient_id"].astype(object).to_numpy().copy()
    ids[0] = PLANTED_ID
    frame = frame.assign(patient_id=ids,
                         site=frame["site"].astype(object).replace({"site_A": PLANTED_SITE}))
    frame.to_csv(path, index=False)
    return frame


# The steps a team runs, in order, each a resorb subprocess.
STEPS: list[tuple[str, list[str]]] = [
    ("train", [*QUICK, "train", "--data", "cohort.csv", "--register"]),
    ("compare", [*QUICK, "compare", "--data", "cohort.csv", "--register", *TWO_CANDIDATES]),
    ("promote", ["models", "promote", "latest", "--alias", "champion"]),
    ("evaluate", [*QUICK, "evaluate", "--data", "cohort.csv",
                  "--model", "models:/resorb@champion"]),
    ("evaluations", ["evaluations", "--model", "models:/resorb@champion"]),
    ("score", ["score", "--input", "cohort.csv", "--output", "scored.csv",
               "--model", "models:/resorb@champion"]),
    ("report", ["report", "--out", "report.html"]),
    ("history", ["models", "history"]),
    ("list", ["models", "list"]),
]


@pytest.fixture(scope="module")
def team_flow(team_server: TeamServer, tmp_path_factory):
    """Run every step once in an empty folder; returns the folder, the frame and the results."""
    folder = tmp_path_factory.mktemp("team-client")
    frame = _planted_cohort(folder / "cohort.csv")
    env = team_server.env()
    results = {}
    for name, args in STEPS:
        results[name] = resorb(args, env, folder)
        ok = (0, 3) if name == "score" else (0,)  # score: 3 = some rows rejected
        assert results[name].returncode in ok, (name, results[name].stdout,
                                                results[name].stderr)
    return folder, frame, results


def test_every_step_runs_against_the_server(team_flow):
    _, _, results = team_flow
    # the session's server may already hold versions (the concurrency tests share it)
    trained = re.search(r"registered: resorb version (\d+)", results["train"].stdout)
    compared = re.search(r"registered: resorb version (\d+)", results["compare"].stdout)
    assert trained and compared, (results["train"].stdout, results["compare"].stdout)
    assert int(compared[1]) == int(trained[1]) + 1
    assert f"resorb@champion -> version {compared[1]}" in results["promote"].stdout
    assert "champion" in results["history"].stdout
    for name, result in results.items():
        assert "Traceback" not in result.stderr, name
        # MLflow's run links and INFO lines only with --verbose
        assert "View run" not in result.stdout and "INFO mlflow" not in result.stderr, name


def test_score_from_the_champion_gives_one_probability_per_row(team_flow):
    folder, frame, _ = team_flow
    scored = pd.read_csv(folder / "scored.csv")
    assert len(scored) == len(frame)
    p = scored["p_resorption"].dropna()
    assert len(p) > 0.9 * len(frame)
    assert p.between(0, 1).all()


def test_the_client_folder_holds_no_store(team_flow, team_server):
    folder, _, _ = team_flow
    assert not (folder / "mlflow.db").exists()
    assert not (folder / "mlartifacts").exists()
    assert (folder / "report.html").stat().st_size > 10_000
    # the artifacts went through the server into its own folder
    assert any(p.name == "resorb.json" for p in (team_server.folder / "artifacts").rglob("*"))


def test_runs_and_versions_are_in_postgresql(team_flow, team_server):
    dump = team_server.dump()
    with team_server.client() as client:
        versions = client.search_model_versions("name = 'resorb'")
    assert {v.version for v in versions} >= {"1", "2"}
    for v in versions:
        assert v.run_id in dump
    assert "alias_history." in dump  # the alias move, one tag


def test_no_planted_identifier_reaches_postgresql_or_the_artifacts(team_flow, team_server):
    dump = team_server.dump()
    assert "CREATE TABLE public.runs" in dump
    for planted in (PLANTED_ID, PLANTED_SITE):
        assert planted not in dump
        hits = [p for p in (team_server.folder / "artifacts").rglob("*")
                if p.is_file() and planted.encode() in p.read_bytes()]
        assert hits == [], (planted, hits)


@pytest.mark.parametrize("credentials", [
    {},  # none given
    {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "not-the-password"},
], ids=["no-credentials", "wrong-password"])
def test_models_list_without_valid_credentials_is_refused(team_server, tmp_path, credentials):
    result = resorb(["models", "list"], team_server.env(signed_in=False, **credentials),
                    tmp_path, timeout=180)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"the tracking server {team_server.uri} refused the request" in result.stderr
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in result.stderr
    assert "not-the-password" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_models_list_with_credentials_from_the_environment_works(team_flow, team_server,
                                                                  tmp_path):
    result = resorb(["models", "list"], team_server.env(), tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "random_forest" in result.stdout or "logistic" in result.stdout


def test_the_evaluation_is_logged_on_the_server_and_reported(team_flow):
    folder, _, results = team_flow
    assert "logged: evaluation run" in results["evaluate"].stdout
    assert "real data" in results["evaluations"].stdout
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "External validation on other data" in html
    assert "Externally validated on 1 data set." in html
    assert "No external validation of this model is recorded" not in html


def test_resorb_pointed_at_the_postgresql_database_itself_passes_the_probe(team_flow,
                                                                          team_server,
                                                                          tmp_path):
    """A database URI is probed before MLflow gets it (tests/leftovers/
    test_unreachable_database.py); a database that answers is let through: the server's own
    PostgreSQL, over its socket folder, lists the versions the flow registered."""
    port = (team_server.folder / "pg.port").read_text().strip()
    uri = (f"postgresql+psycopg2://resorb@/mlflow?host={team_server.folder / 'pg' / 'run'}"
           f"&port={port}")
    result = resorb(["models", "list"], team_server.env(signed_in=False,
                                                        MLFLOW_TRACKING_URI=uri),
                    tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "random_forest" in result.stdout or "logistic" in result.stdout
    assert not (tmp_path / "mlflow.db").exists()
