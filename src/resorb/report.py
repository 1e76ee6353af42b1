"""The model report: one self-contained HTML file that a clinical reviewer can read offline.

:func:`make_report` finds a model and the MLflow run that trained it, reads the run's
aggregates (metrics with intervals, calibration, ROC and decision curves, subgroups,
missingness, sample-size check, leaderboard), explains the model on a synthetic cohort (or a
file the user gives), fills the TRIPOD+AI checklist (:mod:`resorb.tripod`) where the run can,
and writes one HTML file, with the figures embedded as PNG data URIs and no external
resource, that it also logs to the run as ``report/report.html``.

The report holds aggregates only: it never reads identifiers (site names appear only as
anonymous numbers, in the run's subgroup table) and never shows a patient row; subgroups of
fewer than :data:`SMALL_CELL` rows are suppressed. :func:`render_report` is a pure function of
what was read, so it can be tested without a store.
"""

from __future__ import annotations

import base64
import html
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resorb import schema, tripod
from resorb.card import DataSource, ModelCard
from resorb.config import LabelRule, Params
from resorb.errors import DataValidationError, InputError, ModelNotFoundError
from resorb.runs import ARTIFACTS, RunRecord

REPORT_ARTIFACT = ARTIFACTS.report
SHAP_ROWS = 1000
SMALL_CELL = 10
FIGURES = ("calibration", "roc", "decision_curve")
PACKAGES = ("resorb", "numpy", "pandas", "scipy", "scikit-learn", "skops", "shap", "mlflow",
            "matplotlib", "pyarrow", "pydantic")
_PNG = b"\x89PNG\r\n\x1a\n"

# name: (label, decimals, ideal value, how to read it)
METRICS: dict[str, tuple[str, int, str, str]] = {
    "auroc": ("AUROC (C-statistic)", 2, "1; 0.5 is chance",
              "chance that a herniation that resorbed got a higher prediction than one that "
              "did not"),
    "auprc": ("Average precision", 2, "1", "precision averaged over all sensitivities"),
    "calibration_intercept": ("Calibration intercept", 2, "0",
                              "below 0: predictions too high on average; above 0: too low"),
    "calibration_slope": ("Calibration slope", 2, "1",
                          "below 1: predictions too extreme (overfitting); above 1: too "
                          "timid"),
    "ici": ("Integrated calibration index", 3, "0",
            "mean distance between predicted and observed probability"),
    "brier": ("Brier score", 3, "0", "mean squared error of the predicted probabilities"),
    "scaled_brier": ("Scaled Brier score", 2, "1",
                     "improvement on predicting the prevalence for everyone"),
    "log_loss": ("Log loss", 3, "0", "penalises confident wrong predictions"),
}


@dataclass(frozen=True)
class ModelFacts:
    """The model, its card (``resorb.json``) and its file, as the report shows them."""

    name: str
    version: str
    source: str
    card: ModelCard
    skops_bytes: int
    model_id: str = ""

    @property
    def title(self) -> str:
        """e.g. ``resorb version 3 (random_forest)``."""
        who = f"{self.name} version {self.version}" if self.version else self.name
        candidate = self.card.candidate
        return f"{who} ({candidate})" if candidate != self.name else who


@dataclass(frozen=True)
class Explanations:
    """SHAP global importance and beeswarm as PNG bytes, or a note saying why there are none."""

    importance_png: bytes | None = None
    beeswarm_png: bytes | None = None
    top: tuple[tuple[str, float], ...] = ()
    rows: str = ""
    method: str = ""
    note: str = ""


@dataclass(frozen=True)
class ReportResult:
    """What :func:`make_report` wrote: the file, its size in bytes and the seconds it took."""

    path: Path
    run_id: str
    model: str
    size_bytes: int
    seconds: float
    logged_as: str | None


# ----------------------------------------------------------------------------- the job


def make_report(model: str | None = None, run: str | None = None,
                out: str | os.PathLike[str] = "report.html",
                data: str | os.PathLike[str] | None = None, shap_rows: int = SHAP_ROWS,
                log: bool = True, params: Params | None = None,
                now: datetime | None = None) -> ReportResult:
    """Write the HTML report of a model and log it to the model's MLflow run.

    Parameters
    ----------
    model : str, optional
        Registry URI (``models:/resorb@champion``, the default; ``models:/resorb/3``;
        ``runs:/ID/model``).
    run : str, optional
        Run id whose model to report on, instead of ``model``.
    out : path-like
        HTML file to write (its folder must exist).
    data : path-like, optional
        Table in the data dictionary to compute SHAP explanations on (needed for a model
        trained on real data; a synthetic model is explained on a fresh synthetic cohort).
    shap_rows : int
        Rows explained (a seeded sample beyond that).
    log : bool
        Log the file to the run as ``report/report.html``.
    params : Params, optional
        Defaults to params.yaml.
    now : datetime, optional
        Time stamp printed in the report (default: now, UTC).

    Returns
    -------
    ReportResult

    Raises
    ------
    InputError
        Both ``model`` and ``run`` given, or ``out`` is not an .html file in a folder.
    ModelNotFoundError
        No registry, or no such model or run.
    DataValidationError
        ``data`` breaks the data dictionary.
    """
    from resorb.config import load_params

    start = time.perf_counter()
    target = _check_out(out)
    if model is not None and run is not None:
        raise InputError("give --model or --run, not both")
    params = params or load_params()
    loaded, run_id = _resolve(model, run, params)
    from resorb.tracking import read_run

    record = read_run(run_id)
    facts = _model_facts(loaded, record)
    seed = loaded.metadata.seed + 1  # fresh rows, not the training draw
    expl = explain_for_report(loaded.estimator, loaded.features, loaded.metadata.data_source,
                              data, shap_rows, seed)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    text = render_report(record, facts, expl, params, generated_at=stamp)
    from resorb.files import atomic_path

    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)  # a document to share, not a private temporary file
    logged = _log_report(run_id, target) if log else None
    return ReportResult(target, run_id, facts.title, target.stat().st_size,
                        time.perf_counter() - start, logged)


def _check_out(out: str | os.PathLike[str]) -> Path:
    path = Path(out)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{path.name}: the report is HTML; name the output file *.html")
    if not path.parent.exists():
        raise InputError(f"{path.parent}: folder does not exist; create it first")
    return path


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


# ------------------------------------------------------------- the store (MLflow edge)


def _resolve(model: str | None, run: str | None, params: Params) -> tuple[Any, str]:
    """The loaded model and the id of the run that trained it."""
    from resorb import tracking
    from resorb.scoring.model import DEFAULT_MODEL_URI, load_model, registry_available

    if not registry_available():  # the report reads the run: an exported folder is not enough
        raise ModelNotFoundError(f"no model registry here (no mlflow.db in {Path.cwd()}, "
                                 f"MLFLOW_TRACKING_URI unset); run `resorb report` in the folder "
                                 f"that holds the tracking store")
    tracking.configure(params.tracking.get("uri"))
    if run is None:
        loaded = load_model(model or DEFAULT_MODEL_URI)
        run_id = _mlmodel(loaded.folder).get("run_id")
        if not run_id:
            raise ModelNotFoundError(f"{loaded.source} records no MLflow run; the report reads "
                                     f"its validation from the run that trained the model")
        if tracking.get_run(str(run_id)) is None:
            raise ModelNotFoundError(f"{loaded.source} was trained in run {run_id}, which is "
                                     f"not in this tracking store")
        return loaded, str(run_id)
    found = tracking.get_run(run)
    if found is None:
        raise ModelNotFoundError(f"no run '{run}' in the tracking store; see `resorb ui` or "
                                 f"`resorb models list`")
    try:
        return load_model(f"runs:/{run}/model"), run
    except ModelNotFoundError:
        parent = found.data.tags.get("mlflow.parentRunId")
        hint = (f"it is candidate '{found.info.run_name}' of compare run {parent}, whose "
                f"champion carries the model: --run {parent}" if parent
                else "give the run of a `resorb train` or `resorb compare`")
        raise ModelNotFoundError(f"run {run} has no model; {hint}") from None


def _mlmodel(folder: Path) -> dict[str, Any]:
    import yaml

    path = folder / ARTIFACTS.mlmodel
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def _log_report(run_id: str, path: Path) -> str:
    """Log the file as ``report/report.html`` of the run; returns its runs:/ URI."""
    from resorb import tracking

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / Path(REPORT_ARTIFACT).name
        shutil.copyfile(path, copy)
        tracking.log_file_to_run(run_id, copy, str(Path(REPORT_ARTIFACT).parent))
    return f"runs:/{run_id}/{REPORT_ARTIFACT}"


def _model_facts(loaded: Any, record: RunRecord) -> ModelFacts:
    name, version = loaded.name, loaded.version
    if not version and loaded.source.startswith("runs:/"):
        from resorb import tracking

        registered = tracking.registered_version_of_run(record.run_id)
        if registered:
            name, version = "resorb", registered
    return ModelFacts(name=name, version=version, source=loaded.source, card=loaded.metadata,
                      skops_bytes=(loaded.folder / ARTIFACTS.model_skops).stat().st_size,
                      model_id=str(_mlmodel(loaded.folder).get("model_id") or ""))


# ------------------------------------------------------------------------- explanations


def explain_for_report(estimator: Any, features: Sequence[str], source: DataSource,
                       data: str | os.PathLike[str] | None = None, rows: int = SHAP_ROWS,
                       seed: int = 0) -> Explanations:
    """SHAP global importance and beeswarm plots for the report.

    Parameters
    ----------
    estimator : fitted candidate
        The model (:func:`resorb.explain.explain` accepts every candidate).
    features : sequence of str
        The model's input columns.
    source : DataSource
        What the model was trained on (a synthetic model is explained on its preset).
    data : path-like, optional
        A table in the data dictionary to explain; without it a synthetic model is explained
        on ``rows`` new patients of its training preset, and a real-data model not at all.
    rows : int
        Rows explained at most (a seeded sample of ``data``).
    seed : int
        Seed of the synthetic cohort and of the sample.

    Returns
    -------
    Explanations
        With a note instead of plots when nothing was explained.
    """
    from resorb import explain as ex
    from resorb.features import model_input

    if data is not None:
        from resorb.intake import check_file

        frame, report = check_file(Path(data), purpose="scoring")
        if not report.ok:
            raise DataValidationError(report)
        what = f"rows of {Path(data).name}"
    elif source.synthetic:
        from resorb.cohort import make_cohort

        frame = make_cohort(n=rows, seed=seed, preset=source.preset)
        what = f"new synthetic patients of preset '{source.preset}' (seed {seed})"
    else:
        return Explanations(note="SHAP explanations are skipped: the model was trained on "
                                 "real data and the report reads no patient data unless given "
                                 "some. Rerun with --data FILE (a table in the data "
                                 "dictionary) to add them.")
    eligible = np.ones(len(frame), dtype=bool)
    for flag in schema.RED_FLAGS:  # never offered waiting: not the model's population
        if flag in frame:
            eligible &= ~frame[flag].fillna(False).astype(bool).to_numpy()
    frame = frame.loc[eligible]
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed).sort_index()
    if len(frame) == 0:
        return Explanations(note=f"SHAP explanations are skipped: {what} has no row without "
                                 f"a red flag.")
    expl = ex.explain(estimator, model_input(frame, columns=tuple(features)))
    importance = ex.global_importance(expl)
    with tempfile.TemporaryDirectory() as tmp:
        bar = ex.plot_importance(expl, Path(tmp) / "importance.png").read_bytes()
        swarm = ex.plot_beeswarm(expl, Path(tmp) / "beeswarm.png", seed=seed).read_bytes()
    return Explanations(importance_png=bar, beeswarm_png=swarm,
                        top=tuple((str(k), float(v)) for k, v in importance.head(5).items()),
                        rows=f"{len(frame):,} {what}", method=expl.method)


# ---------------------------------------------------------------------- formatting helpers


def format_interval(estimate: float, low: float, high: float, decimals: int = 2) -> str:
    """``0.76 (0.75-0.77)``; ``-0.03 (-0.08 to 0.02)`` when a bound is negative.

    Parameters
    ----------
    estimate, low, high : float
        Point estimate and 95% interval; NaN prints as "n/a".
    decimals : int
        Decimals of every number.
    """
    if not np.isfinite(estimate):
        return "n/a"
    est = f"{estimate:.{decimals}f}"
    if not (np.isfinite(low) and np.isfinite(high)):
        return est
    lo, hi = f"{low:.{decimals}f}", f"{high:.{decimals}f}"
    sep = " to " if min(low, high) < 0 else "-"
    return f"{est} ({lo}{sep}{hi})"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _md(value: Any) -> str:
    """Escaped text with `backticks` as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           numeric: Sequence[int] = (), cls: str = "") -> str:
    """An HTML table of already-escaped cells; ``numeric`` columns align right."""
    def cells(row: Sequence[str], tag: str) -> str:
        return "".join(f'<{tag}{" class=num" if i in numeric else ""}>{c}</{tag}>'
                       for i, c in enumerate(row))

    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    head = f"<thead><tr>{cells([_e(h) for h in header], 'th')}</tr></thead>" if header else ""
    return f'<table{f" class={cls}" if cls else ""}>{head}<tbody>{body}</tbody></table>'


def _kv(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of label and already-escaped value, without a header."""
    return _table((), [[_e(k), v] for k, v in rows if v], cls="kv")


def _png(data: bytes | None, alt: str, caption: str) -> str:
    if not data or not data.startswith(_PNG):
        return f'<p class="note">{_e(alt)}: not logged in this run.</p>'
    uri = base64.b64encode(data).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{uri}" alt="{_e(alt)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _pct(x: Any, decimals: int = 1) -> str:
    return f"{100 * float(x):.{decimals}f}%" if pd.notna(x) else ""


def _num(x: Any, decimals: int = 2) -> str:
    return f"{float(x):.{decimals}f}" if pd.notna(x) else ""


# ------------------------------------------------------------------------------ sections


def _synthetic_info(source: DataSource) -> dict[str, Any] | None:
    """Preset, n and seed of a synthetic cohort, with the preset's description and sources."""
    if not source.synthetic:
        return None
    from resorb.cohort.presets import preset_data
    from resorb.errors import ConfigError

    try:
        data = preset_data(source.preset)
    except ConfigError:
        data = {}
    sources = [(group.replace("_", " "), str(block["source"])) for group, block in data.items()
               if isinstance(block, dict) and block.get("source")]
    return {"preset": source.preset, "n": source.n_requested, "seed": source.seed,
            "description": " ".join(str(data.get("description", "")).split()),
            "sources": sources, "followup": data.get("followup") or {},
            "dates": (data.get("population") or {}).get("baseline_dates") or {}}


def _summary(record: RunRecord) -> dict[str, Any]:
    if record.summary is None or record.summary.empty:
        return {}
    row = record.summary.iloc[0]
    return {k: row[k] for k in row.index if pd.notna(row[k])}


def _label_sentence(rule: LabelRule) -> str:
    pct = rule.min_reduction_pct
    grades = ", ".join(str(g).replace("_", " ") for g in rule.grades_resorbed)
    what = ("the follow-up volume is zero" if pct >= 100 else
            f"the herniation volume fell by at least {pct:g}% between the baseline and the "
            f"follow-up MRI")
    return (f"Resorbed (rule '{rule.name}') when {what}; where both volumes are not "
            f"measured, when the Komori grade is {grades or 'a reduction'}; otherwise the "
            f"recorded 'resorbed' value. Patients operated before the follow-up MRI are a "
            f"competing event and leave the training data."
            + (f" Source: {rule.source}." if rule.source else ""))


def _horizon_sentence(syn: dict[str, Any] | None, params: Params) -> str:
    default = params.scoring.get("horizon_days", 180)
    text = ("The horizon is the input followup_days, the days from the baseline MRI to the "
            "follow-up MRI (in scoring, the time asked about")
    text += f"; {default} days when a row gives none)."
    followup = (syn or {}).get("followup") or {}
    if followup.get("fixed_days"):
        text += f" Training horizon: {followup['fixed_days']} days for everyone."
    elif followup.get("components"):
        total = sum(float(c["weight"]) for c in followup["components"])
        parts = [f"about {float(c['mean_days']):g} days ({float(c['weight']) / total:.0%})"
                 for c in followup["components"]]
        text += f" Training horizons (simulated repeat MRI): {', '.join(parts)}."
    return text


_MISSING_HANDLING = (
    "Predictors missing at baseline are imputed inside the model pipeline, fitted within each "
    "validation fold: median for numbers, most frequent value for yes/no findings, with a "
    "missing-value indicator for optional predictors; a missing rim enhancement means no "
    "contrast was given (lowest grade plus an indicator).")


def _missing_sentence(record: RunRecord) -> str:
    text = _MISSING_HANDLING
    miss = record.missingness
    if miss is not None and not miss.empty:
        some = miss[miss["missing_pct"] > 0]
        listed = ", ".join(f"{r.variable} {r.missing_pct:g}%" for r in some.itertuples())
        text += f" Missing: {listed or 'none'}."
    return text


def study_facts(record: RunRecord, model: ModelFacts, params: Params) -> tripod.StudyFacts:
    """The run's answers to the TRIPOD+AI checklist, as sentences (aggregates only).

    Parameters
    ----------
    record : RunRecord
    model : ModelFacts
    params : Params

    Returns
    -------
    tripod.StudyFacts
    """
    card = model.card
    syn = _synthetic_info(card.data_source)
    summary = _summary(record)
    bands = params.scoring.get("risk_bands") or {}
    cuts, labels = bands.get("cuts") or [], bands.get("labels") or []
    band_text = ", ".join(labels) + (f" at {', '.join(f'{c:g}' for c in cuts)}" if cuts
                                     else "")
    subgroups = () if record.subgroups is None else tuple(
        dict.fromkeys(str(v) for v in record.subgroups["variable"]))
    return tripod.StudyFacts(
        synthetic=card.data_source.synthetic, trained_on=card.trained_on,
        preset=syn["preset"] if syn else "", n_requested=syn["n"] if syn else None,
        seed=syn["seed"] if syn else None,
        sources=tuple(f"{g}: {s}" for g, s in syn["sources"]) if syn else (),
        data_account=record.data_account.rstrip("."),
        rows=_int(summary.get("rows"), 0) or None, events=_int(summary.get("events"), 0) or None,
        prevalence=float(summary["prevalence"]) if "prevalence" in summary else None,
        sites=_int(summary.get("sites"), 0) or None,
        baseline_period=str(summary.get("baseline_period", "")),
        label_rule=_label_sentence(card.label_rule),
        horizon=_horizon_sentence(syn, params),
        predictors=", ".join(_predictor_label(f) for f in card.features),
        sample_size=record.sample_size, sample_size_ok=record.sample_size_ok,
        missing=_missing_sentence(record),
        validation_method=record.validation_method or "not recorded",
        model_type=_model_type(record, card, params), encodings=_encodings(card),
        comparison=_comparison_sentence(record), metrics=_headline(record),
        subgroups=subgroups, decision_threshold=card.decision_threshold,
        risk_bands=band_text, model_file=f"model.skops, sha256 {card.skops_sha256}",
        code_version=f"resorb {record.tags.get('resorb_version', '?')}, git commit "
                     f"{record.tags.get('git_commit', 'unknown')}",
        data_sha256=record.fingerprint.data_sha256 if record.fingerprint else "")


def _predictor_label(name: str) -> str:
    col = schema.BY_NAME.get(name)
    return f"{name} ({col.unit})" if col is not None and col.unit else name


def _model_type(record: RunRecord, card: ModelCard, params: Params) -> str:
    candidate = card.candidate
    spec = (params.training.get("candidates") or {}).get(candidate) or {}
    described = spec.get("description") or card.kind.replace("_", " ")
    hyper = {k.removeprefix("spec.params."): v for k, v in record.candidate_params.items()
             if k.startswith("spec.params.")}
    text = f"Candidate '{candidate}': {described}"
    if card.calibration != "none" and "calibrat" not in described:
        text += f"; {card.calibration} recalibration fitted inside cross-validation"
    if hyper:
        text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(hyper.items())) + ")"
    return text + "."


def _encodings(card: ModelCard) -> str:
    if card.kind == "logistic":
        splines = [c.name for c in schema.COLUMNS if c.encoding is schema.Encoding.SPLINE]
        return (f"Cubic splines (quantile knots) for {', '.join(splines)}; other numbers "
                "standardised; ordered grades by rank; categories one-hot; the horizon as "
                "monotone ramps of log-days so that the probability never falls as the "
                "horizon grows.")
    return ("Tree model: numbers as measured, ordered grades by rank, categories one-hot; "
            "predictions constrained to rise with the horizon.")


def _comparison_sentence(record: RunRecord) -> str:
    board = record.leaderboard
    if board is None or board.empty:
        return ""
    p = record.params
    weights = {k.removeprefix("training.champion.weights."): v for k, v in p.items()
               if k.startswith("training.champion.weights.")}
    rule = ", ".join(f"{k} x {v}" for k, v in sorted(weights.items()))
    slope = p.get("training.champion.slope_range", "")
    return (f"{len(board)} candidates ({', '.join(map(str, board['candidate']))}) were "
            f"compared on identical folds; the champion maximises {rule or 'a weighted score'}"
            + (f" among candidates with a calibration slope in {slope}" if slope else "") + ".")


def _headline(record: RunRecord) -> str:
    if record.metrics is None:
        return ""
    parts = []
    for r in record.metrics.itertuples(index=False):
        if r.metric in ("auroc", "calibration_slope", "calibration_intercept", "ici", "brier"):
            label, dec, _, _ = METRICS[r.metric]
            parts.append(f"{label} {format_interval(r.estimate, r.ci_low, r.ci_high, dec)}")
    return "; ".join(parts)


def _intended_use(model: ModelFacts, syn: dict[str, Any] | None, params: Params) -> str:
    threshold = model.card.decision_threshold
    items = [
        ("What it predicts", "The probability that a lumbar disc herniation seen on a baseline "
                             "MRI has resorbed on a follow-up MRI, under conservative care."),
        ("For whom", "Adults (18 years or older) with symptomatic lumbar disc herniation "
                     "(radicular pain with a herniation on MRI) who are considered for "
                     "conservative care."),
        ("Eligibility", "A baseline MRI and clinical examination recording the predictors of "
                        "the data dictionary (see `resorb schema`); no red flag."),
        ("Red flags", "Cauda equina syndrome and progressive or profound motor deficit rule "
                      "out waiting for resorption: such patients are never offered watchful "
                      "waiting, whatever the model says (`resorb score` marks them ineligible)."),
        ("Horizon", _horizon_sentence(syn, params)),
        ("Output", f"A probability between 0 and 1. Watchful waiting may be offered when it "
                   f"is at least {float(threshold):g}, the model's decision threshold."),
        ("Intended users", "Spine clinicians (surgeons, physiatrists, radiologists) deciding "
                           "between watchful waiting and referral; the model supports, never "
                           "replaces, their judgement."),
    ]
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_md(v)}</dd>" for k, v in items) + "</dl>"


def _data_section(record: RunRecord, syn: dict[str, Any] | None) -> str:
    out = []
    summary = _summary(record)
    if syn:
        out.append(f"<p>Synthetic cohort, preset <b>{_e(syn['preset'])}</b>: "
                   f"{syn['n']:,} simulated patients (seed {syn['seed']}). "
                   f"{_e(syn['description'])}</p>")
        if syn["sources"]:
            out.append(_table(["Parameters", "Published source (params.yaml cohort section)"],
                              [[_e(g), _e(s)] for g, s in syn["sources"]]))
    else:
        out.append("<p>Real data. Only aggregates are shown: no patient row, no identifier; "
                   "site names are replaced by numbers.</p>")
    rows = [("Rows used", f"{_int(summary.get('rows'), 0):,}" if "rows" in summary else ""),
            ("Resorbed (events)", f"{_int(summary.get('events'), 0):,}" if "events" in summary
             else ""),
            ("Prevalence", _pct(summary["prevalence"]) if "prevalence" in summary else ""),
            ("Sites", str(summary.get("sites", "not recorded"))),
            ("Baseline MRI period", str(summary.get("baseline_period", "not recorded"))),
            ("Flow of rows", record.data_account)]
    out.append(_kv([(k, _e(v)) for k, v in rows]))
    miss = record.missingness
    if miss is not None and not miss.empty:
        some = miss[miss["missing_pct"] > 0]
        table_rows = [[_e(r.variable), _e(schema.BY_NAME[r.variable].description
                                           if r.variable in schema.BY_NAME else ""),
                       f"{r.missing_pct:g}%", _e(r.missing_means if pd.notna(r.missing_means)
                                                 else "")] for r in some.itertuples()]
        out.append("<h3>Missing data</h3>")
        out.append(_table(["Predictor", "Meaning", "Missing", "What missing means"],
                          table_rows, numeric=(2,)) if table_rows else "")
        out.append(f"<p>{len(miss) - len(some)} of {len(miss)} predictors are complete. "
                   f"{_e(_MISSING_HANDLING)}</p>")
    return "".join(out)


def _sample_section(record: RunRecord, facts: tripod.StudyFacts) -> str:
    verdict = {True: "The development data meet this minimum.",
               False: "The development data are below this minimum: expect overfitting.",
               None: ""}[facts.sample_size_ok]
    return (f"<p>{_e(record.sample_size or 'No sample-size check in this run.')} "
            f"<b>{_e(verdict)}</b></p><p class=note>Riley RD et al. Calculating the sample "
            f"size required for developing a clinical prediction model. BMJ 2020;368:m441.</p>")


def _metrics_section(record: RunRecord) -> str:
    if record.metrics is None:
        return '<p class="note">No validation metrics in this run.</p>'
    extra = [c for c in ("apparent", "optimism") if c in record.metrics.columns]
    groups = {"auroc": "Discrimination", "auprc": "Discrimination",
              "calibration_intercept": "Calibration", "calibration_slope": "Calibration",
              "ici": "Calibration"}
    by_name = {r.metric: r for r in record.metrics.itertuples(index=False)}
    rows = []
    for name, (label, dec, ideal, meaning) in METRICS.items():
        if name not in by_name:
            continue
        r = by_name[name]
        row = [_e(groups.get(name, "Overall")), _e(label),
               _e(format_interval(r.estimate, r.ci_low, r.ci_high, dec)), _e(ideal),
               _e(meaning)]
        row += [_e(_num(getattr(r, c), dec)) for c in extra]
        rows.append(row)
    head = ["", "Measure", "Estimate (95% CI)", "Ideal", "How to read it",
            *[c.capitalize() for c in extra]]
    return (f"<p>Validation: <b>{_e(record.validation_method or 'not recorded')}"
            f"</b>; 95% bootstrap intervals.</p>" + _table(head, rows))


def _figures_section(record: RunRecord) -> str:
    captions = {
        "calibration": ("Calibration curve", "Observed against predicted resorption "
                        "(smoothed, out-of-fold). On the diagonal, a predicted 60% means 60 "
                        "of 100 such herniations resorb."),
        "roc": ("ROC curve", "Sensitivity against 1 - specificity over every threshold."),
        "decision_curve": ("Decision curve", "Net benefit of offering watchful waiting when "
                           "the predicted probability is at least the threshold, against "
                           "waiting for everyone and for no one; the model helps where its "
                           "curve lies above both."),
    }
    return "".join(_png(record.figures.get(k), alt, cap)
                   for k, (alt, cap) in captions.items())


def _subgroup_section(record: RunRecord) -> str:
    sub = record.subgroups
    if sub is None or sub.empty:
        return '<p class="note">No subgroup table in this run.</p>'
    rows = []
    for r in sub.itertuples(index=False):
        if r.rows < SMALL_CELL:
            rows.append([_e(r.variable), _e(r.subgroup), f"&lt;{SMALL_CELL}",
                         *(["suppressed"] + [""] * 5)])
            continue
        rows.append([_e(r.variable), _e(r.subgroup), f"{r.rows:,}", f"{r.events:,}",
                     _pct(r.observed), _pct(r.predicted), _num(r.o_e_ratio),
                     _num(r.auroc), _num(r.calibration_slope)])
    return (_table(["Variable", "Subgroup", "Rows", "Resorbed", "Observed", "Predicted (mean)",
                    "Observed / expected", "AUROC", "Calibration slope"], rows,
                   numeric=range(2, 9))
            + f'<p class="note">Out-of-fold predictions. Point estimates: AUROC and slope only '
              f"for subgroups of 30 rows or more with both outcomes; subgroups of fewer than "
              f"{SMALL_CELL} rows are suppressed. Sites are numbered, never named.</p>")


def _explain_section(expl: Explanations) -> str:
    if expl.importance_png is None:
        return f'<p class="note">{_e(expl.note)}</p>'
    top = ", ".join(f"{k} ({v:.3f})" for k, v in expl.top)
    return (f"<p>SHAP contributions per clinical variable, on the probability scale, for "
            f"{_e(expl.rows)}; {_e(expl.method)}. Most influential: {_e(top)}. They show what "
            f"the model relies on, not what causes resorption.</p>"
            + _png(expl.importance_png, "SHAP global importance",
                   "Mean absolute contribution of each variable to the predicted probability.")
            + _png(expl.beeswarm_png, "SHAP beeswarm",
                   "One point per patient: the contribution of a finding (x) coloured by its "
                   "value (red high, blue low)."))


def _leaderboard_section(record: RunRecord) -> str:
    board = record.leaderboard
    rows = [[_e(r["candidate"]), "yes" if r.get("champion") else "",
             _board_cell(r, "auroc", 3), _board_cell(r, "calibration_slope", 2),
             _board_cell(r, "ici", 3), _board_cell(r, "brier", 3),
             _board_cell(r, "d_auroc_vs_champion", 3)]
            for r in board.to_dict("records")]
    return (f"<p>{_e(_comparison_sentence(record))}</p>"
            + _table(["Candidate", "Champion", "AUROC", "Calibration slope", "ICI", "Brier",
                      "AUROC difference vs champion (paired)"], rows, numeric=range(2, 7)))


def _board_cell(row: Mapping[str, Any], metric: str, decimals: int) -> str:
    return _e(format_interval(float(row.get(metric, np.nan)),
                              float(row.get(f"{metric}_ci_low", np.nan)),
                              float(row.get(f"{metric}_ci_high", np.nan)), decimals))


def _tripod_section(entries: list[tripod.Entry]) -> str:
    counts = {s: sum(e.status == s for e in entries) for s in tripod.STATUSES}
    rows = []
    for e in entries:
        cls = {tripod.FILLED: "ok", tripod.PARTLY: "part", tripod.AUTHOR: "todo"}[e.status]
        rows.append([f"<b>{_e(e.item.number)}</b>", _e(e.item.topic),
                     f"{_e(e.item.text)} <span class=de>({_e(e.item.applies)})</span>",
                     f'<span class="{cls}">{_e(e.status)}</span>', _md(e.answer)])
    return (f"<p>The 27 items of TRIPOD+AI ({len(entries)} with their sub-items), worded as "
            f"published; D = development, E = evaluation. {counts[tripod.FILLED]} filled from "
            f"the run, {counts[tripod.PARTLY]} partly, {counts[tripod.AUTHOR]} need author "
            f"input. Source: {_e(tripod.CITATION)}.</p>"
            + _table(["Item", "Topic", "Checklist item", "Status", "From this run"], rows,
                     cls="tripod"))


def _provenance_section(record: RunRecord, model: ModelFacts, generated_at: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    rows = [("Model", model.title), ("Model URI", model.source),
            ("Logged model id", model.model_id), ("MLflow run", f"{record.run_id} "
                                                              f"({record.run_name})"),
            ("Trained", f"{record.started:%Y-%m-%d %H:%M UTC}" if record.started else ""),
            ("Trained on", model.card.trained_on),
            ("Model file", f"model.skops, {model.skops_bytes / 1e6:.1f} MB, sha256 "
                           f"{model.card.skops_sha256}"),
            ("Data fingerprint", "sha256 " + (record.fingerprint.data_sha256
                                              if record.fingerprint else "not recorded")),
            ("Trained with", f"resorb {record.tags.get('resorb_version', '?')}, git commit "
                             f"{record.tags.get('git_commit', 'unknown')}"),
            ("Report generated", generated_at)]
    versions = [("python", platform.python_version())] + [(p, installed(p)) for p in PACKAGES]
    return (_kv([(k, f"<code>{_e(v)}</code>") for k, v in rows if v])
            + "<h3>Software generating this report</h3>"
            + _table(["Package", "Version"], [[_e(k), _e(v)] for k, v in versions]))


# -------------------------------------------------------------------------------- render


def render_report(record: RunRecord, model: ModelFacts, expl: Explanations, params: Params,
                  generated_at: str = "") -> str:
    """The whole report as one HTML document (figures embedded, CSS inline, no scripts).

    Parameters
    ----------
    record : RunRecord
    model : ModelFacts
    expl : Explanations
    params : Params
    generated_at : str
        Time stamp printed in the report.

    Returns
    -------
    str
        A complete HTML5 document with no external resource.
    """
    syn = _synthetic_info(model.card.data_source)
    facts = study_facts(record, model, params)
    sections = [
        ("use", "Intended use", _intended_use(model, syn, params)),
        ("data", "Data", _data_section(record, syn)),
        ("outcome", "Outcome and label rule", f"<p>{_e(facts.label_rule)}</p>"
                                              f"<p>{_e(facts.horizon)}</p>"),
        ("sample", "Sample size", _sample_section(record, facts)),
        ("performance", "Discrimination and calibration", _metrics_section(record)),
        ("figures", "Calibration, ROC and decision curves", _figures_section(record)),
        ("subgroups", "Subgroups", _subgroup_section(record)),
        ("explanations", "What drives the predictions (SHAP)", _explain_section(expl)),
    ]
    if record.leaderboard is not None and not record.leaderboard.empty:
        sections.append(("comparison", "Model comparison", _leaderboard_section(record)))
    sections += [("tripod", "TRIPOD+AI checklist",
                  _tripod_section(tripod.fill_checklist(facts))),
                 ("provenance", "Versions and fingerprints",
                  _provenance_section(record, model, generated_at))]
    toc = "".join(f'<li><a href="#{a}">{_e(t)}</a></li>' for a, t, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{_e(t)}</h2>{b}</section>' for a, t, b in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Model report: {_e(model.title)}</title><style>{_CSS}</style></head>"
            f"<body><header><h1>Model report: {_e(model.title)}</h1>"
            f'<p class="sub">Predicts spontaneous resorption of lumbar disc herniation under '
            f"conservative care. Generated {_e(generated_at)} from MLflow run "
            f"<code>{_e(record.run_id)}</code>.</p></header>"
            f"{_banner(record, facts)}{_glance(facts)}"
            f'<nav><h2>Contents</h2><ol>{toc}</ol></nav>{body}'
            f'<footer>{_e(tripod.CITATION)}</footer></body></html>\n')


def _banner(record: RunRecord, facts: tripod.StudyFacts) -> str:
    out = ""
    if facts.synthetic:
        out += (f'<div class="banner stop" role="alert"><b>Not for clinical use.</b> This model '
                f"was trained on synthetic data ({_e(facts.trained_on)}). It shows how the "
                f"method works; it must not inform the care of any patient.</div>")
    else:
        out += ('<div class="banner warn"><b>Internal validation only.</b> Before it informs '
                "care, the model needs external validation in the clinic that will use it.</div>")
    if facts.sample_size_ok is False:
        out += (f'<div class="banner warn"><b>Below the minimum sample size.</b> '
                f"{_e(record.sample_size)}</div>")
    return out


def _glance(facts: tripod.StudyFacts) -> str:
    items = [("Data", f"{facts.trained_on}; {facts.data_account}"),
             ("Performance", facts.metrics or "not recorded"),
             ("Validation", facts.validation_method),
             ("Sample size", "meets the Riley minimum" if facts.sample_size_ok
              else "below the Riley minimum" if facts.sample_size_ok is False
              else "not recorded")]
    return ('<div class="glance"><h2>At a glance</h2><dl>'
            + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl></div>")


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1d2330;
 max-width:1100px;margin:0 auto;padding:1.5em 2em;background:#fff}
h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.3em;border-bottom:2px solid #d5dbe5;
 padding-bottom:.2em;margin-top:1.8em}h3{font-size:1.05em;margin-top:1.2em}
.sub{color:#555;margin-top:0}code{font-size:.85em;word-break:break-all}
.banner{padding:.8em 1em;border-radius:6px;margin:1em 0;border:2px solid}
.stop{background:#fdecea;border-color:#c62828;color:#7f1d1d}
.warn{background:#fff8e1;border-color:#f0a500;color:#5d4300}
.glance{background:#f4f7fb;border-radius:6px;padding:.2em 1em .6em;margin:1em 0}
.glance h2{border:0;margin-top:.6em}dl{display:grid;grid-template-columns:12em 1fr;gap:.3em 1em}
dt{font-weight:600}dd{margin:0}nav ol{columns:2;margin:0}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em;width:100%}
th,td{border:1px solid #d5dbe5;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#eef2f8}tbody tr:nth-child(even){background:#f9fbfd}td.num,th.num{text-align:right}
td.num{white-space:nowrap}table.kv td:first-child{width:12em;font-weight:600}
table.tripod td:nth-child(3){width:34%}table.tripod td:nth-child(4){white-space:nowrap}
figure{margin:1em 0;text-align:center}
img{max-width:100%;height:auto;border:1px solid #e3e7ee}figcaption{font-size:.9em;color:#444}
.note{color:#555;font-style:italic}.de{color:#666;font-size:.85em}
.ok{color:#1b5e20;font-weight:600}.part{color:#8a5a00;font-weight:600}
.todo{color:#b71c1c;font-weight:600}
footer{margin-top:2em;padding-top:.6em;border-top:1px solid #d5dbe5;font-size:.85em;color:#555}
@media print{nav{display:none}section{break-inside:avoid-page}}
"""
