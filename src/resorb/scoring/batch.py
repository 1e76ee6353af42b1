"""Batch scoring of a file, of any size, chunk by chunk, written atomically.

The input (CSV or Parquet) is streamed with pyarrow in chunks of ``chunk_rows`` rows (CSV
cells read as text, so validation can say which cell is wrong); each chunk goes through
:func:`resorb.scoring.frame.score_frame` and is appended to a temporary file beside the
output, which replaces the output only when every row is written. An interrupted run
(exception, Ctrl-C, SIGTERM) leaves the output as it was: never a partial file. Memory
stays bounded by the chunk size, whatever the file size.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from resorb import schema
from resorb.errors import InputError
from resorb.files import atomic_path, check_output_path
from resorb.scoring.frame import (
    REJECTED,
    USED_COLUMNS,
    ScoringParams,
    check_columns,
    output_columns,
    prepare_rows,
    score_frame,
)
from resorb.scoring.model import LoadedModel, load_model

Engine = Literal["local", "spark"]
FILTERED = "left out by the mapping's filter"
_READ_BLOCK = 1 << 22  # bytes of CSV parsed at a time


class ProgressHook(Protocol):
    """Told the rows written so far and the total (None when unknown, as for CSV)."""

    def __call__(self, done: int, total: int | None) -> None: ...


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did.

    Attributes
    ----------
    rows_in : int
        Data rows read; always ``scored + rejected``.
    scored, rejected : int
        Rows with a probability, and rows refused with a reason.
    output : Path
        The file written.
    model : str
        The model, in words (name, version, candidate, training data).
    ignored_columns : tuple of str
        Input columns scoring does not read (outcomes, unknown names).
    rejections : tuple of (str, int)
        The commonest rejection reasons and how many rows each concerns, commonest first.
    seconds : float
        Wall time of the scoring loop.
    """

    rows_in: int
    scored: int
    rejected: int
    output: Path
    model: str
    ignored_columns: tuple[str, ...] = ()
    rejections: tuple[tuple[str, int], ...] = ()
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every row was scored, 3 when some were rejected, 2 when none was scored."""
        if self.scored == 0:
            return 2
        return 3 if self.rejected else 0


def score_file(input: str | os.PathLike[str], output: str | os.PathLike[str],
               model: LoadedModel | str | os.PathLike[str] | None = None, *,
               mapping: str | os.PathLike[str] | Any | None = None,
               horizon_days: int | None = None, explain_k: int | None = None,
               chunk_rows: int | None = None, engine: Engine = "local",
               spark_master: str = "local[*]", params: ScoringParams | None = None,
               progress: ProgressHook | None = None) -> ScoreSummary:
    """Score every row of a CSV/Parquet file into a CSV/Parquet file, in input order.

    Parameters
    ----------
    input, output : path-like
        ``.csv``, ``.parquet`` or ``.pq``; the output's folder must exist. The output is
        written to a temporary file beside it and moved into place at the end.
    model : LoadedModel, str or path-like, optional
        A loaded model, a registry URI or an exported model folder (see
        :func:`resorb.scoring.load_model`; default ``models:/resorb@champion`` or the
        reference folder).
    mapping : path-like or Mapping, optional
        Column mapping (:mod:`resorb.mapping`) applied to each chunk; rows its filter leaves
        out are output as rejected.
    horizon_days, explain_k, chunk_rows : int, optional
        Override ``params`` (horizon for rows without ``followup_days``, reasons per row,
        rows per chunk).
    engine : {"local", "spark"}
        Where the model runs: in this process, or as a Spark UDF (``spark_master``).
    params : ScoringParams, optional
    progress : callable, optional
        Called with 0 rows when the model is loaded and scoring starts, then after each chunk
        with the rows written so far and the total (None for CSV).

    Returns
    -------
    ScoreSummary

    Raises
    ------
    InputError
        Unreadable or empty input, unsupported file type, missing output folder, output
        equal to input, ``explain_k`` above the model's number of variables.
    DataValidationError
        A required column is absent or a column is given twice (no output is written).
    ModelNotFoundError
        The model URI or folder names no model.
    ConfigError
        Invalid mapping file.
    """
    params = params or ScoringParams()
    horizon = params.horizon_days if horizon_days is None else int(horizon_days)
    k = params.explain if explain_k is None else int(explain_k)
    rows_per_chunk = params.chunk_rows if chunk_rows is None else int(chunk_rows)
    if rows_per_chunk < 1 or k < 0 or not 1 <= horizon <= 3650:
        raise InputError(f"chunk rows must be >= 1 (got {rows_per_chunk}), reasons per row "
                         f">= 0 (got {k}), horizon 1-3650 days (got {horizon})")
    source = _Source(Path(input), rows_per_chunk)
    out = check_output_path(output)
    if out.resolve() == source.path.resolve():
        raise InputError(f"{out.name}: the output would overwrite the input; choose another")
    mapper = _Mapper.load(mapping, source)
    header = mapper.header(source.names)
    ignored = check_columns(header)
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    if k > len(loaded.features):
        raise InputError(f"--explain {k}: the model has {len(loaded.features)} input "
                         f"variables; ask for at most that many reasons")
    ids = [c for c in schema.IDENTIFIERS if c in header]
    csv = out.suffix.lower() == ".csv"
    schema_out = _output_schema(ids, mapper.identifier_types(source, ids), k, csv=csv)
    background = (_reference_sample(source, mapper, loaded, horizon, params.max_background)
                  if k and loaded.is_linear else None)

    predict = None
    if engine == "spark":
        from resorb.scoring.spark import SparkPredictor

        predict = SparkPredictor(loaded, spark_master)
    elif engine != "local":
        raise InputError(f"engine must be 'local' or 'spark'; got {engine!r}")
    rows_in = scored = 0
    tally: Counter[str] = Counter()
    start = time.perf_counter()
    if progress is not None:
        progress(0, source.total)
    try:
        with atomic_path(out) as tmp, _writer(tmp, schema_out, csv) as write:
            for table in source.chunks():
                frame, rejected = mapper.apply(table)
                result = score_frame(frame, loaded, horizon, k, params, background=background,
                                     predict=predict, rejected=rejected)
                write(_to_arrow(result, schema_out, ids, table if mapper.mapping is None
                                else None))
                bad = result["status"].to_numpy(dtype=object) == REJECTED
                rows_in += len(result)
                scored += int((~bad).sum())
                if bad.any():
                    tally.update(result["reason"][bad].str.split("; ").explode().to_list())
                if progress is not None:
                    progress(rows_in, source.total)
            if rows_in == 0:
                raise InputError(f"{source.path.name}: has a header but no data rows")
    finally:
        if predict is not None:
            predict.close()
    return ScoreSummary(rows_in=rows_in, scored=scored, rejected=rows_in - scored, output=out,
                        model=loaded.describe(), ignored_columns=ignored,
                        rejections=tuple(tally.most_common(5)),
                        seconds=time.perf_counter() - start)


# ------------------------------------------------------------------------------- reading


class _Source:
    """A CSV or Parquet file read in chunks of exactly ``rows`` rows (the last may be short)."""

    def __init__(self, path: Path, rows: int) -> None:
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise InputError(f"{path.name}: unsupported file type '{suffix or '(none)'}'; "
                             f"use .csv or .parquet")
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not a file")
        if path.stat().st_size == 0:
            raise InputError(f"{path.name}: the file is empty")
        self.path, self.rows, self.csv = path, rows, suffix == ".csv"
        self.total: int | None = None
        with self._errors():
            if self.csv:
                import pyarrow.csv as pcsv

                reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 16))
                self.raw_names = list(reader.schema.names)
                reader.close()
                self.types = {n: pa.string() for n in self.raw_names}
            else:
                import pyarrow.parquet as pq

                pf = pq.ParquetFile(path)
                self.raw_names = list(pf.schema_arrow.names)
                self.types = {f.name: f.type for f in pf.schema_arrow}
                self.total = pf.metadata.num_rows
        # like read_table's skipinitialspace: " vas_leg" is vas_leg
        self.names = [n.strip() for n in self.raw_names]
        self.read: list[str] | None = None  # raw names to read; None: all

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        kind = "CSV" if self.path.suffix.lower() == ".csv" else "Parquet"
        try:
            yield
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path.name}: cannot be read as {kind}: "
                             f"{_safe_message(exc)}") from None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Record batches of the file (any size), columns renamed to stripped names."""
        cols = self.read
        with self._errors():
            if self.csv:
                import pyarrow.csv as pcsv

                reader = pcsv.open_csv(
                    self.path, read_options=pcsv.ReadOptions(block_size=_READ_BLOCK),
                    convert_options=pcsv.ConvertOptions(
                        column_types=self.types, include_columns=cols, null_values=[""],
                        strings_can_be_null=True, quoted_strings_can_be_null=True))
                batches: Iterator[pa.RecordBatch] = iter(reader)
            else:
                import pyarrow.parquet as pq

                batches = pq.ParquetFile(self.path).iter_batches(
                    batch_size=self.rows, columns=cols, use_threads=True)
            for batch in batches:
                yield batch.rename_columns([n.strip() for n in batch.schema.names])

    def chunks(self, rows: int | None = None) -> Iterator[pa.Table]:
        """Tables of exactly ``rows`` rows (default: the source's), the last possibly shorter."""
        size = rows or self.rows
        pending: list[pa.RecordBatch] = []
        count = 0
        for batch in self.batches():
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            count += batch.num_rows
            while count >= size:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, size)
                rest = table.slice(size)
                pending, count = rest.to_batches(), rest.num_rows
        if count:
            yield pa.Table.from_batches(pending)


def _safe_message(exc: BaseException) -> str:
    """The reader's reason without the offending row's text (it may hold identifiers)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    found = re.search(r"Expected \d+ columns, got \d+", text)
    if found:
        return f"CSV parse error: {found.group(0)}"
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", text)[:200]


class _Mapper:
    """A column mapping applied chunk by chunk (or the identity), keeping every row."""

    def __init__(self, mapping: Any | None) -> None:
        self.mapping = mapping
        self.unfiltered = (mapping.model_copy(update={"filter": ()})
                           if mapping is not None and mapping.filter else mapping)

    @classmethod
    def load(cls, mapping: str | os.PathLike[str] | Any | None, source: _Source) -> _Mapper:
        if mapping is None:
            source.read = [raw for raw, name in zip(source.raw_names, source.names, strict=True)
                           if name in USED_COLUMNS]
            return cls(None)
        from resorb.mapping import Mapping, load_mapping

        return cls(mapping if isinstance(mapping, Mapping) else load_mapping(mapping))

    def header(self, names: list[str]) -> list[str]:
        """Canonical column names after the mapping."""
        if self.mapping is None:
            return names
        from resorb.mapping import apply_mapping

        # one blank row: apply_mapping refuses a table without rows
        blank = pd.DataFrame({n: pd.Series([None], dtype="str") for n in dict.fromkeys(names)})
        return list(apply_mapping(blank, self.unfiltered).frame.columns)

    def identifier_types(self, source: _Source, ids: list[str]) -> dict[str, pa.DataType]:
        if self.mapping is not None:
            return {c: pa.string() for c in ids}
        by_name = dict(zip(source.names, source.raw_names, strict=True))
        return {c: source.types[by_name[c]] for c in ids}

    def apply(self, table: pa.Table) -> tuple[pd.DataFrame, pd.Series | None]:
        """The chunk as a canonical-named frame (every row), and filter rejections."""
        raw = table.to_pandas()
        if self.mapping is None:
            return raw, None
        from resorb.mapping import apply_mapping

        frame = apply_mapping(raw, self.unfiltered).frame
        if not self.mapping.filter:
            return frame, None
        try:
            kept = apply_mapping(raw, self.mapping).kept_rows
        except InputError:  # the filter keeps none of this chunk's rows
            kept = np.zeros(len(raw), dtype=bool)
        return frame, pd.Series(np.where(kept, "", FILTERED), index=frame.index, dtype=object)


def _reference_sample(source: _Source, mapper: _Mapper, model: LoadedModel, horizon: int,
                      n: int) -> pd.DataFrame | None:
    """Model input of the file's first ``n`` valid rows: a fixed reference for explanations.

    A linear model's contributions are relative to a reference mean; taking it from the
    start of the file (not from each chunk) makes the reasons independent of chunk size.
    """
    parts, have = [], 0
    for table in source.chunks(max(source.rows, 2 * n)):
        frame, rejected = mapper.apply(table)
        _, _, _, X = prepare_rows(frame, model, horizon, rejected)
        parts.append(X.head(n - have))
        have += len(parts[-1])
        if have >= n:
            break
    sample = pd.concat(parts, ignore_index=True) if parts else None
    return sample if sample is not None and len(sample) else None


# ------------------------------------------------------------------------------- writing


def _output_schema(ids: list[str], id_types: dict[str, pa.DataType], k: int,
                   csv: bool) -> pa.Schema:
    kinds = {"p_resorption": pa.float64(), "eligible_for_waiting": pa.bool_(),
             "horizon_days": pa.int64()}
    fields = []
    for name in output_columns(ids, k):
        if name in id_types:
            kind = id_types[name]
            if csv and pa.types.is_timestamp(kind):  # a date column: written as YYYY-MM-DD
                kind = pa.date32()
            fields.append(pa.field(name, kind))
        else:
            fields.append(pa.field(name, kinds.get(name, pa.string())))
    return pa.schema(fields)


def _to_arrow(result: pd.DataFrame, schema_out: pa.Schema, ids: list[str],
              source: pa.Table | None) -> pa.Table:
    """The scored chunk as an Arrow table; identifiers straight from the input when read."""
    body = pa.Table.from_pandas(result.drop(columns=ids), preserve_index=False,
                                schema=pa.schema([f for f in schema_out if f.name not in ids]))
    for pos, name in enumerate(ids):
        field = schema_out.field(name)
        if source is not None:
            column = source.column(name)
        else:
            column = pa.array(result[name].astype(object).where(result[name].notna(), None),
                              from_pandas=True)
        if not column.type.equals(field.type):
            column = column.cast(field.type, safe=False)
        body = body.add_column(pos, field, column)
    return body


@contextlib.contextmanager
def _writer(path: Path, schema_out: pa.Schema, csv: bool) -> Iterator[Any]:
    """A function appending tables to ``path``, as CSV or Parquet."""
    if csv:
        import pyarrow.csv as pcsv

        writer: Any = pcsv.CSVWriter(str(path), schema_out,
                                     write_options=pcsv.WriteOptions(quoting_style="needed"))
    else:
        import pyarrow.parquet as pq

        writer = pq.ParquetWriter(str(path), schema_out, compression="snappy")
    try:
        yield writer.write_table
    finally:
        writer.close()
