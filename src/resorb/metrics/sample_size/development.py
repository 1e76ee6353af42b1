"""Minimum sample size to develop a prediction model of resorption (Riley et al. 2020).

Riley et al., BMJ 2020;368:m441, doi:10.1136/bmj.m441 (the criteria; derived in Stat Med
2019;38:1276-1296, doi:10.1002/sim.7992), with the anticipated Cox-Snell R2 read off a
C-statistic after Riley, Van Calster & Collins, Stat Med 2021;40:859-864, doi:10.1002/sim.8806.
:func:`sample_size_check` returns the verdict as typed data (:class:`SampleSizeReport`);
:func:`expected_shrinkage` reads criterion (i) the other way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logit, ndtri

from resorb.errors import TrainingError


def _null_loglik(prevalence: float) -> float:
    """Mean log-likelihood per row of the intercept-only model at this prevalence."""
    return prevalence * math.log(prevalence) + (1 - prevalence) * math.log(1 - prevalence)


def _max_r2_cs(prevalence: float) -> float:
    """Largest Cox-Snell R2 a binary outcome of this prevalence allows (Riley 2020, eq. 2)."""
    return 1.0 - math.exp(2.0 * _null_loglik(prevalence))


def _r2_cs_from_c(c_statistic: float, prevalence: float) -> float:
    """Cox-Snell R2 implied by a C-statistic (Riley, Van Calster & Collins, Stat Med 2021).

    Their approach assumes a linear predictor N(0, 1) in non-events and N(mu, 1) in events,
    mu = sqrt(2) * Phi^-1(C), and reads R2 off a logistic fit to a simulated million patients.
    The logistic model is exact under that assumption, so the expected log-likelihood is
    integrated here by Gauss-Hermite quadrature instead: same target, no simulation noise.
    """
    mu = math.sqrt(2.0) * float(ndtri(c_statistic))
    x, wts = np.polynomial.hermite_e.hermegauss(120)
    wts = wts / math.sqrt(2 * math.pi)
    base = float(logit(prevalence)) - mu * mu / 2
    ll_events = wts @ -np.logaddexp(0.0, -(base + mu * (x + mu)))
    ll_non_events = wts @ -np.logaddexp(0.0, base + mu * x)
    ll_model = prevalence * ll_events + (1 - prevalence) * ll_non_events
    return 1.0 - math.exp(-2.0 * (ll_model - _null_loglik(prevalence)))


def _n_for_shrinkage(n_parameters: int, r2_cs: float, shrinkage: float) -> float:
    """Riley 2020 eq. 1: rows for an expected uniform shrinkage factor ``shrinkage``."""
    return n_parameters / ((shrinkage - 1.0) * math.log(1.0 - r2_cs / shrinkage))


def _ceil(x: float) -> int:
    """Round up, forgiving floating-point noise just above an integer."""
    return math.ceil(x - 1e-9)


def minimum_sample_size(n_parameters: int, prevalence: float, r2_cs: float | None = None,
                        shrinkage: float = 0.9, max_optimism: float = 0.05,
                        margin: float = 0.05,
                        c_statistic: float | None = None) -> dict[str, Any]:
    """Minimum rows to develop a model for a binary outcome (Riley et al., BMJ 2020;368:m441).

    Three criteria, the largest n wins:

    (i) expected uniform shrinkage >= ``shrinkage``:
        ``n = P / ((S - 1) ln(1 - R2cs / S))``;
    (ii) optimism in apparent Nagelkerke R2 <= ``max_optimism``: the same formula with
        ``S = R2cs / (R2cs + max_optimism * max R2cs)``,
        ``max R2cs = 1 - (phi^phi (1 - phi)^(1 - phi))^2``;
    (iii) overall risk within +-``margin`` (95%): ``n = (1.96 / margin)^2 phi (1 - phi)``.

    The anticipated Cox-Snell R2 is, in order: ``r2_cs`` when given; else derived from
    ``c_statistic`` by the approximation of Riley, Van Calster & Collins (Stat Med
    2021;40:859), computed by quadrature rather than simulation; else the conservative default
    of Riley 2020, 15% of max R2cs (Nagelkerke R2 = 0.15).

    Values are not rounded midway, unlike the R/Stata ``pmsampsize`` (which rounds max R2cs to
    2 and S of (ii) to 3 decimals): (i) and (iii) agree exactly, (ii) can differ by about 1%.

    Parameters
    ----------
    n_parameters : int
        Candidate predictor parameters (dummy columns, spline terms, interactions), P.
    prevalence : float
        Anticipated outcome proportion phi, in (0, 1).
    r2_cs, c_statistic : float, optional
        Anticipated (optimism-adjusted) Cox-Snell R2 or C-statistic; give at most one.
    shrinkage : float
        Target expected shrinkage S of (i).
    max_optimism : float
        Largest acceptable optimism in Nagelkerke R2 of (ii).
    margin : float
        Absolute margin of error of the overall risk in (iii).

    Returns
    -------
    dict
        ``n_shrinkage``, ``n_optimism``, ``n_intercept`` (rows per criterion, rounded up),
        ``required_n``, ``events_required`` (rounded up), ``epp`` (events per parameter),
        ``binding`` ("shrinkage", "optimism" or "intercept"), ``r2_cs``, ``r2_cs_source``
        ("given", "c_statistic" or "15% of max"), ``max_r2_cs``, ``shrinkage_optimism``
        (S of criterion ii).

    Raises
    ------
    ValueError
        A parameter outside its range, or both ``r2_cs`` and ``c_statistic`` given.
    """
    if isinstance(n_parameters, bool) or not isinstance(n_parameters, int | np.integer) \
            or n_parameters < 1:
        raise ValueError(f"n_parameters must be a positive integer; got {n_parameters!r}")
    for name, value in (("prevalence", prevalence), ("shrinkage", shrinkage),
                        ("max_optimism", max_optimism), ("margin", margin)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be in (0, 1); got {value}")
    if r2_cs is not None and c_statistic is not None:
        raise ValueError("give r2_cs or c_statistic, not both")
    max_r2 = _max_r2_cs(prevalence)
    if r2_cs is not None:
        source = "given"
    elif c_statistic is not None:
        if not 0.5 < c_statistic < 1.0:
            raise ValueError(f"c_statistic must be in (0.5, 1); got {c_statistic}")
        r2_cs, source = _r2_cs_from_c(c_statistic, prevalence), "c_statistic"
    else:
        r2_cs, source = 0.15 * max_r2, "15% of max"
    if not 0.0 < r2_cs < min(max_r2, shrinkage):
        raise ValueError(
            f"r2_cs must be in (0, {min(max_r2, shrinkage):.3f}): positive, below the maximum "
            f"Cox-Snell R2 at prevalence {prevalence} ({max_r2:.3f}) and below shrinkage; "
            f"got {r2_cs}"
        )
    s_optimism = r2_cs / (r2_cs + max_optimism * max_r2)
    n = {"shrinkage": _ceil(_n_for_shrinkage(n_parameters, r2_cs, shrinkage)),
         "optimism": _ceil(_n_for_shrinkage(n_parameters, r2_cs, s_optimism)),
         "intercept": _ceil((1.96 / margin) ** 2 * prevalence * (1 - prevalence))}
    binding = max(n, key=n.__getitem__)
    required = n[binding]
    return {"n_shrinkage": n["shrinkage"], "n_optimism": n["optimism"],
            "n_intercept": n["intercept"], "required_n": required,
            "events_required": _ceil(required * prevalence),
            "epp": required * prevalence / n_parameters, "binding": binding,
            "r2_cs": float(r2_cs), "r2_cs_source": source, "max_r2_cs": max_r2,
            "shrinkage_optimism": s_optimism}


@dataclass(frozen=True)
class SampleSizeReport:
    """A development data set against the Riley minimum sample size, as typed data.

    Attributes
    ----------
    n_rows, n_events, n_parameters : int
        Rows, events (resorptions) and candidate predictor parameters of the data.
    prevalence : float
        ``n_events / n_rows``.
    required_n, required_events : int
        Rows and events :func:`minimum_sample_size` asks for at that prevalence.
    epp, required_epp : float
        Events per candidate parameter in the data and required.
    binding : str
        The criterion that sets ``required_n``: "shrinkage", "optimism" or "intercept".
    r2_cs : float
        Anticipated Cox-Snell R2, and ``r2_cs_source`` where it came from.
    below_minimum : bool
        The verdict: True when ``n_rows < required_n`` (expect overfitting).
    """

    n_rows: int
    n_events: int
    n_parameters: int
    prevalence: float
    required_n: int
    required_events: int
    epp: float
    required_epp: float
    binding: str
    r2_cs: float
    r2_cs_source: str
    below_minimum: bool

    @property
    def ok(self) -> bool:
        """True when the data meet the minimum: ``not below_minimum``."""
        return not self.below_minimum

    @property
    def message(self) -> str:
        """The verdict in one paragraph for people (logs, the report); never parse it."""
        text = (
            f"Riley minimum sample size: {self.required_n:,} rows ({self.required_events:,} "
            f"events) for {self.n_parameters} candidate parameters at prevalence "
            f"{self.prevalence:.2f}; the data has {self.n_rows:,} rows ({self.n_events:,} "
            f"events, {self.epp:.1f} per parameter). Binding criterion: {self.binding}; "
            f"Cox-Snell R2 {self.r2_cs:.3f} ({self.r2_cs_source})."
        )
        if self.below_minimum:
            text += (" Too few rows: expect overfitting; reduce the candidate parameters or "
                     "use a penalised model, and check the optimism-corrected calibration slope.")
        return text

    def __str__(self) -> str:
        return self.message


def sample_size_check(n_rows: int, n_events: int, n_parameters: int, *,
                      r2_cs: float | None = None, c_statistic: float | None = None,
                      shrinkage: float = 0.9, max_optimism: float = 0.05,
                      margin: float = 0.05) -> SampleSizeReport:
    """Whether a development data set meets :func:`minimum_sample_size` at its own prevalence.

    Riley et al. (BMJ 2020;368:m441, doi:10.1136/bmj.m441).

    Parameters
    ----------
    n_rows, n_events : int
        Rows (herniations) and events (resorptions) in the development data.
    n_parameters : int
        Candidate predictor parameters (after one-hot encoding and splines).
    r2_cs, c_statistic, shrinkage, max_optimism, margin
        As in :func:`minimum_sample_size`; prevalence is ``n_events / n_rows``.

    Returns
    -------
    SampleSizeReport
        ``below_minimum`` is True when ``n_rows < required_n`` (``ok`` its negation);
        ``message`` names both numbers.

    Raises
    ------
    TrainingError
        The data hold no events or only events.
    ValueError
        As :func:`minimum_sample_size`.
    """
    if not 0 < n_events < n_rows:
        raise TrainingError(
            f"the development data has {n_events} events in {n_rows} rows; a model of "
            "resorption needs both resorbed and non-resorbed herniations"
        )
    prevalence = n_events / n_rows
    need = minimum_sample_size(n_parameters, prevalence, r2_cs=r2_cs, shrinkage=shrinkage,
                               max_optimism=max_optimism, margin=margin,
                               c_statistic=c_statistic)
    return SampleSizeReport(
        n_rows=int(n_rows), n_events=int(n_events), n_parameters=int(n_parameters),
        prevalence=float(prevalence), required_n=int(need["required_n"]),
        required_events=int(need["events_required"]), epp=float(n_events / n_parameters),
        required_epp=float(need["epp"]), binding=need["binding"], r2_cs=float(need["r2_cs"]),
        r2_cs_source=need["r2_cs_source"], below_minimum=bool(n_rows < need["required_n"]))



def expected_shrinkage(n_rows: int, n_parameters: int, r2_cs: float) -> float:
    """Expected uniform shrinkage factor of a model developed on ``n_rows`` rows.

    Criterion (i) of Riley et al. (BMJ 2020;368:m441, eq. 1) read the other way: the S that
    solves ``n = P / ((S - 1) ln(1 - R2cs / S))``, the calibration slope a model with ``P``
    candidate parameters and anticipated Cox-Snell R2 ``r2_cs`` can expect on new data from
    the same population (van Houwelingen's heuristic shrinkage).

    Parameters
    ----------
    n_rows : int
        Development rows (>= 1).
    n_parameters : int
        Candidate predictor parameters P (>= 1).
    r2_cs : float
        Anticipated Cox-Snell R2, in (0, 1).

    Returns
    -------
    float
        S in (r2_cs, 1); the larger ``n_rows``, the closer to 1.

    Raises
    ------
    ValueError
        A parameter outside its range.
    """
    from scipy.optimize import brentq

    for name, value in (("n_rows", n_rows), ("n_parameters", n_parameters)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if not 0.0 < r2_cs < 1.0:
        raise ValueError(f"r2_cs must be in (0, 1); got {r2_cs!r}")
    # n(S) increases from 0 (S -> r2_cs) to infinity (S -> 1)
    lo, hi = r2_cs * (1 + 1e-12), 1 - 1e-12
    return float(brentq(lambda s: _n_for_shrinkage(n_parameters, r2_cs, s) - n_rows, lo, hi,
                        xtol=1e-12))

