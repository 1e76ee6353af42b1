"""A decimal-comma dialect rewrites the numeric columns only, never free text or codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from resorb.intake import TableFile, parse_mapping, read_mapped
from tests.factories import baseline_rows
from tests.leftovers.conftest import run

DIALECT = 'dialect: {separator: ";", decimal: ","}'


def _export(tmp_path, n: int = 6):
    """A ';'-separated export: decimal commas in numbers, commas in a note and a code."""
    frame = baseline_rows(n).assign(vas_leg="6,5", note="L5,S1 12,5 mm?", modic_type="0")
    frame.loc[0, "modic_type"] = "1,2"  # a mixed Modic 1/2 change, written as the unit does
    path = tmp_path / "e.csv"
    path.write_text(frame.rename(columns={"vas_leg": "VAS Bein", "modic_type": "Modic"})
                    .to_csv(index=False, sep=";"))
    return path


def test_the_reader_rewrites_only_the_columns_named_numeric(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("patient_id;vas_leg;note;level\nP1;6,5;12,5 mm;L5-S1\n")
    dialect = parse_mapping(yaml.safe_load(DIALECT)).dialect
    default = TableFile(path, dialect).read()
    assert default.loc[0, "vas_leg"] == "6.5"  # a dictionary number
    assert default.loc[0, "note"] == "12,5 mm"  # free text, as written
    assert TableFile(path, dialect, numeric={"note"}).read().loc[0, "note"] == "12,5 mm"
    assert TableFile(path, dialect, numeric=set()).read().loc[0, "vas_leg"] == "6,5"


MAPPING = DIALECT + """
columns:
  vas_leg: {from: "VAS Bein"}
  modic_type: {from: "Modic", values: {"0": 0, "1": 1, "1,2": 1, "2": 2, "3": 3}}
drop_unmapped: false
"""


def test_a_mapping_rewrites_its_numeric_sources_only(tmp_path):
    mapping = parse_mapping(yaml.safe_load(MAPPING))
    assert mapping.numeric_sources >= {"VAS Bein", "age", "bmi"}
    assert not {"Modic", "note", "patient_id", "level"} & mapping.numeric_sources
    frame, report, _ = read_mapped(_export(tmp_path), mapping, purpose="scoring")
    assert report.ok, report.render()
    assert frame["vas_leg"].tolist() == [6.5] * 6
    assert frame.loc[0, "modic_type"] == 1  # the code '1,2' recoded as written
    assert frame["note"].tolist() == ["L5,S1 12,5 mm?"] * 6  # carried, untouched


@pytest.mark.slow
def test_validate_reads_the_recoded_code_as_written(tmp_path):
    _export(tmp_path)
    (tmp_path / "m.yaml").write_text(MAPPING)
    result = run("validate", "e.csv", "--mapping", "m.yaml", "--purpose", "scoring",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid: 6 rows" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_score_reads_the_code_as_written_too(tmp_path):
    _export(tmp_path)
    (tmp_path / "m.yaml").write_text(MAPPING)
    reference = Path(__file__).resolve().parents[2] / "models" / "reference"
    result = run("score", "-i", "e.csv", "-o", "out.csv", "--mapping", "m.yaml", "--model",
                 str(reference), "--explain", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 rows in = 6 scored + 0 rejected" in result.stderr
