"""make_cohort: draw a synthetic cohort and return it as a canonical resorb frame.

Every stage draws from its own child of ``np.random.default_rng(seed)``, so changing one
stage's parameters (say the follow-up horizon) leaves the other stages' draws untouched: the
same patients, seen at a different time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resorb import schema
from resorb.cohort import baseline, draws, outcome
from resorb.cohort.diameters import with_diameters
from resorb.cohort.params import CohortParams
from resorb.cohort.presets import load_cohort_params
from resorb.errors import ConfigError
from resorb.schema import Kind

STAGES = ("population", "imaging", "symptoms", "followup", "resorption", "surgery", "volume",
          "scores", "missing")
EFFECT_SEED, EFFECT_N = 20250101, 200_000


@dataclass(frozen=True)
class Simulation:
    """Complete arrays of one simulated cohort: what the frame shows and what it hides."""

    arrays: dict[str, np.ndarray]
    eventual: np.ndarray  # P(eventual resorption | x)
    params: CohortParams


def simulate(n: int, seed: int, params: CohortParams) -> Simulation:
    """Draw every stage of the generative model (complete data, before missingness)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"the cohort size n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"the seed must be a non-negative integer, got {seed!r}")
    rng = dict(zip(STAGES, np.random.default_rng(seed).spawn(len(STAGES)), strict=True))
    b = baseline.draw_population(rng["population"], params, n)
    b |= baseline.draw_imaging(rng["imaging"], params, n, b["age"])
    b |= baseline.draw_symptoms(rng["symptoms"], params, n)
    b["followup_days"] = baseline.draw_followup(rng["followup"], params, n)
    parts = outcome.logit_contributions(b, params)
    eventual = outcome.eventual_probability(b, params, parts)
    latent = eventual * outcome.time_cdf(b["followup_days"], params)
    b["true_resorption_probability"] = outcome.recorded_probability(b, params, parts, eventual)
    strata = b["herniation_type"] * 2 + (b["migration_grade"] > 0)
    b["resorbed"] = draws.bernoulli(rng["resorption"], latent, n,
                                    systematic=params.sampling == "systematic", strata=strata)
    b["surgery"] = outcome.draw_surgery_day(rng["surgery"], b, params) < b["followup_days"]
    volume = outcome.draw_followup_volume(rng["volume"], b, params, b["resorbed"])
    b["volume_followup_mm3"] = np.where(b["surgery"], np.nan, volume)
    reduction = 1 - b["volume_followup_mm3"] / b["herniation_volume_mm3"]
    b["resorption_grade"] = outcome.resorption_grade(100 * reduction, params)
    b |= outcome.followup_scores(rng["scores"], b, params, reduction, b["surgery"])
    return Simulation(arrays=b, eventual=eventual, params=params)


def make_cohort(n: int, seed: int, preset: str = "literature",
                params: CohortParams | None = None, *, diameters: bool = False) -> pd.DataFrame:
    """Draw a synthetic cohort of patients with lumbar disc herniation under conservative care.

    Parameters
    ----------
    n : int
        Number of patients (rows).
    seed : int
        Seed of ``np.random.default_rng``; the same seed gives the same bytes.
    preset : str, default "literature"
        One of :data:`resorb.cohort.PRESETS`; ignored when ``params`` is given.
    params : CohortParams, optional
        Parameters to use instead of loading ``preset`` from params.yaml.
    diameters : bool, default False
        Also give what a routine report records instead of the volume, canal occupation and
        duration: :data:`resorb.cohort.diameters.DIAMETER_COLUMNS` appended after the
        dictionary's columns (:func:`resorb.cohort.diameters.with_diameters`); the other
        columns keep their bytes.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n, len(schema.NAMES))``, columns in :data:`resorb.schema.NAMES` order
        (then the diameters when asked for).
        Numbers and integers are float64, categories ``str`` (missing NaN), booleans the
        nullable ``boolean`` dtype, ``baseline_date`` ``datetime64[ns]``. Operated rows
        (``surgery``) have no follow-up volume, ``resorbed`` or ``resorption_grade``;
        ``true_resorption_probability`` is the probability of resorption by ``followup_days``
        in the absence of surgery, given what the row records (the rim of a patient given no
        contrast is averaged over its distribution given type and migration), so that it is
        the best any model of the recorded columns can do.

    Raises
    ------
    ConfigError
        Unknown preset, invalid parameters, or ``n < 1``.
    """
    params = load_cohort_params(preset) if params is None else params
    sim = simulate(n, seed, params)
    rng = np.random.default_rng(seed).spawn(len(STAGES))[STAGES.index("missing")]
    frame = _frame(sim.arrays, params, rng)
    return with_diameters(frame, seed) if diameters else frame


def _strings(codes: np.ndarray, categories: tuple[str, ...]) -> pd.Series:
    """Codes into ``categories`` (negative = missing) as a pandas ``str`` Series."""
    values = pc.take(pa.array(categories, pa.large_string()), pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(values, dtype="str"))


def _patient_ids(n: int) -> pa.Array:
    """``SYN-0000001`` .. ``SYN-{n:07d}``, written as bytes into one Arrow buffer.

    Formatting the numbers with Arrow's string kernels (cast, pad, join) took 0.44 s of
    the 11.6 s ``make_cohort`` took at 1 M rows on the loaded shared machine, this 0.19 s;
    the digits of ``1..n`` are arithmetic (docs/cohort.md "Benchmark").
    """
    if n >= 10**7:  # wider than 7 digits: the padding no longer gives one width
        return pc.binary_join_element_wise(
            "SYN-", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 7, "0"),
            "")
    width = 4 + 7
    number = np.arange(1, n + 1, dtype=np.int64)
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, :4] = np.frombuffer(b"SYN-", dtype=np.uint8)
    for place in range(7):  # least significant digit last
        chars[:, width - 1 - place] = 48 + (number // 10**place) % 10
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))


def _boolean(values: np.ndarray, missing: np.ndarray) -> pd.Series:
    return pd.Series(pd.arrays.BooleanArray(values.astype(bool), missing.copy()))


def _frame(b: dict[str, np.ndarray], params: CohortParams,
           rng: np.random.Generator) -> pd.DataFrame:
    """Apply missingness and observation rules, then build the canonical frame."""
    n = b["age"].size
    blank = {c.name: draws.mask_missing(rng, params.missing.get(c.name, 0.0), n)
             for c in schema.COLUMNS}
    blank["rim_enhancement"] = ~b["contrast"]
    for name in ("resorbed", "resorption_grade"):
        blank[name] = b["surgery"]
    ids = _patient_ids(n)
    first = np.datetime64(params.population.baseline_dates.first, "D")
    dates = (first + b["baseline_day"].astype("timedelta64[D]")).astype("datetime64[ns]")
    data: dict[str, pd.Series] = {
        "patient_id": pd.Series(pd.array(ids, dtype="str")),
        "site": _strings(np.where(blank["site"], -1, b["site"]), tuple(params.population.site)),
        "baseline_date": pd.Series(np.where(blank["baseline_date"], np.datetime64("NaT", "ns"),
                                            dates)),
        "rim_enhancement": _strings(np.where(blank["rim_enhancement"], -1, b["rim_latent"]),
                                    schema.column("rim_enhancement").categories),
    }
    for col in schema.COLUMNS:
        if col.name in data:
            continue
        values, miss = b[col.name], blank[col.name]
        if col.kind is Kind.CATEGORY:
            data[col.name] = _strings(np.where(miss, -1, values), col.categories)
        elif col.kind is Kind.BOOLEAN:
            data[col.name] = _boolean(values, miss)
        else:
            data[col.name] = pd.Series(np.where(miss, np.nan, values.astype(float)))
    # concat keeps one block per column: no consolidation copy of 1e6 x 20 floats
    return pd.concat({name: data[name] for name in schema.NAMES}, axis=1)


def true_effects(preset: str = "literature", params: CohortParams | None = None) -> pd.Series:
    """The generator's true importance of each predictor for eventual resorption.

    Importance is the standard deviation, across a cohort of 200,000 patients, of the
    predictor's additive contribution to the logit of P(eventual resorption). Predictors
    the model does not use get 0. The rim term is that of the latent rim: only patients given
    contrast show it, so a fitted model sees less of it.

    Parameters
    ----------
    preset : str, default "literature"
        Preset to load when ``params`` is not given.
    params : CohortParams, optional
        Parameters to use instead of loading ``preset``.

    Returns
    -------
    pandas.Series
        Float64, indexed by schema column name (every entry of
        :data:`resorb.schema.PREDICTORS`), sorted from most to least important; name
        ``"sd_logit"``.
    """
    params = load_cohort_params(preset) if params is None else params
    sim = simulate(EFFECT_N, EFFECT_SEED, params)
    parts = outcome.logit_contributions(sim.arrays, params)
    sd = {name: float(np.std(parts[name])) if name in parts else 0.0 for name in schema.PREDICTORS}
    effects = pd.Series(sd, name="sd_logit", dtype="float64")
    return effects.sort_values(ascending=False, kind="stable")
