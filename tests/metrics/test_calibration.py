"""resorb.metrics.calibration: intercept, slope, smoothed curve, ICI and the binned table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit

from resorb import metrics


def _mle(y: np.ndarray, lp: np.ndarray, fit_slope: bool) -> np.ndarray:
    """Independent reference: unpenalised logistic ML by a generic optimiser."""
    def nll(b):
        eta = b[0] + (b[1] if fit_slope else 1.0) * lp
        return np.sum(np.logaddexp(0, eta) - y * eta)
    return minimize(nll, [0.0, 1.0], method="BFGS", options={"gtol": 1e-10}).x


def test_intercept_and_slope_are_the_ml_estimates(small):
    y, p = small
    p = expit(0.7 * logit(p) - 0.4)
    intercept, slope = metrics.calibration_intercept_slope(y, p)
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
    a, b = metrics.calibration_intercept_slope(y, expit(transform(logit(p))))
    assert b == pytest.approx(slope, rel=0.06)
    if intercept is not None:
        assert a == pytest.approx(intercept, abs=0.05)


def test_calibrated_data_has_small_ici(calibrated):
    y, p = calibrated
    errors = metrics.calibration_errors(y, p)
    assert errors["ici"] < 0.015
    assert errors["e50"] <= errors["e90"] <= errors["emax"]
    assert metrics.integrated_calibration_index(y, p) == pytest.approx(errors["ici"])


def test_ici_measures_a_known_offset():
    # true risk in [.3, .8], predictions .1 too low everywhere: ICI close to .1
    rng = np.random.default_rng(4)
    truth = rng.uniform(0.3, 0.8, 20_000)
    y = (rng.uniform(size=truth.size) < truth).astype(int)
    assert metrics.integrated_calibration_index(y, truth - 0.1) == pytest.approx(0.1, abs=0.015)


def test_smoothed_curve_follows_the_diagonal_when_calibrated(calibrated):
    y, p = calibrated
    curve = metrics.smoothed_calibration_curve(y, p)
    assert list(curve.columns) == ["predicted", "observed"] and len(curve) == 100
    assert curve["predicted"].iloc[0] == p.min() and curve["predicted"].iloc[-1] == p.max()
    inner = curve[(curve["predicted"] > 0.1) & (curve["predicted"] < 0.9)]
    assert np.max(np.abs(inner["observed"] - inner["predicted"])) < 0.04
    assert curve["observed"].between(0, 1).all()


@pytest.mark.parametrize(("y", "p", "slope"), [
    ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], math.inf),  # perfectly separated
    ([0, 1, 1, 0], [0.1, 0.2, 0.8, 0.9], 0.0),       # overlapping: slope 0 by symmetry
    ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], -math.inf),  # inversely separated
    ([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3], math.nan),  # constant predictions
], ids=["separated", "overlap", "inverse", "constant"])
def test_slope_at_the_edges(y, p, slope):
    a, b = metrics.calibration_intercept_slope(np.array(y), np.array(p))
    assert math.isfinite(a)
    if math.isnan(slope):
        assert math.isnan(b)
    else:
        assert b == pytest.approx(slope, abs=1e-6)


def test_calibration_in_bins(small):
    y, p = small
    table = metrics.calibration_in_bins(y, p, n_bins=10)
    assert len(table) == 10 and table["n"].sum() == y.size and table["events"].sum() == y.sum()
    assert (table["predicted"].between(table["p_min"], table["p_max"])).all()
    assert (table["observed_low"] <= table["observed"]).all()
    assert (table["observed"] <= table["observed_high"]).all()
    assert table["predicted"].is_monotonic_increasing
