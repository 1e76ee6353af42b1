"""Planning a scoring run on the driver (header, options, model) and running it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from resorb import schema
from resorb.config import ScoringParams
from resorb.errors import InputError, ResorbError
from resorb.scoring.batch import ChunkJob, ScoreSummary, _output_schema
from resorb.scoring.columns import episode_input, input_columns, map_rows, measured_otherwise
from resorb.scoring.frame import check_columns, prepare_rows, unused_inputs
from resorb.scoring.model import LoadedModel, load_model
from resorb.scoring.spark.counts import write_output
from resorb.scoring.spark.episodes import flag_repeats
from resorb.scoring.spark.progress import Progress, watch
from resorb.scoring.spark.read import SOURCE_FILE, SOURCE_ROW, SparkInput, read_input
from resorb.scoring.spark.session import SparkJobError, _job_reason, get_session, quiet
from resorb.scoring.spark.worker import _score_partition, _ship

#: the repeated-episode pass (:mod:`.episodes`); benchmarks/bench_spark.py turns it off to
#: measure what it costs, nothing else does: without it Spark would score rows the local
#: engine rejects
EPISODE_PASS = True


@dataclass(frozen=True)
class Plan:
    """A checked scoring run on Spark: the lazy scored DataFrame and what the driver knows."""

    scored: Any
    ignored_columns: tuple[str, ...]
    model: LoadedModel
    source: SparkInput


def plan_scoring(source: SparkInput, model: LoadedModel, *, mapping: Any | None = None,
                 horizon_days: int | None = None, explain_k: int | None = None,
                 params: ScoringParams | None = None, file_name: str = "the input") -> Plan:
    """Check the header and options on the driver and build the (lazy) scored DataFrame.

    Parameters
    ----------
    source : SparkInput
        From :func:`read_input` (or any DataFrame wrapped in one).
    model : LoadedModel
    mapping : path-like, Mapping or ChunkMapping, optional
    horizon_days, explain_k : int, optional
        Override ``params``.
    params : ScoringParams, optional
    file_name : str
        How messages name the input.

    Returns
    -------
    Plan
        ``scored`` has the local engine's output columns, then ``source_file`` and
        ``source_row``. Rows repeating another row's patient and level are rejected as by
        the local engine (a key pass and a shuffle on the executors, :mod:`.episodes`).

    Raises
    ------
    InputError, DataValidationError, ConfigError
        As the local engine: bad options, a required column absent or given twice, an
        invalid mapping, ``explain_k`` above the model's number of variables.
    """
    from pyspark.sql.pandas.types import from_arrow_type, to_arrow_type
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    params = params or ScoringParams()
    horizon = params.horizon_days if horizon_days is None else int(horizon_days)
    k = params.explain if explain_k is None else int(explain_k)
    if k < 0 or not 1 <= horizon <= 3650:
        raise InputError(f"reasons per row must be >= 0 (got {k}), horizon 1-3650 days "
                         f"(got {horizon})")
    columns = input_columns(source.names, mapping, file_name)
    chunk_mapping, header = columns.mapping, columns.header
    ignored = check_columns(header)
    if k > len(model.features):
        raise InputError(f"--explain {k}: the model has {len(model.features)} input "
                         f"variables; ask for at most that many reasons")
    read = columns.read
    origin = source.origin
    extra = {"none": [], "file": [SOURCE_FILE], "row": [SOURCE_FILE, SOURCE_ROW]}[origin]
    frame = source.frame.select(*[f"`{c}`" for c in read], *extra)
    ids = [c for c in schema.IDENTIFIERS if c in header]
    spark_types = {f.name: f.dataType for f in frame.schema.fields}
    if chunk_mapping is None:
        id_types = {c: to_arrow_type(spark_types[c]) for c in ids}
    else:
        id_types = {c: pa.string() for c in ids}
    schema_out = _output_schema(ids, id_types, k, csv=False)
    background = (_background(frame, origin, model, horizon, params.max_background,
                              chunk_mapping)
                  if k and model.is_linear else None)
    job = ChunkJob(model, horizon, k, params, background, schema_out, tuple(ids),
                   chunk_mapping)
    # pyspark's mapInArrow looks columns up by name, which fails on a name with a dot
    # ("Canal occ."): they travel as c0, c1, .. and get their names back in the worker
    frame = frame.toDF(*[f"c{i}" for i in range(len(read))], *extra)
    keyed = episode_input(columns, source.names, file_name) if EPISODE_PASS else None
    if keyed is not None:  # CSV rows are numbered in the pass, before its shuffle
        frame = flag_repeats(frame, keyed, read, origin)
        origin = "none" if origin == "none" else "row"
    shipment = _ship(model, job, origin, tuple(read), flagged=keyed is not None)
    handle = frame.sparkSession.sparkContext.broadcast(shipment)
    fields = [StructField(f.name, spark_types[f.name] if f.name in id_types and
                          chunk_mapping is None else from_arrow_type(f.type), True)
              for f in schema_out]
    if origin != "none":
        fields += [StructField(SOURCE_FILE, StringType(), False),
                   StructField(SOURCE_ROW, LongType(), False)]
    out_schema = StructType(fields)

    def body(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _score_partition(batches, handle)

    with quiet():
        scored = frame.mapInArrow(body, out_schema)
    return Plan(scored, ignored, model, source)


def _background(frame: Any, origin: str, model: LoadedModel, horizon: int, n: int,
                mapping: Any) -> pd.DataFrame | None:
    """Model input of the first ``n`` valid rows in input order (as the local engine).

    Files are taken in name order and rows in file order, a few times ``n`` rows from one
    file at a time; only these rows reach the driver. A DataFrame not read from files gives
    its first rows.
    """
    from pyspark.sql import functions as sf

    def valid(rows: pa.Table) -> pd.DataFrame:
        frame, rejected = map_rows(rows.to_pandas(), mapping)  # as the local engine
        return prepare_rows(frame, model, horizon, rejected)[3]

    origin_columns = [c for c in (SOURCE_FILE, SOURCE_ROW) if c in frame.columns]
    if origin == "none":
        parts = [valid(frame.limit(2 * n).toArrow())]
    else:
        files = frame.select(SOURCE_FILE).distinct().orderBy(SOURCE_FILE).toArrow()
        parts, have = [], 0
        for name in files.column(0).to_pylist():
            one = frame.where(sf.col(SOURCE_FILE) == name)
            if origin == "row":  # a Parquet file may come in several splits
                one = one.orderBy(SOURCE_ROW)
            with quiet():
                part = valid(one.drop(*origin_columns).limit(max(2 * n, 2 * (n - have)))
                             .toArrow())
            parts.append(part.head(n - have))
            have += len(parts[-1])
            if have >= n:
                break
    sample = pd.concat(parts, ignore_index=True) if parts else None
    return sample if sample is not None and len(sample) else None


def _check_output(output: str, source: str) -> str:
    """The output folder: not the input, not an existing file or a folder of other files."""
    target = str(output)
    local = "://" not in target or target.startswith("file:")
    where = Path(target.removeprefix("file://").removeprefix("file:"))
    if local:
        if where.exists() and not where.is_dir():
            raise InputError(f"{target}: the Spark engine writes a folder of Parquet part "
                             f"files, and this is a file; name a folder, e.g. "
                             f"{where.with_suffix('')}_scored/")
        if where.is_dir():
            other = [p.name for p in where.iterdir()
                     if not (p.name.startswith(("part-", "_", ".")))]
            if other:
                raise InputError(f"{target}: the folder holds other files ({other[0]}, ...); "
                                 f"a scoring run replaces its folder, so name a new one")
        if not where.parent.is_dir():
            raise InputError(f"{target}: its folder {where.parent} does not exist")
        src = Path(source.removeprefix("file://").removeprefix("file:"))
        if source and src.exists() and src.resolve() == where.resolve():
            raise InputError(f"{target}: the output would overwrite the input; choose another")
    return target


def _without_csv_dialect(mapping: Any | None, source_name: str) -> Any | None:
    """The mapping (loaded once), refused when it declares how a CSV input is written.

    Spark reads CSV as comma-separated UTF-8 with ISO dates; a mapping's ``dialect`` (a
    hospital export: ``;``, decimal commas, Latin-1, ``%d.%m.%Y``) is applied by the local
    reader only. It was ignored here: a ``;`` export read as one column and was refused as
    "21 required columns absent", naming every column the file holds.
    """
    from resorb.intake import Mapping, load_mapping
    from resorb.intake.dialect import Dialect
    from resorb.scoring.spark.read import input_format

    if mapping is None or not isinstance(mapping, (str, os.PathLike, Mapping)):
        return mapping
    loaded = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    dialect = loaded.dialect
    if dialect is None or dialect == Dialect() or input_format(source_name) != "csv":
        return loaded
    declared = ", ".join(f"{key}: {value!r}" for key, value in dialect.model_dump().items()
                         if value != getattr(Dialect(), key))
    raise InputError(
        f"{Path(source_name).name}: --engine spark reads CSV as comma-separated UTF-8 with "
        f"ISO dates; the mapping's dialect ({declared}) is applied by the local engine "
        f"only: score it with --engine local (the default), or save the export as Parquet "
        f"or as comma-separated UTF-8 CSV")


def score_path(input: str | os.PathLike[str], output: str | os.PathLike[str],
               model: LoadedModel | str | os.PathLike[str] | None = None, *,
               mapping: Any | None = None, horizon_days: int | None = None,
               explain_k: int | None = None, master: str = "local[*]",
               params: ScoringParams | None = None,
               progress: Progress | None = None) -> ScoreSummary:
    """Score a file, folder or glob on Spark into a Parquet folder, executors doing the work.

    Parameters
    ----------
    input : str or path-like
        ``.csv``/``.parquet`` file, a folder of part files or a glob, on any file system
        Spark reads (``hdfs://``, ``s3a://``, ``file:``).
    output : str or path-like
        Folder to write (Parquet part files and ``_SUCCESS``); replaced if it holds an
        earlier output.
    model : LoadedModel, str or path-like, optional
        As :func:`resorb.scoring.score_file`.
    mapping, horizon_days, explain_k, params
        As :func:`resorb.scoring.score_file`.
    master : str
        Spark master URL; an active session is reused (and left running).
    progress : callable (rows done, rows in), optional
        Called as the local engine calls it, rows done estimated from the write job's
        finished tasks (:mod:`resorb.scoring.spark.progress`).

    Returns
    -------
    ScoreSummary
        Counted by Spark; ``output`` is the folder or URL as given.

    Raises
    ------
    InputError
        As the local engine; pyspark or Java absent; a malformed master URL.
    DataValidationError
        A required column is absent or given twice (nothing is written).
    SparkJobError
        The job failed (no ``_SUCCESS``), or rows out differ from rows in.
    """
    start = time.perf_counter()
    source_name = str(input)
    target = _check_output(str(output), source_name)
    mapping = _without_csv_dialect(mapping, source_name)
    if isinstance(model, LoadedModel):  # a bad model folder fails before Spark starts
        loaded = model
    elif model is not None:
        loaded = load_model(model)
    spark, owned = get_session(master, "resorb-score")
    try:
        source = read_input(spark, source_name)
        # the mapping file is read once: its header picks the default model, as locally
        columns = input_columns(source.names, mapping, Path(source_name).name)
        if model is None:
            loaded = load_model(None, columns=columns.header)
        try:
            plan = plan_scoring(source, loaded, mapping=columns.mapping, horizon_days=horizon_days,
                                explain_k=explain_k, params=params,
                                file_name=Path(source_name).name)
        except ResorbError:
            raise
        except Exception as exc:  # reading the reasons' reference rows ran a Spark job
            raise SparkJobError(f"Spark could not read {source_name}: "
                                f"{_job_reason(exc)}") from None
        try:
            with quiet():
                rows_in = source.frame.count()
        except Exception as exc:
            raise SparkJobError(f"Spark could not read {source_name}: "
                                f"{_job_reason(exc)}") from None
        if rows_in == 0:
            raise InputError(f"{Path(source_name).name}: has a header but no data rows")
        with watch(spark, rows_in, progress):
            counts = write_output(plan.scored, target)
    finally:
        if owned:
            spark.stop()
    if counts.rows != rows_in:
        raise SparkJobError(f"{target}: {counts.rows:,} rows written for {rows_in:,} rows in; "
                            f"the output is wrong, please report this")
    return ScoreSummary(rows_in=rows_in, scored=counts.scored, rejected=counts.rejected,
                        output=target, model=loaded.describe(),
                        ignored_columns=plan.ignored_columns, rejections=counts.rejections,
                        seconds=time.perf_counter() - start, unused_given=counts.unused_given,
                        unused_predictors=unused_inputs(loaded),
                        measured_otherwise=measured_otherwise(columns.mapping, loaded))
