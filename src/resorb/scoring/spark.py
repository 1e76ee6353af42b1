"""Probabilities from a Spark UDF: the MLflow model scored on Spark executors.

Validation, red flags, bands and explanations stay on the driver (the same code as the local
engine); only the model runs on Spark, through ``mlflow.pyfunc.spark_udf`` on the model's
MLflow folder, so a cluster's executors share the work. Needs the optional extra
``pip install 'resorb[spark]'`` and Java.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from resorb.errors import InputError
from resorb.scoring.model import LoadedModel

_ROW = "_resorb_row"


def _pyspark_major() -> int:
    try:
        from importlib.metadata import version

        return int(version("pyspark").split(".")[0])
    except Exception:  # not installed: SparkPredictor says so
        return 0


_PYSPARK_4 = _pyspark_major() >= 4


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide pyspark's notice about pandas 3 (it checks the version at every call)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                                FutureWarning)
        yield


class SparkPredictor:
    """``predict(X) -> P(resorption)`` computed by a Spark UDF of the model's MLflow folder.

    Parameters
    ----------
    model : LoadedModel
        Its ``folder`` must be an MLflow model folder (``MLmodel`` present), as exported
        models and downloaded registry models are.
    master : str
        Spark master URL, e.g. ``local[*]`` or ``spark://host:7077``. An active session is
        reused (and left running); otherwise one is started and stopped by :meth:`close`.
    """

    def __init__(self, model: LoadedModel, master: str = "local[*]") -> None:
        if not (model.folder / "MLmodel").is_file():
            raise InputError(f"--engine spark needs an MLflow model folder (with MLmodel); "
                             f"{model.source} has none: export it with `resorb models export`")
        try:
            with _quiet():
                from pyspark.sql import SparkSession
        except ImportError:
            raise InputError("--engine spark needs pyspark: pip install 'resorb[spark]' "
                             "(and Java 17)") from None
        # executors must run the interpreter that has resorb and its pinned dependencies
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        active = SparkSession.getActiveSession()
        self._owned = active is None
        with _quiet():
            if active is None:
                active = (SparkSession.builder.master(master).appName("resorb-score")
                          .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                          .config("spark.ui.enabled", "false")
                          .config("spark.ui.showConsoleProgress", "false")
                          .getOrCreate())
                active.sparkContext.setLogLevel("ERROR")
            self.spark = active
            from resorb import tracking

            self._udf = tracking.spark_udf(self.spark, str(model.folder), result_type="double",
                                           env_manager="local")

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        """P(resorption) of each row of model input ``X``, in order; shape (n_rows,)."""
        from pyspark.sql.functions import col
        from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

        fields = [StructField(_ROW, LongType(), False)]
        columns = [pa.array(np.arange(len(X), dtype=np.int64))]
        for name in X.columns:
            if pd.api.types.is_numeric_dtype(X[name].dtype):
                fields.append(StructField(name, DoubleType(), True))
                columns.append(pa.array(X[name].to_numpy(dtype=float), type=pa.float64()))
            else:
                fields.append(StructField(name, StringType(), True))
                columns.append(pa.array(X[name], type=pa.string(), from_pandas=True))
        table = pa.table(columns, names=[_ROW, *X.columns])
        with _quiet():
            return self._predict(table, StructType(fields), [col(c) for c in X.columns])

    def _predict(self, table: pa.Table, schema: Any, inputs: list[Any]) -> np.ndarray:
        from pyspark.sql.functions import struct

        # Arrow in and out (pyspark >= 4): no pandas conversion on the driver
        if _PYSPARK_4:
            sdf = self.spark.createDataFrame(table, schema=schema)
        else:  # pragma: no cover - pyspark 3.5
            sdf = self.spark.createDataFrame(table.to_pandas(), schema=schema)
        scored = sdf.select(_ROW, self._udf(struct(*inputs)).alias("p"))
        if _PYSPARK_4:
            out = scored.toArrow()
            rows, p = out.column(_ROW).to_numpy(), out.column("p").to_numpy()
        else:  # pragma: no cover - pyspark 3.5
            frame = scored.toPandas()
            rows, p = frame[_ROW].to_numpy(), frame["p"].to_numpy()
        return np.asarray(p, dtype=float)[np.argsort(rows, kind="stable")]

    def close(self) -> None:
        """Stop the Spark session if this predictor started it."""
        if self._owned:
            self.spark.stop()
