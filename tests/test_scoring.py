"""Batch scoring: score_frame, score_file and `resorb score`, on real files and real MLflow.

One small logistic model is trained once, logged, registered, promoted and exported through
:mod:`resorb.tracking` (a SQLite store in a temporary folder); a small random forest is saved
in the exported-folder layout only (no MLflow), for the tree path of the explanations.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb import schema
from resorb.card import DataSource, ModelCard
from resorb.cli import app
from resorb.cohort import make_cohort
from resorb.config import Params, RiskBands, ScoringParams
from resorb.errors import DataValidationError, InputError, ModelCardError, ModelNotFoundError
from resorb.explain import explain, top_reasons
from resorb.features import model_input
from resorb.files import write_table
from resorb.intake import conform, conform_rows
from resorb.label import labelled_rows
from resorb.models import CandidateSpec, build_model
from resorb.scoring import (
    default_model,
    load_model,
    out_of_range,
    output_columns,
    prepare_rows,
    score_file,
    score_frame,
)
from resorb.serialization import save_estimator

PLANTED = "PLANTED-ID-Q9"
IDS = ["patient_id", "site", "baseline_date"]
RESORB = Path(sys.executable).with_name("resorb")


# --------------------------------------------------------------------------------- factories


def train(spec: CandidateSpec, n: int = 1500, seed: int = 11):
    """A small fitted candidate, its training input and its model card (without the hash)."""
    cohort = make_cohort(n, seed=seed)
    data = labelled_rows(cohort, Params.default().label)
    X = model_input(data.frame)
    model = build_model(spec, seed=seed).fit(X, data.y)
    ranges = {}
    for name in X.columns:
        s = X[name]
        if pd.api.types.is_numeric_dtype(s.dtype):
            ranges[name] = [float(s.min()), float(s.max())]
        else:
            ranges[name] = sorted(str(v) for v in s.dropna().unique())
    card = card_for(X, spec.kind, spec.calibration, ranges,
                    DataSource("synthetic", "literature", seed, n), seed)
    return model, X, card


def card_for(X: pd.DataFrame, candidate: str, calibration: str = "none",
             ranges: dict | None = None, source: DataSource = DataSource("real"),
             seed: int = 0) -> ModelCard:
    """The model card of a test model fitted on ``X`` (its hash is added when written)."""
    return ModelCard(candidate=candidate, kind=candidate, calibration=calibration,
                     data_source=source, seed=seed, label_rule=Params.default().label,
                     decision_threshold=0.5, resorb_version="test", metrics={},
                     training_ranges=ranges or {}, features=tuple(X.columns), skops_sha256="")


def export_folder(model, card: ModelCard, folder: Path) -> Path:
    """The exported-model layout without MLflow: artifacts/model.skops + artifacts/resorb.json."""
    (folder / "artifacts").mkdir(parents=True)
    skops = save_estimator(model, folder / "artifacts" / "model.skops")
    (folder / "artifacts" / "resorb.json").write_text(card.with_skops_hash(skops).to_json())
    return folder


@dataclass(frozen=True)
class Registry:
    """A tracking store holding resorb version 1 (@champion), and its exported folder."""

    folder: Path
    exported: Path


def make_registry(folder: Path) -> Registry:
    """Log, register, promote and export a small logistic model with the real MLflow."""
    import mlflow

    from resorb import tracking

    model, _, meta = train(CandidateSpec(kind="logistic", params={"C": 1.0, "spline_knots": 4}))
    mp = pytest.MonkeyPatch()
    mp.chdir(folder)
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        tracking.configure()
        with tracking.start_run("scoring-tests"):
            info = tracking.log_model(model, meta)
        version = tracking.register(info.model_uri, {"candidate": "logistic"})
        tracking.promote(version, "champion")
        exported = tracking.export("models:/resorb@champion", folder / "models" / "reference")
    finally:
        mlflow.set_tracking_uri(None)
        mp.undo()
    return Registry(folder, exported)


def candidates(n: int = 40, seed: int = 5, **cells: dict[int, object]) -> pd.DataFrame:
    """``n`` follow-up candidates as text cells (like a CSV), without outcomes.

    ``cells`` sets single cells: ``vas_leg={3: "75"}``; None empties a cell.
    """
    frame = make_cohort(n, seed=seed)
    keep = [c for c in frame.columns if c not in schema.OUTCOMES
            and schema.BY_NAME[c].role is not schema.Role.SYNTHETIC]
    text = frame[keep].astype(object).where(frame[keep].notna(), None)
    text = text.map(lambda v: v if v is None or isinstance(v, str) else
                    (str(v).lower() if isinstance(v, bool | np.bool_) else str(v)))
    text["baseline_date"] = frame["baseline_date"].dt.strftime("%Y-%m-%d").astype(object)
    text["patient_id"] = [f"P{i:04d}" for i in range(n)]
    for column, changes in cells.items():
        for row, value in changes.items():
            text.loc[row, column] = value
    return text.astype("str")


def written(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` written as CSV or Parquet (by suffix)."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        write_table(frame, path)
    return path


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"patient_id": str, "site": str, "model_version": str})
    return pd.read_parquet(path)


def no_partials(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Registry:
    return make_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def logistic(registry):
    return load_model(registry.exported)


@pytest.fixture(scope="session")
def forest(tmp_path_factory):
    spec = CandidateSpec(kind="random_forest", calibration="sigmoid",
                         params={"n_estimators": 15, "min_samples_leaf": 10})
    model, _, meta = train(spec)
    return load_model(export_folder(model, meta, tmp_path_factory.mktemp("forest")))


@pytest.fixture
def run_cli(monkeypatch):
    """Invoke the CLI in-process with no registry in sight (the cwd is the test's tmp dir)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(app, ["score", *map(str, args)])

    return invoke


# ------------------------------------------------------------------------------ output shape


@pytest.mark.parametrize(("src", "dst"), [(".csv", ".csv"), (".parquet", ".parquet"),
                                          (".csv", ".parquet"), (".parquet", ".csv")])
def test_one_row_per_input_row_in_order_with_the_promised_columns(tmp_path, logistic, src,
                                                                  dst):
    frame = candidates(30, vas_leg={4: "75"})
    rows = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)  # order is not sorted
    out = tmp_path / f"scored{dst}"
    summary = score_file(written(rows, tmp_path / f"in{src}"), out, logistic, explain_k=2)
    result = read(out)
    assert list(result.columns) == output_columns(IDS, 2)
    assert result["patient_id"].tolist() == rows["patient_id"].tolist()
    assert result["site"].fillna("").tolist() == rows["site"].fillna("").tolist()
    assert summary.rows_in == 30 == summary.scored + summary.rejected
    assert (summary.scored, summary.rejected) == (29, 1)
    assert set(result["status"]) == {"scored", "rejected"}
    assert result["model_name"].unique().tolist() == ["resorb"]
    assert result["model_version"].astype(str).unique().tolist() == ["1"]
    scored = result[result["status"] == "scored"]
    assert scored["p_resorption"].between(0, 1).all()
    assert set(scored["risk_band"]) <= {"low", "intermediate", "high"}


def test_score_frame_is_pure_and_keeps_the_index(logistic):
    frame = candidates(12).set_axis(range(100, 112))
    before = frame.copy()
    result = score_frame(frame, logistic, explain_k=0)
    pd.testing.assert_frame_equal(frame, before)
    assert result.index.tolist() == list(range(100, 112))
    assert list(result.columns) == output_columns(IDS, 0)


@pytest.mark.parametrize(("p", "band"), [(0.0, "low"), (0.2999, "low"), (0.3, "intermediate"),
                                         (0.5999, "intermediate"), (0.6, "high"), (1.0, "high")])
def test_risk_bands_are_closed_below(logistic, p, band):
    result = score_frame(candidates(3), logistic, explain_k=0,
                         predict=lambda X: np.full(len(X), p))
    assert result["risk_band"].tolist() == [band] * 3


@pytest.mark.parametrize(("bands", "match"), [
    ({"cuts": [0.3, 0.6], "labels": ["low", "high"]}, "one label more than cut-points"),
    ({"cuts": [0.6, 0.3], "labels": ["a", "b", "c"]}, "increase strictly"),
    ({"cuts": [0.0, 0.5], "labels": ["a", "b", "c"]}, "within"),
])
def test_risk_bands_are_validated(bands, match):
    with pytest.raises(ValueError, match=match):
        RiskBands(**bands)


# ------------------------------------------------------------------------ red flags, rejects


@pytest.mark.parametrize(("flags", "words"), [
    ({"cauda_equina": "true"}, "cauda equina syndrome"),
    ({"progressive_motor_deficit": "yes"}, "progressive or profound motor deficit"),
    ({"cauda_equina": "1", "progressive_motor_deficit": "true"},
     "cauda equina syndrome and progressive or profound motor deficit"),
])
def test_red_flags_override_even_a_certain_resorption(logistic, flags, words):
    cells = {flag: dict.fromkeys(range(4), "false") for flag in schema.RED_FLAGS}
    for flag, value in flags.items():
        cells[flag][1] = value
    frame = candidates(4, **cells)
    result = score_frame(frame, logistic, explain_k=0,
                         predict=lambda X: np.full(len(X), 0.999))
    assert result["status"].tolist() == ["scored"] * 4
    assert result["eligible_for_waiting"].tolist() == [True, False, True, True]
    assert result.loc[1, "eligibility_reason"] == (
        f"red flag: {words}; needs urgent surgical assessment, not watchful waiting")
    assert result.loc[0, "eligibility_reason"] == (
        "P(resorption) at or above the decision threshold 0.5")


def test_rejected_rows_are_kept_counted_and_explained(tmp_path, logistic):
    frame = candidates(10, vas_leg={2: "75", 5: "abc"}, sex={2: "unknown", 7: "F"},
                       age={9: None})
    summary = score_file(written(frame, tmp_path / "in.csv"), tmp_path / "out.csv", logistic,
                         explain_k=3)
    result = read(tmp_path / "out.csv")
    assert (summary.rows_in, summary.scored, summary.rejected) == (10, 6, 4)
    assert summary.exit_code == 3
    rejected = result[result["status"] == "rejected"]
    assert rejected.index.tolist() == [2, 5, 7, 9]
    assert rejected["reason"].tolist() == [
        "sex: unknown category (found 'unknown', allowed female / male); "
        "vas_leg above 10 points (found '75', allowed 0-10)",
        "vas_leg: not a number (found 'abc')",
        "sex: unknown category (found 'F', allowed female / male)", "age missing"]
    assert rejected["p_resorption"].isna().all() and rejected["horizon_days"].isna().all()
    assert rejected["reason_1"].isna().all() and rejected["risk_band"].isna().all()
    assert not rejected["eligible_for_waiting"].any()
    assert rejected["eligibility_reason"].str.startswith("not scored").all()
    assert result.loc[result["status"] == "scored", "reason"].isna().all()  # empty cells
    # counted by rule: 'unknown' and 'F' are one reason
    assert dict(summary.rejections) == {"sex: unknown category": 2,
                                        "vas_leg above 10 points": 1,
                                        "vas_leg: not a number": 1, "age missing": 1}


def test_conform_rows_agrees_with_conform(logistic):
    """Same values and the same bad rows as the grouped report (duplicates aside)."""
    frame = pd.concat([candidates(600, seed=s) for s in (1, 2)], ignore_index=True)
    frame["patient_id"] = [f"P{i:05d}" for i in range(len(frame))]
    rng = np.random.default_rng(0)
    for column, bad in [("vas_leg", "75"), ("sex", "X"), ("smoker", "maybe"), ("age", None),
                        ("baseline_date", "2020-13-01"), ("migration_grade", "1.5"),
                        ("vas_leg", "-1"), ("level", " l4-l5 ")]:
        frame.loc[rng.choice(len(frame), 40, replace=False), column] = bad
    expected, report = conform(frame, purpose="scoring")
    values, reasons = conform_rows(frame, purpose="scoring")
    pd.testing.assert_frame_equal(values, expected[values.columns])
    np.testing.assert_array_equal((reasons != "").to_numpy(), report.bad_rows)
    assert not reasons.str.contains("P0").any()  # identifiers are never quoted


# --------------------------------------------------------------------- identifiers, exit codes


@pytest.mark.slow
def test_cli_subprocess_passes_identifiers_through_but_never_prints_them(tmp_path, registry):
    frame = candidates(8, vas_leg={3: "75"}, patient_id={3: PLANTED},
                       site={3: f"Hospital {PLANTED}"})
    src = written(frame, tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run([str(RESORB), "score", "-i", str(src), "-o", str(out), "--model",
                           str(registry.exported)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert PLANTED not in proc.stderr + proc.stdout
    assert "8 rows in = 7 scored + 1 rejected" in proc.stderr
    result = read(out)
    assert result.loc[3, "patient_id"] == PLANTED
    assert result.loc[3, "site"] == f"Hospital {PLANTED}"
    assert PLANTED not in result.loc[3, "reason"]


@pytest.mark.parametrize(("cells", "code", "counts"), [
    ({}, 0, "6 rows in = 6 scored + 0 rejected"),
    ({"vas_leg": {0: "75"}}, 3, "6 rows in = 5 scored + 1 rejected"),
    ({"vas_leg": dict.fromkeys(range(6), "75")}, 2, "6 rows in = 0 scored + 6 rejected"),
])
def test_exit_codes(tmp_path, run_cli, registry, cells, code, counts):
    src = written(candidates(6, **cells), tmp_path / "in.parquet")
    result = run_cli("-i", src, "-o", tmp_path / "out.csv", "--model", registry.exported)
    assert result.exit_code == code, result.output
    assert counts in result.stderr
    assert len(read(tmp_path / "out.csv")) == 6  # written even when nothing could be scored


def _missing_column(tmp_path: Path) -> list:
    return ["-i", written(candidates(5).drop(columns="age"), tmp_path / "in.csv")]


def _duplicate_column(tmp_path: Path) -> list:
    path = tmp_path / "in.csv"
    frame = candidates(5)
    frame.insert(0, "age_copy", frame["age"])
    frame.to_csv(path, index=False, header=["age", *frame.columns[1:]])
    return ["-i", path]


def _empty_file(tmp_path: Path) -> list:
    (tmp_path / "in.csv").write_text("")
    return ["-i", tmp_path / "in.csv"]


def _header_only(tmp_path: Path) -> list:
    (tmp_path / "in.csv").write_text(",".join(candidates(1).columns) + "\n")
    return ["-i", tmp_path / "in.csv"]


def _unknown_folder(tmp_path: Path) -> list:
    return ["-i", written(candidates(5), tmp_path / "in.csv"), "--model", tmp_path / "nope"]


def _uri_without_registry(tmp_path: Path) -> list:
    return ["-i", written(candidates(5), tmp_path / "in.csv"), "--model",
            "models:/resorb@champion"]


def _foreign_model(tmp_path: Path) -> list:
    """A model fitted on a column resorb does not know: no input can match it."""
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "vas_leg_100": [10.0, 80.0, 20.0, 90.0]})
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    folder = export_folder(model, card_for(X, "foreign"), tmp_path / "foreign")
    return ["-i", written(candidates(5), tmp_path / "in.csv"), "--model", folder]


@pytest.mark.parametrize(("case", "message"), [
    (_missing_column, "'age' is required but absent"),
    (_duplicate_column, "appears 2 times"),
    (_empty_file, "the file is empty"),
    (_header_only, "no data rows"),
    (_unknown_folder, "no such folder"),
    (_uri_without_registry, "no model registry here"),
    (_foreign_model, "'vas_leg_100'"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, run_cli, registry, monkeypatch, case,
                                              message):
    monkeypatch.chdir(tmp_path)
    args = case(tmp_path)
    if "--model" not in args:
        args += ["--model", registry.exported]
    result = run_cli(*args, "-o", tmp_path / "out.parquet")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.parquet").exists() and no_partials(tmp_path) == []


def test_output_may_not_overwrite_the_input(tmp_path, logistic):
    src = written(candidates(5), tmp_path / "in.csv")
    with pytest.raises(InputError, match="overwrite the input"):
        score_file(src, src, logistic)


# --------------------------------------------------------------------------- atomic writing


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_interrupted_run_leaves_no_output_and_no_partial_file(tmp_path, logistic, monkeypatch,
                                                                 stop, suffix):
    import resorb.scoring.batch as batch

    src = written(candidates(40), tmp_path / "in.parquet")
    out = tmp_path / f"out{suffix}"
    out.write_text("yesterday's scores")
    real, calls = batch.score_frame, []

    def fail_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise stop("interrupted mid-stream")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "score_frame", fail_on_the_third_chunk)
    with pytest.raises(stop):
        score_file(src, out, logistic, chunk_rows=10, explain_k=0)
    assert len(calls) == 3
    assert out.read_text() == "yesterday's scores"
    assert no_partials(tmp_path) == []


# ------------------------------------------------------------------ chunks, explanations


@pytest.mark.slow  # a forest scored twice in chunks, about 5 s
@pytest.mark.parametrize(("model_name", "suffix"), [("logistic", ".csv"),
                                                   ("forest", ".parquet")])
def test_chunked_output_equals_unchunked_output(tmp_path, request, suffix, model_name):
    model = request.getfixturevalue(model_name)
    frame = candidates(45, vas_leg={3: "75", 30: "abc"}, followup_days={7: None, 8: None})
    src = written(frame, tmp_path / f"in{suffix}")
    score_file(src, tmp_path / "whole.parquet", model, chunk_rows=1000)
    score_file(src, tmp_path / "chunked.parquet", model, chunk_rows=16)
    whole, chunked = read(tmp_path / "whole.parquet"), read(tmp_path / "chunked.parquet")
    pd.testing.assert_frame_equal(whole, chunked)
    assert whole["reason_3"].notna().sum() == 43


def test_the_first_chunk_is_conformed_once_for_the_reference_and_the_scores(
        tmp_path, logistic, monkeypatch):
    """The reference pass's cell checks of the first chunk are reused to score it (the same
    chunk when chunk_rows >= 2 max_background); with smaller chunks each pass checks its own."""
    from resorb.scoring import frame as frame_module

    calls = []

    def counting(df, *args, **kwargs):
        calls.append(len(df))
        return conform_rows(df, *args, **kwargs)

    monkeypatch.setattr(frame_module, "conform_rows", counting)
    src = written(candidates(30, vas_leg={4: "75"}), tmp_path / "in.csv")
    one = score_file(src, tmp_path / "one.csv", logistic, chunk_rows=1000, explain_k=2)
    assert calls == [30]
    calls.clear()
    score_file(src, tmp_path / "many.csv", logistic, chunk_rows=20, explain_k=2)
    assert calls == [30, 20, 10]  # the reference pass reads 400 rows at a time
    assert one.scored == 29
    pd.testing.assert_frame_equal(read(tmp_path / "one.csv"), read(tmp_path / "many.csv"))


@pytest.mark.parametrize("model_name", ["logistic", "forest"])
def test_explanations_add_up_to_the_probability(request, model_name):
    model = request.getfixturevalue(model_name)
    frame = candidates(25, sex={4: "X"})
    X = prepare_rows(frame, model, 180)[3]
    background = X.head(10)
    result = score_frame(frame, model, 180, explain_k=4, background=background)
    scored = result[result["status"] == "scored"]
    expl = explain(model.estimator, X, background=background if model.is_linear else None)
    total = expl.base_value + expl.values.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, scored["p_resorption"].to_numpy(), rtol=0, atol=1e-6)
    top = top_reasons(expl, 4)
    for i in range(1, 5):
        assert scored[f"reason_{i}"].tolist() == top[f"reason_{i}"].tolist()
    assert scored["reason_1"].str.match(r"^[a-z_0-9]+ = .+: [+-]\d\.\d+$").all()


# -------------------------------------------------------------------- horizon, ranges, mapping


def test_followup_days_column_wins_row_by_row_over_the_horizon(logistic):
    frame = candidates(6, followup_days={0: None, 1: None, 2: "720"})
    with_column = score_frame(frame, logistic, horizon_days=365, explain_k=0)
    assert with_column["horizon_days"].tolist()[:3] == [365, 365, 720]
    assert with_column["horizon_days"].tolist()[3:] == [
        int(float(v)) for v in frame["followup_days"][3:]]
    without = score_frame(frame.drop(columns="followup_days"), logistic, horizon_days=720,
                          explain_k=0)
    assert without["horizon_days"].tolist() == [720] * 6
    assert with_column.loc[2, "p_resorption"] == without.loc[2, "p_resorption"]
    shorter = score_frame(frame.drop(columns="followup_days"), logistic, horizon_days=60,
                          explain_k=0)
    assert (shorter["p_resorption"] <= without["p_resorption"] + 1e-12).all()  # monotone


def test_out_of_range_names_the_input_and_the_bound(logistic):
    top = logistic.training_ranges["herniation_volume_mm3"][1]
    frame = candidates(3, herniation_volume_mm3={1: "19999"}, followup_days={2: "3000"})
    result = score_frame(frame, logistic, explain_k=0)
    high = logistic.training_ranges["followup_days"][1]
    listed = [cell.split(", ") if cell else [] for cell in result["out_of_range"]]
    assert f"herniation_volume_mm3 (19999 > {top:g})" in listed[1]
    assert f"followup_days (3000 > {high:g})" in listed[2]
    assert not any(item.startswith("followup_days") for item in listed[0] + listed[1])


def test_out_of_range_of_numbers_and_categories():
    X = pd.DataFrame({"age": [17.5, 50.0, np.nan, 90.0],
                      "level": pd.Series(["L4-L5", "L1-L2", None, "L1-L2"], dtype="str")})
    ranges = {"age": [18.0, 84.0], "level": ["L3-L4", "L4-L5", "L5-S1"], "bmi": [15.0, 40.0]}
    assert out_of_range(X, ranges).tolist() == [
        "age (17.5 < 18)", "level (L1-L2 not seen in training)", "",
        "age (90 > 84), level (L1-L2 not seen in training)"]


def test_mapping_renames_converts_and_rejects_filtered_rows(tmp_path, logistic):
    frame = candidates(8)
    source = frame.rename(columns={"patient_id": "MRN", "vas_leg": "Leg pain (0-100)"})
    source["Leg pain (0-100)"] = (frame["vas_leg"].astype(float) * 10).astype(str)
    source["Herniation"] = ["yes"] * 6 + ["no"] * 2
    (tmp_path / "map.yaml").write_text(
        "filter:\n  - {column: Herniation, equals: 'yes'}\n"
        "columns:\n  patient_id: {from: MRN, format: 'H-{}'}\n"
        "  vas_leg: {from: 'Leg pain (0-100)', unit: 0-100}\n")
    out = tmp_path / "out.csv"
    summary = score_file(written(source, tmp_path / "in.csv"), out, logistic,
                         mapping=tmp_path / "map.yaml", explain_k=0)
    result = read(out)
    assert (summary.rows_in, summary.scored, summary.rejected) == (8, 6, 2)
    assert result["patient_id"].tolist() == [f"H-P{i:04d}" for i in range(8)]
    assert result["reason"].fillna("").tolist() == [""] * 6 + ["left out by the mapping's "
                                                                "filter"] * 2
    direct = score_frame(frame, logistic, explain_k=0)
    np.testing.assert_allclose(result["p_resorption"][:6], direct["p_resorption"][:6],
                               rtol=0, atol=1e-12)


def test_unknown_and_outcome_columns_are_ignored_and_listed(tmp_path, logistic):
    frame = candidates(4).assign(ward="3B", resorbed="true")
    summary = score_file(written(frame, tmp_path / "in.csv"), tmp_path / "out.csv", logistic,
                         explain_k=0)
    assert summary.ignored_columns == ("ward", "resorbed")
    assert summary.exit_code == 0


def test_a_missing_required_column_is_a_usage_error(logistic):
    with pytest.raises(DataValidationError, match="'sex' is required but absent"):
        score_frame(candidates(3).drop(columns="sex"), logistic)


# ------------------------------------------------------------------------------- the model


def test_registry_uri_and_exported_folder_give_the_same_scores(tmp_path, registry, logistic,
                                                               monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    src = written(candidates(10), tmp_path / "in.parquet")
    monkeypatch.chdir(registry.folder)
    score_file(src, tmp_path / "via_uri.parquet", "models:/resorb@champion", explain_k=0)
    score_file(src, tmp_path / "via_folder.parquet", logistic, explain_k=0)
    via_uri, via_folder = read(tmp_path / "via_uri.parquet"), read(tmp_path / "via_folder.parquet")
    assert via_uri["model_version"].unique().tolist() == ["1"]
    np.testing.assert_array_equal(via_uri["p_resorption"], via_folder["p_resorption"])


def test_default_model_is_the_champion_with_a_registry_else_the_reference(tmp_path, registry,
                                                                          monkeypatch):
    import shutil

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(registry.exported, tmp_path / "models" / "reference")
    assert default_model() == str(tmp_path / "models" / "reference")
    (tmp_path / "mlflow.db").touch()  # a store that does not hold the model is no registry
    assert default_model() == str(tmp_path / "models" / "reference")
    monkeypatch.chdir(registry.folder)
    assert default_model() == "models:/resorb@champion"
    model = load_model()
    assert (model.name, model.version) == ("resorb", "1")
    assert model.describe().startswith("resorb version 1 (logistic")


@pytest.mark.parametrize(("target", "error", "match"), [
    ("models:/resorb@nobody", ModelNotFoundError, "cannot fetch"),
    ("models:/resorb/99", ModelNotFoundError, "cannot fetch"),
])
def test_unknown_registry_models_are_not_found(registry, monkeypatch, target, error, match):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(registry.folder)
    with pytest.raises(error, match=match):
        load_model(target)


def test_explain_k_above_the_variables_is_refused(tmp_path, logistic):
    src = written(candidates(3), tmp_path / "in.csv")
    with pytest.raises(InputError, match="ask for at most"):
        score_file(src, tmp_path / "out.csv", logistic, explain_k=99)
    assert not (tmp_path / "out.csv").exists()


def test_params_defaults_come_from_params_yaml():
    params = Params.default().scoring
    assert params == ScoringParams()  # the file states the defaults explicitly


def test_a_shared_feature_transform_predicts_as_the_pipeline(tmp_path):
    # score_frame predicts from the transform it explains (one ColumnTransformer pass)
    from resorb.cohort import make_cohort
    from resorb.features import model_input
    from resorb.scoring import load_model

    model = load_model(Path(__file__).resolve().parents[1] / "models" / "reference")
    X = model_input(make_cohort(40, 5), columns=model.features)
    Z = model.transform(X)
    assert Z is not None and len(Z) == 40
    np.testing.assert_array_equal(model.predict_transformed(Z), model.predict(X))


def _without_skops(folder: Path) -> None:
    (folder / "artifacts" / "model.skops").unlink()


def _without_card(folder: Path) -> None:
    (folder / "artifacts" / "resorb.json").unlink()


def _changed_skops(folder: Path) -> None:
    path = folder / "artifacts" / "model.skops"
    path.write_bytes(path.read_bytes() + b"\0")


@pytest.mark.parametrize(("damage", "error", "match"), [
    (_without_skops, ModelNotFoundError, "models:/resorb@champion is not an exported resorb "
                                         "model: artifacts/model.skops is missing"),
    (_without_card, ModelCardError, "models:/resorb@champion has no model card"),
    (_changed_skops, ModelCardError, "models:/resorb@champion: artifacts/model.skops does "
                                     "not match its resorb.json"),
])
def test_load_folder_names_the_source_not_the_folder(tmp_path, registry, damage, error,
                                                     match):
    # what the report's worker relies on: a temporary download is named by the user's URI
    from resorb.scoring import load_folder

    folder = tmp_path / "resorb-report-x" / "model"
    shutil.copytree(registry.exported, folder)
    loaded = load_folder(folder, source="models:/resorb@champion")
    assert loaded.source == "models:/resorb@champion" and loaded.folder == folder
    assert (loaded.name, loaded.version) == ("resorb", "1")
    assert load_folder(str(folder)).source == str(folder)  # the folder names itself
    damage(folder)
    with pytest.raises(error, match=match) as caught:
        load_folder(folder, source="models:/resorb@champion")
    assert str(tmp_path) not in str(caught.value)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("model", ["reference", "routine"])
def test_validate_for_model_reads_like_read_mapped(tmp_path, model):
    # the mapping's dialect is read, and a derivation's refused rows are problems of the
    # model's own inputs only (the routine model does not read the herniation volume)
    from resorb.intake import read_mapped
    from resorb.scoring.frame import validate_for_model

    raw = pd.read_csv(EXAMPLES / "hospital_diameters.csv", dtype=str, keep_default_na=False)
    raw.loc[2, "Hern LR (cm)"] = ""  # one of three diameters: the volume cannot be derived
    path = tmp_path / "export.csv"
    raw.to_csv(path, sep=";", index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text((EXAMPLES / "hospital_diameters_mapping.yaml").read_text()
                       + '\ndialect: {separator: ";"}\n')
    features = load_model(Path(__file__).resolve().parents[1] / "models" / model).features
    frame, report, ignored, result = validate_for_model(path, features, mapping)
    assert result is not None and len(frame) == result.n_source_rows - result.n_filtered_out
    derivation = [p for p in report.problems if p.rule == "derivation"]
    _, whole, _ = read_mapped(path, mapping, purpose="scoring")
    assert [p.rule for p in whole.problems] == ["derivation"]  # what the whole file says
    if "herniation_volume_mm3" in features:
        assert [(p.column, p.rows) for p in derivation] == [("herniation_volume_mm3", (3,))]
        assert not report.ok
    else:
        assert derivation == [] and report.ok and "herniation_volume_mm3" in ignored
