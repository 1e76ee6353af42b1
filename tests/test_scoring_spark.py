"""``--engine spark`` on ``local[2,4]``: executors read, score and write; equal to the local engine.

Needs pyspark and Java; CI installs the ``spark`` extra, so a missing pyspark fails this
module at import instead of skipping it. One Spark session serves the module (``local[2,4]``:
two task slots, a failed task retried up to four times).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyspark import TaskContext, cloudpickle
from pyspark.sql import SparkSession
from typer.testing import CliRunner

import resorb.cohort
import resorb.spark
from resorb.cli import app
from resorb.config import ScoringParams
from resorb.intake.check import REPEATED_EPISODE
from resorb.models import CandidateSpec
from resorb.scoring import load_model, output_columns, score_file
from resorb.scoring.spark import SOURCE_FILE, SOURCE_ROW, score_path
from tests.test_scoring import IDS, RESORB, candidates, export_folder, train, written

pytestmark = [pytest.mark.spark, pytest.mark.slow]
ORIGIN = [SOURCE_FILE, SOURCE_ROW]
# the failure injected below is pickled by value: executors need not import the tests
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def spark():
    """The module's Spark session: two slots, tasks retried (``local[2,4]``)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2,4]").appName("resorb-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    mp.undo()


@pytest.fixture(scope="module")
def logistic(tmp_path_factory):
    """A linear model: its explanations need the file's first valid rows as reference."""
    model, _, card = train(CandidateSpec(kind="logistic", params={"C": 1.0, "spline_knots": 4}))
    return load_model(export_folder(model, card, tmp_path_factory.mktemp("logistic")))


@pytest.fixture(scope="module")
def reference():
    """The project's reference predictor (a tree model)."""
    return load_model(Path(__file__).resolve().parents[1] / "models" / "reference")


def bad_rows(n: int, seed: int) -> pd.DataFrame:
    """``n`` candidates, three of them breaking the dictionary, one with no horizon."""
    return candidates(n, seed=seed, vas_leg={5: "75"}, sex={17: "alien"},
                      cauda_equina={30: None}, followup_days={9: None})


def with_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (>= 210 rows) with six rows repeating an episode (1-based rows 3, 6, 41, 42,
    151, 201): 151 repeats 3, 201 repeats 6 (which breaks a cell rule too), 41 repeats 42
    with the level in lower case; rows 61 and 62 share a level with no patient: no repeat."""
    frame = frame.copy()
    pair = ["patient_id", "level"]
    frame.loc[150, pair] = frame.loc[2, pair].to_numpy()
    frame.loc[200, pair] = frame.loc[5, pair].to_numpy()
    frame.loc[40, pair] = frame.loc[41, pair].to_numpy()
    frame.loc[40, "level"] = frame.loc[41, "level"].lower()
    frame.loc[[60, 61], "patient_id"] = ""
    frame.loc[61, "level"] = frame.loc[60, "level"]
    return frame


REPEATS = [3, 6, 41, 42, 151, 201]


def parts(frame: pd.DataFrame, folder: Path, suffix: str, sizes: list[int]) -> Path:
    """``frame`` cut into files ``part-0..`` of ``sizes`` rows, and the whole as one file."""
    folder.mkdir()
    start = 0
    for i, size in enumerate(sizes):
        written(frame.iloc[start:start + size].reset_index(drop=True),
                folder / f"part-{i}{suffix}")
        start += size
    written(frame, folder.parent / f"{folder.name}-whole{suffix}")
    return folder


def spark_output(folder: Path) -> pd.DataFrame:
    """A Spark output folder in input order (by file, then row)."""
    assert (folder / "_SUCCESS").is_file()
    return pd.read_parquet(folder).sort_values(ORIGIN, ignore_index=True)


def assert_same_as_local(by_spark: pd.DataFrame, by_local: pd.DataFrame) -> None:
    assert list(by_spark.columns[:-2]) == list(by_local.columns)
    np.testing.assert_allclose(by_spark["p_resorption"], by_local["p_resorption"], rtol=0,
                               atol=1e-12, equal_nan=True)
    pd.testing.assert_frame_equal(by_spark.drop(columns=["p_resorption", *ORIGIN]),
                                  by_local.drop(columns="p_resorption"), check_dtype=False)


# ------------------------------------------------------------------ equal to the local engine


@pytest.mark.parametrize(("suffix", "model", "k"), [(".parquet", "logistic", 2),
                                                    (".csv", "reference", 3)])
def test_a_folder_of_parts_scores_as_the_local_engine_scores_the_whole(
        spark, tmp_path, request, suffix, model, k):
    loaded = request.getfixturevalue(model)
    folder = parts(bad_rows(260, seed=3), tmp_path / "in", suffix, [120, 90, 50])
    whole = folder.parent / f"in-whole{suffix}"
    local = score_file(whole, tmp_path / "local.parquet", loaded, explain_k=k)
    remote = score_path(folder, tmp_path / "out", loaded, explain_k=k)
    assert (remote.rows_in, remote.scored, remote.rejected) == (260, 257, 3)
    assert (local.scored, local.rejected, local.rejections) == (
        remote.scored, remote.rejected, remote.rejections)
    by_spark = spark_output(tmp_path / "out")
    assert_same_as_local(by_spark, pd.read_parquet(tmp_path / "local.parquet"))
    # the value found, on the executors too; counted by rule in the summary
    assert "sex: unknown category (found 'alien', allowed female / male)" in set(
        by_spark["reason"])
    assert ("sex: unknown category", 1) in remote.rejections
    assert list(by_spark.columns) == [*output_columns(IDS, k), *ORIGIN]
    # each row says where it came from: file and 1-based row within it
    names = by_spark[SOURCE_FILE].str.rsplit("/", n=1).str[-1]
    assert names.value_counts().sort_index().tolist() == [120, 90, 50]
    assert by_spark.groupby(names)[SOURCE_ROW].agg(["min", "max"]).values.tolist() == [
        [1, 120], [1, 90], [1, 50]]
    assert SparkSession.getActiveSession() is spark  # an existing session is left running


def test_a_glob_picks_files_and_a_mapping_runs_on_the_executors(spark, tmp_path, reference):
    examples = Path(__file__).resolve().parents[1] / "examples"
    source = pd.read_csv(examples / "hospital_example.csv", dtype=str, keep_default_na=False)
    folder = tmp_path / "in"
    folder.mkdir()
    half = len(source) // 2
    source.iloc[:half].to_csv(folder / "a.csv", index=False)
    source.iloc[half:].to_csv(folder / "b.csv", index=False)
    (folder / "notes.txt").write_text("not read: the glob picks the CSV files")
    mapping = examples / "hospital_mapping.yaml"
    local = score_file(examples / "hospital_example.csv", tmp_path / "local.parquet", reference,
                       mapping=mapping, explain_k=1)
    remote = score_path(f"{folder}/*.csv", tmp_path / "out", reference, mapping=mapping,
                        explain_k=1)
    assert (remote.rows_in, remote.scored, remote.rejected) == (
        local.rows_in, local.scored, local.rejected)
    assert_same_as_local(spark_output(tmp_path / "out"),
                         pd.read_parquet(tmp_path / "local.parquet"))


def test_empty_rows_under_a_mapping_that_fills_a_constant_are_rejected_as_locally(
        spark, tmp_path, reference):
    """An export's ``,,,,`` rows, in two parts and mid-file, through a mapping with a fixed
    value, a recode of empty cells and a derivation: each is an "empty row" on the
    executors as in the local engine (docs/hardening.md)."""
    from tests.leftovers.test_empty_rows_mapped import MAPPING, export

    frame = export(resorb.cohort.make_cohort(n=120, seed=5)).astype(object)
    blank = pd.DataFrame([[None] * frame.shape[1]] * 2, columns=frame.columns)
    frame = pd.concat([frame.iloc[:50], blank, frame.iloc[50:], blank], ignore_index=True)
    mapping = tmp_path / "mapping.yaml"  # Spark reads ','-separated CSV: no dialect
    mapping.write_text(MAPPING.replace('dialect: {separator: ";"}\n', ""), encoding="utf-8")
    folder = parts(frame, tmp_path / "in", ".csv", [60, 64])
    local = score_file(folder.parent / "in-whole.csv", tmp_path / "local.parquet", reference,
                       mapping=mapping, explain_k=2)
    remote = score_path(folder, tmp_path / "out", reference, mapping=mapping, explain_k=2)
    assert (remote.rows_in, remote.scored, remote.rejected) == (124, 120, 4)
    assert remote.rejections == local.rejections == (("empty row", 4),)
    by_spark = spark_output(tmp_path / "out")
    assert_same_as_local(by_spark, pd.read_parquet(tmp_path / "local.parquet"))
    empty = np.flatnonzero(by_spark["reason"].eq("empty row").to_numpy()) + 1
    assert list(empty) == [51, 52, 123, 124]
    assert by_spark.loc[empty - 1, "site"].isna().all()  # the constant is not filled in


# ------------------------------------------------------------------ one row per episode


@pytest.mark.parametrize("layout", ["one parquet file", "a folder of csv parts"])
def test_rows_repeating_an_episode_are_rejected_as_by_the_local_engine(
        spark, run_cli, tmp_path, reference, layout):
    frame = bad_rows(260, seed=3).pipe(with_repeats)
    if layout == "one parquet file":
        spark_in = local_in = written(frame, tmp_path / "in.parquet")
    else:
        spark_in = parts(frame, tmp_path / "in", ".csv", [120, 90, 50])
        local_in = tmp_path / "in-whole.csv"
    common = ["--model", reference.source, "--explain", "2"]
    local = run_cli("score", "-i", local_in, "-o", tmp_path / "local.parquet", *common)
    remote = run_cli("score", "-i", spark_in, "-o", tmp_path / "out", "--engine", "spark",
                     *common)
    assert local.exit_code == remote.exit_code == 3, remote.output
    for result in (local, remote):  # 6 repeats, 2 without a patient, 2 cell rules broken
        assert "260 rows in = 250 scored + 10 rejected" in result.output
    reasons = [line for line in local.output.splitlines() if "commonest reasons" in line]
    assert reasons == [line for line in remote.output.splitlines()
                       if "commonest reasons" in line]
    assert f"{REPEATED_EPISODE} (6)" in reasons[0]
    by_spark = spark_output(tmp_path / "out")
    assert_same_as_local(by_spark, pd.read_parquet(tmp_path / "local.parquet"))
    repeated = np.flatnonzero(by_spark["reason"].eq(REPEATED_EPISODE).to_numpy()) + 1
    assert list(repeated) == REPEATS
    assert (by_spark.loc[repeated - 1, "status"] == "rejected").all()


def test_a_mapping_s_recoded_identifiers_and_filter_decide_the_repeats_as_locally(
        spark, tmp_path, reference):
    """The key pass maps patient_id and level on the executors: ``l4/5`` is recoded as
    ``L4/5`` is, and rows the filter leaves out (cervical) never count as repeats."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    source = pd.read_csv(examples / "hospital_example.csv", dtype=str, keep_default_na=False)
    copies = source.iloc[[0, 4, 5]].copy()  # H001 again, cervical H005 again, H006 again
    copies.iloc[2, copies.columns.get_loc("Level")] = "l4/5"
    source = pd.concat([source, copies], ignore_index=True)
    source.to_csv(tmp_path / "whole.csv", index=False)
    folder = tmp_path / "in"
    folder.mkdir()
    source.iloc[:9].to_csv(folder / "a.csv", index=False)
    source.iloc[9:].to_csv(folder / "b.csv", index=False)
    mapping = examples / "hospital_mapping.yaml"
    local = score_file(tmp_path / "whole.csv", tmp_path / "local.parquet", reference,
                       mapping=mapping, explain_k=1)
    remote = score_path(f"{folder}/*.csv", tmp_path / "out", reference, mapping=mapping,
                        explain_k=1)
    assert (remote.rows_in, remote.scored, remote.rejected, remote.exit_code) == (
        local.rows_in, local.scored, local.rejected, local.exit_code)
    assert remote.rejections == local.rejections
    assert (REPEATED_EPISODE, 4) in remote.rejections  # H001 and H006, twice each
    assert_same_as_local(spark_output(tmp_path / "out"),
                         pd.read_parquet(tmp_path / "local.parquet"))


# ------------------------------------------------------------------------------- retries


def fail_first_attempt(how: str, marker: Path):
    """A mapInArrow body failing the first attempt of partition 0 after its first batch.

    ``raise``: the task raises; ``exit``: the executor's Python worker dies (``os._exit``),
    as when it is killed. ``marker`` is written first, so the test knows a failure happened.
    """
    def body(batches):
        context = TaskContext.get()
        for number, batch in enumerate(batches):
            yield batch
            if number == 0 and context.partitionId() == 0 and context.attemptNumber() == 0:
                marker.write_text(how)
                if how == "exit":
                    os._exit(17)
                raise RuntimeError("injected failure of a first attempt")
    return body


@pytest.mark.parametrize("how", ["raise", "exit"])
def test_a_task_failing_mid_write_is_retried_without_losing_or_duplicating_rows(
        spark, tmp_path, logistic, how):
    folder = parts(bad_rows(400, seed=8), tmp_path / "in", ".parquet", [250, 150])
    marker = tmp_path / "failed"
    scored = resorb.spark.score(resorb.spark.read(spark, folder), logistic, explain=2)
    scored.write.parquet(str(tmp_path / "clean"))
    scored.mapInArrow(fail_first_attempt(how, marker), scored.schema).write.parquet(
        str(tmp_path / "retried"))
    assert marker.read_text() == how  # the first attempt did fail
    clean, retried = spark_output(tmp_path / "clean"), spark_output(tmp_path / "retried")
    assert len(retried) == 400 and not retried.duplicated(ORIGIN).any()
    pd.testing.assert_frame_equal(retried, clean)
    failures = [p for p in (tmp_path / "retried").iterdir() if p.name.startswith("_temp")]
    assert failures == []


def test_small_arrow_batches_are_gathered_into_chunks_and_csv_rows_keep_their_numbers(
        spark, tmp_path, logistic):
    """Spark's batches (7 rows here) are gathered into chunk_rows (50) before scoring; the
    result, reasons and CSV row numbers are those of the local engine on the whole file."""
    folder = parts(bad_rows(260, seed=5), tmp_path / "in", ".csv", [170, 90])
    local = score_file(folder.parent / "in-whole.csv", tmp_path / "local.parquet", logistic,
                       explain_k=2)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "7")
    seen: list[tuple[int, int | None]] = []
    try:
        remote = score_path(folder, tmp_path / "out", logistic, explain_k=2,
                            params=ScoringParams(chunk_rows=50),
                            progress=lambda done, total: seen.append((done, total)))
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert (remote.scored, remote.rejected) == (local.scored, local.rejected)
    by_spark = spark_output(tmp_path / "out")
    assert_same_as_local(by_spark, pd.read_parquet(tmp_path / "local.parquet"))
    names = by_spark[SOURCE_FILE].str.rsplit("/", n=1).str[-1]
    assert by_spark.groupby(names)[SOURCE_ROW].agg(["min", "max", "nunique"]).values.tolist(
        ) == [[1, 170, 170], [1, 90, 90]]
    # progress as the local engine reports it: from 0 to all rows, never backwards
    assert seen[0] == (0, 260) and seen[-1] == (260, 260)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# ------------------------------------------------------------------------------- the API


def test_the_api_takes_and_returns_dataframes(spark, reference):
    frame = bad_rows(40, seed=4)
    frame.loc[11, ["patient_id", "level"]] = frame.loc[20, ["patient_id", "level"]].to_numpy()
    df = spark.createDataFrame(frame)
    scored = resorb.spark.score(df, reference, explain=1)
    assert scored.columns == output_columns(IDS, 1)
    tally = scored.select("status", (scored["reason"] == REPEATED_EPISODE).alias("repeat"))
    counts = {(r["status"], r["repeat"]): r["count"]
              for r in tally.groupBy("status", "repeat").count().collect()}
    # the DataFrame is one input: its repeated episode is rejected, both rows of it
    assert counts == {("scored", False): 35, ("rejected", False): 3, ("rejected", True): 2}


# ------------------------------------------------------------------------------ errors


@pytest.fixture
def run_cli(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(app, [*map(str, args)])

    return invoke


def test_the_cli_prints_the_accounting_and_exits_3_with_rejected_rows(spark, run_cli,
                                                                     tmp_path, reference):
    folder = parts(bad_rows(60, seed=6), tmp_path / "in", ".parquet", [30, 30])
    result = run_cli("score", "-i", folder, "-o", tmp_path / "out", "--engine", "spark",
                     "--model", reference.source, "--explain", "0")
    assert result.exit_code == 3, result.output
    assert "in: 60 rows in = 57 scored + 3 rejected" in result.output
    assert "rejected rows, commonest reasons:" in result.output


def test_a_missing_column_is_refused_from_the_schema_as_by_the_local_engine(spark, run_cli,
                                                                           tmp_path):
    folder = parts(bad_rows(20, seed=6).drop(columns="vas_leg"), tmp_path / "in", ".parquet",
                   [10, 10])
    local = run_cli("score", "-i", folder.parent / "in-whole.parquet", "-o",
                    tmp_path / "local.parquet")
    remote = run_cli("score", "-i", folder, "-o", tmp_path / "out", "--engine", "spark")
    assert remote.exit_code == local.exit_code == 2
    assert "vas_leg" in remote.output
    assert remote.output.splitlines()[-1] == local.output.splitlines()[-1]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--spark-master", "bogus://x"], ["'bogus://x' is not a Spark master URL", "local[*]",
                                       "spark://HOST:PORT"]),
    (["--explain", "99"], ["--explain 99", "at most"]),
])
def test_bad_options_are_usage_errors(spark, run_cli, tmp_path, reference, args, words):
    folder = parts(bad_rows(10, seed=1), tmp_path / "in", ".parquet", [10])
    result = run_cli("score", "-i", folder, "-o", tmp_path / "out", "--engine", "spark",
                     "--model", reference.source, *args)
    assert result.exit_code == 2
    for word in words:
        assert word in result.output
    assert not (tmp_path / "out").exists()


def test_the_cli_passes_urls_and_globs_to_spark_and_refuses_a_missing_path(
        spark, run_cli, tmp_path, reference):
    folder = parts(bad_rows(20, seed=2), tmp_path / "in", ".parquet", [12, 8])
    result = run_cli("score", "-i", f"file://{folder}/part-*.parquet", "-o",
                     f"file://{tmp_path}/out", "--engine", "spark", "--model",
                     reference.source, "--explain", "0")
    assert result.exit_code == 3, result.output  # rows 6 and 18 break the dictionary
    assert "part-*.parquet: 20 rows in = 18 scored + 2 rejected" in result.output
    assert f"-> file://{tmp_path}/out (" in result.output  # as given, not file:/...
    assert len(spark_output(tmp_path / "out")) == 20
    missing = run_cli("score", "-i", tmp_path / "nowhere.parquet", "-o", tmp_path / "out2",
                      "--engine", "spark", "--model", reference.source)
    assert missing.exit_code == 2
    assert "nowhere.parquet: no such file" in missing.output
    assert "Traceback" not in missing.output and not (tmp_path / "out2").exists()


def test_a_ragged_csv_fails_the_job_and_says_so(spark, run_cli, tmp_path, reference):
    folder = parts(bad_rows(10, seed=1), tmp_path / "in", ".csv", [10])
    with (folder / "part-0.csv").open("a") as fh:
        fh.write("1,2,3\n")
    result = run_cli("score", "-i", folder, "-o", tmp_path / "out", "--engine", "spark",
                     "--model", reference.source)
    assert result.exit_code == 2, result.output
    assert "part-0.csv: a row does not have as many cells as the header" in result.output
    assert "1,2,3" not in result.output  # the record is never quoted
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def _subprocess(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_normal_run_shows_resorb_s_lines_only_and_a_jvm_error_stays_visible(tmp_path):
    """No start-up WARN lines of Spark or the JVM before resorb's output (a terminal would
    show them above the progress bar); a JVM that cannot start still says why."""
    folder = parts(bad_rows(10, seed=1), tmp_path / "in", ".parquet", [10])
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYSPARK_PYTHON", "LOG4J_CONFIGURATION_FILE", "SPARK_DRIVER_MEMORY")}
    args = [str(RESORB), "score", "-i", str(folder), "-o", str(tmp_path / "out"), "--engine",
            "spark", "--spark-master", "local[1]", "--explain", "0"]
    normal = _subprocess(args, env, tmp_path)
    assert normal.returncode == 3, normal.stderr
    lines = normal.stderr.splitlines()
    assert lines[0].startswith("in: 10 rows in = 9 scored + 1 rejected"), lines
    assert all(line.startswith(("in: ", "model: ", "rejected rows")) for line in lines), lines
    broken = _subprocess(args, {**env, "SPARK_DRIVER_MEMORY": "1x"}, tmp_path)
    assert broken.returncode == 2
    assert "Invalid maximum heap size" in broken.stderr  # the JVM's own words
    assert "error: Spark did not start" in broken.stderr


def test_without_java_or_pyspark_the_message_says_what_to_install(tmp_path):
    folder = parts(bad_rows(10, seed=1), tmp_path / "in", ".parquet", [10])
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PYSPARK_PYTHON")}
    env["PATH"] = str(Path(sys.executable).parent)  # no java there
    args = ["score", "-i", str(folder), "-o", str(tmp_path / "out"), "--engine", "spark"]
    no_java = _subprocess([str(RESORB), *args], env, tmp_path)
    assert no_java.returncode == 2, no_java.stderr
    assert "needs Java 17 or later" in no_java.stderr and "JAVA_HOME" in no_java.stderr
    hide = ("import sys; sys.modules['pyspark'] = None; sys.argv[0] = 'resorb'; "
            "from resorb.cli import app; app()")
    no_pyspark = _subprocess([sys.executable, "-c", hide, *args], dict(os.environ), tmp_path)
    assert no_pyspark.returncode == 2, no_pyspark.stderr
    assert "pip install 'resorb[spark]'" in no_pyspark.stderr
    assert "Traceback" not in no_java.stderr + no_pyspark.stderr


# ------------------------------------------------------------------------------- cohorts


def test_a_cohort_drawn_on_spark_has_the_same_bytes_for_the_same_seed(spark, tmp_path,
                                                                     run_cli):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        if name == "b":  # the command line gives the same bytes as the API
            result = run_cli("cohort", "generate", "--engine", "spark", "--n", "1001",
                             "--seed", str(seed), "--partitions", "3", "--out", tmp_path / name)
            assert result.exit_code == 0, result.output
            assert "wrote 1,001 rows (literature, seed 7, 3 partitions)" in result.output
        else:
            written = resorb.spark.write_cohort(tmp_path / name, n=1001, seed=seed,
                                                partitions=3)
            assert (written.rows, written.partitions) == (1001, 3)
        files = sorted((tmp_path / name).glob("part-*.parquet"))
        runs[name] = [f.read_bytes() for f in files]
    assert len(runs["a"]) == 3 and runs["a"] == runs["b"] and runs["a"] != runs["c"]
    frame = pd.read_parquet(tmp_path / "a")
    assert len(frame) == 1001 and frame["patient_id"].is_unique
    seeds = resorb.spark.partition_seeds(7, 3)
    first = resorb.cohort.make_cohort(334, seed=seeds[0])
    got = pd.read_parquet(sorted((tmp_path / "a").glob("part-*"))[0])
    np.testing.assert_allclose(got["age"], first["age"])
    assert pa.types.is_timestamp(pa.Schema.from_pandas(got).field("baseline_date").type)
