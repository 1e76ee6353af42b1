"""Feature pipeline from the data dictionary: leakage guard, names, estimator contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resorb import schema
from resorb.errors import InvalidParameterError, LeakageError
from resorb.features import (
    HorizonRamps,
    build_preprocessor,
    check_no_leakage,
    dictionary_example,
    feature_variable,
    model_input,
)
from tests.factories import contract_checks, random_canonical

FORBIDDEN = [c.name for c in schema.COLUMNS if not c.is_feature]


@pytest.mark.parametrize("name", FORBIDDEN)
def test_pipeline_refuses_non_features(name):
    with pytest.raises(LeakageError, match=f"'{name}'"):
        build_preprocessor("linear", columns=[*schema.PREDICTORS, name])
    with pytest.raises(LeakageError, match="can never be model features"):
        model_input(random_canonical(20), columns=[name])


def test_unknown_column_is_refused():
    with pytest.raises(LeakageError, match="not in the data dictionary"):
        check_no_leakage(["age", "shoe_size"])


def test_model_input_has_every_feature_and_plain_dtypes():
    frame = random_canonical(50).drop(columns=["bmi", "multifidus_fat_pct"])
    X = model_input(frame)
    assert list(X.columns) == list(schema.FEATURES)
    assert X["bmi"].isna().all()
    for name in X.columns:
        if schema.BY_NAME[name].kind is schema.Kind.CATEGORY:
            assert pd.api.types.is_string_dtype(X[name].dtype), name
        else:
            assert X[name].dtype == np.float64, name
    assert "patient_id" not in X and "resorbed" not in X


@pytest.mark.parametrize("flavour", ["linear", "tree"])
def test_output_features_map_back_to_clinical_variables(flavour):
    frame = random_canonical(300)
    out = build_preprocessor(flavour).fit_transform(model_input(frame))
    assert isinstance(out, pd.DataFrame)
    variables = {feature_variable(f) for f in out.columns}
    assert variables == set(schema.FEATURES)
    assert not out.isna().any().any()


def test_no_contrast_is_an_informative_indicator():
    frame = random_canonical(300)
    out = build_preprocessor("linear").fit_transform(model_input(frame))
    indicator = [c for c in out.columns if c.startswith("rim_enhancement__missingindicator")]
    assert len(indicator) == 1
    expected = frame["rim_enhancement"].isna().to_numpy()
    np.testing.assert_array_equal(out[indicator[0]].to_numpy() == 1, expected)


def test_horizon_ramps_are_monotone_and_bounded():
    days = np.array([[1.0], [30], [45], [60], [200], [365], [5000]])
    ramps = HorizonRamps().fit(days).transform(days)
    assert ramps.min() >= 0 and ramps.max() <= 1
    assert (np.diff(ramps, axis=0) >= 0).all()
    assert ramps[0].sum() == 0 and ramps[-1].sum() == ramps.shape[1]


def test_horizon_ramps_reject_bad_knots():
    with pytest.raises(ValueError, match="The 'knots' parameter of HorizonRamps"):
        HorizonRamps(knots=(90, 30)).fit(np.ones((3, 1)))


@contract_checks([HorizonRamps()])
def test_sklearn_estimator_contract(estimator, check):
    # every common check of scikit-learn (MonotoneLogisticRegression's are in test_models);
    # the array-API checks run in test_models, in a fresh interpreter
    check(estimator)


ROWS = random_canonical(5)
ONES = np.ones((3, 1))

BAD_ARGUMENTS = [  # function, keyword arguments, message
    pytest.param(HorizonRamps(knots=(30.0,)).fit, {"X": ONES},
                 r"The 'knots' parameter of HorizonRamps must be at least two increasing "
                 r"positive days\. Got \(30\.0,\) instead\.", id="knots-too-few"),
    pytest.param(HorizonRamps(knots=(0, 30)).fit, {"X": ONES},
                 r"'knots' parameter of HorizonRamps .* Got \(0, 30\) instead\.",
                 id="knots-not-positive"),
    pytest.param(HorizonRamps(knots="30 60").fit, {"X": ONES},
                 r"'knots' parameter of HorizonRamps .* Got '30 60' instead\.", id="knots-str"),
    pytest.param(build_preprocessor, {"flavour": "forest"},
                 r"The 'flavour' parameter of build_preprocessor must be a str among "
                 r"\{'linear', 'tree'\}\. Got 'forest' instead\.", id="flavour"),
    pytest.param(build_preprocessor, {"spline_knots": 1},
                 r"The 'spline_knots' parameter of build_preprocessor must be an int in the "
                 r"range \[2, inf\)\. Got 1 instead\.", id="spline-knots"),
    pytest.param(build_preprocessor, {"columns": "age"},
                 r"The 'columns' parameter of build_preprocessor must be a collection of str\. "
                 r"Got 'age' instead\.", id="columns-str"),
    # a frame or an array is named by its type, so that no patient's value enters a message
    pytest.param(model_input, {"frame": ROWS.to_numpy()},
                 r"The 'frame' parameter of model_input must be an instance of 'DataFrame'\. "
                 r"Got an instance of 'ndarray' instead\.", id="frame-array"),
    pytest.param(model_input, {"frame": ROWS, "columns": iter(["age"])},
                 r"The 'columns' parameter of model_input must be a collection of str\.",
                 id="columns-iterator"),
    pytest.param(check_no_leakage, {"columns": "age"},
                 r"The 'columns' parameter of check_no_leakage must be a collection of str\. "
                 r"Got 'age' instead\.", id="leakage-columns-str"),
    pytest.param(dictionary_example, {"n_rows": 0},
                 r"The 'n_rows' parameter of dictionary_example must be an int in the range "
                 r"\[1, inf\)\. Got 0 instead\.", id="n-rows"),
]


@pytest.mark.parametrize(("function", "kwargs", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_named_with_what_was_expected(function, kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        function(**kwargs)
