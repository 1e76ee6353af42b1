"""What a new user broke, as real subprocesses of the `resorb` command: each case is bad
input or an odd option that once gave a traceback, a wrong exit code or a silent drop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resorb.cohort import make_cohort

REPO = Path(__file__).resolve().parents[1]
FAST = REPO / "tests" / "params_fast.yaml"
REFERENCE = REPO / "models" / "reference"
RESORB = str(Path(sys.executable).with_name("resorb"))


def resorb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`resorb ARGS` in a fresh process (its own tracking store in ``cwd``), one BLAS thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([RESORB, "--params", str(FAST), *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A working folder holding a small labelled cohort, ``cohort.csv``."""
    path = tmp_path_factory.mktemp("user")
    make_cohort(n=120, seed=3).to_csv(path / "cohort.csv", index=False)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ("train", "--data", "cohort.csv", "--seed", "-5"),
    ("--set", "training.seed=4294967296", "train", "--data", "cohort.csv"),
    ("evaluate", "--model", str(REFERENCE), "--data", "cohort.csv", "--no-track",
     "--seed", "-1"),
    ("update", "--model", str(REFERENCE), "--data", "cohort.csv", "--no-register",
     "--out", "updated", "--seed", "-1"),
])
def test_a_seed_numpy_cannot_take_is_refused_with_exit_2(folder, args):
    # numpy's legacy RandomState (scikit-learn's splitters) takes 0 to 2**32 - 1; a seed
    # outside used to reach it and end in a ValueError traceback, exit 1
    out = resorb(*args, cwd=folder)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "seed" in out.stderr
    assert not (folder / "updated").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("args", "words"), [
    (("models", "promote", "1", "--alias", ""), "is not an alias name"),
    (("models", "promote", "1", "--alias", "Latest"), "is reserved"),
    (("models", "export", "--to", "out", "--name", "../escaped"), "is not a folder name"),
    (("models", "export", "--to", "out", "--name", "/tmp/escaped-by-resorb-test"),
     "is not a folder name"),
])
def test_a_bad_alias_or_export_name_is_a_usage_error(folder, args, words):
    # an alias MLflow refuses was an MlflowException traceback (exit 1); an export --name
    # holding a path wrote the model outside --to. Both are refused before the store opens.
    out = resorb(*args, cwd=folder)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert words in out.stderr
    assert not (folder / "escaped").exists()
    assert not Path("/tmp/escaped-by-resorb-test").exists()
    assert not (folder / "out").exists()
    assert not (folder / "mlflow.db").exists()


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_ui_refuses_a_port_outside_1_to_65535(folder, port):
    # the UI used to start and announce http://127.0.0.1:99999 (or :0, a random port)
    out = resorb("ui", "--port", port, cwd=folder)
    assert out.returncode == 2, out.stderr
    assert "--port" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_explain_does_not_write_its_contributions_over_the_data(folder):
    # `explain --data cohort.csv --out cohort.csv` replaced the patients' table with SHAP
    # values (score refuses the same mistake); a hard link to it is the same file too
    before = (folder / "cohort.csv").read_bytes()
    os.link(folder / "cohort.csv", folder / "linked.csv")
    for target in ("cohort.csv", "./cohort.csv", "linked.csv"):
        out = resorb("explain", "--model", str(REFERENCE), "--data", "cohort.csv",
                     "--out", target, cwd=folder)
        assert out.returncode == 2, out.stderr
        assert "would overwrite the --data file" in out.stderr
    assert (folder / "cohort.csv").read_bytes() == before
    assert not (folder / "mlflow.db").exists()


def test_evaluations_help_says_it_lists():
    # its --model help was evaluate's ("Model to validate"); it validates nothing
    out = subprocess.run([RESORB, "evaluations", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0
    assert "whose validations to list" in out.stdout
    assert "to validate" not in out.stdout


@pytest.mark.parametrize("command", [("validate", "cohort.csv"), ("schema",)])
@pytest.mark.parametrize(("options", "words"), [
    (("--params", "nope.yaml"), "nope.yaml"),
    (("--set", "nokey=3"), "nokey"),
])
def test_validate_and_schema_refuse_bad_parameters_as_score_does(folder, command, options,
                                                                  words):
    """`resorb --params nope.yaml validate` used to say "valid" and exit 0."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run([RESORB, *options, *command], capture_output=True, text=True,
                          cwd=folder, env=env, timeout=600)
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def resorb_with_store(*args: str, cwd: Path, store: str) -> subprocess.CompletedProcess[str]:
    """`resorb ARGS` in a fresh process with ``MLFLOW_TRACKING_URI`` set to ``store``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": store}
    return subprocess.run([RESORB, "--params", str(FAST), *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.mark.parametrize(("model", "store_file", "words"), [
    ((), "typo.db", "does not exist"),
    (("--model", "models:/resorb/1"), "typo.db", "does not exist"),
    ((), "foreign.db", "holds no registered model 'resorb'"),
])
def test_score_refuses_a_named_sqlite_store_without_the_model(folder, tmp_path, model,
                                                              store_file, words):
    # MLFLOW_TRACKING_URI naming a SQLite file with a typo in its path (or a file holding no
    # model 'resorb') used to score silently with the shipped reference predictor, exit 0,
    # where --help promises the store's champion once MLFLOW_TRACKING_URI is set; and
    # --model models:/... said "MLFLOW_TRACKING_URI unset" while it was set
    import sqlite3

    if store_file == "foreign.db":
        sqlite3.connect(tmp_path / store_file).close()  # a SQLite file, no MLflow tables
    store = f"sqlite:///{tmp_path / store_file}"
    out = resorb_with_store("score", "-i", "cohort.csv", "-o", "scored.csv", *model,
                            cwd=folder, store=store)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert store in out.stderr and words in out.stderr
    assert "--model FOLDER" in out.stderr and "unset" in out.stderr
    assert not (folder / "scored.csv").exists()
    assert (tmp_path / "typo.db").exists() is False


@pytest.mark.parametrize("command", [("models", "list"), ("models", "history")])
def test_models_list_names_the_sqlite_store_it_cannot_find(folder, tmp_path, command):
    # "no mlflow.db in this folder, MLFLOW_TRACKING_URI ... unset" was printed while
    # MLFLOW_TRACKING_URI named a file that does not exist
    store = f"sqlite:///{tmp_path / 'typo.db'}"
    out = resorb_with_store(*command, cwd=folder, store=store)
    assert out.returncode == 0, out.stderr
    assert f"no model registry at {store}" in out.stdout
    assert "unset)" not in out.stdout
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.slow
def test_evaluate_counts_the_rows_whose_own_label_the_rule_overrode(folder):
    # a file's 'resorbed' that the measured volumes contradict was overruled silently: a
    # clinic's own judgement replaced without a word. The rule still wins; the account says
    # how many rows it relabelled.
    import pandas as pd

    frame = pd.read_csv(folder / "cohort.csv")
    measured = (frame["herniation_volume_mm3"].notna() & frame["volume_followup_mm3"].notna()
                & ~frame["surgery"].fillna(False).astype(bool))
    flipped = frame.copy()
    flipped.loc[measured, "resorbed"] = ~frame.loc[measured, "resorbed"].astype(bool)
    flipped.to_csv(folder / "flipped.csv", index=False)
    runs = {name: resorb("evaluate", "--model", str(REFERENCE), "--data", name, "--no-track",
                         "--out", name.replace(".csv", "_eval"), cwd=folder)
            for name in ("cohort.csv", "flipped.csv")}
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    n = int(measured.sum())
    assert n > 0
    assert f"; {n:,} rows relabelled: the file's 'resorbed' disagreed" in runs["flipped.csv"].stdout
    assert "relabelled" not in runs["cohort.csv"].stdout
    counts = [re.search(r"([\d,]+) rows in, ([\d,]+) used \(([\d,]+) resorbed\)",
                        run.stdout).groups() for run in runs.values()]
    assert counts[0] == counts[1]  # the same labels either way: the volumes win


@pytest.mark.parametrize(("args", "words"), [
    (("score", "-i", "cohort.csv", "-o", "{folder}"), "is a folder, not a table"),
    (("validate", "{folder}"), "is a folder, not a table"),
    (("cohort", "generate", "--n", "5", "--out", "{folder}"), "is a folder, not a table"),
    (("score", "-i", "cohort.csv", "-o", "nodir/scored.csv"),
     "--output nodir/scored.csv: nodir: folder does not exist"),
])
def test_a_folder_where_a_table_is_named_says_so(folder, tmp_path, args, words):
    # "hu: unsupported output type '(none)'; use .csv or .parquet" did not say that the
    # name was a folder, and a missing output folder's message did not name the option
    out = resorb(*(a.format(folder=tmp_path) for a in args), cwd=folder)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert words in out.stderr
    assert "(none)" not in out.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "words"), [
    (("train", "--synthetic", str(10**12)), "--synthetic 1,000,000,000,000: a cohort of"),
    (("compare", "--synthetic", str(10**12)), "smaller --synthetic"),
    (("explain", "--model", str(REFERENCE), "--synthetic", str(10**11)), "of memory"),
    (("plan", "--validation-rows", str(10**11)), "less than or equal to 1000000"),
    (("plan", "--reference-rows", str(10**11)), "less than or equal to 1000000"),
    (("cohort", "check", "--n", str(10**12)), "smaller --n (at most about"),
    (("cohort", "fit", "--n", str(10**12)), "smaller --n (at most about"),
])
def test_a_synthetic_cohort_too_large_for_memory_is_refused_up_front(folder, args, words):
    # --synthetic 10**12 (and plan's --validation-rows 10**11) ended in numpy's
    # ArrayMemoryError traceback, exit 1; `cohort generate --n` was already checked
    out = resorb(*args, cwd=folder)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "MemoryError" not in out.stderr
    assert words in out.stderr
    assert not (folder / "mlflow.db").exists()


@pytest.mark.slow
def test_jobs_above_the_cores_are_cut_to_the_cores_with_a_note(tmp_path):
    # --jobs 100000 started one worker process per bootstrap resample (200 on 2 cores, each
    # importing scikit-learn) and had not finished after 120 s
    from resorb.parallel import available_cores

    cores = available_cores()
    out = resorb("train", "--synthetic", "200", "--jobs", "100000", "--seed", "4",
                 cwd=tmp_path)  # its own folder: the run's store stays out of `folder`
    assert out.returncode == 0, out.stderr
    assert (f"note: --jobs 100000: using {cores} worker process{'es' * (cores != 1)} "
            f"({cores} core") in out.stderr
    assert "leaked" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("model", [("--model", "models/reference"), ()])
def test_update_refuses_to_write_over_its_parent_model(folder, tmp_path, model):
    # `update --out models/reference` (with that --model, or without --model, which updates
    # the reference) replaced the parent with its update and printed only "note: replaced"
    import shutil

    shutil.copytree(REFERENCE, tmp_path / "models" / "reference")
    before = {p.relative_to(tmp_path): p.read_bytes()
              for p in (tmp_path / "models").rglob("*") if p.is_file()}
    out = resorb("update", *model, "--data", str(folder / "cohort.csv"), "--no-register",
                 "--out", "models/reference", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "--out models/reference is the folder of the parent model" in out.stderr
    after = {p.relative_to(tmp_path): p.read_bytes()
             for p in (tmp_path / "models").rglob("*") if p.is_file()}
    assert after == before
    assert not (tmp_path / "mlflow.db").exists()


@pytest.fixture(scope="module")
def semicolon_export(folder) -> tuple[Path, Path]:
    """``cohort.csv`` as a German spreadsheet writes it (``;``, Latin-1), and its mapping."""
    import pandas as pd

    frame = pd.read_csv(folder / "cohort.csv").head(20)
    frame.to_csv(folder / "export.csv", sep=";", encoding="latin-1", index=False)
    (folder / "dialect.yaml").write_text("dialect: {separator: ';', encoding: latin-1}\n")
    return folder / "export.csv", folder / "dialect.yaml"


def test_spark_refuses_a_mapping_dialect_it_would_ignore(folder, semicolon_export):
    # --engine spark read a ';' export as one column whatever the mapping's dialect said,
    # and refused it as "21 required columns absent" (every column the file holds)
    export, dialect = semicolon_export
    out = resorb("score", "-i", str(export), "--mapping", str(dialect), "-o", "spark_out",
                 "--engine", "spark", "--model", str(REFERENCE), cwd=folder)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "--engine spark reads CSV as comma-separated UTF-8" in out.stderr
    assert "separator: ';'" in out.stderr and "encoding: 'latin-1'" in out.stderr
    assert "required" not in out.stderr
    assert not (folder / "spark_out").exists()
    local = resorb("score", "-i", str(export), "--mapping", str(dialect), "-o", "local.csv",
                   "--model", str(REFERENCE), cwd=folder)  # the local engine reads it
    assert local.returncode == 0, local.stderr


def test_spark_keeps_a_mapping_dialect_for_parquet_and_a_mapping_without_one(folder, tmp_path):
    from resorb.intake import load_mapping
    from resorb.scoring.spark.job import _without_csv_dialect

    (tmp_path / "in.parquet").write_bytes(b"")
    (tmp_path / "in.csv").write_text("age\n40\n")
    (tmp_path / "d.yaml").write_text("dialect: {separator: ';'}\n")
    (tmp_path / "m.yaml").write_text("columns:\n  age: {from: age}\n")
    assert _without_csv_dialect(tmp_path / "d.yaml", str(tmp_path / "in.parquet")) == \
        load_mapping(tmp_path / "d.yaml")
    assert _without_csv_dialect(tmp_path / "m.yaml", str(tmp_path / "in.csv")) == \
        load_mapping(tmp_path / "m.yaml")
    assert _without_csv_dialect(None, str(tmp_path / "in.csv")) is None


@pytest.mark.slow
def test_ctrl_c_in_compare_says_so_and_leaves_no_empty_store(tmp_path):
    # Ctrl-C during compare ended with exit 130, not a word, and an mlflow.db holding no
    # run (made before the first run was logged); SIGINT reaches the command as a terminal's
    # Ctrl-C does (a default handler, not the ignored one a background job inherits)
    import signal

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [RESORB, "--params", str(FAST), "compare", "--synthetic", "2000"], cwd=tmp_path,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stderr:  # the folds have started: the store is open
        seen.append(line)
        if line.lstrip().startswith(".."):
            proc.send_signal(signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=300)
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted (exit 130)" in stderr
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(("name", "words"), [
    ("sheet.xlsx", "a spreadsheet workbook; save the sheet as 'CSV UTF-8'"),
    ("sheet.ods", "a spreadsheet workbook; save the sheet as 'CSV UTF-8'"),
    ("list.tsv", "rename it to .csv and declare the separator in a mapping file"),
])
@pytest.mark.parametrize("command", ["validate", "score"])
def test_a_workbook_or_tab_file_is_told_what_to_save_it_as(folder, name, words, command):
    # "unsupported file type '.xlsx'; use .csv or .parquet" left the clinic to guess how
    (folder / name).write_bytes(b"PK\x03\x04" if name.endswith(("xlsx", "ods")) else b"a\tb\n")
    args = (name,) if command == "validate" else ("-i", name, "-o", "scored.csv")
    out = resorb(command, *args, cwd=folder)
    assert out.returncode == 2, out.stderr
    assert "unsupported file type" in out.stderr and words in out.stderr
    assert not (folder / "scored.csv").exists()
