"""Independent units of work (a candidate's fold, a candidate's bootstrap) on every core.

``resorb compare`` fits each candidate on each fold, then bootstraps each candidate; these
units share nothing, so they run side by side in worker processes (joblib's ``loky``
backend: fresh interpreters, reused between calls, results in submission order). Each unit,
in a worker or in this process, runs with one BLAS/OpenMP thread
(:func:`threadpoolctl.threadpool_limits`): on the project's 2-core machines two
spin-waiting OpenMP threads made HistGradientBoosting 15x slower (see :mod:`resorb`), and
two processes of one thread each use both cores without oversubscribing them. Every unit
takes its seed explicitly and results are gathered in the order the units were given, so
``jobs=1`` and ``jobs=2`` give the same bytes.

A library offers this (joblib); what is hand-written here is only the one-thread limit per
unit and the choice of how many processes (:func:`resolve_jobs`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from resorb.errors import InputError

T = TypeVar("T")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(jobs: int | None) -> int:
    """Worker processes for ``--jobs``: ``None`` or 0 -> every available core.

    Parameters
    ----------
    jobs : int or None
        Requested number of processes; ``None`` or 0 means :func:`available_cores`.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    InputError
        A negative number.
    """
    if jobs is None or jobs == 0:
        return available_cores()
    if jobs < 0:
        raise InputError(f"--jobs must be a positive number of processes (0: every core); "
                         f"got {jobs}")
    return int(jobs)


def _one_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` with one BLAS/OpenMP thread (in a worker or in this process)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return function(*args)


def run_units(function: Callable[..., T], units: Sequence[tuple[Any, ...]],
              jobs: int = 1) -> list[T]:
    """``[function(*u) for u in units]``, on ``jobs`` processes; results in the units' order.

    Parameters
    ----------
    function : callable
        A module-level function (it is pickled by reference for the workers).
    units : sequence of tuple
        The arguments of each call.
    jobs : int
        Processes; 1 (or a single unit) runs everything here, in order.

    Returns
    -------
    list
        One result per unit, in the order of ``units``.
    """
    if jobs <= 1 or len(units) <= 1:
        return [_one_thread(function, *u) for u in units]
    from joblib import Parallel, delayed

    with Parallel(n_jobs=min(jobs, len(units)), backend="loky") as parallel:
        return list(parallel(delayed(_one_thread)(function, *u) for u in units))
