"""resorb.metrics.sample_size: Riley et al. (Stat Med 2021) sample size for external validation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.special import expit, logit, ndtri
from scipy.stats import beta

from resorb import metrics
from resorb.metrics.sample_size import _c_statistic_se

# The worked example of Riley et al. (Stat Med 2021;40:4230) as run by pmvalsampsize
# (R tests/testthat/test_bin.R and the Python package's docs/example.ipynb): mechanical heart
# valve failure, prevalence 0.018, C 0.8, O/E interval width 1, other widths default.
# pmvalsampsize: O/E 905, C-statistic 4252, slope 4544 for LP ~ N(-5, 2.5) and 1644 for
# predicted risks ~ Beta(0.5, 0.5), slope from a simulated million LP values.
PREV, C = 0.018, 0.8


def test_c_statistic_criterion_matches_pmvalsampsize_exactly():
    out = metrics.validation_sample_size(PREV, C, oe_ci_width=1, lp_normal=(-5, 2.5))
    assert out.criterion("c").n == 4252
    assert out.criterion("c").events == math.ceil(4252 * PREV)


def test_oe_criterion_matches_pmvalsampsize_up_to_its_se_grid():
    # pmvalsampsize steps SE(ln O/E) by 0.0001 until the width reaches 1 (SE 0.2456 > exact
    # 0.24552), which gives 905; the exact SE gives 905.06 -> 906
    crit = metrics.validation_sample_size(PREV, C, oe_ci_width=1).criterion("oe")
    assert crit.n in (905, 906)
    assert crit.se == pytest.approx(0.2456, abs=1e-4)


@pytest.mark.parametrize("width", [0.1, 0.2, 1.0])
def test_oe_interval_at_n_is_just_narrow_enough(width):
    crit = metrics.validation_sample_size(0.3, 0.75, oe_ci_width=width).criterion("oe")

    def ci_width(n):
        se = math.sqrt(0.7 / (n * 0.3))
        return math.exp(1.96 * se) - math.exp(-1.96 * se)

    assert ci_width(crit.n) <= width < ci_width(crit.n - 1)


@pytest.mark.parametrize(("prev", "c", "width"), [(0.018, 0.8, 0.1), (0.3, 0.75, 0.1),
                                                  (0.6, 0.9, 0.05)])
def test_c_interval_at_n_is_just_narrow_enough(prev, c, width):
    n = metrics.validation_sample_size(prev, c, c_ci_width=width).criterion("c").n
    assert 3.92 * _c_statistic_se(n, c, prev) <= width < 3.92 * _c_statistic_se(n - 1, c, prev)


def test_slope_criterion_normal_lp_matches_pmvalsampsize():
    # quadrature, no simulation noise: 4554 against pmvalsampsize's simulated 4544
    n = metrics.validation_sample_size(PREV, C, oe_ci_width=1,
                                       lp_normal=(-5, 2.5)).criterion("slope").n
    assert n == pytest.approx(4544, rel=0.005)
    # the same distribution given as a dense quantile grid agrees with the quadrature
    grid = -5 + 2.5 * ndtri((np.arange(200_000) + 0.5) / 200_000)
    assert metrics.validation_sample_size(PREV, C, lp_sample=grid).criterion("slope").n \
        == pytest.approx(n, rel=0.002)


def test_slope_criterion_beta_risks_match_pmvalsampsize():
    grid = (np.arange(200_000) + 0.5) / 200_000
    lp = logit(beta.ppf(grid, 0.5, 0.5))
    out = metrics.validation_sample_size(PREV, C, oe_ci_width=1, lp_sample=lp)
    assert out.criterion("slope").n == pytest.approx(1644, rel=0.003)
    assert out.lp_source == "sample"
    # with the slope at 1644 the C-statistic (4252) binds, as in pmvalsampsize
    assert (out.binding, out.required_n) == ("c", 4252)


def test_lp_derived_from_c_statistic_is_calibrated_with_that_c():
    # the default LP distribution: calibrated at the prevalence, discriminating at C
    out = metrics.validation_sample_size(0.3, 0.75)
    assert out.lp_source == "c_statistic"
    rng = np.random.default_rng(4)
    s2 = 2 * 0.6744897501960817**2  # 2 Phi^-1(0.75)^2
    y = (rng.uniform(size=400_000) < 0.3).astype(int)
    lp = rng.normal(logit(0.3) - s2 / 2 + s2 * y, math.sqrt(s2))
    assert expit(lp).mean() == pytest.approx(0.3, abs=0.003)
    assert metrics.auroc(y, expit(lp)) == pytest.approx(0.75, abs=0.003)
    assert metrics.calibration_slope(y, expit(lp)) == pytest.approx(1.0, abs=0.02)
    # and the slope criterion from that simulated sample agrees with the quadrature
    n_sim = metrics.validation_sample_size(0.3, 0.75, lp_sample=lp).criterion("slope").n
    assert n_sim == pytest.approx(out.criterion("slope").n, rel=0.02)


def test_slope_and_net_benefit_se_match_simulated_validation_studies():
    """At the required n, the spread of the estimates over validation samples is the target."""
    prev, c, threshold = 0.3, 0.75, 0.2
    out = metrics.validation_sample_size(prev, c, threshold=threshold)
    s2 = 2 * 0.6744897501960817**2
    rng = np.random.default_rng(11)
    n_slope, n_nb = out.criterion("slope").n, out.criterion("net_benefit").n
    slopes, nbs = [], []
    odds = threshold / (1 - threshold)
    for _ in range(300):
        y = (rng.uniform(size=n_slope) < prev).astype(int)
        p = expit(rng.normal(logit(prev) - s2 / 2 + s2 * y, math.sqrt(s2)))
        slopes.append(metrics.calibration_slope(y, p))
        y, p = y[:n_nb], p[:n_nb]
        tp, fp = np.sum((p >= threshold) & (y == 1)), np.sum((p >= threshold) & (y == 0))
        nbs.append((tp - fp * odds) / y.sum())  # net benefit / observed prevalence
    assert np.std(slopes) == pytest.approx(out.criterion("slope").se, rel=0.12)
    assert np.std(nbs) == pytest.approx(out.criterion("net_benefit").se, rel=0.12)


def test_net_benefit_from_given_sensitivity_and_specificity():
    prev, t, sens, spec = 0.3, 0.2, 0.8, 0.6
    crit = metrics.validation_sample_size(prev, 0.75, threshold=t, sensitivity=sens,
                                          specificity=spec).criterion("net_benefit")
    w = 0.7 / 0.3 * 0.25
    var1 = sens * 0.2 / prev + w * w * spec * 0.4 / 0.7 + w * w * 0.16 / (0.3 * 0.7)
    assert crit.n == math.ceil(var1 / (0.2 / 3.92) ** 2)


def test_verdict_and_message_name_both_numbers():
    out = metrics.validation_sample_size(0.3, 0.75)
    assert dataclasses.is_dataclass(out)
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.required_n = 1  # type: ignore[misc]
    assert out.required_n == max(c.n for c in out.criteria)
    assert out.binding == "slope"
    assert out.below_minimum(300, 90)
    assert not out.below_minimum(out.required_n, out.required_events)
    assert out.below_minimum(out.required_n, out.required_events - 1)
    text = out.message(300, 90)
    assert f"{out.required_n:,} rows" in text and "300 rows (90 events)" in text
    assert "below the minimum" in text
    assert "below" not in out.message(10_000, 3_000).split("The data")[1]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prevalence": 0.0}, "prevalence must be in"),
    ({"c_statistic": 0.5}, "c_statistic must be in"),
    ({"oe_ci_width": -1}, "oe_ci_width must be a positive"),
    ({"lp_normal": (0, 1), "lp_sample": [0, 1]}, "not both"),
    ({"lp_normal": (0, 0)}, "sd > 0"),
    ({"lp_sample": [1.0, 1.0]}, "not all equal"),
    ({"lp_sample": [0.0, np.nan]}, "finite"),
    ({"threshold": 1.5}, "threshold must be in"),
    ({"threshold": 0.2, "sensitivity": 0.5}, "both sensitivity and specificity"),
    ({"sensitivity": 0.5, "specificity": 0.5}, "need a threshold"),
])
def test_bad_parameters_raise(kwargs, match):
    args = {"prevalence": 0.3, "c_statistic": 0.75} | kwargs
    with pytest.raises(ValueError, match=match):
        metrics.validation_sample_size(**args)


@pytest.mark.parametrize(("prev", "c", "kwargs"), [
    (0.3, 0.75, {}), (0.018, 0.8, {"lp_normal": (-5, 2.5)}), (0.55, 0.77, {"oe": 1.1})])
def test_precision_at_the_required_n_is_the_target(prev, c, kwargs):
    need = metrics.validation_sample_size(prev, c, **kwargs)
    for crit in need.criteria:
        at_n = metrics.validation_precision(crit.n, prev, c, **kwargs)[crit.name]
        before = metrics.validation_precision(crit.n - 1, prev, c, **kwargs)[crit.name]
        assert at_n <= crit.ci_width < before
        assert at_n == pytest.approx(crit.ci_width, rel=0.01)


def test_precision_needs_two_rows():
    with pytest.raises(ValueError, match="n_rows must be an integer >= 2"):
        metrics.validation_precision(1, 0.3, 0.75)


def test_expected_shrinkage_inverts_riley_2020_criterion_i():
    # Chagas example (Riley et al. 2019/2020): 24 parameters, R2cs 0.288 -> 623 rows for 0.9
    assert metrics.expected_shrinkage(623, 24, 0.288) == pytest.approx(0.9, abs=2e-4)
    for shrinkage in (0.8, 0.85, 0.95):
        n = metrics.minimum_sample_size(30, 0.4, r2_cs=0.2, shrinkage=shrinkage)["n_shrinkage"]
        assert shrinkage <= metrics.expected_shrinkage(n, 30, 0.2) < shrinkage + 1e-3
    values = [metrics.expected_shrinkage(n, 30, 0.2) for n in (50, 100, 1000, 10_000)]
    assert values == sorted(values) and values[0] > 0.2 and values[-1] < 1


@pytest.mark.parametrize(("args", "match"), [
    ((0, 10, 0.2), "n_rows must be a positive integer"),
    ((100, 0, 0.2), "n_parameters must be a positive integer"),
    ((100, 10, 1.0), "r2_cs must be in"),
])
def test_expected_shrinkage_bad_parameters(args, match):
    with pytest.raises(ValueError, match=match):
        metrics.expected_shrinkage(*args)
