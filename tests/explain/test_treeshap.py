"""The TreeSHAP engine against shap.TreeExplainer and brute-force Shapley values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

from resorb.explain import explain, treeshap
from resorb.explain.treeshap import tree_contributions


def test_working_in_blocks_changes_nothing(fitted, training, monkeypatch):
    model, X = fitted("hist_gradient_boosting"), training[0]
    whole = explain(model, X, background=X, max_background=40).values.to_numpy()
    monkeypatch.setattr(treeshap, "_CHUNK_BYTES", 1)  # blocks of 1024 rows
    monkeypatch.setattr(treeshap, "_CHUNK", 100)  # a few row patterns at a time
    twice = explain(model, pd.concat([X, X]), background=X, max_background=40).values
    np.testing.assert_allclose(twice.to_numpy(), np.vstack([whole, whole]), atol=1e-12)


# -------------------------------------------------------------- the tree engine vs oracles


@pytest.mark.parametrize("case", ["hist_gradient_boosting", "random_forest"])
def test_path_dependent_tree_shap_matches_shap(case, fitted, rows, shap):
    pipeline = fitted(case)
    features = pipeline.named_steps["features"]
    estimator = pipeline.named_steps["model"].estimator_
    Z = features.transform(rows)
    names = features.get_feature_names_out()
    groups = np.arange(len(names))
    ours, base, _, _ = tree_contributions(estimator, Z, None, groups, len(names))
    explainer = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
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
    ours, base, prediction, _ = tree_contributions(model, rows, background, groups, 3)
    for row, contribution in zip(rows, ours, strict=True):
        exact = _brute_force_shapley(lambda h: raw(model, h), row, background)
        np.testing.assert_allclose(contribution, [exact[0] + exact[1], exact[2], exact[3]],
                                   atol=1e-6)
    assert base == pytest.approx(float(np.mean(raw(model, background))), abs=1e-9)
    np.testing.assert_allclose(prediction, raw(model, rows))


@pytest.mark.parametrize("case", ["hist_gradient_boosting", "random_forest"])
def test_small_batches_match_shap_and_the_pattern_engine(case, fitted, rows, shap, monkeypatch):
    # up to SMALL_BATCH rows every leaf is solved at once; the numbers must not change
    pipeline = fitted(case)
    features = pipeline.named_steps["features"]
    estimator = pipeline.named_steps["model"].estimator_
    Z = features.transform(rows.head(treeshap.SMALL_BATCH))
    groups = np.arange(Z.shape[1]) // 2  # two features per group: sums, not just copies
    n_groups = int(groups.max()) + 1
    small, base, raw, _ = tree_contributions(estimator, Z, None, groups, n_groups)
    monkeypatch.setattr(treeshap, "_CHUNK_BYTES", 1)  # one row at a time
    np.testing.assert_allclose(tree_contributions(estimator, Z, None, groups, n_groups)[0],
                               small, atol=1e-12)
    monkeypatch.setattr(treeshap, "SMALL_BATCH", 0)  # the pattern engine
    pattern, pattern_base, _, _ = tree_contributions(estimator, Z, None, groups, n_groups)
    np.testing.assert_allclose(small, pattern, atol=1e-12)
    assert base == pytest.approx(pattern_base, abs=1e-12)
    np.testing.assert_allclose(base + small.sum(axis=1), raw, atol=1e-9)
    theirs = np.asarray(shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
                        .shap_values(Z.to_numpy()))
    theirs = theirs[..., 1] if theirs.ndim == 3 else theirs
    np.testing.assert_allclose(small, theirs @ (groups[:, None] == np.arange(n_groups)),
                               atol=1e-9)
