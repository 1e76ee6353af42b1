"""Batch scoring of a file, of any size, chunk by chunk, written atomically.

The input (CSV or Parquet) is streamed in chunks of ``chunk_rows`` rows by the reader every
command uses (:class:`resorb.intake.TableFile`), mapped once per chunk when a mapping is given
(:class:`resorb.intake.ChunkMapping`); each chunk goes through
:func:`resorb.scoring.frame.score_frame` and is appended to a temporary file beside the
output, which replaces the output only when every row is written. An interrupted run
(exception, Ctrl-C, SIGTERM) leaves the output as it was: never a partial file. Memory
stays bounded by the chunk size, whatever the file size.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from resorb import schema
from resorb.errors import InputError
from resorb.files import atomic_path, check_output_path, table_format
from resorb.intake import ChunkMapping, Mapping, TableFile, load_mapping
from resorb.intake.found import DETAIL_PATTERN
from resorb.scoring.columns import (
    InputColumns,
    episode_input,
    input_columns,
    map_rows,
    measured_otherwise,
    row_episode_keys,
)
from resorb.scoring.frame import (
    REJECTED,
    ScoringParams,
    check_columns,
    conform_frame,
    gave_unused,
    output_columns,
    prepare_rows,
    score_frame,
    unused_inputs,
)
from resorb.scoring.model import LoadedModel, load_model

Engine = Literal["local", "spark"]


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
    output : Path or str
        The file written (local engine); the Spark engine's folder or URL as given (a
        ``Path`` would turn ``file:///x`` into ``file:/x``).
    model : str
        The model, in words (name, version, candidate, training data).
    ignored_columns : tuple of str
        Input columns scoring does not read (outcomes, unknown names).
    rejections : tuple of (str, int)
        The commonest rejection reasons and how many rows each concerns, commonest first.
    seconds : float
        Wall time of the scoring loop.
    unused_given : int
        Scored rows that gave a value for a predictor the model leaves out (listed in their
        ``out_of_range``).
    unused_predictors : tuple of str
        The predictors the model leaves out (its card's ``unused_predictors``).
    measured_otherwise : tuple of str
        Model inputs the mapping derives while the model was trained on them measured, or
        the reverse (:func:`resorb.intake.derive.measurement_mismatches`): the predictions
        may be miscalibrated (docs/derived.md).
    """

    rows_in: int
    scored: int
    rejected: int
    output: Path | str
    model: str
    ignored_columns: tuple[str, ...] = ()
    rejections: tuple[tuple[str, int], ...] = ()
    seconds: float = 0.0
    unused_given: int = 0
    unused_predictors: tuple[str, ...] = ()
    measured_otherwise: tuple[str, ...] = ()

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
        Column mapping (:func:`resorb.intake.load_mapping`) applied to each chunk; rows its
        filter leaves out are output as rejected.
    horizon_days, explain_k, chunk_rows : int, optional
        Override ``params`` (horizon for rows without ``followup_days``, reasons per row,
        rows per chunk).
    engine : {"local", "spark"}
        Where the work runs: in this process, or on Spark executors at ``spark_master``
        (:func:`resorb.scoring.spark.score_path`: ``output`` is then a Parquet folder and
        ``chunk_rows`` is not used; ``progress`` counts finished tasks).
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
    if engine == "spark":  # executors read, score and write a Parquet folder
        from resorb.scoring.spark import score_path

        return score_path(input, output, model, mapping=mapping, horizon_days=horizon_days,
                          explain_k=explain_k, master=spark_master, params=params,
                          progress=progress)
    params = params or ScoringParams()
    horizon = params.horizon_days if horizon_days is None else int(horizon_days)
    k = params.explain if explain_k is None else int(explain_k)
    rows_per_chunk = params.chunk_rows if chunk_rows is None else int(chunk_rows)
    if rows_per_chunk < 1 or k < 0 or not 1 <= horizon <= 3650:
        raise InputError(f"chunk rows must be >= 1 (got {rows_per_chunk}), reasons per row "
                         f">= 0 (got {k}), horizon 1-3650 days (got {horizon})")
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    file = TableFile(input, mapping.dialect if mapping is not None else None,
                     mapping.numeric_sources if mapping is not None else None)
    out = check_output_path(output, f"--output {output}")
    if out.resolve() == file.path.resolve():
        raise InputError(f"{out.name}: the output would overwrite the input; choose another")
    source = _Input(file, mapping)
    loaded = (model if isinstance(model, LoadedModel)
              else load_model(model, columns=source.header))
    ignored = check_columns(source.header, loaded.features)
    if k > len(loaded.features):
        raise InputError(f"--explain {k}: the model has {len(loaded.features)} input "
                         f"variables; ask for at most that many reasons")
    ids = [c for c in schema.IDENTIFIERS if c in source.header]
    csv = table_format(out) == "csv"
    schema_out = _output_schema(ids, source.identifier_types(ids), k, csv=csv)
    background, first = (_reference_sample(source, rows_per_chunk, loaded, horizon,
                                           params.max_background)
                         if k and loaded.is_linear else (None, None))

    if engine != "local":
        raise InputError(f"engine must be 'local' or 'spark'; got {engine!r}")
    job = ChunkJob(loaded, horizon, k, params, background, schema_out, tuple(ids),
                   source.mapping, pass_through=source.passes_through(ids),
                   repeated_episodes=source.repeated_episodes(rows_per_chunk),
                   background_features=_background_features(loaded, background,
                                                            params.max_background))
    rows_in = scored = unused_given = 0
    tally: Counter[str] = Counter()
    start = time.perf_counter()
    if progress is not None:
        progress(0, file.total)
    with atomic_path(out) as tmp, _writer(tmp, schema_out, csv) as write:
        for table in source.source.chunks(rows_per_chunk, source.read):
            result = score_chunk(table, job, conformed=first)
            first = None  # it is the first chunk's only
            write(result)
            bad = pc.equal(result.column("status"), REJECTED).to_numpy(zero_copy_only=False)
            rows_in += result.num_rows
            scored += int((~bad).sum())
            unused_given += int(gave_unused(result.column("out_of_range").to_pandas()).sum())
            if bad.any():
                reasons = result.column("reason").to_pandas()[bad]
                # counted by rule, not by value (resorb.intake.found): the Spark engine too
                tally.update(reasons.str.split("; ").explode()
                             .str.replace(DETAIL_PATTERN, "", regex=True).to_list())
            if progress is not None:
                progress(rows_in, file.total)
    return ScoreSummary(rows_in=rows_in, scored=scored, rejected=rows_in - scored, output=out,
                        model=loaded.describe(), ignored_columns=ignored,
                        rejections=tuple(tally.most_common(5)),
                        seconds=time.perf_counter() - start, unused_given=unused_given,
                        unused_predictors=unused_inputs(loaded),
                        measured_otherwise=source.measured_otherwise(loaded))


# ------------------------------------------------------------------------------- reading


class _Input:
    """The input file as frames with canonical names, chunk by chunk: read once, mapped once.

    Without a mapping only the columns scoring uses are read; with one, the columns the
    mapping reads. Rows the mapping's filter leaves out are kept, with a rejection reason.
    """

    def __init__(self, source: TableFile, mapping: str | os.PathLike[str] | Any | None) -> None:
        self.source = source
        columns = input_columns(source.names, mapping, source.path.name)
        self.mapping: ChunkMapping | None = columns.mapping
        self.header = columns.header
        self.read = columns.read

    def measured_otherwise(self, model: LoadedModel) -> tuple[str, ...]:
        """Model inputs this file's mapping derives differently from the model's training."""
        return measured_otherwise(self.mapping, model)

    def identifier_types(self, ids: list[str]) -> dict[str, pa.DataType]:
        if not self.passes_through(ids):
            return {c: pa.string() for c in ids}
        return {c: self.source.types[c] for c in ids}

    def passes_through(self, ids: list[str]) -> bool:
        """Identifiers written as read: not when mapped, nor raw bytes (maybe not UTF-8)."""
        return self.mapping is None and not any(
            pa.types.is_binary(self.source.types[c]) or pa.types.is_large_binary(
                self.source.types[c]) for c in ids)

    def repeated_episodes(self, rows: int) -> np.ndarray:
        """Hashes of the (patient, level) pairs more than one kept row of the file holds.

        A first pass over the file (only the columns :func:`episode_input` names), so that
        the cross-row rule ``validate`` applies to the whole file holds for ``score`` too
        (:func:`resorb.intake.check.episode_keys`). Rows a mapping's filter leaves out do not
        count, as they do not for ``validate``.
        """
        from resorb.intake.check import repeated_keys

        none = np.zeros(0, dtype=np.uint64)
        keyed = episode_input(InputColumns(self.mapping, self.header, self.read),
                              self.source.names, self.source.path.name)
        if keyed is None:
            return none
        parts = []
        for table in self.source.chunks(rows, keyed.read):
            keys = row_episode_keys(table.to_pandas(), keyed.mapping)
            if keys is None:
                return none
            parts.append(keys)
        return repeated_keys(np.concatenate(parts)) if parts else none

    def frames(self, rows: int) -> Iterator[tuple[pa.Table, pd.DataFrame, pd.Series | None]]:
        """(chunk as read, its canonical frame, filter rejections or None) per chunk."""
        for table in self.source.chunks(rows, self.read):
            frame, rejected = map_rows(table.to_pandas(), self.mapping)
            yield table, frame, rejected


def _reference_sample(source: _Input, rows: int, model: LoadedModel, horizon: int, n: int
                      ) -> tuple[pd.DataFrame | None, tuple[pd.DataFrame, pd.Series] | None]:
    """Model input of the file's first ``n`` valid rows: a fixed reference for explanations.

    A linear model's contributions are relative to a reference mean; taking it from the
    start of the file (not from each chunk) makes the reasons independent of chunk size.

    Returns
    -------
    sample : DataFrame of shape (<= n, n_features) or None
        None when no row is valid.
    first : (DataFrame, Series) or None
        :func:`~resorb.scoring.frame.conform_frame` of the first chunk of ``rows`` rows
        (the one :func:`score_file` scores first) when this pass read the file in the same
        chunks (``rows >= 2 n``), so that it is not conformed twice; else None. Conforming
        is most of the per-row work before the model (a 10-row file: 0.09 s of CPU, twice).
    """
    parts, have, first = [], 0, None
    size = max(rows, 2 * n)
    for i, (_, frame, rejected) in enumerate(source.frames(size)):
        conformed = conform_frame(frame, model)
        if i == 0 and size == rows:
            first = conformed
        _, _, _, X = prepare_rows(frame, model, horizon, rejected, conformed)
        parts.append(X.head(n - have))
        have += len(parts[-1])
        if have >= n:
            break
    sample = pd.concat(parts, ignore_index=True) if parts else None
    return (sample if sample is not None and len(sample) else None), first


def _background_features(model: LoadedModel, background: pd.DataFrame | None,
                         n: int) -> pd.DataFrame | None:
    """The reference sample's features, transformed once per run.

    None when there is no sample, or when it holds fewer than ``n`` rows: then it is every
    valid row of a small file, and :func:`score_frame` takes the features of a chunk
    holding exactly those rows (a file of one chunk) from the chunk's own transform.
    """
    if background is None or len(background) < n:
        return None
    return model.transform(background)


# ------------------------------------------------------------------- the per-chunk function


@dataclass(frozen=True)
class ChunkJob:
    """Everything :func:`score_chunk` needs besides the rows; built once per run.

    Both engines build one: the local engine in :func:`score_file`, the Spark engine on the
    driver, shipped to each executor once (:mod:`resorb.scoring.spark`).
    """

    model: LoadedModel
    horizon_days: int
    explain_k: int
    params: ScoringParams
    background: pd.DataFrame | None
    schema_out: pa.Schema
    identifiers: tuple[str, ...]
    mapping: ChunkMapping | None = None
    #: identifiers written as read (not mapped, not raw bytes); None: when there is no mapping
    pass_through: bool | None = None
    #: hashes of the (patient, level) pairs the whole file repeats (local engine: a first
    #: pass); None: not given (Spark flags the rows instead: ``score_chunk(repeated=...)``)
    repeated_episodes: np.ndarray | None = None
    #: ``model.transform(background)``, once per run; None: transformed per chunk
    background_features: pd.DataFrame | None = None


def score_chunk(table: pa.Table, job: ChunkJob,
                conformed: tuple[pd.DataFrame, pd.Series] | None = None,
                repeated: np.ndarray | None = None) -> pa.Table:
    """Score one chunk as read from the input: map, check, predict, explain, to Arrow.

    The one per-chunk function of both engines (the local loop of :func:`score_file` and
    the Spark executors of :mod:`resorb.scoring.spark`), so they cannot drift apart.

    Parameters
    ----------
    table : pyarrow.Table of shape (n_rows, n_columns_read)
        Columns as read (stripped source names; canonical names without a mapping).
    job : ChunkJob
    conformed : (DataFrame, Series), optional
        :func:`~resorb.scoring.frame.conform_frame` of this chunk's canonical frame, when
        already computed (the local engine's first chunk).
    repeated : ndarray of bool, shape (n_rows,), optional
        Rows repeating another row's patient and level, as the Spark engine's key pass
        flags them (:mod:`resorb.scoring.spark.job`); the local engine gives
        ``job.repeated_episodes`` instead. Either way such a row is rejected with
        :data:`resorb.intake.check.REPEATED_EPISODE` unless the mapping already rejects it.

    Returns
    -------
    pyarrow.Table of shape (n_rows, len(job.schema_out))
        One row per input row, in order, with schema ``job.schema_out``.
    """
    frame, rejected = map_rows(table.to_pandas(), job.mapping)
    if repeated is not None:
        rejected = _reject_flagged(repeated, rejected, frame.index)
    elif job.repeated_episodes is not None and job.repeated_episodes.size:
        rejected = _reject_repeated(frame, job.repeated_episodes, rejected)
    result = score_frame(frame, job.model, job.horizon_days, job.explain_k, job.params,
                         background=job.background, rejected=rejected,
                         conformed=conformed, background_features=job.background_features)
    passes = job.mapping is None if job.pass_through is None else job.pass_through
    return _to_arrow(result, job.schema_out, list(job.identifiers), table if passes else None)


def _reject_repeated(frame: pd.DataFrame, repeated: np.ndarray,
                     rejected: pd.Series | None) -> pd.Series | None:
    """``rejected`` with the rows whose episode key is among ``repeated`` rejected too."""
    from resorb.intake.check import episode_keys

    keys = episode_keys(frame)
    if keys is None:
        return rejected
    return _reject_flagged(np.isin(keys, repeated) & (keys != 0), rejected, frame.index)


def _reject_flagged(hit: np.ndarray, rejected: pd.Series | None,
                    index: pd.Index) -> pd.Series | None:
    """``rejected`` with the rows ``hit`` flags given the repeated-episode reason too.

    A row the mapping already rejects (its filter, a derivation) keeps that reason.
    """
    from resorb.intake.check import REPEATED_EPISODE

    hit = np.asarray(hit, dtype=bool)
    if not hit.any():
        return rejected
    why = (np.full(len(index), "", dtype=object) if rejected is None
           else rejected.to_numpy(dtype=object))
    why = np.where(hit & (why == ""), REPEATED_EPISODE, why)
    return pd.Series(why, index=index, dtype=object)


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
            values = result[name].astype(object).where(result[name].notna(), None)
            if field.type == pa.string():  # raw bytes (Parquet binary) may not be UTF-8
                values = values.map(lambda v: v.decode("utf-8", "replace")
                                    if isinstance(v, bytes) else v)
            column = pa.array(values, from_pandas=True)
        if not column.type.equals(field.type):
            column = column.cast(field.type, safe=False)
        body = body.add_column(pos, field, column)
    return body


@contextlib.contextmanager
def _writer(path: Path, schema_out: pa.Schema, csv: bool) -> Iterator[Any]:
    """A function appending tables to ``path``, as CSV or Parquet.

    CSV identifier cells that a spreadsheet would read as a formula are neutralised
    (:func:`resorb.files.neutralise_formulas`); Parquet gets the cells as they were read.
    """
    if csv:
        import pyarrow.csv as pcsv

        from resorb.files import neutralise_formulas

        writer: Any = pcsv.CSVWriter(str(path), schema_out,
                                     write_options=pcsv.WriteOptions(quoting_style="needed"))
        ids = [name for name in schema_out.names if name in schema.IDENTIFIERS]
        try:
            yield lambda table: writer.write_table(neutralise_formulas(table, ids))
        finally:
            writer.close()
        return
    import pyarrow.parquet as pq

    writer = pq.ParquetWriter(str(path), schema_out, compression="snappy")
    try:
        yield writer.write_table
    finally:
        writer.close()
