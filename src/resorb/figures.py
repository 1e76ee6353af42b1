"""Validation figures: calibration, ROC and decision curves as matplotlib Figures.

The curves are computed elsewhere (:mod:`resorb.metrics`, one frame per model, keyed by
name); the functions here only draw them, on axes the caller owns or on a new bare Agg
figure (no pyplot state), as scikit-learn's ``CalibrationDisplay`` separates
``calibration_curve`` from ``plot``. :func:`png_bytes` turns a Figure into PNG bytes once, at
the edge (the MLflow run, the report). Nothing here knows about patients, only aggregate
curves.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: dots per inch of the validation figures (5.2 x 5 inches -> 572 x 550 pixels)
DPI = 110


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """``ax``, or the axes of a new bare Agg figure of ``size`` inches."""
    if ax is not None:
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="tight", dpi=DPI)
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def calibration_figure(curves: Mapping[str, pd.DataFrame],
                       title: str = "Calibration (smoothed, out-of-fold)",
                       ax: Axes | None = None) -> Figure:
    """Observed against predicted resorption, one smoothed curve per model.

    Parameters
    ----------
    curves : mapping of str to DataFrame
        Per model, columns ``predicted`` and ``observed`` (probabilities in [0, 1]), as
        :func:`resorb.metrics.smoothed_calibration_curve` returns.
    title : str
    ax : matplotlib Axes, optional
        Draw here instead of on a new 5.2 x 5 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the calibration plot (``ax``'s when given).
    """
    ax = _axes(ax, (5.2, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for name, c in curves.items():
        ax.plot(c["predicted"], c["observed"], lw=2, label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability of resorption",
           ylabel="observed proportion resorbed", title=title)
    ax.legend(loc="upper left", fontsize=8)
    return ax.figure


def roc_figure(rocs: Mapping[str, pd.DataFrame], aurocs: Mapping[str, float],
               ax: Axes | None = None) -> Figure:
    """ROC curves with each model's AUROC in the legend.

    Parameters
    ----------
    rocs : mapping of str to DataFrame
        Per model, columns ``fpr`` and ``tpr`` in [0, 1].
    aurocs : mapping of str to float
        Per model, the AUROC printed in the legend (NaN when missing).
    ax : matplotlib Axes, optional
        Draw here instead of on a new 5.2 x 5 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the ROC plot (``ax``'s when given).
    """
    ax = _axes(ax, (5.2, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    for name, r in rocs.items():
        auc = aurocs.get(name, float("nan"))
        ax.plot(r["fpr"], r["tpr"], lw=2, label=f"{name} (AUROC {auc:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="1 - specificity", ylabel="sensitivity",
           title="ROC curve (out-of-fold)")
    ax.legend(loc="lower right", fontsize=8)
    return ax.figure


def decision_curve_figure(curves: Mapping[str, pd.DataFrame], ax: Axes | None = None) -> Figure:
    """Net benefit of offering watchful waiting, against waiting for all and for none.

    Vickers AJ, Elkin EB. Decision curve analysis. Med Decis Making 2006;26:565-74.
    doi:10.1177/0272989X06295361

    Parameters
    ----------
    curves : mapping of str to DataFrame
        Per model, columns ``threshold``, ``model``, ``treat_all`` and optionally
        ``ci_low``, ``ci_high`` (a shaded 95% band); net benefit per threshold probability.
    ax : matplotlib Axes, optional
        Draw here instead of on a new 6 x 4.6 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the decision curve (``ax``'s when given).
    """
    ax = _axes(ax, (6, 4.6))
    first = next(iter(curves.values()))
    ax.plot(first["threshold"], first["treat_all"], color="black", lw=1, label="wait for all")
    ax.axhline(0, color="grey", lw=1, ls="--", label="wait for none")
    for name, d in curves.items():
        ax.plot(d["threshold"], d["model"], lw=2, label=name)
        if {"ci_low", "ci_high"} <= set(d.columns):
            ax.fill_between(d["threshold"], d["ci_low"], d["ci_high"], alpha=0.15)
    top = max(float(d["model"].max()) for d in curves.values())
    ax.set(xlim=(0, 1), ylim=(-0.05, max(top, float(first["treat_all"].max())) + 0.05),
           xlabel="threshold probability of resorption", ylabel="net benefit",
           title="Decision curve: offer watchful waiting when P >= threshold")
    ax.legend(fontsize=8)
    return ax.figure


def validation_figures(evaluations: Mapping[str, Any]) -> dict[str, Figure]:
    """The three validation figures of one or more models, keyed as in :data:`resorb.runs.FIGURES`.

    Parameters
    ----------
    evaluations : mapping of str to resorb.training.Evaluation
        Per model name: its ``calibration``, ``roc`` and ``decision`` frames.

    Returns
    -------
    dict of str to Figure
        ``calibration``, ``roc``, ``decision_curve``.
    """
    return {
        "calibration": calibration_figure({k: e.calibration for k, e in evaluations.items()}),
        "roc": roc_figure({k: e.roc for k, e in evaluations.items()},
                          {k: e.metric("auroc") for k, e in evaluations.items()}),
        "decision_curve": decision_curve_figure({k: e.decision
                                                 for k, e in evaluations.items()}),
    }


def png_bytes(fig: Figure, dpi: float | str = "figure") -> bytes:
    """The figure as PNG bytes (the one place a Figure becomes an image).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Any figure (these, or :mod:`resorb.explain`'s).
    dpi : float or "figure"
        Dots per inch; by default the figure's own (:data:`DPI` for the figures here).

    Returns
    -------
    bytes
        Starting with the PNG signature ``b"\\x89PNG\\r\\n\\x1a\\n"``.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
