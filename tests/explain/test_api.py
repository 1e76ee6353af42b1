"""explain(): additive on the probability scale, one column per variable; to_shap()."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from resorb import schema
from resorb.explain import explain
from resorb.models import build_model, predict_resorption
from tests.explain.conftest import CASES

# ------------------------------------------------------------------- additivity and shape


@pytest.mark.slow  # twelve explanations, about 8 s together
@pytest.mark.parametrize("with_background", [False, True], ids=["no_background", "background"])
@pytest.mark.parametrize("case", list(CASES))
def test_contributions_add_up_to_the_predicted_probability(case, with_background, fitted,
                                                           training, rows):
    model = fitted(case)
    expl = explain(model, rows, background=training[0] if with_background else None,
                   max_background=50)
    p = predict_resorption(model, rows)
    total = expl.base_value + expl.values.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, p, rtol=0, atol=1e-6)
    assert 0.0 <= expl.base_value <= 1.0
    assert np.isfinite(expl.values.to_numpy()).all()
    assert expl.scale == "probability"


@pytest.mark.parametrize("case", list(CASES))
def test_one_column_per_clinical_variable(case, fitted, rows):
    expl = explain(fitted(case), rows)
    assert list(expl.values.columns) == list(schema.FEATURES)
    assert list(expl.feature_values.columns) == list(schema.FEATURES)
    assert expl.values.index.equals(rows.index)
    assert expl.feature_values.index.equals(rows.index)
    pd.testing.assert_series_equal(expl.feature_values["level"], rows["level"])


def test_inputs_are_not_modified(fitted, training, rows):
    before, background = rows.copy(), training[0].copy()
    explain(fitted("hist_gradient_boosting"), rows, background=training[0], max_background=20)
    pd.testing.assert_frame_equal(rows, before)
    pd.testing.assert_frame_equal(training[0], background)


@pytest.mark.parametrize("case", ["logistic", "hist_gradient_boosting", "mixture_cure"])
def test_complete_rim_enhancement_pushes_towards_resorption(case, fitted, training):
    X = training[0]
    rim = explain(fitted(case), X).values["rim_enhancement"]
    complete = rim[X["rim_enhancement"] == "complete"].mean()
    none = rim[X["rim_enhancement"] == "none"].mean()
    assert complete > 0 > none


def test_same_seed_same_explanation(fitted, training, rows):
    a = explain(fitted("random_forest"), rows, background=training[0], max_background=30, seed=4)
    b = explain(fitted("random_forest"), rows, background=training[0], max_background=30, seed=4)
    pd.testing.assert_frame_equal(a.values, b.values)


# ------------------------------------------------------------------------ to_shap


@pytest.mark.parametrize("case", ["logistic", "hist_gradient_boosting", "random_forest",
                                  "mixture_cure"])
def test_to_shap_values_and_base_add_up_to_the_predicted_probability(case, fitted, training,
                                                                       rows, shap):
    model = fitted(case)
    converted = explain(model, rows, background=training[0], max_background=50).to_shap()
    assert isinstance(converted, shap.Explanation)
    assert converted.values.shape == (len(rows), len(schema.FEATURES))
    total = converted.values.sum(axis=1) + converted.base_values
    np.testing.assert_allclose(total, predict_resorption(model, rows), rtol=0, atol=1e-9)
    assert list(converted.feature_names) == list(schema.FEATURES)


def test_to_shap_data_are_the_clinical_values(fitted, rows):
    expl = explain(fitted("logistic"), rows)
    converted = expl.to_shap()
    rim = list(schema.FEATURES).index("rim_enhancement")
    shown = rows["rim_enhancement"].astype(object)
    position = {"none": 0.0, "partial": 1.0, "complete": 2.0}  # clinical order: shap colours
    expected = [position.get(v, np.nan) if isinstance(v, str) else np.nan for v in shown]
    np.testing.assert_array_equal(converted.data[:, rim], expected)
    words = ["missing (no contrast given)" if pd.isna(v) else v for v in shown]
    assert list(converted.display_data[:, rim]) == words
    age = list(schema.FEATURES).index("age")
    np.testing.assert_array_equal(converted.data[:, age], rows["age"].to_numpy(dtype=float))


def test_shap_plots_draw_the_converted_explanation(fitted, rows, shap):
    converted = explain(fitted("hist_gradient_boosting"), rows).to_shap()
    try:
        shap.plots.waterfall(converted[0], show=False)
        shap.plots.beeswarm(converted, show=False)
    finally:
        plt.close("all")


@pytest.mark.slow  # a fresh interpreter imports scikit-learn
def test_importing_explain_loads_neither_shap_nor_matplotlib():
    code = ("import sys, resorb.explain; "
            "print([m for m in ('shap', 'matplotlib', 'mlflow') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------- errors


def test_explain_names_what_it_needs(fitted, training, rows):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="'model' parameter of explain must be a Pipeline"):
        explain(LogisticRegression().fit(np.eye(2), [0, 1]), rows)
    with pytest.raises(TypeError, match="'X' parameter of explain must be a DataFrame"):
        explain(fitted("logistic"), rows.to_numpy())
    with pytest.raises(ValueError, match="'X' parameter of explain must have rows"):
        explain(fitted("logistic"), rows.iloc[:0])
    with pytest.raises(ValueError, match="'background' parameter of explain must have rows"):
        explain(fitted("logistic"), rows, background=rows.iloc[:0])
    with pytest.raises(ValueError, match="'max_background' parameter of explain"):
        explain(fitted("hist_gradient_boosting"), rows, background=rows, max_background=0)
    X, y = training
    ensemble = CalibratedClassifierCV(build_model(CASES["logistic"]), cv=2, ensemble=True)
    with pytest.raises(ValueError, match=r"ensemble=False"):
        explain(ensemble.fit(X, y), rows)


# --------------------------------------------------------- features the caller already has


@pytest.mark.parametrize("case", ["logistic", "hist_gradient_boosting", "random_forest",
                                  "mixture_cure"])
def test_given_features_give_the_same_explanation(case, fitted, training, rows):
    # scoring transforms once and hands the features to explain (docs/scoring.md "Start-up")
    model = fitted(case)
    features = model.named_steps["features"]
    background = training[0].iloc[:80]
    plain = explain(model, rows, background=background, max_background=50)
    given = explain(model, rows, background=background, max_background=50,
                    features_X=features.transform(rows),
                    features_background=features.transform(background))
    pd.testing.assert_frame_equal(given.values, plain.values, check_exact=True)
    assert given.base_value == plain.base_value and given.method == plain.method


@pytest.mark.parametrize("case", ["logistic", "mixture_cure"])
def test_given_background_features_are_the_reference_used(case, fitted, training, rows):
    # a linear explainer takes the background's features as given: others change the base
    model = fitted(case)
    features = model.named_steps["features"]
    background, other = training[0].iloc[:80], training[0].iloc[300:380]
    plain = explain(model, rows, background=other)
    given = explain(model, rows, background=background,
                    features_background=features.transform(other))
    np.testing.assert_allclose(given.values.to_numpy(), plain.values.to_numpy(), atol=1e-12)
    assert given.base_value == pytest.approx(plain.base_value, abs=1e-12)
    assert given.base_value != explain(model, rows, background=background).base_value
