"""Small-sample development: candidates sized below the Riley minimum, the guarded champion
rule, the heuristic shrinkage factor, and the effect on calibration against the truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resorb.adaptation import adapt_candidate, heuristic_shrinkage, logistic_heuristic_shrinkage
from resorb.champion import ChampionFacts, choose_champion
from resorb.config import CandidateSpec, ChampionRule, Params, SmallSampleParams
from resorb.errors import TrainingError
from resorb.models import (
    MonotoneLogisticRegression,
    MonotoneLogisticRegressionCV,
    build_model,
    predict_resorption,
)
from resorb.serialization import load_estimator, save_estimator
from resorb.training import prepare, size_candidate
from tests.factories import contract_checks

RULE = SmallSampleParams()
LOGISTIC = CandidateSpec(kind="logistic", params={"C": 1.0, "spline_knots": 5})
BOOSTING = CandidateSpec(kind="hist_gradient_boosting", params={
    "learning_rate": 0.05, "max_iter": 200, "max_leaf_nodes": 15, "min_samples_leaf": 100})
FOREST = CandidateSpec(kind="random_forest", calibration="sigmoid",
                       params={"n_estimators": 40, "min_samples_leaf": 20})


# ------------------------------------------------------------------ adapt_candidate
def test_logistic_gets_fewer_knots_fewer_predictors_and_a_tuned_penalty():
    out = adapt_candidate(LOGISTIC, 245, 133, RULE)
    p = out.spec.params
    assert p["spline_knots"] == RULE.spline_knots < 5
    assert p["predictors"] == list(RULE.predictors)
    assert p["Cs"] == list(RULE.penalty_grid) and p["cv"] == RULE.inner_folds
    assert "C" not in p
    assert out.adapted and len(out.changes) == 3
    assert any("spline knots 5 -> 3" in c for c in out.changes)
    assert any("cross-validated log loss" in c and "was fixed at 1" in c for c in out.changes)
    # pure: the same answer again, the input untouched
    assert adapt_candidate(LOGISTIC, 245, 133, RULE) == out
    assert LOGISTIC.params == {"C": 1.0, "spline_knots": 5}


@pytest.mark.parametrize("params, kept", [
    ({"spline_knots": 2, "C": 0.3}, {"spline_knots": 2}),          # knots never raised
    ({"Cs": [0.1, 1.0], "cv": 3}, {"Cs": [0.1, 1.0], "cv": 3}),    # its own grid is kept
    ({"predictors": ["age"]}, {"predictors": ["age"]}),            # its own predictors too
])
def test_logistic_choices_of_the_candidate_are_kept(params, kept):
    out = adapt_candidate(CandidateSpec(kind="logistic", params=params), 245, 133, RULE)
    for key, value in kept.items():
        assert out.spec.params[key] == value


@pytest.mark.parametrize("n_rows, n_events, leaves, leaf, iterations", [
    # m = 112 rows of the rarer outcome: 3 leaves, 245 // 6 = 40 rows, 112 iterations
    (245, 133, 3, 40, 112),
    # the rarer outcome may be the non-events: m = 112 again
    (245, 112, 3, 40, 112),
    # m = 40: 2 leaves (the floor); 5 events per leaf need ceil(5 * 100 / 40) = 13 < 25 rows
    (100, 60, 2, 25, 40),
    # m = 20: 5 events per leaf need ceil(5 * 200 / 20) = 50 > 200 // 4 rows
    (200, 20, 2, 50, 20),
    # m = 900: as configured but for the leaf size, which rows / (2 * 15) sets
    (2000, 900, 15, 66, 200),
])
def test_boosting_is_scaled_to_the_events(n_rows, n_events, leaves, leaf, iterations):
    p = adapt_candidate(BOOSTING, n_rows, n_events, RULE).spec.params
    m = min(n_events, n_rows - n_events)
    assert (p["max_leaf_nodes"], p["min_samples_leaf"], p["max_iter"]) == (leaves, leaf,
                                                                          iterations)
    assert p["max_leaf_nodes"] == max(2, min(15, m // RULE.events_per_leaf))
    assert p["min_samples_leaf"] == min(100, max(math.ceil(5 * n_rows / m),
                                                 n_rows // (2 * leaves)))


def test_boosting_without_the_settings_starts_from_the_scikit_learn_defaults():
    out = adapt_candidate(CandidateSpec(kind="hist_gradient_boosting"), 245, 133, RULE)
    assert out.spec.params["max_leaf_nodes"] == 3  # from 31
    assert "max_iter" not in out.spec.params       # 112 would raise scikit-learn's 100
    assert any("max_leaf_nodes 31 -> 3" in c for c in out.changes)


@pytest.mark.parametrize("n_rows, n_events, leaf", [(245, 133, 20), (400, 40, 20),
                                                     (400, 10, 20), (40, 20, 20)])
def test_forest_leaf_is_never_raised_above_its_own(n_rows, n_events, leaf):
    p = adapt_candidate(FOREST, n_rows, n_events, RULE).spec.params
    assert p["min_samples_leaf"] == min(leaf, math.ceil(10 * n_rows /
                                                        min(n_events, n_rows - n_events)))


def test_switched_off_or_nothing_to_change_returns_the_candidate():
    off = adapt_candidate(LOGISTIC, 245, 133, RULE.model_copy(update={"adapt": False}))
    assert off.spec is LOGISTIC and off.changes == () and not off.adapted
    bare = RULE.model_copy(update={"predictors": ()})
    forest = CandidateSpec(kind="random_forest", params={"min_samples_leaf": 5})
    assert adapt_candidate(forest, 245, 133, bare).changes == ()


@pytest.mark.parametrize("n_events", [0, 245])
def test_a_single_outcome_class_is_refused(n_events):
    with pytest.raises(TrainingError, match=f"{n_events} events in 245 rows"):
        adapt_candidate(LOGISTIC, 245, n_events, RULE)


# ------------------------------------------------------------------ heuristic shrinkage
@pytest.mark.parametrize("chi2, df, expected", [(100.0, 10, 0.9), (40.0, 30, 0.25),
                                                (20.0, 30, -0.5)])
def test_heuristic_shrinkage_formula(chi2, df, expected):
    assert heuristic_shrinkage(chi2, df) == pytest.approx(expected)


@pytest.mark.parametrize("chi2, df, message", [(0.0, 3, "lr_statistic"),
                                               (float("nan"), 3, "lr_statistic"),
                                               (10.0, 0, "df"), (10.0, 1.5, "df")])
def test_heuristic_shrinkage_refuses_bad_input(chi2, df, message):
    with pytest.raises(ValueError, match=message):
        heuristic_shrinkage(chi2, df)


@pytest.fixture(scope="module")
def small():
    """A 300-patient literature cohort (245 labelled rows) and its model input."""
    from resorb.cohort import make_cohort

    params = Params.default()
    frame = make_cohort(300, 9, "literature")
    data, X, _ = prepare(frame, params)
    return frame, data, X, params


def test_heuristic_shrinkage_of_the_logistic_design_by_hand(small):
    _, data, X, _ = small
    spec = CandidateSpec(kind="logistic", params={"spline_knots": 3,
                                                  "predictors": ["age", "herniation_type"]})
    s = logistic_heuristic_shrinkage(spec, X, data.y)
    # by hand: an ordinary maximum-likelihood fit of the same design (statsmodels-free)
    model = build_model(spec.model_copy(update={"params": {**spec.params, "C": 1e4}}))
    model.fit(X, data.y)
    p = predict_resorption(model, X)
    y = data.y.astype(float)
    loglik = np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    phi = y.mean()
    null = len(y) * (phi * np.log(phi) + (1 - phi) * np.log(1 - phi))
    chi2 = 2 * (loglik - null)
    # age: 3 knots + degree 3 = 5 basis columns summing to 1 (one is the intercept's): 4;
    # type: one ordinal rank; horizon: 5 ramps -> 10 degrees of freedom
    assert s == pytest.approx((chi2 - 10) / chi2, rel=1e-6)
    assert 0 < s < 1
    assert logistic_heuristic_shrinkage(FOREST, X, data.y) is None


# ------------------------------------------------------------------ the tuned estimator
def test_tuned_penalty_is_chosen_by_held_out_log_loss_and_reproducible(small):
    _, data, X, _ = small
    spec = adapt_candidate(LOGISTIC, len(data.y), data.n_events, RULE).spec
    a = build_model(spec, seed=3).fit(X, data.y)
    b = build_model(spec, seed=3).fit(X, data.y)
    est = a.named_steps["model"]
    assert est.Cs_[np.argmin(est.cv_log_loss_)] == est.C_
    assert est.cv_log_loss_.shape == (len(RULE.penalty_grid),)
    # weaker penalties than the chosen one fit the held-out rows worse on 245 rows
    assert est.cv_log_loss_[-1] > est.cv_log_loss_.min()
    np.testing.assert_array_equal(predict_resorption(a, X), predict_resorption(b, X))


def test_tuned_model_saves_and_loads(small, tmp_path):
    _, data, X, _ = small
    spec = adapt_candidate(LOGISTIC, len(data.y), data.n_events, RULE).spec
    model = build_model(spec, seed=1).fit(X, data.y)
    back = load_estimator(save_estimator(model, tmp_path / "m.skops"))
    np.testing.assert_array_equal(predict_resorption(back, X), predict_resorption(model, X))


def test_tuned_estimator_with_one_row_of_a_class_takes_the_strongest_penalty():
    """A training fold with one event (leave one site out on a clinic's file) cannot tune C:
    the strongest penalty offered is used, instead of a traceback."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.r_[np.ones(1), np.zeros(19)]
    model = MonotoneLogisticRegressionCV(Cs=(0.01, 1.0, 100.0)).fit(X, y)
    assert model.C_ == 0.01 and np.isnan(model.cv_log_loss_).all()
    np.testing.assert_allclose(
        model.coef_, MonotoneLogisticRegression(C=0.01).fit(X, y).coef_, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="one class only"):
        MonotoneLogisticRegressionCV().fit(X, np.zeros(20))


def _expected_failures(_estimator) -> dict[str, str]:
    reason = ("the inner folds of a weighted row and of its repeated copies differ, so the "
              "chosen C may differ")
    return {"check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason}


@contract_checks([MonotoneLogisticRegressionCV(Cs=(0.1, 1.0), cv=3)],
                 expected_failed_checks=_expected_failures)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ size_candidate
def test_size_candidate_adapts_only_below_the_minimum(small):
    from resorb.cohort import make_cohort

    _, data, X, params = small
    tp = params.training
    sized = size_candidate(params.candidates["logistic"], X, data.y, tp)
    # 75: 61 encoded features plus the 14 type x rim terms of params.yaml (issue 14)
    assert sized.changes[0].startswith("below the Riley minimum (245 rows of 3,280 needed "
                                       "for 75 candidate parameters): candidate parameters "
                                       "75 -> ")
    assert sized.spec == adapt_candidate(params.candidates["logistic"], 245, data.n_events,
                                         tp.small_sample).spec
    # a one-predictor model on 478 rows meets the minimum: nothing changes
    bigger, X2, _ = prepare(make_cohort(600, 9, "literature"), params)
    one = CandidateSpec(kind="logistic", params={"predictors": ["herniation_type"]})
    assert size_candidate(one, X2, bigger.y, tp).changes == ()
    off = tp.model_copy(update={"small_sample": tp.small_sample.model_copy(
        update={"adapt": False})})
    assert size_candidate(params.candidates["logistic"], X, data.y, off).changes == ()


# ------------------------------------------------------------------ the champion rule
def facts(score, auroc, slope_ci, slope_ok=True):
    return ChampionFacts(score=score, slope_ok=slope_ok, auroc=auroc, slope_low=slope_ci[0],
                         slope_high=slope_ci[1])


def gains(table):
    """gain(b, a) from a table of AUROC differences with intervals, antisymmetric."""
    def gain(b, a):
        if (b, a) in table:
            return table[b, a]
        d, lo, hi = table[a, b]
        return -d, -hi, -lo
    return gain


RULE_C = ChampionRule()


@pytest.mark.parametrize("candidates, table, champion, passed", [
    # no guard applies: the first of the base order (slope in range, then score), as before
    ({"hgb": facts(0.75, 0.77, (0.95, 1.06)), "lr": facts(0.73, 0.76, (0.94, 1.02)),
      "rf": facts(0.72, 0.76, (0.95, 1.03))}, {}, "hgb", {}),
    # (i) A's slope 0.85 is in range but its interval excludes 1; B's 1.25 is out of range
    # but its interval contains 1 and B discriminates clearly better: B, not A
    ({"A": facts(0.70, 0.74, (0.75, 0.95)),
      "B": facts(0.60, 0.78, (0.95, 1.55), slope_ok=False)},
     {("B", "A"): (0.04, 0.01, 0.07)}, "B", {"A": "contains 1"}),
    # (i) not when B's gain is not clear (interval reaches 0): A stays
    ({"A": facts(0.70, 0.74, (0.75, 0.95)),
      "B": facts(0.60, 0.78, (0.95, 1.55), slope_ok=False)},
     {("B", "A"): (0.04, -0.01, 0.09)}, "A", {}),
    # (ii) issue 9's repro: the logistic model 0.069 better, slope 0.67 (0.50-0.95) out of
    # range, against a recalibrated forest in range: the logistic model
    ({"random_forest": facts(0.53, 0.706, (0.70, 1.20)),
      "logistic": facts(0.42, 0.775, (0.50, 0.95), slope_ok=False),
      "hist_gradient_boosting": facts(-2.0, 0.49, (-25.0, 25.0), slope_ok=False)},
     {("logistic", "random_forest"): (0.069, 0.03, 0.11),
      ("logistic", "hist_gradient_boosting"): (0.285, 0.2, 0.37),
      ("random_forest", "hist_gradient_boosting"): (0.216, 0.13, 0.3)},
     "logistic", {"random_forest": "by at least 0.05"}),
    # (ii) not below the margin: a 0.03 gain leaves the base order alone
    ({"rf": facts(0.53, 0.745, (0.70, 1.20)),
      "lr": facts(0.42, 0.775, (0.50, 0.95), slope_ok=False)},
     {("lr", "rf"): (0.03, 0.01, 0.05)}, "rf", {}),
    # (ii) not when B's slope interval stays out of the range (0.3-0.7 against 0.8-1.2)
    ({"rf": facts(0.53, 0.70, (0.70, 1.20)),
      "lr": facts(0.42, 0.78, (0.30, 0.70), slope_ok=False)},
     {("lr", "rf"): (0.08, 0.04, 0.12)}, "rf", {}),
])
def test_champion_rule(candidates, table, champion, passed):
    chosen, passed_over = choose_champion(candidates, RULE_C, gains(table))
    assert chosen == champion
    assert set(passed_over) == set(passed)
    for name, words in passed.items():
        assert words in passed_over[name]


def test_champion_rule_only_bootstraps_pairs_a_guard_concerns():
    asked = []

    def gain(b, a):
        asked.append((b, a))
        return 0.01, -0.01, 0.03

    candidates = {"a": facts(0.8, 0.80, (0.9, 1.1)), "b": facts(0.7, 0.79, (0.9, 1.1)),
                  "c": facts(0.6, 0.81, (0.85, 1.2))}
    assert choose_champion(candidates, RULE_C, gain)[0] == "a"
    assert asked == []  # c is only 0.01 better and a's interval holds 1: nothing to test
    with pytest.raises(ValueError, match="at least one candidate"):
        choose_champion({}, RULE_C, gain)


# ------------------------------------------------------------------ end to end
@pytest.mark.slow  # two comparisons on each of 3 cohorts of 245 rows, ~60 s
def test_adapted_champion_is_better_calibrated_against_the_truth(small):
    from resorb.cohort import make_cohort
    from resorb.metrics import calibration_slope
    from resorb.training import compare_candidates, train_candidate

    params = small[3]
    tp = params.training
    fast = tp.model_copy(update={"n_boot": 30})
    off = fast.model_copy(update={"small_sample": tp.small_sample.model_copy(
        update={"adapt": False})})
    adapted = params.model_copy(update={"training": fast})
    plain = params.model_copy(update={"training": off})
    test, X_test, _ = prepare(make_cohort(6000, 4242, "literature"), params)
    errors = {"adapted": [], "plain": []}
    for seed in (1, 2, 3):
        frame = make_cohort(300, seed, "literature")
        for label, p in (("adapted", adapted), ("plain", plain)):
            comp = compare_candidates(frame, p, seed=seed,
                                      names=["logistic", "hist_gradient_boosting"])
            model = train_candidate(frame, comp.champion, p, seed=seed,
                                    evaluation=comp.evaluations[comp.champion]).model
            slope = calibration_slope(test.y, predict_resorption(model, X_test))
            errors[label].append(abs(np.log(slope)) if slope > 0 else np.inf)
    assert np.median(errors["adapted"]) < np.median(errors["plain"])
    assert np.median(errors["adapted"]) < np.log(1.25)


# ------------------------------------------------------------------ card, terminal, report
def test_card_records_the_adaptations_and_old_cards_still_load():
    import json

    from resorb.card import ModelCard
    from tests.factories import model_card

    card = model_card(adaptations=("spline knots 5 -> 3", "C = 0.1 chosen on all rows"),
                      heuristic_shrinkage=0.73, skops_sha256="0" * 64)
    back = ModelCard.from_json(card.to_json())
    assert back == card and back.heuristic_shrinkage == 0.73
    old = json.loads(card.to_json())
    del old["adaptations"], old["heuristic_shrinkage"]
    legacy = ModelCard.from_json(json.dumps(old))
    assert legacy.adaptations == () and legacy.heuristic_shrinkage is None


def test_train_and_compare_say_what_was_adapted(capsys):
    import pandas as pd

    from resorb.cli import _print_job
    from resorb.jobs import JobResult

    result = JobResult("run1", pd.DataFrame({"candidate": ["logistic"], "metric": ["auroc"],
                                             "estimate": [0.7], "ci_low": [0.6],
                                             "ci_high": [0.8]}),
                       "logistic", "runs:/run1/model", None, "245 rows", "below", "sqlite://",
                       False, adaptations=("spline knots 5 -> 3",), heuristic_shrinkage=0.71,
                       passed_over=("random_forest: logistic discriminates clearly better",))
    _print_job(result, "title")
    out = capsys.readouterr().out
    assert "small-sample adaptation: spline knots 5 -> 3" in out
    assert "heuristic shrinkage (van Houwelingen) of the unpenalised logistic design: 0.71" \
        in out
    assert "champion rule: passed over random_forest: logistic discriminates" in out


@pytest.mark.slow  # builds the suite's shared tracking store (a compare run and its report)
def test_report_has_a_small_sample_section(tracking_store):
    result = tracking_store.result
    assert result.adaptations and result.adaptations[0].startswith("below the Riley minimum")
    html = tracking_store.report.read_text(encoding="utf-8")
    assert "Small-sample adaptations" in html
    assert result.adaptations[1] in html


@pytest.mark.parametrize("small, hgb_gain, lr_slope, champion", [
    (True, (-0.004, -0.03, 0.02), (0.7, 1.3), "lr"),    # not clearly better: logistic
    (True, (0.03, 0.01, 0.05), (0.7, 1.3), "hgb"),      # clearly better: it stays
    (False, (-0.004, -0.03, 0.02), (0.7, 1.3), "hgb"),  # large data: the base order
    (True, (-0.004, -0.03, 0.02), (0.45, 0.9), "hgb"),  # no anchor: its interval misses 1
])
def test_champion_rule_parsimony_below_the_minimum(small, hgb_gain, lr_slope, champion):
    candidates = {
        "hgb": ChampionFacts(0.70, True, 0.716, 0.8, 1.2, kind="hist_gradient_boosting"),
        "lr": ChampionFacts(0.69, True, 0.720, *lr_slope, kind="logistic")}
    chosen, passed = choose_champion(candidates, RULE_C, gains({("hgb", "lr"): hgb_gain}),
                                     small_sample=small)
    assert chosen == champion
    if champion == "lr":
        assert "does not discriminate clearly better than lr" in passed["hgb"]
    off = RULE_C.model_copy(update={"parsimony": False})
    assert choose_champion(candidates, off, gains({("hgb", "lr"): hgb_gain}),
                           small_sample=small)[0] == "hgb"  # switched off: the base order
