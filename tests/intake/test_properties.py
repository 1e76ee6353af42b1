"""Property-based: random cells, headers, mappings and bytes never make a traceback.

Whatever hypothesis throws at the reader: validate exits 0 or 2, scoring exits 0, 2 or 3
(2 by refusal or with every row rejected), rows in = scored + rejected, and the rows score
rejects are the rows validate flags. Fixed, derandomized profile: CI sees the same examples.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resorb import schema
from resorb.cli import app
from resorb.errors import ResorbError
from resorb.intake import TableFile, parse_mapping, read_mapped
from tests.factories import baseline_rows

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"
PROFILE = {"derandomize": True, "deadline": None, "database": None,
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
ROWS = 4
SCORED = [c.name for c in schema.COLUMNS
          if c.role not in (schema.Role.OUTCOME, schema.Role.SYNTHETIC)]

# any text a UTF-8 CSV can hold (no surrogates), plus spellings that look like values
cells = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["inf", "-inf", "NaN", "1e400", "2020-04-15T10:00+02:00", "1200-01-01",
                     "99999-12-31", "9" * 40, "true", "L5-S1", "", " ", "\"", "'", "\n"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)


@pytest.fixture(scope="module")
def model():
    from resorb.scoring.model import load_model

    return load_model(REFERENCE)


def _verdicts(path: Path, model, mapping: Path | None = None) -> None:
    """validate and score on one file: allowed exit codes and the same rows."""
    from resorb.scoring import score_file

    args = ["validate", str(path), "--purpose", "scoring"]
    args += ["--mapping", str(mapping)] if mapping else []
    validated = CliRunner().invoke(app, args)
    assert validated.exception is None or isinstance(validated.exception, SystemExit), (
        validated.exception)
    assert validated.exit_code in (0, 2)
    out = path.with_name("out.csv")
    try:
        summary = score_file(path, out, model, mapping=mapping, explain_k=0)
    except ResorbError:
        assert not out.exists()
        return
    assert summary.exit_code in (0, 2, 3)
    assert summary.rows_in == summary.scored + summary.rejected
    rejected = pd.read_csv(out, dtype=str, keep_default_na=False)["status"] == "rejected"
    try:
        _, report, _ = read_mapped(path, mapping, purpose="scoring")
    except ResorbError:
        assert rejected.all()
    else:
        np.testing.assert_array_equal(rejected.to_numpy(), np.asarray(report.bad_rows))
    out.unlink()


@pytest.mark.slow
@settings(max_examples=25, **PROFILE)
@given(data=st.data())
def test_random_cells(tmp_path, model, data):
    frame = baseline_rows(ROWS)
    for _ in range(data.draw(st.integers(1, 4))):
        column = data.draw(st.sampled_from(SCORED))
        row = data.draw(st.integers(0, ROWS - 1))
        frame.loc[row, column] = data.draw(cells)
    path = tmp_path / "cells.csv"
    frame.to_csv(path, index=False)
    _verdicts(path, model)


names = st.one_of(st.sampled_from(SCORED), st.text(max_size=12))


@pytest.mark.slow
@settings(max_examples=15, **PROFILE)
@given(header=st.lists(names, min_size=1, max_size=35))
def test_random_headers(tmp_path, model, header):
    row = baseline_rows(ROWS)
    frame = pd.DataFrame({i: row[n].tolist() if n in row.columns else ["x"] * ROWS
                          for i, n in enumerate(header)})
    frame.columns = header
    path = tmp_path / "header.csv"
    frame.to_csv(path, index=False)
    _verdicts(path, model)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8),
                    st.sampled_from(["{}", "{:d}", "{!r}", "{", "0-100", "months", "male"]))
rules = st.dictionaries(
    st.sampled_from(["from", "value", "values", "default", "unit", "format", "junk"]),
    st.one_of(scalars, st.dictionaries(scalars.filter(lambda v: v is not None), scalars,
                                       max_size=3)),
    max_size=3)
mappings = st.fixed_dictionaries({}, optional={
    "columns": st.dictionaries(st.one_of(st.sampled_from(SCORED), st.text(max_size=6)), rules,
                               max_size=4),
    "filter": st.lists(st.dictionaries(st.sampled_from(["column", "equals", "in"]), scalars,
                                       max_size=3), max_size=2),
    "drop_unmapped": st.one_of(st.booleans(), scalars),
    "dialect": st.dictionaries(st.sampled_from(["separator", "decimal", "encoding", "missing",
                                                "date_format"]), scalars, max_size=3),
})


@settings(max_examples=150, **PROFILE)
@given(data=mappings)
def test_random_mappings_are_a_mapping_or_a_config_error(tmp_path, data):
    path = tmp_path / "in.csv"
    if not path.exists():
        baseline_rows(ROWS).rename(columns={"age": "from"}).to_csv(path, index=False)
    try:
        mapping = parse_mapping(data)
    except ResorbError:
        return
    with contextlib.suppress(ResorbError):
        read_mapped(path, mapping, purpose="scoring")


@settings(max_examples=150, **PROFILE)
@given(body=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".csv.gz", ".parquet"]))
def test_random_bytes_are_a_table_or_an_input_error(tmp_path, body, suffix):
    path = tmp_path / f"b{suffix}"
    path.write_bytes(body)
    with contextlib.suppress(ResorbError):
        TableFile(path).read()
