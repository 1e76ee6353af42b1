"""Training and comparison: folds, labels, champion rule, reproducibility, bad data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resorb.cohort import make_cohort
from resorb.config import ChampionRule, LabelRule
from resorb.errors import TrainingError
from resorb.label import derive_resorbed, labelled_rows
from resorb.training import (
    champion_score,
    compare_candidates,
    make_folds,
    train_candidate,
)


@pytest.fixture(scope="module")
def cohort():
    return make_cohort(n=900, seed=11)


@pytest.mark.parametrize(("rule", "expected"), [
    (LabelRule(name="any", min_reduction_pct=10), [True, True, True, False, False]),
    (LabelRule(name="half", min_reduction_pct=50), [True, True, False, False, False]),
    (LabelRule(name="complete", min_reduction_pct=100), [True, False, False, False, False]),
])
def test_label_rule_on_volumes(rule, expected):
    frame = pd.DataFrame({"herniation_volume_mm3": [1000.0, 1000, 1000, 1000, 1000],
                          "volume_followup_mm3": [0.0, 400, 800, 950, 1300]})
    assert derive_resorbed(frame, rule).tolist() == expected


def test_grade_is_used_when_volumes_are_missing():
    frame = pd.DataFrame({"herniation_volume_mm3": [1000.0, 1000],
                          "volume_followup_mm3": [np.nan, np.nan],
                          "resorption_grade": ["marked_decrease", "no_change"]})
    assert derive_resorbed(frame, LabelRule()).tolist() == [True, False]


@pytest.mark.parametrize(("given", "relabelled"), [
    ([True, True, False, False], 0),     # the file agrees with the volumes
    ([False, True, True, False], 2),     # two rows the volumes overrule
    ([None, None, None, None], 0),       # no label of its own
    ([False, False, True, True], 4),
])
def test_rows_whose_own_label_the_rule_overrules_are_counted(given, relabelled):
    frame = pd.DataFrame({"herniation_volume_mm3": [1000.0, 1000, 1000, 1000],
                          "volume_followup_mm3": [0.0, 400, 950, 1300],
                          "resorbed": pd.array(given, dtype="boolean")})
    data = labelled_rows(frame, LabelRule(min_reduction_pct=10))
    assert data.y.tolist() == [1, 1, 0, 0]  # the volumes win
    assert data.relabelled == relabelled
    assert ("relabelled" in data.account()) == (relabelled > 0)
    if relabelled:
        assert f"; {relabelled} rows relabelled: the file's 'resorbed'" in data.account()


def test_operated_rows_leave_training_and_are_counted(cohort):
    data = labelled_rows(cohort, LabelRule())
    operated = int(cohort["surgery"].astype(bool).sum())
    assert operated > 0
    assert data.excluded["operated before follow-up (competing event)"] == operated
    assert len(data.y) + sum(data.excluded.values()) == len(cohort)
    assert f"{operated:,} operated" in data.account()


@pytest.mark.parametrize(("value", "message"), [(False, "no events"),
                                                (True, "no non-events")])
def test_single_class_outcome_is_refused(cohort, value, message):
    frame = cohort.assign(resorbed=pd.array([value] * len(cohort), dtype="boolean"),
                          volume_followup_mm3=np.nan, resorption_grade=None)
    with pytest.raises(TrainingError, match=message):
        labelled_rows(frame, LabelRule())


def test_too_few_rows_for_the_folds():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    with pytest.raises(TrainingError, match=r"at least 5 events.* has 2 events.*training\.folds=2"):
        make_folds(y, None, folds=5, repeats=1, seed=0)


def test_single_class_training_fold_is_refused():
    y = np.array([1, 1, 1, 0, 0, 0, 1, 1, 1])
    groups = np.array(["A", "A", "A", "B", "B", "B", "C", "C", "C"])
    # leaving site B out leaves only events in training
    with pytest.raises(TrainingError, match="site 2 holds all 3 non-events"):
        make_folds(y, groups, folds=3, repeats=1, seed=0)


def test_sites_give_leave_one_site_out():
    y = np.tile([0, 1], 12)
    groups = np.repeat(["A", "B", "C", "D"], 6)
    splits, method = make_folds(y, groups, folds=5, repeats=1, seed=0)
    assert method == "leave-one-site-out (4 sites)"
    assert len(splits) == 4


def test_champion_rule_weighs_calibration():
    rule = ChampionRule(weights={"auroc": 1.0, "abs_slope_error": -0.5, "ici": -2.0},
                        slope_range=(0.8, 1.2))
    sharp_but_miscalibrated = {"auroc": 0.80, "calibration_slope": 0.6, "ici": 0.08}
    calibrated = {"auroc": 0.78, "calibration_slope": 0.98, "ici": 0.01}
    ok_a, score_a = champion_score(sharp_but_miscalibrated, rule)
    ok_b, score_b = champion_score(calibrated, rule)
    assert not ok_a and ok_b
    assert score_b > score_a


@pytest.mark.slow
def test_compare_is_reproducible_and_ranks_every_candidate(cohort, fast_params):
    a = compare_candidates(cohort, fast_params, seed=5)
    b = compare_candidates(cohort, fast_params, seed=5)
    pd.testing.assert_frame_equal(a.leaderboard, b.leaderboard)
    assert set(a.leaderboard["candidate"]) == {"logistic", "hist_gradient_boosting",
                                               "random_forest", "mixture_cure"}
    assert a.leaderboard["champion"].sum() == 1
    for col in ("auroc", "auroc_ci_low", "auroc_ci_high", "calibration_slope", "ici", "brier",
                "d_auroc_vs_champion", "d_auroc_vs_champion_ci_low",
                "d_auroc_vs_champion_ci_high"):
        assert col in a.leaderboard.columns
    board = a.leaderboard
    assert (board["auroc_ci_low"] <= board["auroc"]).all()
    assert (board["auroc"] <= board["auroc_ci_high"]).all()
    champ = a.leaderboard.loc[a.leaderboard["champion"], "d_auroc_vs_champion"].iloc[0]
    assert champ == 0.0


def test_small_data_gets_optimism_corrected_metrics(cohort, fast_params):
    result = train_candidate(cohort, "logistic", fast_params, seed=1)
    assert result.evaluation.method.startswith("optimism-corrected bootstrap")
    assert {"apparent", "optimism"} <= set(result.evaluation.metrics.columns)
    assert "Riley minimum sample size" in result.sample_size.message


def test_subgroup_table_is_aggregate_and_anonymises_sites(cohort):
    from resorb.training import missingness_table, subgroup_table

    frame = cohort.assign(site=np.where(np.arange(len(cohort)) % 2, "St Mary", "General"))
    y = np.arange(len(frame)) % 3 == 0
    p = np.linspace(0.1, 0.9, len(frame))
    table = subgroup_table(frame, y.astype(int), p)
    assert set(table["variable"]) == {"sex", "age band", "level", "site"}
    assert set(table.loc[table["variable"] == "site", "subgroup"]) == {"site 1", "site 2"}
    assert "St Mary" not in table.to_csv()
    sexes = table[table["variable"] == "sex"]
    assert sexes["rows"].sum() == len(frame)
    miss = missingness_table(cohort)
    assert miss.set_index("variable").loc["rim_enhancement", "missing_means"] == \
        "no contrast given"
