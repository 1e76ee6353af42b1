"""The console script's entry: scikit-learn imported near the bottom of the stack for ``score``.

Why (measured, ``/usr/bin/time`` of a 10-row ``resorb score`` with the reference predictor,
shared 2-core machine): importing scikit-learn runs scipy's docstring processing, a few
hundred thousand short Python calls. CPython 3.11 keeps its frames in 16 KiB chunks and
unmaps a chunk as soon as the frame that opened it returns, so a hot loop sitting just at a
chunk's end maps and unmaps one at each call; only the thread's first chunk is never
unmapped. Imported from inside the command (about 30 frames down: typer, click, resorb's
wrappers), scikit-learn cost 60-67 thousand minor page faults and 0.40-0.49 s of system
time for the whole command; imported first, 2-10 frames down, 41-46 thousand and 0.19-0.39 s
(every depth from 0 to 8 extra frames tried). ``perf record -e minor-faults`` put 45% of the
faults of the deep import in ``_PyThreadState_BumpFramePointerSlow`` (a new chunk), 4% of
the shallow one's.

So :class:`ResorbApp` (the ``resorb`` console script's object) imports scikit-learn,
pandas and :mod:`resorb.scoring` before typer parses the command line, when the command is
one that loads a model (:data:`MODEL_COMMANDS`) and help is not asked for. The libraries are
the ones the command imports anyway, nothing more; ``resorb --help`` and the other commands
are unchanged (tests/test_startup.py). Tests that call the app through typer's ``CliRunner``
do not go through here, and need not.

Collections. Importing those libraries creates about 144,000 objects the garbage
collector tracks, none of them garbage, and CPython's generational collector walks them
again and again while they are built; at exit, the interpreter's last collections walk
everything left. Measured on this project's 2-core machines (``python -c`` importing pandas,
scikit-learn, skops and the model's subpackages, then exiting; medians of 3-5 runs):

- collector off during the imports: 0.10 s less;
- :func:`gc.freeze` before exit: the time from the last statement to the end of the process
  falls from 0.26 s to 0.05 s.

So the collector is off only while a model command's libraries are imported, then the
imported objects are frozen (:func:`gc.freeze`: the collections of the command's own work,
such as a long ``score``, do not walk them again), and every command freezes what is left
when it ends. Nothing is lost: freezing moves objects out of the collector's sight, it
frees nothing and changes no reference; resorb closes its files, stores and workers
explicitly (context managers, ``atexit``), never through a finaliser at shutdown. A 10-row
``resorb score``: 0.81x of the wall time on either interpreter (``benchmarks/bench_startup.py``,
docs/scoring.md "Start-up").
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import Any

import typer

#: commands whose first steps import scikit-learn (they load a model)
MODEL_COMMANDS = frozenset({"score"})
#: global options that take a value (``resorb --params FILE score ...``)
_VALUED = frozenset({"--params", "--set"})


def command_of(args: Sequence[str]) -> str | None:
    """The command named by a command line (without the program name), or None.

    ``["--params", "p.yaml", "score", "-i", "x.csv"]`` -> ``"score"``; None when help is
    asked for anywhere or no command is named.
    """
    if any(a in ("--help", "-h") for a in args):
        return None
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


class ResorbApp(typer.Typer):
    """A Typer app whose call imports a model command's libraries first (module docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if command_of(sys.argv[1:]) in MODEL_COMMANDS:
            gc.disable()  # nothing imported is garbage yet (see "Collections" above)
            try:
                import pandas  # noqa: F401
                import sklearn  # noqa: F401

                import resorb.scoring  # noqa: F401
            except KeyboardInterrupt:  # Ctrl+C before the command started: nothing written
                sys.stderr.write("interrupted (exit 130): nothing written\n")
                raise SystemExit(130) from None
            finally:
                gc.enable()
            gc.freeze()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            gc.freeze()  # the interpreter's last collections then skip what is left
