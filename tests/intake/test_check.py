"""The data dictionary drives its own tests: each rule has a passing and a failing case."""

from __future__ import annotations

import pandas as pd
import pytest

from resorb import schema
from resorb.intake import conform
from resorb.schema import Kind
from tests.factories import baseline_rows

NUMERIC = [c for c in schema.COLUMNS if c.kind in (Kind.NUMBER, Kind.INTEGER)]
CATEGORIES = [c for c in schema.COLUMNS if c.categories]
BOOLEANS = [c for c in schema.COLUMNS if c.kind is Kind.BOOLEAN]
REQUIRED = [c for c in schema.COLUMNS if c.required]
OPTIONAL = [c for c in schema.COLUMNS if not c.required and c.role is not schema.Role.OUTCOME]


def rules(report) -> set[tuple[str, str]]:
    return {(p.column, p.rule) for p in report.problems}


def with_cell(col: str, value: object, row: int = 1, n: int = 3) -> pd.DataFrame:
    df = baseline_rows(n, with_outcomes=True)
    values = df[col].astype(object).tolist()
    values[row] = value
    return df.assign(**{col: values})


def test_valid_rows_pass():
    canonical, report = conform(baseline_rows(5, with_outcomes=True), purpose="training")
    assert report.ok, report.render()
    assert report.summary().startswith("valid: 5 rows")
    assert list(canonical.columns) == list(schema.NAMES)


@pytest.mark.parametrize("col", NUMERIC, ids=lambda c: c.name)
def test_numeric_range_rules(col):
    if col.minimum is not None:
        _, rep = conform(with_cell(col.name, str(col.minimum - 1)))
        assert (col.name, "below") in rules(rep)
    if col.maximum is not None:
        _, rep = conform(with_cell(col.name, str(col.maximum + 1)))
        assert (col.name, "above") in rules(rep)
    _, rep = conform(with_cell(col.name, "not-a-number"))
    assert (col.name, "type") in rules(rep)
    bound = col.maximum if col.maximum is not None else col.minimum
    _, rep = conform(with_cell(col.name, str(bound)))
    assert rep.ok, rep.render()


@pytest.mark.parametrize("col", [c for c in NUMERIC if c.kind is Kind.INTEGER],
                         ids=lambda c: c.name)
def test_integer_rule(col):
    _, rep = conform(with_cell(col.name, str(col.minimum + 0.5)))
    assert (col.name, "integer") in rules(rep)


@pytest.mark.parametrize("col", CATEGORIES, ids=lambda c: c.name)
def test_category_rule(col):
    _, rep = conform(with_cell(col.name, "no-such-category"))
    assert (col.name, "category") in rules(rep)
    # categories match regardless of case and surrounding spaces
    canonical, rep = conform(with_cell(col.name, f"  {col.categories[0].upper()} "))
    assert rep.ok, rep.render()
    assert canonical[col.name].iloc[1] == col.categories[0]


@pytest.mark.parametrize("col", BOOLEANS, ids=lambda c: c.name)
@pytest.mark.parametrize(("cell", "expected"), [("true", True), ("No", False), ("1", True),
                                                ("0", False), ("yes", True)])
def test_boolean_tokens(col, cell, expected):
    canonical, rep = conform(with_cell(col.name, cell))
    assert rep.ok, rep.render()
    assert bool(canonical[col.name].iloc[1]) is expected


@pytest.mark.parametrize("col", BOOLEANS, ids=lambda c: c.name)
def test_boolean_type_rule(col):
    _, rep = conform(with_cell(col.name, "maybe"))
    assert (col.name, "type") in rules(rep)


@pytest.mark.parametrize("col", REQUIRED, ids=lambda c: c.name)
def test_required_rules(col):
    _, rep = conform(with_cell(col.name, None))
    assert (col.name, "required") in rules(rep)
    _, rep = conform(baseline_rows(3).drop(columns=[col.name]))
    assert (col.name, "missing_column") in rules(rep)


@pytest.mark.parametrize("col", OPTIONAL, ids=lambda c: c.name)
def test_optional_columns_may_be_blank_or_absent(col):
    _, rep = conform(with_cell(col.name, ""), purpose="scoring")
    assert rep.ok, rep.render()
    _, rep = conform(baseline_rows(3).drop(columns=[col.name], errors="ignore"),
                     purpose="scoring")
    assert rep.ok, rep.render()


def test_training_needs_the_horizon():
    df = baseline_rows(3).drop(columns=["followup_days"])
    _, rep = conform(df, purpose="scoring")
    assert rep.ok
    _, rep = conform(df, purpose="training")
    assert ("followup_days", "missing_column") in rules(rep)


def test_report_names_column_rows_and_hint():
    df = baseline_rows(20)
    df = df.assign(vas_leg=[str(v) for v in [50, 5, 80, 5, 5, 5, 5, 70, 5, 5, 5, 5, 90] + [5] * 7])
    _, rep = conform(df)
    text = rep.render()
    assert "'vas_leg' has 4 values above 10 points (rows 1, 3, 8, 13)" in text
    assert "recorded on 0-100?" in text


def test_every_problem_is_reported_at_once():
    df = with_cell("age", "150").assign(sex=["F", "female", "male"], extra=[1, 2, 3])
    _, rep = conform(df)
    assert {("age", "above"), ("sex", "category")} <= rules(rep)
    assert rep.n_bad_rows == 2
    # a column no command reads is a note, not a problem (a likely typo is one: below)
    assert "extra" not in {p.column for p in rep.problems}
    assert any("'extra'" in note for note in rep.notes)


def test_unknown_column_suggests_the_closest_name():
    df = baseline_rows(2).rename(columns={"vas_leg": "VAS leg"})
    _, rep = conform(df)
    assert "did you mean 'vas_leg'?" in rep.render()


def test_identifier_values_are_never_echoed():
    df = baseline_rows(3).assign(patient_id=["SECRET-1", "SECRET-1", "SECRET-2"],
                                 baseline_date=["2024-01-01", "SECRET-DATE", "2024-01-02"])
    _, rep = conform(df)
    assert ("baseline_date", "type") in rules(rep)
    assert ("patient_id", "duplicate_episode") in rules(rep)
    assert "SECRET" not in rep.render()


def test_conform_does_not_modify_the_callers_frame():
    df = baseline_rows(3)
    before = df.copy()
    conform(df)
    pd.testing.assert_frame_equal(df, before)
