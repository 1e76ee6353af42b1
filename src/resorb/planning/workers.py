"""The replicate studies of a plan, run in single-threaded worker processes.

Ctrl+C is the parent's alone: the workers are started with SIGINT blocked (the signal mask
survives ``exec``; a Ctrl+C meanwhile waits for the parent to unblock it, it is not lost),
and an interrupted plan terminates them. Before, the terminal's SIGINT reached every worker too:
each printed a KeyboardInterrupt traceback from wherever it was (importing scikit-learn,
threadpoolctl's initializer), and the pool's manager thread one more (InvalidStateError on
the futures the parent had cancelled).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resorb.errors import TrainingError
from resorb.planning.settings import _STUDY_CODES, _THREAD_VARIABLES, Progress

if TYPE_CHECKING:

    from resorb.cohort import CohortParams
    from resorb.config import CandidateSpec, Params


# --------------------------------------------------------------------------- worker side
@dataclass(frozen=True)
class _Context:
    """What every replicate needs; sent once to each worker process."""

    cohort: CohortParams
    params: Params
    spec: CandidateSpec
    X_val: pd.DataFrame
    y_val: np.ndarray
    truth_val: np.ndarray
    fixed_model: Any
    usable_fraction: float
    max_size: int  # development replicates draw the largest size and keep its first n rows


_CONTEXT: _Context | None = None


def _init_worker(context: _Context) -> None:
    """Worker start-up: one BLAS/OpenMP thread (the threads spin-wait on few cores)."""
    global _CONTEXT
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    _CONTEXT = context


def _seeds(seed: int, study: str, replicate: int) -> tuple[int, int]:
    """(cohort seed, model seed) of one replicate, independent of the order of the work."""
    state = np.random.SeedSequence([seed, _STUDY_CODES[study], replicate]).generate_state(2)
    return int(state[0]), int(state[1])


def _usable_rows(ctx: _Context, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray,
                                                              np.ndarray]:
    """Model input, outcome and truth of the first ``n`` usable rows of a fresh cohort."""
    from resorb.cohort import make_cohort
    from resorb.training import prepare

    draw = math.ceil(n / ctx.usable_fraction * 1.15) + 50
    for _ in range(6):
        data, X, _ = prepare(make_cohort(draw, seed=seed, params=ctx.cohort), ctx.params)
        if len(data.y) >= n:
            truth = data.frame["true_resorption_probability"].to_numpy(dtype=float)
            return X.iloc[:n].reset_index(drop=True), data.y[:n], truth[:n]
        draw *= 2
    raise TrainingError(f"could not draw {n} usable rows from {draw:,} (too many operated or "
                        f"unlabelled patients in this preset)")


def _development_replicate(task: tuple[int, int, int]) -> dict[str, float]:
    """Fit the candidate on ``n`` usable rows of replicate r; measure it on the validation set."""
    from resorb.metrics import auroc, calibration_slope
    from resorb.models import build_model, predict_resorption

    ctx = _CONTEXT
    assert ctx is not None, "worker not initialised"
    n, replicate, seed = task
    cohort_seed, model_seed = _seeds(seed, "development", replicate)
    X, y, _ = _usable_rows(ctx, max(n, ctx.max_size), cohort_seed)
    X, y = X.iloc[:n], y[:n]
    model = build_model(ctx.spec, seed=model_seed).fit(X, y)
    p = predict_resorption(model, ctx.X_val)
    return {"n": n, "replicate": replicate, "events": int(y.sum()),
            "calibration_slope": calibration_slope(ctx.y_val, p),
            "auroc": auroc(ctx.y_val, p),
            "mape": float(np.mean(np.abs(p - ctx.truth_val)))}


def _validation_replicate(task: tuple[tuple[int, ...], int, int]) -> list[dict[str, float]]:
    """Validate the fixed model on the first n usable rows of replicate r, for every n."""
    from resorb.metrics import auroc, calibration_slope
    from resorb.models import predict_resorption

    ctx = _CONTEXT
    assert ctx is not None, "worker not initialised"
    sizes, replicate, seed = task
    cohort_seed, _ = _seeds(seed, "validation", replicate)
    X, y, _ = _usable_rows(ctx, max(sizes), cohort_seed)
    p = predict_resorption(ctx.fixed_model, X)
    rows = []
    for n in sizes:
        yn, pn = y[:n], p[:n]
        rows.append({"n": n, "replicate": replicate, "events": int(yn.sum()),
                     "oe": float(yn.sum() / pn.sum()),
                     "slope": calibration_slope(yn, pn), "c": auroc(yn, pn)})
    return rows


def _run(kind: str, tasks: list[Any], results: list[Any], done: list[int], total: int,
         progress: Progress | None, executor: Any) -> None:
    """Run the tasks of one kind (in ``executor``, or here), keeping their order."""
    func = _development_replicate if kind == "development" else _validation_replicate
    if executor is None:
        for i, task in enumerate(tasks):
            results[i] = func(task)
            done[0] += 1
            if progress:
                progress(done[0], total)
        return
    from concurrent.futures import as_completed

    with _sigint_blocked():  # the workers submit starts never get Ctrl-C: it is the parent's
        futures = {executor.submit(func, task): i for i, task in enumerate(tasks)}
    try:
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done[0] += 1
            if progress:
                progress(done[0], total)
    except Exception:  # a failed replicate: do not wait for the others
        for future in futures:
            future.cancel()
        raise
    # Ctrl-C: _executor terminates the workers; the pool then fails every pending future


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this block (main thread only): processes started here inherit the
    mask and never get it; one that arrives meanwhile is delivered here at the end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Child processes start with one BLAS/OpenMP thread (set before they import numpy)."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _executor(context: _Context, workers: int) -> Iterator[Any]:
    """A pool of ``workers`` fresh processes (spawned: no inherited threads), or None for 1."""
    if workers == 1:
        from threadpoolctl import threadpool_limits

        global _CONTEXT
        previous, _CONTEXT = _CONTEXT, context
        try:
            with threadpool_limits(limits=1):  # the same arithmetic as in a worker
                yield None
        finally:
            _CONTEXT = previous
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with _single_threaded_children(), ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(context,)) as pool:
        try:
            yield pool
        except KeyboardInterrupt:  # the workers ignore SIGINT: stop them, do not wait
            for child in multiprocessing.active_children():
                child.terminate()
            raise


