"""The input read by Spark (lazily): its format, header and each row's origin."""

from __future__ import annotations

import glob as globbing
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resorb.errors import InputError
from resorb.scoring.spark.session import _first_line, quiet

SOURCE_FILE, SOURCE_ROW = "source_file", "source_row"


@dataclass(frozen=True)
class SparkInput:
    """An input read by Spark (lazily: no row is read here).

    Attributes
    ----------
    frame : pyspark.sql.DataFrame
        The columns scoring reads, with stripped names, then ``source_file`` and, for
        Parquet, ``source_row``.
    format : {"csv", "parquet"}
    names : list of str
        The header (stripped), in file order.
    """

    frame: Any
    format: str
    names: list[str]

    @property
    def origin(self) -> str:
        """``row``: ``source_file`` and ``source_row`` are columns (Parquet, or a caller's);
        ``file``: only ``source_file`` (CSV: executors number the rows of each whole file);
        ``none``: neither (a DataFrame not read from files)."""
        columns = self.frame.columns
        if SOURCE_FILE not in columns:
            return "none"
        return "row" if SOURCE_ROW in columns else "file"


def input_format(path: str) -> str:
    """``csv`` or ``parquet`` for a file, a glob or a local folder of part files.

    Raises
    ------
    InputError
        No such local file or folder, a glob matching nothing, a folder without (or with
        mixed) CSV and Parquet files, or a remote folder named without its format.
    """
    lower = path.lower().rstrip("/")
    local = "://" not in path or path.startswith("file:")
    where = path.removeprefix("file://").removeprefix("file:")
    if local and globbing.has_magic(where) and not globbing.glob(where):
        raise InputError(f"{path}: matches no file")
    for suffix, kind in ((".csv", "csv"), (".parquet", "parquet"), (".pq", "parquet")):
        if lower.endswith(suffix):
            if local and not globbing.has_magic(where) and not Path(where).exists():
                raise InputError(f"{path}: no such file")
            return kind
    if not local:
        raise InputError(f"{path}: name the format with a glob, e.g. {path.rstrip('/')}/"
                         f"*.parquet or {path.rstrip('/')}/*.csv")
    folder = Path(where)
    if not folder.is_dir():
        raise InputError(f"{path}: no such file or folder (give a .csv or .parquet file, a "
                         f"folder of part files or a glob)")
    kinds = {p.suffix.lower() for p in folder.iterdir()
             if p.is_file() and not p.name.startswith(("_", "."))}
    found = {"csv" if k == ".csv" else "parquet" for k in kinds if k in (".csv", ".parquet",
                                                                            ".pq")}
    if len(found) != 1 or kinds - {".csv", ".parquet", ".pq"}:
        raise InputError(f"{path}: a folder to score must hold .csv or .parquet part files "
                         f"only (found {', '.join(sorted(kinds)) or 'none'}); use a glob "
                         f"such as {folder}/*.parquet to pick some")
    return found.pop()


def read_input(spark: Any, path: str | os.PathLike[str],
               columns: list[str] | None = None) -> SparkInput:
    """The input as a Spark DataFrame with its row origin, reading only ``columns``.

    Parameters
    ----------
    spark : SparkSession
    path : str or path-like
        A ``.csv``/``.parquet`` file, a folder of part files or a glob, on any file system
        Spark reads.
    columns : list of str, optional
        Stripped names to read (all when None); each must be in the header.

    Raises
    ------
    InputError
        As :func:`input_format`; the file cannot be read; a named column is absent.
    """
    from pyspark.sql import functions as sf

    target = str(path)
    kind = input_format(target)
    try:
        with quiet():
            if kind == "csv":
                # every cell as text, quotes doubled as in RFC 4180, a quoted cell may span
                # lines (as the local reader); a ragged row fails the job, never shifts cells
                reader = spark.read.options(header=True, multiLine=True, inferSchema=False,
                                            enforceSchema=False, escape='"', mode="FAILFAST",
                                            encoding="UTF-8")
                raw = reader.csv(target)
            else:
                raw = spark.read.parquet(target)
            raw_names = list(raw.columns)
    except Exception as exc:
        hint = ("; Spark reads timestamps in microseconds: rewrite the file with them (pyarrow "
                "coerce_timestamps='us', pandas to_parquet(coerce_timestamps='us'))"
                if "TIMESTAMP(NANOS" in str(exc) else "")
        raise InputError(f"{target}: cannot be read as {kind.upper()}: "
                         f"{_first_line(exc)}{hint}") from None
    names = [n.strip() for n in _header(raw_names, kind)]
    by_name = dict(zip(names, raw_names, strict=True))
    wanted = names if columns is None else columns
    absent = [c for c in wanted if c not in by_name]
    if absent:
        raise InputError(f"{target}: has no column {', '.join(map(repr, absent))}")
    chosen = [sf.col(f"`{by_name[c]}`").alias(c) for c in dict.fromkeys(wanted)]
    chosen.append(sf.col("_metadata.file_path").alias(SOURCE_FILE))
    if kind == "parquet":
        chosen.append((sf.col("_metadata.row_index") + 1).alias(SOURCE_ROW))
    return SparkInput(raw.select(*chosen), kind, names)


def _header(names: list[str], kind: str) -> list[str]:
    """The header as written: Spark renames a CSV column given twice to ``name<position>``."""
    if kind != "csv":
        return names
    restored = []
    for pos, name in enumerate(names):
        m = re.fullmatch(r"(.*?)(\d+)", name)
        base = m.group(1) if m and int(m.group(2)) == pos else None
        others = [i for i, n in enumerate(names)
                  if base is not None and i != pos and n == f"{base}{i}"]
        restored.append(base if others else name)
    return restored

