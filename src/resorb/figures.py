"""Validation figures from frames: calibration, ROC and decision curves (matplotlib, PNG).

Each function takes the frames of :class:`resorb.training.Evaluation` (one per model, keyed by
name) and writes one PNG; nothing here knows about patients, only aggregate curves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    fig.tight_layout()
    fig.savefig(p, dpi=110)
    _pyplot().close(fig)
    return p


def plot_calibration(curves: Mapping[str, pd.DataFrame], path: str | os.PathLike[str],
                     title: str = "Calibration (smoothed, out-of-fold)") -> Path:
    """Observed against predicted resorption, one smoothed curve per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for name, c in curves.items():
        ax.plot(c["predicted"], c["observed"], lw=2, label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability of resorption",
           ylabel="observed proportion resorbed", title=title)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_roc(rocs: Mapping[str, pd.DataFrame], aurocs: Mapping[str, float],
             path: str | os.PathLike[str]) -> Path:
    """ROC curves with AUROC in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    for name, r in rocs.items():
        auc = aurocs.get(name, float("nan"))
        ax.plot(r["fpr"], r["tpr"], lw=2, label=f"{name} (AUROC {auc:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="1 - specificity", ylabel="sensitivity",
           title="ROC curve (out-of-fold)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_decision_curve(curves: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Net benefit of offering watchful waiting, against treat-all and treat-none."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.6))
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
    return _save(fig, path)
