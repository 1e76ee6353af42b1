"""What a plan asks and answers: targets, settings, the result (resorb.planning)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resorb.errors import ConfigError

if TYPE_CHECKING:

    pass


#: what a development replicate measures on the validation cohort; True: higher is better
DEVELOPMENT_METRICS: dict[str, bool] = {"calibration_slope": True, "auroc": True, "mape": False}
#: the values a development target can take: (low, high, high included, why), low excluded
TARGET_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "calibration_slope": (0.0, 1.0, True, "slopes approach 1 from below as n grows; a target "
                          "above 1 asks for underfitting, which no sample size buys"),
    "auroc": (0.5, 1.0, False, "0.5 is chance; no finite study reaches 1, and none exceeds "
              "the AUROC of the true probabilities"),
    "mape": (0.0, 1.0, False, "the mean absolute error of a probability, lower is better"),
}


def target_range(metric: str) -> str:
    """The valid target values of ``metric`` in interval notation, e.g. ``"(0, 1]"``."""
    low, high, closed, _ = TARGET_RANGES[metric]
    return f"({low:g}, {high:g}{']' if closed else ')'}"


def target_problem(metric: str, value: float) -> str | None:
    """Why ``value`` cannot be a target for ``metric`` (None when it can)."""
    low, high, closed, why = TARGET_RANGES[metric]
    if math.isfinite(value) and low < value and (value <= high if closed else value < high):
        return None
    return (f"the {metric} target must be in {target_range(metric)} ({why}); got {value:g}")
#: what a validation replicate estimates; Riley 2021's criteria have the same names
VALIDATION_STATISTICS = ("oe", "slope", "c")
_LABELS = {"calibration_slope": "calibration slope", "auroc": "AUROC",
           "mape": "mean absolute error vs the true probability", "oe": "O/E",
           "slope": "calibration slope", "c": "C-statistic"}
_STUDY_CODES = {"reference": 0, "validation_cohort": 1, "development": 2, "validation": 3}
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_CLIP = 1e-6  # predicted probabilities are clipped to [_CLIP, 1 - _CLIP] for logits

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Target:
    """What "large enough" means: a metric's value reached with some assurance.

    ``Target("calibration_slope", 0.9, 0.8)``: the 20th percentile of the slope over
    replicates is at least 0.9 (80% of studies of that size reach 0.9). For ``mape`` (lower
    is better) the 80th percentile must be at most the value.
    """

    metric: str = "calibration_slope"
    value: float = 0.9
    assurance: float = 0.8

    def __post_init__(self) -> None:
        if self.metric not in DEVELOPMENT_METRICS:
            raise ConfigError(f"the target metric must be one of "
                              f"{', '.join(DEVELOPMENT_METRICS)}; got {self.metric!r}")
        if not 0.5 <= self.assurance < 1:
            raise ConfigError(f"the assurance must be in [0.5, 1); got {self.assurance!r}")
        if not isinstance(self.value, int | float) or isinstance(self.value, bool):
            raise ConfigError(f"the target value must be a number; got {self.value!r}")
        if (problem := target_problem(self.metric, float(self.value))) is not None:
            raise ConfigError(problem)

    @property
    def higher_is_better(self) -> bool:
        """Whether the metric must be at least (True) or at most (False) the value."""
        return DEVELOPMENT_METRICS[self.metric]

    @property
    def quantile(self) -> float:
        """The quantile of the metric over replicates that must reach the value."""
        return 1 - self.assurance if self.higher_is_better else self.assurance

    @property
    def column(self) -> str:
        """Its column in the development table, e.g. ``calibration_slope_q20``."""
        return f"{self.metric}_q{round(100 * self.quantile)}"

    def met(self, quantile_value: float) -> bool:
        """Whether a quantile value reaches the target."""
        if self.higher_is_better:
            return bool(quantile_value >= self.value)
        return bool(quantile_value <= self.value)

    def describe(self) -> str:
        """In words: ``calibration slope >= 0.9 with 80% assurance``."""
        op = ">=" if self.higher_is_better else "<="
        return f"{_LABELS[self.metric]} {op} {self.value:g} with {self.assurance:.0%} assurance"


def _positive_sizes(name: str, sizes: Sequence[int], minimum: int) -> tuple[int, ...]:
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < minimum:
            raise ConfigError(f"{name} must be whole numbers of at least {minimum}; got {s!r}")
        out.append(int(s))
    if not out:
        raise ConfigError(f"{name}: give at least one size")
    if len(set(out)) != len(out):
        raise ConfigError(f"{name} must be distinct; got {', '.join(map(str, out))}")
    return tuple(sorted(out))


@dataclass(frozen=True)
class PlanSettings:
    """How the simulation runs (the CLI's options; every default is the CLI's default).

    Attributes
    ----------
    sizes : tuple of int
        Development sizes: usable (labelled) rows fitted on, each >= 20.
    validation_sizes : tuple of int
        External validation sizes: usable rows validated on, each >= 20.
    replicates : int
        Replicate studies per size (>= 2).
    seed : int
        Seed of everything (>= 0).
    validation_rows : int
        Rows drawn for the large validation cohort of the development study (>= 500).
    reference_rows : int
        Rows drawn to fit the fixed model of the external-validation study when none is given.
    workers : int
        Worker processes (1: in this process); results do not depend on it.
    target : Target
    oe_ci_width, slope_ci_width, c_ci_width : float
        Target 95% interval widths of the external-validation criteria (Riley 2021).
    """

    sizes: tuple[int, ...] = (100, 200, 500, 1000, 2000)
    validation_sizes: tuple[int, ...] = (200, 500, 1000, 2000, 4000)
    replicates: int = 50
    seed: int = 2026
    validation_rows: int = 20_000
    reference_rows: int = 20_000
    workers: int = 2
    target: Target = field(default_factory=Target)
    oe_ci_width: float = 0.2
    slope_ci_width: float = 0.2
    c_ci_width: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", _positive_sizes("sizes", self.sizes, 20))
        object.__setattr__(self, "validation_sizes",
                           _positive_sizes("validation sizes", self.validation_sizes, 20))
        for name, value, low in (("replicates", self.replicates, 2), ("seed", self.seed, 0),
                                 ("validation_rows", self.validation_rows, 500),
                                 ("reference_rows", self.reference_rows, 500),
                                 ("workers", self.workers, 1)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                    or value < low:
                raise ConfigError(f"{name} must be a whole number >= {low}; got {value!r}")
        for name, value in (("oe_ci_width", self.oe_ci_width),
                            ("slope_ci_width", self.slope_ci_width),
                            ("c_ci_width", self.c_ci_width)):
            if not value > 0:
                raise ConfigError(f"{name} must be positive; got {value!r}")


@dataclass(frozen=True)
class Plan:
    """What :func:`plan_sample_size` found (aggregates only; no patient rows).

    Attributes
    ----------
    development : DataFrame
        One row per development size: ``n`` (usable rows), ``events`` (mean), per metric of
        :data:`DEVELOPMENT_METRICS` ``<m>_mean``, ``<m>_mc_se``, ``<m>_p2_5``, ``<m>_p97_5``;
        the target's quantile column (``calibration_slope_q20``) and ``target_met``; and
        ``riley_expected_shrinkage`` (Riley 2020 criterion (i) read at n).
    validation : DataFrame
        One row per validation size: ``n``, ``events`` (mean), per statistic of
        :data:`VALIDATION_STATISTICS` ``<s>_mean``, ``<s>_width`` (simulated 95% interval
        width: 3.92 SD; for O/E on the log scale, as Riley's), ``<s>_p2_5``, ``<s>_p97_5``
        and ``<s>_riley_width`` (Riley 2021's anticipated width at n).
    summary : DataFrame
        One row per criterion (the target; the mean slope against Riley 2020's criterion
        (i), which is about the expected slope; O/E, slope and C of the validation study):
        ``study``, ``criterion``, ``target``, ``simulated_n``
        (smallest size reaching it, or missing), ``simulated_n_interpolated`` (log-linear
        between the sizes around it), ``riley_n``, ``ratio`` (simulated / Riley).
    replicates : DataFrame
        Every development replicate's values: ``n``, ``replicate``, ``events`` and the metrics.
    riley_development : dict
        :func:`resorb.metrics.minimum_sample_size` for the candidate's parameter count, with
        ``shrinkage`` (criterion (i)'s target: the target slope when the target is the
        calibration slope, else 0.9).
    riley_validation : ValidationSampleSize
    info : dict
        ``candidate``, ``preset``, ``n_parameters``, ``prevalence`` (usable rows of the
        validation cohort), ``validation_rows`` (usable), ``truth_auroc``, ``truth_mape`` (0),
        ``anticipated_c``, ``fixed_model`` (what was validated), ``fixed_model_auroc``,
        ``fixed_model_oe``, ``target``.
    """

    development: pd.DataFrame
    validation: pd.DataFrame
    summary: pd.DataFrame
    replicates: pd.DataFrame
    riley_development: dict[str, Any]
    riley_validation: Any
    info: dict[str, Any]


