"""What an external validation gives out: its figures, its MLflow run record and the
folder of ``resorb evaluate --out``."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from resorb.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from resorb.evaluation.validation import ExternalValidation
    from resorb.runs import RunRecord

#: files of an evaluation folder (``resorb evaluate --out DIR``)
OUTPUT_FILES = ("metrics.csv", "calibration.csv", "decision_curve.csv", "subgroups.csv",
                "calibration.png", "decision.png", "finding_subgroups.csv")
#: tags of an evaluation run (:func:`evaluation_record`; searched by
#: :func:`resorb.tracking.list_evaluations`)
KIND_TAG, KIND = "kind", "evaluation"
MODEL_TAGS = ("evaluated_model_name", "evaluated_model_version", "evaluated_model_sha256",
              "evaluated_model_candidate", "evaluated_model_from")


# ------------------------------------------------------------------------------ figures


def calibration_figure(ev: ExternalValidation) -> Figure:
    """The flexible calibration curve with its band and the ideal line; predictions below.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing the predicted-probability axis: the curve (top) and the
        histogram of predictions, resorbed upwards and not resorbed downwards (bottom).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from resorb.figures import DPI

    fig = Figure(figsize=(5.4, 6.4), dpi=DPI, layout="tight")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1.2]})
    c = ev.calibration
    top.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="ideal")
    top.fill_between(c["predicted"], c["ci_low"], c["ci_high"], color="C0", alpha=0.2,
                     lw=0, label="95% bootstrap band")
    top.plot(c["predicted"], c["observed"], color="C0", lw=2, label="flexible (loess)")
    text = "\n".join(f"{label} {_interval(*ev.estimate(k))}" for k, label in
                     (("o_e_ratio", "O/E"), ("calibration_intercept", "intercept"),
                      ("calibration_slope", "slope"), ("ici", "ICI"), ("auroc", "AUROC")))
    top.text(0.98, 0.03, text, transform=top.transAxes, ha="right", va="bottom", fontsize=7.5,
             family="monospace", bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed proportion resorbed",
            title=f"Calibration on {ev.rows:,} patients ({ev.events:,} resorbed)")
    top.legend(loc="upper left", fontsize=8)
    h = ev.histogram
    width = float(h["bin_high"].iloc[0] - h["bin_low"].iloc[0])
    bottom.bar(h["bin_low"], h["resorbed"], width=width, align="edge", color="C2",
               label="resorbed")
    bottom.bar(h["bin_low"], -h["not_resorbed"], width=width, align="edge", color="C3",
               label="not resorbed")
    bottom.axhline(0, color="black", lw=0.5)
    bottom.set(xlabel="predicted probability of resorption", ylabel="patients")
    bottom.legend(loc="upper left", fontsize=7, ncols=2)
    return fig


def decision_figure(ev: ExternalValidation) -> Figure:
    """The decision curve with its bootstrap band, against waiting for all and for none."""
    from resorb.figures import decision_curve_figure

    return decision_curve_figure({ev.candidate: ev.decision})


def _interval(estimate: float, low: float, high: float) -> str:
    """``0.98 (0.90-1.07)``; the estimate alone when a bound is missing."""
    if not math.isfinite(estimate):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{estimate:.2f}"
    sep = " to " if min(low, high) < 0 else "-"
    return f"{estimate:.2f} ({low:.2f}{sep}{high:.2f})"


# --------------------------------------------------------------- records and the folder


def evaluation_record(ev: ExternalValidation) -> RunRecord:
    """The evaluation as a run record for :func:`resorb.tracking.log_evaluation`.

    Tags link it to the model (name, version, SHA-256 of the model file) and say what the data
    were; the tables, figures and texts are aggregates only, and neither the data file's name
    nor any identifier is part of it.
    """
    from resorb.figures import png_bytes
    from resorb.runs import RunRecord, flatten_params

    tags = dict(zip(MODEL_TAGS, (ev.model_name, ev.model_version, ev.model_sha256,
                                 ev.candidate, ev.model_from), strict=True))
    tags |= {KIND_TAG: KIND, "evaluated_on": ev.data_source.describe(),
             "data_kind": ev.data_source.kind,
             "label_rule": f"{ev.label_rule.name} (>= {ev.label_rule.min_reduction_pct:g}% "
                           f"volume reduction)"}
    summary = {"rows": ev.rows, "events": ev.events, "prevalence": round(ev.prevalence, 4)}
    if ev.sites:
        summary["sites"] = ev.sites
    return RunRecord(
        tags=tags, params=flatten_params({"n_boot": ev.n_boot, "seed": ev.seed,
                                          "decision_threshold": ev.decision_threshold,
                                          "label": ev.label_rule.model_dump()}),
        metrics=ev.metrics, calibration=ev.calibration, decision_curve=ev.decision,
        subgroups=ev.subgroups, finding_subgroups=ev.finding_subgroups,
        summary=pd.DataFrame([summary]),
        data_account="\n".join((ev.account, *ev.notes)), sample_size=ev.sample_size,
        sample_size_ok=ev.sample_size_ok, validation_method=ev.method,
        fingerprint=ev.fingerprint,
        figures={"calibration": png_bytes(calibration_figure(ev)),
                 "decision_curve": png_bytes(decision_figure(ev))})


def check_output_folder(out: str | os.PathLike[str]) -> Path:
    """The folder ``resorb evaluate --out`` may write: new, empty, or an earlier evaluation's.

    Raises
    ------
    InputError
        Its parent does not exist, it is a file, or it holds files evaluate did not write.
    """
    from resorb.files import check_writable_folder

    path = Path(out)
    check_writable_folder(path.resolve().parent, f"--out {out}")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file; --out names a folder")
    foreign = sorted(p.name for p in path.iterdir() if p.name not in OUTPUT_FILES) \
        if path.is_dir() else []
    if foreign:
        raise InputError(f"{path}: holds files evaluate did not write ({', '.join(foreign[:3])}"
                         f"{'...' if len(foreign) > 3 else ''}); choose a new folder")
    return path


def save_evaluation(ev: ExternalValidation, out: str | os.PathLike[str]) -> Path:
    """Write :data:`OUTPUT_FILES` into the folder ``out``, all or nothing.

    The files are written into a temporary folder beside ``out`` that is renamed into place
    at the end, so an interrupted run leaves no half-written folder; an earlier evaluation's
    folder is replaced.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    InputError
        As :func:`check_output_folder`.
    """
    from resorb.figures import png_bytes

    target = check_output_folder(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        ev.metrics.to_csv(tmp / "metrics.csv", index=False)
        ev.calibration.to_csv(tmp / "calibration.csv", index=False)
        ev.decision.to_csv(tmp / "decision_curve.csv", index=False)
        ev.subgroups.to_csv(tmp / "subgroups.csv", index=False)
        if ev.finding_subgroups is not None:
            ev.finding_subgroups.to_csv(tmp / "finding_subgroups.csv", index=False)
        (tmp / "calibration.png").write_bytes(png_bytes(calibration_figure(ev)))
        (tmp / "decision.png").write_bytes(png_bytes(decision_figure(ev)))
        tmp.chmod(0o755)  # mkdtemp makes it private; results are to be shared
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
