"""The updating methods: their names, words, parameter counts and sample-size check."""

from __future__ import annotations

from numbers import Real
from typing import Any

from resorb.errors import InputError
from resorb.updating.terms import REVISION_TERMS

#: updating methods, least extensive first; "auto" chooses among the first three
METHODS: tuple[str, ...] = ("intercept", "recalibrate", "revise", "refit")
CHOICES: tuple[str, ...] = ("auto", *METHODS)
KEEP = "keep"
METHOD_WORDS = {KEEP: "original model kept", "intercept": "recalibration in the large",
                "recalibrate": "logistic recalibration", "revise": "model revision",
                "refit": "refit from scratch"}


def update_parameters(method: str, refit_parameters: int | None = None) -> int:
    """Parameters an updating method estimates, for the sample-size check.

    ``intercept`` 1, ``recalibrate`` 2 (intercept and slope), ``revise`` 2 plus the
    :data:`REVISION_TERMS` (counted whole although ridge-penalised, as Riley counts candidate
    parameters), ``refit`` the candidate's own (``refit_parameters``); ``auto`` fits the
    revision in its closed test, so it needs what ``revise`` needs.

    Raises
    ------
    InputError
        Unknown method, or ``refit`` without ``refit_parameters``.
    """
    counts = {"intercept": 1, "recalibrate": 2, "revise": 2 + len(REVISION_TERMS),
              "auto": 2 + len(REVISION_TERMS)}
    if method == "refit":
        if refit_parameters is None:
            raise InputError("the parameter count of a refit is the candidate's own: give it")
        return max(int(refit_parameters), 1)
    if method not in counts:
        raise InputError(f"unknown updating method {method!r}; choose one of: "
                         f"{', '.join(CHOICES)}")
    return counts[method]


def update_sample_size(method: str, n_rows: int, n_events: int, *,
                       refit_parameters: int | None = None,
                       c_statistic: float | None = None) -> Any:
    """The data an update is fitted on against Riley's minimum for what the method estimates.

    Riley et al. 2020 (BMJ 368:m441, doi:10.1136/bmj.m441) with the parameter count of
    :func:`update_parameters`: updating estimates parameters on the new data as development
    does, so the same criteria apply (Riley et al. 2021, Stat Med 40:4230, on updating as a
    model developed with the parent's linear predictor as an offset). Even recalibration in
    the large (one parameter) needs the rows criterion (iii) asks for to estimate the
    intercept within 0.05.

    Parameters
    ----------
    method : {"auto", "intercept", "recalibrate", "revise", "refit"}
    n_rows, n_events : int
        Labelled rows (operated rows excluded) and resorptions among them.
    refit_parameters : int, optional
        The candidate's parameter count (``refit`` only).
    c_statistic : float, optional
        Anticipated C (``training.anticipated_c``) for Riley's Cox-Snell R2.

    Returns
    -------
    resorb.metrics.SampleSizeReport
        ``below_minimum`` True when the rows fall short; ``message`` names both numbers.

    Raises
    ------
    TrainingError
        No events or only events.
    """
    from resorb.metrics import sample_size_check

    k = update_parameters(method, refit_parameters)
    return sample_size_check(n_rows, n_events, k, c_statistic=c_statistic)


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a float in (0, 1), else :class:`InputError` saying so."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < float(alpha) < 1:
        raise InputError(f"--alpha must be a number between 0 and 1 (exclusive), the level of "
                         f"each likelihood-ratio test, e.g. 0.05; got {alpha!r}")
    return float(alpha)

