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

The names below are imported on first use, so that ``resorb report`` can import
:mod:`.worker` and fork it before numpy, pandas or jinja2 are loaded (docs/report.md "Speed").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resorb.report.explanations import SHAP_ROWS, Explanations, explain_for_report
    from resorb.report.facts import (
        MEASURES,
        Measure,
        ModelFacts,
        format_interval,
        study_facts,
    )
    from resorb.report.job import REPORT_ARTIFACT, ReportResult, make_report
    from resorb.report.render import render_page, render_report, render_section
    from resorb.report.sections import SMALL_CELL, Page, Section, gather, subgroup_rows

#: where each public name lives
_HOMES = {
    "SHAP_ROWS": "explanations", "Explanations": "explanations",
    "explain_for_report": "explanations",
    "MEASURES": "facts", "Measure": "facts", "ModelFacts": "facts",
    "format_interval": "facts", "study_facts": "facts",
    "REPORT_ARTIFACT": "job", "ReportResult": "job", "make_report": "job",
    "render_page": "render", "render_report": "render", "render_section": "render",
    "SMALL_CELL": "sections", "Page": "sections", "Section": "sections", "gather": "sections",
    "subgroup_rows": "sections",
}

__all__ = [
    "MEASURES", "REPORT_ARTIFACT", "SHAP_ROWS", "SMALL_CELL", "Explanations", "Measure",
    "ModelFacts", "Page", "ReportResult", "Section", "explain_for_report", "format_interval",
    "gather", "make_report", "render_page", "render_report", "render_section", "study_facts",
    "subgroup_rows",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'resorb.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"resorb.report.{home}"), name)
    globals()[name] = value
    return value
