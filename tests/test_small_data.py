"""Small data: predictors the training rows do not inform, and splits too small to fit.

Two kinds of failure a clinic with 40 to 400 patients meets (issue 9, item 6):

- a predictor with no observed value, or one value only, in the training rows is named by
  ``validate --purpose training``, ``train`` and ``compare``, left out of the model (its
  values change no prediction), recorded in the model card, and listed in ``out_of_range``
  when a value is given for it at scoring time;
- a cross-validation, recalibration or site split with fewer events than it needs is an
  exit 2 naming the split, its counts and a fix, never a traceback.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb.card import DataSource, ModelCard
from resorb.cli import app
from resorb.cohort import make_cohort
from resorb.config import CandidateSpec, Params
from resorb.errors import TrainingError
from resorb.features import (
    EncodeIfObserved,
    build_preprocessor,
    describe_unused,
    model_input,
    unused_predictors,
)
from resorb.intake import conform
from resorb.jobs import TrainingData, _card, check_training_data
from resorb.models import build_model, predict_resorption
from resorb.scoring import load_model, score_file
from resorb.scoring.frame import UNUSED_REASON, gave_unused, out_of_range, unused_inputs
from resorb.serialization import save_estimator
from resorb.splits import (
    DataCounts,
    check_split_capacity,
    outer_folds,
    small_data_errors,
)
from resorb.training import make_folds, prepare, train_candidate
from tests.factories import FAST_PARAMS, contract_checks, model_card, random_canonical

runner = CliRunner()
RESORB = Path(sys.executable).with_name("resorb")
#: optional predictors a hospital may never record (each may be blank in a valid file)
NEVER_RECORDED = ("bmi", "smoker", "diabetes", "rim_enhancement", "multifidus_fat_pct")


# --------------------------------------------------------------------------------- factories


def outcome(n: int, events: int, seed: int = 0) -> np.ndarray:
    """``n`` outcomes, ``events`` of them 1, at random places."""
    y = np.zeros(n, dtype=int)
    y[np.random.default_rng(seed).choice(n, events, replace=False)] = 1
    return y


def sites(y: np.ndarray, n_sites: int | None, seed: int = 0,
          events_together: bool = False) -> np.ndarray | None:
    """Site labels, round robin over a random order (or every event at the first site)."""
    if n_sites is None:
        return None
    rng = np.random.default_rng(seed + 1)
    labels = np.array([f"hospital-{i}" for i in range(n_sites)], dtype=object)
    codes = rng.permutation(np.arange(y.size) % n_sites)
    if events_together:
        codes = np.where(y == 1, 0, np.maximum(codes, 1 if n_sites > 1 else 0))
    return labels[codes]


def cohort(n: int, events: int | None, n_sites: int | None = None, seed: int = 0,
           blank: tuple[str, ...] = (), **constant: object) -> pd.DataFrame:
    """A canonical training frame with exactly ``events`` resorbed rows (None: the factory's
    learnable outcome), ``n_sites`` sites, the ``blank`` predictors never recorded and the
    ``constant`` ones holding one value."""
    frame = random_canonical(n, seed=seed, missing=0.1)
    if events is None:
        y = frame["resorbed"].to_numpy(dtype=int)
    else:
        y = outcome(n, events, seed)
        frame = frame.assign(resorbed=pd.array(y.astype(bool), dtype="boolean"))
    site = sites(y, n_sites, seed)
    frame["site"] = pd.Series(site if site is not None else [None] * n, dtype=frame["site"].dtype)
    for name in blank:
        frame[name] = frame[name].where(np.zeros(n, dtype=bool))
    for name, value in constant.items():
        frame[name] = pd.Series([value] * n, dtype=frame[name].dtype)
    return frame


@pytest.fixture(scope="module")
def fast() -> Params:
    return Params.resolve(FAST_PARAMS)


@pytest.fixture(scope="module")
def fast_folds(fast) -> Params:
    """``fast`` with the forest recalibrated on 3-fold refits, not out-of-bag predictions."""
    forest = fast.candidates["random_forest"].model_copy(update={"calibration_data": "folds"})
    return fast.model_copy(update={"candidates": {**fast.candidates, "random_forest": forest}})


def calibrated(folds: int = 3, method: str = "sigmoid") -> CandidateSpec:
    return CandidateSpec(kind="random_forest", calibration=method, calibration_folds=folds,
                         params={"n_estimators": 10, "min_samples_leaf": 5})


PLAIN = CandidateSpec(kind="logistic", params={"C": 1.0, "spline_knots": 4})


# ------------------------------------------------------------- predictors the rows do not inform


@pytest.mark.parametrize("values, expected", [
    ([None] * 6, "no observed value in 6 rows"),
    ([1.0] * 6, "one value only (6 of 6 rows observed)"),
    ([1.0, None, 1.0, None, None, 1.0], "one value only (3 of 6 rows observed)"),
    ([1.0, 2.0, None, None, None, None], None),
    ([0.0, 1.0, 0.0, 0.0, 0.0, 0.0], None),
])
def test_unused_predictors_of_each_kind(values, expected):
    X = model_input(pd.DataFrame({"bmi": values, "smoker": values,
                                  "level": [None if v is None else "L4-L5" if v == 1.0
                                            else "L5-S1" for v in values]}))
    found = unused_predictors(X)
    for name in ("bmi", "smoker", "level"):
        assert found.get(name) == expected
    assert "followup_days" not in found  # the horizon is not a predictor


def test_the_horizon_is_never_unused_even_when_constant():
    X = model_input(pd.DataFrame({"followup_days": [365.0] * 5, "age": [30.0, 40, 50, 60, 70]}))
    assert "followup_days" not in unused_predictors(X)
    ct = build_preprocessor("linear").fit(X)
    assert any(f.startswith("followup_days__") for f in ct.get_feature_names_out())


def test_describe_unused_names_every_predictor_and_why():
    text = describe_unused({"bmi": "no observed value in 40 rows",
                            "level": "one value only (40 of 40 rows observed)"})
    assert text.startswith("2 predictors will be left out")
    assert "bmi: no observed value in 40 rows" in text and "level: one value only" in text
    assert "out_of_range" in text
    assert describe_unused({}) == ""


@contract_checks([EncodeIfObserved()])
def test_encode_if_observed_honours_the_estimator_contract(estimator, check):
    check(estimator)


def test_encode_if_observed_leaves_out_a_constant_column_and_keeps_a_varying_one():
    from sklearn.preprocessing import StandardScaler

    X = pd.DataFrame({"bmi": [np.nan] * 4})
    left_out = EncodeIfObserved(StandardScaler()).fit(X)
    assert not left_out.used_ and left_out.encoding_ is None
    assert left_out.transform(pd.DataFrame({"bmi": [20.0, 30.0]})).shape == (2, 0)
    assert left_out.get_feature_names_out().tolist() == []
    kept = EncodeIfObserved(StandardScaler()).fit(pd.DataFrame({"bmi": [20.0, 30.0]}))
    assert kept.used_ and kept.get_feature_names_out().tolist() == ["bmi"]
    with pytest.raises(Exception, match="min_distinct"):
        EncodeIfObserved(min_distinct=0).fit(X)


@pytest.fixture(scope="module")
def uninformed(fast):
    """120 labelled rows: five predictors never recorded, the level always L4-L5."""
    frame = cohort(120, None, blank=NEVER_RECORDED, level="L4-L5", seed=3)
    data, X, _ = prepare(frame, fast)
    return frame, data, X


@pytest.mark.parametrize("name", ["logistic", "hist_gradient_boosting", "random_forest",
                                  "mixture_cure"])
def test_uninformed_predictors_fit_without_warnings_and_change_no_prediction(uninformed, fast,
                                                                             name):
    # pytest turns every warning into an error (pyproject.toml): the 180 RuntimeWarnings of
    # a scaler on an all-missing column would fail this test
    _, data, X = uninformed
    model = build_model(fast.candidates[name], seed=0).fit(X, data.y)
    expected = {*NEVER_RECORDED, "level"}
    assert set(unused_predictors(X)) == expected
    pipeline = model.calibrated_classifiers_[0].estimator if hasattr(
        model, "calibrated_classifiers_") else model
    fitted = pipeline.named_steps["features"].named_transformers_
    assert {v for v in expected if not fitted[v].used_} == expected
    given = X.assign(bmi=35.0, smoker=1.0, diabetes=1.0, rim_enhancement="complete",
                     multifidus_fat_pct=40.0, level="L1-L2")
    np.testing.assert_array_equal(predict_resorption(model, X),
                                  predict_resorption(model, given))
    changed = X.assign(followup_days=X["followup_days"][::-1].to_numpy())
    assert not np.array_equal(predict_resorption(model, X), predict_resorption(model, changed))


def test_validate_for_training_names_them_and_other_purposes_do_not(uninformed, tmp_path):
    frame, _, _ = uninformed
    _, report = conform(frame, purpose="training")
    assert report.ok and len(report.notes) == 1
    for name in (*NEVER_RECORDED, "level"):
        assert f"{name}: " in report.notes[0]
    assert conform(frame, purpose="scoring")[1].notes == ()
    path = tmp_path / "clinic.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path), "--purpose", "training"])
    assert result.exit_code == 0, result.output
    assert "warning: 6 predictors will be left out" in result.output
    assert "bmi: no observed value in 120 rows" in result.output
    assert "valid: 120 rows" in result.output
    plain = runner.invoke(app, ["validate", str(path)])
    assert plain.exit_code == 0 and "warning" not in plain.output


@pytest.fixture(scope="module")
def uninformed_model(uninformed, fast, tmp_path_factory):
    """The logistic candidate trained on the uninformed rows, exported with its card."""
    frame, _, _ = uninformed
    result = train_candidate(frame, "logistic", fast, seed=0)
    card = _card(result, DataSource("real"), fast, 0.5)
    folder = tmp_path_factory.mktemp("uninformed") / "model"
    (folder / "artifacts").mkdir(parents=True)
    skops = save_estimator(result.model, folder / "artifacts" / "model.skops")
    (folder / "artifacts" / "resorb.json").write_text(card.with_skops_hash(skops).to_json())
    return folder, card


def test_the_card_records_unused_predictors_without_ranges(uninformed_model):
    _, card = uninformed_model
    assert set(card.unused_predictors) == {*NEVER_RECORDED, "level"}
    assert all(card.training_ranges[name] is None for name in card.unused_predictors)
    assert card.training_ranges["age"] is not None
    again = ModelCard.from_json(card.with_skops_hash(__file__).to_json())
    assert again.unused_predictors == card.unused_predictors


def test_a_card_written_before_the_field_still_loads():
    text = model_card().to_json()
    assert '"unused_predictors"' in text
    import json

    old = json.loads(text)
    del old["unused_predictors"]
    assert ModelCard.from_json(json.dumps(old)).unused_predictors == ()


@pytest.mark.parametrize("X, ranges, unused, expected", [
    (pd.DataFrame({"bmi": [30.0, np.nan]}), {"bmi": None}, ("bmi",),
     [f"bmi ({UNUSED_REASON})", ""]),
    # a card without the field: a predictor without a range was never observed
    (pd.DataFrame({"bmi": [30.0, np.nan]}), {"bmi": None}, (),
     [f"bmi ({UNUSED_REASON})", ""]),
    (pd.DataFrame({"level": ["L1-L2", "L4-L5"]}), {"level": ["L4-L5"]}, ("level",),
     [f"level ({UNUSED_REASON})", f"level ({UNUSED_REASON})"]),
    (pd.DataFrame({"age": [10.0, 50.0], "bmi": [20.0, 20.0]}),
     {"age": [18.0, 90.0], "bmi": None}, ("bmi",),
     [f"bmi ({UNUSED_REASON}), age (10 < 18)", f"bmi ({UNUSED_REASON})"]),
    (pd.DataFrame({"followup_days": [365.0]}), {"followup_days": None}, (), [""]),
])
def test_out_of_range_lists_values_given_for_unused_predictors(X, ranges, unused, expected):
    text = out_of_range(X, ranges, unused)
    assert text.tolist() == expected
    assert gave_unused(pd.Series(text)).tolist() == [UNUSED_REASON in t for t in expected]


def test_scoring_lists_and_counts_values_given_for_unused_predictors(uninformed_model,
                                                                    tmp_path):
    folder, card = uninformed_model
    model = load_model(folder)
    assert set(unused_inputs(model)) == set(card.unused_predictors)
    frame = make_cohort(30, seed=8).drop(columns=["resorbed", "volume_followup_mm3"])
    frame.loc[frame.index[:10], "bmi"] = pd.NA
    source = tmp_path / "candidates.csv"
    frame.to_csv(source, index=False)
    summary = score_file(source, tmp_path / "scored.csv", model, explain_k=0)
    scored = pd.read_csv(tmp_path / "scored.csv", keep_default_na=False)
    listed = scored["out_of_range"].str.contains(f"bmi ({UNUSED_REASON})", regex=False)
    assert listed.tolist() == frame["bmi"].notna().tolist()
    assert summary.unused_given == int(gave_unused(scored["out_of_range"]).sum()) > 0
    assert set(summary.unused_predictors) == set(card.unused_predictors)
    cli = runner.invoke(app, ["score", "-i", str(source), "-o", str(tmp_path / "cli.csv"),
                              "--model", str(folder), "--explain", "0"])
    assert cli.exit_code == 0, cli.output
    assert (f"{summary.unused_given} scored rows gave values for predictors the model does "
            f"not use") in cli.output


def test_explanations_give_unused_predictors_nothing(uninformed_model, uninformed):
    from resorb.explain import explain

    folder, card = uninformed_model
    _, _, X = uninformed
    model = load_model(folder)
    for rows in (1, 3):  # a background as small as the rows explained
        expl = explain(model.estimator, X.head(rows), background=X.head(rows))
        # a variable the model does not use contributes nothing (or has no column at all)
        shown = expl.values.reindex(columns=list(card.unused_predictors), fill_value=0.0)
        assert (shown == 0).all().all()


# ------------------------------------------------------------------------ splits too small


SHAPES = [  # rows, events, sites (None: no site column)
    (n, e, s) for n, e, s in itertools.product((10, 20, 40, 60), (1, 2, 3, 4, 5),
                                               (None, 1, 2, 3, 4, 6))]


@pytest.mark.parametrize("folds", [2, 3, 5])
@pytest.mark.parametrize("n, events, n_sites", SHAPES)
def test_every_small_shape_is_checked_with_its_counts(n, events, n_sites, folds, fast):
    y = outcome(n, events, seed=n + events)
    groups = sites(y, n_sites, seed=n)
    training = fast.training.model_copy(update={"folds": folds})
    specs = {"plain": PLAIN, "calibrated": calibrated(3), "isotonic": calibrated(2, "isotonic")}
    try:
        counts = check_split_capacity(y, groups, training, specs, seed=1)
    except TrainingError as exc:
        message = str(exc)
        assert f"{n} rows: {events} event" in message
        assert "fix: " in message and " has " in message
        assert "Traceback" not in message and "hospital-" not in message  # no site names
        return
    assert (counts.rows, counts.events) == (n, events)
    # what the check promises, counted independently
    splits, method = make_folds(y, groups, folds, training.repeats, 1)
    sets = [np.arange(n)] + [train for train, _ in splits]
    for rows in sets:
        assert min(y[rows].sum(), rows.size - y[rows].sum()) >= 3
    for _, test in splits:
        if not method.startswith("leave-one-site-out"):
            assert 0 < y[test].sum() < test.size


@pytest.mark.parametrize("y, groups, folds, fragments", [
    (outcome(40, 1), None, 5, ["1 event", "more data"]),
    (outcome(40, 2), None, 3, ["3-fold stratified", "has 2 events", "training.folds=2"]),
    (outcome(40, 4), None, 5, ["has 4 events", "training.folds=4"]),
    (np.r_[np.ones(3, int), np.zeros(37, int)],
     np.r_[["a"] * 3, ["b", "c", "d", "e"] * 9, ["b"]], 3,
     ["leave-one-site-out", "site 1 holds all 3 events", "has 0 events",
      "drop the 'site' column (validation is then 3-fold stratified)"]),
    (np.r_[np.ones(2, int), np.zeros(38, int)],
     np.r_[["a"] * 2, ["b", "c"] * 19], 3,
     ["site 1 holds all 2 events", "drop the 'site' column and use fewer folds",
      "training.folds=2"]),
    (np.r_[np.zeros(3, int), np.ones(37, int)],
     np.r_[["z"] * 3, ["b", "c", "d", "e"] * 9, ["b"]], 3,
     ["holds all 3 non-events", "has 37 events and 0 non-events"]),
])
def test_outer_folds_name_the_split_its_counts_and_a_fix(y, groups, folds, fragments):
    with pytest.raises(TrainingError) as caught:
        outer_folds(y, groups, folds, 1, 0)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert "cannot validate on these data (40 rows" in str(caught.value)


def test_the_issue_repro_names_the_recalibration_and_its_fixes(fast_folds):
    # 40 rows, 3 resorbed, 5 sites: leave-one-site-out training sets hold 2 events, the
    # forest's sigmoid recalibration cross-validates in 3 folds (calibration_data: folds;
    # out-of-bag recalibration has no folds to fill)
    fast = fast_folds
    y = np.r_[np.ones(3, int), np.zeros(37, int)]
    groups = np.array([f"site_{c}" for c in "ABCDE" * 8], dtype=object)
    with pytest.raises(TrainingError) as caught:
        check_split_capacity(y, groups, fast.training, fast.candidates, seed=0)
    message = str(caught.value)
    for fragment in ("40 rows: 3 events (resorbed), 37 non-events, 5 sites",
                     "leave-one-site-out (5 sites)", "random_forest: its sigmoid "
                     "recalibration cross-validates in 3 stratified folds",
                     "has 2 events and 30 non-events",
                     "calibration_folds=2 compare", "calibration=none compare",
                     "--candidate logistic --candidate mixture_cure --candidate "
                         "hist_gradient_boosting"):
        assert fragment in message
    assert "site_" not in message
    forest = {"random_forest": fast.candidates["random_forest"]}
    with pytest.raises(TrainingError) as train:
        check_split_capacity(y, groups, fast.training, forest, seed=0, command="train")
    assert "another candidate (--model logistic)" in str(train.value)
    fewer = fast.candidates["random_forest"].model_copy(update={"calibration_folds": 2})
    assert check_split_capacity(y, groups, fast.training, {"random_forest": fewer},
                                seed=0).events == 3


def test_every_fitting_set_of_a_recalibrated_candidate_is_counted():
    y = np.r_[np.ones(3, int), np.zeros(20, int)]
    training = Params.default().training.model_copy(update={"folds": 3})
    with pytest.raises(TrainingError, match=r"\(4 of 4 fitting sets fall short\) has 2 events"):
        check_split_capacity(y, None, training, {"rf": calibrated(4)}, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("n, events, n_sites, name, calibration_folds, fits", [
    (10, 3, None, "logistic", 3, True), (30, 4, 3, "hist_gradient_boosting", 3, True),
    (30, 4, 3, "random_forest", 3, False), (30, 4, 3, "random_forest", 2, True),
    (30, 4, 3, "random_forest", 0, True), (40, 3, 5, "logistic", 3, False)])
def test_what_passes_the_check_really_fits(n, events, n_sites, name, calibration_folds, fits,
                                           fast):
    # calibration_folds 0: the forest recalibrated on its out-of-bag predictions
    frame = cohort(n, events, n_sites, seed=n)
    data = TrainingData(frame, DataSource("real"))
    update = ({"calibration_data": "out_of_bag"} if calibration_folds == 0 else
              {"calibration_folds": calibration_folds, "calibration_data": "folds"})
    params = fast.model_copy(update={"candidates": {name: fast.candidates[name].model_copy(
        update=update)}})
    if not fits:
        with pytest.raises(TrainingError, match=f"{n} rows: {events} events .* fix: "):
            check_training_data(data, params, [name], seed=fast.training.seed)
        return
    checked = check_training_data(data, params, [name], seed=fast.training.seed)
    with small_data_errors(checked.counts, "test"):
        result = train_candidate(frame, name, params)
    assert np.isfinite(predict_resorption(result.model, result.X)).all()


def test_splines_fit_on_fewer_distinct_values_than_knots(fast):
    # quantile knots of 10 rows with two distinct durations coincide; the spline basis
    # still fits, without warnings, and a value between them predicts between
    frame = cohort(10, 3, seed=2).assign(
        symptom_duration_days=pd.array([30, 90] * 5, dtype="Int64"),
        age=[30.0, 60.0] * 5)
    data, X, _ = prepare(frame, fast)
    model = build_model(fast.candidates["logistic"], seed=0).fit(X, data.y)
    assert np.isfinite(predict_resorption(model, X.assign(symptom_duration_days=60.0))).all()


def test_optimism_resamples_keep_the_events_of_all_rows():
    # what check_split_capacity relies on: no resample of the optimism bootstrap (or of the
    # metric intervals) holds fewer events than all rows, so none has a single class
    from resorb.metrics.bootstrap import resample_counts

    y = outcome(12, 2)
    for counts in resample_counts(y, 200, 0, None):
        assert counts @ y == 2 and counts.sum() == 12


def test_one_outcome_class_is_a_training_error(fast):
    frame = cohort(30, 0)
    with pytest.raises(TrainingError, match="no events"):
        check_training_data(TrainingData(frame, DataSource("real")), fast, ["logistic"], 0)


def test_scikit_learn_small_data_errors_become_training_errors():
    X = model_input(cohort(20, 2))
    y = outcome(20, 2)
    counts = DataCounts.of(y)
    with pytest.raises(TrainingError) as caught, small_data_errors(counts, "fitting rf"):
        build_model(calibrated(3)).fit(X, y)
    assert "fitting rf failed" in str(caught.value)
    assert "20 rows: 2 events (resorbed), 18 non-events" in str(caught.value)
    assert "Requesting 3-fold cross-validation" in str(caught.value)
    # anything else is a bug and passes through unchanged
    with pytest.raises(ValueError, match=r"^boom$"), small_data_errors(counts, "x"):
        raise ValueError("boom")
    with pytest.raises(KeyError), small_data_errors(counts, "x"):
        raise KeyError("age")


# ----------------------------------------------------------------- the real command line


def _resorb(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([str(RESORB), "--params", str(FAST_PARAMS), *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def repro_file(tmp_path_factory) -> Path:
    """The issue's file: 40 rows, 3 resorbed, 5 sites."""
    frame = make_cohort(200, seed=1)
    frame = frame[~frame["surgery"].astype(bool)]
    frame = pd.concat([frame[frame["resorbed"].astype(bool)].head(3),
                       frame[~frame["resorbed"].astype(bool)].head(37)], ignore_index=True)
    frame["site"] = [f"site_{c}" for c in "ABCDE" * 8]
    path = tmp_path_factory.mktemp("repro") / "f.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_cli_compare_on_the_issue_repro_exits_2_with_counts_and_writes_nothing(repro_file,
                                                                             tmp_path):
    out = _resorb(tmp_path, "--set", "candidates.random_forest.calibration_data=folds",
                  "compare", "--data", str(repro_file))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "40 rows: 3 events (resorbed), 37 non-events, 5 sites" in out.stderr
    assert "calibration_folds=2" in out.stderr
    assert not (tmp_path / "mlflow.db").exists()  # checked before the store is opened


@pytest.mark.slow
@pytest.mark.parametrize("n, events, n_sites, command", [
    (20, 1, None, "train"), (30, 2, 3, "compare")])
def test_cli_small_shapes_exit_0_or_2_never_1(tmp_path, n, events, n_sites, command):
    path = tmp_path / "small.csv"
    cohort(n, events, n_sites, seed=n).to_csv(path, index=False)
    out = _resorb(tmp_path, command, "--data", str(path))
    assert out.returncode in (0, 2), out.stderr
    assert "Traceback" not in out.stderr
    if out.returncode == 2:
        assert f"{n} rows: {events} event" in out.stderr and "fix: " in out.stderr


@pytest.mark.slow
def test_cli_train_names_never_recorded_predictors_without_runtime_warnings(tmp_path):
    frame = make_cohort(200, seed=1)
    for name in NEVER_RECORDED:
        frame[name] = frame[name].where(np.zeros(len(frame), dtype=bool))
    path = tmp_path / "blank.csv"
    frame.to_csv(path, index=False)
    out = _resorb(tmp_path, "train", "--data", str(path))
    assert out.returncode == 0, out.stderr
    assert "RuntimeWarning" not in out.stderr
    assert "warning: 5 predictors will be left out" in out.stderr
    for name in NEVER_RECORDED:
        assert f"{name}: no observed value" in out.stderr
