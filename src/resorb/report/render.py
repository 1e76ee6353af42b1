"""The page as HTML: jinja2 templates (autoescaped) and one CSS file, everything inline.

The templates live in ``resorb/report/templates`` (package data): ``report.html.j2`` lays out
the page and includes ``sections/<anchor>.html.j2`` for each section; ``report.css`` is
inlined. Every value is escaped by jinja2 (autoescape on), so no text from a run can inject
markup; numbers are formatted here, by the filters, and nowhere else. The result has no
script, no link and no external resource: figures are PNG data URIs.
"""

from __future__ import annotations

import base64
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from resorb.config import Params
from resorb.report.checklist import CITATION
from resorb.report.facts import (
    MISSING_HANDLING,
    UNBOUNDED_NOTE,
    ModelFacts,
    format_interval,
    unbounded,
)
from resorb.report.sections import (
    SMALL_CELL,
    EvaluationsFacts,
    Page,
    Picture,
    Section,
    Shown,
    gather,
)
from resorb.report.tripod import AUTHOR, FILLED, PARTLY

if TYPE_CHECKING:
    import jinja2

    from resorb.report.explanations import Explanations
    from resorb.runs import RunRecord


def render_report(record: RunRecord, model: ModelFacts, expl: Explanations, params: Params,
                  generated_at: str = "", evaluations: EvaluationsFacts | None = None) -> str:
    """The whole report as one HTML document (figures embedded, CSS inline, no scripts).

    Parameters
    ----------
    record, model, expl, params, generated_at, evaluations
        What was read, as for :func:`resorb.report.sections.gather`.

    Returns
    -------
    str
        A complete HTML5 document with no external resource.
    """
    return render_page(gather(record, model, expl, params, generated_at, evaluations))


def render_page(page: Page) -> str:
    """The HTML document of a gathered :class:`~resorb.report.sections.Page`."""
    return _environment().get_template("report.html.j2").render(page=page, css=_css())


def render_section(section: Section) -> str:
    """The HTML of one section's body (its template alone, without heading)."""
    template = _environment().get_template(f"sections/{section.anchor}.html.j2")
    return template.render(s=section)


def prepare() -> None:
    """Compile every template and read the style sheet now, not when the page is rendered.

    ``resorb report`` calls it while its worker explains the model: compiling the templates
    is about 0.25 s of CPU (0.03 s to render once compiled), off the critical path there.
    """
    env = _environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)
    _css()


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("resorb.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(interval=_interval, pct=_pct, num=_num, count=_count,
                       data_uri=_data_uri)
    env.globals.update(SMALL_CELL=SMALL_CELL, MISSING_HANDLING=MISSING_HANDLING,
                       CITATION=CITATION, FILLED=FILLED, PARTLY=PARTLY, AUTHOR=AUTHOR,
                       STATUS_CLASS={FILLED: "ok", PARTLY: "part", AUTHOR: "todo"},
                       Picture=Picture, unbounded=unbounded, UNBOUNDED_NOTE=UNBOUNDED_NOTE)
    return env


@lru_cache(maxsize=1)
def _css() -> Any:
    from importlib.resources import files

    from markupsafe import Markup

    text = files("resorb.report").joinpath("templates", "report.css").read_text("utf-8")
    return Markup(text)  # our own style sheet, inlined verbatim


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _interval(value: Shown) -> str:
    """``0.76 (0.75-0.77)``, see :func:`~resorb.report.facts.format_interval`."""
    if _missing(value.estimate):
        return "n/a"
    nan = float("nan")
    return format_interval(float(value.estimate), nan if _missing(value.low) else value.low,
                           nan if _missing(value.high) else value.high, value.decimals)


def _pct(x: Any, decimals: int = 1) -> str:
    return "" if _missing(x) else f"{100 * float(x):.{decimals}f}%"


def _num(x: Any, decimals: int = 2) -> str:
    return "" if _missing(x) else f"{float(x):.{decimals}f}"


def _count(x: Any) -> str:
    return "" if _missing(x) else f"{int(x):,}"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
