"""Predictor sets: declared in the data dictionary, trained on, recorded, and all scoring needs.

A model trained on a set (``--predictors routine``) needs, and scoring reads, only its own
predictors: a file with the routine columns alone is scored, a value given for a predictor
outside the set is ignored (never validated, never used: perturbing it changes nothing), and
a file fitting no shipped model is refused with what each model would still need. The shipped
routine reference predictor (``models/routine``) is checked end to end through the real
``resorb`` command and a plain MLflow client.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resorb import schema
from resorb.card import DataSource, ModelCard
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.errors import ConfigError, DataValidationError, InputError
from resorb.features import model_input
from resorb.files import write_table
from resorb.scoring import score_file
from resorb.scoring.frame import (
    check_columns,
    read_columns,
    required_columns,
    score_frame,
    validate_for_model,
)
from resorb.scoring.model import NoModelFitsError, load_for_predictors, load_model
from tests.factories import FAST_PARAMS

REPO = Path(__file__).resolve().parents[1]
RESORB = Path(sys.executable).with_name("resorb")
ROUTINE_FOLDER = REPO / "models" / "routine"
REFERENCE_FOLDER = REPO / "models" / "reference"
SPIDER = REPO / "examples" / "spider_radiological_gradings.csv"
SPIDER_MAPPING = REPO / "examples" / "spider_mapping.yaml"
ROUTINE = schema.PREDICTOR_SETS["routine"].members
OUTSIDE = tuple(p for p in schema.PREDICTORS if p not in ROUTINE)
SETS = {"full": schema.PREDICTORS, "routine": ROUTINE,
        "herniation_type,rim_enhancement": ("herniation_type", "rim_enhancement")}
#: what a hospital adds to the SPIDER gradings to score them (examples/README.md)
SPIDER_ADDS = ("age", "sex", "symptom_duration_days", "vas_leg", "slr_positive",
               "motor_deficit", "sensory_deficit", "treatment", "herniation_type",
               "migration_grade", "cauda_equina", "progressive_motor_deficit")


def candidates_only(frame: pd.DataFrame, predictors: tuple[str, ...]) -> pd.DataFrame:
    """Rows to score with the identifiers, red flags and ``predictors`` only."""
    keep = [c for c in frame.columns if c in predictors or c in schema.IDENTIFIERS
            or c in schema.RED_FLAGS]
    return frame[keep].copy()


# --------------------------------------------------------------------------- the dictionary
def test_every_predictor_has_a_routine_reason_and_full_is_every_predictor():
    assert set(schema.ROUTINE_MEMBERSHIP) == set(schema.PREDICTORS)
    assert all(len(why) > 20 for _, why in schema.ROUTINE_MEMBERSHIP.values())
    assert schema.PREDICTOR_SETS["full"].members == schema.PREDICTORS
    # the bar: no volumetry, no multifidus fat, no ODI in the routine set
    assert {"herniation_volume_mm3", "multifidus_fat_pct", "odi"} <= set(OUTSIDE)
    assert {"herniation_type", "level", "migration_grade", "modic_type", "pfirrmann_grade",
            "rim_enhancement", "age", "sex", "symptom_duration_days", "vas_leg",
            "slr_positive", "motor_deficit"} <= set(ROUTINE)
    table = schema.predictor_sets_frame()
    assert list(table["predictor"]) == list(schema.PREDICTORS)
    assert table["routine"].sum() == len(ROUTINE)


def test_resorb_schema_sets_prints_each_predictors_membership_and_why():
    from typer.testing import CliRunner

    from resorb.cli import app

    done = CliRunner().invoke(app, ["schema", "--sets", "--format", "csv"])
    assert done.exit_code == 0, done.output
    printed = pd.read_csv(io.StringIO(done.output))
    assert list(printed["predictor"]) == list(schema.PREDICTORS)
    assert set(printed.loc[printed["routine"], "predictor"]) == set(ROUTINE)
    assert printed["why (routine)"].str.len().min() > 20


@pytest.mark.parametrize(("selection", "expected"), [
    ("full", schema.PREDICTORS),
    ("routine", ROUTINE),
    (" rim_enhancement , herniation_type ", ("herniation_type", "rim_enhancement")),
    ("routine,herniation_volume_mm3",
     tuple(p for p in schema.PREDICTORS if p in ROUTINE or p == "herniation_volume_mm3")),
])
def test_a_selection_is_a_set_names_or_both_in_dictionary_order(selection, expected):
    assert schema.resolve_predictors(selection) == expected
    assert Params.default().with_predictors(selection).training.predictor_columns == expected


@pytest.mark.parametrize(("selection", "match"), [
    ("routin", "'routin' is neither a predictor set nor a predictor"),
    ("routine,resorbed", r"'resorbed' is never a predictor \(role: outcome\)"),
    ("patient_id", r"never a predictor \(role: identifier\)"),
    (",", "no predictors selected"),
])
def test_an_unknown_selection_is_refused_naming_the_choices(selection, match):
    with pytest.raises(ValueError, match=match):
        schema.resolve_predictors(selection)
    with pytest.raises(ConfigError, match=r"training\.predictors"):
        Params.resolve(FAST_PARAMS, {"training.predictors": selection})


def test_a_set_limits_every_candidate_and_full_leaves_them_as_declared(fast_params):
    for name, spec in fast_params.candidates.items():
        assert fast_params.candidate(name) == spec  # full: unchanged, nothing logged anew
        limited = fast_params.with_predictors("routine").candidate(name)
        assert limited.params["predictors"] == list(ROUTINE)
        assert {k: v for k, v in limited.params.items() if k != "predictors"} == spec.params


def test_scoring_requires_the_models_own_predictors_only():
    features = (*ROUTINE, "followup_days")
    need = required_columns(features)
    assert set(need) == {"patient_id", "cauda_equina", "progressive_motor_deficit",
                         *(p for p in ROUTINE if schema.BY_NAME[p].required)}
    assert "rim_enhancement" not in need  # optional: missing means no contrast
    assert not set(OUTSIDE) & set(read_columns(features))
    header = [*need, "odi", "t2_signal", "resorbed"]
    assert check_columns(header, features) == ("odi", "t2_signal", "resorbed")
    with pytest.raises(DataValidationError, match="'age' is required but absent"):
        check_columns([c for c in need if c != "age"], features)


# --------------------------------------------------------------- training on each set
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One logistic model per predictor set, trained, registered and exported (real MLflow);
    cross-validated, not bootstrapped (the sets, not the validation, are under test)."""
    import mlflow

    from resorb import tracking
    from resorb.jobs import TrainingData, train_job

    root = tmp_path_factory.mktemp("predictor-sets")
    frame = make_cohort(900, seed=15)
    quick = Params.resolve(FAST_PARAMS, {"training.optimism_below_rows": 100,
                                         "training.n_boot": 10})
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        tracking.configure()
        try:
            for selection in SETS:
                params = quick.with_predictors(selection)
                data = TrainingData(frame, DataSource("synthetic", "literature", 15, 900))
                result = train_job(data, params, "logistic", register=True)
                folder = tracking.export(f"models:/resorb/{result.version}",
                                         root / "export" / selection.replace(",", "+"))
                out[selection] = folder
        finally:
            mlflow.set_tracking_uri(None)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("selection", list(SETS))
def test_each_set_trains_registers_scores_and_explains(trained, selection):
    from resorb.explain import explain

    model = load_model(trained[selection])
    wanted = SETS[selection]
    assert model.predictors == wanted
    assert model.features == model.metadata.features == (*wanted, "followup_days")
    assert model.predictor_set == schema.predictor_set_name(wanted)
    rows = candidates_only(make_cohort(60, seed=77), wanted)
    scored = score_frame(rows, model, explain_k=2)
    assert (scored["status"] == "scored").all()
    assert scored["p_resorption"].between(0, 1).all()
    reasons = scored["reason_1"].str.split(" = ").str[0]
    assert set(reasons) <= set(wanted) | {"followup_days"}
    expl = explain(model.estimator, model_input(rows, columns=model.features))
    assert set(expl.values.columns) <= {*wanted, "followup_days"}


@pytest.mark.slow
def test_the_card_records_the_set_and_an_old_card_reads_as_full(trained):
    card = load_model(trained["routine"]).metadata
    assert card.predictor_set == "routine"
    assert load_model(trained["herniation_type,rim_enhancement"]).predictor_set == "custom"
    old = json.loads((REFERENCE_FOLDER / "artifacts" / "resorb.json").read_text())
    old.pop("predictor_set", None)
    assert ModelCard.from_json(json.dumps(old)).predictor_set == "full"


@pytest.mark.slow
@pytest.mark.parametrize("column", OUTSIDE)
def test_perturbing_a_predictor_outside_the_set_never_changes_a_prediction(trained, column):
    model = load_model(trained["routine"])
    cohort = make_cohort(80, seed=31)
    base = score_frame(cohort, model, explain_k=0)
    col = schema.BY_NAME[column]
    rng = np.random.default_rng(4)
    if col.categories:
        changed = rng.choice(list(col.categories), len(cohort))
    else:  # within range, outside it, and text that breaks the dictionary
        changed = rng.choice(["0", "1", "99999", "-5", "not a number"], len(cohort))
    for value in (changed, None):
        perturbed = score_frame(cohort.assign(**{column: value}), model, explain_k=0)
        assert (perturbed["status"] == "scored").all()
        np.testing.assert_array_equal(perturbed["p_resorption"], base["p_resorption"])
        assert not perturbed["out_of_range"].str.contains(column).any()


@pytest.mark.slow
def test_a_routine_labelled_file_trains_with_the_outside_predictors_ignored(tmp_path,
                                                                             fast_params):
    from resorb.jobs import load_training_data

    cohort = make_cohort(300, seed=8)
    path = write_table(cohort.drop(columns=[c for c in OUTSIDE if c != "odi"])
                       .assign(odi="not a number"), tmp_path / "clinic.csv")
    with pytest.raises(DataValidationError, match="herniation_volume_mm3"):
        load_training_data(path, None, "literature", 1, params=fast_params)
    params = fast_params.with_predictors("routine")
    data = load_training_data(path, None, "literature", 1, params=params)
    assert data.ignored == ("odi",)
    assert not set(OUTSIDE) & set(data.frame.columns)


@pytest.mark.slow
def test_a_command_given_a_set_refuses_a_model_of_another(trained):
    with pytest.raises(InputError, match="trained on the 'routine' predictors, without odi"):
        load_for_predictors(str(trained["routine"]), "routine,odi")
    assert load_for_predictors(str(trained["routine"]), "routine").predictor_set == "routine"


# ------------------------------------------------------ the shipped routine reference predictor
def resorb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([str(RESORB), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def routine_file(tmp_path_factory) -> Path:
    """Candidates with the routine columns only (no volume, no ODI, no T2...)."""
    rows = candidates_only(make_cohort(120, seed=44), ROUTINE)
    return write_table(rows, tmp_path_factory.mktemp("routine") / "clinic.csv")


@pytest.mark.slow
def test_the_routine_reference_scores_a_routine_file_as_a_plain_mlflow_client_does(
        routine_file, tmp_path):
    import mlflow

    card = ModelCard.from_json((ROUTINE_FOLDER / "artifacts" / "resorb.json").read_bytes())
    assert card.predictor_set == "routine"
    out = tmp_path / "scored.csv"
    done = resorb("score", "--input", str(routine_file), "--output", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "routine" in done.stderr or str(ROUTINE_FOLDER) in done.stderr or \
        card.candidate in done.stderr
    scored = pd.read_csv(out)
    assert (scored["status"] == "scored").all()
    frame = pd.read_csv(routine_file)
    plain = mlflow.pyfunc.load_model(str(ROUTINE_FOLDER)).predict(frame)
    np.testing.assert_allclose(scored["p_resorption"], plain["p_resorption"], rtol=0,
                               atol=1e-9)


@pytest.mark.slow
def test_a_file_fitting_no_model_lists_what_each_would_still_need(routine_file, tmp_path,
                                                                 monkeypatch):
    frame = pd.read_csv(routine_file).drop(columns=["age", "vas_leg"])
    path = write_table(frame, tmp_path / "short.csv")
    done = resorb("score", "--input", str(path), "--output", str(tmp_path / "o.csv"),
                  cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "fits none of the available models" in done.stderr
    assert "reference (full predictors) would still need age, vas_leg, vas_back, odi" in \
        done.stderr
    assert "routine (routine predictors) would still need age, vas_leg." in done.stderr
    assert not (tmp_path / "o.csv").exists()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(NoModelFitsError):
        load_model(None, columns=list(frame.columns))


@pytest.mark.slow
def test_validate_against_a_model_ignores_and_lists_the_outside_predictors(routine_file,
                                                                           tmp_path):
    frame = pd.read_csv(routine_file).assign(odi="999", t2_signal="purple")
    path = write_table(frame, tmp_path / "with-extras.csv")
    done = resorb("validate", str(path), "--model", str(ROUTINE_FOLDER), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ignored (not predictors of this model): odi, t2_signal" in done.stderr
    assert "'routine' predictors" in done.stdout


# --------------------------------------------------------------------------------- SPIDER
@pytest.mark.slow
def test_spider_validates_as_far_as_it_can_and_scores_once_a_hospital_adds_its_columns(
        tmp_path):
    from resorb.intake import apply_mapping, load_mapping, read_table

    model = load_model(ROUTINE_FOLDER)
    _, report, ignored, result = validate_for_model(SPIDER, model.features, SPIDER_MAPPING)
    assert result.n_source_rows == 1520 and len(result.frame) == 70
    assert not ignored
    missing = [p.column for p in report.problems if p.rule == "missing_column"]
    assert sorted(missing) == sorted(SPIDER_ADDS)
    assert all(p.rule == "missing_column" for p in report.problems)  # the mapped cells conform

    # what a hospital adds from its notes and the MRI report: plausible values, seeded
    mapped = apply_mapping(read_table(SPIDER), load_mapping(SPIDER_MAPPING)).frame
    rng = np.random.default_rng(2026)
    n = len(mapped)
    added = mapped.assign(
        age=rng.integers(25, 70, n), sex=rng.choice(["female", "male"], n),
        symptom_duration_days=rng.integers(14, 180, n), vas_leg=rng.integers(3, 10, n),
        slr_positive=rng.choice(["true", "false"], n),
        motor_deficit=rng.choice(["true", "false"], n, p=[0.2, 0.8]),
        sensory_deficit=rng.choice(["true", "false"], n),
        treatment=rng.choice(["conservative", "epidural_steroid"], n),
        herniation_type=rng.choice(["protrusion", "extrusion", "sequestration"], n),
        migration_grade=rng.integers(0, 3, n), cauda_equina="false",
        progressive_motor_deficit="false")
    path = write_table(added, tmp_path / "spider_with_clinic.csv")
    summary = score_file(path, tmp_path / "scored.csv", str(ROUTINE_FOLDER), explain_k=0)
    assert summary.scored == n and summary.rejected == 0


# --------------------------------------------------------------------------------- report
def test_the_report_names_the_set_and_shows_the_packaged_loss_table():
    from resorb.report.predictor_sets import predictor_set_facts, read_table
    from resorb.report.render import render_section
    from resorb.report.sections import Section

    card = ModelCard.from_json((ROUTINE_FOLDER / "artifacts" / "resorb.json").read_bytes())
    facts = predictor_set_facts(card)
    assert facts.name == "routine" and facts.predictors == ROUTINE
    assert facts.ignored == OUTSIDE
    table = read_table()
    assert table is not None, "src/resorb/report/predictor_sets.csv is packaged"
    assert {"oracle (true probability)", "full", "routine", "routine without contrast"} <= \
        set(table["selection"])
    assert len(facts.rows) == len(table)
    # the row of the model's set and candidate is bold, when the packaged table measured
    # that candidate (a table older than the card's candidate bolds no row)
    measured = card.candidate in set(table["candidate"])
    assert [(r.predictors, r.model) for r in facts.rows if r.own] == \
        ([("routine", card.candidate)] if measured else [])
    assert [r.predictors for r in facts.rows if r.model == "logistic"].count("routine") == 1
    html = render_section(Section("predictor_sets", "Predictors", facts))
    assert "<b>routine</b> predictors (17)" in html
    assert "multifidus_fat_pct" in html and "oracle (true probability)" in html


@pytest.mark.slow
def test_the_routine_reference_is_reproduced_by_retraining_with_its_card():
    from resorb.models import build_model, predict_resorption
    from resorb.serialization import load_estimator
    from resorb.training import prepare

    card = ModelCard.from_json((ROUTINE_FOLDER / "artifacts" / "resorb.json").read_bytes())
    card.check_skops(ROUTINE_FOLDER / "artifacts" / "model.skops")
    assert card.trained_on == "synthetic:literature (n=20000, seed 2026)"
    params = Params.default().with_predictors(card.predictor_set)
    source = card.data_source
    data, X, _ = prepare(make_cohort(n=source.n_requested, seed=source.seed,
                                     preset=source.preset), params)
    assert tuple(X.columns) == card.features
    retrained = build_model(params.candidate(card.candidate), seed=card.seed).fit(X, data.y)
    shipped = load_estimator(ROUTINE_FOLDER / "artifacts" / "model.skops")
    fresh = model_input(make_cohort(n=2000, seed=99), columns=card.features)
    np.testing.assert_array_equal(predict_resorption(shipped, fresh),
                                  predict_resorption(retrained, fresh))
