"""The cell rules: declared once, and the report and the row reasons read the same masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resorb import schema
from resorb.intake import (
    CELL_RULES,
    allowed_units,
    apply_mapping,
    check_column,
    conform,
    conform_rows,
    parse_mapping,
)
from resorb.schema import Kind
from tests.factories import baseline_rows

# one column breaking several rules at once, row by row
BROKEN = {
    "vas_leg": ["inf", "abc", "11", "5", "-1", None, "-inf", "5"],
    "migration_grade": ["1.5", "4", "1", "1", "x", "1", "1", "-0.5"],
    "sex": ["F", "male", "female", "", "male", "female", "{x}", "male"],
    "smoker": ["maybe", "yes", "no", "1", "0", "", "ja", "n"],
    "baseline_date": ["2024-02-30", "2024-01-01", " 2024-01-02 ", None, "x", "2024-01-01",
                      "2024-01-01", "2024-01-01"],
}


def broken_rows() -> pd.DataFrame:
    return baseline_rows(8).assign(**BROKEN)


def test_every_rule_has_one_name_and_a_reason_that_quotes_no_value():
    names = [r.name for r in CELL_RULES]
    assert len(names) == len(set(names))
    col = schema.BY_NAME["vas_leg"]
    for rule in CELL_RULES:
        assert rule.reason(col).startswith("vas_leg")


@pytest.mark.parametrize("name", list(BROKEN))
def test_report_and_row_reasons_come_from_the_same_masks(name):
    frame = broken_rows()
    col = schema.BY_NAME[name]
    checked = check_column(frame[name], col, "scoring")
    _, report = conform(frame, purpose="scoring")
    _, reasons = conform_rows(frame, purpose="scoring")
    problems = [p for p in report.problems if p.column == name]
    assert len(problems) == len(checked.broken) > 0
    for (rule, mask), problem in zip(checked.broken, problems, strict=True):
        assert problem.rule == rule.rule and problem.count == int(mask.sum())
        assert problem.rows == tuple(int(i) + 1 for i in np.flatnonzero(mask)[:5])
        text = rule.reason(col)
        assert reasons[mask].str.contains(text, regex=False).all()
        # an integer column words text and a fraction alike ("not a whole number")
        same_words = np.logical_or.reduce([m for r, m in checked.broken if r.reason(col) == text])
        assert not reasons[~same_words].str.contains(text, regex=False).any()


def test_infinite_and_unparsed_numbers_are_told_apart_in_both_views():
    frame = broken_rows()
    _, report = conform(frame, purpose="scoring")
    _, reasons = conform_rows(frame, purpose="scoring")
    messages = {p.message for p in report.problems if p.column == "vas_leg"}
    assert "has 2 infinite values" in messages
    assert "has 1 value that is not a number (found 'abc')" in messages
    row = reasons.str.split("; ")
    assert "vas_leg: infinite" in row[0] and "vas_leg: infinite" in row[6]
    assert "vas_leg: not a number" in row[1] and "vas_leg above 10 points" in row[2]
    assert "vas_leg below 0 points" in row[4] and "vas_leg missing" in row[5]
    assert {"migration_grade: not a whole number", "migration_grade below 0 grade"} <= set(row[7])


def test_values_with_braces_are_quoted_as_found():
    _, report = conform(broken_rows(), purpose="scoring")
    (problem,) = [p for p in report.problems if p.column == "sex" and p.rule == "category"]
    assert problem.message == "has 2 values outside female / male (found 'F', '{x}')"
    assert problem.rows == (1, 7)


def test_dates_are_stripped_before_parsing():
    canonical, report = conform(broken_rows(), purpose="scoring")
    assert canonical["baseline_date"].iloc[2] == pd.Timestamp("2024-01-02")
    (problem,) = [p for p in report.problems if p.column == "baseline_date"]
    assert problem.rows == (1, 5) and "found" not in problem.message  # identifiers: no values


@pytest.mark.parametrize("n", [8, 4000])
def test_distinct_values_are_checked_once_with_the_same_result(n):
    """Large text columns are checked per distinct value; the masks are the same."""
    frame = pd.concat([broken_rows()] * (n // 8), ignore_index=True)
    small = conform_rows(broken_rows(), purpose="scoring")
    values, reasons = conform_rows(frame, purpose="scoring")
    assert reasons.tolist() == small[1].tolist() * (n // 8)
    pd.testing.assert_frame_equal(values.head(8), small[0])


# --- the data dictionary's spellings and units ------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_every_boolean_spelling_is_read_by_the_rules_and_matched_by_a_mapping(value):
    spellings = list(schema.BOOLEAN_SPELLINGS[value])
    cells = pd.Series(spellings + [f" {s.upper()}" for s in spellings], dtype="str")
    checked = check_column(cells, schema.BY_NAME["smoker"])
    assert not checked.broken
    assert checked.values.tolist() == [value] * 2 * len(spellings)
    m = parse_mapping({"columns": {"smoker": {"from": "S", "values": {value: "true"}}}})
    mapped = apply_mapping(pd.DataFrame({"S": spellings}, dtype="str"), m).frame["smoker"]
    assert mapped.tolist() == ["true"] * len(spellings)


@pytest.mark.parametrize("col", [c for c in schema.COLUMNS if c.kind in (Kind.NUMBER,
                                                                           Kind.INTEGER)],
                         ids=lambda c: c.name)
def test_units_come_from_the_data_dictionary(col):
    assert allowed_units(col.name) == col.conversions
    if col.unit in schema.UNIT_CONVERSIONS:
        assert schema.UNIT_CONVERSIONS[col.unit].items() <= col.conversions.items()
    if col.unit:
        assert col.conversions[col.mapping_unit] == (1, 1)
