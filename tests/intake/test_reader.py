"""One reader for every command: bad files get the same verdict from validate, train and score."""

from __future__ import annotations

import pandas as pd
import pytest

from resorb.errors import InputError
from resorb.intake import conform, read_table
from tests.factories import baseline_rows


@pytest.mark.parametrize(("name", "content", "message"), [
    ("a.txt", "x", "unsupported file type '.txt'"),
    ("empty.csv", "", "the file is empty"),
    ("header.csv", "patient_id,age\n", "has a header but no data rows"),
    ("broken.parquet", "not parquet at all", "cannot be read as PARQUET"),
    ("binary.csv", b"\xff\xfe\x00\x81\x82", "cannot be read as CSV"),
])
def test_read_table_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError, match=message):
        read_table(path)


def test_read_table_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_parquet_round_trip_keeps_types(tmp_path):
    canonical, _ = conform(baseline_rows(4, with_outcomes=True), purpose="training")
    path = tmp_path / "c.parquet"
    canonical.to_parquet(path)
    again, rep = conform(read_table(path), purpose="training")
    assert rep.ok, rep.render()
    pd.testing.assert_frame_equal(again, canonical)
