"""The report's model half on the second core: load, explain and draw in a forked worker.

``resorb report`` waits on two chains that share nothing until the page is rendered: the
tracking store (import MLflow, open the store, resolve the model URI, read the run, log the
file) and the model (import scikit-learn, skops and matplotlib, load the model, explain it on
1,000 rows, draw three figures). In one process their times add up; here the command forks a
worker first (:func:`explain_worker`; before the fork only numpy and pandas, which both
chains need, are imported). The worker imports the model's libraries while the command
imports MLflow, then waits for the model folder the command downloads from the store. It
loads that folder with the same checks as every load
(:func:`resorb.scoring.model.load_folder`: loader, hash, allow-list; errors name the URI,
not the download), explains and draws (:func:`explain_folder`) and sends back only
what the page shows (:class:`ExplainedModel`: PNG bytes, the five top variables, the
registered name and version), never a row. The wall time is then about the longer chain, not
the sum (docs/report.md "Speed").

The worker is a ``fork`` of the command (Linux's default start method until Python 3.14):
nothing is pickled to start it and it inherits the parsed options, and at that point the
command holds no thread and no open store. It uses one BLAS/OpenMP thread, as every resorb
process does unless the user sets ``OMP_NUM_THREADS`` (:mod:`resorb`): the command is on the
other core. An error in it (a model that fails its checks, a ``--data`` file that breaks
the data dictionary or lacks a column ``--mapping`` reads) is raised again in the command
with its message, so it exits 2 as before; a bug carries the worker's traceback as a note.
The worker ends once it has answered; a command that fails first ends it at once.

Without a worker (the Python API, :func:`resorb.report.make_report`), the same
:func:`explain_folder` runs in the calling process.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resorb.errors import ResorbError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from resorb.intake.mapping_file import Mapping
    from resorb.report.explanations import Explanations

@dataclass(frozen=True)
class ExplainedModel:
    """What the model half gives the page.

    Attributes
    ----------
    name, version : str
        Registered name and version read from the folder (:class:`LoadedModel`'s: the
        candidate and ``""`` when it records none).
    explanations : Explanations
        The SHAP figures (PNG bytes) and top variables, or the note saying why there are none.
    """

    name: str
    version: str
    explanations: Explanations


@dataclass(frozen=True)
class ExplainJob:
    """What the worker needs: the model folder and what to explain it on.

    Attributes
    ----------
    folder : Path
        A downloaded MLflow model folder (``MLmodel``, ``artifacts/model.skops``, the card).
    source : str
        What the user asked for (``models:/resorb@champion``), named in error messages.
    data : Path, optional
        ``--data``: a table to explain on, in the data dictionary or read through ``mapping``.
    rows : int
        Rows explained at most.
    mapping : Mapping, optional
        ``--mapping``, loaded and checked by the command before the job was sent (so a bad
        mapping file fails before the model is downloaded); it crosses the pipe as data.
    """

    folder: Path
    source: str
    data: Path | None
    rows: int
    mapping: Mapping | None = None


def explain_folder(job: ExplainJob, parallel: bool = False) -> ExplainedModel:
    """Load the model in ``job.folder`` (all of :func:`load_folder`'s checks) and explain it.

    ``parallel``: draw one figure in a forked process beside the others (the worker does).

    Raises
    ------
    ModelNotFoundError, ModelCardError, ModelIntegrityError
        The folder is not a resorb model, or fails its checks.
    DataValidationError, InputError, ConfigError
        ``job.data`` (read through ``job.mapping``) breaks the data dictionary, cannot be
        read, or lacks a column the mapping reads.
    """
    from resorb.report.explanations import explain_for_report
    from resorb.scoring.model import load_folder

    loaded = load_folder(job.folder, source=job.source)  # the URI in messages, not the tmp
    card = loaded.metadata
    expl = explain_for_report(loaded.estimator, loaded.features, card.data_source, job.data,
                              job.rows, seed=card.seed + 1,  # fresh rows, not the training draw
                              parallel=parallel, mapping=job.mapping)
    return ExplainedModel(name=loaded.name, version=loaded.version, explanations=expl)


@contextlib.contextmanager
def explain_worker() -> Iterator[ExplainWorker | None]:
    """A started :class:`ExplainWorker` for the block, or None where forking is unsafe.

    Forking copies only the calling thread: a process that runs other threads (a test
    runner, a notebook with MLflow's async logging) could hand the worker a lock held
    forever, so there the caller explains in its own process (``worker=None``).
    """
    if threading.active_count() > 1 or "fork" not in _start_methods():
        yield None
        return
    for name in SHARED_MODULES:  # imported once, for both halves
        importlib.import_module(name)
    worker = ExplainWorker.start()
    try:
        yield worker
    finally:
        worker.close()


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


class ExplainWorker:
    """A forked process that runs :func:`explain_folder` on one job.

    Started by :func:`explain_worker` around the command; :meth:`submit` once the model
    folder is known, :meth:`result` when the page needs it. Leaving the block ends the
    worker, finished or not.
    """

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self._process = process
        self._conn = conn
        self._answered = False

    @classmethod
    def start(cls) -> ExplainWorker:
        """Fork the worker; it starts importing the model's libraries at once."""
        import multiprocessing

        ours, theirs = multiprocessing.get_context("fork").Pipe()
        process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(theirs, ours), name="resorb-report-explain")
        process.start()
        theirs.close()
        return cls(process, ours)

    def submit(self, job: ExplainJob) -> None:
        """Hand the worker its job (once)."""
        self._conn.send(job)

    def result(self) -> ExplainedModel:
        """Wait for the worker's answer; its error is raised here.

        Raises
        ------
        ResorbError
            What :func:`explain_folder` raised (same class and message).
        RuntimeError
            The worker died without answering.
        """
        try:
            status, value = self._conn.recv()
            self._answered = True
        except EOFError:
            self._process.join(5)
            raise RuntimeError(f"the report's explanation worker ended without an answer "
                               f"(exit code {self._process.exitcode})") from None
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        """End the worker (at once if it has not answered: the command failed) and release
        the pipe."""
        self._conn.close()
        if not self._answered:
            self._process.terminate()
        self._process.join()


def _serve(conn: Connection, parents_end: Connection) -> None:
    """The worker: import, wait for the job, answer with the result or the error."""
    parents_end.close()  # the fork's copy: EOF must come when the command closes its own
    _warm()
    try:
        job = conn.recv()
    except (EOFError, KeyboardInterrupt):  # the command ended (or was interrupted) first
        return
    try:
        answer: tuple[str, Any] = ("ok", explain_folder(job, parallel=True))
    except KeyboardInterrupt:
        return
    except BaseException as exc:
        if not isinstance(exc, ResorbError):
            exc.add_note("in the report's explanation worker:\n" + traceback.format_exc())
        answer = ("error", _portable(exc))
    with contextlib.suppress(BrokenPipeError, EOFError):  # the command ended first
        conn.send(answer)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling both ways; else an error of the same kind and text.

    resorb's errors do (their attributes travel in their ``__dict__``); an error holding an
    open file or a lock would not, and must still reach the command as one line (exit 2 for
    a :class:`ResorbError`) rather than as a failure to read the pipe.
    """
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        text = "".join(traceback.format_exception_only(exc)).strip()
        return ResorbError(str(exc)) if isinstance(exc, ResorbError) else RuntimeError(text)


def draw_aside(drawings: Mapping[str, Callable[[], bytes]], aside: Collection[str]
               ) -> dict[str, bytes]:
    """Call every drawing; those named in ``aside`` in a forked process at the same time.

    For a process that runs no other thread (the report's worker): the fork inherits the
    explanation and every imported module, so it starts drawing at once, and only the PNG
    bytes come back.

    Parameters
    ----------
    drawings : mapping of str to callable
        Name -> a function returning PNG bytes.
    aside : collection of str
        The names drawn in the forked process.

    Returns
    -------
    dict of str to bytes
        Every drawing's PNG, in the order of ``drawings``.

    Raises
    ------
    Exception
        What a drawing raised, in either process.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=False)
    process = context.Process(target=_draw, args=({k: drawings[k] for k in aside}, theirs),
                              name="resorb-report-draw", daemon=True)
    process.start()
    theirs.close()
    try:
        here = {name: draw() for name, draw in drawings.items() if name not in aside}
        try:
            status, there = ours.recv()
        except EOFError:
            raise RuntimeError(f"the report's drawing process ended without an answer (exit "
                               f"code {process.exitcode})") from None
    finally:
        ours.close()
        process.join()
    if status == "error":
        raise there
    done = here | there
    return {name: done[name] for name in drawings}


def _draw(drawings: Mapping[str, Callable[[], bytes]], conn: Connection) -> None:
    """The forked drawing process: draw, send the PNGs (or the error)."""
    try:
        answer: tuple[str, Any] = ("ok", {name: draw() for name, draw in drawings.items()})
    except KeyboardInterrupt:
        return
    except BaseException as exc:
        exc.add_note("in the report's drawing process:\n" + traceback.format_exc())
        answer = ("error", exc)
    with contextlib.suppress(BrokenPipeError):
        conn.send(answer)


#: what both halves import (MLflow and scikit-learn both need pandas): imported before the
#: fork, once. This moves nothing onto the wall time of an idle machine (the worker finishes
#: its imports before the command has opened the store) and saves their import in one of the
#: two processes (0.3-0.5 s of CPU measured with -X importtime) on a busy one
SHARED_MODULES = ("numpy", "pandas")

#: what loading, explaining and drawing import, imported while the command opens the store
WARM_MODULES = ("matplotlib.figure", "matplotlib.backends.backend_agg", "resorb.cohort",
                "resorb.explain", "resorb.figures", "resorb.report.explanations",
                "resorb.scoring.model", "resorb.serialization")


def _warm() -> None:
    """Import :data:`WARM_MODULES` and skops (an import that fails here fails again, reported,
    in :func:`explain_folder`)."""
    for name in WARM_MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):  # skops.io is imported when a model is first read
        from resorb.skops_import import skops_io

        skops_io()
