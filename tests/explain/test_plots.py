"""Figures of an explanation: returned, not written; no pyplot state; no identifiers."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from resorb.explain import (
    Explanation,
    beeswarm_figure,
    explain,
    importance_figure,
    waterfall_figure,
)

FIGURES = {
    "importance": importance_figure,
    "beeswarm": beeswarm_figure,
    "waterfall": lambda expl: waterfall_figure(expl, row=0),
}


@pytest.mark.parametrize("plot", list(FIGURES.values()), ids=list(FIGURES))
def test_plots_are_written_as_png(plot, fitted, rows, tmp_path):
    fig = plot(explain(fitted("logistic"), rows))
    path = tmp_path / "figure.png"
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000


@pytest.mark.parametrize("plot", list(FIGURES.values()), ids=list(FIGURES))
def test_figures_stay_out_of_pyplot(plot, fitted, rows):
    before, interactive = plt.get_fignums(), plt.isinteractive()
    fig = plot(explain(fitted("logistic"), rows))
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before
    assert plt.isinteractive() == interactive
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"


@pytest.mark.parametrize("plot", list(FIGURES.values()), ids=list(FIGURES))
def test_identifiers_never_reach_a_figure(plot, fitted, rows):
    expl = explain(fitted("hist_gradient_boosting"),
                   rows.set_axis([f"SECRET{i}" for i in range(len(rows))]))
    fig = plot(expl)
    fig.canvas.draw()
    shown = " ".join(t.get_text() for t in fig.findobj(Text))
    assert "SECRET" not in shown
    assert "rim_enhancement" in shown


def test_waterfall_labels_one_patient_in_clinical_words():
    values = pd.DataFrame({"rim_enhancement": [0.18, -0.02], "smoker": [-0.05, 0.01]},
                          index=["SECRET1", "SECRET2"])
    shown = pd.DataFrame({"rim_enhancement": ["complete", None], "smoker": [1.0, np.nan]},
                         index=values.index)
    fig = waterfall_figure(Explanation(values, 0.4, "probability", shown), row=0)
    texts = {t.get_text() for t in fig.findobj(Text)}
    assert "complete = rim_enhancement" in texts
    assert "yes = smoker" in texts
    second = waterfall_figure(Explanation(values, 0.4, "probability", shown), row=-1)
    assert "missing (no contrast given) = rim_enhancement" in {
        t.get_text() for t in second.findobj(Text)}


def test_figures_draw_on_the_callers_axes(fitted, rows):
    expl = explain(fitted("logistic"), rows)
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert importance_figure(expl, ax=left) is fig
    assert beeswarm_figure(expl, max_display=5, ax=right) is fig
    assert len(right.get_yticklabels()) == 5


@pytest.mark.parametrize("arguments, message", [
    ({"row": 2}, r"'row' parameter of waterfall_figure must be an int in \[-2, 1\]"),
    ({"row": True}, r"'row' parameter of waterfall_figure"),
    ({"row": "SECRET1"}, r"'row' parameter of waterfall_figure"),
    ({"row": 0, "max_display": 0}, r"'max_display' parameter of waterfall_figure"),
])
def test_waterfall_rejects_a_bad_row(arguments, message):
    values = pd.DataFrame({"age": [0.1, -0.1], "sex": [0.3, -0.5]}, index=["SECRET1", "SECRET2"])
    with pytest.raises(ValueError, match=message):
        waterfall_figure(Explanation(values, 0.5, "probability", values), **arguments)


def test_beeswarm_rejects_a_bad_max_display(fitted, rows):
    with pytest.raises(ValueError, match="'max_display' parameter of beeswarm_figure"):
        beeswarm_figure(explain(fitted("logistic"), rows), max_display=0)
