"""One reader for every command: bad files get the same verdict from validate, train and score."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb.cli import app
from resorb.errors import InputError
from resorb.intake import TableFile, check_file, conform, read_table
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


# --- one verdict for every command ------------------------------------------------------------

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"


def _written(tmp_path: Path, frame: pd.DataFrame | None = None, name: str = "in.csv") -> Path:
    path = tmp_path / name
    (baseline_rows(6) if frame is None else frame).to_csv(path, index=False)
    return path


def _edited(tmp_path: Path, row: int, edit) -> Path:
    """A valid CSV with data row ``row`` (1-based) rewritten by ``edit(cells) -> cells``."""
    path = _written(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[row] = ",".join(edit(lines[row].split(",")))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _short_row(tmp_path: Path) -> Path:
    return _edited(tmp_path, 3, lambda cells: cells[:-5])


def _long_row(tmp_path: Path) -> Path:
    return _edited(tmp_path, 2, lambda cells: [*cells, "x", "y"])


def _unknown_suffix(tmp_path: Path) -> Path:
    path = tmp_path / "in.xlsx"
    path.write_text("patient_id,age\nP1,40\n", encoding="utf-8")
    return path


def _empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes(b"")
    return path


def _header_only(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(",".join(baseline_rows(1).columns) + "\n", encoding="utf-8")
    return path


def _missing_column(tmp_path: Path) -> Path:
    return _written(tmp_path, baseline_rows(6).drop(columns="age"))


def _latin1(tmp_path: Path) -> Path:
    path = _written(tmp_path, baseline_rows(6).assign(site="Universitätsspital"))
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    return path


def _latin1_deep(tmp_path: Path) -> Path:
    """A bad byte past the first 64 KiB: found by the parser, not by the first look."""
    frame = baseline_rows(3000)
    frame.loc[2990, "patient_id"] = "Pä2990"
    path = _written(tmp_path, frame)
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    assert path.stat().st_size > 1 << 16
    return path


def _broken_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "in.parquet"
    path.write_bytes(b"PAR1 but not really")
    return path


BAD_FILES = [
    (_short_row, "cannot be read as CSV: row 3 has 24 cells where the header has 29"),
    (_long_row, "cannot be read as CSV: row 2 has 31 cells where the header has 29"),
    (_unknown_suffix, "unsupported file type '.xlsx'; use .csv or .parquet"),
    (_empty_file, "in.csv: the file is empty"),
    (_header_only, "in.csv: has a header but no data rows"),
    (_missing_column, "'age' is required but absent"),
    (_latin1, "cannot be read as CSV: it is not UTF-8 text"),
    (_latin1_deep, "cannot be read as CSV: it is not UTF-8 text"),
    (_broken_parquet, "in.parquet: cannot be read as PARQUET"),
]


@pytest.mark.parametrize(("make", "message"), BAD_FILES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_bad_file_gets_the_same_verdict_from_validate_and_score(tmp_path, monkeypatch, make,
                                                                  message):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = make(tmp_path)
    try:
        _, report = check_file(path, purpose="scoring")
    except InputError as exc:
        assert message in str(exc)
    else:
        assert not report.ok and message in report.render()

    runner = CliRunner()
    out = tmp_path / "out.csv"
    validated = runner.invoke(app, ["validate", str(path), "--purpose", "scoring"])
    scored = runner.invoke(app, ["score", "-i", str(path), "-o", str(out), "--model",
                                 str(REFERENCE)])
    for result in (validated, scored):
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    assert not out.exists()


# --- whole or in chunks, the same table -------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("rows", [1, 7, 1000])
def test_chunks_add_up_to_the_whole_table(tmp_path, suffix, rows):
    frame = baseline_rows(20).assign(site=[None, "A"] * 10)
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    source = TableFile(path)
    whole = source.read()
    chunks = list(source.chunks(rows))
    assert [len(c) for c in chunks[:-1]] == [rows] * (len(chunks) - 1)
    assert sum(len(c) for c in chunks) == 20
    assert source.total == (20 if suffix == ".parquet" else None)  # CSV: unknown until read
    again = pd.concat([c.to_pandas() for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(again, whole)
    assert whole["site"].isna().sum() == 10  # empty cells are missing
    some = source.read(["age", "site"])
    assert list(some.columns) == ["age", "site"]


def test_csv_names_are_stripped_and_quoted_cells_may_span_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(' patient_id , age,notes\nP1,40,"two\nlines"\n"P2", 41 ,\n',
                    encoding="utf-8")
    source = TableFile(path)
    assert source.names == ["patient_id", "age", "notes"]
    frame = source.read()
    assert frame["notes"].tolist()[0] == "two\nlines" and pd.isna(frame["notes"].iloc[1])
    assert frame["patient_id"].tolist() == ["P1", "P2"]
    canonical, _ = conform(frame[["age"]])
    assert canonical["age"].tolist() == [40.0, 41.0]  # cells are stripped by the cell rules


def test_reading_a_column_the_file_lacks_is_an_input_error(tmp_path):
    path = _written(tmp_path)
    with pytest.raises(InputError, match=r"in\.csv: has no column 'weight'"):
        read_table(path, columns=["age", "weight"])


def test_a_folder_is_not_a_table(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(InputError, match="is a directory, not a file"):
        TableFile(tmp_path / "d.csv")
