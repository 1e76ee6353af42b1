"""The learning-curve figure of a plan (:mod:`resorb.planning`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from resorb.planning.settings import _LABELS, DEVELOPMENT_METRICS, VALIDATION_STATISTICS, Plan

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# ------------------------------------------------------------------------------ figure
def learning_curve_figure(plan: Plan) -> Figure:
    """The learning curves: development metrics and validation precision against n.

    Four panels on a bare Agg figure (no pyplot state): calibration slope, AUROC and mean
    absolute error against development size (mean, 95% Monte Carlo band, the target's
    quantile and line, Riley 2020's n), and the simulated 95% interval widths of O/E, slope
    and C against validation size (with Riley 2021's anticipated widths and the targets).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    fig = Figure(figsize=(9.6, 7), layout="constrained", dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    dev, val, info = plan.development, plan.validation, plan.info
    riley_n = float(plan.riley_development["n_shrinkage"])
    for ax, metric in zip(axes.flat[:3], DEVELOPMENT_METRICS, strict=True):
        n = dev["n"]
        ax.fill_between(n, dev[f"{metric}_p2_5"], dev[f"{metric}_p97_5"], alpha=0.25,
                        color="C0", label="95% of replicates")
        ax.plot(n, dev[f"{metric}_mean"], "o-", color="C0", label="mean")
        if info["target_column"].startswith(f"{metric}_q"):
            ax.plot(n, dev[info["target_column"]], "s--", color="C1",
                    label=f"{info['target_column'].rsplit('_q', 1)[1]}th percentile")
            ax.axhline(info["target_value"], color="C1", lw=0.8, ls=":", label="target")
        if metric == "calibration_slope":
            ax.plot(n, dev["riley_expected_shrinkage"], "^:", color="C3",
                    label="Riley 2020 expected shrinkage")
            ax.axhline(1.0, color="grey", lw=0.6)
        if metric == "auroc":
            ax.axhline(info["truth_auroc"], color="grey", lw=0.8, ls="--",
                       label="true probability")
        if metric == "mape":
            ax.set_ylim(bottom=0)
        ax.axvline(riley_n, color="C3", lw=0.8, ls="--",
                   label=f"Riley 2020 (i): n = {riley_n:,.0f}")
        _size_axis(ax, n)
        ax.set_xlabel("development rows (usable)")
        ax.set_title(_LABELS[metric], fontsize=10)
        ax.legend(fontsize=7)
    ax = axes.flat[3]
    widths = {"oe": plan.riley_validation.criterion("oe").ci_width,
              "slope": plan.riley_validation.criterion("slope").ci_width,
              "c": plan.riley_validation.criterion("c").ci_width}
    for i, stat in enumerate(VALIDATION_STATISTICS):
        colour = f"C{i + 4}"
        ax.plot(val["n"], val[f"{stat}_width"], "o-", color=colour,
                label=f"{_LABELS[stat]} (simulated)")
        ax.plot(val["n"], val[f"{stat}_riley_width"], ":", color=colour,
                label=f"{_LABELS[stat]} (Riley 2021)")
        ax.axhline(widths[stat], color=colour, lw=0.6, ls="--")
    _size_axis(ax, val["n"])
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_yticks([t for t in (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5)
                   if low <= t <= high])
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("validation rows (usable)")
    ax.set_title("external validation: 95% interval width", fontsize=10)
    ax.legend(fontsize=7)
    fig.suptitle(f"{info['candidate']} on {info['preset']}: {info['replicates']} replicates "
                 f"per size (seed {info['seed']})", fontsize=11)
    return fig


def _size_axis(ax: Any, sizes: pd.Series) -> None:
    """A log axis of sample sizes, ticked and labelled at the sizes simulated."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.set_xticks(list(sizes), labels=[f"{int(v):,}" for v in sizes], fontsize=7)
    ax.xaxis.set_minor_locator(NullLocator())
