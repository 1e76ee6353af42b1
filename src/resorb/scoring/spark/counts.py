"""Writing the scored DataFrame through Spark's committer and counting what was written."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from resorb.intake.found import DETAIL_PATTERN
from resorb.scoring.frame import REJECTED, SCORED, UNUSED_REASON
from resorb.scoring.spark.read import SOURCE_FILE, SOURCE_ROW
from resorb.scoring.spark.session import SparkJobError, _job_reason, quiet


@dataclass(frozen=True)
class Counts:
    """Rows of a written output, counted by Spark."""

    rows: int
    scored: int
    rejected: int
    unused_given: int
    rejections: tuple[tuple[str, int], ...]


def write_parquet(frame: Any, target: str) -> None:
    """Write a DataFrame as a Parquet folder through Spark's output committer.

    Both Spark writers (scoring, :func:`write_output`; cohorts,
    :func:`resorb.spark.write_cohort`) go through here, so a failed job reads the same.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    target : str
        Folder or URL, replaced if it exists (``_SUCCESS`` appears once the job commits).

    Raises
    ------
    SparkJobError
        The job failed: the folder has no ``_SUCCESS`` (Spark's reason in the message,
        never a cell of the input).
    """
    try:
        with quiet():
            frame.write.mode("overwrite").parquet(target)
    except Exception as exc:
        raise SparkJobError(f"the Spark job failed, {target} is incomplete (no _SUCCESS): "
                            f"{_job_reason(exc)}") from None


def write_output(scored: Any, output: str | os.PathLike[str]) -> Counts:
    """Write the scored DataFrame as a Parquet folder and count its rows with Spark.

    Raises
    ------
    SparkJobError
        The job failed: the folder has no ``_SUCCESS`` (Spark's reason in the message).
    """
    from pyspark.sql import functions as sf

    target = str(output)
    write_parquet(scored, target)
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
                   .withColumn("why", sf.regexp_replace("why", DETAIL_PATTERN, ""))
                   .groupBy("why").agg(sf.count(sf.lit(1)).alias("count"),
                                       first.alias("first"))
                   .orderBy(sf.desc("count"), "first", "why").limit(5).collect())
    return Counts(int(total["rows"]), int(total["scored"] or 0), int(total["rejected"] or 0),
                  int(total["unused"] or 0), tuple((r["why"], int(r["count"])) for r in reasons))

