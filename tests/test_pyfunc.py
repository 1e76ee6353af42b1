"""Every MLflow client uses a resorb model: pyfunc, ``mlflow models serve``, ``spark_udf``.

One small logistic model is logged, registered and exported once through resorb.tracking (a
SQLite store in a temporary folder, tests/test_scoring.make_registry); each client is the real
one (a served model in its own process, a local Spark session) and must give the
probabilities of ``resorb score`` (:func:`resorb.scoring.score_file`) to 1e-9, on frames
typed as users hold them: a cohort Parquet (pandas' nullable booleans), a CSV read by pandas'
defaults (int64, bool, object booleans with NaN) and a frame without the optional columns.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resorb import schema
from resorb.cohort import make_cohort
from resorb.files import write_table
from resorb.scoring import score_file
from tests.test_scoring import make_registry

pytestmark = pytest.mark.slow

OPTIONAL = tuple(c for c in schema.FEATURES if not schema.BY_NAME[c].required)
SENTINEL = "resorb-planted-code-ran"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """An exported model folder (MLmodel, artifacts/model.skops, artifacts/resorb.json)."""
    return make_registry(tmp_path_factory.mktemp("pyfunc-registry")).exported


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One cohort written three ways: Parquet, CSV, and CSV with whole numbers as integers."""
    root = tmp_path_factory.mktemp("pyfunc-data")
    cohort = make_cohort(300, seed=21)
    whole = {c.name: cohort[c.name].round().astype("Int64") for c in schema.COLUMNS
             if c.kind is schema.Kind.INTEGER or c.name in ("age", "odi")}
    return {"parquet": write_table(cohort, root / "cohort.parquet"),
            "csv": write_table(cohort, root / "cohort.csv"),
            "csv_integers": write_table(cohort.assign(**whole), root / "hospital.csv")}


def read(path: Path) -> pd.DataFrame:
    """What a user's notebook reads: pandas' defaults."""
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def resorb_score(path: Path, folder: Path, tmp: Path) -> np.ndarray:
    """P(resorption) of every row of ``path`` as ``resorb score`` computes it."""
    out = tmp / f"scored-{path.stem}.parquet"
    summary = score_file(path, out, str(folder), explain_k=0)
    assert summary.rejected == 0
    return pd.read_parquet(out)["p_resorption"].to_numpy(dtype=float)


def test_the_folder_is_data_loaded_by_installed_code(folder):
    import mlflow

    meta = mlflow.models.Model.load(str(folder))
    flavor = meta.flavors["python_function"]
    assert flavor["loader_module"] == "resorb.mlflow_model" and flavor["data"] == "artifacts"
    assert not {"cloudpickle_version", "python_model", "model_code_path"} & set(flavor)
    assert flavor.get("code") is None
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.py"))
    inputs = {c.name: c for c in meta.get_input_schema().inputs}
    assert tuple(inputs) == schema.FEATURES
    assert {n for n, c in inputs.items() if not c.required} == set(OPTIONAL)
    assert {"bmi", "multifidus_fat_pct", "rim_enhancement"} <= set(OPTIONAL)
    assert all(inputs[n].type.name == "string" for n in schema.FEATURES
               if schema.BY_NAME[n].kind is schema.Kind.CATEGORY)
    assert [(c.name, c.type.name) for c in meta.get_output_schema().inputs] == [
        ("p_resorption", "double")]
    dictionary = {d["name"]: d for d in meta.metadata["resorb_input_dictionary"]}
    assert dictionary["symptom_duration_days"]["type"] == "integer"
    assert dictionary["smoker"]["type"] == "boolean"
    assert dictionary["rim_enhancement"]["missing_means"] == "no contrast given"


@pytest.mark.parametrize("kind", ["parquet", "csv", "csv_integers"])
def test_predict_on_a_cohort_as_pandas_reads_it(folder, files, kind, tmp_path):
    import mlflow

    model = mlflow.pyfunc.load_model(str(folder))
    frame = read(files[kind])
    if kind == "csv_integers":
        assert frame["symptom_duration_days"].dtype == np.int64
        assert frame["age"].dtype == np.int64 and frame["slr_positive"].dtype == bool
        assert frame["smoker"].dtype == object and frame["smoker"].isna().any()
    if kind == "parquet":
        assert frame["smoker"].dtype == "boolean" and frame["smoker"].isna().any()
    # the issue's own snippet: the signature's columns only
    names = [c.name for c in model.metadata.get_input_schema().inputs]
    out = model.predict(frame[names])
    assert list(out.columns) == ["p_resorption"] and out["p_resorption"].dtype == np.float64
    p = out["p_resorption"].to_numpy()
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p, resorb_score(files[kind], folder, tmp_path), rtol=0,
                               atol=1e-9)


def test_predict_without_the_optional_columns(folder, files, tmp_path):
    import mlflow

    frame = read(files["csv"]).drop(columns=list(OPTIONAL))
    src = write_table(frame, tmp_path / "without-optional.csv")
    p = mlflow.pyfunc.load_model(str(folder)).predict(frame)["p_resorption"].to_numpy()
    np.testing.assert_allclose(p, resorb_score(src, folder, tmp_path), rtol=0, atol=1e-9)


@pytest.mark.parametrize(("cells", "message"), [
    ({"sex": {3: "F"}}, r"1 of 20 rows breaks .*sex: unknown category, allowed: female / male "
                        r"\(index 3\)"),
    ({"vas_leg": {2: 75.0, 7: 80.0}}, r"2 of 20 rows break .*vas_leg above 10 points "
                                      r"\(index 2, 7\)"),
    ({"symptom_duration_days": {5: 2.5}}, r"symptom_duration_days: not a whole number"),
    ({"age": {1: np.nan}}, r"age.*missing|missing.*age"),
])
def test_invalid_input_is_refused_naming_column_and_rule(folder, files, cells, message):
    import mlflow
    from mlflow.exceptions import MlflowException

    frame = read(files["csv"]).head(20)
    for column, changes in cells.items():
        frame[column] = frame[column].astype(object)
        for row, value in changes.items():
            frame.loc[row, column] = value
    with pytest.raises(MlflowException, match=message) as caught:
        mlflow.pyfunc.load_model(str(folder)).predict(frame)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Traceback" not in str(caught.value) and "numpy" not in str(caught.value)


def test_a_folder_with_planted_code_is_refused_and_nothing_runs(folder, files, tmp_path):
    planted = tmp_path / "planted"
    shutil.copytree(folder, planted)
    sentinel = tmp_path / SENTINEL
    code = f"open({str(sentinel)!r}, 'w').write('ran')\n"
    # what a "model from code" or a cloudpickled model would run, planted where MLflow looks
    for path in ("mlflow_model.py", "artifacts/mlflow_model.py", "code/resorb/mlflow_model.py",
                 "python_model.py"):
        (planted / path).parent.mkdir(parents=True, exist_ok=True)
        (planted / path).write_text(code)
    (planted / "python_model.pkl").write_bytes(
        b"cos\nsystem\n(S'touch " + str(sentinel).encode() + b"'\ntR.")
    script = ("import sys, mlflow, pandas as pd\n"
              f"m = mlflow.pyfunc.load_model({str(planted)!r})\n"
              f"p = m.predict(pd.read_csv({str(files['csv'])!r}))\n"
              "print(len(p))\n")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    # the planted files are refused by name (resorb.trust), and none of them ran
    assert ran.returncode != 0 and "ModelIntegrityError" in ran.stderr, ran.stderr
    assert "code files added in the model folder: artifacts/mlflow_model.py" in ran.stderr
    assert "python_model.pkl" in ran.stderr and not sentinel.exists()


def test_the_shipped_reference_model_is_data_only():
    import mlflow

    reference = Path(__file__).resolve().parents[1] / "models" / "reference"
    flavor = mlflow.models.Model.load(str(reference)).flavors["python_function"]
    assert flavor["loader_module"] == "resorb.mlflow_model", \
        "models/reference predates the data-only pyfunc: run `make reference`"
    assert not list(reference.rglob("*.py")) and not list(reference.rglob("*.pkl"))


def test_a_model_file_that_differs_from_its_card_is_refused(folder, tmp_path):
    import mlflow

    from resorb.errors import ModelCardError

    tampered = tmp_path / "tampered"
    shutil.copytree(folder, tampered)
    with open(tampered / "artifacts" / "model.skops", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelCardError, match=r"does not match its resorb\.json"):
        mlflow.pyfunc.load_model(str(tampered))


# ------------------------------------------------------------------- mlflow models serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_mlflow_models_serve_answers_records_with_resorb_score_probabilities(
        folder, files, tmp_path):
    port = _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ.get('PATH', '')}"}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(folder),
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow models serve did not answer /ping"
            time.sleep(1)
        frame = read(files["parquet"])
        records = json.loads(frame[list(schema.FEATURES)].to_json(orient="records"))
        status, answer = _post(f"{base}/invocations", {"dataframe_records": records})
        assert status == 200, answer
        p = np.array([row["p_resorption"] for row in answer["predictions"]], dtype=float)
        np.testing.assert_allclose(p, resorb_score(files["parquet"], folder, tmp_path),
                                   rtol=0, atol=1e-9)
        # a JSON null in a required boolean is refused, never read as false
        bad = [{**records[0], "motor_deficit": None}, {**records[1], "level": "L4/L5"}]
        status, answer = _post(f"{base}/invocations", {"dataframe_records": bad})
        assert status == 400
        assert "motor_deficit" in answer["message"] and "level: unknown category" in \
            answer["message"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


# ---------------------------------------------------------------------------- spark_udf


@pytest.mark.spark
def test_spark_udf_on_the_cohort_parquet(folder, files, tmp_path):
    import mlflow
    from pyspark.sql import SparkSession

    mp = pytest.MonkeyPatch()
    mp.setenv("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master("local[1]").appName("resorb-pyfunc-tests")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "1")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .getOrCreate())
    try:
        sdf = spark.read.parquet(str(files["parquet"]))  # straight from the file
        udf = mlflow.pyfunc.spark_udf(spark, str(folder), result_type="double",
                                      env_manager="local")
        names = [c.name for c in mlflow.models.Model.load(str(folder))
                 .get_input_schema().inputs]
        rows = sdf.select("patient_id", udf(*names).alias("p")).collect()
    finally:
        spark.stop()
        mp.undo()
    by_id = {r.patient_id: r.p for r in rows}
    ids = pd.read_parquet(files["parquet"], columns=["patient_id"])["patient_id"]
    p = np.array([by_id[i] for i in ids], dtype=float)
    np.testing.assert_allclose(p, resorb_score(files["parquet"], folder, tmp_path), rtol=0,
                               atol=1e-9)
