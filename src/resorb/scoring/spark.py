"""The Spark engine (``--engine spark``): executors read, check, score, explain and write.

The driver only plans. It reads the input's **schema** (never its rows), checks the header as
the local engine does (:func:`resorb.scoring.frame.check_columns`; a mapping's columns), loads
the model with :func:`resorb.scoring.model.load_model` (which checks it against its card) and
broadcasts what it verified: the skops **bytes** (whose SHA-256 it checks against the card
once more), the card and the small per-run settings. Executors turn the bytes back into the
estimator through the reviewed allow-list (:func:`resorb.serialization.load_estimator_bytes`),
once per Python worker (cached; Spark reuses Python workers), never through MLflow's
``spark_udf`` (which would run code from the model folder: a model is data, never code).

Each partition goes through ``mapInArrow`` into :func:`resorb.scoring.batch.score_chunk`,
the very function the local engine calls on each of its chunks (mapping, cell rules, red
flags, prediction, reasons, out-of-range flags, bands), so the two engines cannot drift
apart. Spark writes the result as a Parquet folder through its output committer: a task's
attempt writes into a temporary folder that only a successful attempt commits, and
``_SUCCESS`` appears when the whole job has committed. A retried task therefore neither
loses nor duplicates rows (tested with a failure injected into a first attempt), and a failed
job leaves no ``_SUCCESS`` and an error naming the folder.

**Where each row came from.** Every output row carries ``source_file`` (the file's URI as
Spark names it) and ``source_row`` (1-based data row within that file, as ``resorb
validate`` counts), so that the input order can be restored with
``orderBy("source_file", "source_row")``. Parquet gives the row number itself: Spark 4's
hidden ``_metadata.row_index`` column (Spark may split a file by row group, and the index
stays the row's position in its file). CSV has no such column, so the engine reads CSV with
``multiLine`` (needed anyway: a quoted cell may span lines, as the local reader allows),
which makes every CSV file one unsplittable task input; within a task, files arrive whole
and in order, and the worker numbers rows per ``_metadata.file_path``. A retried task
re-reads its files from the start and numbers them the same way. We chose Spark's own
readers over tasks that open files with pyarrow because they read anything Spark can read
(HDFS, S3, a glob) with Spark's file listing, splitting and retries.

**Accounting.** ``rows in`` is Spark's count of the input (Parquet: from the file footers);
``scored`` and ``rejected`` are counted from the written output by Spark (one aggregation;
no row reaches the driver), with the commonest rejection reasons. A difference between rows
in and rows out is reported as an error, never printed as a success.

Needs the optional extra ``pip install 'resorb[spark]'`` and Java 17+.
"""

from __future__ import annotations

import contextlib
import glob as globbing
import hashlib
import os
import re
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from resorb import schema
from resorb.config import ScoringParams
from resorb.errors import InputError, ModelCardError, ResorbError
from resorb.scoring.batch import ChunkJob, ScoreSummary, _output_schema, score_chunk
from resorb.scoring.frame import (
    REJECTED,
    SCORED,
    UNUSED_REASON,
    USED_COLUMNS,
    check_columns,
    prepare_rows,
    unused_inputs,
)
from resorb.scoring.model import LoadedModel, load_model

SOURCE_FILE, SOURCE_ROW = "source_file", "source_row"
#: Spark master URLs resorb accepts (Spark's own forms; mesos was removed in Spark 4)
_MASTER = re.compile(r"local|local\[(\*|\d+)(,\s*\d+)?\]|local-cluster\[\d+,\s*\d+,\s*\d+\]"
                     r"|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*|yarn|k8s://\S+")
_MASTER_HELP = ("use local[*] (this machine), local[N], spark://HOST:PORT (a standalone "
                "cluster), yarn or k8s://https://HOST:PORT")


class SparkJobError(ResorbError):
    """A Spark job failed (the output has no ``_SUCCESS``)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide pyspark's notice about pandas 3 (it checks the version at every call)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                                FutureWarning)
        yield


# ----------------------------------------------------------------------------- the session


def check_master(master: str) -> str:
    """Refuse a master URL Spark cannot use, before starting a JVM.

    Raises
    ------
    InputError
        ``master`` is not one of Spark's master URL forms.
    """
    if not _MASTER.fullmatch(master.strip()):
        raise InputError(f"--spark-master {master!r} is not a Spark master URL; {_MASTER_HELP}")
    return master.strip()


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def get_session(master: str = "local[*]", app: str = "resorb") -> tuple[Any, bool]:
    """The active Spark session, or a new one at ``master``; and whether this call started it.

    Parameters
    ----------
    master : str
        Spark master URL (ignored when a session is active: it is reused and left running).
    app : str
        Application name shown by the cluster.

    Raises
    ------
    InputError
        pyspark or Java is absent, the master URL is malformed, or Spark cannot start.
    """
    try:
        with quiet():
            from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark needs pyspark: pip install 'resorb[spark]' "
                         "(and Java 17 or later)") from None
    master = check_master(master)  # even when a session is active: a typo is an error
    with quiet():
        active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    if _java() is None:
        raise InputError("--engine spark needs Java 17 or later, and none was found (no "
                         "`java` on PATH, JAVA_HOME unset or without bin/java); install a "
                         "JDK (e.g. apt install openjdk-17-jre-headless) or set JAVA_HOME")
    # executors must run an interpreter that has resorb and its pinned dependencies
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        with quiet():
            session = (SparkSession.builder.master(master).appName(app)
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                       .config("spark.sql.session.timeZone", "UTC")
                       .getOrCreate())
    except Exception as exc:  # the JVM's reason, in one line
        raise InputError(f"Spark did not start at --spark-master {master!r}: "
                         f"{_first_line(exc)}; {_MASTER_HELP}") from None
    # Spark's log quotes malformed records (cells may be identifiers): resorb reports failures
    session.sparkContext.setLogLevel("OFF")
    return session, True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ", "at ", "JVM stacktrace")):
            return line[:300]
    return type(exc).__name__


# ------------------------------------------------------------------------------- the input


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


# ------------------------------------------------------------------------------ shipping


@dataclass(frozen=True)
class _Shipment:
    """What executors receive once (a broadcast): the checked model bytes and the run's job."""

    token: str
    skops: bytes
    skops_sha256: str
    card: str
    name: str
    version: str
    source: str
    features: tuple[str, ...]
    job: ChunkJob  # with model=None: the estimator travels as bytes
    origin: str  # as SparkInput.origin
    names: tuple[str, ...]  # the input columns (they travel as c0, c1, ..: see plan_scoring)


#: per Python worker: the job of each broadcast already loaded
_LOADED: dict[str, ChunkJob] = {}


def _ship(model: LoadedModel, job: ChunkJob, origin: str,
          names: tuple[str, ...]) -> _Shipment:
    """The model as the bytes ``load_model`` checked, checked again after reading them."""
    from resorb.runs import ARTIFACTS

    data = (model.folder / ARTIFACTS.model_skops).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.metadata.skops_sha256:
        raise ModelCardError(f"{model.source}: {ARTIFACTS.model_skops} changed since it was "
                             f"loaded (sha256 {digest[:12]}... instead of "
                             f"{model.metadata.skops_sha256[:12]}...); export the model again",
                             path=str(model.folder / ARTIFACTS.model_skops))
    return _Shipment(token=uuid.uuid4().hex, skops=data, skops_sha256=digest,
                     card=model.metadata.to_json(), name=model.name, version=model.version,
                     source=model.source, features=model.features,
                     job=replace(job, model=None), origin=origin, names=names)


def _unpack(shipment: _Shipment) -> ChunkJob:
    """The job with its model, loaded once per Python worker through the allow-list."""
    job = _LOADED.get(shipment.token)
    if job is not None:
        return job
    from resorb.card import ModelCard
    from resorb.serialization import load_estimator_bytes

    if hashlib.sha256(shipment.skops).hexdigest() != shipment.skops_sha256:
        raise ModelCardError("the model bytes received differ from those checked by the "
                             "driver", path=shipment.source)
    card = ModelCard.from_json(shipment.card, source=f"{shipment.source}: resorb.json")
    model = LoadedModel(estimator=load_estimator_bytes(shipment.skops), metadata=card,
                        name=shipment.name, version=shipment.version, source=shipment.source,
                        folder=Path(), features=shipment.features)
    job = replace(shipment.job, model=model)
    _LOADED.clear()  # one run's model at a time per worker
    _LOADED[shipment.token] = job
    return job


def _score_partition(batches: Iterator[pa.RecordBatch], handle: Any) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: each batch of input rows through :func:`score_chunk`, origin kept."""
    shipment: _Shipment = handle.value
    job = _unpack(shipment)
    counters: dict[str, int] = {}
    for batch in batches:
        if batch.num_rows == 0:
            continue
        table = pa.Table.from_batches([batch])
        table = table.rename_columns([*shipment.names, *table.column_names[len(shipment.names):]])
        if shipment.origin == "none":
            yield from score_chunk(table, job).to_batches()
            continue
        files = table.column(SOURCE_FILE)
        if shipment.origin == "row":
            rows = table.column(SOURCE_ROW)
            table = table.drop_columns([SOURCE_FILE, SOURCE_ROW])
        else:
            rows = pa.chunked_array([_number_rows(files, counters)])
            table = table.drop_columns([SOURCE_FILE])
        out = score_chunk(table, job)
        out = out.append_column(SOURCE_FILE, files).append_column(SOURCE_ROW, rows)
        yield from out.to_batches()


def _number_rows(files: pa.ChunkedArray, counters: dict[str, int]) -> pa.Array:
    """1-based row number within its file of each row (files arrive whole and in order)."""
    codes, uniques = pd.factorize(files.to_numpy(zero_copy_only=False))
    within = pd.Series(codes).groupby(codes).cumcount().to_numpy() + 1
    start = np.array([counters.get(u, 0) for u in uniques], dtype=np.int64)
    numbers = within + start[codes]
    for i, u in enumerate(uniques):
        counters[u] = int(start[i] + (codes == i).sum())
    return pa.array(numbers, type=pa.int64())


# ------------------------------------------------------------------------------- scoring


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
    mapping : path-like or Mapping, optional
    horizon_days, explain_k : int, optional
        Override ``params``.
    params : ScoringParams, optional
    file_name : str
        How messages name the input.

    Returns
    -------
    Plan
        ``scored`` has the local engine's output columns, then ``source_file`` and
        ``source_row``.

    Raises
    ------
    InputError, DataValidationError, ConfigError
        As the local engine: bad options, a required column absent or given twice, an
        invalid mapping, ``explain_k`` above the model's number of variables.
    """
    from pyspark.sql.pandas.types import from_arrow_type, to_arrow_type
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from resorb.intake import ChunkMapping, Mapping, load_mapping

    params = params or ScoringParams()
    horizon = params.horizon_days if horizon_days is None else int(horizon_days)
    k = params.explain if explain_k is None else int(explain_k)
    if k < 0 or not 1 <= horizon <= 3650:
        raise InputError(f"reasons per row must be >= 0 (got {k}), horizon 1-3650 days "
                         f"(got {horizon})")
    chunk_mapping = None
    if mapping is None:
        header = source.names
    else:
        loaded_mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        chunk_mapping = ChunkMapping(loaded_mapping, source.names, file_name)
        header = chunk_mapping.columns
    ignored = check_columns(header)
    if k > len(model.features):
        raise InputError(f"--explain {k}: the model has {len(model.features)} input "
                         f"variables; ask for at most that many reasons")
    read = (chunk_mapping.sources if chunk_mapping is not None
            else [n for n in dict.fromkeys(source.names) if n in USED_COLUMNS])
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
    shipment = _ship(model, job, origin, tuple(read))
    handle = frame.sparkSession.sparkContext.broadcast(shipment)
    # pyspark's mapInArrow looks columns up by name, which fails on a name with a dot
    # ("Canal occ."): they travel as c0, c1, .. and get their names back in the worker
    frame = frame.toDF(*[f"c{i}" for i in range(len(read))], *extra)
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
        raw = rows.to_pandas()
        rejected = None
        if mapping is not None:
            raw, keep = mapping.apply(raw)
            if keep is not None:
                rejected = pd.Series(np.where(keep, "", "filtered"), index=raw.index,
                                     dtype=object)
        return prepare_rows(raw, model, horizon, rejected)[3]

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


# ------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Counts:
    """Rows of a written output, counted by Spark."""

    rows: int
    scored: int
    rejected: int
    unused_given: int
    rejections: tuple[tuple[str, int], ...]


def write_output(scored: Any, output: str | os.PathLike[str]) -> Counts:
    """Write the scored DataFrame as a Parquet folder and count its rows with Spark.

    Raises
    ------
    SparkJobError
        The job failed: the folder has no ``_SUCCESS`` (Spark's reason in the message).
    """
    from pyspark.sql import functions as sf

    target = str(output)
    try:
        with quiet():
            scored.write.mode("overwrite").parquet(target)
    except Exception as exc:
        raise SparkJobError(f"the Spark job failed, {target} is incomplete (no _SUCCESS): "
                            f"{_job_reason(exc)}") from None
    with quiet():
        written = scored.sparkSession.read.parquet(target)
        status = sf.col("status")
        total = written.agg(
            sf.count(sf.lit(1)).alias("rows"),
            sf.sum((status == SCORED).cast("long")).alias("scored"),
            sf.sum((status == REJECTED).cast("long")).alias("rejected"),
            sf.sum(sf.col("out_of_range").contains(f"({UNUSED_REASON})").cast("long"))
            .alias("unused")).first()
        # ties in the order the local engine meets them: by first file and row
        origin = [c for c in (SOURCE_FILE, SOURCE_ROW) if c in written.columns]
        first = sf.min(sf.struct(*origin)) if origin else sf.lit(0)
        reasons = (written.where(status == REJECTED)
                   .select(*origin, sf.explode(sf.split("reason", "; ")).alias("why"))
                   .groupBy("why").agg(sf.count(sf.lit(1)).alias("count"),
                                       first.alias("first"))
                   .orderBy(sf.desc("count"), "first", "why").limit(5).collect())
    return Counts(int(total["rows"]), int(total["scored"] or 0), int(total["rejected"] or 0),
                  int(total["unused"] or 0), tuple((r["why"], int(r["count"])) for r in reasons))


def _job_reason(exc: BaseException) -> str:
    """The root cause of a failed job in one line, never quoting a cell of the input."""
    text = str(exc)
    where = re.search(r"while reading file (\S+?)\.?\s", text)
    if "MALFORMED" in text:  # Spark quotes the record: say what is wrong instead
        return (f"{'file ' + where.group(1) + ': ' if where else ''}a row does not have as "
                f"many cells as the header has columns; is a separator missing or one too "
                f"many?")
    found = re.findall(r"^\s*(?:Caused by: )?(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$",
                       text, re.M)
    if found:
        name, message = found[-1]
        return f"{name}: {message.strip()[:300]}"
    return _first_line(exc)


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


def _mapped_header(names: list[str], mapping: Any | None, file_name: str) -> list[str]:
    """The canonical header the local engine sees (after ``mapping``), from Spark's names."""
    if mapping is None:
        return list(names)
    from resorb.intake import ChunkMapping, Mapping, load_mapping

    loaded = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    return list(ChunkMapping(loaded, names, file_name).columns)


def score_path(input: str | os.PathLike[str], output: str | os.PathLike[str],
               model: LoadedModel | str | os.PathLike[str] | None = None, *,
               mapping: Any | None = None, horizon_days: int | None = None,
               explain_k: int | None = None, master: str = "local[*]",
               params: ScoringParams | None = None) -> ScoreSummary:
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

    Returns
    -------
    ScoreSummary
        Counted by Spark; ``output`` is the folder.

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
    if isinstance(model, LoadedModel):  # a bad model folder fails before Spark starts
        loaded = model
    elif model is not None:
        loaded = load_model(model)
    spark, owned = get_session(master, "resorb-score")
    try:
        source = read_input(spark, source_name)
        if model is None:  # the default model that fits the header, as the local engine
            loaded = load_model(None, columns=_mapped_header(source.names, mapping,
                                                             Path(source_name).name))
        try:
            plan = plan_scoring(source, loaded, mapping=mapping, horizon_days=horizon_days,
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
        counts = write_output(plan.scored, target)
    finally:
        if owned:
            spark.stop()
    if counts.rows != rows_in:
        raise SparkJobError(f"{target}: {counts.rows:,} rows written for {rows_in:,} rows in; "
                            f"the output is wrong, please report this")
    return ScoreSummary(rows_in=rows_in, scored=counts.scored, rejected=counts.rejected,
                        output=Path(target), model=loaded.describe(),
                        ignored_columns=plan.ignored_columns, rejections=counts.rejections,
                        seconds=time.perf_counter() - start, unused_given=counts.unused_given,
                        unused_predictors=unused_inputs(loaded))
