"""resorb.updating and ``resorb update``: methods against known shifts, the closed test, the
estimator's round trip and explanations, and the command line's exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from resorb.cohort import make_cohort
from resorb.errors import InputError, TrainingError
from resorb.explain import explain
from resorb.models import build_model, predict_resorption
from resorb.serialization import load_estimator, save_estimator
from resorb.training import prepare
from resorb.updating import (
    METHODS,
    REVISION_TERMS,
    UpdatedModel,
    check_alpha,
    closed_test,
    fit_update,
    parent_log_odds,
    revision_terms,
)
from tests.factories import FAST_PARAMS

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"
AGE = [name for name, _ in REVISION_TERMS].index("age (years)")


@pytest.fixture(scope="module")
def parents(fast_params):
    """A logistic and a gradient-boosting parent, each fitted on 1,500 literature rows."""
    data, X, _ = prepare(make_cohort(1500, 1, "literature"), fast_params)
    return {name: build_model(fast_params.candidates[name], seed=0).fit(X, data.y)
            for name in ("logistic", "hist_gradient_boosting")}


@pytest.fixture(scope="module")
def large(fast_params):
    """Model input of 20,000 fresh literature rows (outcomes are drawn per test)."""
    _, X, _ = prepare(make_cohort(20_000, 2, "literature"), fast_params)
    return X


@pytest.fixture(scope="module")
def shifted(fast_params):
    """400 rows of the other_hospital preset: model input and outcome."""
    data, X, _ = prepare(make_cohort(400, 3, "other_hospital"), fast_params)
    return X, data.y


def _draw(eta: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(eta.size) < expit(eta)).astype(int)


# ---------------------------------------------------------------- each method's effect
@pytest.mark.parametrize("parent_name", ["logistic", "hist_gradient_boosting"])
def test_recalibration_recovers_a_known_intercept_and_slope(parents, large, parent_name):
    parent = parents[parent_name]
    lp = parent_log_odds(parent, large)
    y = _draw(-1.0 + lp, seed=4)
    model = UpdatedModel(parent=parent, method="intercept").fit(large, y)
    assert model.intercept_ == pytest.approx(-1.0, abs=0.06)
    assert model.slope_ == 1.0
    y = _draw(0.5 + 0.6 * lp, seed=5)
    model = UpdatedModel(parent=parent, method="recalibrate").fit(large, y)
    assert model.intercept_ == pytest.approx(0.5, abs=0.08)
    assert model.slope_ == pytest.approx(0.6, abs=0.05)


def test_revision_recovers_a_predictor_the_parent_misses(parents, large):
    parent = parents["logistic"]
    lp = parent_log_odds(parent, large)
    age = revision_terms(large)[:, AGE]
    per_decade = 0.4  # an age effect the parent does not have
    y = _draw(lp + per_decade * (age - age.mean()) / 10, seed=6)
    model = UpdatedModel(parent=parent, method="revise").fit(large, y)
    # the truth lies in the revision's model space: slope 1, age term 0.4 per decade
    per_decade_fitted = model.revision_coef_[AGE] / model.revision_scale_[AGE] * 10
    assert per_decade_fitted == pytest.approx(per_decade, abs=0.1)
    assert model.slope_ == pytest.approx(1.0, abs=0.15)
    others = np.delete(model.revision_coef_, AGE)
    assert np.abs(others).max() < 0.15  # standardised: nothing else moved much


def test_refit_fits_the_candidate_from_scratch(fast_params, shifted):
    X, y = shifted
    spec = fast_params.candidates["logistic"]
    model = UpdatedModel(method="refit", refit_estimator=build_model(spec, seed=0)).fit(X, y)
    alone = build_model(spec, seed=0).fit(X, y)
    np.testing.assert_allclose(predict_resorption(model, X), predict_resorption(alone, X))


# ---------------------------------------------------------------- the closed test
@pytest.mark.parametrize(("truth", "expected"), [
    (lambda lp, age: lp, "keep"),
    (lambda lp, age: lp - 1.5, "intercept"),
    (lambda lp, age: 0.4 * lp, "recalibrate"),
    (lambda lp, age: lp + 1.2 * (age - age.mean()) / 10, "revise"),
])
def test_closed_test_decides_clear_cases(parents, large, truth, expected):
    parent = parents["logistic"]
    X = large.iloc[:3000]
    lp = parent_log_odds(parent, X)
    y = _draw(truth(lp, revision_terms(X)[:, AGE]), seed=7)
    test = closed_test(parent, X, y, alpha=0.01)
    assert test.chosen == expected
    assert [s.method for s in test.steps] == ["keep", "intercept", "recalibrate"][
        :len(test.steps)]
    assert [s.df for s in test.steps] == [test.revision_df + 2, test.revision_df + 1,
                                          test.revision_df][:len(test.steps)]
    assert all(s.rejected for s in test.steps[:-1])
    assert test.steps[-1].rejected == (expected == "revise")
    assert test.revision_df == len(REVISION_TERMS)


def test_auto_keeps_or_updates(parents, shifted):
    X, y = shifted
    update = fit_update(parents["logistic"], X, y, "auto")
    assert update.method == update.test.chosen
    assert update.method != "keep"  # other_hospital is about one logit off
    assert update.model is not None and update.model.method == update.method


@pytest.mark.parametrize(("method", "alpha", "error", "message"), [
    ("best", 0.05, InputError, "unknown updating method 'best'; choose one of: auto"),
    ("auto", 0.0, InputError, "--alpha must be a number between 0 and 1"),
    ("auto", 1.5, InputError, "got 1.5"),
    ("auto", True, InputError, "got True"),
    ("auto", "0.05", InputError, "got '0.05'"),
])
def test_bad_arguments(parents, shifted, method, alpha, error, message):
    X, y = shifted
    with pytest.raises(error, match=message):
        fit_update(parents["logistic"], X, y, method, alpha)


def test_one_class_is_refused(parents, shifted):
    X, _ = shifted
    with pytest.raises(TrainingError, match=rf"single class among {len(X)} rows"):
        fit_update(parents["logistic"], X, np.ones(len(X)), "intercept")
    assert check_alpha(0.05) == 0.05


# ------------------------------------------------------------- the estimator itself
@pytest.fixture(scope="module")
def updated(fast_params, parents, shifted):
    """Every method on each parent, fitted on the shifted rows."""
    X, y = shifted
    out = {}
    for name, parent in parents.items():
        for method in METHODS:
            refit = build_model(fast_params.candidates[name], seed=0)
            out[name, method] = UpdatedModel(parent=None if method == "refit" else parent,
                                             method=method, refit_estimator=refit).fit(X, y)
    return out


@pytest.mark.parametrize("method", METHODS)
def test_round_trip_through_skops(updated, shifted, tmp_path, method):
    X, _ = shifted
    model = updated["hist_gradient_boosting", method]
    loaded = load_estimator(save_estimator(model, tmp_path / "m.skops"))
    assert isinstance(loaded, UpdatedModel)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("parent_name", ["logistic", "hist_gradient_boosting"])
@pytest.mark.parametrize("method", METHODS)
def test_explanations_add_up_to_the_prediction(updated, shifted, parent_name, method):
    X, _ = shifted
    model = updated[parent_name, method]
    rows = X.iloc[:25]
    expl = explain(model, rows, background=X)
    total = expl.base_value + expl.values.to_numpy().sum(axis=1)
    np.testing.assert_allclose(total, predict_resorption(model, rows), atol=1e-6)
    assert list(expl.values.columns) == list(explain(model.base, rows, background=X)
                                             .values.columns)


def test_the_slope_scales_the_parents_contributions(updated, shifted):
    X, _ = shifted
    model = updated["logistic", "recalibrate"]
    rows = X.iloc[:25]
    mine = explain(model, rows, background=X).values.to_numpy()
    parent = explain(model.parent, rows, background=X).values.to_numpy()
    # a positive slope keeps the signs of the parent's contributions (rows away from the base)
    assert model.slope_ > 0
    away = np.abs(parent.sum(axis=1)) > 1e-3
    assert away.sum() > 10
    kept = np.abs(parent[away]) > 1e-9
    assert np.all(np.sign(mine[away][kept]) == np.sign(parent[away][kept]))


def test_a_revision_explains_its_terms(updated, shifted):
    X, _ = shifted
    model = updated["hist_gradient_boosting", "revise"]
    assert np.any(model.revision_coef_ != 0)
    assert "revision terms" in explain(model, X.iloc[:10], background=X).method


# ------------------------------------------------------------------ the command line
def _resorb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-c", "from resorb.cli import app; app()"]
    return subprocess.run([*command, "--params", str(FAST_PARAMS), *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture
def one_class_file(tmp_path):
    frame = make_cohort(120, 5, "other_hospital")
    frame = frame.assign(surgery=False, volume_followup_mm3=frame["herniation_volume_mm3"] / 2,
                         resorbed=True, resorption_grade="marked_decrease")
    path = tmp_path / "all_resorbed.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "best"], "Invalid value for '--method'"),
    (["--alpha", "1.5"], "--alpha must be a number between 0 and 1"),
    (["--no-register"], "--no-register needs --out FOLDER"),
])
def test_bad_usage_exits_2_in_a_real_process(tmp_path, args, message):
    proc = _resorb("update", "--model", str(REFERENCE), "--synthetic", "200", *args,
                   cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in " ".join(proc.stderr.split())
    assert list(tmp_path.iterdir()) == []  # no store, no folder


@pytest.mark.parametrize(("args", "message"), [
    (["--alpha", "0"], "--alpha must be a number between 0 and 1"),
    (["--model", "nowhere"], "no model at nowhere: no such folder"),
    (["--data", "{one_class}"], "the outcome has no non-events (all resorbed) among"),
])
def test_bad_input_exits_2_and_registers_nothing(tmp_cwd, one_class_file, args, message):
    from typer.testing import CliRunner

    from resorb.cli import app

    args = [a.replace("{one_class}", str(one_class_file)) for a in args]
    source = [] if "--data" in args else ["--synthetic", "200"]
    model = [] if "--model" in args else ["--model", str(REFERENCE)]
    result = CliRunner().invoke(app, ["--params", str(FAST_PARAMS), "update", *model,
                                      *source, *args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in " ".join(result.output.split())
    assert not (tmp_cwd / "mlflow.db").exists()
    assert not (tmp_cwd / "mlartifacts").exists()


@pytest.mark.slow
def test_update_registers_a_version_that_names_its_parent(tmp_path):
    proc = _resorb("update", "--model", str(REFERENCE), "--synthetic", "300", "--seed", "3",
                   "--method", "intercept", "--out", "updated", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "registered: resorb version 1 (parent folder reference" in proc.stdout
    from resorb.scoring.model import load_model

    exported = load_model(tmp_path / "updated")
    record = exported.metadata.update
    assert record.method == "intercept" and record.requested == "intercept"
    assert record.parent.startswith("folder reference")
    assert record.parent_skops_sha256 == load_model(REFERENCE).metadata.skops_sha256
    assert record.tests[0].method == "keep"
    assert record.rows > 200 and 0 < record.prevalence < 1
    assert exported.metadata.data_source.preset == "other_hospital"
    assert (tmp_path / "mlflow.db").is_file()
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("resorb").experiment_id])
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "update")}
    assert logged == {"update/closed_test.csv", "update/parent_on_new_data.csv"}
    assert run.data.params["update.method"] == "intercept"
    assert run.data.tags["update_method"] == "intercept" and "auroc" in run.data.metrics
    cohort = make_cohort(50, 8, "other_hospital")
    from resorb.features import model_input

    p = exported.predict(model_input(cohort))
    assert np.all((p > 0) & (p < 1))
    reference = load_model(REFERENCE).predict(model_input(cohort))
    assert np.mean(p) < np.mean(reference)  # the other hospital resorbs less often
    pd.testing.assert_index_equal(pd.Index(exported.features), pd.Index(
        load_model(REFERENCE).features))


@pytest.mark.parametrize(("parent_name", "method", "linear"), [
    ("logistic", "intercept", True),
    ("hist_gradient_boosting", "intercept", False),
    ("hist_gradient_boosting", "revise", True),  # its revision terms need a reference
    ("hist_gradient_boosting", "refit", False),
])
def test_scoring_gives_a_reference_sample_where_one_is_needed(updated, parent_name, method,
                                                              linear):
    from resorb.scoring.model import LoadedModel
    from tests.factories import model_card

    model = updated[parent_name, method]
    loaded = LoadedModel(model, model_card(), "resorb", "2", "test", Path("."),
                         tuple(model.feature_names_in_))
    assert loaded.is_linear is linear


def test_the_card_records_the_update_and_old_cards_still_load():
    from resorb.card import ModelCard, UpdateRecord, UpdateTest
    from tests.factories import model_card

    record = UpdateRecord(
        parent="resorb version 3", parent_version="3", parent_skops_sha256="cd" * 32,
        parent_candidate="logistic", requested="auto", method="intercept", alpha=0.05,
        tests=(UpdateTest(method="keep", against="revise", chi2=40.1, df=11, p=3e-5,
                          rejected=True),
               UpdateTest(method="intercept", against="revise", chi2=9.0, df=10, p=0.53,
                          rejected=False)),
        intercept=-1.02, slope=1.0, data_sha256="ef" * 32, rows=240, events=70,
        prevalence=0.2917)
    card = model_card(update=record)
    assert ModelCard.from_json(card.to_json()) == card
    from resorb.scoring.model import LoadedModel

    described = LoadedModel(None, card, "resorb", "4", "test", Path("."), ()).describe()
    assert described.startswith("resorb version 4 (")
    assert "resorb version 3 updated by intercept on " in described
    assert model_card().update is None
    reference = ModelCard.from_json((REFERENCE / "artifacts" / "resorb.json").read_bytes())
    assert reference.update is None


def test_a_refit_too_big_for_the_data_is_a_training_error():
    from resorb.jobs import _refit_errors

    message = (r"refitting candidate 'random_forest' on 5 rows \(2 resorbed, 3 not\) failed: "
               r"n_splits=3 .*; use a less extensive method")
    with pytest.raises(TrainingError, match=message), \
            _refit_errors("refit", "random_forest", [1, 1, 0, 0, 0]):
        raise ValueError("n_splits=3 cannot be greater than the members of each class")
    with pytest.raises(ValueError, match="a bug"), _refit_errors("intercept", "x", [0, 1]):
        raise ValueError("a bug")


@pytest.mark.parametrize(("make", "out", "message"), [
    (lambda d: (d / "mine").mkdir() or (d / "mine" / "notes.txt").write_text("x"), "mine",
     "holds files that are not an exported resorb model (notes.txt)"),
    (lambda d: (d / "a_file").write_text("x"), "a_file", "is a file"),
    (lambda d: None, "/proc/updated", "cannot write in /proc"),
    (lambda d: None, "missing/updated", "does not exist; create it first"),
])
def test_an_out_folder_that_cannot_take_the_model_is_refused_before_any_work(
        tmp_path, make, out, message):
    """Checked first: no fit, no store, nothing registered, the user's files untouched."""
    make(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    proc = _resorb("update", "--model", str(REFERENCE), "--synthetic", "200", "--out", out,
                   cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in " ".join(proc.stderr.split())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
