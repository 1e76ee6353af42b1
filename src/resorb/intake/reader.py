"""One table reader for every command: CSV or Parquet, whole or in chunks, with pyarrow.

:class:`TableFile` opens a file, checks it (type, existence, size, text encoding) and reads
its header; :meth:`TableFile.read` gives the whole table as a DataFrame (``validate``,
``train``, ``report``) and :meth:`TableFile.chunks` streams it in tables of a fixed number of
rows (``score``). Both parse with the same options and word errors the same way, so a bad
file gets the same one-line :class:`~resorb.errors.InputError` from every command. (Text is
checked for UTF-8 up front in the first 64 KiB; further on, in the columns a command reads:
scoring reads only the columns it uses.)

CSV cells are read as text, so the cell rules can say which cell is wrong; empty cells are
missing. Column names are stripped of surrounding blanks (``" vas_leg"`` is ``vas_leg``).
Messages never quote a row of the file (it may hold identifiers).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from resorb.errors import InputError
from resorb.files import table_format

_SNIFF_BYTES = 1 << 16  # text checked for UTF-8 before parsing (the header and first rows)
_STREAM_BLOCK = 1 << 22  # bytes of CSV parsed at a time when streaming
_NOT_UTF8 = "it is not UTF-8 text; save it as UTF-8 (in Excel: 'CSV UTF-8')"
# a quoted cell may span lines (a free-text comment), as in every spreadsheet's export
_PARSE = pcsv.ParseOptions(newlines_in_values=True)


class TableFile:
    """A CSV or Parquet file opened for reading: its header now, its rows on demand.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.parquet`` or ``.pq``.

    Attributes
    ----------
    path : Path
    format : {"csv", "parquet"}
    names : list of str
        Column names in file order, stripped of surrounding blanks.
    types : dict
        Arrow type of each column (``string`` for every CSV column).
    total : int or None
        Number of data rows when the file says (Parquet), else None.

    Raises
    ------
    InputError
        Unsupported extension, missing file, a folder, an empty file, text that is not
        UTF-8, or a header that cannot be parsed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        self.format = table_format(p)
        if not p.exists():
            raise InputError(f"{p}: no such file")
        if p.is_dir():
            raise InputError(f"{p}: is a directory, not a file")
        if p.stat().st_size == 0:
            raise InputError(f"{p.name}: the file is empty")
        self.path = p
        self.total: int | None = None
        with self._errors():
            if self.format == "csv":
                _check_utf8(p)
                reader = pcsv.open_csv(p, read_options=pcsv.ReadOptions(block_size=1 << 16),
                                       parse_options=_PARSE)
                self._raw_names = list(reader.schema.names)
                reader.close()
                self.types = {n.strip(): pa.string() for n in self._raw_names}
            else:
                meta = pq.ParquetFile(p)
                self._raw_names = list(meta.schema_arrow.names)
                self.types = {f.name.strip(): f.type for f in meta.schema_arrow}
                self.total = meta.metadata.num_rows
        self.names = [n.strip() for n in self._raw_names]
        if not self.names:
            raise InputError(f"{p.name}: no columns found")

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole table (or the named columns) as a DataFrame.

        Raises
        ------
        InputError
            The file cannot be parsed, a named column is absent, or it has no data rows.
        """
        raw = self._raw(columns)
        with self._errors():
            if self.format == "csv":
                table = pcsv.read_csv(self.path, parse_options=_PARSE,
                                      convert_options=self._convert(raw))
            else:
                table = pq.read_table(self.path, columns=raw)
            if table.num_rows == 0:
                raise InputError(f"{self.path.name}: has a header but no data rows")
            return table.rename_columns([n.strip() for n in table.column_names]).to_pandas()

    def chunks(self, rows: int, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The table in Arrow tables of exactly ``rows`` rows, the last possibly shorter.

        Parameters
        ----------
        rows : int
            Rows per chunk (>= 1); memory stays bounded by it, whatever the file size.
        columns : sequence of str, optional
            Column names to read (all when None).

        Raises
        ------
        InputError
            The file cannot be parsed, a named column is absent, or it has no data rows
            (raised when iteration reaches the problem).
        """
        pending: list[pa.RecordBatch] = []
        count = seen = 0
        for batch in self._batches(self._raw(columns), rows):
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            count += batch.num_rows
            seen += batch.num_rows
            while count >= rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, rows)
                rest = table.slice(rows)
                pending, count = rest.to_batches(), rest.num_rows
        if count:
            yield pa.Table.from_batches(pending)
        if not seen:
            raise InputError(f"{self.path.name}: has a header but no data rows")

    def _batches(self, raw: list[str] | None, rows: int) -> Iterator[pa.RecordBatch]:
        with self._errors():
            if self.format == "csv":
                reader = pcsv.open_csv(self.path,
                                       read_options=pcsv.ReadOptions(block_size=_STREAM_BLOCK),
                                       parse_options=_PARSE, convert_options=self._convert(raw))
                batches: Iterator[pa.RecordBatch] = iter(reader)
            else:
                batches = pq.ParquetFile(self.path).iter_batches(batch_size=rows, columns=raw,
                                                                 use_threads=True)
            for batch in batches:
                yield batch.rename_columns([n.strip() for n in batch.schema.names])

    def _raw(self, columns: Sequence[str] | None) -> list[str] | None:
        """Names as written in the file for stripped ``columns``."""
        if columns is None:
            return None
        by_name = dict(zip(self.names, self._raw_names, strict=True))
        absent = [c for c in columns if c not in by_name]
        if absent:
            raise InputError(f"{self.path.name}: has no column {', '.join(map(repr, absent))}")
        return [by_name[c] for c in columns]

    def _convert(self, raw: list[str] | None) -> pcsv.ConvertOptions:
        return pcsv.ConvertOptions(
            column_types={n: pa.string() for n in self._raw_names}, include_columns=raw,
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the parser's errors into one safe line naming the file."""
        try:
            yield
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path.name}: cannot be read as {self.format.upper()}: "
                             f"{self._reason(exc)}") from None

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in text:
            return _NOT_UTF8
        ragged = re.search(r"Expected (\d+) columns, got (\d+)", text)
        if ragged:
            return _ragged_row(self.path, int(ragged.group(1)), int(ragged.group(2)))
        return re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", text)[:200]  # never a cell's text


def read_table(path: str | os.PathLike[str],
               columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a whole CSV or Parquet file without guessing types for the dictionary's columns.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.parquet`` or ``.pq``.
    columns : sequence of str, optional
        Column names to read (all when None).

    Returns
    -------
    DataFrame
        CSV cells as text (``str``, empty cells missing); Parquet columns as typed.

    Raises
    ------
    InputError
        Missing or unreadable file, unsupported extension, empty file or header only.
    """
    return TableFile(path).read(columns)


def _check_utf8(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    codecs.getincrementaldecoder("utf-8")().decode(head, final=False)


def _ragged_row(path: Path, expected: int, got: int) -> str:
    """Which data row has the wrong number of cells (Arrow's message does not say)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        rows = (r for r in csv.reader(fh) if r)
        next(rows, None)  # the header
        for number, row in enumerate(rows, start=1):
            if len(row) != expected:
                got, where = len(row), f"row {number}"
                break
        else:
            where = "a row"
    return (f"{where} has {got} cell{'s' * (got != 1)} where the header has {expected}; "
            f"is a separator missing or one too many?")

