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

A CSV file may be written in another :class:`~resorb.intake.dialect.Dialect` (separator,
decimal comma, encoding, missing-value codes, date format), declared in the mapping file;
gzip compression and a byte-order mark are recognised without declaration. Cells are then
normalised as they are read (``4,5`` -> ``4.5``, ``15.04.2020`` -> ``2020-04-15``), so every
later step sees the same text as from a plain UTF-8 export. When a file cannot be read, or
its header is one column, the error says which dialect the file looks written in
(:func:`~resorb.intake.dialect.advice`), or that its first lines look like a title above the
header (:func:`~resorb.intake.dialect.title_above_header`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import zlib
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from resorb import schema
from resorb.errors import InputError
from resorb.files import table_format
from resorb.intake.dialect import (
    DECIMAL_COMMA,
    Dialect,
    advice,
    bom_encoding,
    codec,
    head_bytes,
    is_gzip,
    open_bytes,
    title_above_header,
)

_SNIFF_BYTES = 1 << 16  # text checked for UTF-8 before parsing (the header and first rows)
_STREAM_BLOCK = 1 << 22  # bytes of CSV parsed at a time when streaming
_NOT_UTF8 = ("it is not UTF-8 text; save it as UTF-8 (in Excel: 'CSV UTF-8') or declare its "
             "encoding in the mapping file")
# text identifiers are never rewritten as numbers or dates, whatever the dialect
_VERBATIM = frozenset(c.name for c in schema.COLUMNS if c.kind is schema.Kind.STRING)
#: the columns a decimal-comma dialect rewrites by default: the dictionary's numbers
NUMERIC_COLUMNS = frozenset(c.name for c in schema.COLUMNS
                            if c.kind in (schema.Kind.NUMBER, schema.Kind.INTEGER))


class TableFile:
    """A CSV or Parquet file opened for reading: its header now, its rows on demand.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.parquet`` or ``.pq``; ``.csv.gz`` (or a gzip-compressed ``.csv``).
    dialect : Dialect, optional
        How a CSV file is written (the mapping file's ``dialect``); default plain UTF-8 CSV.
    numeric : collection of str, optional
        The (stripped) column names whose decimal commas are rewritten (``4,5`` -> ``4.5``):
        default :data:`NUMERIC_COLUMNS`; with a mapping, its
        :attr:`~resorb.intake.Mapping.numeric_sources`. Free text (a note reading ``12,5
        mm?``), categories and identifiers are read as written.

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

    def __init__(self, path: str | os.PathLike[str], dialect: Dialect | None = None,
                 numeric: Collection[str] | None = None) -> None:
        p = Path(path)
        gz = p.suffix.lower() == ".gz"
        self.format = table_format(p.with_suffix("") if gz else p)
        if not p.exists():
            raise InputError(f"{p}: no such file")
        if p.is_dir():
            raise InputError(f"{p}: is a directory, not a file")
        if p.stat().st_size == 0:
            raise InputError(f"{p.name}: the file is empty")
        self.path = p
        self.dialect = dialect or Dialect()
        self._numeric = frozenset(NUMERIC_COLUMNS if numeric is None else numeric)
        self.total: int | None = None
        self._gzip = False
        self._encoding = codec(self.dialect.encoding)
        with self._errors():
            if self.format == "csv":
                self._gzip = is_gzip(p)
                head = head_bytes(p) if self._gzip else None
                head = head if head is not None else _head(p)
                _refuse_zip(p, head)
                if self._encoding == "utf-8" and bom_encoding(head) == "utf-16":
                    self._encoding = "utf-16"  # a UTF-8 BOM Arrow skips by itself
                codecs.getincrementaldecoder(self._encoding)().decode(head, final=False)
                reader = pcsv.open_csv(self._stream(),
                                       read_options=self._read_options(_STREAM_BLOCK),
                                       parse_options=self._parse)
                self._raw_names = list(reader.schema.names)
                reader.close()
                self.types = {n.strip(): pa.string() for n in self._raw_names}
            else:
                if gz or is_gzip(p):
                    raise InputError(f"{p.name}: a gzip-compressed Parquet file; decompress "
                                     "it (Parquet compresses its own columns)")
                _refuse_zip(p, _head(p))
                meta = pq.ParquetFile(p)
                self._raw_names = list(meta.schema_arrow.names)
                self.types = {f.name.strip(): f.type for f in meta.schema_arrow}
                self.total = meta.metadata.num_rows
        self.names = [n.strip() for n in self._raw_names]
        if not self.names:
            raise InputError(f"{p.name}: no columns found")
        if (self.format == "csv" and sum(1 for n in self.names if n) <= 1
                and (title := title_above_header(p, self.dialect))):
            raise InputError(f"{p.name}: {title}")
        if self.format == "csv" and len(self.names) == 1 and (hint := advice(p, self.dialect)):
            raise InputError(f"{p.name}: the header has one column only; {hint}")

    @property
    def _parse(self) -> pcsv.ParseOptions:
        # a quoted cell may span lines (a free-text comment), as in every spreadsheet's export
        return pcsv.ParseOptions(delimiter=self.dialect.separator, newlines_in_values=True)

    def _read_options(self, block: int) -> pcsv.ReadOptions:
        encoding = "utf8" if self._encoding == "utf-8" else self._encoding
        return pcsv.ReadOptions(block_size=block, encoding=encoding)

    def _stream(self) -> pa.NativeFile:
        return pa.input_stream(str(self.path), compression="gzip" if self._gzip else None)

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
                table = pcsv.read_csv(self._stream(), parse_options=self._parse,
                                      read_options=self._read_options(_STREAM_BLOCK),
                                      convert_options=self._convert(raw))
                table = self._normalised(table)
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
                reader = pcsv.open_csv(self._stream(),
                                       read_options=self._read_options(_STREAM_BLOCK),
                                       parse_options=self._parse,
                                       convert_options=self._convert(raw))
                batches: Iterator[pa.RecordBatch] = (self._normalised(b) for b in reader)
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
            null_values=["", *self.dialect.missing], strings_can_be_null=True,
            quoted_strings_can_be_null=True)

    def _normalised(self, data: Any) -> Any:
        """Cells in the dialect's decimal comma or date format rewritten as resorb reads them."""
        d = self.dialect
        if d.decimal == "." and d.date_format is None:
            return data
        columns = []
        for name, column in zip(data.schema.names, data.columns, strict=True):
            if name.strip() not in _VERBATIM:
                if d.decimal == "," and name.strip() in self._numeric:
                    hit = pc.match_substring_regex(column, DECIMAL_COMMA)
                    point = pc.replace_substring(pc.replace_substring(column, ".", ""), ",", ".")
                    column = pc.if_else(pc.fill_null(hit, False), point, column)
                if d.date_format is not None:
                    when = pc.strptime(pc.utf8_trim_whitespace(column), format=d.date_format,
                                       unit="s", error_is_null=True)
                    iso = pc.strftime(when, format="%Y-%m-%d")
                    column = pc.if_else(pc.is_null(when), column, iso)
            columns.append(column)
        return type(data).from_arrays(columns, names=data.schema.names)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the parser's errors into one safe line naming the file."""
        try:
            yield
        except (pa.ArrowException, OSError, UnicodeError, EOFError, zlib.error) as exc:
            if (self.format == "csv" and "columns, got" in str(exc)
                    and (title := title_above_header(self.path, self.dialect))):
                # a title line read as the header: every row is "ragged", the title is not
                raise InputError(f"{self.path.name}: {title}") from None
            reason = self._reason(exc)
            if self.format == "csv" and (hint := advice(self.path, self.dialect)):
                reason += f"; {hint}"
            raise InputError(f"{self.path.name}: cannot be read as {self.format.upper()}: "
                             f"{reason}") from None

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, UnicodeError) or "invalid UTF8" in text or "decode" in text:
            if self._encoding != "utf-8":
                return (f"it is not {self._encoding} text; check the mapping's "
                        "dialect.encoding")
            return _NOT_UTF8
        if "straddl" in text:  # a row longer than the block Arrow parses at a time
            return (f"a row is longer than {_STREAM_BLOCK >> 20} MB; is a quote never "
                    "closed, or a free-text cell pasted whole?")
        ragged = re.search(r"Expected (\d+) columns, got (\d+)", text)
        if ragged:
            return self._ragged_row(int(ragged.group(1)), int(ragged.group(2)))
        return re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", text)[:200]  # never a cell's text

    def _ragged_row(self, expected: int, got: int) -> str:
        """Which data row has the wrong number of cells (Arrow's message does not say)."""
        where = "a row"
        with (open_bytes(self.path) as raw,
              io.TextIOWrapper(raw, encoding=self._encoding, errors="replace",
                               newline="") as fh):
            rows = (r for r in csv.reader(fh, delimiter=self.dialect.separator) if r)
            next(rows, None)  # the header
            for number, row in enumerate(rows, start=1):
                if len(row) != expected:
                    got, where = len(row), f"row {number}"
                    break
        return (f"{where} has {got} cell{'s' * (got != 1)} where the header has {expected}; "
                f"is a separator missing or one too many?")


def read_table(path: str | os.PathLike[str], columns: Sequence[str] | None = None,
               dialect: Dialect | None = None,
               numeric: Collection[str] | None = None) -> pd.DataFrame:
    """Read a whole CSV or Parquet file without guessing types for the dictionary's columns.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.parquet`` or ``.pq``.
    columns : sequence of str, optional
        Column names to read (all when None).
    dialect : Dialect, optional
        How a CSV file is written (see :class:`TableFile`).
    numeric : collection of str, optional
        Columns whose decimal commas are rewritten (see :class:`TableFile`).

    Returns
    -------
    DataFrame
        CSV cells as text (``str``, empty cells missing); Parquet columns as typed.

    Raises
    ------
    InputError
        Missing or unreadable file, unsupported extension, empty file or header only.
    """
    return TableFile(path, dialect, numeric).read(columns)


#: the first bytes of a ZIP archive: an .xlsx/.ods workbook is one
ZIP_MAGIC = b"PK\x03\x04"


def _refuse_zip(path: Path, head: bytes) -> None:
    """A workbook (or any ZIP) renamed to .csv/.parquet: say what it is and how to save it.

    Arrow read its binary as text and said "Empty CSV file or block" (or "not UTF-8").

    Raises
    ------
    InputError
        ``head`` starts with the ZIP signature ``PK\x03\x04``.
    """
    if head.startswith(ZIP_MAGIC):
        raise InputError(f"{path.name}: is an Excel workbook (.xlsx) or another ZIP archive, "
                         "not a CSV or Parquet table; open it in Excel and save it as "
                         "'CSV UTF-8 (Comma delimited)' (File > Save As), then read that file")


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(_SNIFF_BYTES)
