"""Figures of an explanation: global importance, beeswarm, one patient's waterfall.

Each function draws and returns a matplotlib ``Figure`` and writes nothing: the caller saves it
(``fig.savefig(path)``, PNG at 120 dpi by default) at the edge, as with scikit-learn's
``CalibrationDisplay`` (what is drawn is computed by :func:`resorb.explain.global_importance`
and :class:`resorb.explain.Explanation`). Figures are bare Agg figures, outside pyplot's
state, so nothing opens a window or stays in memory after the caller drops the figure. Only
variable names, values and contributions are drawn; the index of the explained rows (which
may hold identifiers) never is.

The beeswarm is drawn here rather than by ``shap.plots.beeswarm`` (which
``Explanation.to_shap()`` also feeds) because shap's draws on pyplot's current figure, and
this one samples rows and jitters with an explicit seed and colours categories in their
clinical order with missing values grey. The waterfall is drawn here too, in the layout of
``shap.plots.waterfall`` (bars from E[f(X)] to f(x), largest first, the smallest grouped):
shap's own needed ``import shap`` (numba, its plotting stack), 9.2 s of the 64.7 s that the
report's explanation step took under cProfile on the loaded shared machine, for one figure
of ten bars (docs/report.md "Speed").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from resorb import schema
from resorb.explain.api import Explanation
from resorb.explain.summaries import global_importance
from resorb.explain.values import value_numbers, value_words

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["beeswarm_figure", "importance_figure", "waterfall_figure"]

_DPI = 120  # resolution of fig.savefig(...) unless the caller asks for another


def importance_figure(expl: Explanation, ax: Axes | None = None) -> Figure:
    """Bar chart of the mean absolute contribution of each variable.

    Parameters
    ----------
    expl : Explanation
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure sized to the number of variables when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax.figure`` when ``ax`` is given).
    """
    importance = global_importance(expl).iloc[::-1]
    ax = ax if ax is not None else _axes(height=0.3 * len(importance) + 1.2)
    ax.barh(np.arange(len(importance)), importance.to_numpy(), color="#3b6ea5")
    ax.set_yticks(np.arange(len(importance)), importance.index)
    ax.set_xlabel("Mean |contribution| to the probability of resorption")
    ax.set_title("Which findings move the predicted chance of resorption")
    return ax.figure


def beeswarm_figure(expl: Explanation, max_display: int = 15, max_points: int = 2000,
                    seed: int = 0, ax: Axes | None = None) -> Figure:
    """One row of points per variable: each patient's contribution, coloured by value.

    Parameters
    ----------
    expl : Explanation
    max_display : int
        Most important variables shown.
    max_points : int
        Rows drawn at most (a seeded sample of them beyond that).
    seed : int
        Seed of the row sample and the vertical jitter.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure sized to the number of variables when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax.figure`` when ``ax`` is given).

    Raises
    ------
    ValueError
        When ``max_display`` is not an int >= 1.
    """
    if not (isinstance(max_display, int) and max_display >= 1):
        raise ValueError("The 'max_display' parameter of beeswarm_figure must be an int >= 1. "
                         f"Got {max_display!r} instead.")
    rng = np.random.default_rng(seed)
    shown = list(global_importance(expl).index[:max_display])[::-1]
    rows = np.arange(len(expl.values))
    if rows.size > max_points:
        rows = np.sort(rng.choice(rows.size, size=max_points, replace=False))
    ax = ax if ax is not None else _axes(height=0.4 * len(shown) + 1.5)
    points = None
    for y, variable in enumerate(shown):
        x = expl.values[variable].to_numpy()[rows]
        colour = _value_rank(expl.feature_values[variable].iloc[rows], variable)
        jitter = y + rng.uniform(-0.3, 0.3, size=x.size)
        missing = np.isnan(colour)
        ax.scatter(x[missing], jitter[missing], s=6, color="#b0b0b0", linewidths=0)
        points = ax.scatter(x[~missing], jitter[~missing], s=6, c=colour[~missing],
                            cmap="coolwarm", vmin=0.0, vmax=1.0, linewidths=0)
    ax.axvline(0.0, color="#444444", linewidth=0.8)
    ax.set_yticks(np.arange(len(shown)), shown)
    ax.set_xlabel("Contribution to the probability of resorption (grey: value missing)")
    ax.set_title("How each finding pushes individual patients' chance of resorption")
    if points is not None:
        bar = ax.figure.colorbar(points, ax=ax, ticks=[0.0, 1.0], fraction=0.04, pad=0.02)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("Value of the finding")
    return ax.figure


def waterfall_figure(expl: Explanation, row: int, max_display: int = 10) -> Figure:
    """One patient's prediction built up from the base value, variable by variable.

    The layout of shap's waterfall plot (``shap.plots.waterfall``; SHAP values: Lundberg &
    Lee, NeurIPS 2017, arXiv:1705.07874): bars in probability points from ``E[f(X)]`` (the
    base value) to ``f(x)`` (the predicted probability), largest at the top, labelled
    ``value = variable`` in clinical words, the smallest grouped in one bar.

    Parameters
    ----------
    expl : Explanation
    row : int
        Position of the patient among the explained rows (``-n <= row < n``); a position
        rather than an index label, so that no identifier is needed to choose one.
    max_display : int
        Bars drawn at most, the last grouping the remaining variables.

    Returns
    -------
    matplotlib.figure.Figure
        9 inches wide; not registered with pyplot.

    Raises
    ------
    ValueError
        When ``row`` or ``max_display`` is out of range.
    """
    n = len(expl.values)
    if isinstance(row, bool) or not (isinstance(row, int | np.integer) and -n <= row < n):
        raise ValueError(f"The 'row' parameter of waterfall_figure must be an int in "
                         f"[{-n}, {n - 1}] (a position). Got {row!r} instead.")
    if isinstance(max_display, bool) or not (isinstance(max_display, int) and max_display >= 1):
        raise ValueError("The 'max_display' parameter of waterfall_figure must be an int >= 1. "
                         f"Got {max_display!r} instead.")
    variables = [str(v) for v in expl.values.columns]
    contributions = expl.values.iloc[int(row)].to_numpy(dtype=float)
    labels = []
    for variable in variables:
        codes, words = value_words(expl.feature_values[variable], variable)
        labels.append(f"{words[codes[int(row)]]} = {variable}")
    order = np.argsort(-np.abs(contributions), kind="stable")
    if order.size > max_display:  # the smallest in one bar, as shap does
        kept, rest = order[:max_display - 1], order[max_display - 1:]
        bars = [*contributions[kept], float(contributions[rest].sum())]
        names = [*(labels[i] for i in kept), f"{rest.size} other features"]
    else:
        bars, names = list(contributions[order]), [labels[i] for i in order]
    ax = _axes(0.45 * len(bars) + 1.5)
    ax.figure.set_size_inches(9.0, ax.figure.get_size_inches()[1])
    y = np.arange(len(bars))[::-1]  # the largest at the top
    ends = expl.base_value + np.cumsum(bars)
    starts = ends - np.asarray(bars)
    colours = ["#ff0051" if b > 0 else "#008bfb" for b in bars]  # shap's red and blue
    ax.barh(y, bars, left=starts, color=colours, height=0.6)
    low, high = float(np.min(np.r_[starts, ends])), float(np.max(np.r_[starts, ends]))
    span = max(high - low, 1e-9)
    ax.set_xlim(low - 0.05 * span, high + 0.15 * span)  # room for the base line and labels
    for yi, b, s, e in zip(y, bars, starts, ends, strict=True):
        ax.text(max(s, e) + 0.01 * span, yi, f"{b:+.2f}", va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.axvline(expl.base_value, color="#888888", linewidth=0.8, linestyle="--")
    ax.axvline(ends[-1], color="#444444", linewidth=0.8)
    ax.set_xlabel(f"Probability of resorption: E[f(X)] = {expl.base_value:.2f} (dashed), "
                  f"f(x) = {ends[-1]:.2f} (solid)")
    ax.set_title("How each finding moves this patient's prediction", loc="left")
    return ax.figure


def _axes(height: float) -> Axes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # a bare Agg figure: no pyplot state, no interactive backend
    fig = Figure(figsize=(8.0, max(2.5, height)), layout="constrained", dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _value_rank(values: pd.Series, variable: str) -> np.ndarray:
    """Colour position in [0, 1] of each value (low to high); NaN when missing."""
    numbers = value_numbers(values, variable)
    col = schema.BY_NAME.get(variable)
    if col is not None and col.categories:
        return numbers / max(len(col.categories) - 1, 1)
    low, high = np.nanmin(numbers, initial=np.inf), np.nanmax(numbers, initial=-np.inf)
    if not np.isfinite(low) or high == low:
        return np.where(np.isnan(numbers), np.nan, 0.5)
    return pd.Series(numbers).rank(pct=True).to_numpy(dtype=float, na_value=np.nan)
