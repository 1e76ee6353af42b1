"""resorb on a Spark cluster, for notebooks: score a DataFrame, generate a cohort at scale.

- :func:`score`: a Spark DataFrame of candidates in, the scored DataFrame out (lazy; the
  executors do the work when it is written or counted), through the same per-chunk function
  as ``resorb score`` (:func:`resorb.scoring.batch.score_chunk`), the one-row-per-episode
  rule included. The model is shipped to each executor once as checked skops bytes
  (:mod:`resorb.scoring.spark`).
- :func:`read`: a file, folder or glob read by Spark with each row's ``source_file`` and
  ``source_row`` (Parquet), ready for :func:`score`.
- :func:`make_cohort`: a synthetic cohort generated on executors, one partition per task,
  with per-partition seeds spawned from one seed (same seed and partitions, same bytes).

Needs ``pip install 'resorb[spark]'`` and Java 17+. ``resorb score --engine spark`` and
``resorb cohort generate --engine spark`` call these.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from resorb.config import ScoringParams
from resorb.errors import ConfigError, InputError
from resorb.scoring.model import LoadedModel, load_model
from resorb.scoring.spark import (
    SOURCE_FILE,
    SOURCE_ROW,
    SparkInput,
    get_session,
    plan_scoring,
    quiet,
    read_input,
)

__all__ = ["SOURCE_FILE", "SOURCE_ROW", "get_session", "make_cohort", "partition_seeds",
           "read", "score"]


def read(spark: Any, path: str | os.PathLike[str]) -> Any:
    """A Parquet file, folder of part files or glob as a DataFrame with each row's origin.

    Parameters
    ----------
    spark : SparkSession
    path : str or path-like
        On any file system Spark reads.

    Returns
    -------
    pyspark.sql.DataFrame
        The file's columns (names stripped of blanks), then ``source_file`` (URI) and
        ``source_row`` (1-based row within that file), which :func:`score` passes through.

    Raises
    ------
    InputError
        Not Parquet (CSV rows are numbered while scoring: use ``resorb score --engine
        spark``), unreadable, or no such file.
    """
    source = read_input(spark, path)
    if source.format != "parquet":
        raise InputError(f"{path}: resorb.spark.read numbers the rows of Parquet files; for "
                         f"CSV use `resorb score --engine spark` (or spark.read.csv and "
                         f"score without row numbers)")
    return source.frame


def score(df: Any, model: LoadedModel | str | os.PathLike[str] | None = None, *,
          explain: int | None = None, horizon_days: int | None = None,
          mapping: Any | None = None, params: ScoringParams | None = None) -> Any:
    """Score a Spark DataFrame of follow-up candidates on the executors.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Candidates in the data dictionary's column names (text or typed columns), or in a
        mapping's source names with ``mapping``. Columns ``source_file`` and ``source_row``
        (from :func:`read`), when both present, are passed through.
    model : LoadedModel, str or path-like, optional
        A loaded model, a registry URI or an exported folder (default: the champion, or the
        reference predictor); loaded and checked on the driver.
    explain : int, optional
        Reasons per scored row (``reason_1..``); default ``params.explain``.
    horizon_days : int, optional
        Horizon for rows without ``followup_days``, in days (1-3650).
    mapping : path-like or Mapping, optional
        Column mapping applied on the executors; rows its filter leaves out come out rejected.
    params : ScoringParams, optional

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; one row per input row with the columns of ``resorb score`` (identifiers,
        ``p_resorption``, ``risk_band``, ``eligible_for_waiting``, ``eligibility_reason``,
        ``reason_1..k``, ``out_of_range``, ``model_name``, ``model_version``,
        ``horizon_days``, ``status``, ``reason``), then ``source_file``, ``source_row``
        when given. In no particular order (restore it with ``source_file``,
        ``source_row`` or an id column).

    Notes
    -----
    ``df`` is one input, as a file is for ``resorb score``: rows repeating another row's
    ``patient_id`` and ``level`` (after ``mapping``) are rejected with the local engine's
    reason, by a key pass and a shuffle on the executors (:mod:`resorb.scoring.spark.episodes`;
    nothing is collected on the driver). The pass runs each time the result is computed:
    write it once rather than counting it first.

    Raises
    ------
    DataValidationError
        A required column is absent or given twice (checked on the driver, from the schema).
    InputError, ConfigError
        Bad options or mapping; ``explain`` above the model's number of variables.
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    names = [str(c) for c in df.columns]
    stripped = [n.strip() for n in names]
    if stripped != names:
        df = df.toDF(*stripped)
    if SOURCE_FILE in stripped and SOURCE_ROW not in stripped:
        df = df.drop(SOURCE_FILE)  # rows numbered only by resorb's own CSV reading
    header = [n for n in stripped if n not in (SOURCE_FILE, SOURCE_ROW)]
    source = SparkInput(df, "parquet", header)
    plan = plan_scoring(source, loaded, mapping=mapping, horizon_days=horizon_days,
                        explain_k=explain, params=params, file_name="the DataFrame")
    return plan.scored


# ----------------------------------------------------------------------------- cohorts


def partition_seeds(seed: int, partitions: int) -> list[int]:
    """One seed per partition, spawned from ``seed`` (:class:`numpy.random.SeedSequence`).

    Returns
    -------
    list of int, length ``partitions``
        Independent streams; the same ``seed`` and ``partitions`` give the same list.
    """
    children = np.random.SeedSequence(seed).spawn(partitions)
    return [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]


def _sizes(n: int, partitions: int) -> list[int]:
    base, extra = divmod(n, partitions)
    return [base + (i < extra) for i in range(partitions)]


def make_cohort(spark: Any, n: int, seed: int, *, partitions: int | None = None,
                preset: str = "literature", params: Any | None = None) -> Any:
    """A synthetic cohort of ``n`` rows generated on the executors, one task per partition.

    Partition ``i`` draws ``resorb.cohort.make_cohort(n_i, seeds[i])`` with ``seeds =
    partition_seeds(seed, partitions)`` and ``n_i`` as even as possible; patient ids are
    numbered across partitions (``SYN-0000001`` ..), so they stay unique.

    Parameters
    ----------
    spark : SparkSession
    n : int
        Rows (>= 1).
    seed : int
        Root seed (>= 0).
    partitions : int, optional
        Default: one per million rows, at least Spark's default parallelism.
    preset : str
        Cohort preset (ignored when ``params`` is given).
    params : CohortParams, optional

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; the columns of :func:`resorb.cohort.make_cohort`; partition ``i`` holds rows
        ``sum(n_0..n_{i-1}) + 1 ..`` in order.

    Raises
    ------
    ConfigError
        ``n < 1``, ``seed < 0``, ``partitions < 1`` or more partitions than rows.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    from resorb.cohort import load_cohort_params
    from resorb.cohort import make_cohort as draw

    if n < 1 or seed < 0:
        raise ConfigError(f"the cohort size must be >= 1 and the seed >= 0; got n={n}, "
                          f"seed={seed}")
    if partitions is None:
        partitions = max(spark.sparkContext.defaultParallelism, -(-n // 1_000_000))
        partitions = min(partitions, n)
    if not 1 <= partitions <= n:
        raise ConfigError(f"partitions must be 1-{n:,} (the number of rows); got {partitions}")
    cohort = load_cohort_params(preset) if params is None else params
    sample = _arrow(draw(2, 0, params=cohort), 0, n)
    plan = list(zip(partition_seeds(seed, partitions), _sizes(n, partitions), strict=True))
    offsets = np.concatenate([[0], np.cumsum([s for _, s in plan])[:-1]]).tolist()

    def body(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for i in batch.column(0).to_pylist():
                part_seed, size = plan[i]
                frame = draw(size, part_seed, params=cohort)
                yield from _arrow(frame, offsets[i], n).to_batches(max_chunksize=100_000)

    with quiet():
        ids = spark.range(0, partitions, numPartitions=partitions)
        return ids.mapInArrow(body, from_arrow_schema(sample.schema))


def _arrow(frame: Any, offset: int, n: int) -> pa.Table:
    """A generated partition as Arrow: timestamps in microseconds, ids numbered globally."""
    width = max(7, len(str(n)))
    ids = [f"SYN-{i:0{width}d}" for i in range(offset + 1, offset + len(frame) + 1)]
    table = pa.Table.from_pandas(frame.assign(patient_id=ids), preserve_index=False)
    fields = [pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type)
              else pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f
              for f in table.schema]
    return table.cast(pa.schema(fields))


@dataclass(frozen=True)
class CohortWritten:
    """What :func:`write_cohort` wrote: rows and partitions."""

    rows: int
    partitions: int


def write_cohort(out: str | os.PathLike[str], n: int, seed: int, *,
                 partitions: int | None = None, preset: str = "literature",
                 params: Any | None = None, master: str = "local[*]") -> CohortWritten:
    """Generate a cohort on Spark (:func:`make_cohort`) into a Parquet folder.

    Part ``i`` of the folder holds partition ``i``; the same seed and partitions give the
    same bytes in each part (file names carry Spark's job id).

    Raises
    ------
    InputError
        ``out`` is a file or a folder of other files; Spark cannot start.
    SparkJobError
        The job failed (no ``_SUCCESS``).
    """
    from resorb.scoring.spark import _check_output, write_parquet

    target = _check_output(str(out), "")
    spark, owned = get_session(master, "resorb-cohort")
    try:
        frame = make_cohort(spark, n, seed, partitions=partitions, preset=preset,
                            params=params)
        parts = frame.rdd.getNumPartitions()
        write_parquet(frame, target)
    finally:
        if owned:
            spark.stop()
    return CohortWritten(n, parts)
