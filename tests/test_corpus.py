"""The bad-input corpus: every case through validate and score, one verdict, no traceback.

Each case builds an input (a file, a mapping, options), then runs ``resorb validate`` (in
process, :class:`typer.testing.CliRunner`) and scoring (in process through
:func:`resorb.scoring.score_file` with the reference model loaded once, the exit code as the
CLI derives it: a :class:`ResorbError` is exit 2, else the summary's 0/3/2). A
representative subset also runs ``resorb score`` through the CliRunner and a few run as
real subprocesses. Every case asserts: the exit codes expected, the words the message must
hold, no "Traceback", no output or partial file left behind on exit 2, and rows in = scored
+ rejected with the same rows rejected by score as flagged by validate (one rule engine).

The counts (cases, tracebacks, wrong exit codes) are printed at the end of the session
(tests/conftest.py reads :data:`TALLY`); docs/hardening.md records a run.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from resorb import schema
from resorb.cli import app
from resorb.errors import ResorbError
from resorb.intake import read_mapped
from resorb.schema import Kind, Role
from tests.factories import baseline_rows

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"
ROWS = 6
BAD_ROW = 2  # 0-based row that a cell case breaks
#: what the corpus found, for the session summary (conftest) and docs/hardening.md
TALLY: Counter[str] = Counter()


@dataclass(frozen=True)
class Case:
    """One bad input and the verdict both commands must give.

    ``validate``/``score``: expected exit codes (None: not run). ``words``: what the
    message (stdout + stderr) must contain, case-insensitive. ``rejected``: rows score
    must reject (None: not checked; the cell cases check it against validate's bad rows).
    """

    name: str
    build: Callable[[Path], tuple[Path, Path | None]]
    validate: int | None
    score: int | None
    words: tuple[str, ...] = ()
    cli: bool = False


# ------------------------------------------------------------------------------- builders


def _csv(tmp: Path, frame: pd.DataFrame, name: str = "in.csv") -> Path:
    path = tmp / name
    frame.to_csv(path, index=False)
    return path


def _text(tmp: Path, body: str | bytes, name: str = "in.csv") -> Path:
    path = tmp / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def _valid_text() -> str:
    return baseline_rows(ROWS).to_csv(index=False)


def cell_case(column: str, value: str) -> Callable[[Path], tuple[Path, None]]:
    def build(tmp: Path) -> tuple[Path, None]:
        frame = baseline_rows(ROWS)
        frame.loc[BAD_ROW, column] = value
        return _csv(tmp, frame), None
    return build


def parquet_case(column: str, array: pa.Array) -> Callable[[Path], tuple[Path, None]]:
    def build(tmp: Path) -> tuple[Path, None]:
        table = pa.Table.from_pandas(baseline_rows(ROWS), preserve_index=False)
        table = table.set_column(table.schema.get_field_index(column), column, array)
        path = tmp / "in.parquet"
        pq.write_table(table, path)
        return path, None
    return build


def file_case(body: Callable[[], str | bytes], name: str = "in.csv"):
    def build(tmp: Path) -> tuple[Path, None]:
        return _text(tmp, body(), name), None
    return build


def mapping_case(yaml_text: str, frame: Callable[[], pd.DataFrame] | None = None):
    def build(tmp: Path) -> tuple[Path, Path]:
        data = _csv(tmp, (frame or (lambda: baseline_rows(ROWS)))())
        mapping = tmp / "map.yaml"
        mapping.write_text(yaml_text, encoding="utf-8")
        return data, mapping
    return build


# ------------------------------------------------------------------------------- the table

_BAD_CELLS = {
    Kind.NUMBER: ["abc", "inf", "-inf", "NaN", "1e400", "-1e400", "1e308", "-1e308", "0x10",
                  "1_0", "١٢", "--3", "4,5", "9" * 40, "1e-400x", "½"],
    Kind.INTEGER: ["1.5", "abc", "inf", "9" * 40, "-" + "9" * 30, "2.0000001", "1e400", "NaN"],
    Kind.BOOLEAN: ["maybe", "2", "-1", "0.5", "oui", "NaN", "truee"],
    Kind.CATEGORY: ["nonsense", "Ｌ５-Ｓ１", "NULL", "\u0000x", "' OR 1=1 --", "=cmd|' /C calc'!A0",
                    "x" * 5000],
    Kind.DATE: ["2020-04-15 10:00:00+02:00", "2020-04-15T10:00:00Z", "2020-04-15+02:00",
                "1200-01-01", "0000-01-01", "99999-01-01", "1677-09-21", "2262-04-12",
                "2024-02-30", "15.04.2020", "not a date", "12000101", "2020-04-15T25:00"],
}
# the words a rejected row's reason holds, by kind of bad cell
_REASON = {
    "timezone": "time zone", "range": "year outside", "utf8": "not UTF-8 text",
}


def _cell_cases(per_value: int = 3) -> list[Case]:
    """Each bad cell of a kind in ``per_value`` columns of that kind (cycling through them)."""
    cases = []
    by_kind: dict[Kind, list[schema.Column]] = {}
    for col in schema.COLUMNS:
        if col.role not in (Role.OUTCOME, Role.SYNTHETIC) and col.kind is not Kind.STRING:
            by_kind.setdefault(col.kind, []).append(col)
    pairs = [(columns[(i + j) % len(columns)], value)
             for kind, columns in by_kind.items()
             for i, value in enumerate(_BAD_CELLS[kind])
             for j in range(min(per_value, len(columns)))]
    for col, value in pairs:
        words: tuple[str, ...] = (col.name,)
        if "+02:00" in value or value.endswith("Z"):
            words += (_REASON["timezone"],)
        elif value[:5].lstrip("0").startswith(("12", "999", "1677", "2262")) and "-" in value:
            words += (_REASON["range"],)
        cases.append(Case(f"cell-{col.name}-{value[:20]!r}", cell_case(col.name, value),
                          2, 3, words))
    return cases


def _one_per_column(cases: list[Case]) -> list[Case]:
    """Every kind of cell through the full CLI at least once (the others in process)."""
    seen: set[str] = set()
    out = []
    for case in cases:
        column = case.name.split("-")[1]
        kind = schema.BY_NAME[column].kind
        out.append(Case(**{**case.__dict__, "cli": kind not in seen}))
        seen.add(kind)
    return out


def _dates(values, kind=pa.date32()) -> pa.Array:
    return pa.array(values, kind)


def _parquet_cases() -> list[Case]:
    import datetime as dt

    good = dt.date(2024, 3, 1)
    n = ROWS - 1
    return [
        Case("pq-tz-timestamps", parquet_case("baseline_date", pa.array(
            [dt.datetime(2024, 3, 1)] * ROWS, pa.timestamp("us", tz="Europe/Zurich"))),
            2, 2, ("baseline_date", "time zone")),
        Case("pq-date-1200", parquet_case("baseline_date", _dates([dt.date(1200, 1, 1)]
                                                                  + [good] * n)),
             2, 3, ("year outside",)),
        Case("pq-date-9999", parquet_case("baseline_date", _dates([dt.date(9999, 12, 31)]
                                                                  + [good] * n)),
             2, 3, ("year outside",)),
        Case("pq-timestamp-us-1200", parquet_case("baseline_date", pa.array(
            [dt.datetime(1200, 1, 1)] + [dt.datetime(2024, 3, 1)] * n, pa.timestamp("us"))),
            2, 3, ("year outside",)),
        Case("pq-time-of-day", parquet_case("baseline_date", pa.array([dt.time(1, 2)] * ROWS)),
             2, 2, ("baseline_date", "date")),
        Case("pq-binary-not-utf8", parquet_case("sex", pa.array(
            [b"\xff\xfe"] + [b"male"] * n, pa.binary())), 2, 3, ("not UTF-8",)),
        Case("pq-binary-site", parquet_case("site", pa.array([b"\xff"] * ROWS, pa.binary())),
             2, 2, ("site", "not UTF-8")),
        Case("pq-int64-max-age", parquet_case("age", pa.array([2**63 - 1] + [40] * n)),
             2, 3, ("age", "above")),
        Case("pq-uint64-age", parquet_case("age", pa.array([2**64 - 1] + [40] * n,
                                                           pa.uint64())), 2, 3, ("above",)),
        Case("pq-inf-age", parquet_case("age", pa.array([float("inf")] + [40.0] * n)),
             2, 3, ("infinite",)),
        Case("pq-list-age", parquet_case("age", pa.array([[1]] * ROWS)), 2, 2, ("age",)),
        Case("pq-struct-sex", parquet_case("sex", pa.array([{"a": 1}] * ROWS)), 2, 2,
             ("sex",)),
        Case("pq-null-sex", parquet_case("sex", pa.nulls(ROWS)), 2, 2, ("sex", "missing")),
        Case("pq-duration-age", parquet_case("age", pa.array([1] * ROWS, pa.duration("s"))),
             2, 2, ("age",)),
        Case("pq-bool-age", parquet_case("age", pa.array([True] * ROWS)), 2, 2, ("age",)),
        Case("pq-int-date", parquet_case("baseline_date", pa.array([1] * ROWS)), 2, 2,
             ("baseline_date", "date")),
        Case("pq-dictionary-sex", parquet_case("sex", pa.array(
            ["male"] * n + ["x"]).dictionary_encode()), 2, 3, ("sex",)),
        Case("pq-float-smoker", parquet_case("smoker", pa.array([0.5] + [0.0] * n)),
             2, 3, ("smoker",)),
    ]


def _ragged(drop: int) -> Callable[[], str]:
    def body() -> str:
        lines = _valid_text().splitlines()
        lines[3] = ",".join(lines[3].split(",")[:-drop])
        return "\n".join(lines) + "\n"
    return body


def _header(edit: Callable[[list[str]], list[str]]) -> Callable[[], str]:
    def body() -> str:
        lines = _valid_text().splitlines()
        lines[0] = ",".join(edit(lines[0].split(",")))
        return "\n".join(lines) + "\n"
    return body


def _file_cases() -> list[Case]:
    text = _valid_text
    frame = baseline_rows(ROWS)
    return [
        Case("empty-file", file_case(lambda: b""), 2, 2, ("empty",), cli=True),
        Case("header-only", file_case(lambda: text().splitlines()[0] + "\n"), 2, 2,
             ("no data rows",)),
        Case("blank-lines-only", file_case(lambda: "\n\n\n"), 2, 2, ()),
        *[Case(f"short-row-{k}", file_case(_ragged(k)), 2, 2, ("row 3", "cells where"),
               cli=k == 5) for k in (1, 2, 5, 10)],
        Case("long-row", file_case(lambda: text().replace("\nP0002,", "\nP0002,x,y,", 1)), 2,
             2, ("row", "cells where")),
        Case("latin1", file_case(lambda: frame.assign(site="Zürich").to_csv(
            index=False).encode("latin-1")), 2, 2, ("not UTF-8", "latin-1")),
        Case("latin1-semicolon-decimal-comma", file_case(lambda: frame.assign(
            site="Zürich", age="45,5").to_csv(index=False, sep=";").encode("latin-1")), 2, 2,
            ("separator: ';'", "decimal: ','", "encoding: latin-1")),
        Case("semicolon-utf8", file_case(lambda: frame.to_csv(index=False, sep=";")), 2, 2,
             ("header has one column", "separator: ';'"), cli=True),
        Case("tab-separated", file_case(lambda: frame.to_csv(index=False, sep="\t")), 2, 2,
             ("separator: 'tab'",)),
        Case("pipe-separated", file_case(lambda: frame.to_csv(index=False, sep="|")), 2, 2,
             ("separator: '|'",)),
        Case("binary-junk", file_case(lambda: bytes(range(256)) * 4), 2, 2, ("cannot be read",)),
        Case("nul-bytes", file_case(lambda: b"\x00" * 100), 2, 2, ()),
        Case("broken-gzip", file_case(lambda: b"\x1f\x8b" + b"junk" * 10), 2, 2,
             ("cannot be read",)),
        Case("truncated-gzip", file_case(lambda: gzip.compress(text().encode())[:60],
                                         "in.csv.gz"), 2, 2, ("cannot be read",)),
        Case("gzip-parquet", file_case(lambda: gzip.compress(b"PAR1xxxx"), "in.parquet.gz"),
             2, 2, ("gzip-compressed Parquet",)),
        Case("junk-parquet", file_case(lambda: b"PAR1 not really", "in.parquet"), 2, 2,
             ("cannot be read as PARQUET",)),
        Case("empty-parquet", file_case(lambda: b"", "in.parquet"), 2, 2, ("empty",)),
        Case("xlsx", file_case(lambda: b"PK\x03\x04", "in.xlsx"), 2, 2,
             ("unsupported file type",)),
        Case("no-suffix", file_case(lambda: text(), "in"), 2, 2, ("unsupported file type",)),
        Case("txt-suffix", file_case(lambda: text(), "in.txt"), 2, 2, ("unsupported",)),
        Case("missing-required-column", file_case(lambda: frame.drop(
            columns="age").to_csv(index=False)), 2, 2, ("age", "required but absent")),
        Case("missing-three-columns", file_case(lambda: frame.drop(
            columns=["age", "sex", "level"]).to_csv(index=False)), 2, 2, ("age", "sex")),
        Case("duplicate-column", file_case(_header(lambda h: [*h[:-1], "age"])), 2, 2,
             ("age", "2 times")),
        Case("unknown-column-typo", file_case(_header(lambda h: [
            "agee" if c == "age" else c for c in h])), 2, 2, ("age",)),
        # scoring reads the dictionary's columns: both commands accept and name the others
        Case("header-with-blank-name", file_case(_header(lambda h: [*h[:-1], ""])), 0, 0,
             ("header ends with 1 empty column name",)),
        Case("unknown-extra-column", file_case(lambda: frame.assign(notes="x").to_csv(
            index=False)), 0, 0, ("notes",)),
        Case("quote-never-closed", file_case(lambda: text().replace("P0003", '"P0003', 1)),
             2, 2, ()),
        Case("all-rows-bad-age", file_case(lambda: frame.assign(age="x").to_csv(index=False)),
             2, 2, ("age", "not")),
        Case("utf16-no-bom", file_case(lambda: text().encode("utf-16-le")), 2, 2, ()),
        Case("folder", lambda tmp: ((tmp / "d.csv").mkdir() or tmp / "d.csv", None), 2, 2,
             ("is a directory",)),
        Case("no-such-file", lambda tmp: (tmp / "nope.csv", None), 2, 2, ("no such file",)),
        Case("mac-newlines-are-read", file_case(lambda: text().replace("\n", "\r")), 0, 0,
             ()),
        Case("huge-cell", file_case(lambda: frame.assign(level="L" * 200_000).to_csv(
            index=False)), 2, 2, ("level",)),
    ]


_GOOD_MAP = "columns:\n  patient_id: {from: patient_id}\n"


def _mapping_cases() -> list[Case]:
    return [
        Case("map-format-d", mapping_case(
            'columns:\n  patient_id: {from: patient_id, format: "{:d}"}\n'), 2, 2,
            ("columns.patient_id", "{:d}", "'{}'"), cli=True),
        Case("map-format-f", mapping_case(
            'columns:\n  patient_id: {from: patient_id, format: "P{:.2f}"}\n'), 2, 2,
            ("patient_id", "text")),
        Case("map-format-conversion", mapping_case(
            'columns:\n  patient_id: {from: patient_id, format: "{!z}"}\n'), 2, 2,
            ("patient_id",)),
        Case("map-format-two-fields", mapping_case(
            'columns:\n  patient_id: {from: patient_id, format: "{}{}"}\n'), 2, 2,
            ("exactly one",)),
        Case("map-format-unbalanced", mapping_case(
            'columns:\n  patient_id: {from: patient_id, format: "P{"}\n'), 2, 2,
            ("patient_id",)),
        Case("map-not-yaml", mapping_case("columns: [unclosed\n"), 2, 2, ("not valid YAML",)),
        Case("map-list", mapping_case("- a\n- b\n"), 2, 2, ("must be a YAML mapping",)),
        Case("map-empty", mapping_case(""), 2, 2, ("is empty: give at least a 'columns'",)),
        Case("map-unknown-key", mapping_case(_GOOD_MAP + "colums: {}\n"), 2, 2,
             ("unknown key",)),
        Case("map-unknown-target", mapping_case("columns:\n  agee: {from: age}\n"), 2, 2,
             ("did you mean 'age'",)),
        Case("map-unknown-unit", mapping_case("columns:\n  age: {from: age, unit: furlongs}\n"),
             2, 2, ("unknown unit",)),
        Case("map-missing-source", mapping_case("columns:\n  age: {from: Alter}\n"), 2, 2,
             ("Alter",)),
        Case("map-filter-keeps-none", mapping_case(
            _GOOD_MAP + "filter: {column: sex, equals: nobody}\n"), 2, 2, ("filter",)),
        Case("map-bad-recode-target", mapping_case(
            "columns:\n  sex: {from: sex, values: {m: man}}\n"), 2, 2, ("sex",)),
        Case("map-duplicate-key", mapping_case(_GOOD_MAP + "drop_unmapped: true\n"
                                               "drop_unmapped: false\n"), 2, 2, ("twice",)),
        Case("map-no-columns-no-dialect", mapping_case("drop_unmapped: true\n"), 2, 2,
             ("'columns' is missing",)),
        Case("dialect-bad-separator", mapping_case("dialect: {separator: ';;'}\n"), 2, 2,
             ("dialect.separator", "one character")),
        Case("dialect-newline-separator", mapping_case('dialect: {separator: "\\n"}\n'), 2, 2,
             ("dialect.separator",)),
        Case("dialect-bad-decimal", mapping_case("dialect: {decimal: ';'}\n"), 2, 2,
             ("dialect.decimal",)),
        Case("dialect-unknown-encoding", mapping_case("dialect: {encoding: klingon}\n"), 2, 2,
             ("not a known text encoding",)),
        Case("dialect-date-format-no-day", mapping_case('dialect: {date_format: "%Y"}\n'), 2,
             2, ("date_format", "day")),
        Case("dialect-unknown-key", mapping_case("dialect: {sep: ';'}\n"), 2, 2,
             ("unknown key", "separator")),
        Case("dialect-wrong-separator-declared", mapping_case("dialect: {separator: ';'}\n"),
             2, 2, ("header has one column", "separator: ','")),
        Case("dialect-wrong-encoding-declared", mapping_case("dialect: {encoding: utf-16}\n"),
             2, 2, ("utf-16",)),
        Case("mapping-is-folder", lambda tmp: (_csv(tmp, baseline_rows(ROWS)),
                                               (tmp / "m").mkdir() or tmp / "m"), 2, 2,
             ("is a directory",)),
        Case("mapping-missing", lambda tmp: (_csv(tmp, baseline_rows(ROWS)), tmp / "no.yaml"),
             2, 2, ("not found",)),
    ]


CASES = [*_one_per_column(_cell_cases()), *_parquet_cases(), *_file_cases(),
         *_mapping_cases()]


# ------------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def model():
    from resorb.scoring.model import load_model

    return load_model(REFERENCE)


def _validate(path: Path, mapping: Path | None) -> tuple[int, str]:
    args = ["validate", str(path), "--purpose", "scoring"]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return -1, f"Traceback: {result.exception!r}"
    return result.exit_code, result.output


def _score(path: Path, mapping: Path | None, out: Path, model) -> tuple[int, str, object]:
    """The in-process score: exit code as the CLI derives it, message, summary or None.

    Without explanations (5 s a file on a loaded 2-core machine, 1 s without): reading and
    the cell rules are what the corpus is about; the CLI subset runs the defaults.
    """
    from resorb.scoring import score_file

    try:
        summary = score_file(path, out, model, mapping=mapping, explain_k=0)
    except ResorbError as exc:
        return exc.exit_code, str(exc), None
    except Exception as exc:  # a traceback in the CLI
        return -1, f"Traceback: {exc!r}", None
    return summary.exit_code, ", ".join(r for r, _ in summary.rejections), summary


def _score_cli(path: Path, mapping: Path | None, out: Path) -> tuple[int, str]:
    args = ["score", "-i", str(path), "-o", str(out), "--model", str(REFERENCE)]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return -1, f"Traceback: {result.exception!r}"
    return result.exit_code, result.output


def _left_behind(folder: Path, out: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(f".{out.name}")
            or p.name.endswith(".partial") or p == out]


def _check(case: Case, got: int, text: str, expected: int, command: str) -> None:
    TALLY["runs"] += 1
    if "Traceback" in text or got == -1:
        TALLY["tracebacks"] += 1
    elif got != expected:
        TALLY["wrong exit codes"] += 1
    assert "Traceback" not in text, f"{command}: {text}"
    assert got == expected, f"{command}: exit {got}, expected {expected}: {text}"
    if expected == 2 or command == "validate":  # the cause, or the rejected column
        for word in case.words:
            assert word.lower() in text.lower(), f"{command}: {word!r} not in {text!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(tmp_path, monkeypatch, model, case):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    path, mapping = case.build(tmp_path)
    TALLY["cases"] += 1
    code, text = _validate(path, mapping)
    _check(case, code, text, case.validate, "validate")

    out = tmp_path / "out.csv"
    code, text, summary = _score(path, mapping, out, model)
    if case.score == 3:  # a rejection's reason names the column and the kind of problem
        assert all(w.lower() in text.lower() for w in case.words), text
    _check(case, code, text, case.score, "score")
    if summary is None:  # refused: nothing written
        assert _left_behind(tmp_path, out) == []
    else:  # every row out, and the rows score rejects are the rows validate flags
        assert summary.rows_in == summary.scored + summary.rejected == ROWS
        scored = pd.read_csv(out, dtype=str, keep_default_na=False)
        rejected = scored["status"].to_numpy() == "rejected"
        try:
            _, report, _ = read_mapped(path, mapping, purpose="scoring")
        except ResorbError:  # validate refused the file: score rejected every row
            assert rejected.all()
        else:
            np.testing.assert_array_equal(rejected, np.asarray(report.bad_rows, dtype=bool))
        out.unlink()
    if case.cli:
        code, text = _score_cli(path, mapping, out)
        _check(case, code, text, case.score, "score (CLI)")
        if code == 2 and "rows in" not in text:
            assert _left_behind(tmp_path, out) == []


def test_the_corpus_is_large():
    assert len(CASES) >= 200, len(CASES)


# ------------------------------------------------------------------------------- options


@pytest.mark.parametrize(("args", "words"), [
    (["--explain", "-1"], ("explain", "greater than or equal to 0")),
    (["--chunk-rows", "0"], ("chunk_rows", "greater than or equal to 1")),
    (["--horizon-days", "0"], ("horizon",)),
    (["--horizon-days", "99999"], ("horizon",)),
    (["--explain", "500"], ("at most",)),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_bad_score_options(tmp_path, monkeypatch, args, words):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = _csv(tmp_path, baseline_rows(ROWS))
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["score", "-i", str(path), "-o", str(out), "--model",
                                      str(REFERENCE), *args])
    TALLY["options"] += 1
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 2, result.output
    assert all(w in result.output for w in words), result.output
    assert not out.exists()


# ------------------------------------------------------------------------------- real CLI


SUBPROCESS = ["cell-baseline_date-'2020-04-15 10:00:00+", "short-row-5", "latin1",
              "map-format-d", "pq-tz-timestamps"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBPROCESS)
def test_corpus_through_real_subprocesses(tmp_path, name):
    case = next(c for c in CASES if c.name.startswith(name))
    path, mapping = case.build(tmp_path)
    out = tmp_path / "out.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    resorb = [str(Path(sys.executable).with_name("resorb"))]
    extra = ["--mapping", str(mapping)] if mapping is not None else []
    for args, expected in (
            (["validate", str(path), "--purpose", "scoring", *extra], case.validate),
            (["score", "-i", str(path), "-o", str(out), "--model", str(REFERENCE), *extra],
             case.score)):
        done = subprocess.run([*resorb, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)
        text = done.stdout + done.stderr
        assert "Traceback" not in text, text
        assert done.returncode == expected, text
    if case.score == 2 and "rows in" not in text:
        assert _left_behind(tmp_path, out) == []
