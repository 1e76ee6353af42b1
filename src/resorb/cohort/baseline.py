"""Baseline population: who presents, with what symptoms, and what the first MRI shows.

Returns complete data as plain arrays: categories as integer codes into the schema's
categories, booleans as ``bool``. Latent quantities the outcome model needs but a clinician
never sees (the true volume, the rim of patients who got no contrast) carry a ``_latent``
suffix. Missingness is applied later, when the frame is assembled.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from resorb import schema
from resorb.cohort import draws
from resorb.cohort.params import LATENT, RIMS, TYPES, CohortParams, correlation_matrix, distribution

DAYS_PER_MONTH = 365.25 / 12
Arrays = dict[str, np.ndarray]


def _codes(name: str) -> tuple[str, ...]:
    return schema.column(name).categories


def draw_population(rng: np.random.Generator, params: CohortParams, n: int) -> Arrays:
    """Demographics, history, signs, treatment, level, site and baseline date."""
    pop, sys = params.population, params.sampling == "systematic"
    age = pop.age
    out: Arrays = {
        "age": np.round(draws.truncated_normal(rng, age.mean, age.sd, age.low, age.high, n,
                                               systematic=sys)),
        "sex": draws.bernoulli(rng, pop.male, n, systematic=sys).astype(np.int64),
        "bmi": np.round(draws.truncated_normal(rng, pop.bmi.mean, pop.bmi.sd, pop.bmi.low,
                                               pop.bmi.high, n), 1),
        "smoker": draws.bernoulli(rng, pop.smoker, n, systematic=sys),
        "diabetes": draws.bernoulli(rng, pop.diabetes, n, systematic=sys),
    }
    mu, sigma = draws.lognormal_parameters(pop.symptom_months.mean, pop.symptom_months.sd)
    months = np.exp(mu + sigma * rng.standard_normal(n))
    out["symptom_duration_days"] = np.clip(np.round(months * DAYS_PER_MONTH), 1, 3650)
    for name in ("slr_positive", "motor_deficit", "sensory_deficit", "cauda_equina"):
        out[name] = draws.bernoulli(rng, getattr(pop, name), n, systematic=sys)
    # progressive deficits are a subset of motor deficits
    share = pop.progressive_motor_deficit / pop.motor_deficit if pop.motor_deficit else 0.0
    out["progressive_motor_deficit"] = out["motor_deficit"] & draws.bernoulli(
        rng, share, n, systematic=sys)
    out["treatment"] = draws.categorical(rng, distribution(pop.treatment, _codes("treatment")), n,
                                         systematic=sys)
    out["level"] = draws.categorical(rng, distribution(pop.level, _codes("level")), n,
                                     systematic=sys)
    sites = tuple(pop.site)
    out["site"] = draws.categorical(rng, distribution(pop.site, sites), n, systematic=sys)
    first = np.datetime64(pop.baseline_dates.first, "D")
    span = (np.datetime64(pop.baseline_dates.last, "D") - first).astype(np.int64) + 1
    out["baseline_day"] = rng.integers(0, span, n)
    return out


def draw_imaging(rng: np.random.Generator, params: CohortParams, n: int, age: np.ndarray) -> Arrays:
    """Type, migration, rim enhancement (latent and whether contrast showed it), grades."""
    img, sys = params.imaging, params.sampling == "systematic"
    kind = draws.categorical(rng, distribution(img.herniation_type, TYPES), n, systematic=sys)
    migration_table = np.array([img.migration_grade[t] for t in TYPES])
    migration = draws.categorical(rng, migration_table[kind], n, systematic=sys, strata=kind)
    migrated = migration > 0
    rim_table = np.array([distribution(img.rim_enhancement[t], RIMS) for t in TYPES])
    rim_probs = np.where(migrated[:, None], distribution(img.rim_enhancement["migrated"], RIMS),
                         rim_table[kind])
    strata = kind * 2 + migrated
    rim = draws.categorical(rng, rim_probs, n, systematic=sys, strata=strata)
    out: Arrays = {
        "herniation_type": kind,
        "migration_grade": migration.astype(float),
        "rim_latent": rim,
        "contrast": draws.bernoulli(rng, img.contrast_given, n, systematic=sys),
        "t2_signal": draws.categorical(rng, distribution(img.t2_signal, _codes("t2_signal")), n,
                                       systematic=sys),
        "pfirrmann_grade": 1.0 + draws.categorical(
            rng, distribution(img.pfirrmann_grade, (1, 2, 3, 4, 5)), n, systematic=sys),
        "modic_type": draws.categorical(rng, distribution(img.modic_type, (0, 1, 2, 3)), n,
                                        systematic=sys).astype(float),
    }
    fat = img.multifidus_fat_pct
    mean = fat.mean + fat.per_decade * (age - params.population.age.mean) / 10
    out["multifidus_fat_pct"] = np.round(np.clip(mean + fat.sd * rng.standard_normal(n), 0, 100), 1)
    return out


def measured(rng: np.random.Generator, true: np.ndarray, cv: float, readings: int) -> np.ndarray:
    """Mean of ``readings`` unbiased multiplicative readings of ``true`` (Schmidt 2025: 4)."""
    if cv == 0:
        return true.copy()
    sigma = np.sqrt(np.log1p(cv**2))
    noise = np.exp(sigma * rng.standard_normal((true.size, readings)) - sigma**2 / 2)
    return true * noise.mean(axis=1)


def draw_symptoms(rng: np.random.Generator, params: CohortParams, n: int) -> Arrays:
    """Size, canal occupation, pain and disability from one latent Gaussian copula."""
    sym, img = params.symptoms, params.imaging
    chol = np.linalg.cholesky(correlation_matrix(sym.latent_correlation))
    z = _correlate(rng.standard_normal((n, len(LATENT))), chol)
    col = {name: z[:, i] for i, name in enumerate(LATENT)}
    mu, sigma = draws.lognormal_parameters(img.volume_mm3.mean, img.volume_mm3.sd)
    true = np.clip(np.exp(mu + sigma * col["volume"]), 10, 20000)
    seen = np.clip(np.round(measured(rng, true, img.reading_cv, img.readings), 1), 10, 20000)
    canal = img.canal_occupation
    occupation = 100 * expit(logit(canal.median_pct / 100) + canal.log_odds_sd * col["canal"])
    return {
        "volume_latent": true,
        "herniation_volume_mm3": seen,
        "canal_occupation_pct": np.round(occupation, 1),
        "vas_leg": _score(sym.vas_leg.mean, sym.vas_leg.sd, col["vas_leg"], 10, 1),
        "vas_back": _score(sym.vas_back.mean, sym.vas_back.sd, col["vas_back"], 10, 1),
        "odi": _score(sym.odi.mean, sym.odi.sd, col["odi"], 100, 0),
    }


def _correlate(z: np.ndarray, chol: np.ndarray, rows: int = 4096) -> np.ndarray:
    """``z @ chol.T`` in blocks of ``rows`` that stay in cache.

    One (1e6, 6) @ (6, 6) product took 0.19-0.28 s of CPU (a tenth of ``make_cohort``),
    blocks of 4,096 rows 0.04 s, with the same BLAS kernel per row and so the same bits
    (docs/cohort.md "Benchmark").
    """
    out = np.empty_like(z)
    for start in range(0, z.shape[0], rows):
        np.matmul(z[start:start + rows], chol.T, out=out[start:start + rows])
    return out


def _score(mean: float, sd: float, z: np.ndarray, top: float, decimals: int) -> np.ndarray:
    """A symptom score on ``0..top`` from its latent normal (floor and ceiling effects kept)."""
    return np.round(np.clip(mean + sd * z, 0, top), decimals)


def draw_followup(rng: np.random.Generator, params: CohortParams, n: int) -> np.ndarray:
    """Days from baseline to follow-up MRI (integers, float64)."""
    fu = params.followup
    if fu.fixed_days is not None:
        return np.full(n, float(fu.fixed_days))
    parts = fu.components
    days = draws.mixture_normal(rng, np.array([c.weight for c in parts]),
                                np.array([c.mean_days for c in parts]),
                                np.array([c.sd_days for c in parts]), n,
                                systematic=params.sampling == "systematic")
    return np.clip(np.round(days), fu.low_days, fu.high_days)
