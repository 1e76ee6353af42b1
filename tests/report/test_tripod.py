"""The TRIPOD+AI checklist: the published items as data, and which a run can fill."""

from __future__ import annotations

import pytest

from resorb.report import tripod


def test_checklist_has_the_27_published_items_and_their_sub_items():
    numbers = [i.number for i in tripod.ITEMS]
    assert numbers == ["1", "2", "3a", "3b", "3c", "4", "5a", "5b", "6a", "6b", "6c", "7", "8a",
                       "8b", "8c", "9a", "9b", "9c", "10", "11", "12a", "12b", "12c", "12d",
                       "12e", "12f", "12g", "13", "14", "15", "16", "17", "18a", "18b", "18c",
                       "18d", "18e", "18f", "19", "20a", "20b", "20c", "21", "22", "23a",
                       "23b", "24", "25", "26", "27a", "27b", "27c"]
    assert sorted({i.main for i in tripod.ITEMS}) == list(range(1, 28))
    by_number = {i.number: i for i in tripod.ITEMS}
    assert by_number["10"].topic == "Sample size"
    assert by_number["14"].text == ("Describe any approaches that were used to address model "
                                    "fairness and their rationale.")
    assert {i.applies for i in tripod.ITEMS} == {"D", "E", "D;E"}
    assert "BMJ 2024;385:e078378" in tripod.CITATION


FULL = tripod.StudyFacts(
    synthetic=False, trained_on="real data", data_account="900 rows in, 800 used (400 "
    "resorbed); excluded: 100 operated before follow-up (competing event)", rows=800,
    events=400, prevalence=0.5, sites=3, baseline_period="2019-01 to 2023-12",
    label_rule="Resorbed when volume fell by 10%.", horizon="Horizon: followup_days.",
    predictors="age (years)", sample_size="Riley minimum sample size: 700 rows.",
    sample_size_ok=True, missing="bmi 10%.", validation_method="leave-one-site-out",
    model_type="Candidate 'logistic'.", encodings="Cubic splines.", comparison="3 compared.",
    metrics="AUROC 0.76 (0.75-0.77)", subgroups=("sex", "site"), decision_threshold=0.5,
    model_file="model.skops, sha256 abc", code_version="resorb 0.1.0", data_sha256="f00")


@pytest.mark.parametrize(("number", "status", "fragment"), [
    ("8a", tripod.PARTLY, "Resorbed when volume fell by 10%."),
    ("10", tripod.FILLED, "Riley minimum sample size: 700 rows."),
    ("11", tripod.FILLED, "bmi 10%."),
    ("12c", tripod.FILLED, "Candidate 'logistic'."),
    ("12e", tripod.FILLED, "calibration curve"),
    ("15", tripod.FILLED, "at least 0.5"),
    ("23a", tripod.FILLED, "AUROC 0.76 (0.75-0.77)"),
    ("23b", tripod.FILLED, "Per-site"),
    ("17", tripod.AUTHOR, "needs author input"),
    ("18a", tripod.AUTHOR, "needs author input"),
    ("19", tripod.AUTHOR, "needs author input"),
    ("25", tripod.AUTHOR, "needs author input"),
])
def test_checklist_fills_what_the_run_knows(number, status, fragment):
    entry = {e.item.number: e for e in tripod.fill_checklist(FULL)}[number]
    assert entry.status == status
    assert fragment in entry.answer


def test_checklist_says_needs_author_input_when_the_run_knows_nothing():
    bare = tripod.StudyFacts(synthetic=False, trained_on="real data")
    entries = tripod.fill_checklist(bare)
    assert len(entries) == len(tripod.ITEMS)
    unknown = {e.item.number for e in entries if e.status == tripod.AUTHOR}
    assert {"5b", "6a", "12d", "14", "20b", "21", "23a", "23b"} <= unknown
    for e in entries:
        assert e.status == tripod.FILLED or tripod.AUTHOR in e.answer.lower(), e
