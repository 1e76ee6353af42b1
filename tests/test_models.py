"""Candidate models: monotone in the horizon, reproducible, and scikit-learn estimators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from resorb.errors import InvalidParameterError
from resorb.features import dictionary_example, model_input
from resorb.models import (
    CandidateSpec,
    HorizonMonotone,
    MonotoneLogisticRegression,
    build_model,
    predict_resorption,
)
from resorb.serialization import load_estimator, save_estimator
from tests.factories import contract_checks, random_canonical

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference" / "artifacts"

SPECS = [
    CandidateSpec(kind="logistic", params={"C": 0.5}),
    CandidateSpec(kind="logistic", calibration="isotonic"),
    CandidateSpec(kind="hist_gradient_boosting", params={"max_iter": 50}),
    CandidateSpec(kind="hist_gradient_boosting", params={"max_iter": 50},
                  calibration="sigmoid"),
    CandidateSpec(kind="random_forest", params={"n_estimators": 30, "min_samples_leaf": 5}),
    CandidateSpec(kind="random_forest", params={"n_estimators": 30}, calibration="isotonic"),
    CandidateSpec(kind="mixture_cure", params={"C": 1.0}),
]
HORIZONS = [1, 14, 30, 45, 60, 90, 120, 180, 270, 365, 540, 730, 1500, 3650]


@pytest.fixture(scope="module")
def data():
    frame = random_canonical(800, seed=3)
    return model_input(frame), frame["resorbed"].to_numpy(dtype=int)


@pytest.mark.slow  # seven fits, about 12 s together
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.calibration}")
def test_probability_never_falls_as_the_horizon_grows(spec, data):
    X, y = data
    model = build_model(spec, seed=0).fit(X, y)
    rows = X.iloc[:150]
    curves = np.column_stack([predict_resorption(model, rows.assign(followup_days=float(d)))
                              for d in HORIZONS])
    assert np.all((curves >= 0) & (curves <= 1))
    assert np.all(np.diff(curves, axis=1) >= -1e-12)
    # the horizon matters: the constraint is not met by ignoring it
    assert np.mean(curves[:, -1] - curves[:, 0]) > 0.01


@pytest.mark.parametrize("spec", SPECS[::2], ids=lambda s: s.kind)
def test_same_seed_same_predictions(spec, data):
    X, y = data
    a = predict_resorption(build_model(spec, seed=7).fit(X, y), X)
    b = predict_resorption(build_model(spec, seed=7).fit(X, y), X)
    np.testing.assert_array_equal(a, b)


def test_logistic_horizon_coefficients_are_non_negative(data):
    X, y = data
    model = build_model(SPECS[0]).fit(X, y)
    names = model.named_steps["features"].get_feature_names_out()
    coef = model.named_steps["model"].coef_[0]
    horizon = np.array([n.startswith("followup_days__") for n in names])
    assert horizon.sum() == 5
    assert np.all(coef[horizon] >= 0)


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(getattr(estimator, "estimator", None), RandomForestClassifier):
        return {"check_sample_weight_equivalence_on_dense_data":
                "bootstrap draws rows, so a weight is not a repeated row (as for the forest)"}
    return {}


@contract_checks(
    [MonotoneLogisticRegression(), HorizonMonotone(),
     HorizonMonotone(RandomForestClassifier(n_estimators=5, random_state=0))],
    expected_failed_checks=_expected_failures)
def test_sklearn_estimator_contract(estimator, check):
    # the array-API checks run in test_array_api_dispatch_changes_nothing; one thread: on a
    # busy machine OpenMP threads of the boosted trees wait on each other most of the time
    with threadpool_limits(1):
        check(estimator)


ARRAY_API_CHECKS = """
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.estimator_checks import estimator_checks_generator
from resorb.features import HorizonRamps
from resorb.models import HorizonMonotone, MonotoneLogisticRegression
ran = 0
for estimator in [MonotoneLogisticRegression(), HorizonMonotone(), HorizonRamps(),
                  HorizonMonotone(RandomForestClassifier(n_estimators=5, random_state=0))]:
    for est, check in estimator_checks_generator(estimator, mark=None):
        if "array_api" in getattr(check, "func", check).__name__:
            check(est)
            ran += 1
print(ran)
"""


@pytest.mark.slow
def test_array_api_dispatch_changes_nothing():
    # scipy reads SCIPY_ARRAY_API once, at import: a fresh interpreter runs the checks that
    # the contract tests leave out in this one
    env = {**os.environ, "SCIPY_ARRAY_API": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-W", "error", "-c", ARRAY_API_CHECKS], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == 4


def test_horizon_monotone_tags_say_binary_and_follow_the_wrapped_estimator():
    from sklearn.utils import get_tags

    assert get_tags(HorizonMonotone()).classifier_tags.multi_class is False
    assert get_tags(MonotoneLogisticRegression()).classifier_tags.multi_class is False
    assert get_tags(HorizonMonotone()).input_tags.allow_nan is True
    assert get_tags(HorizonMonotone(RandomForestClassifier(criterion="log_loss"))
                    ).input_tags.allow_nan is True


def test_horizon_monotone_constrains_the_named_features_and_keeps_the_frame(data):
    X, y = data
    features = build_model(SPECS[2]).named_steps["features"]
    Z = features.fit_transform(X, y)
    model = HorizonMonotone(RandomForestClassifier(n_estimators=5, random_state=0)).fit(Z, y)
    horizon = [n.startswith("followup_days__") for n in Z.columns]
    assert list(model.estimator_.monotonic_cst) == [int(h) for h in horizon]
    assert model.estimator.monotonic_cst is None  # the parameter given is not overwritten
    # the wrapped estimator saw the frame, so it can be called with one directly
    np.testing.assert_array_equal(model.estimator_.feature_names_in_, Z.columns)
    np.testing.assert_array_equal(model.predict_proba(Z), model.estimator_.predict_proba(Z))


def test_shipped_reference_loads_with_todays_classes():
    # the skops file keeps each estimator's attributes: they must still be what the classes use
    model = load_estimator(REFERENCE / "model.skops")
    p = predict_resorption(model, dictionary_example(6))
    assert p.shape == (6,) and np.all((p > 0) & (p < 1))
    assert model.named_steps["model"].classes_.tolist() == [0, 1]


@pytest.mark.slow  # six fits, about 10 s together
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.calibration}")
def test_every_candidate_saves_within_the_allow_list_and_predicts_alike(spec, data, tmp_path):
    X, y = data
    with threadpool_limits(1):
        model = build_model(spec, seed=1).fit(X.iloc[:300], y[:300])
    back = load_estimator(save_estimator(model, tmp_path / "model.skops"))
    np.testing.assert_array_equal(predict_resorption(back, X), predict_resorption(model, X))


SPEC = CandidateSpec(kind="logistic")
ROWS = np.zeros((3, 2))

BAD_PARAMETERS = [  # estimator, message when it is fitted
    pytest.param(MonotoneLogisticRegression(C=-1),
                 r"The 'C' parameter of MonotoneLogisticRegression must be a float in the "
                 r"range \(0, inf\)\. Got -1 instead\.", id="C-negative"),
    pytest.param(MonotoneLogisticRegression(C=True),
                 r"'C' parameter of MonotoneLogisticRegression .* Got True instead\.",
                 id="C-bool"),
    pytest.param(MonotoneLogisticRegression(max_iter=1.5),
                 r"The 'max_iter' parameter of MonotoneLogisticRegression must be an int in the "
                 r"range \[0, inf\)\. Got 1\.5 instead\.", id="max-iter-float"),
    pytest.param(MonotoneLogisticRegression(tol=float("nan")),
                 r"The 'tol' parameter of MonotoneLogisticRegression must be a float in the "
                 r"range \[0, inf\)\. Got nan instead\.", id="tol-nan"),
    pytest.param(MonotoneLogisticRegression(nonnegative_prefixes="followup_days__"),
                 r"The 'nonnegative_prefixes' parameter of MonotoneLogisticRegression must be a "
                 r"collection of str\. Got 'followup_days__' instead\.", id="prefixes-str"),
    pytest.param(HorizonMonotone(LogisticRegression()),
                 r"The 'estimator' parameter of HorizonMonotone must be None or a classifier "
                 r"with a 'monotonic_cst' parameter\. Got LogisticRegression\(\) instead\.",
                 id="estimator-without-monotonic-cst"),
    pytest.param(HorizonMonotone(prefixes=[1]),
                 r"The 'prefixes' parameter of HorizonMonotone must be a collection of str\. "
                 r"Got \[1\] instead\.", id="prefixes-not-str"),
]


@pytest.mark.parametrize(("estimator", "message"), BAD_PARAMETERS)
def test_bad_parameters_are_refused_at_fit_not_at_construction(estimator, message):
    with pytest.raises(InvalidParameterError, match=message) as caught:
        estimator.fit(ROWS, [0, 1, 0])
    assert isinstance(caught.value, ValueError)  # what callers caught before


BAD_ARGUMENTS = [  # call, message
    pytest.param(lambda: build_model("logistic"),
                 r"The 'spec' parameter of build_model must be an instance of 'CandidateSpec'\. "
                 r"Got 'logistic' instead\.", id="spec-str"),
    pytest.param(lambda: build_model(SPEC, seed=-3),
                 r"The 'seed' parameter of build_model must be an int in the range "
                 r"\[0, 4294967295\]\. Got -3 instead\.", id="seed-negative"),
    pytest.param(lambda: predict_resorption("model.skops", ROWS),
                 r"The 'model' parameter of predict_resorption must be an object implementing "
                 r"'predict_proba'\. Got 'model.skops' instead\.", id="model-path"),
    pytest.param(lambda: predict_resorption(MonotoneLogisticRegression(), "rows"),
                 r"The 'X' parameter of predict_resorption must be an array-like\. "
                 r"Got 'rows' instead\.", id="X-str"),
    pytest.param(lambda: save_estimator(LogisticRegression(), 3),
                 r"The 'path' parameter of save_estimator must be an instance of 'str' or an "
                 r"instance of 'PathLike'\. Got 3 instead\.", id="save-path-int"),
    pytest.param(lambda: save_estimator(None, "model.skops"),
                 r"The 'model' parameter of save_estimator must be an object implementing "
                 r"'predict_proba'\. Got None instead\.", id="save-model-none"),
    pytest.param(lambda: load_estimator(None),
                 r"The 'path' parameter of load_estimator must be an instance of 'str' or an "
                 r"instance of 'PathLike'\. Got None instead\.", id="load-path-none"),
]


@pytest.mark.parametrize(("call", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_named_with_what_was_expected(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()


# ------------------------------------------------- out-of-bag recalibration's contract
#: the real structure (a 'features' step, then HorizonMonotone of a bagged forest) with a
#: pass-through features step, so that scikit-learn's generated arrays reach the forest
def _out_of_bag(n_estimators: int = 10):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from resorb.models import OutOfBagCalibratedClassifier

    forest = RandomForestClassifier(n_estimators=n_estimators, random_state=0)
    return OutOfBagCalibratedClassifier(Pipeline([("features", FunctionTransformer()),
                                                  ("model", HorizonMonotone(forest))]))


_NO_WEIGHTS = ("refuses sample weights (ValueError): resorb weights no row, and the "
               "out-of-bag calibration is not written for weights")
_OUT_OF_BAG_EXPECTED_FAILURES = {
    name: _NO_WEIGHTS for name in (
        "check_sample_weights_pandas_series", "check_sample_weights_not_an_array",
        "check_sample_weights_list", "check_all_zero_sample_weights_error",
        "check_sample_weights_shape", "check_sample_weights_not_overwritten",
        "check_sample_weight_equivalence_on_dense_data",
        "check_classifiers_one_label_sample_weights")
} | {
    "check_estimators_nan_inf":
        "X reaches the pipeline as it came: missing values are its steps' to handle (resorb's "
        "features step imputes them; this pass-through one hands them to the forest, which "
        "takes NaN)",
}


@contract_checks([_out_of_bag()],
                 expected_failed_checks=lambda _estimator: _OUT_OF_BAG_EXPECTED_FAILURES)
def test_out_of_bag_recalibration_contract(estimator, check):
    with threadpool_limits(1):
        check(estimator)


@pytest.mark.parametrize(("X", "y", "error", "message"), [
    pytest.param(np.ones((6, 2)), np.zeros(6), ValueError, r"needs both outcomes; y has one "
                 r"class \(0\.0\)", id="one-class"),
    pytest.param(np.ones((6, 2)), None, ValueError, "requires y to be passed", id="y-none"),
    pytest.param(np.ones((6, 2)), np.array([0, 1, 0, 1, 0]), ValueError,
                 "inconsistent numbers of samples", id="y-shorter"),
    pytest.param("sparse", np.array([0, 1, 0, 1, 0, 1]), TypeError,
                 "does not accept sparse data", id="sparse"),
])
def test_out_of_bag_recalibration_refuses_bad_input_before_fitting(X, y, error, message):
    from scipy.sparse import csr_matrix

    X = csr_matrix(np.ones((6, 2))) if isinstance(X, str) else X
    with pytest.raises(error, match=message):
        _out_of_bag().fit(X, y)
