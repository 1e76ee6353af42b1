"""Summaries of an explanation: reasons in clinical words, importance, ranking agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resorb.explain import Explanation, global_importance, ranking_agreement, top_reasons

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
