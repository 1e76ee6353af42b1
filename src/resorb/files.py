"""Table files: their format by suffix, and writing them atomically.

An interrupted run never leaves a half-written file. Reading is :mod:`resorb.intake.reader`'s.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pandas as pd

from resorb.errors import InputError

TableFormat = Literal["csv", "parquet"]
#: file suffix (lower case) -> table format, for reading and writing alike
SUFFIXES: dict[str, TableFormat] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
WRITABLE_SUFFIXES = tuple(SUFFIXES)


def table_format(path: str | os.PathLike[str], role: str = "file") -> TableFormat:
    """The table format of ``path``, from its suffix (case-insensitive).

    Parameters
    ----------
    path : path-like
    role : str
        What the file is, for the message ("file" for an input, "output").

    Raises
    ------
    InputError
        The suffix is not ``.csv``, ``.parquet`` or ``.pq``.
    """
    p = Path(path)
    try:
        return SUFFIXES[p.suffix.lower()]
    except KeyError:
        raise InputError(f"{p.name}: unsupported {role} type '{p.suffix or '(none)'}'; "
                         f"use .csv or .parquet") from None


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` has a supported extension and a writable folder.

    Raises
    ------
    InputError
        Unsupported extension or missing folder.
    """
    p = Path(path)
    table_format(p, role="output")
    if not p.parent.exists():
        raise InputError(f"{p.parent}: folder does not exist; create it first")
    return p


def check_writable_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Refuse a folder that does not exist or where no file can be created, before any work.

    Permissions are not enough to know (root passes every check, and /proc refuses new files
    to root as well): a temporary file is created in ``folder`` and removed at once.

    Parameters
    ----------
    folder : path-like
        The folder an output will be written into.
    what : str
        The option and value, for the message (``"--out results"``).

    Raises
    ------
    InputError
        The folder does not exist, or a file cannot be created in it.
    """
    import tempfile

    f = Path(folder)
    if not f.is_dir():
        raise InputError(f"{what}: folder {f} does not exist; create it first")
    try:
        fd, probe = tempfile.mkstemp(prefix=".resorb-probe.", dir=f)
    except OSError as exc:
        raise InputError(f"{what}: cannot write in {f} ({exc.strerror}); choose another "
                         f"folder") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
    return f


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to CSV or Parquet atomically; returns the final path.

    Parquet is written without the pandas index and with timestamps in microseconds (Spark
    refuses Parquet's nanosecond timestamps); CSV with ISO dates and empty cells for missing
    values, so that ``resorb validate`` reads back what was written.
    """
    p = check_output_path(path)
    with atomic_path(p) as tmp:
        if table_format(p) == "csv":
            df.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            # a timestamp that is not whole microseconds is refused, never truncated
            df.to_parquet(tmp, index=False, coerce_timestamps="us")
    return p
