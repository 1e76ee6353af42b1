"""``--engine spark``: the probabilities come from a Spark UDF and equal the local engine's.

Needs pyspark and Java; CI installs the ``spark`` extra, so a missing pyspark fails this
module at import instead of skipping it.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from resorb.scoring import load_model, output_columns, score_file
from tests.test_scoring import IDS, candidates, make_registry, read, written

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark():
    """A local Spark session with one worker (the model loads once), stopped at the end."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[1]").appName("resorb-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    yield session
    session.stop()
    mp.undo()


def test_spark_engine_gives_the_local_probabilities(tmp_path_factory, spark):
    registry = make_registry(tmp_path_factory.mktemp("spark-registry"))
    model = load_model(registry.exported)
    folder = tmp_path_factory.mktemp("spark-scoring")
    frame = candidates(60, vas_leg={5: "75"}, followup_days={9: None})
    src = written(frame, folder / "in.parquet")
    local = score_file(src, folder / "local.parquet", model, explain_k=2, chunk_rows=25)
    remote = score_file(src, folder / "spark.parquet", model, explain_k=2, chunk_rows=25,
                        engine="spark", spark_master="local[1]")
    assert (remote.rows_in, remote.scored, remote.rejected) == (60, 59, 1)
    assert (local.scored, local.rejected) == (remote.scored, remote.rejected)
    by_local, by_spark = read(folder / "local.parquet"), read(folder / "spark.parquet")
    assert list(by_spark.columns) == list(by_local.columns) == output_columns(IDS, 2)
    np.testing.assert_allclose(by_spark["p_resorption"], by_local["p_resorption"], rtol=0,
                               atol=1e-9, equal_nan=True)
    pd.testing.assert_frame_equal(by_spark.drop(columns="p_resorption"),
                                  by_local.drop(columns="p_resorption"))
    assert SparkSession.getActiveSession() is spark  # an existing session is left running
    assert os.environ["PYSPARK_PYTHON"] == sys.executable
