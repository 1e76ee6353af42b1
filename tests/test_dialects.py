"""Hospital exports read, not only rejected: real files in each dialect, declared or detected.

Each export is written the way spreadsheet software writes it (semicolons and decimal commas
in Latin-1, UTF-16 with a byte-order mark, tabs, gzip) from the same canonical rows; once its
dialect is declared in the mapping file (or needs none: gzip, BOM), validate, the training
reader and score read the same canonical table as from the plain UTF-8 CSV.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from resorb.cli import app
from resorb.errors import ConfigError, InputError
from resorb.intake import Dialect, TableFile, parse_mapping, read_mapped, sniff
from tests.factories import baseline_rows

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"
ROWS = 8


def _rows() -> pd.DataFrame:
    frame = baseline_rows(ROWS).assign(site="Universitätsspital Zürich")
    frame.loc[1, "age"] = "45.5"
    frame.loc[2, "bmi"] = "1234.5"  # above 70: the same rejection whichever the dialect
    frame.loc[3, "vas_back"] = None
    return frame


def _european(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimal commas (thousands with dots), dates day first, 'NA' for a missing cell."""
    out = frame.copy()
    for name in ("age", "bmi", "vas_leg", "vas_back", "odi", "herniation_volume_mm3",
                 "canal_occupation_pct", "multifidus_fat_pct"):
        out[name] = out[name].map(lambda v: None if pd.isna(v) else
                                  f"{float(v):,.1f}".replace(",", "_").replace(".", ",")
                                  .replace("_", "."))
    out["baseline_date"] = "01.03.2024"
    return out.fillna("NA")


def _write(path: Path, text: str, encoding: str = "utf-8", compress: bool = False) -> Path:
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


# name -> (write the export, the mapping's dialect section or None)
EXPORTS = {
    "semicolon-decimal-comma-latin1": (
        lambda tmp, f: _write(tmp / "e.csv", _european(f).to_csv(index=False, sep=";"),
                              "latin-1"),
        'dialect: {separator: ";", decimal: ",", encoding: latin-1, missing: [NA], '
        'date_format: "%d.%m.%Y"}'),
    "cp1252-semicolon": (
        lambda tmp, f: _write(tmp / "e.csv", _european(f).to_csv(index=False, sep=";"),
                              "cp1252"),
        'dialect: {separator: ";", decimal: ",", encoding: cp1252, missing: NA, '
        'date_format: "%d.%m.%Y"}'),
    "utf16-bom-tab": (
        lambda tmp, f: _write(tmp / "e.csv", f.to_csv(index=False, sep="\t"), "utf-16"),
        "dialect: {separator: tab}"),
    "utf16-bom": (lambda tmp, f: _write(tmp / "e.csv", f.to_csv(index=False), "utf-16"), None),
    "utf8-bom": (lambda tmp, f: _write(tmp / "e.csv", f.to_csv(index=False), "utf-8-sig"),
                 None),
    "tab": (lambda tmp, f: _write(tmp / "e.csv", f.to_csv(index=False, sep="\t")),
            "dialect: {separator: tab}"),
    "pipe": (lambda tmp, f: _write(tmp / "e.csv", f.to_csv(index=False, sep="|")),
             'dialect: {separator: "|"}'),
    "gzip-suffix": (lambda tmp, f: _write(tmp / "e.csv.gz", f.to_csv(index=False),
                                          compress=True), None),
    "gzip-magic-only": (lambda tmp, f: _write(tmp / "e.csv", f.to_csv(index=False),
                                              compress=True), None),
    "gzip-semicolon-latin1": (
        lambda tmp, f: _write(tmp / "e.csv.gz", _european(f).to_csv(index=False, sep=";"),
                              "latin-1", compress=True),
        'dialect: {separator: ";", decimal: ",", encoding: latin-1, missing: [NA], '
        'date_format: "%d.%m.%Y"}'),
}


def _export(tmp: Path, name: str) -> tuple[Path, Path | None]:
    write, dialect = EXPORTS[name]
    path = write(tmp, _rows())
    if dialect is None:
        return path, None
    mapping = tmp / "map.yaml"
    mapping.write_text(dialect + "\n", encoding="utf-8")
    return path, mapping


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """The canonical frame and report of the same rows as a plain UTF-8 CSV."""
    path = tmp_path_factory.mktemp("plain") / "plain.csv"
    _rows().to_csv(path, index=False)
    frame, report, _ = read_mapped(path, purpose="scoring")
    return frame, report


@pytest.mark.parametrize("name", list(EXPORTS))
def test_a_declared_export_reads_as_the_plain_file(tmp_path, plain, name):
    path, mapping = _export(tmp_path, name)
    frame, report, _ = read_mapped(path, mapping, purpose="scoring")
    expected, expected_report = plain
    if name.startswith(("semicolon", "cp1252", "gzip-semicolon")):
        # dates written day first come back as the plain file's ISO dates
        assert (frame["baseline_date"] == pd.Timestamp("2024-03-01")).all()
        frame = frame.drop(columns="baseline_date")
        expected = expected.drop(columns="baseline_date")
    pd.testing.assert_frame_equal(frame[expected.columns], expected)
    assert [(p.column, p.rule, p.rows) for p in report.problems] == [
        (p.column, p.rule, p.rows) for p in expected_report.problems]


@pytest.mark.parametrize("name", ["semicolon-decimal-comma-latin1", "utf16-bom",
                                  "gzip-suffix", "tab"])
def test_every_command_reads_a_declared_export(tmp_path, monkeypatch, name):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path, mapping = _export(tmp_path, name)
    extra = ["--mapping", str(mapping)] if mapping else []
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", str(path), "--purpose", "scoring", *extra])
    assert validated.exit_code == 2, validated.output  # vas_back missing, bmi above 70
    assert "vas_back" in validated.output and "bmi" in validated.output
    out = tmp_path / "out.csv"
    scored = runner.invoke(app, ["score", "-i", str(path), "-o", str(out), "--model",
                                 str(REFERENCE), "--explain", "0", *extra])
    assert scored.exit_code == 3, scored.output
    assert f"{ROWS} rows in = {ROWS - 2} scored + 2 rejected" in scored.output
    table = pd.read_csv(out, dtype=str)
    assert table["site"].eq("Universitätsspital Zürich").all()  # identifiers decoded
    assert table["status"].tolist().count("rejected") == 2


def test_chunks_of_a_declared_export_add_up(tmp_path):
    path, mapping = _export(tmp_path, "gzip-semicolon-latin1")
    from resorb.intake import load_mapping

    source = TableFile(path, load_mapping(mapping).dialect)
    chunks = pd.concat([c.to_pandas() for c in source.chunks(3)], ignore_index=True)
    pd.testing.assert_frame_equal(chunks, source.read())
    assert chunks["age"].iloc[1] == "45.5" and chunks["bmi"].iloc[2] == "1234.5"
    assert chunks["vas_back"].isna().sum() == 1  # the "NA" code


# --- detection: validate says which keys to set -------------------------------------------


@pytest.mark.parametrize(("name", "keys"), [
    ("semicolon-decimal-comma-latin1", ["separator: ';'", "decimal: ','", "encoding: latin-1",
                                        "date_format: '%d.%m.%Y'"]),
    ("tab", ["separator: 'tab'"]),
    ("pipe", ["separator: '|'"]),
    ("utf16-bom-tab", ["separator: 'tab'"]),
])
def test_validate_says_which_dialect_keys_to_set(tmp_path, name, keys):
    path, _ = _export(tmp_path, name)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "dialect:" in result.output
    for key in keys:
        assert key in result.output, result.output


def test_a_semicolon_utf8_export_read_with_commas_is_told_its_decimal_mark(tmp_path):
    path = _write(tmp_path / "e.csv", _european(_rows()).to_csv(index=False, sep=";"))
    mapping = tmp_path / "m.yaml"
    mapping.write_text('dialect: {separator: ";", missing: NA, date_format: "%d.%m.%Y"}\n',
                       encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path), "--mapping", str(mapping)])
    assert result.exit_code == 2
    assert "hint:" in result.output and "decimal: ','" in result.output


def test_sniff_finds_the_plain_dialect_of_a_plain_file(tmp_path):
    path = tmp_path / "p.csv"
    _rows().to_csv(path, index=False)
    assert sniff(path) == Dialect()


# --- the dialect section itself ------------------------------------------------------------


@pytest.mark.parametrize(("section", "message"), [
    ({"separator": ";;"}, "dialect.separator' must be one character"),
    ({"separator": "\n"}, "dialect.separator' must be one character"),
    ({"decimal": "/"}, "dialect.decimal' must be '.' or ','"),
    ({"encoding": "klingon"}, "'klingon' is not a known text encoding"),
    ({"date_format": "%Y-%m"}, "needs at least a day"),
    ({"sep": ";"}, "unknown key 'dialect.sep'"),
])
def test_a_bad_dialect_is_refused_when_the_mapping_is_loaded(section, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", "'")):
        parse_mapping({"dialect": section})


def test_a_dialect_alone_is_a_mapping_and_tab_is_a_separator():
    mapping = parse_mapping({"dialect": {"separator": "tab", "missing": [-99, "NA"]}})
    assert mapping.dialect.separator == "\t" and mapping.dialect.missing == ("-99", "NA")
    assert mapping.columns == {}
    with pytest.raises(ConfigError, match="'columns' is missing"):
        parse_mapping({"drop_unmapped": True})


def test_a_wrongly_declared_encoding_names_it(tmp_path):
    path = _write(tmp_path / "e.csv", "patient_id,age\n" + "P1,40\n" * 3, "utf-8")
    path.write_bytes(path.read_bytes() + "Zürich,41\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 text"):
        TableFile(path).read()
    assert TableFile(path, Dialect(encoding="latin-1")).read().shape == (4, 2)
