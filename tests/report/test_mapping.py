"""``resorb report --data EXPORT --mapping M``: the clinic's raw export, read as train reads it.

Real subprocesses of the command in the session's tracking store (``tests/store.py``), so the
mapping is applied in the forked worker that explains the model (``resorb.report.worker``)
and its errors cross the pipe: the explanations on a raw export through a mapping (another
dialect, other names, codes and units, a row filter) must be those on the same rows given
in resorb's own columns; a bad mapping or a bad mapped cell is one line and exit 2, with no
page written; the identifiers the mapping reads never reach the page.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
import yaml

from resorb.cohort import make_cohort
from tests.report.command import report_command
from tests.store import PLANTED_ID, PLANTED_SITE

#: the mapping of the raw export below (its own dialect, names, codes, units and a filter)
MAPPING = {
    "dialect": {"separator": ";", "decimal": ","},
    "filter": {"column": "Spine region", "in": ["lumbar"]},
    "columns": {
        "patient_id": {"from": "Pat-ID"},
        "site": {"value": PLANTED_SITE},
        "sex": {"from": "Gender", "values": {1: "male", 2: "female"}},
        "vas_leg": {"from": "VAS leg (0-100)", "unit": "0-100"},
    },
    "drop_unmapped": False,
}


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """The same 150 lumbar rows twice: in resorb's columns, and as a raw export with 3
    cervical rows (impossible ages) the mapping's filter leaves out."""
    folder = tmp_path_factory.mktemp("clinic")
    rows = make_cohort(n=150, seed=21)
    rows = rows.assign(patient_id=[f"{PLANTED_ID}-{i}" for i in range(len(rows))],
                       site=PLANTED_SITE)
    canonical = folder / "canonical.csv"
    rows.to_csv(canonical, index=False)
    raw = rows.drop(columns=["patient_id", "site", "sex", "vas_leg"]).assign(**{
        "Pat-ID": rows["patient_id"], "Spine region": "lumbar",
        "Gender": rows["sex"].map({"male": 1, "female": 2}),
        "VAS leg (0-100)": (rows["vas_leg"] * 10).round().astype(int)})
    cervical = raw.head(3).assign(**{"Spine region": "cervical", "age": 300})
    export = folder / "export.csv"
    pd.concat([cervical, raw]).to_csv(export, sep=";", decimal=",", index=False)
    mapping = folder / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING, sort_keys=False), encoding="utf-8")
    return canonical, export, mapping


def explanations(html: str) -> str:
    """The page's SHAP section (its images included), with the rows' file named X."""
    start = html.index('<section id="explanations">')
    section = html[start:html.index("</section>", start)]
    return re.sub(r"rows of [^;]+;", "rows of X;", unescape(section))


@pytest.mark.slow
def test_a_raw_export_through_its_mapping_is_explained_as_the_same_rows(relog, clinic,
                                                                        tmp_path):
    from resorb.config import Params
    from resorb.report import make_report

    canonical, export, mapping = clinic
    out = tmp_path / "mapped.html"
    ran = report_command(relog.folder, ["--out", str(out), "--data", str(export),
                                        "--mapping", str(mapping)])
    assert ran.returncode == 0, ran.stderr
    html = out.read_text(encoding="utf-8")
    alone = make_report(Params.resolve(), out=tmp_path / "canonical.html", data=canonical,
                        log=False)
    given = alone.path.read_text(encoding="utf-8")
    rows = re.search(r"for (\d+) rows of canonical\.csv;", given)
    assert rows is not None and 100 < int(rows[1]) <= 150  # those without a red flag
    assert (f"for {rows[1]} rows of export.csv read through the mapping mapping.yaml;"
            in unescape(html))
    assert explanations(html) == explanations(given)  # same rows, same figures
    for planted in (PLANTED_ID, PLANTED_SITE, "Pat-ID"):
        assert planted not in html


def _invalid_unit(mapping: dict, export: Path) -> tuple[dict, Path]:
    mapping["columns"]["vas_leg"]["unit"] = "0-1000"
    return mapping, export


def _column_absent(mapping: dict, export: Path) -> tuple[dict, Path]:
    mapping["columns"]["vas_leg"]["from"] = "VAS Bein"
    return mapping, export


def _wrong_unit(mapping: dict, export: Path) -> tuple[dict, Path]:
    mapping["columns"]["vas_leg"]["unit"] = "0-10"  # the export records 0-100
    return mapping, export


def _without_dialect(mapping: dict, export: Path) -> tuple[dict, Path]:
    del mapping["dialect"]
    return mapping, export


@pytest.mark.slow
@pytest.mark.parametrize(("damage", "words"), [
    # refused before the model is downloaded: the mapping file itself
    (_invalid_unit, ["mapping.yaml", "vas_leg", "0-1000", "0-100"]),
    # refused in the worker, on the export: raised again in the command
    (_column_absent, ["mapping.yaml", "'vas_leg' reads column 'VAS Bein'", "export.csv lacks"]),
    (_wrong_unit, ["vas_leg", "above 10 points", "rows 4, 5, 6", "0-100"]),  # source rows
    (_without_dialect, ["export.csv", "separator: ';'"]),
], ids=["invalid mapping", "source column absent", "cells out of range", "dialect not declared"])
def test_a_bad_mapping_is_one_line_exit_2_and_no_page(relog, clinic, tmp_path, damage,
                                                      words):
    _, export, _ = clinic
    mapping, export = damage(yaml.safe_load(yaml.safe_dump(MAPPING)), export)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    out = tmp_path / "report.html"
    ran = report_command(relog.folder, ["--out", str(out), "--data", str(export),
                                        "--mapping", str(path)])
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.startswith("error: ") and "Traceback" not in ran.stderr, ran.stderr
    for word in words:
        assert word in ran.stderr, ran.stderr
    for planted in (PLANTED_ID, PLANTED_SITE):
        assert planted not in ran.stderr
    assert not out.exists()


def test_mapping_without_data_is_a_usage_error(relog, clinic, tmp_path):
    ran = report_command(relog.folder, ["--out", str(tmp_path / "r.html"),
                                        "--mapping", str(clinic[2])])
    assert ran.returncode == 2
    assert "--mapping applies to --data FILE" in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "r.html").exists()
