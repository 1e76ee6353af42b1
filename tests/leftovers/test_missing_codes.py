"""A cell spelling a missing value the reader does not know (``n/a``, ``NA``, ``-``): the
report names the column, the spelling and the rows, and gives the ``dialect.missing`` line
that makes the reader treat it as an empty cell."""

from __future__ import annotations

import re

import pytest

from tests.leftovers.conftest import run


@pytest.fixture(scope="module")
def coded(cohort):
    """The cohort with missing-value spellings in optional columns, one real typo in bmi."""
    frame = cohort.astype({"bmi": object, "smoker": object})
    frame.loc[[2, 5], "bmi"] = "n/a"
    frame.loc[7, "bmi"] = "N/A"
    frame.loc[9, "bmi"] = "24,x"  # not a missing code: stays an ordinary type problem
    frame.loc[11, "smoker"] = "NA"
    return frame


@pytest.mark.slow
def test_the_report_names_column_spelling_rows_and_the_dialect_line(tmp_path, coded):
    coded.to_csv(tmp_path / "f.csv", index=False)
    result = run("validate", "f.csv", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    err = result.stderr
    assert ("[type] 'bmi' has 3 cells spelling a missing value that the reader does not know "
            "(found 'n/a', 'N/A') (rows 3, 6, 8): if they mean 'missing', declare them in "
            "the mapping file (--mapping FILE;") in err
    assert "dialect: {missing: ['n/a', 'N/A']}; otherwise fix the cells" in err
    # the other bad cell of the same column keeps its own entry and rows
    assert "[type] 'bmi' has 1 value that is not a number (found '24,x') (row 10)" in err
    assert ("[type] 'smoker' has 1 cell spelling a missing value that the reader does not "
            "know (found 'NA') (row 12): if it means 'missing', declare it") in err
    assert "dialect: {missing: ['NA']}" in err


@pytest.mark.slow
def test_the_suggested_line_is_a_mapping_file_that_works(tmp_path, coded):
    coded.assign(bmi=coded["bmi"].replace("24,x", "24")).to_csv(tmp_path / "f.csv",
                                                                 index=False)
    first = run("validate", "f.csv", cwd=tmp_path)
    assert first.returncode == 2
    codes = sorted({c for line in re.findall(r"dialect: \{missing: \[(.*?)\]\}", first.stderr)
                    for c in re.findall(r"'([^']*)'", line)})
    assert codes == ["N/A", "NA", "n/a"]
    (tmp_path / "m.yaml").write_text(
        "dialect: {missing: [" + ", ".join(f"'{c}'" for c in codes) + "]}\n")
    second = run("validate", "f.csv", "--mapping", "m.yaml", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "valid: 200 rows" in second.stdout
