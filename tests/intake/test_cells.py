"""Cells that parse but cannot be represented: rejected row by row, with their reason.

A date with a time zone next to local dates made pandas refuse the whole column ("Mixed
timezones"), a year beyond pandas' nanosecond range (1677-2262) raised OutOfBoundsDatetime,
and Parquet bytes that are not UTF-8 raised UnicodeDecodeError: one cell lost the batch.
Each is now a rule of its own; the other rows are checked (and scored) as usual.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from resorb import schema
from resorb.intake import check_column, conform, conform_rows
from tests.factories import baseline_rows

DATE = schema.BY_NAME["baseline_date"]

# (cell, the reason its row gets, or "" when the cell is a valid date)
TEXT_DATES = [
    ("2020-04-15 10:00:00+02:00", "baseline_date: has a time zone"),
    ("2020-04-15T10:00:00Z", "baseline_date: has a time zone"),
    ("2020-04-15T10:00:00.123-05:30", "baseline_date: has a time zone"),
    ("2020-04-15 10:00 UTC", "baseline_date: has a time zone"),
    ("2020-04-15+02:00", "baseline_date: has a time zone"),
    ("1200-01-01", "baseline_date: year outside 1900-2200"),
    ("0000-01-01", "baseline_date: year outside 1900-2200"),
    ("1677-09-21", "baseline_date: year outside 1900-2200"),
    ("2262-04-12", "baseline_date: year outside 1900-2200"),
    ("99999-01-01", "baseline_date: year outside 1900-2200"),
    ("12000101", "baseline_date: year outside 1900-2200"),
    ("1899-12-31", "baseline_date: year outside 1900-2200"),
    ("2020-13-45", "baseline_date: not a date (YYYY-MM-DD)"),
    ("NaT", "baseline_date: not a date (YYYY-MM-DD)"),
    ("2020-04-15 10:00:00", ""),
    ("1900-01-01", ""),
    ("2200-12-31", ""),
    (" 2024-02-29 ", ""),
]


@pytest.mark.parametrize(("cell", "reason"), TEXT_DATES)
def test_a_text_date_is_parsed_or_its_row_rejected_alone(cell, reason):
    frame = baseline_rows(4).assign(baseline_date=["2024-03-01", cell, "2024-03-02", None])
    canonical, reasons = conform_rows(frame)
    assert reasons.tolist() == ["", reason, "", ""]
    assert canonical["baseline_date"].dtype == "datetime64[ns]"
    assert canonical["baseline_date"].iloc[0] == pd.Timestamp("2024-03-01")
    assert pd.isna(canonical["baseline_date"].iloc[1]) == bool(reason)
    _, report = conform(frame)
    assert report.ok == (not reason)


def test_the_report_counts_the_dates_never_quotes_them_and_says_the_fix():
    frame = baseline_rows(3).assign(baseline_date=["2020-04-15T10:00:00Z", "1200-01-01",
                                                   "2024-01-01"])
    _, report = conform(frame)
    text = report.render()
    assert "has 1 date with a time zone (row 1): write the local date as YYYY-MM-DD" in text
    assert "has 1 date with a year outside 1900-2200 (row 2): check the year" in text
    assert "2020-04-15T10" not in text and "1200-01" not in text  # an identifier: not echoed


@pytest.mark.parametrize(("array", "reasons"), [
    (pa.array([dt.datetime(2024, 3, 1)] * 2, pa.timestamp("us", tz="Europe/Zurich")),
     ["baseline_date: has a time zone"] * 2),
    (pa.array([dt.datetime(1200, 1, 1), dt.datetime(2024, 3, 1)], pa.timestamp("us")),
     ["baseline_date: year outside 1900-2200", ""]),
    (pa.array([dt.date(9999, 12, 31), dt.date(2024, 3, 1)], pa.date32()),
     ["baseline_date: year outside 1900-2200", ""]),
    (pa.array([dt.time(1, 2), None]), ["baseline_date: not a date (YYYY-MM-DD)", ""]),
    (pa.array([dt.datetime(2024, 3, 1), None], pa.timestamp("s")), ["", ""]),
], ids=["zoned", "us-1200", "date32-9999", "time", "seconds"])
def test_a_typed_date_column_is_checked_by_the_same_rules(array, reasons):
    raw = pa.table({"baseline_date": array}).to_pandas()["baseline_date"]
    frame = baseline_rows(2).assign(baseline_date=raw.to_numpy())
    _, got = conform_rows(frame)
    assert got.tolist() == reasons


@pytest.mark.parametrize(("column", "cells", "reasons"), [
    ("sex", [b"\xff\xfe", b"male"], ["sex: not UTF-8 text", ""]),
    ("site", [b"\xff", "A"], ["site: not UTF-8 text", ""]),
    ("age", [b"4\xff", b"45"], ["age: not UTF-8 text", ""]),
    ("sex", [bytearray(b"female"), None], ["", "sex missing"]),
])
def test_bytes_that_are_not_utf8_reject_their_row(column, cells, reasons):
    frame = baseline_rows(2).assign(**{column: pd.Series(cells, dtype=object)})
    _, got = conform_rows(frame)
    assert got.tolist() == reasons


@pytest.mark.parametrize(("cell", "reason"), [
    ("1e400", "age: infinite"), ("-inf", "age: infinite"), ("NaN", "age: not a number"),
    ("9" * 40, "age above 100 years"), ("-" + "9" * 40, "age below 18 years"),
    ("1e-400", "age below 18 years"), ("0x20", "age: not a number"), ("45", ""),
])
def test_numbers_beyond_float_range_are_rules_not_warnings(cell, reason):
    # pytest turns warnings into errors: inf - round(inf) once warned "invalid value"
    frame = baseline_rows(2).assign(age=["40", cell], migration_grade=["1e400", "1"])
    _, got = conform_rows(frame)
    assert got.tolist() == ["migration_grade: infinite", reason]


def test_flags_are_not_also_counted_as_unparsed_or_missing():
    raw = pd.Series(["2020-04-15T10:00Z", "1200-01-01", None, "x"], dtype="str")
    checked = check_column(raw, DATE, "any")
    names = {rule.name: np.flatnonzero(mask).tolist() for rule, mask in checked.broken}
    assert names == {"timezone": [0], "date_range": [1], "unparsed": [3]}
