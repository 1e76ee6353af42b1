"""Explanations: additive on the probability scale, one column per variable, in clinical words."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from resorb import schema
from resorb.explain import (
    Explanation,
    _tree_contributions,
    explain,
    global_importance,
    plot_beeswarm,
    plot_importance,
    ranking_agreement,
    top_reasons,
)
from resorb.features import model_input
from resorb.models import CandidateSpec, build_model, predict_resorption
from tests.factories import random_canonical

CASES = {
    "logistic": CandidateSpec(kind="logistic"),
    "hist_gradient_boosting": CandidateSpec(kind="hist_gradient_boosting",
                                            params={"max_iter": 30}),
    "random_forest": CandidateSpec(kind="random_forest",
                                   params={"n_estimators": 8, "min_samples_leaf": 10}),
    "calibrated_logistic": CandidateSpec(kind="logistic", calibration="isotonic"),
    "calibrated_hist_gradient_boosting": CandidateSpec(
        kind="hist_gradient_boosting", params={"max_iter": 20}, calibration="sigmoid"),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Fit and predict single-threaded: OpenMP threads on a busy machine cost more than they win."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def training():
    frame = random_canonical(600, seed=1)
    return model_input(frame), frame["resorbed"].to_numpy(dtype=int)


@pytest.fixture(scope="module")
def rows():
    """Rows to explain, with an index that is not 0..n-1."""
    X = model_input(random_canonical(120, seed=2))
    return X.set_axis(X.index + 1000)


@pytest.fixture(scope="module")
def fitted(training):
    """Fit each case once per module."""
    X, y = training
    cache: dict[str, object] = {}

    def get(case: str):
        if case not in cache:
            cache[case] = build_model(CASES[case], seed=0).fit(X, y)
        return cache[case]

    return get


def _shap():
    with warnings.catch_warnings():
        # shap's colour maps call a matplotlib function that is pending deprecation
        warnings.filterwarnings("ignore", message=r"The set_(bad|over|under) function",
                                category=PendingDeprecationWarning)
        import shap
    return shap


# ------------------------------------------------------------------- additivity and shape


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


@pytest.mark.parametrize("case", ["logistic", "hist_gradient_boosting"])
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


def test_working_in_blocks_changes_nothing(fitted, training, monkeypatch):
    from resorb import explain as module

    model, X = fitted("hist_gradient_boosting"), training[0]
    whole = explain(model, X, background=X, max_background=40).values.to_numpy()
    monkeypatch.setattr(module, "_CHUNK_BYTES", 1)  # blocks of 1024 rows
    monkeypatch.setattr(module, "_CHUNK", 100)  # a few row patterns at a time
    twice = explain(model, pd.concat([X, X]), background=X, max_background=40).values
    np.testing.assert_allclose(twice.to_numpy(), np.vstack([whole, whole]), atol=1e-12)


# -------------------------------------------------------------- the tree engine vs oracles


@pytest.mark.parametrize("case", ["hist_gradient_boosting", "random_forest"])
def test_path_dependent_tree_shap_matches_shap(case, fitted, rows):
    pipeline = fitted(case)
    features = pipeline.named_steps["features"]
    estimator = pipeline.named_steps["model"].estimator_
    Z = features.transform(rows)
    names = features.get_feature_names_out()
    groups = np.arange(len(names))
    ours, base, _, _ = _tree_contributions(estimator, Z, None, groups, len(names))
    explainer = _shap().TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
    theirs = np.asarray(explainer.shap_values(Z.to_numpy()))
    theirs = theirs[..., 1] if theirs.ndim == 3 else theirs
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    assert base == pytest.approx(float(np.ravel(explainer.expected_value)[-1]), abs=1e-9)


def _brute_force_shapley(predict, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Interventional Shapley values of one row, enumerating every coalition."""
    d = x.size

    def value(members: tuple[int, ...]) -> float:
        hybrid = background.copy()
        hybrid[:, list(members)] = x[list(members)]
        return float(np.mean(predict(hybrid)))

    phi = np.zeros(d)
    for i in range(d):
        others = [j for j in range(d) if j != i]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for members in itertools.combinations(others, size):
                phi[i] += weight * (value((*members, i)) - value(members))
    return phi


@pytest.mark.parametrize("estimator, raw", [
    (HistGradientBoostingClassifier(max_iter=6, max_leaf_nodes=12, random_state=0),
     lambda m, x: m.decision_function(x)),
    (RandomForestClassifier(n_estimators=3, max_depth=8, random_state=0),
     lambda m, x: m.predict_proba(x)[:, 1]),
], ids=["hist_gradient_boosting", "random_forest"])
def test_interventional_tree_shap_matches_brute_force(estimator, raw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    x[rng.random(x.shape) < 0.1] = np.nan  # missing values follow the trees' learned side
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2])
         + rng.normal(scale=0.5, size=400) > 0).astype(int)
    model = estimator.fit(x, y)
    rows, background = x[:5], x[100:130]
    # features 0 and 1 form one variable, as the level indicators form `level`
    groups = np.array([0, 0, 1, 2])
    ours, base, prediction, _ = _tree_contributions(model, rows, background, groups, 3)
    for row, contribution in zip(rows, ours, strict=True):
        exact = _brute_force_shapley(lambda h: raw(model, h), row, background)
        np.testing.assert_allclose(contribution, [exact[0] + exact[1], exact[2], exact[3]],
                                   atol=1e-6)
    assert base == pytest.approx(float(np.mean(raw(model, background))), abs=1e-9)
    np.testing.assert_allclose(prediction, raw(model, rows))


# ------------------------------------------------------------------------ words and ranks


def _one(variable: str, raw: object, contribution: float) -> Explanation:
    return Explanation(values=pd.DataFrame({variable: [contribution]}), base_value=0.5,
                       scale="probability",
                       feature_values=pd.DataFrame({variable: pd.Series([raw], dtype=object)}))


@pytest.mark.parametrize("variable, raw, contribution, expected", [
    ("rim_enhancement", "complete", 0.18, "rim_enhancement = complete: +0.18"),
    ("rim_enhancement", None, -0.04, "rim_enhancement = missing (no contrast given): -0.04"),
    ("herniation_volume_mm3", 1853.2, 0.05, "herniation_volume_mm3 = 1850: +0.05"),
    ("age", 47.26, -0.0125, "age = 47.3: -0.01"),
    ("vas_leg", 6.0, 0.2, "vas_leg = 6: +0.20"),
    ("smoker", 1.0, -0.1, "smoker = yes: -0.10"),
    ("smoker", 0.0, 0.1, "smoker = no: +0.10"),
    ("smoker", np.nan, 0.02, "smoker = missing: +0.02"),
    ("modic_type", 2.0, 0.003, "modic_type = 2: +0.003"),
    ("followup_days", 365.0, -0.0004, "followup_days = 365: -0.000"),
])
def test_top_reasons_read_in_clinical_words(variable, raw, contribution, expected):
    assert top_reasons(_one(variable, raw, contribution), k=1).iloc[0, 0] == expected


def test_top_reasons_are_ranked_by_absolute_contribution():
    values = pd.DataFrame({"age": [0.01, 0.0], "sex": [-0.30, 0.0], "smoker": [0.05, 0.0],
                           "level": [0.2, 0.0]}, index=[7, 9])
    shown = pd.DataFrame({"age": [50.0, 60.0], "sex": ["male", "female"],
                          "smoker": [1.0, 0.0], "level": ["L4-L5", "L5-S1"]}, index=[7, 9])
    reasons = top_reasons(Explanation(values, 0.4, "probability", shown), k=3)
    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3"]
    assert list(reasons.index) == [7, 9]
    assert list(reasons.loc[7]) == ["sex = male: -0.30", "level = L4-L5: +0.20",
                                    "smoker = yes: +0.05"]
    # ties keep the variables' order
    assert list(reasons.loc[9]) == ["age = 60: +0.000", "sex = female: +0.000",
                                    "smoker = no: +0.000"]


@pytest.mark.parametrize("k", [0, 5, 2.0, True])
def test_top_reasons_rejects_a_bad_k(k):
    expl = Explanation(pd.DataFrame(np.zeros((1, 4)), columns=list("abcd")), 0.5,
                       "probability", pd.DataFrame(np.zeros((1, 4)), columns=list("abcd")))
    with pytest.raises(ValueError, match=r"'k' parameter of top_reasons must be an int in "
                                         r"\[1, 4\]"):
        top_reasons(expl, k=k)


def test_global_importance_is_the_mean_absolute_contribution_largest_first():
    values = pd.DataFrame({"age": [0.1, -0.1], "sex": [0.3, -0.5], "bmi": [0.0, 0.02]})
    importance = global_importance(Explanation(values, 0.5, "probability", values))
    assert list(importance.index) == ["sex", "age", "bmi"]
    assert importance.to_list() == pytest.approx([0.4, 0.1, 0.01])


TRUTH = pd.Series({"a": 6.0, "b": 5.0, "c": 4.0, "d": 3.0, "e": 2.0, "f": 1.0})


@pytest.mark.parametrize("importance, spearman, overlap", [
    (TRUTH, 1.0, 1.0),
    (TRUTH[::-1] * 0.01, 1.0, 1.0),  # order of the index and scale do not matter
    (pd.Series(TRUTH.to_numpy()[::-1], index=TRUTH.index), -1.0, 0.8),
    (pd.Series({"a": 1.0, "b": 0.9, "c": 0.8, "d": 0.7, "f": 0.6}), 0.9428571, 0.8),
])
def test_ranking_agreement_on_known_rankings(importance, spearman, overlap):
    result = ranking_agreement(importance, TRUTH)
    assert result["spearman"] == pytest.approx(spearman)
    assert result["top_k_overlap"] == pytest.approx(overlap)
    assert result["n_variables"] == 6


def test_ranking_agreement_compares_signed_effects_by_size_and_reports_unmatched_names():
    truth = pd.Series({"a": -3.0, "b": 2.0, "c": 1.0})
    result = ranking_agreement(pd.Series({"a": 0.3, "b": 0.2, "x": 0.1}), truth, k=2)
    assert result["top_k_shared"] == ["a", "b"]
    assert result["only_in_importance"] == ["x"]
    assert result["only_in_truth"] == ["c"]
    with pytest.raises(ValueError, match="share no variable name"):
        ranking_agreement(pd.Series({"x": 1.0}), truth)


# -------------------------------------------------------------------------------- plots


@pytest.mark.parametrize("plot", [plot_importance, plot_beeswarm])
def test_plots_are_written_as_png(plot, fitted, rows, tmp_path):
    path = plot(explain(fitted("logistic"), rows), tmp_path / "figure.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000


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
