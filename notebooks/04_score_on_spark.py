# %% [markdown]
# # 04 - Score on a Spark cluster: DataFrames in, DataFrames out
#
# `resorb.spark.score(df, model=..., explain=3)` scores a Spark DataFrame on the executors
# with the same per-chunk function as `resorb score`: cell rules, red flags, prediction,
# reasons, out-of-range flags and bands. The driver only checks the columns (from the schema)
# and ships the model once per executor as skops bytes checked against its card; no row comes
# back to the driver until you ask for one.
#
# This notebook runs on `local[2]` (set `RESORB_SPARK_MASTER=spark://host:7077` for a
# cluster). Needs `pip install 'resorb[spark]'` and Java 17+.

# %%
import os
import shutil
import sys
import tempfile
from pathlib import Path

import resorb.spark
from resorb.scoring import load_model

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this interpreter
N = int(os.environ.get("RESORB_NOTEBOOK_N", "2000"))
spark, _ = resorb.spark.get_session(os.environ.get("RESORB_SPARK_MASTER", "local[2]"),
                                    "resorb-notebook")
model = load_model(str(Path("..") / "models" / "reference"))
print(model.describe())

# %% [markdown]
# ## A synthetic cohort drawn on the executors
#
# Each partition draws its rows with its own seed spawned from one seed
# (`numpy.random.SeedSequence`), so the same seed and number of partitions give the same bytes.
# `resorb cohort generate --engine spark --n 100000000 --out cohort/` does the same from the
# command line.

# %%
work = Path(tempfile.mkdtemp(prefix="resorb-spark-notebook-"))
written = resorb.spark.write_cohort(work / "cohort", n=min(N, 5000), seed=7, partitions=2)
print(f"{written.rows:,} rows in {written.partitions} partitions")

# %% [markdown]
# ## Read the files with their origin and score them
#
# `resorb.spark.read` adds `source_file` and `source_row` (1-based row within the file), which
# `score` passes through, so the input order can be restored with an `orderBy` (the scored
# rows come back in no particular order). A row that breaks the data dictionary is kept as
# `rejected` with its reasons, and so is every row repeating another row's patient and level
# (one row per episode, as `resorb score`: a key pass and a shuffle on the executors, run
# each time `scored` is computed).

# %%
cohort = resorb.spark.read(spark, work / "cohort")
scored = resorb.spark.score(cohort, model, explain=3, horizon_days=180)
scored.select("patient_id", "p_resorption", "risk_band", "eligible_for_waiting",
              "reason_1", "status").show(5, truncate=False)

# %% [markdown]
# ## Every row is accounted for, on the cluster

# %%
scored.groupBy("status").count().show()
scored.groupBy("risk_band").count().orderBy("risk_band").show()

# %% [markdown]
# ## Write the result where it lives
#
# Spark's output committer writes `_SUCCESS` only when every task has committed; a retried
# task neither loses nor duplicates rows.

# %%
scored.write.mode("overwrite").parquet(str(work / "scored"))
print(sorted(p.name for p in (work / "scored").iterdir())[:3])

# %%
spark.stop()
shutil.rmtree(work, ignore_errors=True)
