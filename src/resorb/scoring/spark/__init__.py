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
apart. The one cross-row rule (one row per patient and level) runs before it, as a key
pass, a ``groupBy`` and a shuffle join on the executors (:mod:`.episodes`).

Spark writes the result as a Parquet folder through its output committer: a task's
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

Modules: :mod:`.session` (the session, master URLs, job errors), :mod:`.read` (the input),
:mod:`.episodes` (the repeated-episode pass), :mod:`.worker` (what executors receive and
run), :mod:`.job` (planning and running on the driver), :mod:`.counts` (writing and
counting the output).
"""

from resorb.scoring.spark.counts import Counts, write_output, write_parquet
from resorb.scoring.spark.job import (
    Plan,
    _background,
    _check_output,
    plan_scoring,
    score_path,
)
from resorb.scoring.spark.read import (
    SOURCE_FILE,
    SOURCE_ROW,
    SparkInput,
    _header,
    input_format,
    read_input,
)
from resorb.scoring.spark.session import (
    SparkJobError,
    _first_line,
    _java,
    _job_reason,
    check_master,
    get_session,
    quiet,
)
from resorb.scoring.spark.worker import (
    _LOADED,
    _number_rows,
    _score_partition,
    _ship,
    _Shipment,
    _unpack,
)

__all__ = [
    "SOURCE_FILE",
    "SOURCE_ROW",
    "_LOADED",
    "Counts",
    "Plan",
    "SparkInput",
    "SparkJobError",
    "_Shipment",
    "_background",
    "_check_output",
    "_first_line",
    "_header",
    "_java",
    "_job_reason",
    "_number_rows",
    "_score_partition",
    "_ship",
    "_unpack",
    "check_master",
    "get_session",
    "input_format",
    "plan_scoring",
    "quiet",
    "read_input",
    "score_path",
    "write_output",
    "write_parquet",
]
