"""External validation (resorb evaluate): truth, miscalibration, bad input, tracking, report."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from typer.testing import CliRunner

from resorb.card import DataSource
from resorb.cli import app
from resorb.cohort import make_cohort
from resorb.config import Params
from resorb.errors import TrainingError
from resorb.evaluation import (
    MEASURES,
    MIN_PER_CLASS,
    OUTPUT_FILES,
    SMALL_CELL,
    assess,
    external_validation,
)
from resorb.label import labelled_rows
from resorb.metrics import (
    bootstrap_calibration,
    bootstrap_calibration_curve,
    calibration_errors,
    observed_expected_ratio,
)
from resorb.metrics.weighted import repeated_quantile
from resorb.scoring.model import load_model
from resorb.training import subgroup_table
from tests.factories import FAST_PARAMS
from tests.store import PLANTED_ID, PLANTED_SITE

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"
SEEDS = (101, 102, 103, 104)
runner = CliRunner()


@pytest.fixture(scope="module")
def reference():
    return load_model(REFERENCE)


@pytest.fixture(scope="module")
def params():
    """Packaged defaults with 200 resamples: intervals precise enough to test coverage."""
    return Params.resolve(None, {"training.n_boot": 200})


@dataclass(frozen=True)
class Shifted:
    """A model whose log-odds are the base model's plus ``shift``: deliberately miscalibrated."""

    base: object
    shift: float

    def __getattr__(self, name):
        return getattr(self.base, name)

    def predict(self, X):
        return expit(logit(np.clip(self.base.predict(X), 1e-8, 1 - 1e-8)) + self.shift)

    def describe(self):
        return f"{self.base.describe()} shifted by {self.shift:+g} logit"


def contains(ev, metric: str, value: float) -> bool:
    _, low, high = ev.estimate(metric)
    return low <= value <= high


# ---------------------------------------------------------------------- metrics added


def test_repeated_quantile_is_the_quantile_of_the_resampled_values():
    rng = np.random.default_rng(0)
    values, counts = rng.random((5, 40)), rng.integers(0, 4, (5, 40)).astype(float)
    for q in (0.5, 0.9):
        expected = [np.quantile(np.repeat(v, c.astype(int)), q) for v, c in zip(values, counts,
                                                                                  strict=True)]
        np.testing.assert_allclose(repeated_quantile(values, counts, q), expected)
        np.testing.assert_allclose(repeated_quantile(values, np.ones_like(values), q),
                                   np.quantile(values, q, axis=1))


def test_calibration_summaries_agree_with_the_plain_metrics():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, 400)
    y = (rng.random(400) < p).astype(float)
    table = bootstrap_calibration(y, p, n_boot=50, seed=3).set_index("metric")
    errors = calibration_errors(y, p)
    assert table.at["o_e_ratio", "estimate"] == pytest.approx(observed_expected_ratio(y, p))
    assert observed_expected_ratio(y, p) == pytest.approx(y.sum() / p.sum())
    for k in ("ici", "e50", "e90", "emax"):
        assert table.at[k, "estimate"] == pytest.approx(errors[k])
    assert (table["ci_low"] <= table["ci_high"]).all()
    curve = bootstrap_calibration_curve(y, p, n_boot=50, seed=3)
    assert list(curve.columns) == ["predicted", "observed", "ci_low", "ci_high"]
    inside = (curve["ci_low"] <= curve["observed"] + 1e-12) & (curve["observed"]
                                                               <= curve["ci_high"] + 1e-12)
    assert inside.mean() > 0.9


def test_subgroup_table_hides_small_groups_only_when_asked():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"sex": ["female"] * 6 + ["male"] * 94,
                          "site": ["Clinic North"] * 50 + ["Clinic South"] * 50})
    y = rng.integers(0, 2, 100)
    p = rng.uniform(0.2, 0.8, 100)
    plain = subgroup_table(frame, y, p)
    assert "note" not in plain.columns
    assert plain.loc[plain["subgroup"] == "female", "rows"].item() == 6
    hidden = subgroup_table(frame, y, p, hide_below=SMALL_CELL).set_index("subgroup")
    assert hidden.loc["female", "note"] == f"fewer than {SMALL_CELL} rows"
    assert hidden.loc["female"].drop(["variable", "note"]).isna().all()
    assert hidden.loc["male", "rows"] == 94 and hidden.loc["male", "note"] == ""
    assert {"site 1", "site 2"} <= set(hidden.index)
    assert not hidden.index.str.contains("Clinic").any()
    assert "o_e_ci_low" not in hidden.columns
    boot = subgroup_table(frame, y, p, hide_below=SMALL_CELL, o_e_boot=100).set_index("subgroup")
    assert np.isnan(boot.loc["female", "o_e_ci_low"])  # hidden, and under 30 rows anyway
    male = boot.loc["male"]
    assert male["o_e_ci_low"] < male["o_e_ratio"] < male["o_e_ci_high"]


# ---------------------------------------------------------- against the generator's truth


@pytest.fixture(scope="module")
def literature_runs(reference, params):
    """Per seed: the reference predictor and the true probabilities on a fresh cohort."""
    out = []
    for seed in SEEDS:
        frame = make_cohort(1500, seed=seed)
        data = labelled_rows(frame, reference.metadata.label_rule)
        truth = assess(data.y, data.frame["true_resorption_probability"].to_numpy(float),
                       params.training, seed, 0.5)["metrics"].set_index("metric")
        ev = external_validation(reference, frame, params,
                                 source=DataSource("synthetic", "literature", seed, 1500))
        out.append((frame, truth, ev))
    return out


@pytest.mark.slow
def test_the_true_probabilities_are_calibrated(literature_runs):
    covered = {"o_e_ratio": 0, "calibration_slope": 0, "calibration_intercept": 0}
    for _, truth, _ in literature_runs:
        for metric, ideal in (("o_e_ratio", 1.0), ("calibration_slope", 1.0),
                              ("calibration_intercept", 0.0)):
            covered[metric] += truth.at[metric, "ci_low"] <= ideal <= truth.at[metric, "ci_high"]
    # 95% intervals: all four seeds would be expected; at least three of four asked
    assert all(n >= len(SEEDS) - 1 for n in covered.values()), covered


@pytest.mark.slow
def test_the_reference_predictor_is_calibrated_on_a_fresh_literature_cohort(literature_runs):
    oe = [ev.estimate("o_e_ratio")[0] for _, _, ev in literature_runs]
    assert abs(np.median(oe) - 1) < 0.05
    assert sum(contains(ev, "o_e_ratio", 1.0) for _, _, ev in literature_runs) >= 3
    assert sum(contains(ev, "calibration_slope", 1.0) for _, _, ev in literature_runs) >= 3
    ev = literature_runs[0][2]
    assert list(ev.metrics["metric"]) == list(MEASURES)
    assert ev.metrics["level"].iloc[0] == "mean calibration"
    assert 0 < ev.events < ev.rows
    assert "operated before follow-up" in ev.account
    assert ev.sample_size.startswith("Riley 2021") and ev.sample_size_ok is False
    assert f"{ev.rows:,} rows ({ev.events:,} events)" in ev.sample_size
    assert ev.notes == ()


@pytest.mark.slow
def test_predictions_one_logit_too_high_give_o_e_well_below_one(literature_runs, reference,
                                                                params):
    frame = literature_runs[0][0]
    ev = external_validation(Shifted(reference, 1.0), frame, params)
    est, _low, high = ev.estimate("o_e_ratio")
    assert high < 0.9 and est < 0.85
    intercept, _i_low, i_high = ev.estimate("calibration_intercept")
    assert abs(intercept + 1.0) < 0.2 and i_high < 0
    assert contains(ev, "calibration_slope", 1.0)  # a shift leaves the slope alone
    assert ev.estimate("auroc")[0] == pytest.approx(literature_runs[0][2].estimate("auroc")[0])


@pytest.mark.slow
def test_a_cohort_that_resorbs_more_gives_o_e_above_one(reference):
    shifted = Params.resolve(None, {"training.n_boot": 100,
                                    "cohort.presets.literature.parameters.resorption.intercept":
                                        1.0})
    from resorb.jobs import load_training_data

    data = load_training_data(None, 1500, "literature", 101, params=shifted)
    ev = external_validation(reference, data.frame, shifted, source=data.source)
    assert ev.estimate("o_e_ratio")[1] > 1.05
    assert ev.estimate("calibration_intercept")[1] > 0


def test_label_rule_of_the_card_is_used_and_a_difference_is_said(reference):
    other = Params.resolve(FAST_PARAMS, {"label.min_reduction_pct": 50,
                                         "label.name": "half_volume"})
    frame = make_cohort(400, seed=9)
    ev = external_validation(reference, frame, other)
    rule = reference.metadata.label_rule
    assert ev.label_rule == rule
    expected = labelled_rows(frame, rule)
    assert (ev.rows, ev.events) == (len(expected.y), expected.n_events)
    assert any("model card's label rule" in n and "half_volume" in n for n in ev.notes)


def test_a_cohort_drawn_with_the_training_seed_is_flagged(reference):
    card = reference.metadata.data_source
    frame = make_cohort(300, seed=card.seed)
    ev = external_validation(reference, frame, Params.resolve(FAST_PARAMS),
                             source=DataSource("synthetic", card.preset, card.seed, 300))
    assert any("not an external validation" in n for n in ev.notes)


# ----------------------------------------------------------------------------- bad input


def _few_non_events(n_non: int) -> pd.DataFrame:
    frame = make_cohort(500, seed=4)
    data = labelled_rows(frame, Params.default().label)
    keep = np.r_[np.flatnonzero(data.y == 1), np.flatnonzero(data.y == 0)[:n_non]]
    return data.frame.iloc[np.sort(keep)].reset_index(drop=True)


@pytest.mark.parametrize(("frame", "message"), [
    (lambda: make_cohort(200, seed=1).drop(
        columns=["resorbed", "resorption_grade", "volume_followup_mm3"]),
     "no row has an observed outcome"),
    (lambda: _few_non_events(0), "no non-events"),
    (lambda: _few_non_events(MIN_PER_CLASS - 1),
     f"too few rows for external validation: .* resorbed and {MIN_PER_CLASS - 1} not"),
])
def test_data_that_cannot_validate_are_refused(reference, frame, message):
    with pytest.raises(TrainingError, match=message):
        external_validation(reference, frame(), Params.resolve(FAST_PARAMS))


# ---------------------------------------------------------------------------------- CLI


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    resorb = Path(sys.executable).with_name("resorb")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([str(resorb), "--params", str(FAST_PARAMS), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env=env | {"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"})


@pytest.mark.slow
def test_cli_writes_the_folder_and_nothing_else(tmp_path):
    ran = _cli(tmp_path, "evaluate", "--model", str(REFERENCE), "--synthetic", "400",
               "--seed", "5", "--out", "out", "--no-track")
    assert ran.returncode == 0, ran.stderr
    assert "mean calibration" in ran.stdout and "weak calibration" in ran.stdout
    assert "clinical usefulness" in ran.stdout and "site 1" in ran.stdout
    assert "warning: below the minimum sample size" in ran.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(OUTPUT_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no store, no temp folder
    metrics = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert list(metrics["metric"]) == list(MEASURES)
    assert (tmp_path / "out" / "calibration.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_cli_unknown_model_is_exit_2_with_nothing_written(tmp_path):
    ran = _cli(tmp_path, "evaluate", "--model", "no/such/model", "--synthetic", "100",
               "--out", "out")
    assert ran.returncode == 2
    assert ran.stderr.startswith("error: no model at no/such/model")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kind", "message"), [
    ("no_outcome", "no row has an observed outcome"),
    ("single_class", "the outcome has no non-events"),
    ("too_few", "too few rows for external validation"),
])
def test_cli_bad_data_is_exit_2_with_nothing_written_or_logged(tmp_path, monkeypatch, kind,
                                                              message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = {"no_outcome": lambda: make_cohort(150, seed=1).drop(
                 columns=["resorbed", "resorption_grade", "volume_followup_mm3"]),
             "single_class": lambda: _few_non_events(0),
             "too_few": lambda: _few_non_events(3)}[kind]()
    frame.to_csv(tmp_path / "data.csv", index=False)
    result = runner.invoke(app, ["--params", str(FAST_PARAMS), "evaluate", "--model",
                                 str(REFERENCE), "--data", "data.csv", "--out", "out"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_cli_refuses_an_out_folder_holding_other_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["evaluate", "--model", str(REFERENCE), "--synthetic", "100",
                                 "--out", "out", "--no-track"])
    assert result.exit_code == 2 and "holds files evaluate did not write" in result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_cli_refuses_an_out_folder_where_nothing_can_be_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["evaluate", "--model", str(REFERENCE), "--synthetic", "100",
                                 "--out", "/proc/evaluation", "--no-track"])
    assert result.exit_code == 2 and "cannot write in /proc" in result.output
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ tracking and report


@pytest.fixture(scope="module")
def logged(tracking_store, tmp_path_factory):
    """One evaluation of the store's champion on a file with planted identifiers."""
    import mlflow

    folder = tmp_path_factory.mktemp("evaluation-data")
    frame = make_cohort(500, seed=21)
    ids = frame["patient_id"].astype(object).to_numpy().copy()
    ids[0] = PLANTED_ID
    frame = frame.assign(patient_id=ids,
                         site=frame["site"].astype(object).replace({"site_B": PLANTED_SITE}))
    data = folder / "other_hospital.csv"
    frame.to_csv(data, index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tracking_store.folder)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = runner.invoke(app, ["--params", str(FAST_PARAMS), "evaluate", "--data",
                                     str(data), "--out", str(folder / "out")])
        from resorb import tracking

        tracking.configure()
        champion = load_model("models:/resorb@champion")
        table = tracking.list_evaluations(model_sha256=champion.metadata.skops_sha256)
        listed = runner.invoke(app, ["evaluations"])
    mlflow.set_tracking_uri(None)
    return result, table, champion, folder, listed


@pytest.mark.slow
def test_an_evaluation_run_is_linked_to_the_model_version(logged, in_store):
    result, table, champion, _, listed = logged
    assert result.exit_code == 0, result.output
    assert "logged: evaluation run" in result.output
    assert len(table) == 1
    row = table.iloc[0]
    assert row["model_version"] == champion.version and row["data_kind"] == "real"
    assert row["rows"] > 0 and row["o_e_ratio_ci_low"] < row["o_e_ratio"]
    from resorb import tracking

    run = tracking.get_run(row["run_id"])
    assert run.data.tags["kind"] == "evaluation"
    assert run.data.tags["evaluated_model_name"] == "resorb"
    assert run.data.tags["evaluated_model_sha256"] == champion.metadata.skops_sha256
    assert run.data.tags["evaluated_model_from"] == "registry"
    record = tracking.read_run(row["run_id"])
    assert set(record.figures) == {"calibration", "decision_curve"}
    assert list(record.metrics["metric"]) == list(MEASURES)
    assert record.fingerprint is not None and record.fingerprint.rows == int(row["rows"])
    assert listed.exit_code == 0 and row["run_id"][:8] in listed.output
    assert tracking.list_evaluations(model_sha256="0" * 64).empty


@pytest.mark.slow
def test_no_identifier_reaches_the_evaluation_run(logged, in_store):
    result, table, _, folder, _ = logged
    from resorb import tracking

    run = tracking.get_run(table.iloc[0]["run_id"])
    blob = repr(run.data.params) + repr(run.data.tags) + repr(run.data.metrics)
    for planted in (PLANTED_ID, PLANTED_SITE, "other_hospital"):
        assert planted not in blob and planted not in result.output
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    files = [p for p in artifacts.rglob("*") if p.is_file()]
    files += [p for p in (folder / "out").iterdir()]
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        for planted in (PLANTED_ID, PLANTED_SITE, "site_", "other_hospital"):
            assert planted.encode() not in data, f"{planted} leaked into {path}"


@pytest.mark.slow
def test_the_report_shows_the_evaluations(logged, in_store, tmp_path):
    from resorb import report
    from resorb.report.job import _evaluations
    from resorb.report.sections import EvaluationsFacts

    _, table, champion, _, _ = logged
    facts = _evaluations(champion.metadata.skops_sha256)
    html = report.render_section(report.Section("evaluations", "External validation", facts))
    assert table.iloc[0]["run_id"] in html and "data:image/png;base64," in html
    assert "O/E" in html and "below the Riley minimum" in html
    none = report.render_section(report.Section("evaluations", "External validation",
                                                EvaluationsFacts(())))
    assert "No external validation of this model is recorded" in none
    out = tmp_path / "report.html"
    made = report.make_report(Params.resolve(FAST_PARAMS), out=out, log=False, shap_rows=100)
    text = out.read_text(encoding="utf-8")
    assert made.path == out and "External validation on other data" in text
    assert table.iloc[0]["run_id"] in text and PLANTED_SITE not in text
