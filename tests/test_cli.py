"""The command line through Typer's runner (and one real subprocess): exit codes, messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from resorb.cli import app
from resorb.cohort import make_cohort
from resorb.config import expand_keys as expand
from resorb.errors import ResorbError
from tests.factories import FAST_PARAMS, baseline_rows

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def cohort_file(tmp_path):
    path = tmp_path / "cohort.csv"
    make_cohort(n=300, seed=1).to_csv(path, index=False)
    return path


def test_help_is_fast_and_lists_commands():
    # a real subprocess: mlflow, shap and sklearn stay out of the start-up path
    code = ("import sys, resorb.cli; "
            "heavy = [m for m in ('mlflow', 'shap', 'sklearn') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
    result = run("--help")
    assert result.exit_code == 0
    for command in ("validate", "cohort", "train", "compare", "models", "explain", "ui"):
        assert command in result.output


def test_validate_a_valid_file(cohort_file):
    result = run("validate", str(cohort_file), "--purpose", "training")
    assert result.exit_code == 0, result.output
    assert "valid: 300 rows" in result.output


def test_validate_reports_every_problem_without_identifiers(tmp_path):
    df = baseline_rows(12).assign(patient_id=[f"SECRET{i}" for i in range(12)])
    df = df.assign(vas_leg=["80"] * 3 + ["5"] * 9, sex=["F"] + ["male"] * 11)
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert "'vas_leg' has 3 values above 10 points (rows 1, 2, 3): recorded on 0-100?" \
        in result.output
    assert "'sex' has 1 value outside female / male (found 'F') (row 1)" in result.output
    assert "SECRET" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("name", "content", "message"), [
    ("data.xlsx", "x", "unsupported file type '.xlsx'"),
    ("empty.csv", "", "the file is empty"),
    ("header.csv", "patient_id,age\n", "has a header but no data rows"),
    ("broken.parquet", "nope", "cannot be read as PARQUET"),
])
def test_validate_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_validate_missing_file(tmp_path):
    result = run("validate", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "no such file" in result.output


def test_validate_with_mapping_names_missing_clinical_columns():
    examples = Path(__file__).resolve().parents[1] / "examples"
    result = run("validate", str(examples / "spider_radiological_gradings.csv"),
                 "--mapping", str(examples / "spider_mapping.yaml"))
    assert result.exit_code == 2
    assert "level <- IVD label" in result.output
    assert "17 required columns absent (age, sex" in result.output


def test_cohort_generate_is_deterministic(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for path in (a, b):
        result = run("cohort", "generate", "--n", "500", "--seed", "9", "--out", str(path))
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    assert run("validate", str(a), "--purpose", "training").exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "{tmp}/c.txt"], "unsupported output type '.txt'"),
    (["--out", "{tmp}/missing/c.csv"], "folder does not exist"),
    (["--out", "{tmp}/c.csv", "--preset", "nope"], "nope"),
])
def test_cohort_generate_bad_options_write_nothing(tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    result = run("cohort", "generate", "--n", "50", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.rglob("c.*"))


@pytest.mark.slow
def test_cohort_check_passes_for_the_default_preset():
    result = run("cohort", "check", "--n", "60000")
    assert result.exit_code == 0, result.output
    assert "targets met" in result.output


@pytest.mark.slow
@pytest.mark.parametrize(("change", "message"), [
    ({"resorbed": False, "drop_outcomes": True}, "no events"),
    ({"drop_outcomes": True, "no_label": True}, "no row has an observed outcome"),
])
def test_train_refuses_unusable_outcomes_and_registers_nothing(tmp_path, monkeypatch, change,
                                                                message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = make_cohort(n=200, seed=2).drop(columns=["volume_followup_mm3",
                                                     "resorption_grade"])
    if change.get("no_label"):
        frame = frame.drop(columns=["resorbed"])
    else:
        frame = frame.assign(resorbed=change["resorbed"])
    path = tmp_path / "hospital.csv"
    frame.to_csv(path, index=False)
    result = run("train", "--data", str(path), "--register")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "mlartifacts").exists()


@pytest.mark.slow
def test_train_too_few_rows_for_the_folds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = make_cohort(n=200, seed=2)
    kept = frame[frame["surgery"].eq(False)]
    frame = pd.concat([kept[kept["resorbed"].eq(True)].head(3),
                       kept[kept["resorbed"].eq(False)].head(9)])
    path = tmp_path / "tiny.csv"
    frame.to_csv(path, index=False)
    result = run("train", "--data", str(path))
    assert result.exit_code == 2, result.output
    assert "5-fold stratified cross-validation" in result.output
    assert "the data has 3 events and 9 non-events" in result.output
    assert "fewer folds" in result.output


def test_train_needs_exactly_one_data_source():
    result = run("train")
    assert result.exit_code == 2
    assert "give either --data FILE or --synthetic N" in result.output


def test_unknown_candidate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("train", "--synthetic", "300", "--model", "svm")
    assert result.exit_code == 2
    assert "no candidate 'svm'" in result.output


def test_frame_written_by_cli_reads_back(tmp_path):
    path = tmp_path / "c.csv"
    run("cohort", "generate", "--n", "100", "--out", str(path))
    assert len(pd.read_csv(path)) == 100


@pytest.mark.slow
def test_train_on_small_real_data_warns_with_both_numbers_and_strict_refuses(tmp_path,
                                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = tmp_path / "small.csv"
    make_cohort(n=400, seed=5).to_csv(path, index=False)
    fast = ("--params", str(FAST_PARAMS))  # the same path through the CLI, smaller bootstraps
    result = run(*fast, "train", "--data", str(path))
    assert result.exit_code == 0, result.output
    assert "warning: below the minimum sample size" in result.output
    assert "Riley minimum sample size:" in result.output and "the data has" in result.output
    strict = run(*fast, "train", "--data", str(path), "--strict", "--register")
    assert strict.exit_code == 2
    assert "--strict: Riley minimum sample size" in strict.output


@pytest.mark.slow
def test_explain_logs_plots_and_compares_with_the_true_effects(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from resorb import schema

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    reference = Path(__file__).resolve().parents[1] / "models" / "reference"
    out = tmp_path / "contributions.csv"
    result = run("explain", "--model", str(reference), "--synthetic", "600", "--rows", "200",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "against the generator's true effects: Spearman" in result.output
    contributions = pd.read_csv(out)
    keys = ["patient_id", "site", "baseline_date", "source_row"]  # to join back to the rows
    assert list(contributions.columns[:4]) == keys
    assert contributions.shape == (200, len(keys) + len(schema.FEATURES))
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (explained,) = client.search_runs([client.get_experiment_by_name("resorb").experiment_id])
    assert "shap_truth_spearman" in explained.data.metrics
    logged = {a.path for a in client.list_artifacts(explained.info.run_id, "explanations")}
    assert {"explanations/shap_importance.png", "explanations/shap_beeswarm.png",
            "explanations/importance.csv"} <= logged
    assert explained.data.tags["explanation_method"]  # tags and metrics in one batch
    assert "shap_truth_top5_overlap" in explained.data.metrics


# ------------------------------------------------------------- choices, conflicts, parameters


@pytest.mark.parametrize("args", [
    ["schema", "--format", "xml"],
    ["validate", "x.csv", "--purpose", "scorin"],
    ["cohort", "check", "--preset", "Literature"],
    ["score", "-i", "x.csv", "-o", "y.csv", "--engine", "gpu"],
    ["train", "--synthetic", "100", "--preset", "nope"],
], ids=lambda a: a[0] + " " + a[-2])
def test_a_choice_outside_its_enum_is_a_usage_error(args):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output and args[-1] in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("fmt", "start"), [
    ("table", "resorb data dictionary"), ("markdown", "| column | role |"),
    ("csv", "column,role,"),
])
def test_schema_formats(fmt, start):
    result = run("schema", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith(start)


def test_cli_choices_mirror_the_core():
    # the CLI keeps its own Enums so that `resorb --help` imports nothing heavy
    import typing

    from resorb import config, intake
    from resorb.cli import Engine, Preset, Purpose
    from resorb.scoring import batch

    assert [p.value for p in Purpose] == list(typing.get_args(intake.Purpose))
    assert [e.value for e in Engine] == list(typing.get_args(batch.Engine))
    assert [p.value for p in Preset] == [p.value for p in config.Preset]


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--data", "x.csv", "--synthetic", "100"], "give either --data FILE or "
                                                         "--synthetic N, not both"),
    (["compare"], "give either --data FILE or --synthetic N"),
    (["explain", "--synthetic", "100", "--mapping", "m.yaml"], "--mapping applies to --data"),
    (["report", "--model", "models:/resorb@champion", "--run", "abc"],
     "give --model or --run, not both"),
    (["--set", "training.folds", "cohort", "check"], "expected KEY=VALUE"),
])
def test_conflicting_options_are_refused_before_anything_runs(tmp_cwd, args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert list(tmp_cwd.iterdir()) == []  # no store, no output


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "training.folds=1"], "command line: 'training.folds' input should be greater "
                                    "than or equal to 2; found 1"),
    (["--set", "scoring.horizon=90"], "command line: unknown key 'scoring.horizon'"),
    (["--params", "{tmp}/p.yaml"], "p.yaml: 'label.min_reduction_pct' input should be less "
                                   "than or equal to 100; found 150"),
    (["--params", "{tmp}/none.yaml"], "none.yaml not found"),
])
def test_bad_parameters_exit_2_naming_the_key(tmp_cwd, args, message):
    (tmp_cwd / "p.yaml").write_text("label: {min_reduction_pct: 150}\n")
    args = [a.format(tmp=tmp_cwd) for a in args]
    result = run(*args, "cohort", "generate", "--n", "20", "--out", str(tmp_cwd / "c.csv"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_cwd / "c.csv").exists()


def test_command_line_values_override_the_project_file(tmp_cwd, monkeypatch):
    male = "cohort.presets.literature.parameters.population.male"
    (tmp_cwd / "params.yaml").write_text(yaml.safe_dump(expand({male: 0.0})))
    out = tmp_cwd / "c.csv"
    generate = ["cohort", "generate", "--n", "40", "--out", str(out)]
    assert run(*generate).exit_code == 0  # ./params.yaml: nobody is male
    assert set(pd.read_csv(out)["sex"]) == {"female"}
    assert run("--set", f"{male}=1", *generate).exit_code == 0  # the command line wins
    assert set(pd.read_csv(out)["sex"]) == {"male"}
    monkeypatch.setenv("RESORB_PARAMS", str(tmp_cwd / "other.yaml"))
    (tmp_cwd / "other.yaml").write_text(yaml.safe_dump(expand({male: 1.0})))
    assert run(*generate).exit_code == 0  # $RESORB_PARAMS instead of ./params.yaml
    assert set(pd.read_csv(out)["sex"]) == {"male"}


def test_horizon_option_overrides_the_scoring_section(monkeypatch):
    from resorb.cli import options

    seen = {}

    def resolve(ctx, values=None):
        seen.update(values or {})
        raise ResorbError("stop here")

    monkeypatch.setattr(options, "resolve_params", resolve)
    monkeypatch.setattr("resorb.cli.resolve_params", resolve)
    result = run("score", "-i", "x.csv", "-o", "y.csv", "--horizon-days", "90")
    assert result.exit_code == 2 and "stop here" in result.output
    assert seen == {"scoring.horizon_days": 90, "scoring.explain": None,
                    "scoring.chunk_rows": None}


def test_verbose_raises_resorbs_log_level():
    import logging

    logger = logging.getLogger("resorb")
    before = logger.level
    try:
        result = run("--verbose", "schema", "--format", "csv")
        assert result.exit_code == 0, result.output
        assert logger.getEffectiveLevel() == logging.DEBUG
    finally:
        logger.setLevel(before)


def test_version_needs_no_command():
    from resorb import __version__

    result = run("--version")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"resorb {__version__}"


def test_verbose_logs_the_parameter_layers(tmp_cwd, caplog):
    import logging

    logger = logging.getLogger("resorb")
    before = logger.level
    try:
        with caplog.at_level(logging.DEBUG, logger="resorb"):
            result = run("--verbose", "--set", "training.folds=3", "cohort", "generate",
                         "--n", "20", "--out", str(tmp_cwd / "c.csv"))
        assert result.exit_code == 0, result.output
        assert "command line ['training.folds']" in caplog.text
    finally:
        logger.setLevel(before)


def test_a_failed_export_leaves_no_folder(tmp_cwd, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = run("models", "export", "--to", str(tmp_cwd / "exported"), "--version", "9")
    assert result.exit_code == 2
    # no store here: said so, and none is created (reading commands never create one)
    assert "no model registry here" in result.output and "nothing to export" in result.output
    assert not (tmp_cwd / "exported").exists() and not (tmp_cwd / "mlflow.db").exists()
