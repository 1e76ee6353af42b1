"""The repeated-episode rule on Spark: a key pass on the executors, a shuffle, no driver.

The local engine rejects every row whose (patient_id, level) another kept row of the file
repeats (:meth:`resorb.scoring.batch._Input.repeated_episodes`: a first pass hashes each
row's canonical pair, the hashes seen more than once are kept, and each chunk rejects the
rows whose hash is among them). A Spark partition cannot see the others, so the engine:

1. **keys** (executors, ``mapInArrow``): each row's key, by the local engine's own code
   (:func:`resorb.scoring.columns.row_episode_keys`: the mapping reduced to its filter and the
   two identifier rules, :func:`resorb.intake.check.episode_keys`' canonical cells and
   64-bit hash), reading only the columns :func:`resorb.scoring.columns.episode_input` names;
   rows without a key (a cell missing or invalid, left out by the filter) are dropped here;
2. **repeats**: ``groupBy(key).count() > 1`` on the executors, hash-partitioned by key;
3. **flags**: the rows, each with its key, hash-partitioned the same way, left-joined to the
   repeats with a shuffle hash join (the small side, the repeats, is the hash table of each
   task; never a broadcast, which would collect the keys on the driver). A row without a
   key travels under a placeholder spread over the partitions (its task and position), so
   such rows do not all land in one task, and never matches (the join also asks for a key);
4. the scoring body receives a boolean column and rejects the flagged rows through
   :func:`resorb.scoring.batch.score_chunk` (``repeated=``), with the local engine's reason
   and status.

No row, key or count reaches the driver. The join keeps the input's number of partitions
(``repartition(n, key)``, which adaptive execution does not coalesce), so the scoring tasks
stay as many as without the pass. CSV rows are numbered in step 3, before the shuffle,
while each task still reads whole files in order (:mod:`resorb.scoring.spark.worker`).
The cost of the pass is measured in docs/scoring.md (benchmarks/bench_spark.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from resorb.intake import ChunkMapping
from resorb.scoring.columns import InputColumns, row_episode_keys
from resorb.scoring.spark.read import SOURCE_FILE, SOURCE_ROW
from resorb.scoring.spark.session import quiet
from resorb.scoring.spark.worker import _number_rows

#: columns of the pass (dropped before the output): a row's key (or placeholder), whether
#: it has a key, and whether another row repeats its episode
EPISODE, KEYED, REPEATED = "_resorb_episode", "_resorb_keyed", "_resorb_repeated"


@dataclass(frozen=True)
class _Keying:
    """What the key pass's executors receive: the reduced mapping and where its columns are."""

    mapping: ChunkMapping | None
    names: tuple[str, ...]  # the columns row_episode_keys reads, in order
    positions: tuple[int, ...]  # their positions among the batch's columns


def _keys(batch: pa.RecordBatch, keying: _Keying) -> np.ndarray:
    """Each row's episode key (uint64; 0: none), by the local engine's code."""
    table = pa.Table.from_batches([batch]).select(list(keying.positions))
    keys = row_episode_keys(table.rename_columns(list(keying.names)).to_pandas(),
                            keying.mapping)
    return np.zeros(batch.num_rows, dtype=np.uint64) if keys is None else keys


def _key_partition(batches: Iterator[pa.RecordBatch], handle: Any) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of step 1: the keys of the rows that have one, as int64."""
    keying: _Keying = handle.value
    for batch in batches:
        keys = _keys(batch, keying)
        kept = keys[keys != 0]
        if kept.size:
            yield pa.RecordBatch.from_arrays([pa.array(kept.view(np.int64))], [EPISODE])


def _keyed_rows(batches: Iterator[pa.RecordBatch], handle: Any,
                number: bool) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of step 3: the rows, (CSV) their row numbers, key or placeholder."""
    from pyspark import TaskContext

    keying: _Keying = handle.value
    context = TaskContext.get()
    task = context.partitionId() if context is not None else 0
    seen = 0
    counters: dict[str, int] = {}
    for batch in batches:
        if batch.num_rows == 0:
            continue
        keys = _keys(batch, keying)
        has = keys != 0
        # a keyless row's placeholder: its task and position (deterministic on a retry)
        spread = (np.int64(task) << np.int64(40)) + seen + np.arange(batch.num_rows,
                                                                      dtype=np.int64)
        seen += batch.num_rows
        episode = np.where(has, keys.view(np.int64), spread)
        arrays, names = list(batch.columns), list(batch.schema.names)
        if number:
            files = pa.chunked_array([batch.column(names.index(SOURCE_FILE))])
            arrays.append(_number_rows(files, counters))
            names.append(SOURCE_ROW)
        arrays += [pa.array(episode, type=pa.int64()), pa.array(has)]
        names += [EPISODE, KEYED]
        yield pa.RecordBatch.from_arrays(arrays, names)


def flag_repeats(frame: Any, keyed: InputColumns, read: list[str], origin: str) -> Any:
    """``frame`` with a boolean column :data:`REPEATED`: rows repeating an episode.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        The input's columns ``read`` travelling as ``c0, c1, ..``, then ``source_file``
        (origin ``file``) or ``source_file``, ``source_row`` (``row``) or neither (``none``).
    keyed : InputColumns
        :func:`resorb.scoring.columns.episode_input` of the run; its ``read`` are among
        ``read``.
    read : list of str
        The names of ``c0, c1, ..``.
    origin : {"none", "file", "row"}

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy: ``c0, c1, ..``, then ``source_file``, ``source_row`` (numbered here for CSV)
        unless origin is ``none``, then :data:`REPEATED` (never null). Rows come out
        hash-partitioned by episode, as many partitions as ``frame`` has.
    """
    from pyspark.sql import functions as sf
    from pyspark.sql.types import BooleanType, LongType, StructField, StructType

    spark = frame.sparkSession
    partitions = max(1, frame.rdd.getNumPartitions())  # plans the scan; reads no row
    positions = tuple(read.index(c) for c in keyed.read)
    names = tuple(keyed.read)
    alone = spark.sparkContext.broadcast(_Keying(keyed.mapping, names,
                                                 tuple(range(len(names)))))
    within = spark.sparkContext.broadcast(_Keying(keyed.mapping, names, positions))

    def keys_body(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _key_partition(batches, alone)

    number = origin == "file"

    def rows_body(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _keyed_rows(batches, within, number)

    key = sf.col(EPISODE)
    with quiet():
        keys = frame.select(*[f"c{i}" for i in positions]).mapInArrow(
            keys_body, StructType([StructField(EPISODE, LongType(), False)]))
        repeats = (keys.repartition(partitions, EPISODE).groupBy(EPISODE)
                   .agg(sf.count(sf.lit(1)).alias("n")).where(sf.col("n") > 1)
                   .select(key.alias("repeat_key"), sf.lit(True).alias(REPEATED)))
        fields = list(frame.schema.fields)
        if number:
            fields.append(StructField(SOURCE_ROW, LongType(), False))
        fields += [StructField(EPISODE, LongType(), False),
                   StructField(KEYED, BooleanType(), False)]
        rows = frame.mapInArrow(rows_body, StructType(fields)).repartition(partitions,
                                                                            EPISODE)
        joined = rows.join(repeats.hint("shuffle_hash"),
                           (key == sf.col("repeat_key")) & sf.col(KEYED), "left")
        kept = [c for c in rows.columns if c not in (EPISODE, KEYED)]
        return joined.select(*kept, sf.coalesce(sf.col(REPEATED), sf.lit(False))
                             .alias(REPEATED))
