"""Mapping files: each transform, each error, and the two examples end to end."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resorb import schema
from resorb.errors import ConfigError, InputError
from resorb.intake import (
    ChunkMapping,
    Mapping,
    allowed_units,
    apply_mapping,
    conform,
    describe,
    load_mapping,
    parse_mapping,
    read_mapped,
)
from tests.factories import baseline_rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"
# a copy of the published table ships in examples/ (CC BY 4.0, cited in examples/README.md)
SPIDER_CSV = Path(os.environ.get("RESORB_SPIDER_CSV",
                                 EXAMPLES / "spider_radiological_gradings.csv"))


def raw(**columns: list) -> pd.DataFrame:
    """A source table of text cells, as read_table gives for a CSV (None = empty cell)."""
    return pd.DataFrame({name: pd.Series(cells, dtype="str") for name, cells in columns.items()})


def mapping(columns: dict, **top: object) -> Mapping:
    return parse_mapping({"columns": columns, **top})


def mapped(cells: list, rule: dict, target: str) -> list:
    """Map one source column through one rule; the output cells, missing as None.

    Each row also holds a ``patient_id`` (passed through), so that a row whose ``src`` cell
    is empty is not an empty row (into which no rule writes).
    """
    ids = [f"P{i}" for i in range(len(cells))]
    result = apply_mapping(raw(src=cells, patient_id=ids),
                           mapping({target: {"from": "src", **rule}}))
    out = result.frame[target]
    return [None if pd.isna(v) else v for v in out]


def rules(report) -> set[tuple[str, str]]:
    return {(p.column, p.rule) for p in report.problems}


# --- transforms -------------------------------------------------------------------------------


def test_copy_keeps_cells_and_logs():
    result = apply_mapping(raw(**{"Age (y)": ["45", "61"]}), mapping({"age": {"from": "Age (y)"}}))
    assert result.frame["age"].tolist() == ["45", "61"]
    assert result.log == ("age <- Age (y) (copied)",)


def test_format_prefixes_identifiers_without_float_tails():
    source = pd.DataFrame({"Patient": [1.0, 12.0, np.nan]})  # as a Parquet float column
    result = apply_mapping(source, mapping({"patient_id": {"from": "Patient",
                                                           "format": "SPIDER-{}"}}))
    assert result.frame["patient_id"].tolist()[:2] == ["SPIDER-1", "SPIDER-12"]
    assert pd.isna(result.frame["patient_id"].iloc[2])


@pytest.mark.parametrize(("target", "values", "cells", "expected"), [
    ("level", {1: "L5-S1", 2: "L4-L5"}, ["1", "2", " 2 ", "1.0"],
     ["L5-S1", "L4-L5", "L4-L5", "L5-S1"]),
    ("level", {"1": "L5-S1"}, ["1", "7"], ["L5-S1", "7"]),  # unmatched left as found
    ("herniation_type", {"Seq": "sequestration", "Prot": "protrusion"},
     ["Seq", " seq", "PROT", None], ["sequestration", "sequestration", "protrusion", None]),
    ("slr_positive", {"1": True, "0": False, "": None}, ["1", "0", None],
     ["true", "false", None]),
    ("slr_positive", {"+": True, "-": False}, ["+", "-"], ["true", "false"]),
    # unquoted yes/no keys are YAML booleans: they match every spelling of themselves
    ("diabetes", {True: True, False: False}, ["yes", "No", "TRUE", "off", "1"],
     ["true", "false", "true", "false", "true"]),
    ("modic_type", {"none": 0, "type 2": 2}, ["None", "Type 2"], ["0", "2"]),
    ("rim_enhancement", {"": "none", 1: "partial"}, [None, "1"], ["none", "partial"]),
], ids=["integer-codes", "unmatched", "text-codes", "booleans-01", "booleans-symbols",
        "yaml-booleans", "to-integers", "empty-cells"])
def test_recode(target, values, cells, expected):
    assert mapped(cells, {"values": values}, target) == expected


@pytest.mark.parametrize("rule", [{"value": "Hospital A"},
                                  {"from": "src", "values": {"": "Hospital A"}}],
                         ids=["fixed-value", "recoded-empty-cell"])
def test_nothing_is_written_into_a_row_whose_every_read_cell_is_empty(rule):
    """An export's ``;;;;`` rows stay empty rows: the cell rules then report them as one
    problem, as without a mapping (docs/hardening.md)."""
    source = raw(src=[None, None, " ", None], Age=["45", None, "", None],
                 Notes=[None, None, None, "free text, not read"])
    result = apply_mapping(source, mapping({"site": rule, "age": {"from": "Age"}}))
    assert [None if pd.isna(v) else v for v in result.frame["site"]] == [
        "Hospital A", None, None, None]
    assert any("3 source rows with no cell the mapping reads left empty" in line
               for line in result.log)
    _, report = conform(result.frame)
    (empty,) = [p for p in report.problems if p.rule == "empty_row"]
    assert empty.rows == (2, 3, 4)
    assert ("site", "required") not in rules(report)


def test_recode_reads_typed_parquet_columns():
    source = pd.DataFrame({"IVD": [1, 2, 6]})
    result = apply_mapping(source, mapping({"level": {"from": "IVD",
                                                      "values": {1: "L5-S1", 2: "L4-L5"}}}))
    assert result.frame["level"].tolist() == ["L5-S1", "L4-L5", "6"]
    assert "1 cell not in the map left as found: '6'" in result.log[0]


def test_unmatched_codes_reach_conform_as_unknown_categories():
    result = apply_mapping(raw(T=["Seq", "Prolaps", "Seq"]),
                           mapping({"herniation_type": {"from": "T",
                                                        "values": {"Seq": "sequestration"}}}))
    _, report = conform(result.frame)
    (problem,) = [p for p in report.problems if p.column == "herniation_type"]
    assert problem.rule == "category"
    assert "found 'Prolaps'" in problem.message and problem.rows == (2,)


@pytest.mark.parametrize(("default", "expected"), [
    ("conservative", ["conservative", "epidural_steroid", "conservative", None]),
    (None, ["conservative", "epidural_steroid", None, None]),
])
def test_recode_default_fills_unmatched_codes_not_empty_cells(default, expected):
    rule = {"values": {"PT": "conservative", "ESI": "epidural_steroid"}, "default": default}
    result = apply_mapping(raw(src=["PT", "ESI", "physio+NSAID", None]),
                           mapping({"treatment": {"from": "src", **rule}}))
    assert [None if pd.isna(v) else v for v in result.frame["treatment"]] == expected
    assert "1 cell not in the map set to default" in result.log[0]


@pytest.mark.parametrize(("target", "unit", "cell", "expected"), [
    ("vas_leg", "0-100", "70", 7.0),
    ("vas_leg", "0-10", "7", 7.0),
    ("vas_back", "0-100", "35", 3.5),
    ("vas_leg_followup", "0-100", "5", 0.5),
    ("herniation_volume_mm3", "mL", "0.45", 450.0),
    ("herniation_volume_mm3", "ml", "1.2", 1200.0),
    ("herniation_volume_mm3", "ML", "1.2", 1200.0),  # units are matched case-insensitively
    ("herniation_volume_mm3", "cm3", "2", 2000.0),
    ("herniation_volume_mm3", "cc", "2", 2000.0),
    ("herniation_volume_mm3", "mm3", "450", 450.0),
    ("volume_followup_mm3", "mL", "0.1", 100.0),
    ("symptom_duration_days", "days", "10", 10.0),
    ("symptom_duration_days", "hours", "48", 2.0),
    ("symptom_duration_days", "weeks", "3", 21.0),
    ("symptom_duration_days", "months", "2", 61.0),  # 60.875, rounded to whole days
    ("symptom_duration_days", "years", "1", 365.0),  # 365.25
    ("followup_days", "months", "6", 183.0),  # 182.625
    ("followup_days", "weeks", "12", 84.0),
    ("canal_occupation_pct", "fraction", "0.58", 58.0),  # exactly, not 57.99999999999999
    ("multifidus_fat_pct", "%", "12.5", 12.5),
    ("odi", "0-50", "22", 44.0),
    ("odi_followup", "0-50", "5", 10.0),
    ("age", "months", "540", 45.0),
])
def test_unit_conversion(target, unit, cell, expected):
    assert mapped([cell, None], {"unit": unit}, target) == [expected, None]


def test_unit_conversion_logs_factor():
    result = apply_mapping(raw(VAS_leg_100=["70"]),
                           mapping({"vas_leg": {"from": "VAS_leg_100", "unit": "0-100"}}))
    assert result.log == ("vas_leg <- VAS_leg_100 (0-100 -> 0-10, /10)",)


def test_unit_conversion_leaves_text_for_conform_to_report():
    result = apply_mapping(raw(V=["0.5", "n/a", "1"]),
                           mapping({"herniation_volume_mm3": {"from": "V", "unit": "mL"}}))
    assert "1 cell not a number left as found" in result.log[0]
    canonical, report = conform(result.frame)
    assert canonical["herniation_volume_mm3"].tolist()[::2] == [500.0, 1000.0]
    (problem,) = [p for p in report.problems if p.column == "herniation_volume_mm3"]
    assert problem.rule == "type" and "found 'n/a'" in problem.message


@pytest.mark.parametrize(("target", "value", "expected"), [
    ("treatment", "conservative", "conservative"),
    ("site", "Hospital A", "Hospital A"),
    ("surgery", False, "false"),
    ("migration_grade", 0, "0"),
])
def test_fixed_value(target, value, expected):
    result = apply_mapping(raw(x=["a", "b"]), mapping({target: {"value": value}}))
    assert result.frame[target].tolist() == [expected, expected]
    assert result.log[0].startswith(f"{target} = ") and "fixed value" in result.log[0]


@pytest.mark.parametrize(("filter_", "kept"), [
    ({"column": "IVD", "in": [1, 2, 3, 4, 5]}, [1, 2, 4, 6]),
    ({"column": "IVD", "equals": 1}, [1, 6]),
    ({"column": "Hern", "equals": 1}, [1, 2, 3]),
    ({"column": "Hern", "equals": True}, [1, 2, 3]),  # a YAML true matches "1"
    ({"column": "IVD", "equals": ""}, [5]),  # "" matches empty cells
    ([{"column": "Hern", "equals": 1}, {"column": "IVD", "in": [1, 2, 3, 4, 5]}], [1, 2]),
], ids=["in", "equals", "equals-int", "equals-true", "equals-empty", "both"])
def test_filter_keeps_rows_and_source_numbers(filter_, kept):
    source = raw(IVD=["1", "2.0", "7", "3", None, "1"], Hern=["1", "1", "1", "0", "0", "0"])
    cols = {"level": {"from": "IVD", "values": {1: "L5-S1"}}}
    result = apply_mapping(source, mapping(cols, filter=filter_))
    assert result.source_rows.tolist() == kept
    assert result.kept_rows.sum() == len(kept) == len(result.frame)
    assert sum(step.removed for step in result.filtered) == result.n_filtered_out == 6 - len(kept)
    assert result.frame.index.tolist() == list(range(len(kept)))


def test_filter_that_keeps_nothing_is_an_input_error():
    with pytest.raises(InputError, match=r"filter keeps none of its 2 rows \('R' equals "
                                         r"'lumbar': 2 rows left out"):
        apply_mapping(raw(R=["cervical", "thoracic"]),
                      mapping({"age": {"value": 40}}, filter={"column": "R", "equals": "lumbar"}))


def test_filter_reports_each_condition():
    source = raw(IVD=["1", "7", "1", "0"], Hern=["1", "1", "0", "0"])
    result = apply_mapping(source, mapping({"patient_id": {"from": "IVD"}}, filter=[
        {"column": "Hern", "equals": 1}, {"column": "IVD", "in": [1, 2, 3, 4, 5]}]))
    assert [str(s) for s in result.filtered] == [
        "'Hern' equals 1: 2 rows left out (source rows 3, 4)",
        "'IVD' in [1, 2, 3, 4, 5]: 1 row left out (source row 2)",
    ]


def test_unmapped_columns_dropped_passed_through_or_kept():
    source = raw(Age=["40"], Notes=["x"], bmi=["25"], age=["99"])
    dropped = apply_mapping(source, mapping({"age": {"from": "Age"}}))
    assert list(dropped.frame.columns) == ["age", "bmi"]
    assert dropped.frame["age"].tolist() == ["40"]  # the mapping's age replaces the file's
    assert dropped.dropped_columns == ("Notes", "age")
    assert dropped.passed_through == ("bmi",)
    kept = apply_mapping(source, mapping({"age": {"from": "Age"}}, drop_unmapped=False))
    assert kept.kept_unmapped == ("Notes",) and "Notes" in kept.frame.columns


def test_apply_mapping_leaves_the_source_alone():
    source = raw(VAS=["70", "80"], Type=["Seq", "Ext"])
    before = source.copy()
    apply_mapping(source, mapping({"vas_leg": {"from": "VAS", "unit": "0-100"},
                                   "herniation_type": {"from": "Type",
                                                       "values": {"Seq": "sequestration"}}},
                                  filter={"column": "Type", "equals": "Seq"}))
    pd.testing.assert_frame_equal(source, before)


@pytest.mark.parametrize("col", [c for c in schema.COLUMNS if c.unit], ids=lambda c: c.name)
def test_every_unit_converts_from_itself_unchanged(col):
    assert allowed_units(col.name)[col.mapping_unit] == (1, 1)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    ({"columns": {"age": {"frm": "Age"}}},
     r"unknown key 'columns\.age\.frm'; did you mean 'from'\? allowed: from, value, values"),
    ({"colums": {}}, r"unknown key 'colums'; did you mean 'columns'\?"),
    ({"columns": {"vas_legs": {"from": "V"}}},
     r"'columns\.vas_legs' is not a resorb column; did you mean 'vas_leg'\?"),
    ({"columns": {"pfirrman_grade": {"from": "P"}}}, r"did you mean 'pfirrmann_grade'\?"),
    ({"columns": {"treatment": {"from": "T", "value": "conservative"}}},
     r"'columns\.treatment' has both 'from' and 'value'"),
    ({"columns": {"treatment": {}}}, r"'columns\.treatment' needs 'from' .* or 'value'"),
    ({"columns": {"vas_leg": {"from": "V", "unit": "0-1000"}}},
     r"'columns\.vas_leg\.unit': unknown unit '0-1000' for vas_leg; allowed: 0-10, 0-100"),
    ({"columns": {"herniation_volume_mm3": {"from": "V", "unit": "litre"}}},
     r"unknown unit 'litre' for herniation_volume_mm3; allowed: mm3, mL, ml, cm3, cc"),
    ({"columns": {"sex": {"from": "S", "unit": "cm"}}}, r"sex has no unit"),
    ({"columns": {"sex": {"from": "S", "default": "female"}}}, r"'default' but no 'values'"),
    ({"columns": {"vas_leg": {"from": "V", "unit": "0-100", "values": {"x": 1}}}},
     r"only one of them; got 'unit', 'values'"),
    ({"columns": {"level": {"from": "L", "values": {6: "T12-L1"}}}},
     r"'columns\.level': mapped values break the data dictionary: level has 1 value outside "
     r"L1-L2 / .* \(found 'T12-L1'\)"),
    ({"columns": {"treatment": {"value": "surgery"}}}, r"found 'surgery'"),
    ({"columns": {"vas_leg": {"from": "V", "values": {"max": 11}}}}, r"above 10 points"),
    ({"columns": {"level": {"from": "L", "values": {1: "L5-S1", "1": "L5-S1"}}}},
     r"'values' keys 1 and '1', which are the same code"),
    ({"columns": {"level": {"from": "L", "values": {}}}}, r"'columns\.level\.values'"),
    ({"columns": {"patient_id": {"from": "P", "format": "SPIDER-"}}},
     r"needs exactly one '\{\}'"),
    ({"columns": {"age": {"value": 40}}, "filter": {"column": "A", "in": [1], "equals": 1}},
     r"'filter\.0' needs exactly one of 'in'"),
    ({"columns": {"age": {"value": 40}}, "filter": {"colum": "A"}},
     r"unknown key 'filter\.0\.colum'; did you mean 'column'\?"),
    ({"filter": {"column": "A", "equals": 1}}, r"'columns' is missing"),
    (["age"], r"must be a YAML mapping with a 'columns' section; got list"),
])
def test_invalid_mapping(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_mapping(data)


@pytest.mark.parametrize(("text", "message"), [
    ("columns: {age: {from: Age}", r"is not valid YAML: .*\(line 1, column"),
    ("columns:\n  age: {from: A}\n  age: {from: B}\n", r"key 'age' is given twice.*line 3"),
    ("- age\n", r"must be a YAML mapping"),
    ("columns:\n  age: {from: A, unit: decades}\n", r"unknown unit 'decades' for age"),
    ("columns:\n  odi: {from: A, unit: %}\n", r"line 2, column 24\); put the value in quotes"),
])
def test_load_mapping_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "hospital.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"mapping .*hospital\.yaml.*{message}"):
        load_mapping(path)


def test_load_mapping_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"mapping file .*nowhere\.yaml not found"):
        load_mapping(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize(("columns", "filter_", "message"), [
    ({"vas_leg": {"from": "VAS_leg_100", "unit": "0-100"}}, None,
     r"mapping 'vas_leg' reads column 'VAS_leg_100', which the file lacks; "
     r"did you mean 'VAS leg 100'\? \(columns: VAS leg 100, Age\)"),
    ({"age": {"from": "Age"}}, {"column": "Region", "equals": "lumbar"},
     r"the filter reads column 'Region', which the file lacks \(columns"),
])
def test_missing_source_column(columns, filter_, message):
    extra = {"filter": filter_} if filter_ else {}
    with pytest.raises(ConfigError, match=message):
        apply_mapping(raw(**{"VAS leg 100": ["70"], "Age": ["40"]}), mapping(columns, **extra))


# --- reading, reports and the examples ---------------------------------------------------------


def test_report_rows_point_at_source_file_rows(tmp_path):
    csv = tmp_path / "h.csv"
    csv.write_text("Region,VAS\ncervical,5\nlumbar,55\ncervical,5\nlumbar,120\n",
                   encoding="utf-8")
    m = mapping({"vas_leg": {"from": "VAS", "unit": "0-100"}},
                filter={"column": "Region", "equals": "lumbar"})
    frame, report, result = read_mapped(csv, m)
    assert len(frame) == 2 and result is not None
    (problem,) = [p for p in report.problems if p.column == "vas_leg"]
    assert problem.rule == "above" and problem.rows == (4,)  # source row 4, frame row 2
    assert report.bad_rows.tolist() == [False, True]  # still aligned with the frame


def test_read_mapped_without_mapping_is_check_file(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("age,sex\n40,female\n", encoding="utf-8")
    frame, report, result = read_mapped(csv)
    assert result is None and frame["age"].tolist() == [40.0]
    assert ("vas_leg", "missing_column") in rules(report)


def test_many_missing_source_columns_suggest_the_wrong_file():
    m = load_mapping(EXAMPLES / "hospital_mapping.yaml")
    with pytest.raises(ConfigError, match=r"hospital_mapping\.yaml: 3[0-9] columns the mapping "
                                          r"reads are not in the file \('Pat-ID', "
                                          r"'Scan date', .*is it the file the mapping was written"):
        apply_mapping(raw(x=["1"]), m)


def test_read_mapped_names_the_data_file(tmp_path):
    csv = tmp_path / "h.csv"
    csv.write_text("Age\n40\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"which h\.csv lacks"):
        read_mapped(csv, mapping({"vas_leg": {"from": "VAS"}}))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_mappings_load(path):
    assert load_mapping(path).columns


def test_hospital_example_is_valid_training_data():
    frame, report, result = read_mapped(EXAMPLES / "hospital_example.csv",
                                        EXAMPLES / "hospital_mapping.yaml", purpose="training")
    assert report.ok, report.render()
    assert len(frame) == 12 and result is not None
    assert [s.removed for s in result.filtered] == [2]
    assert result.source_rows.tolist() == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 13, 14]
    assert result.dropped_columns == ("Spine region", "Ward", "Notes")
    assert result.passed_through == ("bmi",)
    first = frame.iloc[0]
    assert first["patient_id"] == "HOSP-A-H001" and first["sex"] == "male"
    assert (first["vas_leg"], first["odi"], first["symptom_duration_days"]) == (8.0, 44.0, 42.0)
    assert (first["herniation_volume_mm3"], first["canal_occupation_pct"]) == (1200.0, 45.0)
    assert first["followup_days"] == 183.0 and first["level"] == "L4-L5"
    assert frame["treatment"].iloc[4] == "conservative"  # "physio+NSAID", by the default
    assert frame["rim_enhancement"].isna().sum() == 2  # no contrast given
    text = describe(result)
    assert text.startswith("mapping ") and "14 source rows x 35 columns -> 12 rows" in text
    assert "vas_leg <- VAS leg (0-100) (0-100 -> 0-10, /10)" in text


@pytest.fixture(scope="module")
def spider():
    return read_mapped(SPIDER_CSV, EXAMPLES / "spider_mapping.yaml")


def test_spider_filter_keeps_lumbar_herniations(spider):
    # The README counts 72 herniated discs at labels 1: 21, 2: 34, 3: 10, 4: 4, "above": 3.
    # "above" lumps label 5 (L1-L2, lumbar: 1 disc) with labels 6 and 7 (thoracic: 2 discs),
    # so the lumbar filter keeps 72 - 2 = 70 rows, not 69.
    frame, _, result = spider
    assert [s.removed for s in result.filtered] == [1520 - 72, 2]
    assert len(frame) == 70 and frame["patient_id"].nunique() == 64
    assert frame["level"].value_counts().to_dict() == {
        "L4-L5": 34, "L5-S1": 21, "L3-L4": 10, "L2-L3": 4, "L1-L2": 1}
    assert not frame.duplicated(["patient_id", "level"]).any()
    assert frame["pfirrmann_grade"].value_counts().sort_index().tolist() == [2, 1, 18, 21, 28]
    assert frame["modic_type"].value_counts().sort_index().to_dict() == {0: 23, 2: 45, 3: 2}


def test_spider_imaging_conforms_and_clinical_columns_are_reported_missing(spider):
    _, report, result = spider
    mapped = {"patient_id", "site", "level", "modic_type", "pfirrmann_grade"}
    assert not [p for p in report.problems if p.column in mapped]
    missing = {c.name for c in schema.COLUMNS if c.required} - mapped
    assert rules(report) == {(name, "missing_column") for name in missing}
    assert {"age", "sex", "vas_leg", "treatment"} <= missing
    assert report.n_bad_rows == 0
    assert set(result.dropped_columns) == {"UP endplate", "LOW endplate", "Spondylolisthesis",
                                           "Disc herniation", "Disc narrowing", "Disc bulging"}


# --- chunk by chunk, for scoring -------------------------------------------------------------


def test_chunk_mapping_transforms_every_row_and_reports_the_filter():
    source = raw(IVD=["1", "2.0", "7", "3", None, "1"], Hern=["1", "1", "1", "0", "0", "0"],
                 VAS=["70", "80", "x", "10", "20", "30"], bmi=["25"] * 6, Notes=["n"] * 6)
    m = mapping({"level": {"from": "IVD", "values": {1: "L5-S1", 2: "L4-L5"}},
                 "vas_leg": {"from": "VAS", "unit": "0-100"}},
                filter={"column": "Hern", "equals": 1})
    chunked = ChunkMapping(m, list(source.columns), "h.csv")
    assert chunked.columns == ["vas_leg", "level", "bmi"]  # dictionary order, then carried
    assert chunked.sources == ["IVD", "VAS", "Hern", "bmi"]  # Notes need not be read
    whole = apply_mapping(source, m)
    for part in (source.iloc[:4], source.iloc[4:]):
        frame, keep = chunked.apply(part)
        expected = apply_mapping(part, m.model_copy(update={"filter": ()})).frame
        pd.testing.assert_frame_equal(frame, expected)
        assert keep.tolist() == whole.kept_rows[part.index].tolist()
    assert ChunkMapping(mapping({"age": {"from": "IVD"}}), ["IVD"]).apply(source)[1] is None


def test_chunk_mapping_checks_the_header_once():
    with pytest.raises(ConfigError, match=r"mapping 'vas_leg' reads column 'VAS', which h\.csv "
                                          r"lacks"):
        ChunkMapping(mapping({"vas_leg": {"from": "VAS"}}), ["Age"], "h.csv")


def test_scoring_maps_each_chunk_once(tmp_path, monkeypatch):
    import resorb.intake.mapping as intake_mapping
    from resorb.scoring import score_file

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = baseline_rows(8).rename(columns={"vas_leg": "Leg pain (0-100)"})
    frame["Leg pain (0-100)"] = "50"
    frame["Herniation"] = ["yes"] * 6 + ["no"] * 2
    (tmp_path / "map.yaml").write_text(
        "filter:\n  - {column: Herniation, equals: 'yes'}\n"
        "columns:\n  vas_leg: {from: 'Leg pain (0-100)', unit: 0-100}\n", encoding="utf-8")
    frame.to_csv(tmp_path / "in.csv", index=False)
    calls = []
    real = intake_mapping.transform
    monkeypatch.setattr(intake_mapping, "transform",
                        lambda rows, *a, **k: calls.append(len(rows)) or real(rows, *a, **k))
    summary = score_file(tmp_path / "in.csv", tmp_path / "out.csv", REFERENCE,
                         mapping=tmp_path / "map.yaml", chunk_rows=3, explain_k=0)
    # a first pass maps patient_id and level only (the cross-row rule: one row per patient
    # and level over the whole file), then scoring maps each chunk once
    assert calls == [3, 3, 2, 3, 3, 2]
    assert (summary.rows_in, summary.scored, summary.rejected) == (8, 6, 2)
