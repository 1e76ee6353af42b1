"""Metrics, calibration, decision curves, bootstrap and sample size of resorb.validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from resorb import validation
from resorb.calibration import _local_linear
from resorb.errors import TrainingError

# ------------------------------------------------------------------------------ factories


def bernoulli_cohort(n: int = 4000, seed: int = 0, mean_lp: float = -0.3,
                     sd_lp: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from known resorption probabilities: perfectly calibrated p."""
    rng = np.random.default_rng(seed)
    p = expit(rng.normal(mean_lp, sd_lp, n))
    return (rng.uniform(size=n) < p).astype(int), p


@pytest.fixture(scope="module")
def calibrated():
    return bernoulli_cohort(n=20_000, seed=1)


@pytest.fixture(scope="module")
def small():
    return bernoulli_cohort(n=1500, seed=2)


# ---------------------------------------------------------------- hand-computed examples

HAND = [
    # pairs (event, non-event): (.35,.1) win, (.35,.4) loss, (.8,.1) win, (.8,.4) win -> 3/4
    ("auroc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
    # events {.2,.6} vs non-events {.2,.6}: tie .5 + loss 0 + win 1 + tie .5 = 2 of 4 pairs
    ("auroc", [0, 1, 0, 1], [0.2, 0.2, 0.6, 0.6], 0.5),
    # descending p: .9 event (precision 1, recall .5), .8 non-event, .7 event (2/3, recall 1)
    # AP = .5 * 1 + .5 * 2/3
    ("auprc", [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 0.5 + 0.5 * 2 / 3),
    # ((0 - .2)^2 + (1 - .6)^2) / 2 = (.04 + .16) / 2
    ("brier", [0, 1], [0.2, 0.6], 0.1),
    # prevalence .5 -> reference Brier .25; 1 - .1 / .25
    ("scaled_brier", [0, 1], [0.2, 0.6], 0.6),
    # -(ln .8 + ln .6) / 2
    ("log_loss", [1, 0], [0.8, 0.4], -(math.log(0.8) + math.log(0.6)) / 2),
]


@pytest.mark.parametrize(("metric", "y", "p", "expected"), HAND,
                         ids=[f"{h[0]}-{i}" for i, h in enumerate(HAND)])
def test_hand_computed_metrics(metric, y, p, expected):
    value = validation.METRICS[metric](np.array(y), np.array(p))
    assert value == pytest.approx(expected, abs=1e-12)


def test_net_benefit_by_hand():
    # n = 5, events at rows 0, 1, 4 (prevalence .6).
    # t = .5 (odds 1): offered rows 0, 1, 2 -> TP 2, FP 1 -> 2/5 - 1/5 * 1 = .2;
    #   treat all .6 - .4 * 1 = .2.
    # t = .25 (odds 1/3): offered rows 0, 1, 2, 4 -> TP 3, FP 1 -> 3/5 - 1/5 / 3 = .5333;
    #   treat all .6 - .4 / 3 = .4667.
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.6, 0.7, 0.2, 0.3])
    curve = validation.net_benefit(y, p, [0.25, 0.5])
    assert list(curve.columns) == ["threshold", "model", "treat_all", "treat_none"]
    np.testing.assert_allclose(curve["model"], [3 / 5 - 1 / 15, 0.2])
    np.testing.assert_allclose(curve["treat_all"], [0.6 - 0.4 / 3, 0.2])
    assert (curve["treat_none"] == 0).all()


@pytest.mark.parametrize("prevalence", [0.1, 0.33, 0.7])
def test_net_benefit_reference_strategies(prevalence):
    rng = np.random.default_rng(3)
    y = (rng.uniform(size=500) < prevalence).astype(int)
    t = np.linspace(0.05, 0.95, 19)
    prev = y.mean()
    everyone = validation.net_benefit(y, np.ones(500), t)  # everyone offered watchful waiting
    nobody = validation.net_benefit(y, np.zeros(500), t)
    np.testing.assert_allclose(everyone["model"], prev - (1 - prev) * t / (1 - t))
    np.testing.assert_allclose(everyone["model"], everyone["treat_all"])
    np.testing.assert_allclose(nobody["model"], 0.0)


# --------------------------------------------------------------- agreement with sklearn

SKLEARN = [
    ("auroc", skm.roc_auc_score),
    ("auprc", skm.average_precision_score),
    ("brier", skm.brier_score_loss),
    ("log_loss", skm.log_loss),
]


@pytest.mark.parametrize(("metric", "reference"), SKLEARN, ids=[s[0] for s in SKLEARN])
@pytest.mark.parametrize("decimals", [None, 1], ids=["continuous", "tied"])
@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_sklearn(metric, reference, decimals, seed):
    y, p = bernoulli_cohort(n=3000, seed=seed)
    p = np.clip(p, 0.01, 0.99) if decimals is None else np.clip(np.round(p, decimals), 0.05, 0.95)
    assert validation.METRICS[metric](y, p) == pytest.approx(reference(y, p), rel=1e-10, abs=1e-12)


def test_metric_table_matches_metrics(small):
    y, p = small
    table = validation.metric_table(y, p)
    assert list(table) == list(validation.METRICS) == [
        "auroc", "auprc", "brier", "scaled_brier", "log_loss",
        "calibration_intercept", "calibration_slope", "ici"]
    for name, fn in validation.METRICS.items():
        assert table[name] == pytest.approx(fn(y, p), rel=1e-9, abs=1e-12), name


# --------------------------------------------------------------------------- calibration


def _mle(y: np.ndarray, lp: np.ndarray, fit_slope: bool) -> np.ndarray:
    """Independent reference: unpenalised logistic ML by a generic optimiser."""
    def nll(b):
        eta = b[0] + (b[1] if fit_slope else 1.0) * lp
        return np.sum(np.logaddexp(0, eta) - y * eta)
    return minimize(nll, [0.0, 1.0], method="BFGS", options={"gtol": 1e-10}).x


def test_intercept_and_slope_are_the_ml_estimates(small):
    y, p = small
    p = expit(0.7 * logit(p) - 0.4)
    intercept, slope = validation.calibration_intercept_slope(y, p)
    assert slope == pytest.approx(_mle(y, logit(p), fit_slope=True)[1], abs=1e-5)
    assert intercept == pytest.approx(_mle(y, logit(p), fit_slope=False)[0], abs=1e-5)


RECALIBRATED = [
    # (name, transform of the true log-odds, expected slope, expected intercept or None)
    ("calibrated", lambda lp: lp, 1.0, 0.0),
    ("overconfident x2", lambda lp: 2 * lp, 0.5, None),
    ("underconfident x0.5", lambda lp: 0.5 * lp, 2.0, None),
    ("overestimates resorption", lambda lp: lp + 1.0, 1.0, -1.0),
    ("underestimates resorption", lambda lp: lp - 0.5, 1.0, 0.5),
]


@pytest.mark.parametrize(("transform", "slope", "intercept"),
                         [r[1:] for r in RECALIBRATED], ids=[r[0] for r in RECALIBRATED])
def test_recalibration_recovers_known_miscalibration(calibrated, transform, slope, intercept):
    y, p = calibrated
    a, b = validation.calibration_intercept_slope(y, expit(transform(logit(p))))
    assert b == pytest.approx(slope, rel=0.06)
    if intercept is not None:
        assert a == pytest.approx(intercept, abs=0.05)


def test_calibrated_data_has_small_ici(calibrated):
    y, p = calibrated
    errors = validation.calibration_errors(y, p)
    assert errors["ici"] < 0.015
    assert errors["e50"] <= errors["e90"] <= errors["emax"]
    assert validation.integrated_calibration_index(y, p) == pytest.approx(errors["ici"])


def test_ici_measures_a_known_offset():
    # true risk in [.3, .8], predictions .1 too low everywhere: ICI close to .1
    rng = np.random.default_rng(4)
    truth = rng.uniform(0.3, 0.8, 20_000)
    y = (rng.uniform(size=truth.size) < truth).astype(int)
    assert validation.integrated_calibration_index(y, truth - 0.1) == pytest.approx(0.1, abs=0.015)


def test_smoothed_curve_follows_the_diagonal_when_calibrated(calibrated):
    y, p = calibrated
    curve = validation.smoothed_calibration_curve(y, p)
    assert list(curve.columns) == ["predicted", "observed"] and len(curve) == 100
    assert curve["predicted"].iloc[0] == p.min() and curve["predicted"].iloc[-1] == p.max()
    inner = curve[(curve["predicted"] > 0.1) & (curve["predicted"] < 0.9)]
    assert np.max(np.abs(inner["observed"] - inner["predicted"])) < 0.04
    assert curve["observed"].between(0, 1).all()


def test_local_linear_smoother_reproduces_a_line():
    # a local linear fit is exact for a linear mean, whatever the kernel weights
    p = np.linspace(0.05, 0.95, 301)
    y = 0.1 + 0.6 * p
    fitted = _local_linear(y, p, np.ones((2, p.size)), np.array([0.1, 0.5, 0.9]), 0.3)
    np.testing.assert_allclose(fitted, np.tile(0.1 + 0.6 * np.array([0.1, 0.5, 0.9]), (2, 1)))


@pytest.mark.parametrize(("y", "p", "slope"), [
    ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], math.inf),  # perfectly separated
    ([0, 1, 1, 0], [0.1, 0.2, 0.8, 0.9], 0.0),       # overlapping: slope 0 by symmetry
    ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], -math.inf),  # inversely separated
    ([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3], math.nan),  # constant predictions
], ids=["separated", "overlap", "inverse", "constant"])
def test_slope_at_the_edges(y, p, slope):
    a, b = validation.calibration_intercept_slope(np.array(y), np.array(p))
    assert math.isfinite(a)
    if math.isnan(slope):
        assert math.isnan(b)
    else:
        assert b == pytest.approx(slope, abs=1e-6)


def test_predictions_of_exactly_0_and_1_are_clipped():
    y = np.array([0, 1, 0, 1, 1, 0])
    p = np.array([0.0, 1.0, 0.3, 0.6, 0.4, 1.0])
    values = validation.metric_table(y, p)
    assert all(np.isfinite(v) for v in values.values())
    # the confident miss (row 5) costs -ln(1e-8), the confident hits (rows 0, 1) nothing
    expected = (-math.log(1e-8) + 3 * validation.log_loss(y[2:5], p[2:5])) / 6
    assert values["log_loss"] == pytest.approx(expected, rel=1e-6)


def test_calibration_in_bins(small):
    y, p = small
    table = validation.calibration_in_bins(y, p, n_bins=10)
    assert len(table) == 10 and table["n"].sum() == y.size and table["events"].sum() == y.sum()
    assert (table["predicted"].between(table["p_min"], table["p_max"])).all()
    assert (table["observed_low"] <= table["observed"]).all()
    assert (table["observed"] <= table["observed_high"]).all()
    assert table["predicted"].is_monotonic_increasing


# ------------------------------------------------------------------------------ bootstrap


def test_bootstrap_is_deterministic_and_contains_the_estimate(small):
    y, p = small
    first = validation.bootstrap_metrics(y, p, n_boot=60, seed=7)
    assert list(first.columns) == ["metric", "estimate", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(first, validation.bootstrap_metrics(y, p, n_boot=60, seed=7))
    assert not first.equals(validation.bootstrap_metrics(y, p, n_boot=60, seed=8))
    assert (first["ci_low"] <= first["estimate"]).all()
    assert (first["estimate"] <= first["ci_high"]).all()
    assert (first["ci_low"] < first["ci_high"]).all()
    estimates = validation.metric_table(y, p)
    np.testing.assert_allclose(first["estimate"], list(estimates.values()))


def test_resamples_are_stratified_and_stable(small):
    y, _ = small
    ten = list(validation.bootstrap_indices(y, n_boot=10, seed=3))
    five = list(validation.bootstrap_indices(y, n_boot=5, seed=3))
    for rows in ten:
        assert rows.size == y.size and y[rows].sum() == y.sum()
    for a, b in zip(five, ten[:5], strict=True):  # resample b depends only on (seed, b)
        np.testing.assert_array_equal(a, b)


def test_weighted_replicates_equal_metrics_of_resampled_rows(small):
    y, p = small
    replicates = validation.bootstrap_replicates(y, p, n_boot=4, seed=5)
    for b, rows in enumerate(validation.bootstrap_indices(y, n_boot=4, seed=5)):
        direct = validation.metric_table(y[rows], p[rows])
        for name, value in direct.items():
            # the bootstrap ICI keeps the full-sample smoother window: close, not identical
            tol = 0.005 if name == "ici" else 1e-8
            assert replicates.loc[b, name] == pytest.approx(value, abs=tol), name


def test_cluster_bootstrap(small):
    y, p = small
    groups = np.arange(y.size) // 3  # e.g. three herniation levels per patient
    result = validation.bootstrap_metrics(y, p, n_boot=50, seed=0, groups=groups)
    pd.testing.assert_frame_equal(result, validation.bootstrap_metrics(y, p, n_boot=50, seed=0,
                                                              groups=groups))
    for rows in validation.bootstrap_indices(y, n_boot=3, seed=0, groups=groups):
        counts = np.bincount(rows, minlength=y.size).reshape(-1, 3)
        assert (counts == counts[:, :1]).all()  # a patient's rows are drawn together


def test_paired_difference_of_a_model_with_itself_is_zero(small):
    y, p = small
    diff = validation.paired_bootstrap_difference(y, p, p.copy(), n_boot=50, seed=0)
    assert list(diff.columns) == ["metric", "difference", "ci_low", "ci_high"]
    assert np.allclose(diff[["difference", "ci_low", "ci_high"]].to_numpy(), 0.0)


def test_paired_difference_detects_a_better_model(small):
    y, p = small
    noisy = expit(logit(p) + np.random.default_rng(0).normal(0, 2, p.size))
    diff = validation.paired_bootstrap_difference(y, p, noisy, n_boot=60, seed=0)
    diff = diff.set_index("metric")
    assert diff.loc["auroc", "ci_low"] > 0  # a - b: the true risks discriminate better
    assert diff.loc["brier", "ci_high"] < 0
    expected = validation.auroc(y, p) - validation.auroc(y, noisy)
    assert diff.loc["auroc", "difference"] == pytest.approx(expected)


def test_bootstrap_net_benefit(small):
    y, p = small
    t = [0.2, 0.4, 0.6]
    result = validation.bootstrap_net_benefit(y, p, t, n_boot=60, seed=0)
    assert list(result.columns) == ["threshold", "model", "ci_low", "ci_high", "treat_all"]
    point = validation.net_benefit(y, p, t)
    np.testing.assert_allclose(result["model"], point["model"])
    np.testing.assert_allclose(result["treat_all"], point["treat_all"])
    assert (result["ci_low"] <= result["model"]).all()
    assert (result["model"] <= result["ci_high"]).all()


# ----------------------------------------------------------------------- optimism (Harrell)


def noise_frame(n: int, k: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Predictors unrelated to the outcome: any apparent performance is overfitting."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, k)), columns=[f"noise_{i}" for i in range(k)],
                     index=rng.permutation(n) + 1000)
    return X, rng.integers(0, 2, n)


def logistic_fit_predict(X_train, y_train, X_eval):
    model = LogisticRegression(C=1e4, solver="newton-cholesky").fit(X_train, y_train)
    return model.predict_proba(X_eval)[:, 1]


def nearest_neighbour_fit_predict(X_train, y_train, X_eval):
    return KNeighborsClassifier(n_neighbors=1).fit(X_train, y_train).predict_proba(X_eval)[:, 1]


def test_optimism_removes_overfitting_on_noise():
    X, y = noise_frame(200, 20)
    before = X.copy()
    calls = []
    result = validation.optimism_corrected(logistic_fit_predict, X, y, n_boot=40, seed=0,
                                  progress=lambda i, n: calls.append((i, n)))
    pd.testing.assert_frame_equal(X, before)
    assert calls == [(i, 40) for i in range(1, 41)]
    assert list(result.columns) == ["metric", "apparent", "optimism", "corrected",
                                    "ci_low", "ci_high"]
    row = result.set_index("metric")
    assert row.loc["auroc", "apparent"] > 0.62
    assert row.loc["auroc", "optimism"] > 0.08
    # Harrell's correction slightly under-corrects heavy overfitting: near 0.5, not at it
    assert row.loc["auroc", "corrected"] == pytest.approx(0.5, abs=0.08)
    # an unpenalised logistic model is calibrated on its own data by construction...
    assert row.loc["calibration_slope", "apparent"] == pytest.approx(1.0, abs=1e-3)
    # ...and needs strong shrinkage on new data
    assert row.loc["calibration_slope", "corrected"] < 0.7
    pd.testing.assert_frame_equal(
        result, validation.optimism_corrected(logistic_fit_predict, X, y, n_boot=40, seed=0))


def test_optimism_of_an_interpolating_model_is_underestimated():
    # Known limit of Harrell's bootstrap: a 1-NN model refitted on a resample has seen ~63% of
    # the original rows, so its "test" AUROC is far above 0.5 and the corrected AUROC stays
    # near 0.8 on pure noise. The docstring tells users to cross-validate such learners.
    X, y = noise_frame(150, 5)
    row = validation.optimism_corrected(nearest_neighbour_fit_predict, X, y, n_boot=20,
                               seed=0).set_index("metric")
    assert row.loc["auroc", "apparent"] == 1.0
    assert row.loc["auroc", "optimism"] > 0.1
    assert row.loc["auroc", "corrected"] > 0.7
    assert row.loc["calibration_slope", "apparent"] == math.inf


def test_optimism_rejects_a_bad_fit_predict():
    X, y = noise_frame(50, 2)
    with pytest.raises(ValueError, match="fit_predict must return 50 probabilities"):
        validation.optimism_corrected(lambda a, b, c: np.zeros(3), X, y, n_boot=2)


# ---------------------------------------------------------------------------- sample size

# Published checks of the R package pmsampsize (tests/testthat/test_bin.R) for the Chagas
# disease example of Riley et al. (Stat Med 2019;38:1276, reused in BMJ 2020;368:m441):
# criterion (i) and (iii) and the binding criterion do not depend on rounding.
# Criterion (ii) is computed here without pmsampsize's rounding of max R2cs (2 decimals) and
# S (3 decimals), which gives 668, 532, 1002 and 583 there; the exact values below are
# 24 / ((S - 1) ln(1 - R2cs / S)) with S = R2cs / (R2cs + 0.05 max R2cs), rounded up.
RILEY = [
    # r2_cs, P, prevalence, (i), (ii) exact, (ii) pmsampsize, (iii), final
    (0.288, 24, 0.174, 623, 662, 668, 221, 662),
    (0.55, 24, 0.174, 255, 532, 532, 221, 532),
    (0.288, 36, 0.174, 934, 992, 1002, 221, 992),
    (0.288, 24, 0.25, 623, 590, 583, 289, 623),
]


@pytest.mark.parametrize(("r2", "params", "prev", "n1", "n2", "n2_pmsampsize", "n3", "final"),
                         RILEY)
def test_riley_sample_size(r2, params, prev, n1, n2, n2_pmsampsize, n3, final):
    out = validation.minimum_sample_size(params, prev, r2_cs=r2)
    assert (out["n_shrinkage"], out["n_optimism"], out["n_intercept"]) == (n1, n2, n3)
    assert out["n_optimism"] == pytest.approx(n2_pmsampsize, rel=0.015)
    assert out["required_n"] == final and out["r2_cs_source"] == "given"
    assert out["events_required"] == math.ceil(final * prev)


def test_riley_chagas_example_by_hand():
    out = validation.minimum_sample_size(24, 0.174, r2_cs=0.288)
    # max R2cs = 1 - exp(2 (.174 ln .174 + .826 ln .826)) = .6032
    assert out["max_r2_cs"] == pytest.approx(0.6032, abs=1e-4)
    # (i): 24 / (-.1 ln(1 - .288 / .9)) = 622.3 -> 623
    assert out["n_shrinkage"] == 623
    # Riley 2019 abstract: "requires an EPP of at least 4.8"
    assert round(out["epp"], 1) == 4.8
    assert out["binding"] == "optimism"


def test_default_r2_is_15_percent_of_the_maximum():
    out = validation.minimum_sample_size(10, 0.3)
    max_r2 = 1 - (0.3**0.3 * 0.7**0.7) ** 2
    assert out["r2_cs"] == pytest.approx(0.15 * max_r2)
    assert out["r2_cs_source"] == "15% of max"


@pytest.mark.parametrize(("c", "prevalence"), [(0.7, 0.5), (0.8, 0.174), (0.85, 0.6)])
def test_r2_from_c_statistic_matches_the_simulation_of_riley_2021(c, prevalence):
    # pmsampsize's cstat2rsq: linear predictor N(0, 1) in non-events, N(sqrt(2) Phi^-1(C), 1)
    # in events, logistic fit, R2cs = 1 - exp(-LR / n); here with 200,000 patients
    rng = np.random.default_rng(0)
    n, events = 200_000, int(prevalence * 200_000)
    lp = np.r_[rng.normal(0, 1, n - events), rng.normal(math.sqrt(2) * norm.ppf(c), 1, events)]
    y = np.r_[np.zeros(n - events), np.ones(events)]
    q = LogisticRegression(C=np.inf).fit(lp[:, None], y).predict_proba(lp[:, None])[:, 1]
    lr = 2 * (np.sum(y * np.log(q) + (1 - y) * np.log1p(-q))
              - events * math.log(prevalence) - (n - events) * math.log(1 - prevalence))
    out = validation.minimum_sample_size(20, prevalence, c_statistic=c)
    assert out["r2_cs"] == pytest.approx(1 - math.exp(-lr / n), abs=0.003)
    assert out["r2_cs_source"] == "c_statistic"


@pytest.mark.parametrize(("n_rows", "n_events", "ok"), [(480, 158, False), (5000, 1650, True)])
def test_sample_size_check(n_rows, n_events, ok):
    report = validation.sample_size_check(n_rows, n_events, 38)
    need = validation.minimum_sample_size(38, n_events / n_rows)
    assert report.ok is ok and report.required_n == need["required_n"]
    assert report.epp == pytest.approx(n_events / 38)
    assert report.message.startswith(
        f"Riley minimum sample size: {need['required_n']:,} rows "
        f"({need['events_required']:,} events) for 38 candidate parameters at prevalence 0.33; "
        f"the data has {n_rows:,} rows")
    assert ("Too few rows" in str(report)) is not ok


# ---------------------------------------------------------------------------------- errors

NEEDS_BOTH_CLASSES = [*validation.METRICS.values(), validation.metric_table,
                      validation.calibration_errors, validation.calibration_intercept_slope,
                      lambda y, p: validation.bootstrap_metrics(y, p, n_boot=2)]


@pytest.mark.parametrize("fn", NEEDS_BOTH_CLASSES)
@pytest.mark.parametrize(("value", "message"), [
    (0, r"the outcome has no events \(all 0\): AUROC and calibration are undefined"),
    (1, r"the outcome has only events \(all 1\)"),
])
def test_single_class_outcome_is_a_training_error(fn, value, message):
    if fn in (validation.brier, validation.log_loss):
        assert math.isfinite(fn(np.full(4, value), np.full(4, 0.3)))  # defined for one class
        return
    with pytest.raises(TrainingError, match=message):
        fn(np.full(4, value), np.array([0.1, 0.2, 0.3, 0.4]))


BAD_INPUT = [
    ([0, 1, 1], [0.2, 0.5], "same length; got 3 outcomes and 2 predictions"),
    ([0, 2, 1], [0.2, 0.5, 0.1], r"0/1 outcomes; found 2 at positions 1 \(0-based\)"),
    ([0, 1, 1], [0.2, 1.5, np.nan], r"2 values outside \[0, 1\] or missing at positions 1, 2"),
    ([], [], "empty"),
]


@pytest.mark.parametrize(("y", "p", "message"), BAD_INPUT)
def test_bad_input_is_a_value_error(y, p, message):
    with pytest.raises(ValueError, match=message):
        validation.auroc(np.array(y), np.array(p))


@pytest.mark.parametrize(("call", "message"), [
    (lambda y, p: validation.net_benefit(y, p, [0.0, 0.5]), "strictly between 0 and 1"),
    (lambda y, p: validation.net_benefit(y, p, [1.0]), "strictly between 0 and 1"),
    (lambda y, p: validation.bootstrap_metrics(y, p, n_boot=0), "n_boot must be a positive"),
    (lambda y, p: validation.bootstrap_metrics(y, p, seed=1.5), "seed must be a non-negative"),
    (lambda y, p: validation.bootstrap_metrics(y, p, alpha=5), r"alpha must be in \(0, 1\)"),
    (lambda y, p: validation.bootstrap_metrics(y, p, groups=[1, 2]), "one label per row"),
    (lambda y, p: validation.smoothed_calibration_curve(y, p, frac=0), r"frac must be in \(0"),
    (lambda y, p: validation.minimum_sample_size(10, 0.3, r2_cs=0.1, c_statistic=0.7),
     "not both"),
    (lambda y, p: validation.minimum_sample_size(10, 0.3, r2_cs=0.8), "below the maximum"),
    (lambda y, p: validation.minimum_sample_size(0, 0.3), "n_parameters must be a positive"),
    (lambda y, p: validation.minimum_sample_size(10, 1.3), r"prevalence must be in \(0, 1\)"),
])
def test_parameter_errors(small, call, message):
    y, p = small
    with pytest.raises(ValueError, match=message):
        call(y, p)


def test_sample_size_check_needs_both_classes():
    with pytest.raises(TrainingError, match="0 events in 100 rows"):
        validation.sample_size_check(100, 0, 5)
