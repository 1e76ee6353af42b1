"""compare on several processes: the same bytes for any --jobs, one pass of resamples per
candidate, and the forest recalibrated on its out-of-bag predictions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from resorb.cohort import make_cohort
from resorb.errors import ConfigError, InputError
from resorb.metrics import bootstrap_metrics, bootstrap_net_benefit, paired_bootstrap_difference
from resorb.metrics.bootstrap import bootstrap_evaluation, paired_difference
from resorb.models import (
    OutOfBagCalibratedClassifier,
    _out_of_bag_positive,
    build_model,
    predict_resorption,
)
from resorb.parallel import available_cores, resolve_jobs, run_units
from resorb.serialization import load_estimator, save_estimator
from resorb.training import compare_candidates, prepare, train_candidate
from tests.factories import FAST_PARAMS

RESORB = Path(sys.executable).with_name("resorb")
THRESHOLDS = np.arange(0.05, 0.951, 0.05)


@pytest.fixture(scope="module")
def frame():
    return make_cohort(n=700, seed=5)


@pytest.fixture(scope="module")
def compared(frame, fast_params):
    """compare_candidates with one and with two processes."""
    return {jobs: compare_candidates(frame, fast_params, seed=7, jobs=jobs) for jobs in (1, 2)}


@pytest.mark.slow
def test_one_and_two_processes_give_identical_leaderboards(compared):
    one, two = compared[1], compared[2]
    pd.testing.assert_frame_equal(one.leaderboard, two.leaderboard, check_exact=True)
    pd.testing.assert_frame_equal(one.differences, two.differences, check_exact=True)
    assert one.champion == two.champion
    for name in one.oof:
        assert np.array_equal(one.oof[name], two.oof[name])
        for table in ("metrics", "decision", "calibration", "roc"):
            pd.testing.assert_frame_equal(getattr(one.evaluations[name], table),
                                          getattr(two.evaluations[name], table),
                                          check_exact=True)


@pytest.mark.slow
def test_the_champion_fitted_after_either_predicts_the_same(frame, fast_params, compared):
    champions = [train_candidate(frame, c.champion, fast_params, seed=7,
                                 evaluation=c.evaluations[c.champion])
                 for c in compared.values()]
    X = champions[0].X
    assert np.array_equal(predict_resorption(champions[0].model, X),
                          predict_resorption(champions[1].model, X))


def _draw(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=3)


def test_units_come_back_in_their_order_from_any_number_of_processes():
    units = [(s,) for s in range(5)]
    expected = [_draw(s) for s in range(5)]
    for jobs in (1, 2):
        got = run_units(_draw, units, jobs)
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


@pytest.mark.parametrize(("jobs", "expected"), [(None, available_cores()),
                                                (0, available_cores()), (1, 1), (3, 3)])
def test_jobs_default_to_every_core(jobs, expected):
    assert resolve_jobs(jobs) == expected


def test_negative_jobs_are_refused():
    with pytest.raises(InputError, match=r"--jobs must be a positive number.*got -2"):
        resolve_jobs(-2)


@pytest.fixture(scope="module")
def predictions():
    rng = np.random.default_rng(3)
    truth = rng.uniform(0.05, 0.95, 800)
    y = (rng.uniform(size=800) < truth).astype(float)
    a = np.clip(truth + rng.normal(0, 0.1, 800), 0.01, 0.99)
    b = np.clip(truth + rng.normal(0, 0.2, 800), 0.01, 0.99)
    groups = np.repeat(np.arange(40), 20)
    return y, a, b, groups


@pytest.mark.parametrize("clustered", [False, True])
def test_one_pass_equals_the_separate_bootstraps(predictions, clustered):
    y, a, b, groups = predictions
    g = groups if clustered else None
    one = bootstrap_evaluation(y, a, THRESHOLDS, n_boot=60, seed=4, groups=g)
    pd.testing.assert_frame_equal(one.metrics, bootstrap_metrics(y, a, 60, 4, groups=g),
                                  check_exact=True)
    pd.testing.assert_frame_equal(one.decision,
                                  bootstrap_net_benefit(y, a, THRESHOLDS, 60, 4, groups=g),
                                  check_exact=True)
    other = bootstrap_evaluation(y, b, THRESHOLDS, n_boot=60, seed=4, groups=g)
    paired = paired_difference(one, other)
    separate = paired_bootstrap_difference(y, a, b, 60, 4, groups=g)
    assert list(paired["metric"]) == list(separate["metric"])
    for column in ("difference", "ci_low", "ci_high"):
        np.testing.assert_allclose(paired[column], separate[column], rtol=1e-9, atol=1e-12)


def test_paired_difference_refuses_different_bootstraps(predictions):
    y, a, b, _ = predictions
    with pytest.raises(ValueError, match="same resamples"):
        paired_difference(bootstrap_evaluation(y, a, THRESHOLDS, n_boot=20, seed=1),
                          bootstrap_evaluation(y, b, THRESHOLDS, n_boot=30, seed=1))


@pytest.fixture(scope="module")
def labelled(frame, fast_params):
    data, X, _ = prepare(frame, fast_params)
    return X, data.y


def test_out_of_bag_predictions_are_those_of_scikit_learn(labelled):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=30, max_samples=0.7, oob_score=True,
                                    random_state=2).fit(X, y)
    mean, spread, count = _out_of_bag_positive(forest, X)
    assert (count > 0).all()
    np.testing.assert_allclose(mean, forest.oob_decision_function_[:, 1], rtol=1e-12)
    assert (spread >= 0).all() and count.max() <= 30


def test_the_out_of_bag_forest_is_a_calibrated_classifier_that_saves(labelled, fast_params,
                                                                     tmp_path):
    X, y = labelled
    spec = fast_params.candidates["random_forest"]
    assert spec.calibration_data == "out_of_bag"
    model = build_model(spec, seed=3).fit(X, y)
    assert isinstance(model, OutOfBagCalibratedClassifier)
    assert len(model.calibrated_classifiers_) == 1 and model.oob_rows_ == len(y)
    p = predict_resorption(model, X)
    assert ((p > 0) & (p < 1)).all() and np.unique(p).size > 50
    again = load_estimator(save_estimator(model, tmp_path / "forest.skops"))
    assert np.array_equal(predict_resorption(again, X), p)


def test_out_of_bag_recalibration_needs_a_forest(fast_params):
    spec = fast_params.candidates["logistic"].model_copy(
        update={"calibration": "sigmoid", "calibration_data": "out_of_bag"})
    with pytest.raises(ConfigError, match="out_of_bag needs a random_forest"):
        build_model(spec)
    with pytest.raises(ValueError, match="needs a Pipeline"):
        OutOfBagCalibratedClassifier(build_model(fast_params.candidates["logistic"])).fit(
            np.zeros((4, 2)), np.array([0, 1, 0, 1]))


@pytest.mark.slow
def test_cli_refuses_negative_jobs_before_any_work(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([str(RESORB), "--params", str(FAST_PARAMS), "compare",
                          "--synthetic", "300", "--jobs", "-1"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2, out.stderr
    assert "--jobs" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "mlflow.db").exists()


# ------------------------------------------------------------------- train --jobs


@pytest.fixture(scope="module")
def trained(frame, fast_params):
    """train_candidate with one and with two processes (700 rows: below
    optimism_below_rows, so folds, final fit and the optimism bootstrap all run); the
    boosted trees, whose OpenMP threads are what one thread per process pins (the logistic
    candidate's refits are checked by the optimism test below)."""
    return {jobs: {name: train_candidate(frame, name, fast_params, seed=7, jobs=jobs)
                   for name in ("hist_gradient_boosting",)} for jobs in (1, 2)}


@pytest.mark.slow
def test_train_gives_the_same_bytes_with_one_and_two_processes(trained):
    for name, one in trained[1].items():
        two = trained[2][name]
        assert "optimism-corrected" in one.evaluation.method  # the bootstrap did run
        assert np.isfinite(one.oof).all()
        assert np.array_equal(one.oof, two.oof)
        for table in ("metrics", "decision", "calibration", "roc"):
            pd.testing.assert_frame_equal(getattr(one.evaluation, table),
                                          getattr(two.evaluation, table), check_exact=True)
        assert np.array_equal(predict_resorption(one.model, one.X),
                              predict_resorption(two.model, two.X))


@pytest.mark.slow
def test_train_validates_as_before_the_units(frame, fast_params, trained):
    """The units give what the former serial code gave: out_of_fold, then evaluate."""
    from resorb.training import evaluate, make_folds, out_of_fold

    tp = fast_params.training
    data, X, groups = prepare(frame, fast_params)
    splits, method = make_folds(data.y, groups, tp.folds, tp.repeats, 7)
    got = trained[2]["hist_gradient_boosting"]
    oof = out_of_fold(got.spec, X, data.y, splits, 7)
    assert np.array_equal(oof, got.oof)
    expected = evaluate(data.y, oof, tp, method, 7)
    pd.testing.assert_frame_equal(expected.decision, got.evaluation.decision,
                                  check_exact=True)
    model = build_model(got.spec, seed=7).fit(X, data.y)
    assert np.array_equal(predict_resorption(model, X), predict_resorption(got.model, X))


@pytest.mark.slow
def test_optimism_bootstrap_is_the_same_on_two_processes(frame, fast_params):
    from functools import partial

    from resorb.metrics import optimism_corrected
    from resorb.training import refit_predict

    data, X, _ = prepare(frame, fast_params)
    spec = fast_params.candidate("logistic")
    clusters = np.arange(len(data.y)) % 7  # cluster resamples: the same draw order too
    seen: dict[int, list[int]] = {1: [], 2: []}
    tables = {jobs: optimism_corrected(partial(refit_predict, spec, 3), X, data.y, n_boot=6,
                                       seed=11, groups=clusters, jobs=jobs,
                                       progress=lambda b, n, j=jobs: seen[j].append(b))
              for jobs in (1, 2)}
    pd.testing.assert_frame_equal(tables[1], tables[2], check_exact=True)
    assert seen[1] == list(range(1, 7)) and seen[2][-1] == 6
    assert np.isfinite(tables[1]["optimism"]).all()


@pytest.mark.slow
def test_cli_train_refuses_negative_jobs_before_any_work(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([str(RESORB), "--params", str(FAST_PARAMS), "train",
                          "--synthetic", "300", "--jobs", "-1"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2, out.stderr
    assert "--jobs" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "mlflow.db").exists()
