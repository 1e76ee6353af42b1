"""The model report: one self-contained HTML file that a clinical reviewer can read offline.

:func:`make_report` finds a model and the MLflow run that trained it, reads the run's
aggregates (metrics with intervals, calibration, ROC and decision curves, subgroups,
missingness, sample-size check, leaderboard), explains the model on a synthetic cohort (or a
file the user gives), fills the TRIPOD+AI checklist (:mod:`resorb.report.tripod`) where the
run can, and writes one HTML file, with the figures embedded as PNG data URIs and no external
resource, that it also logs to the run as ``report/report.html``.

The flow is one way: :mod:`.job` (store and files) -> :mod:`.explanations` (SHAP) ->
:mod:`.facts` and :mod:`.sections` (typed facts) -> :mod:`.render` (jinja2 templates in
``templates/``, autoescaped, and one CSS file). :func:`render_report` is a pure function of
what was read, so it can be tested without a store.

The report holds aggregates only: it never reads identifiers (site names appear only as
anonymous numbers, in the run's subgroup table) and never shows a patient row; subgroups of
fewer than :data:`SMALL_CELL` rows are suppressed.
"""

from __future__ import annotations

from resorb.report.explanations import SHAP_ROWS, Explanations, explain_for_report
from resorb.report.facts import MEASURES, Measure, ModelFacts, format_interval, study_facts
from resorb.report.job import REPORT_ARTIFACT, ReportResult, make_report
from resorb.report.render import render_page, render_report, render_section
from resorb.report.sections import SMALL_CELL, Page, Section, gather, subgroup_rows

__all__ = [
    "MEASURES", "REPORT_ARTIFACT", "SHAP_ROWS", "SMALL_CELL", "Explanations", "Measure",
    "ModelFacts", "Page", "ReportResult", "Section", "explain_for_report", "format_interval",
    "gather", "make_report", "render_page", "render_report", "render_section", "study_facts",
    "subgroup_rows",
]
