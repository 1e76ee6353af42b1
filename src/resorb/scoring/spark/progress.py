"""Progress of a Spark scoring job on the driver, from Spark's task counts (no row read).

The driver holds no rows, so it cannot count them as the local engine does; it polls
``SparkContext.statusTracker()`` for the job group of the write and reports the share of
finished tasks as rows (``rows_in`` x finished / total tasks): exact at the start and the end,
and as fine as the input's partitions in between.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

Progress = Callable[[int, int | None], None]


def task_share(tracker: Any, group: str) -> tuple[int, int]:
    """(finished, total) tasks of the stages of the jobs in ``group`` (0, 0 before any)."""
    done = total = 0
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        for stage_id in (job.stageIds if job is not None else ()):
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                done += stage.numCompletedTasks
                total += stage.numTasks
    return done, total


@contextlib.contextmanager
def watch(spark: Any, rows: int, progress: Progress | None,
          every: float = 0.5) -> Iterator[None]:
    """Run the block's Spark jobs in a job group and report their progress every ``every`` s.

    Parameters
    ----------
    spark : SparkSession
    rows : int
        Rows the jobs process (``rows_in``).
    progress : callable (rows done, rows in) or None
        As the local engine's hook (:func:`resorb.scoring.score_file`); None: nothing runs.
    every : float
        Seconds between two polls.
    """
    if progress is None:
        yield
        return
    context = spark.sparkContext
    group = f"resorb-score-{uuid.uuid4().hex[:12]}"
    context.setJobGroup(group, "resorb score", interruptOnCancel=False)
    tracker, stop = context.statusTracker(), threading.Event()

    def poll() -> None:
        best = 0  # later jobs (the counts) add tasks: the share may fall, the bar must not
        while not stop.wait(every):
            with contextlib.suppress(Exception):  # the JVM may be stopping: no bar then
                done, total = task_share(tracker, group)
                if total and rows * done // total > best:
                    best = min(rows, rows * done // total)
                    progress(best, rows)

    progress(0, rows)
    thread = threading.Thread(target=poll, name="resorb-spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()  # before the last report: the poller must not report after it
        for key in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
            context.setLocalProperty(key, None)  # later jobs of a shared session: no group
    progress(rows, rows)  # reached only when the jobs succeeded
