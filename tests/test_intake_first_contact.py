"""What a fresh user met first in the intake, through the real ``resorb`` command.

Each case once gave a message that pointed elsewhere: a spreadsheet's trailing separators
read as a column given twice, a title line above the header read as a ragged row, an empty
mapping file answered with a Python type name, and "1 value that is not numbers".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from resorb.cohort import make_cohort
from tests.factories import resorb_cli

resorb = resorb_cli  # the shared subprocess helper (tests/factories.py)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return make_cohort(30, seed=5)


@pytest.mark.parametrize(("text", "what"), [("", "empty"), ("# to do\n", "comments only")])
def test_an_empty_mapping_file_is_named_empty_with_a_skeleton(cohort, tmp_path, text, what):
    # an empty YAML file loads as None: the message said "got NoneType"
    cohort.to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    out = resorb("validate", "c.csv", "--mapping", "m.yaml", cwd=tmp_path)
    assert out.returncode == 2, what
    assert "Traceback" not in out.stderr
    assert "NoneType" not in out.stderr
    assert "mapping m.yaml is empty" in out.stderr
    assert "columns: {age: {from: Age}}" in out.stderr


@pytest.mark.parametrize(("bad", "words"), [
    (["42years"], "'age' has 1 value that is not a number (found '42years') (row 1)"),
    (["42years", "x"],
     "'age' has 2 values that are not numbers (found '42years', 'x') (rows 1, 2)"),
])
def test_a_type_problem_agrees_in_number(cohort, tmp_path, bad, words):
    df = cohort.astype({"age": str})
    df.loc[: len(bad) - 1, "age"] = bad
    df.to_csv(tmp_path / "c.csv", index=False)
    out = resorb("validate", "c.csv", cwd=tmp_path)
    assert out.returncode == 2
    assert words in out.stdout + out.stderr



def _export(cohort: pd.DataFrame, folder: Path, ends: list[str], sep: str = ",") -> Path:
    """``cohort`` as a spreadsheet exports it, every line ending in ``ends[i]``."""
    lines = cohort.to_csv(index=False, sep=sep).splitlines()
    path = folder / "export.csv"
    path.write_text("\n".join(line + end for line, end in zip(lines, ends, strict=True)) + "\n",
                    encoding="utf-8")
    return path


def test_two_trailing_separators_are_empty_column_names_not_a_duplicate(cohort, tmp_path):
    # 'a,b,c,,' on every line: two columns named '' were "[duplicate_column] '' appears 2
    # times in the header", exit 2; one trailing separator was (and is) ignored with a note
    _export(cohort, tmp_path, [",,"] * (len(cohort) + 1))
    out = resorb("validate", "export.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "duplicate_column" not in out.stdout + out.stderr
    assert ("the header ends with 2 empty column names (trailing separators, as a spreadsheet "
            "exports 'a;b;c;;'): every command ignores them; they hold no value, so nothing "
            "is lost") in out.stderr
    scored = resorb("score", "-i", "export.csv", "-o", "s.csv", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert ", '', ''" in scored.stderr  # the ignored columns, named as empty
    assert len(pd.read_csv(tmp_path / "s.csv")) == len(cohort)


def test_values_under_an_empty_column_name_are_said_to_be_unread(cohort, tmp_path):
    _export(cohort, tmp_path, [",,"] + [",,x"] * 2 + [",,"] * (len(cohort) - 2))
    out = resorb("validate", "export.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ("2 rows hold a value there, which no command reads: name them in the header if "
            "they matter") in out.stderr


def test_a_mapping_counts_the_columns_without_a_name_it_drops(cohort, tmp_path):
    # the log said "dropped 1 unmapped source column: " for two columns named ''
    _export(cohort, tmp_path, [";;"] * (len(cohort) + 1), sep=";")
    (tmp_path / "m.yaml").write_text('dialect: {separator: ";"}\n', encoding="utf-8")
    out = resorb("validate", "export.csv", "--mapping", "m.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ("dropped 2 unmapped source columns: 2 without a name (trailing separators?)"
            in out.stdout + out.stderr)


TITLE = ("the first line holds a single cell and the next one {n} cells: it looks like a title "
         "above the header; delete it so that the file starts with the column names")


@pytest.mark.parametrize("command", ["validate", "score"])
def test_a_title_line_above_the_header_is_named_as_one(cohort, tmp_path, command):
    # "Export from PACS ..." above the header was "row 1 has 36 cells where the header has
    # 1; is a separator missing or one too many?"
    lines = ["Export from PACS 2026-11-30", *cohort.to_csv(index=False).splitlines()]
    (tmp_path / "export.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["validate", "export.csv"] if command == "validate" else [
        "score", "-i", "export.csv", "-o", "s.csv"]
    out = resorb(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"export.csv: {TITLE.format(n=cohort.shape[1])}" in out.stderr
    assert "Export from PACS" not in out.stderr  # the title may name a patient: never quoted
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(("head", "declared", "words"), [
    # a spreadsheet's title row: one filled cell, then separators
    (["Export from PACS" + ";" * 5], True, TITLE),
    (["Export from PACS", "", "30.11.2026"], True,
     "the first 2 lines hold a single cell each and the next one {n} cells: they look like a "
     "title above the header; delete them"),
    # the separator is not declared: the message says which to declare
    (["Export from PACS"], False, TITLE + ", and declare the separator in the mapping file "
     "(--mapping) as dialect: {{separator: ';'}}"),
])
def test_title_lines_above_a_semicolon_header(cohort, tmp_path, head, declared, words):
    lines = [*head, *cohort.to_csv(index=False, sep=";").splitlines()]
    (tmp_path / "export.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "m.yaml").write_text('dialect: {separator: ";"}\n', encoding="utf-8")
    out = resorb("validate", "export.csv", *(["--mapping", "m.yaml"] if declared else []),
                 cwd=tmp_path)
    assert out.returncode == 2
    assert words.format(n=cohort.shape[1]) in out.stderr


def test_decimal_commas_in_a_semicolon_file_are_no_title(cohort, tmp_path):
    # read with ',' the header is one cell and each row two ('...;24,5;...'): not a title,
    # since ';' reads the whole file, first line included, as one table
    df = cohort.assign(bmi=cohort["bmi"].map(lambda v: f"{v:.1f}".replace(".", ",")))
    df.to_csv(tmp_path / "export.csv", index=False, sep=";")
    out = resorb("validate", "export.csv", cwd=tmp_path)
    assert out.returncode == 2
    assert "title" not in out.stderr
    assert "separator: ';'" in out.stderr


def test_the_mapping_summary_of_one_row_says_row(cohort, tmp_path):
    # "mapping m.yaml: 1 source rows x 36 columns -> 1 rows x 36 columns"
    cohort.head(1).to_csv(tmp_path / "one.csv", index=False)
    (tmp_path / "m.yaml").write_text("dialect: {separator: ','}\n", encoding="utf-8")
    out = resorb("validate", "one.csv", "--mapping", "m.yaml", cwd=tmp_path)
    n = cohort.shape[1]
    assert f"1 source row x {n} columns -> 1 row x {n} columns" in out.stdout + out.stderr
