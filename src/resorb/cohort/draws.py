"""Vectorised random draws used by the generator: every function takes its own Generator.

Two sampling designs share one interface. ``iid`` draws each row independently, as a real
cohort would be sampled. ``systematic`` uses systematic sampling with unequal probabilities
(Madow 1949): each row still gets its category with exactly the stated probability, but the
counts in a small cohort land on the rounded expected counts, so a preset can reproduce a
48-patient study's table at n = 48.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

_ROUND = 9  # cumulative sums are rounded so 22 * (1/22) counts as exactly 1 row


def uniform(rng: np.random.Generator, n: int, *, systematic: bool = False) -> np.ndarray:
    """Uniforms on [0, 1); stratified (one per 1/n slice, shuffled) under ``systematic``."""
    if systematic:
        return (rng.permutation(n) + rng.random(n)) / n
    return rng.random(n)


def truncated_normal(rng: np.random.Generator, mean: np.ndarray | float, sd: np.ndarray | float,
                     low: np.ndarray | float, high: np.ndarray | float, n: int, *,
                     systematic: bool = False) -> np.ndarray:
    """Normal draws truncated to ``[low, high]`` by inverse-CDF sampling (no rejection)."""
    a = ndtr((np.asarray(low) - mean) / sd)
    b = ndtr((np.asarray(high) - mean) / sd)
    u = a + (b - a) * uniform(rng, n, systematic=systematic)
    return np.clip(mean + sd * ndtri(np.clip(u, 1e-300, 1 - 1e-16)), low, high)


def lognormal_parameters(mean: float, sd: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the log of a lognormal variable with this mean and SD."""
    sigma2 = np.log1p((sd / mean) ** 2)
    return float(np.log(mean) - sigma2 / 2), float(np.sqrt(sigma2))


def _systematic(rng: np.random.Generator, p: np.ndarray, strata: np.ndarray | None) -> np.ndarray:
    n = p.size
    key = rng.random(n)
    order = np.argsort(key) if strata is None else np.lexsort((key, strata))
    start = rng.random()
    cum = np.round(np.cumsum(p[order]), _ROUND)
    before = np.concatenate(([0.0], cum[:-1]))
    hit = (np.floor(cum + start) - np.floor(before + start)) > 0
    out = np.empty(n, dtype=bool)
    out[order] = hit
    return out


def bernoulli(rng: np.random.Generator, p: np.ndarray | float, n: int, *, systematic: bool = False,
              strata: np.ndarray | None = None) -> np.ndarray:
    """Boolean draws with probability ``p`` (scalar or one per row).

    Under ``iid`` the draw is ``u < p`` with one uniform per row, so raising ``p`` for a row
    can only turn its event on (draws are monotone in ``p``).
    """
    p = np.broadcast_to(np.asarray(p, dtype=float), (n,))
    if systematic:
        return _systematic(rng, p, strata)
    return rng.random(n) < p


def categorical(rng: np.random.Generator, probs: np.ndarray, n: int, *, systematic: bool = False,
                strata: np.ndarray | None = None) -> np.ndarray:
    """Category codes ``0..k-1`` with probabilities ``probs`` (shape ``(k,)`` or ``(n, k)``)."""
    probs = np.asarray(probs, dtype=float)
    if not systematic:
        u = rng.random(n)
        if probs.ndim == 1:
            return np.searchsorted(np.cumsum(probs)[:-1], u, side="right").astype(np.int64)
        codes, edge = np.zeros(n, dtype=np.int64), np.zeros(n)
        for j in range(probs.shape[1] - 1):  # k is small: k passes over n beat an (n, k) cumsum
            edge += probs[:, j]
            codes += u >= edge
        return codes
    probs = np.broadcast_to(probs, (n, probs.shape[-1]))
    k = probs.shape[1]
    # sequential splits: category j among rows not yet assigned, with its conditional probability
    codes = np.full(n, k - 1, dtype=np.int64)
    left = np.ones(n, dtype=bool)
    remaining = np.ones(n)
    for j in range(k - 1):
        idx = np.flatnonzero(left)
        if idx.size == 0:
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = np.where(remaining[idx] > 1e-12, probs[idx, j] / remaining[idx], 0.0)
        sub = None if strata is None else strata[idx]
        chosen = idx[_systematic(rng, np.clip(cond, 0.0, 1.0), sub)]
        codes[chosen] = j
        left[chosen] = False
        remaining = remaining - probs[:, j]
    return codes


def mixture_normal(rng: np.random.Generator, weights: np.ndarray, means: np.ndarray,
                   sds: np.ndarray, n: int, *, systematic: bool = False) -> np.ndarray:
    """Draws from a mixture of normal components."""
    component = categorical(rng, weights / weights.sum(), n, systematic=systematic)
    z = ndtri(np.clip(uniform(rng, n, systematic=systematic), 1e-16, 1 - 1e-16))
    return means[component] + sds[component] * z


def mask_missing(rng: np.random.Generator, rate: float, n: int) -> np.ndarray:
    """Rows to blank, missing completely at random."""
    if rate <= 0:
        return np.zeros(n, dtype=bool)
    return rng.random(n) < rate
