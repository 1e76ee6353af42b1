"""The causal outcome model: baseline -> eventual resorption, its timing, surgery, follow-up.

The functions that give probabilities (:func:`logit_contributions`, :func:`time_cdf`,
:func:`surgery_survival`) are shared by the generator, the fidelity check and the calibration,
so the numbers in params.yaml mean the same thing everywhere.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit, ndtr

from resorb.cohort import draws
from resorb.cohort.baseline import Arrays, measured
from resorb.cohort.params import RIMS, TYPES, CohortParams, distribution

DAYS_PER_YEAR = 365.25
MAX_VOLUME_FOLLOWUP = 40000.0
_MARGIN = 1e-9  # keeps measured reductions strictly off the label threshold
_MAX_ROUNDS = 60


def logit_contributions(b: Arrays, params: CohortParams) -> dict[str, np.ndarray]:
    """Each predictor's additive contribution to the logit of eventual resorption.

    Keys are schema column names; the rim term uses the latent rim (present whether or not
    contrast was given), the volume term the true (not the measured) volume.
    """
    r = params.resorption
    t2 = np.array([r.t2_logit[k] for k in ("low", "iso", "high")])
    duration = (b["symptom_duration_days"] - r.long_duration_days) / r.long_duration_width_days
    powered = b["volume_latent"] ** r.volume.hill  # once: a float power is the costly part
    hill = powered / (powered + r.volume.half_mm3**r.volume.hill)
    treatment = np.array([r.treatment_logit[k] for k in
                          ("conservative", "epidural_steroid", "periradicular_infiltration")])
    return {
        "herniation_type": np.array([r.type_logit[k] for k in TYPES])[b["herniation_type"]],
        "rim_enhancement": np.array([r.rim_logit[k] for k in RIMS])[b["rim_latent"]],
        "migration_grade": r.migration_per_grade * b["migration_grade"],
        "t2_signal": t2[b["t2_signal"]],
        "modic_type": r.modic_logit * (b["modic_type"] > 0),
        "symptom_duration_days": r.long_duration_logit * expit(duration),
        "age": r.age.height * np.exp(-0.5 * ((b["age"] - r.age.peak_years)
                                             / r.age.width_years) ** 2),
        "herniation_volume_mm3": r.volume.height * hill,
        "treatment": treatment[b["treatment"]],
    }


def eventual_probability(b: Arrays, params: CohortParams,
                         parts: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Probability that the herniation ever resorbs without surgery.

    ``parts``: :func:`logit_contributions` of ``b`` when the caller has them already.
    """
    parts = logit_contributions(b, params) if parts is None else parts
    eta = params.resorption.intercept + sum(parts.values())
    return expit(eta)


def recorded_probability(b: Arrays, params: CohortParams,
                         parts: dict[str, np.ndarray] | None = None,
                         eventual: np.ndarray | None = None) -> np.ndarray:
    """P(resorbed by ``followup_days``) given what the row records.

    Where contrast was given the rim is seen and this is the generator's probability; where
    it was not, the latent rim is averaged over its distribution given herniation type and
    migration (the one it was drawn from). So the labels, drawn from the latent probability,
    have exactly this expectation given the recorded rim: the best any model of the
    recorded columns can do (up to the volume reading error, which it keeps).

    ``parts`` (:func:`logit_contributions` of ``b``) and ``eventual``
    (:func:`eventual_probability` of ``b``) may be passed when the caller has them: the
    generator does: computing the contributions once instead of five times saved about a
    tenth of ``make_cohort`` in a profile at 1 M rows (docs/cohort.md "Benchmark"). The
    result is the same to the last bit.
    """
    img = params.imaging
    parts = logit_contributions(b, params) if parts is None else parts
    seen = b["contrast"].astype(bool)
    blind = np.flatnonzero(~seen)  # rows whose rim is averaged over
    by_type = np.array([distribution(img.rim_enhancement[t], RIMS) for t in TYPES])
    migrated = distribution(img.rim_enhancement["migrated"], RIMS)
    prior = np.where((b["migration_grade"][blind] > 0)[:, None], migrated,
                     by_type[b["herniation_type"][blind]])
    rim_logit = np.array([params.resorption.rim_logit[k] for k in RIMS])
    blind_parts = {name: part[blind] for name, part in parts.items()}
    averaged = np.zeros(blind.size)
    for code in range(len(RIMS)):
        # the rim term as if every row had this rim; the others unchanged, summed in order
        as_if = blind_parts | {"rim_enhancement": np.full(blind.size, rim_logit[code])}
        averaged += prior[:, code] * eventual_probability(b, params, as_if)
    recorded = (eventual_probability(b, params, parts) if eventual is None
                else np.array(eventual, dtype=float, copy=True))
    recorded[blind] = averaged
    return recorded * time_cdf(b["followup_days"], params)


def time_cdf(days: np.ndarray | float, params: CohortParams) -> np.ndarray:
    """P(time to resorption <= days | eventual resorber): Weibull (Albert 2024, Autio 2006)."""
    t = params.resorption.time
    return -np.expm1(-((np.asarray(days, dtype=float) / t.weibull_scale_days) ** t.weibull_shape))


def mean_time_months(params: CohortParams) -> float:
    """Mean time to resorption of eventual resorbers, in months (Weibull mean)."""
    from math import gamma

    t = params.resorption.time
    return t.weibull_scale_days * gamma(1 + 1 / t.weibull_shape) / (DAYS_PER_YEAR / 12)


def surgery_rate(b: Arrays, params: CohortParams) -> np.ndarray:
    """Hazard of surgery per day; depends on baseline only, never on the latent outcome."""
    s = params.surgery
    eta = (s.vas_leg_per_point * (b["vas_leg"] - params.symptoms.vas_leg.mean)
           + s.canal_per_pp * (b["canal_occupation_pct"] - s.canal_reference_pct)
           + s.motor_deficit * b["motor_deficit"]
           + s.cauda_equina * b["cauda_equina"]
           + s.progressive_motor_deficit * b["progressive_motor_deficit"])
    return s.hazard_per_year / DAYS_PER_YEAR * np.exp(eta)


def surgery_survival(days: np.ndarray | float, b: Arrays, params: CohortParams) -> np.ndarray:
    """P(not operated by ``days``)."""
    return np.exp(-surgery_rate(b, params) * days)


def draw_surgery_day(rng: np.random.Generator, b: Arrays, params: CohortParams) -> np.ndarray:
    """Day of surgery if conservative care went on forever (``inf`` when never)."""
    rate = surgery_rate(b, params)
    e = rng.standard_exponential(rate.size)
    with np.errstate(divide="ignore"):
        return np.where(rate > 0, e / np.where(rate > 0, rate, 1.0), np.inf)


def extent_location(b: Arrays, params: CohortParams) -> np.ndarray:
    """Logit-scale location of the extent of shrinkage beyond the label threshold."""
    vc = params.volume_change
    median = np.array([vc.extent_median[k] for k in RIMS])[b["rim_latent"]]
    return logit(median) + vc.modic_extent_logit * (b["modic_type"] > 0)


def complete_probability(b: Arrays, params: CohortParams) -> np.ndarray:
    """P(the herniation disappears | it resorbs): by type (Chiu 2015), lower with Modic."""
    vc = params.volume_change
    share = np.array([vc.complete_share[k] for k in TYPES])[b["herniation_type"]]
    return expit(logit(share) + vc.modic_extent_logit * (b["modic_type"] > 0))


def extent_bands(loc: np.ndarray, params: CohortParams) -> np.ndarray:
    """Edges of the slight / marked / disappeared bands on the latent normal extent scale.

    Returns shape ``(n, 2)``: the z above which a resorber's shrinkage is a marked decrease,
    and the z above which it counts as disappeared.
    """
    vc, thr = params.volume_change, params.min_reduction_pct / 100
    g = vc.grades_pct
    cuts = np.clip((np.array([g.marked_decrease, g.disappeared]) / 100 - thr) / (1 - thr), 0, 1)
    with np.errstate(divide="ignore"):
        return (logit(cuts)[None, :] - loc[:, None]) / vc.extent_logit_sd


def _shrink(rng: np.random.Generator, sub: Arrays, params: CohortParams, systematic: bool,
            ) -> np.ndarray:
    """Follow-up/baseline ratio of resorbers that do not disappear entirely.

    The grade band (slight, marked, near-disappeared) is drawn first with the sampling design,
    then the extent within it; the distribution is the logit-normal either way, but under
    systematic sampling the band counts of a small cohort land on their expected values.
    """
    vc, thr = params.volume_change, params.min_reduction_pct / 100
    n = sub["age"].size
    if thr >= 1 or n == 0:
        return np.zeros(n)
    loc = extent_location(sub, params)
    edges = extent_bands(loc, params)
    cdf = ndtr(edges)
    probs = np.diff(np.column_stack([np.zeros(n), cdf, np.ones(n)]), axis=1).clip(0, 1)
    strata = sub["herniation_type"] * 2 + (sub["migration_grade"] > 0)
    band = draws.categorical(rng, probs, n, systematic=systematic, strata=strata)
    bounds = np.column_stack([np.full(n, -np.inf), edges, np.full(n, np.inf)])
    rows = np.arange(n)
    z = draws.truncated_normal(rng, 0.0, 1.0, bounds[rows, band], bounds[rows, band + 1], n)
    extent = expit(loc + vc.extent_logit_sd * z)
    return 1 - (thr + (1 - thr) * extent)


def _ratio(rng: np.random.Generator, b: Arrays, params: CohortParams, idx: np.ndarray,
           resorbed: np.ndarray, complete: np.ndarray, systematic: bool) -> np.ndarray:
    """True follow-up/baseline volume ratio for rows ``idx``, on the right side of the threshold."""
    vc, thr = params.volume_change, params.min_reduction_pct / 100
    ratio = np.zeros(idx.size)
    partial = resorbed[idx] & ~complete[idx]
    rows = idx[partial]
    sub = {k: b[k][rows] for k in ("age", "herniation_type", "migration_grade", "rim_latent",
                                   "modic_type")}
    ratio[partial] = _shrink(rng, sub, params, systematic)
    stay = ~resorbed[idx]
    st = vc.stable_log_ratio
    low = np.log(1 - thr) if thr < 1 else -np.inf
    ratio[stay] = np.exp(draws.truncated_normal(rng, st.mean, st.sd, low, np.inf, int(stay.sum())))
    return ratio


def draw_followup_volume(rng: np.random.Generator, b: Arrays, params: CohortParams,
                         resorbed: np.ndarray) -> np.ndarray:
    """Measured follow-up volume (mm3), consistent with ``resorbed`` under the label rule.

    Resorbers lose at least ``min_reduction_pct`` of the measured baseline volume (some all of
    it, Chiu 2015); the others keep more. Each follow-up volume is the mean of several noisy
    readings (Schmidt 2025); draws whose readings cross the threshold against the latent
    event are drawn again, which samples the readings conditional on the event.
    """
    img, thr = params.imaging, params.min_reduction_pct / 100
    n = resorbed.size
    share = complete_probability(b, params)
    strata = b["herniation_type"] * 2 + (b["migration_grade"] > 0)
    systematic = params.sampling == "systematic"
    complete = resorbed & draws.bernoulli(rng, share, n, systematic=systematic, strata=strata)
    v0_seen, out = b["herniation_volume_mm3"], np.full(n, np.nan)
    todo = np.arange(n)
    for attempt in range(_MAX_ROUNDS):
        ratio = _ratio(rng, b, params, todo, resorbed, complete, systematic and attempt == 0)
        true = b["volume_latent"][todo] * ratio
        v1 = np.round(measured(rng, true, img.reading_cv, img.readings), 1)
        v1 = np.minimum(v1, MAX_VOLUME_FOLLOWUP)
        reduction = 1 - v1 / v0_seen[todo]
        ok = np.where(resorbed[todo], reduction >= thr + _MARGIN, reduction <= thr - _MARGIN)
        out[todo[ok]] = v1[ok]
        todo = todo[~ok]
        if todo.size == 0:
            return out
    # a handful of rows hugging the threshold: put them just on their side of it
    edge = v0_seen[todo] * (1 - thr) * 10
    out[todo] = np.where(resorbed[todo], np.maximum(np.floor(edge - 1), 0), np.ceil(edge + 1)) / 10
    return out


def resorption_grade(reduction_pct: np.ndarray, params: CohortParams) -> np.ndarray:
    """Komori 1998 grade codes (schema order) from measured reduction in percent; -1 if NaN."""
    g = params.volume_change.grades_pct
    cuts = np.array([g.disappeared, g.marked_decrease, g.slight_decrease, g.no_change])
    codes = (reduction_pct[:, None] < cuts[None, :]).sum(axis=1)
    return np.where(np.isnan(reduction_pct), -1, codes)


def followup_scores(rng: np.random.Generator, b: Arrays, params: CohortParams,
                    reduction: np.ndarray, operated: np.ndarray) -> dict[str, np.ndarray]:
    """Leg pain and ODI at follow-up: natural course, shrinkage, Modic, treatment, surgery."""
    out = {}
    any_modic = b["modic_type"] > 0
    for name, top, decimals in (("vas_leg", 10, 1), ("odi", 100, 0)):
        p = getattr(params.followup_pain, name)
        treat = np.array([p.treatment.get(k, 0.0) for k in
                          ("conservative", "epidural_steroid", "periradicular_infiltration")])
        z = rng.standard_normal(reduction.size)
        course = np.where(operated, p.surgery, p.per_reduction * np.nan_to_num(reduction))
        delta = p.change + treat[b["treatment"]] + p.modic * any_modic + p.sd * z + course
        out[f"{name}_followup"] = np.round(np.clip(b[name] + delta, 0, top), decimals)
    return out
