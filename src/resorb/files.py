"""Table files: their format by suffix, and writing them atomically.

An interrupted run never leaves a half-written file. Reading is :mod:`resorb.intake.reader`'s.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

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
        pass
    if not str(path).strip():  # `-o ""`: Path("") is the working folder
        raise InputError(f"the {role} name is empty; name a .csv or .parquet file")
    if p.is_dir():  # "unsupported type '(none)'" did not say what was wrong
        raise InputError(f"{p}: is a folder, not a table; name a .csv or .parquet file "
                         f"(e.g. {p / ('scored.csv' if role == 'output' else 'patients.csv')})")
    raise InputError(f"{p.name}: unsupported {role} type '{p.suffix or '(none)'}'; "
                     f"use .csv or .parquet"
                     f"{_SUFFIX_HINTS.get(p.suffix.lower(), '') if role != 'output' else ''}")


#: what to do with the files hospitals export most often besides CSV and Parquet
_SUFFIX_HINTS = {
    **dict.fromkeys((".xlsx", ".xls", ".xlsm", ".ods"),
                    ": a spreadsheet workbook; save the sheet as 'CSV UTF-8' (File > Save as)"),
    **dict.fromkeys((".tsv", ".tab", ".txt"),
                    ": for tab-separated text, rename it to .csv and declare the separator in "
                    "a mapping file (--mapping): dialect: {separator: tab}"),
}


def check_output_path(path: str | os.PathLike[str], what: str | None = None) -> Path:
    """Check, before any work, that a table can be written at ``path``.

    Parameters
    ----------
    path : path-like
        The output file (``.csv``, ``.parquet`` or ``.pq``).
    what : str, optional
        The option and value, for the message (default ``"output <path>"``).

    Raises
    ------
    InputError
        Unsupported extension, ``path`` is a folder, its folder does not exist, or no file
        can be created there (read-only, ``/proc``, no permission).
    """
    p = Path(path)
    table_format(p, role="output")
    if p.is_dir():
        raise InputError(f"{what or f'output {p}'}: {p} is a folder; name a file in it")
    if not p.parent.exists():
        raise InputError(f"{what or f'output {p}'}: {p.parent}: folder does not exist; "
                         f"create it first")
    check_writable_folder(p.parent, what or f"output {p}")
    return p


def check_creatable_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Refuse a folder that neither exists writable nor can be created, before any work.

    The nearest existing ancestor is probed (:func:`check_writable_folder`); nothing is
    created.

    Raises
    ------
    InputError
        A file stands where a folder is needed, or the nearest existing folder is not
        writable.
    """
    f = Path(folder)
    probe = f
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{what}: {probe} is a file, not a folder; choose another place")
    check_writable_folder(probe, what)
    return f


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


#: suffix of the temporary file an output is written to before it is moved into place
PARTIAL_SUFFIX = ".partial"


def partial_files(target: str | os.PathLike[str]) -> list[Path]:
    """The temporary files ``.NAME.*.partial`` of writes to ``target``, finished or not."""
    t = Path(target)
    return sorted(t.parent.glob(f".{glob_escape(t.name)}.*{PARTIAL_SUFFIX}"))


def glob_escape(name: str) -> str:
    """``name`` with the glob wildcards ``*?[`` taken literally."""
    import glob

    return glob.escape(name)


def remove_stale_partials(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the partial files of earlier writes to ``target`` whose writer is gone.

    Every writer of :func:`atomic_path` holds an exclusive ``flock`` on its partial file
    until it is moved into place; the kernel releases it when the process ends, however it
    ends (``kill -9`` included). A partial file whose lock can be taken is therefore
    debris of a dead run and is removed; one still locked belongs to a run in progress
    (another process writing the same output) and is left alone.

    Returns
    -------
    list of Path
        The files removed.
    """
    import fcntl

    removed = []
    for path in partial_files(target):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live writer holds it
        try:
            if path.is_dir() and not path.is_symlink():  # an atomic_folder's staging folder
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary file ``.NAME.<random>.partial`` is locked (``flock``) while it is written;
    partial files left by earlier runs that were killed (``kill -9``, a power cut) are
    removed first (:func:`remove_stale_partials`). The file that appears has the
    permissions ``open()`` would give it: those of the file it replaces, else ``0o666``
    less the umask (``mkstemp`` makes it private, ``0o600``: a scored list or a cohort
    written for colleagues could not be read by them).
    """
    import fcntl

    target = Path(path)
    remove_stale_partials(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX,
                               dir=target.parent)
    tmp_path = Path(tmp)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this run ends: the file is not debris
        yield tmp_path
        os.chmod(tmp_path, _new_file_mode(target))
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)
        os.close(fd)


def _new_file_mode(target: Path) -> int:
    """Permission bits ``open(target, "w")`` would leave: the old file's, else by the umask."""
    import stat

    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:  # no file there yet
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; rename it to ``path`` if the block succeeds.

    The folder counterpart of :func:`atomic_path`, for outputs made of several files: the
    folder ``.NAME.<random>.partial`` is locked (``flock`` on the folder) while it is filled,
    so a killed run's one is removed by the next (:func:`remove_stale_partials`), and on any
    error it is removed at once. ``path`` appears complete or not at all; it must not exist
    (or be an empty folder, which the rename replaces). The new folder gets the usual
    permissions (``0o777`` less the umask; ``mkdtemp`` makes it private).

    Raises
    ------
    OSError
        ``path`` exists and is not an empty folder (from the final rename).
    """
    import fcntl
    import shutil

    target = Path(path)
    remove_stale_partials(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX,
                                    dir=target.parent))
    fd = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this run ends: the folder is not debris
        yield staging
        mask = os.umask(0)
        os.umask(mask)
        staging.chmod(0o777 & ~mask)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        os.close(fd)


#: first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(table: Any, columns: list[str] | tuple[str, ...]) -> Any:
    """Prefix a single quote to text cells of ``columns`` that a spreadsheet runs as formulas.

    OWASP's recommendation against CSV injection
    (https://owasp.org/www-community/attacks/CSV_Injection): a cell beginning with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return is written as ``'=...``, so Excel,
    LibreOffice and Google Sheets show it as text instead of evaluating it
    (``=cmd|'/C calc'!A0``). Only text columns change; numbers (``-3``) and dates are
    written as they are, and quoting is left to the CSV writer.

    Parameters
    ----------
    table : pyarrow.Table or pandas.DataFrame
        The rows about to be written as CSV; not modified.
    columns : sequence of str
        The columns passed through from the input (identifiers); absent ones are skipped.

    Returns
    -------
    pyarrow.Table or pandas.DataFrame
        The same kind of table, with those cells prefixed.
    """
    pattern = "^[=+\\-@\t\r]"
    if isinstance(table, pd.DataFrame):
        out = table.copy()
        for name in columns:
            if name in out and (out[name].dtype == object or pd.api.types.is_string_dtype(
                    out[name].dtype)):
                text = out[name]
                risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
                out[name] = text.where(~risky.astype(bool), "'" + text.astype(str))
        return out
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in columns:
        if name not in table.column_names:
            continue
        column = table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        text = column.cast(pa.large_string())
        risky = pc.fill_null(pc.match_substring_regex(text, pattern), False)
        quote = pa.scalar("'", pa.large_string())
        empty = pa.scalar("", pa.large_string())
        fixed = pc.if_else(risky, pc.binary_join_element_wise(quote, text, empty), text)
        table = table.set_column(table.column_names.index(name), table.field(name),
                                 fixed.cast(column.type))
    return table


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to CSV or Parquet atomically; returns the final path.

    Parquet is written without the pandas index and with timestamps in microseconds (Spark
    refuses Parquet's nanosecond timestamps); CSV with ISO dates and empty cells for missing
    values, so that ``resorb validate`` reads back what was written; identifier cells that a
    spreadsheet would run as a formula are neutralised (:func:`neutralise_formulas`).
    """
    p = check_output_path(path)
    with atomic_path(p) as tmp:
        if table_format(p) == "csv":
            from resorb.schema import IDENTIFIERS

            neutralise_formulas(df, IDENTIFIERS).to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            # a timestamp that is not whole microseconds is refused, never truncated
            df.to_parquet(tmp, index=False, coerce_timestamps="us")
    return p
