"""Feature pipeline from the data dictionary: leakage guard, names, estimator contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import check_estimator

from resorb import schema
from resorb.errors import LeakageError
from resorb.features import (
    HorizonRamps,
    build_preprocessor,
    check_no_leakage,
    feature_variable,
    model_input,
)
from resorb.models import MonotoneLogisticRegression
from tests.factories import random_canonical

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


@pytest.mark.parametrize("estimator", [HorizonRamps(), MonotoneLogisticRegression()],
                         ids=lambda e: type(e).__name__)
def test_sklearn_estimator_contract(estimator):
    # every common check of scikit-learn; the array-API check needs SCIPY_ARRAY_API and is
    # not applicable (these estimators are numpy-only), so skipped checks are not reported
    check_estimator(estimator, on_skip=None)
