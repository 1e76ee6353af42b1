"""``resorb score``'s per-row reasons name the value found and what is allowed, as
``resorb validate`` does, and never quote an identifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resorb.intake import conform_rows
from resorb.intake.found import rule_of_reason
from tests.leftovers.conftest import run
from tests.test_scoring import candidates, written

REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference"
# cells no reason may quote: identifiers (patient_id, site, baseline_date)
SECRET_ID, SECRET_SITE, SECRET_DATE = "PX-4711", "Klinik Nord", "1850-03-04"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A CSV with bad cells scored and validated by real ``resorb`` processes."""
    folder = tmp_path_factory.mktemp("reasons")
    frame = candidates(12, sex={1: "m", 4: "m"}, vas_leg={2: "55", 4: "abc"},
                       migration_grade={3: "1.5"}, smoker={5: "maybe"}, age={6: "inf"},
                       odi={7: "-4"})
    frame.loc[1, "patient_id"] = SECRET_ID
    frame.loc[8, ["patient_id", "site", "baseline_date"]] = [SECRET_ID + "b", SECRET_SITE,
                                                             SECRET_DATE]
    frame.loc[9, "treatment"] = "x" * 60
    written(frame, folder / "in.csv")
    score = run("score", "--input", "in.csv", "--output", "out.csv", "--model",
                str(REFERENCE), "--explain", "0", cwd=folder)
    validate = run("validate", "in.csv", "--model", str(REFERENCE), cwd=folder)
    out = pd.read_csv(folder / "out.csv", keep_default_na=False)
    return score, validate, out


def test_each_reason_names_the_value_found_and_what_is_allowed(scored):
    score, _, out = scored
    assert score.returncode == 3, score.stderr  # rows rejected: the documented exit code
    reason = out["reason"]
    assert reason[1] == "sex: unknown category (found 'm', allowed female / male)"
    assert reason[2] == "vas_leg above 10 points (found '55', allowed 0-10)"
    assert reason[3] == "migration_grade: not a whole number (found '1.5')"
    assert reason[4] == ("sex: unknown category (found 'm', allowed female / male); "
                         "vas_leg: not a number (found 'abc')")
    assert reason[5] == "smoker: not true/false (found 'maybe')"
    assert reason[6] == "age: infinite (found 'inf')"
    assert reason[7] == "odi below 0 % (found '-4', allowed 0-100)"
    assert reason[9].startswith("treatment: unknown category (found '" + "x" * 23 + "\u2026'")
    assert (out.loc[[0, 10, 11], "reason"] == "").all() and out.loc[0, "status"] == "scored"


def test_no_reason_quotes_an_identifier(scored):
    _, _, out = scored
    assert out.loc[8, "reason"] == "baseline_date: year outside 1900-2200"
    text = " ".join(out["reason"])
    assert SECRET_ID not in text and SECRET_SITE not in text and "1850" not in text


def test_validate_and_score_name_the_same_values(scored):
    score, validate, _ = scored
    assert validate.returncode == 2
    said = " ".join(validate.stdout.split() + validate.stderr.split())
    assert "outside female / male (found 'm')" in said and "'abc'" in said
    # the summary counts rows by rule, not by value
    summary = next(line for line in score.stderr.splitlines() if "commonest reasons" in line)
    assert "sex: unknown category (2)" in summary
    assert "found" not in summary and "allowed" not in summary


@pytest.mark.parametrize("reason", [
    "sex: unknown category (found 'm', allowed female / male)", "age missing",
    "vas_leg above 10 points (found '55', allowed 0-10)"])
def test_the_tally_strips_the_value_part(reason):
    assert rule_of_reason(reason) == reason.split(" (found ")[0]


def test_a_separator_in_a_cell_cannot_split_a_reason_and_typed_cells_are_quoted_too():
    frame = pd.DataFrame({"sex": ["a;  b; c", "male"], "vas_leg": [np.inf, 99.5],
                          "level": ["L4-L5", "L4-L5"]})
    _, reasons = conform_rows(frame, quote_values=True)
    assert reasons.tolist() == [
        "sex: unknown category (found 'a;b;c', allowed female / male); "
        "vas_leg: infinite (found 'inf')",
        "vas_leg above 10 points (found '99.5', allowed 0-10)"]
    assert [rule_of_reason(r) for r in reasons[0].split("; ")] == [
        "sex: unknown category", "vas_leg: infinite"]
    # the default (the pyfunc's refusal, which may reach a server's log) quotes nothing
    assert conform_rows(frame)[1].tolist() == ["sex: unknown category; vas_leg: infinite",
                                               "vas_leg above 10 points"]


def test_a_cell_holding_a_list_is_quoted_as_text_not_a_traceback():
    frame = pd.DataFrame({"age": pd.Series([np.array([1, 2]), "40"], dtype=object),
                          "level": ["L4-L5", "L4-L5"]})
    _, reasons = conform_rows(frame, quote_values=True)
    assert reasons.tolist() == ["age: not a number (found '[1 2]')", ""]
