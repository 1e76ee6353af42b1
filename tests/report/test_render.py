"""Rendering the report: formatting where shown, escaping, suppression, reserved blocks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from resorb import report
from resorb.card import DataSource
from resorb.report import sections
from resorb.report.sections import Term
from resorb.runs import RunRecord
from tests.factories import model_card


@pytest.mark.parametrize(("values", "decimals", "expected"), [
    ((0.7612, 0.7501, 0.7703), 2, "0.76 (0.75-0.77)"),
    ((0.0241, 0.0185, 0.0421), 3, "0.024 (0.018-0.042)"),
    ((-0.031, -0.081, 0.024), 2, "-0.03 (-0.08 to 0.02)"),
    ((0.98, float("nan"), float("nan")), 2, "0.98"),
    ((float("nan"), 0.1, 0.2), 2, "n/a"),
    # an unbounded bootstrap limit (resorb.metrics.bootstrap.percentile_limits) is said
    ((1.02, 0.61, float("inf")), 2, "1.02 (0.61 to unbounded)"),
    ((-0.4, float("-inf"), 0.3), 2, "-0.40 (unbounded to 0.30)"),
    ((float("inf"), 9.5, float("inf")), 2, "infinite (9.50 to unbounded)"),
    ((1.02, float("nan"), float("inf")), 2, "1.02"),  # one limit unknown: no interval
])
def test_intervals_read_as_estimate_and_range(values, decimals, expected):
    assert report.format_interval(*values, decimals=decimals) == expected


def test_small_subgroups_are_suppressed():
    record = RunRecord(
        run_id="r", run_name="n",
        subgroups=_subgroups([("level", "L1-L2", 4, 3), ("sex", "female", 300, 150)]))
    html = report.render_section(report.Section("subgroups", "Subgroups",
                                                report.subgroup_rows(record.subgroups)))
    assert "&lt;10" in html and "suppressed" in html and "300" in html
    assert "L1-L2" in html and ">3<" not in html


def _subgroups(rows):
    return pd.DataFrame([{"variable": v, "subgroup": s, "rows": n, "events": e,
                          "observed": e / n, "predicted": 0.5, "auroc": np.nan,
                          "calibration_slope": np.nan, "o_e_ratio": e / n / 0.5}
                         for v, s, n, e in rows])


def _page_of(record: RunRecord, card=None, expl=None) -> str:
    from resorb.config import Params

    model = report.ModelFacts(name="resorb", version="2", source="models:/resorb/2",
                              card=card or model_card(), skops_bytes=2_000_000)
    return report.render_report(record, model, expl or report.Explanations(note="none"),
                                Params.default(), generated_at="2026-01-01 00:00 UTC")


def test_text_from_a_run_is_escaped_everywhere():
    bad = '<script>alert("x")</script>'
    record = RunRecord(run_id="r1", tags={"resorb_version": bad}, data_account=bad,
                       sample_size=bad, sample_size_ok=False, validation_method=bad)
    html = _page_of(record, model_card(data_source=DataSource("real")))
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") >= 4  # data, glance, banner, sample size, versions
    assert "Below the minimum sample size." in html and "Internal validation only." in html


@pytest.mark.parametrize(("text", "expected"), [
    ("see `resorb schema`; done", "see <code>resorb schema</code>; done"),
    ("`a<b` and `c`", "<code>a&lt;b</code> and <code>c</code>"),
    ("no code", "no code"),
])
def test_backticks_are_shown_as_code(text, expected):
    html = report.render_section(report.Section("use", "Intended use", (Term("x", text),)))
    assert f"<dd>{expected}</dd>" in html


def test_leaderboard_intervals_are_formatted_from_numbers():
    board = pd.DataFrame([
        {"candidate": "logistic", "champion": False, "auroc": 0.716, "auroc_ci_low": 0.691,
         "auroc_ci_high": 0.747, "calibration_slope": 0.77, "calibration_slope_ci_low": 0.66,
         "calibration_slope_ci_high": 0.89, "ici": 0.048, "brier": 0.213,
         "d_auroc_vs_champion": 0.007, "d_auroc_vs_champion_ci_low": -0.013,
         "d_auroc_vs_champion_ci_high": 0.024}])
    rows = sections.board_rows(board)
    html = report.render_section(report.Section("comparison", "Model comparison",
                                                sections.ComparisonFacts("2 compared.", rows)))
    assert "0.716 (0.691-0.747)" in html and "0.77 (0.66-0.89)" in html
    assert "0.007 (-0.013 to 0.024)" in html  # a negative bound reads "to"
    assert "<td class=\"num\">0.048</td>" in html  # no interval: the estimate alone


def test_the_waterfall_block_shows_only_when_a_figure_is_given():
    from resorb.figures import png_bytes, roc_figure

    png = png_bytes(roc_figure({"m": pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})}, {}))
    expl = report.Explanations(importance_png=png, beeswarm_png=png, top=(("age", 0.1),),
                               rows="10 rows", method="exact")
    section = report.Section("explanations", "SHAP", expl)
    assert report.render_section(section).count("<img") == 2
    with_patient = replace(expl, waterfall_png=png, waterfall_caption="The median patient.")
    html = report.render_section(replace(section, facts=with_patient))
    assert html.count("<img") == 3 and "The median patient." in html


def test_a_run_without_comparison_has_no_comparison_section():
    html = _page_of(RunRecord(run_id="r2"))
    assert 'id="comparison"' not in html and 'href="#comparison"' not in html
    assert "No validation metrics in this run." in html
    assert "No subgroup table in this run." in html
    assert "Not for clinical use." in html  # the card's data source is synthetic


def _evaluation(evaluated_on: str) -> sections.EvaluationRow:
    return sections.EvaluationRow(started="2026-01-01", run_id="e1", evaluated_on=evaluated_on,
                                  rows=200, events=50, sample_size_ok=False, cells=())


@pytest.mark.parametrize(("synthetic", "evaluated_on", "title"), [
    (False, (), "Internal validation only."),
    (False, ("synthetic:other_hospital (n=250, seed 7)",), "Internal validation only."),
    (False, ("real data",), "Externally validated on 1 data set."),
    (False, ("real data", "real data"), "Externally validated on 2 data sets."),
    (True, ("real data",), "Not for clinical use."),
])
def test_the_first_banner_counts_external_validations_on_real_data(synthetic, evaluated_on,
                                                                   title):
    from resorb.report.tripod import StudyFacts

    study = StudyFacts(synthetic=synthetic, trained_on="real data")
    evaluations = sections.EvaluationsFacts(tuple(_evaluation(e) for e in evaluated_on))
    assert sections.banners(study, evaluations)[0].title == title
