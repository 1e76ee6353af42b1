"""Derived measurements in mapping files: hand-computed values, refusals, reports, the card."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from resorb.cli import app
from resorb.cohort import make_cohort
from resorb.cohort.diameters import DIAMETER_COLUMNS, EXACT, with_diameters
from resorb.errors import ConfigError
from resorb.intake import (
    ChunkMapping,
    apply_mapping,
    load_mapping,
    mapping_derivations,
    parse_mapping,
    read_mapped,
)

VOLUME = {"method": "ellipsoid_volume", "unit": "mm",
          "from": {"ap": "AP", "transverse": "LR", "craniocaudal": "CC"}}
CANAL = {"method": "canal_occupation", "unit": "mm",
         "from": {"herniation_ap": "AP", "canal_ap": "Canal"}}
DURATION = {"method": "days_between", "from": {"start": "Onset", "end": "MRI"}}


def derived(target: str, spec: dict, **cells: list) -> pd.Series:
    """The derived column of a one-derivation mapping over ``cells`` (text, as from CSV)."""
    mapping = parse_mapping({"columns": {}, "derive": {target: spec}})
    return apply_mapping(pd.DataFrame(cells), mapping).frame[target]


# ----------------------------------------------------------------- hand-computed values


@pytest.mark.parametrize(("unit", "ap", "lr", "cc", "expected"), [
    # pi/6 x a x b x c, worked by hand: pi/6 x 6000 = 3141.59...
    ("mm", "10", "20", "30", 3141.6),
    ("cm", "1", "2", "3", 3141.6),          # cm -> mm before the product: x1000 overall
    ("cm", "1.0", "1.5", "2.0", 1570.8),    # pi/6 x 10 x 15 x 20 = 1570.796...
    ("mm", "8", "12", "15", 754.0),         # pi/6 x 1440 = 753.98...
    ("mm", " 6.5 ", "9", "14", 428.8),      # blanks around numbers: pi/6 x 819 = 428.82...
    ({"ap": "mm", "transverse": "cm", "craniocaudal": "cm"}, "5", "1.2", "2", 628.3),
])
def test_ellipsoid_volume_matches_hand_computed(unit, ap, lr, cc, expected):
    out = derived("herniation_volume_mm3", {**VOLUME, "unit": unit}, AP=[ap], LR=[lr], CC=[cc])
    assert out.iloc[0] == pytest.approx(expected, abs=0.05)


def test_ellipsoid_volume_reads_typed_parquet_numbers():
    out = derived("herniation_volume_mm3", VOLUME, AP=[10.0, 4], LR=[20.0, 5], CC=[30.0, 6])
    assert out.tolist() == pytest.approx([3141.6, round(math.pi / 6 * 120, 1)])


@pytest.mark.parametrize(("unit", "hern", "canal", "expected"), [
    ("mm", "4", "16", 25.0),
    ("mm", "6", "15", 40.0),
    ("mm", "3.3", "11", 30.0),
    ({"herniation_ap": "cm", "canal_ap": "mm"}, "0.5", "20", 25.0),
    ("cm", "0.9", "1.8", 50.0),
])
def test_canal_occupation_matches_hand_computed(unit, hern, canal, expected):
    out = derived("canal_occupation_pct", {**CANAL, "unit": unit}, AP=[hern], Canal=[canal])
    assert out.iloc[0] == pytest.approx(expected)


@pytest.mark.parametrize(("fmt", "onset", "mri", "days"), [
    (None, "2024-01-01", "2024-01-31", 30),
    (None, "2023-12-31", "2024-03-01", 61),       # 31 Jan + 29 Feb (leap year) + 1
    ("%d.%m.%Y", "01.01.2024", "31.01.2024", 30),
    ("%d/%m/%Y", "28/02/2023", "01/03/2023", 1),  # no 29 Feb in 2023
    ("%Y%m%d", "20240101", "20250101", 366),
])
def test_days_between_matches_hand_computed(fmt, onset, mri, days):
    spec = {**DURATION, **({"format": fmt} if fmt else {})}
    out = derived("symptom_duration_days", spec, Onset=[onset], MRI=[mri])
    assert out.iloc[0] == days


def test_days_between_reads_typed_dates(tmp_path):
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    from resorb.intake import read_table

    out = derived("symptom_duration_days", {**DURATION, "format": "%d.%m.%Y"},
                  Onset=pd.to_datetime(["2024-01-01"]), MRI=pd.to_datetime(["2024-02-01"]))
    assert out.iloc[0] == 31  # typed timestamps need no format
    path = tmp_path / "dates.parquet"
    pq.write_table(pa.table({"Onset": pa.array([date(2024, 1, 1), None], pa.date32()),
                             "MRI": pa.array([date(2024, 3, 1), None], pa.date32())}), path)
    raw = read_table(path)
    mapping = parse_mapping({"columns": {}, "derive": {
        "symptom_duration_days": {**DURATION, "format": "%d.%m.%Y"}}})
    assert apply_mapping(raw, mapping).frame["symptom_duration_days"].iloc[0] == 60


# ----------------------------------------------------------------- refused rows


@pytest.mark.parametrize(("cells", "reason"), [
    ({"AP": ["-4"], "LR": ["10"], "CC": ["12"]}, "AP diameter ('AP') not above 0 mm"),
    ({"AP": ["0"], "LR": ["10"], "CC": ["12"]}, "AP diameter ('AP') not above 0 mm"),
    ({"AP": ["4"], "LR": [""], "CC": ["12"]}, "transverse diameter ('LR') missing"),
    ({"AP": ["4"], "LR": ["10"], "CC": [None]}, "craniocaudal diameter ('CC') missing"),
    ({"AP": ["4 mm"], "LR": ["10"], "CC": ["12"]}, "AP diameter ('AP') not a number"),
    ({"AP": ["inf"], "LR": ["10"], "CC": ["12"]}, "AP diameter ('AP') not finite"),
])
def test_bad_diameters_are_refused_with_the_reason(cells, reason):
    mapping = parse_mapping({"columns": {}, "derive": {"herniation_volume_mm3": VOLUME}})
    result = apply_mapping(pd.DataFrame(cells), mapping)
    assert math.isnan(result.frame["herniation_volume_mm3"].iloc[0])
    assert result.derived.reasons(1).tolist() == [
        f"herniation_volume_mm3 not derived: {reason}"]
    assert "0 rows derived; 1 refused" in result.log[0]


@pytest.mark.parametrize(("spec", "cells", "reason"), [
    (DURATION, {"Onset": ["2024-03-05"], "MRI": ["2024-03-01"]},
     "start date ('Onset') after end date ('MRI')"),
    (DURATION, {"Onset": ["05.03.2024"], "MRI": ["2024-03-01"]},
     "start date ('Onset') not a date in the format '%Y-%m-%d'"),
    ({**DURATION, "format": "%d.%m.%Y"}, {"Onset": ["2024-03-05"], "MRI": ["10.03.2024"]},
     "start date ('Onset') not a date in the format '%d.%m.%Y'"),
    ({**DURATION, "format": "%d.%m.%Y"}, {"Onset": ["31.02.2024"], "MRI": ["10.03.2024"]},
     "start date ('Onset') not a date in the format '%d.%m.%Y'"),
    (DURATION, {"Onset": ["2024-03-01"], "MRI": [""]}, "end date ('MRI') missing"),
    (CANAL, {"AP": ["18"], "Canal": ["15"]},
     "herniation AP diameter ('AP') larger than the canal AP diameter ('Canal')"),
])
def test_bad_dates_and_canals_are_refused_with_the_reason(spec, cells, reason):
    target = ("symptom_duration_days" if spec["method"] == "days_between"
              else "canal_occupation_pct")
    mapping = parse_mapping({"columns": {}, "derive": {target: spec}})
    result = apply_mapping(pd.DataFrame(cells), mapping)
    assert result.frame[target].isna().all()
    assert result.derived.reasons(1).tolist() == [f"{target} not derived: {reason}"]


def test_rows_without_any_input_are_missing_not_refused():
    mapping = parse_mapping({"columns": {}, "derive": {"volume_followup_mm3": VOLUME}})
    result = apply_mapping(pd.DataFrame({"AP": ["", "2"], "LR": ["", "3"], "CC": [None, "4"]}),
                           mapping)
    assert result.frame["volume_followup_mm3"].isna().tolist() == [True, False]
    assert result.derived.reasons(2).tolist() == ["", ""]
    assert "1 row derived; 1 without any input left empty" in result.log[0]


# ----------------------------------------------------------------- validate and score


@pytest.fixture
def hospital_with_diameters(tmp_path):
    """The shipped example export with diameters and onset dates, plus planted errors."""
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    raw = pd.read_csv(examples / "hospital_diameters.csv", dtype=str, keep_default_na=False)
    return raw, examples / "hospital_diameters_mapping.yaml"


def test_the_example_with_diameters_is_valid_training_data(hospital_with_diameters):
    raw, mapping = hospital_with_diameters
    path = mapping.parent / "hospital_diameters.csv"
    frame, report, result = read_mapped(path, mapping, purpose="training")
    assert report.ok, report.render()
    kept = raw[raw["Spine region"].isin(["lumbar", "LWS"])].reset_index(drop=True)
    ap, lr, cc = (kept[c].astype(float) for c in ("Hern AP (mm)", "Hern LR (cm)", "Hern CC (cm)"))
    expected = (math.pi / 6 * ap * lr * 10 * cc * 10).round(1)
    assert frame["herniation_volume_mm3"].tolist() == pytest.approx(expected.tolist())
    assert any(line.startswith("herniation_volume_mm3 <- ellipsoid_volume(")
               for line in result.log)


def test_validate_reports_refused_rows_at_their_source_rows(tmp_path, hospital_with_diameters):
    raw, mapping = hospital_with_diameters
    bad = raw.copy()
    lumbar = np.flatnonzero(bad["Spine region"].isin(["lumbar", "LWS"]).to_numpy())
    first, second, third = lumbar[:3]
    bad.loc[first, "Hern AP (mm)"] = "-3"                     # negative diameter
    bad.loc[second, "Hern LR (cm)"] = ""                      # one diameter missing
    bad.loc[third, "Symptom onset"] = "01.01.2030"            # onset after the MRI
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    _, report, _ = read_mapped(path, mapping, purpose="training")
    text = report.render()
    assert not report.ok
    rows = [f"row {first + 1}", f"row {second + 1}", f"row {third + 1}"]
    assert (f"'herniation_volume_mm3' could not be derived in 1 row: AP diameter "
            f"('Hern AP (mm)') not above 0 mm ({rows[0]})") in text
    assert (f"'herniation_volume_mm3' could not be derived in 1 row: transverse diameter "
            f"('Hern LR (cm)') missing ({rows[1]})") in text
    assert (f"'symptom_duration_days' could not be derived in 1 row: start date "
            f"('Symptom onset') after end date ('MRI date') ({rows[2]})") in text
    assert "[required]" not in text  # a refused row is explained once, not also "missing"
    assert report.n_bad_rows == 3
    result = CliRunner().invoke(app, ["validate", str(path), "--mapping", str(mapping),
                                      "--purpose", "training"])
    assert result.exit_code == 2
    assert "herniation_volume_mm3 <- ellipsoid_volume(ap='Hern AP (mm)'" in result.output
    assert "cm -> mm" in result.output
    assert "could not be derived in 1 row" in result.output
    assert "Traceback" not in result.output


def test_scoring_chunks_give_each_refused_row_its_reason():
    mapping = parse_mapping({"columns": {}, "derive": {"herniation_volume_mm3": VOLUME}})
    raw = pd.DataFrame({"AP": ["4", "-4", "4"], "LR": ["10", "10", ""], "CC": ["12"] * 3})
    chunk = ChunkMapping(mapping, list(raw.columns))
    frame, keep, reasons = chunk.apply_with_reasons(raw.iloc[1:])  # a chunk's index
    assert keep is None
    assert frame["herniation_volume_mm3"].isna().all()
    assert reasons.tolist() == [
        "herniation_volume_mm3 not derived: AP diameter ('AP') not above 0 mm",
        "herniation_volume_mm3 not derived: transverse diameter ('LR') missing"]


@pytest.mark.slow
def test_score_rejects_refused_rows_with_the_derivation_reason(tmp_path,
                                                               hospital_with_diameters):
    from pathlib import Path

    from resorb.scoring.batch import score_file

    raw, mapping = hospital_with_diameters
    bad = raw.copy()
    bad.loc[0, "Hern AP (mm)"] = "-3"
    bad.loc[1, "Symptom onset"] = "01.01.2030"
    src = tmp_path / "in.csv"
    bad.to_csv(src, index=False)
    reference = Path(__file__).resolve().parents[2] / "models" / "reference"
    summary = score_file(src, tmp_path / "out.csv", reference, mapping=mapping)
    # the reference predictor was trained on volumetry: ellipsoid volumes are flagged
    assert summary.measured_otherwise == (
        "herniation_volume_mm3: measured in training, derived (ellipsoid from 3 diameters "
        "(pi/6 x AP x transverse x craniocaudal), an approximation of a 3D volumetry (from "
        "ap mm, transverse cm, craniocaudal cm)) here",)
    cli = CliRunner().invoke(app, ["score", "-i", str(src), "-o", str(tmp_path / "cli.csv"),
                                   "--model", str(reference), "--mapping", str(mapping)])
    assert cli.exit_code == 3, cli.output  # some rows rejected
    assert ("warning: herniation_volume_mm3: measured in training, derived (ellipsoid from 3 "
            "diameters") in cli.output
    assert "predictions may be miscalibrated (docs/derived.md)" in cli.output
    assert "Traceback" not in cli.output
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert len(out) == len(raw)  # every row out, none dropped
    assert out["reason"].iloc[0] == (
        "herniation_volume_mm3 not derived: AP diameter ('Hern AP (mm)') not above 0 mm; "
        "canal_occupation_pct not derived: herniation AP diameter ('Hern AP (mm)') not "
        "above 0 mm")
    assert out["reason"].iloc[1] == ("symptom_duration_days not derived: start date "
                                     "('Symptom onset') after end date ('MRI date')")
    assert out["status"].iloc[:2].tolist() == ["rejected", "rejected"]
    assert (out["status"].iloc[2:4] == "scored").all()


@pytest.mark.parametrize(("trained", "given", "flagged"), [
    ({}, {}, ()),
    ({}, {"symptom_duration_days": "whole days from the start date to the end date (%d.%m.%Y)",
          "canal_occupation_pct": "100 x herniation AP diameter / canal AP diameter (from mm)"},
     ()),
    ({"herniation_volume_mm3": "ellipsoid ..., an approximation of a 3D volumetry (from mm)"},
     {"herniation_volume_mm3": "ellipsoid ..., an approximation of a 3D volumetry (from cm)"},
     ()),
    ({"herniation_volume_mm3": "ellipsoid ..., an approximation of a 3D volumetry (from mm)"},
     {}, ("herniation_volume_mm3: derived (ellipsoid ..., an approximation of a 3D volumetry "
          "(from mm)) in training, measured here",)),
    ({}, {"volume_followup_mm3": "ellipsoid ..., an approximation (from mm)"}, ()),  # no input
])
def test_inputs_measured_otherwise_than_in_training_are_flagged(trained, given, flagged):
    from resorb.intake.derive import measurement_mismatches

    features = ("age", "herniation_volume_mm3", "canal_occupation_pct", "symptom_duration_days")
    assert measurement_mismatches(trained, given, features) == flagged


# ----------------------------------------------------------------- the mapping file


@pytest.mark.parametrize(("derive", "message"), [
    ({"herniation_volume_mm3": {**VOLUME, "method": "sphere"}},
     r"'derive\.herniation_volume_mm3\.method' input should be 'ellipsoid_volume'"),
    ({"herniation_volume_mm3": {**VOLUME, "from": {"ap": "A", "transverse": "B"}}},
     r"method 'ellipsoid_volume' reads 'ap', 'transverse', 'craniocaudal' in 'from'; it lacks "
     r"'craniocaudal'"),
    ({"herniation_volume_mm3": {k: v for k, v in VOLUME.items() if k != "unit"}},
     r"needs the 'unit' of its lengths: mm or cm"),
    ({"herniation_volume_mm3": {**VOLUME, "unit": "inch"}},
     r"unknown length unit 'inch' for 'ap'; allowed: mm, cm"),
    ({"herniation_volume_mm3": {**VOLUME, "unit": {"ap": "mm"}}},
     r"give one unit for all inputs or one for each"),
    ({"herniation_volume_mm3": {**VOLUME, "format": "%d.%m.%Y"}},
     r"reads lengths, which take a 'unit', not a date 'format'"),
    ({"symptom_duration_days": {**DURATION, "unit": "mm"}},
     r"reads dates, which take a 'format'"),
    ({"symptom_duration_days": {**DURATION, "format": "%m.%Y"}},
     r"has format '%m.%Y', which cannot read dates: it does not hold a whole date"),
    ({"canal_occupation_pct": VOLUME},
     r"'derive\.canal_occupation_pct': method 'ellipsoid_volume' builds herniation_volume_mm3 "
     r"or volume_followup_mm3, not 'canal_occupation_pct'"),
    ({"herniation_volume_mm3": {**VOLUME, "units": "mm"}},
     r"unknown key 'derive\.herniation_volume_mm3\.units'; did you mean 'unit'\?"),
])
def test_invalid_derivations_are_refused_naming_the_key(derive, message):
    with pytest.raises(ConfigError, match=message):
        parse_mapping({"columns": {"age": {"from": "Age"}}, "derive": derive})


def test_a_column_is_mapped_or_derived_not_both():
    with pytest.raises(ConfigError, match="herniation_volume_mm3 is both in 'columns' and in "
                                          "'derive'"):
        parse_mapping({"columns": {"herniation_volume_mm3": {"from": "V"}},
                       "derive": {"herniation_volume_mm3": VOLUME}})


@pytest.mark.parametrize(("columns", "derive", "ok"), [
    ({"volume_followup_mm3": {"from": "FU"}}, {"herniation_volume_mm3": VOLUME}, False),
    ({"herniation_volume_mm3": {"from": "V"}}, {"volume_followup_mm3": VOLUME}, False),
    ({}, {"herniation_volume_mm3": VOLUME, "volume_followup_mm3": VOLUME}, True),
    ({"resorbed": {"from": "R"}}, {"herniation_volume_mm3": VOLUME}, True),
])
def test_both_volumes_of_the_label_are_measured_the_same_way(columns, derive, ok):
    spec = {"columns": columns, "derive": derive}
    if ok:
        assert parse_mapping(spec).derive
        return
    with pytest.raises(ConfigError, match=r"the label compares the two volumes .* so measure "
                                          r"both the same way"):
        parse_mapping(spec)


def test_a_derivation_reading_an_absent_column_names_it():
    mapping = parse_mapping({"columns": {}, "derive": {"herniation_volume_mm3": VOLUME}})
    with pytest.raises(ConfigError, match=r"derivation 'herniation_volume_mm3' reads column "
                                          r"'CC', which the file lacks; did you mean 'Cc'\?"):
        apply_mapping(pd.DataFrame({"AP": ["1"], "LR": ["2"], "Cc": ["3"]}), mapping)


def test_derivation_inputs_are_read_not_carried():
    mapping = parse_mapping({"columns": {}, "derive": {"herniation_volume_mm3": VOLUME},
                             "drop_unmapped": False})
    raw = pd.DataFrame({"AP": ["1"], "LR": ["2"], "CC": ["3"], "herniation_volume_mm3": ["9"],
                        "Ward": ["x"]})
    result = apply_mapping(raw, mapping)
    assert list(result.frame.columns) == ["herniation_volume_mm3", "Ward"]
    assert "herniation_volume_mm3" in result.dropped_columns  # replaced by the derivation
    assert ChunkMapping(mapping, list(raw.columns)).sources == ["AP", "LR", "CC", "Ward"]


def test_the_card_words_each_derivation():
    mapping = parse_mapping({"columns": {}, "derive": {
        "herniation_volume_mm3": {**VOLUME, "unit": "cm"}, "symptom_duration_days": DURATION}})
    words = mapping_derivations(mapping)
    assert words["herniation_volume_mm3"].startswith(
        "ellipsoid from 3 diameters (pi/6 x AP x transverse x craniocaudal)")
    assert words["herniation_volume_mm3"].endswith("(from cm)")
    assert words["symptom_duration_days"] == ("whole days from the start date to the end date "
                                              "(%Y-%m-%d)")
    assert mapping_derivations(None) == {}


# ----------------------------------------------------------------- generator diameters


@pytest.fixture(scope="module")
def cohort():
    return make_cohort(3000, seed=11)


def test_diameters_leave_every_other_column_unchanged(cohort):
    wide = make_cohort(3000, seed=11, diameters=True)
    assert list(wide.columns) == [*cohort.columns, *DIAMETER_COLUMNS]
    pd.testing.assert_frame_equal(wide[cohort.columns], cohort)
    again = make_cohort(3000, seed=11, diameters=True)
    pd.testing.assert_frame_equal(wide, again)  # same seed, same values


def test_cohort_generate_writes_diameters_on_request(tmp_path):
    written = {}
    for flag in ([], ["--diameters"]):
        out = tmp_path / f"cohort{len(flag)}.csv"
        result = CliRunner().invoke(app, ["cohort", "generate", "--n", "50", "--seed", "3",
                                          "--out", str(out), *flag])
        assert result.exit_code == 0, result.output
        written[bool(flag)] = pd.read_csv(out)
    plain, wide = written[False], written[True]
    assert list(wide.columns) == [*plain.columns, *DIAMETER_COLUMNS]
    pd.testing.assert_frame_equal(wide[plain.columns], plain)


def _derive_back(frame: pd.DataFrame) -> pd.DataFrame:
    spec = {"columns": {}, "derive": {
        "herniation_volume_mm3": {**VOLUME, "from": {
            "ap": "herniation_ap_mm", "transverse": "herniation_transverse_mm",
            "craniocaudal": "herniation_craniocaudal_mm"}},
        "canal_occupation_pct": {**CANAL, "from": {"herniation_ap": "herniation_ap_mm",
                                                   "canal_ap": "canal_ap_mm"}},
        "symptom_duration_days": {**DURATION, "from": {"start": "symptom_onset_date",
                                                       "end": "baseline_date"}}}}
    return apply_mapping(frame[[*DIAMETER_COLUMNS, "baseline_date"]],
                         parse_mapping(spec)).frame


def test_an_exact_shape_model_gives_back_the_drawn_measurements(cohort):
    back = _derive_back(with_diameters(cohort, seed=11, shape=EXACT))
    np.testing.assert_allclose(back["herniation_volume_mm3"], cohort["herniation_volume_mm3"],
                               rtol=1e-4)
    np.testing.assert_allclose(back["canal_occupation_pct"], cohort["canal_occupation_pct"],
                               atol=0.051)
    dated = cohort["baseline_date"].notna().to_numpy()
    assert (back["symptom_duration_days"][dated]
            == cohort["symptom_duration_days"][dated]).all()
    assert back["symptom_duration_days"][~dated].isna().all()  # no MRI date: no onset either


def test_the_default_shape_model_overestimates_volumetry_as_documented(cohort):
    back = _derive_back(with_diameters(cohort, seed=11))
    ratio = back["herniation_volume_mm3"] / cohort["herniation_volume_mm3"]
    # documented: fill fraction median 0.8 -> ellipsoid / volumetry 1.25 at the median,
    # less a little for caliper error and rounding
    assert 1.15 < ratio.median() < 1.32
    assert np.corrcoef(np.log(back["herniation_volume_mm3"]),
                       np.log(cohort["herniation_volume_mm3"]))[0, 1] > 0.8
    gap = back["canal_occupation_pct"] - cohort["canal_occupation_pct"]
    assert abs(gap.median()) < 0.5 and gap.abs().quantile(0.9) < 8  # caliper error only


# ----------------------------------------------------------------- the model card


@pytest.mark.slow
def test_a_model_trained_on_derived_volumes_says_so(tmp_path, fast_params, monkeypatch):
    import mlflow

    from resorb import tracking
    from resorb.jobs import load_training_data, train_job
    from resorb.scoring.model import load_model

    frame = make_cohort(400, seed=5, diameters=True).drop(  # label from `resorbed`
        columns=["herniation_volume_mm3", "canal_occupation_pct", "volume_followup_mm3"])
    data_file = tmp_path / "routine.parquet"
    frame.to_parquet(data_file, index=False)
    mapping_file = tmp_path / "m.yaml"
    mapping_file.write_text(yaml.safe_dump({
        "columns": {"patient_id": {"from": "patient_id"}},
        "derive": {"herniation_volume_mm3": {**VOLUME, "from": {
            "ap": "herniation_ap_mm", "transverse": "herniation_transverse_mm",
            "craniocaudal": "herniation_craniocaudal_mm"}},
            "canal_occupation_pct": {**CANAL, "from": {"herniation_ap": "herniation_ap_mm",
                                                       "canal_ap": "canal_ap_mm"}}},
        "drop_unmapped": True}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure()
    data = load_training_data(data_file, None, "literature", 0, mapping=mapping_file)
    assert set(data.derived) == {"herniation_volume_mm3", "canal_occupation_pct"}
    try:
        result = train_job(data, fast_params, "logistic", register=True)
        card = load_model(result.model_uri).metadata
        version = mlflow.MlflowClient().get_model_version("resorb", result.version)
    finally:
        mlflow.set_tracking_uri(None)
    assert card.derived == mapping_derivations(load_mapping(mapping_file))
    assert "ellipsoid from 3 diameters" in card.derived["herniation_volume_mm3"]
    assert "herniation_volume_mm3: ellipsoid from 3 diameters" in version.tags["derived"]
    assert "Derived, not measured, in training: " in version.description
    assert "herniation_volume_mm3: ellipsoid from 3 diameters" in version.description
    plain = load_training_data(None, 300, "literature", 0)
    assert plain.derived == {}


@pytest.mark.slow
def test_evaluate_warns_when_the_model_was_trained_on_measured_volumes(tmp_path, monkeypatch):
    from pathlib import Path

    frame = make_cohort(400, seed=6, diameters=True).drop(  # label from `resorbed`
        columns=["herniation_volume_mm3", "canal_occupation_pct", "volume_followup_mm3"])
    data = tmp_path / "routine.parquet"
    frame.to_parquet(data, index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {}, "derive": {
        "herniation_volume_mm3": {**VOLUME, "from": {
            "ap": "herniation_ap_mm", "transverse": "herniation_transverse_mm",
            "craniocaudal": "herniation_craniocaudal_mm"}},
        "canal_occupation_pct": {**CANAL, "from": {"herniation_ap": "herniation_ap_mm",
                                                   "canal_ap": "canal_ap_mm"}}}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    reference = Path(__file__).resolve().parents[2] / "models" / "reference"
    result = CliRunner().invoke(app, ["evaluate", "--model", str(reference), "--data", str(data),
                                      "--mapping", str(mapping), "--no-track"])
    assert result.exit_code == 0, result.output
    assert ("warning: herniation_volume_mm3: measured in training, derived (ellipsoid from 3 "
            "diameters") in result.output
    assert "canal_occupation_pct: measured" not in result.output  # exact: not flagged
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(("derive", "passing", "refused"), [
    ({"herniation_volume_mm3": VOLUME}, "volume_followup_mm3", True),
    ({"volume_followup_mm3": VOLUME}, "herniation_volume_mm3", True),
    ({"herniation_volume_mm3": VOLUME, "volume_followup_mm3": VOLUME}, None, False),
    ({"herniation_volume_mm3": VOLUME}, None, False),
])
def test_a_label_volume_passing_through_measured_beside_a_derived_one_is_refused(
        derive, passing, refused):
    """The mapping file's own check cannot see a volume that passes through unmapped."""
    mapping = parse_mapping({"columns": {}, "derive": derive})
    raw = {"AP": ["10"], "LR": ["12"], "CC": ["14"]}
    if passing is not None:
        raw[passing] = ["900"]
    if not refused:
        assert len(apply_mapping(pd.DataFrame(raw), mapping).frame) == 1
        return
    with pytest.raises(ConfigError, match=rf"is derived \(ellipsoid_volume\) but {passing} "
                                          r"passes through as measured: the label compares"):
        apply_mapping(pd.DataFrame(raw), mapping)
