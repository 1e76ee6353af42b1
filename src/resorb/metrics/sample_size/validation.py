"""Minimum size of an external validation data set (Riley et al. 2021).

Riley et al., Stat Med 2021;40:4230-4251, doi:10.1002/sim.9025: :func:`validation_sample_size`
returns the requirement as :class:`ValidationSampleSize`; :func:`validation_precision` the
interval widths a data set of a given size can expect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

from resorb.metrics.sample_size.development import _ceil

# --- External validation: Riley et al., Stat Med 2021;40:4230-4251, doi:10.1002/sim.9025 ---

_Z = 1.96  # the paper's and pmvalsampsize's normal quantile for 95% intervals
_NODES, _NODE_WEIGHTS = np.polynomial.hermite_e.hermegauss(200)
_NODE_WEIGHTS = _NODE_WEIGHTS / math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class ValidationCriterion:
    """One criterion of :func:`validation_sample_size`: rows for one precise estimate.

    Attributes
    ----------
    name : str
        "oe" (observed/expected ratio), "slope" (calibration slope), "c" (C-statistic) or
        "net_benefit" (standardised net benefit).
    n, events : int
        Rows and events (``ceil(n * prevalence)``) that give the target precision.
    se : float
        Standard error of the estimate at the target (of ln O/E for "oe").
    ci_width : float
        Target width of the 95% interval (of O/E itself for "oe").
    """

    name: str
    n: int
    events: int
    se: float
    ci_width: float


@dataclass(frozen=True)
class ValidationSampleSize:
    """Minimum size of an external validation data set (Riley et al., Stat Med 2021).

    Attributes
    ----------
    prevalence, c_statistic : float
        Anticipated outcome proportion and C-statistic in the validation population.
    lp_source : str
        Where the linear predictor distribution of the slope criterion came from: "normal"
        (given mean and SD), "sample" (given values) or "c_statistic" (derived from
        ``c_statistic`` and ``prevalence``).
    criteria : tuple of ValidationCriterion
        One per criterion, in the order O/E, slope, C (and net benefit when asked for).
    required_n, required_events : int
        The largest ``n`` over the criteria and its events.
    binding : str
        Name of the criterion that sets ``required_n``.
    """

    prevalence: float
    c_statistic: float
    lp_source: str
    criteria: tuple[ValidationCriterion, ...]
    required_n: int
    required_events: int
    binding: str

    def criterion(self, name: str) -> ValidationCriterion:
        """The criterion called ``name`` ("oe", "slope", "c", "net_benefit"); KeyError if absent."""
        for crit in self.criteria:
            if crit.name == name:
                return crit
        raise KeyError(f"no criterion {name!r}; have {[c.name for c in self.criteria]}")

    def below_minimum(self, n_rows: int, n_events: int) -> bool:
        """True when a validation data set has fewer rows or fewer events than required."""
        return bool(n_rows < self.required_n or n_events < self.required_events)

    def message(self, n_rows: int | None = None, n_events: int | None = None) -> str:
        """The requirement in one paragraph for people; with the data's counts, the verdict."""
        labels = {"oe": "O/E", "slope": "calibration slope", "c": "C-statistic",
                  "net_benefit": "net benefit"}
        parts = ", ".join(f"{labels[c.name]} {c.n:,} ({c.events:,} events)"
                          for c in self.criteria)
        text = (f"Riley 2021 minimum sample size for external validation: {self.required_n:,} "
                f"rows ({self.required_events:,} events) at prevalence {self.prevalence:.2f} and "
                f"C-statistic {self.c_statistic:.2f}; binding criterion: "
                f"{labels[self.binding]} (per criterion: {parts}).")
        if n_rows is not None and n_events is not None:
            text += f" The data has {n_rows:,} rows ({n_events:,} events)"
            if self.below_minimum(n_rows, n_events):
                text += ("; below the minimum: the performance estimates will be imprecise, "
                         "read their intervals rather than the point values.")
            else:
                text += "; enough."
        return text


def _lp_nodes(prevalence: float, c_statistic: float, lp_normal: tuple[float, float] | None,
              lp_sample: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """Linear predictor distribution as (values, weights summing to 1, source)."""
    if lp_normal is not None and lp_sample is not None:
        raise ValueError("give lp_normal or lp_sample, not both")
    if lp_normal is not None:
        mean, sd = (float(v) for v in lp_normal)
        if not (math.isfinite(mean) and math.isfinite(sd) and sd > 0):
            raise ValueError(f"lp_normal must be (mean, sd) with sd > 0; got {lp_normal!r}")
        return mean + sd * _NODES, _NODE_WEIGHTS, "normal"
    if lp_sample is not None:
        lp = np.asarray(lp_sample, dtype=float).ravel()
        if lp.size < 2 or not np.all(np.isfinite(lp)) or np.ptp(lp) == 0:
            raise ValueError("lp_sample must hold at least 2 finite, not all equal, log-odds; "
                             f"got {lp.size} values")
        return lp, np.full(lp.size, 1.0 / lp.size), "sample"
    # Riley 2021 (section 4.2, and pmvalsampsize's lpcstat): LP normal in non-events and in
    # events with a common variance s2 = 2 Phi^-1(C)^2 (so that the C-statistic is C) and
    # means m and m + s2. Then logit P(Y=1 | LP) = logit(phi) - m - s2/2 + LP, so the model
    # is calibrated when m = logit(phi) - s2/2: the mean pmvalsampsize searches for by
    # simulation is solved exactly here.
    s2 = 2.0 * float(ndtri(c_statistic)) ** 2
    m = float(logit(prevalence)) - s2 / 2
    s = math.sqrt(s2)
    values = np.concatenate([m + s * _NODES, m + s2 + s * _NODES])
    weights = np.concatenate([(1 - prevalence) * _NODE_WEIGHTS, prevalence * _NODE_WEIGHTS])
    return values, weights, "c_statistic"


def _n_oe(prevalence: float, oe: float, width: float) -> tuple[float, float]:
    """Rows for an O/E interval ``exp(ln OE +- 1.96 SE)`` of width ``width`` (Riley 2021, eq. 4)."""
    se = math.asinh(width / (2 * oe)) / _Z  # exp(a + zs) - exp(a - zs) = 2 OE sinh(zs)
    return (1 - prevalence) / (prevalence * se * se), se


def _slope_variance_per_row(lp: np.ndarray, w: np.ndarray) -> float:
    """n Var(calibration slope) (Riley 2021, eq. 7-8).

    Var(slope) is the (2, 2) element of the inverse Fisher information of the calibration
    model logit P(Y=1) = a + b LP at a = 0, b = 1, per row: I00 / (I00 I11 - I01^2) / n.
    """
    v = np.exp(lp - 2 * np.logaddexp(0.0, lp))  # expit(lp) (1 - expit(lp)), overflow-safe
    i00, i01, i11 = w @ v, w @ (lp * v), w @ (lp * lp * v)
    return float(i00 / (i00 * i11 - i01 * i01))


def _n_slope(lp: np.ndarray, w: np.ndarray, width: float) -> tuple[float, float]:
    """Rows for a calibration slope interval of width ``width``."""
    se = width / (2 * _Z)
    return _slope_variance_per_row(lp, w) / (se * se), se


def _c_statistic_se(n: float, c: float, prevalence: float) -> float:
    """SE of the C-statistic at ``n`` rows (Newcombe 2006, as in Riley 2021, eq. 9)."""
    k = n / 2 - 1
    var = c * (1 - c) * (1 + k * (1 - c) / (2 - c) + k * c / (1 + c)) \
        / (n * n * prevalence * (1 - prevalence))
    return math.sqrt(var)


def _n_c(c: float, prevalence: float, width: float) -> tuple[int, float]:
    """Smallest whole n whose C-statistic interval is at most ``width`` wide."""
    se = width / (2 * _Z)
    # se(n)^2 = target^2 is a quadratic in n: a n^2 - b n - c0 = 0
    q = (1 - c) / (2 - c) + c / (1 + c)
    a = prevalence * (1 - prevalence) * se * se
    b = c * (1 - c) * q / 2
    c0 = c * (1 - c) * (1 - q)
    n = max(1, math.ceil((b + math.sqrt(b * b + 4 * a * c0)) / (2 * a)) - 2)
    while 2 * _Z * _c_statistic_se(n, c, prevalence) > width:
        n += 1
    return n, _c_statistic_se(n, c, prevalence)


def _sensitivity_specificity(lp: np.ndarray, w: np.ndarray, source: str, prevalence: float,
                             c_statistic: float, lp_normal: tuple[float, float] | None,
                             threshold: float) -> tuple[float, float]:
    """Anticipated sensitivity and specificity at a risk threshold, from the LP distribution.

    Outcomes follow the LP (calibrated model), as pmvalsampsize simulates them; computed
    exactly for the outcome-conditional normals, on a dense quantile grid for a normal LP
    (a quadrature cannot integrate the step at the threshold), by weights for a sample.
    """
    cut = float(logit(threshold))
    if source == "c_statistic":
        s2 = 2.0 * float(ndtri(c_statistic)) ** 2
        m, s = float(logit(prevalence)) - s2 / 2, math.sqrt(s2)
        return float(ndtr((m + s2 - cut) / s)), float(ndtr((cut - m) / s))
    if source == "normal" and lp_normal is not None:
        grid = (np.arange(100_000) + 0.5) / 100_000
        lp, w = lp_normal[0] + lp_normal[1] * ndtri(grid), np.full(grid.size, 1e-5)
    p = expit(lp)
    above = lp >= cut
    return (float(w @ (p * above) / (w @ p)),
            float(w @ ((1 - p) * ~above) / (w @ (1 - p))))


def _n_net_benefit(prevalence: float, sensitivity: float, specificity: float,
                   threshold: float, width: float) -> tuple[float, float]:
    """Rows for a standardised net benefit interval of width ``width`` (Riley 2021).

    Standardised net benefit is net benefit / observed prevalence, sens - w (1 - spec) with
    w = (1 - phi) / phi * t / (1 - t); its variance includes that of the observed prevalence.
    """
    odds = threshold / (1 - threshold)
    w = (1 - prevalence) / prevalence * odds
    se = width / (2 * _Z)
    var1 = (sensitivity * (1 - sensitivity) / prevalence
            + w * w * specificity * (1 - specificity) / (1 - prevalence)
            + w * w * (1 - specificity) ** 2 / (prevalence * (1 - prevalence)))
    return var1 / (se * se), se


def validation_sample_size(prevalence: float, c_statistic: float, *, oe: float = 1.0,
                           oe_ci_width: float = 0.2, slope_ci_width: float = 0.2,
                           c_ci_width: float = 0.1,
                           lp_normal: tuple[float, float] | None = None,
                           lp_sample: Any = None, threshold: float | None = None,
                           sensitivity: float | None = None,
                           specificity: float | None = None,
                           nb_ci_width: float = 0.2) -> ValidationSampleSize:
    """Minimum rows to externally validate a model of a binary outcome (Riley et al. 2021).

    Riley RD, Debray TPA, Collins GS, Archer L, Ensor J, van Smeden M, Snell KIE. Minimum
    sample size for external validation of a clinical prediction model with a binary outcome.
    Stat Med 2021;40:4230-4251, doi:10.1002/sim.9025; the R/Stata/Python ``pmvalsampsize``
    implements it. The largest n over the criteria is required:

    (i) O/E: ``SE(ln O/E) = sqrt((1 - phi) / (n phi))`` gives an interval
        ``exp(ln OE +- 1.96 SE)`` of width ``oe_ci_width``;
    (ii) calibration slope: ``SE = sqrt(I00 / (n (I00 I11 - I01^2)))``, the Fisher
        information of the calibration model ``logit P = a + b LP`` at a = 0, b = 1 averaged
        over the anticipated linear predictor (LP) distribution, gives width
        ``slope_ci_width``;
    (iii) C-statistic: Newcombe's SE gives width ``c_ci_width``;
    (iv) optional, when ``threshold`` is given: standardised net benefit at that risk
        threshold with width ``nb_ci_width``.

    The LP distribution is, in order: ``lp_normal`` (mean, SD of the log-odds); ``lp_sample``
    (log-odds, e.g. the model's predictions on the validation data); else normal in events and
    non-events with common variance ``2 Phi^-1(C)^2`` and means chosen so that the model is
    calibrated at ``prevalence`` (the paper's approach, pmvalsampsize's ``lpcstat``, whose
    simulated search for the non-event mean is solved exactly here). Integrals are computed by
    Gauss-Hermite quadrature, not simulation.

    Differences from ``pmvalsampsize``: it searches SE(ln O/E) on a 0.0001 grid (so its O/E
    n can be 1 lower), estimates (ii) from a simulated LP sample (about 0.2% noise with its
    default million draws), and rounds the net benefit SE to 3 decimals.

    Parameters
    ----------
    prevalence : float
        Anticipated outcome proportion phi in the validation population, in (0, 1).
    c_statistic : float
        Anticipated C-statistic (AUROC) of the model there, in (0.5, 1).
    oe : float
        Anticipated observed/expected ratio (> 0).
    oe_ci_width, slope_ci_width, c_ci_width, nb_ci_width : float
        Target widths of the 95% intervals (> 0).
    lp_normal : (float, float), optional
        Mean and SD of a normal LP distribution (log-odds).
    lp_sample : array-like of shape (m,), optional
        Log-odds values whose empirical distribution is the LP distribution.
    threshold : float, optional
        Risk threshold in (0, 1) for the net benefit criterion (iv).
    sensitivity, specificity : float, optional
        Anticipated at ``threshold``; by default derived from the LP distribution.

    Returns
    -------
    ValidationSampleSize
        Each criterion's n and events, the binding criterion, ``below_minimum`` and
        ``message``.

    Raises
    ------
    ValueError
        A parameter outside its range, or both ``lp_normal`` and ``lp_sample``.
    """
    for name, value in (("prevalence", prevalence), ("c_statistic", c_statistic)):
        if not (isinstance(value, int | float) and 0.0 < value < 1.0):
            raise ValueError(f"{name} must be in (0, 1); got {value!r}")
    if c_statistic <= 0.5:
        raise ValueError(f"c_statistic must be in (0.5, 1); got {c_statistic}")
    for name, value in (("oe", oe), ("oe_ci_width", oe_ci_width),
                        ("slope_ci_width", slope_ci_width), ("c_ci_width", c_ci_width),
                        ("nb_ci_width", nb_ci_width)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number; got {value!r}")
    lp, w, source = _lp_nodes(prevalence, c_statistic, lp_normal, lp_sample)
    criteria = []

    def add(name: str, n: float, se: float, width: float) -> None:
        n_int = _ceil(n)
        criteria.append(ValidationCriterion(name=name, n=n_int,
                                            events=_ceil(n_int * prevalence),
                                            se=float(se), ci_width=float(width)))

    add("oe", *_n_oe(prevalence, oe, oe_ci_width), oe_ci_width)
    add("slope", *_n_slope(lp, w, slope_ci_width), slope_ci_width)
    add("c", *_n_c(c_statistic, prevalence, c_ci_width), c_ci_width)
    if threshold is not None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1); got {threshold!r}")
        if (sensitivity is None) != (specificity is None):
            raise ValueError("give both sensitivity and specificity, or neither")
        if sensitivity is None or specificity is None:
            sensitivity, specificity = _sensitivity_specificity(
                lp, w, source, prevalence, c_statistic, lp_normal, threshold)
        for name, value in (("sensitivity", sensitivity), ("specificity", specificity)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {value!r}")
        add("net_benefit", *_n_net_benefit(prevalence, sensitivity, specificity, threshold,
                                           nb_ci_width), nb_ci_width)
    elif sensitivity is not None or specificity is not None:
        raise ValueError("sensitivity and specificity need a threshold")
    binding = max(criteria, key=lambda c: c.n)
    return ValidationSampleSize(prevalence=float(prevalence), c_statistic=float(c_statistic),
                                lp_source=source, criteria=tuple(criteria),
                                required_n=binding.n, required_events=binding.events,
                                binding=binding.name)


def validation_precision(n_rows: int, prevalence: float, c_statistic: float, *,
                         oe: float = 1.0, lp_normal: tuple[float, float] | None = None,
                         lp_sample: Any = None) -> dict[str, float]:
    """Anticipated 95% interval widths of O/E, calibration slope and C at ``n_rows`` rows.

    The same standard errors as :func:`validation_sample_size` (Riley et al., Stat Med
    2021;40:4230, doi:10.1002/sim.9025), read the other way: the precision a validation data
    set of a given size can expect, rather than the size a precision needs.

    Parameters
    ----------
    n_rows : int
        Rows of the validation data (>= 2).
    prevalence, c_statistic, oe, lp_normal, lp_sample
        As in :func:`validation_sample_size`.

    Returns
    -------
    dict
        ``{"oe": width of exp(ln OE +- 1.96 SE), "slope": 3.92 SE, "c": 3.92 SE}``.

    Raises
    ------
    ValueError
        ``n_rows`` below 2 or a parameter outside its range.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or n_rows < 2:
        raise ValueError(f"n_rows must be an integer >= 2; got {n_rows!r}")
    validation_sample_size(prevalence, c_statistic, oe=oe, lp_normal=lp_normal,
                           lp_sample=lp_sample)  # the same checks of the parameters
    lp, w, _ = _lp_nodes(prevalence, c_statistic, lp_normal, lp_sample)
    se_ln_oe = math.sqrt((1 - prevalence) / (n_rows * prevalence))
    return {"oe": 2 * oe * math.sinh(_Z * se_ln_oe),
            "slope": 2 * _Z * math.sqrt(_slope_variance_per_row(lp, w) / n_rows),
            "c": 2 * _Z * _c_statistic_se(n_rows, c_statistic, prevalence)}

