"""Factories of outcomes drawn from known resorption probabilities, for the metrics tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit


def bernoulli_cohort(n: int = 4000, seed: int = 0, mean_lp: float = -0.3,
                     sd_lp: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from known resorption probabilities: perfectly calibrated p."""
    rng = np.random.default_rng(seed)
    p = expit(rng.normal(mean_lp, sd_lp, n))
    return (rng.uniform(size=n) < p).astype(int), p


@pytest.fixture
def bernoulli():
    """Factory: ``bernoulli(n, seed, mean_lp, sd_lp) -> (y, p)`` with p perfectly calibrated."""
    return bernoulli_cohort


@pytest.fixture(scope="module")
def calibrated():
    return bernoulli_cohort(n=20_000, seed=1)


@pytest.fixture(scope="module")
def small():
    return bernoulli_cohort(n=1500, seed=2)
