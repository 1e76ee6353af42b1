"""``--engine spark`` on a real standalone cluster: a master and two workers on 127.0.0.1.

The cluster is started with the scripts shipped in pyspark (:mod:`tests.spark_cluster`) and
stopped at the end of the module, failure included. A multi-file input is scored by the two
workers' executors; the output equals the local engine's on the same rows, rejected rows
included, and each worker did part of the work.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from resorb.intake.check import REPEATED_EPISODE
from resorb.scoring import load_model, score_file
from resorb.scoring.spark import score_path
from tests.spark_cluster import standalone_cluster
from tests.test_scoring_spark import (
    REPEATS,
    assert_same_as_local,
    bad_rows,
    parts,
    spark_output,
    with_repeats,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster_session(tmp_path_factory):
    """A session on a fresh 2-worker standalone cluster (1 core, 512 MB executor each)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PYSPARK_PYTHON", sys.executable)
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster")) as cluster:
        session = (SparkSession.builder.master(cluster.url).appName("resorb-cluster-tests")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.executor.memory", "512m")
                   .config("spark.executor.cores", "1")
                   .config("spark.cores.max", "2")
                   .config("spark.sql.session.timeZone", "UTC")
                   .getOrCreate())
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()
            mp.undo()


def test_two_workers_score_a_multi_file_input_as_the_local_engine(cluster_session, tmp_path):
    """Rejected rows included: three break a cell rule, six repeat an episode (across
    files too), found by the key pass and its shuffle on the two executors."""
    model = load_model(Path(__file__).resolve().parents[1] / "models" / "reference")
    frame = with_repeats(bad_rows(300, seed=12))
    folder = parts(frame, tmp_path / "in", ".parquet", [100, 100, 100])
    local = score_file(folder.parent / "in-whole.parquet", tmp_path / "local.parquet", model,
                       explain_k=2)
    remote = score_path(folder, tmp_path / "out", model, explain_k=2)
    assert (remote.rows_in, remote.scored, remote.rejected) == (300, 290, 10)
    assert (local.scored, local.rejected, local.rejections, local.exit_code) == (
        remote.scored, remote.rejected, remote.rejections, remote.exit_code)
    by_spark = spark_output(tmp_path / "out")
    assert_same_as_local(by_spark, pd.read_parquet(tmp_path / "local.parquet"))
    repeated = by_spark.index[by_spark["reason"] == REPEATED_EPISODE] + 1
    assert list(repeated) == REPEATS
    executors = cluster_session.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
    assert executors == 3  # the driver and one executor on each worker
