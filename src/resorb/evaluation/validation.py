"""External validation of a model on labelled data: the computation, pure.

:func:`external_validation` and what it builds on; :mod:`resorb.evaluation`
describes the method and its sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from resorb.card import DataSource, ModelCard
from resorb.config import LabelRule, Params, TrainingParams
from resorb.errors import InputError, TrainingError

if TYPE_CHECKING:
    from resorb.runs import Fingerprint

#: a subgroup or site of fewer rows shows its label only, never its numbers
SMALL_CELL = 10
#: events and non-events each needed for bootstrap intervals of calibration and AUROC
MIN_PER_CLASS = 10

#: metric -> (level of the hierarchy, label shown); the order of every evaluation table
MEASURES: dict[str, tuple[str, str]] = {
    "o_e_ratio": ("mean calibration", "observed / expected (O/E)"),
    "calibration_intercept": ("mean calibration", "calibration-in-the-large (intercept)"),
    "calibration_slope": ("weak calibration", "calibration slope"),
    "ici": ("moderate calibration", "ICI (mean |observed - predicted|)"),
    "e50": ("moderate calibration", "E50 (median)"),
    "e90": ("moderate calibration", "E90 (90th percentile)"),
    "emax": ("moderate calibration", "Emax (largest)"),
    "auroc": ("discrimination", "AUROC (C-statistic)"),
    "auprc": ("discrimination", "average precision"),
    "brier": ("overall accuracy", "Brier score"),
    "scaled_brier": ("overall accuracy", "scaled Brier score"),
    "log_loss": ("overall accuracy", "log loss"),
    "net_benefit": ("clinical usefulness", "net benefit at the decision threshold"),
    "net_benefit_treat_all": ("clinical usefulness", "net benefit of waiting for all"),
}


class Predictor(Protocol):
    """What :func:`external_validation` needs of a model: a
    :class:`~resorb.scoring.model.LoadedModel`, or anything with the same members."""

    metadata: ModelCard
    name: str
    version: str
    features: tuple[str, ...]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """P(resorption) per row of model input ``X``, shape (n_rows,)."""

    def describe(self) -> str:
        """One line naming the model."""


@dataclass(frozen=True)
class ExternalValidation:
    """A model's performance on other labelled data: aggregates only, never rows.

    Attributes
    ----------
    model : str
        The model in words (:meth:`LoadedModel.describe`).
    model_name, model_version : str
        Registered name and version (version ``""`` for an unregistered folder).
    model_sha256 : str
        SHA-256 of the model file (its card's ``skops_sha256``): the model, however loaded.
    model_from : {"registry", "folder"}
        Whether it was loaded from this store's registry (name and version refer to it) or
        from an exported folder (name and version are those it was exported with, perhaps
        from another store: the SHA-256 is what identifies it).
    candidate : str
        The model's candidate (``"logistic"``...).
    data_source : DataSource
        What the data are (``"real data"``, or a synthetic preset, size and seed).
    label_rule : LabelRule
        The rule the outcome was derived by: the model card's.
    account : str
        Rows in, rows used (resorbed), rows excluded by reason.
    rows, events : int
        Rows used and resorbed among them.
    sites : int
        Number of sites in the data (0: no site column).
    metrics : DataFrame
        One row per metric of :data:`MEASURES`: ``level``, ``metric``, ``estimate``,
        ``ci_low``, ``ci_high`` (NaN where no interval is given).
    calibration : DataFrame
        Flexible calibration curve: ``predicted``, ``observed``, ``ci_low``, ``ci_high``.
    histogram : DataFrame
        Predictions in 20 bins of width 0.05: ``bin_low``, ``bin_high``, ``resorbed``,
        ``not_resorbed`` (counts).
    decision : DataFrame
        Decision curve: ``threshold``, ``model``, ``ci_low``, ``ci_high``, ``treat_all``,
        ``treat_none`` (net benefit, avoided surgeries per patient).
    subgroups : DataFrame
        :func:`resorb.training.subgroup_table` with an O/E interval (``o_e_ci_low``,
        ``o_e_ci_high``) for groups of 30 rows or more, and groups of fewer than
        :data:`SMALL_CELL` rows blanked (``note``); sites as ``site 1``, ``site 2``... never
        named.
    decision_threshold : float
        The model card's threshold, at which ``net_benefit`` is read.
    n_boot, seed : int
        Bootstrap resamples and their seed.
    notes : tuple of str
        What the reader must know: label rule differing from params.yaml, overlap with the
        training cohort, data below the minimum sample size.
    sample_size : str
        The sample-size verdict in words (``""``: not assessed).
    sample_size_ok : bool, optional
        Whether the data reach the minimum for external validation (None: not assessed).
    fingerprint : Fingerprint, optional
        Hash, rows, events and prevalence of the data (:func:`resorb.tracking.fingerprint`).
    finding_subgroups : DataFrame, optional
        Calibration by herniation type x rim enhancement and by migration grade, with 95%
        intervals and, on synthetic data, the truth
        (:func:`resorb.metrics.subgroups.finding_calibration`).
    """

    model: str
    model_name: str
    model_version: str
    model_sha256: str
    model_from: str
    candidate: str
    data_source: DataSource
    label_rule: LabelRule
    account: str
    rows: int
    events: int
    sites: int
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    histogram: pd.DataFrame
    decision: pd.DataFrame
    subgroups: pd.DataFrame
    decision_threshold: float
    n_boot: int
    seed: int
    notes: tuple[str, ...] = ()
    sample_size: str = ""
    sample_size_ok: bool | None = None
    fingerprint: Fingerprint | None = field(default=None, repr=False)
    finding_subgroups: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def prevalence(self) -> float:
        """Share of resorbed rows among those used."""
        return self.events / self.rows

    @property
    def method(self) -> str:
        """How the intervals were obtained, in words."""
        return (f"external validation; percentile bootstrap 95% intervals, {self.n_boot} "
                f"resamples of whole rows (seed {self.seed})")

    def estimate(self, metric: str) -> tuple[float, float, float]:
        """(estimate, ci_low, ci_high) of one metric of :data:`MEASURES`.

        Raises
        ------
        KeyError
            No such metric in the table.
        """
        row = self.metrics.loc[self.metrics["metric"] == metric]
        if row.empty:
            raise KeyError(f"no metric {metric!r}; the table has {list(self.metrics['metric'])}")
        r = row.iloc[0]
        return float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"])


def external_validation(model: Predictor, frame: pd.DataFrame, params: Params,
                        source: DataSource | None = None,
                        seed: int | None = None) -> ExternalValidation:
    """Validate ``model`` on a labelled canonical frame from other patients.

    Parameters
    ----------
    model : Predictor
        A loaded model (:func:`resorb.scoring.model.load_model`): its card gives the label
        rule and the decision threshold, its ``predict`` the probabilities.
    frame : DataFrame
        Canonical frame (``resorb validate --purpose training`` passes), with the outcome
        (``resorbed``, ``resorption_grade`` or baseline and follow-up volumes) and
        ``surgery``; not modified.
    params : Params
        ``training.n_boot``, ``training.seed`` and ``training.decision_thresholds`` are
        used; ``label`` only to say whether it differs from the model card's.
    source : DataSource, optional
        What the data are (default: real data).
    seed : int, optional
        Seed of the bootstrap (default ``params.training.seed``).

    Returns
    -------
    ExternalValidation

    Raises
    ------
    TrainingError
        No row with an outcome, a single outcome class, or fewer than
        :data:`MIN_PER_CLASS` events or non-events (bootstrap intervals would be
        meaningless).
    InputError
        The model returns probabilities outside [0, 1] or of the wrong length.
    """
    from resorb.features import model_input
    from resorb.label import labelled_rows
    from resorb.scoring.model import is_registry_uri
    from resorb.tracking import fingerprint

    source = source or DataSource("real")
    card = model.metadata
    tp = params.training
    seed = tp.seed if seed is None else int(seed)
    data = labelled_rows(frame, card.label_rule)
    check_enough_rows(data.y, data.account())
    X = model_input(data.frame, columns=model.features)
    p = np.asarray(model.predict(X), dtype=float)
    if p.shape != data.y.shape or not np.all((p >= 0) & (p <= 1)):
        raise InputError(f"{model.describe()} returned {p.size} predictions for {data.y.size} "
                         f"rows, or values outside [0, 1]; it is not a resorb model")
    parts = assess(data.y, p, tp, seed, card.decision_threshold)
    auroc = float(parts["metrics"].set_index("metric").at["auroc", "estimate"])
    size_text, size_ok = sample_size_verdict(data.y, p, auroc)
    from resorb.metrics.subgroups import finding_calibration
    from resorb.training import subgroup_table

    subgroups = subgroup_table(data.frame, data.y, p, hide_below=SMALL_CELL,
                               o_e_boot=tp.n_boot, seed=seed)
    sites = (int(data.frame["site"].nunique())
             if "site" in data.frame and data.frame["site"].notna().any() else 0)
    return ExternalValidation(
        model=model.describe(), model_name=model.name, model_version=model.version,
        model_sha256=card.skops_sha256, candidate=card.candidate, data_source=source,
        model_from="registry" if is_registry_uri(getattr(model, "source", None)) else "folder",
        label_rule=card.label_rule, account=data.account(), rows=int(data.y.size),
        events=data.n_events, sites=sites, subgroups=subgroups,
        decision_threshold=card.decision_threshold, n_boot=tp.n_boot, seed=seed,
        notes=notes_for(card, params.label, source), fingerprint=fingerprint(X, data.y),
        sample_size=size_text, sample_size_ok=size_ok,
        finding_subgroups=finding_calibration(data.frame, data.y, p), **parts)


def sample_size_verdict(y: np.ndarray, p: np.ndarray, auroc: float) -> tuple[str, bool | None]:
    """Riley 2021 minimum sample size for external validation, against the data's counts.

    The criteria of :func:`resorb.metrics.validation_sample_size` (95% intervals of width 0.2
    for O/E and the calibration slope, 0.1 for the C-statistic; Riley et al., Stat Med
    2021;40:4230-4251, doi:10.1002/sim.9025) at the data's own prevalence and AUROC, with the
    linear predictor distributed as the model's log-odds on these data.

    Returns
    -------
    (str, bool or None)
        The verdict naming the required and the available rows and events, and whether the
        data reach it (None, with the reason, when the AUROC is 0.5 or below: the criteria
        assume a model that discriminates).
    """
    from scipy.special import logit

    from resorb.metrics import CLIP, validation_sample_size

    if not auroc > 0.5:
        return (f"Riley 2021 minimum sample size not assessed: the AUROC is {auroc:.2f}, no "
                f"better than chance, and the criteria assume a model that discriminates", None)
    n, events = int(np.size(y)), int(np.sum(y))
    need = validation_sample_size(float(np.mean(y)), min(auroc, 0.99),
                                  lp_sample=logit(np.clip(p, CLIP, 1 - CLIP)))
    return need.message(n, events), not need.below_minimum(n, events)


def check_enough_rows(y: np.ndarray, account: str) -> None:
    """Refuse data with fewer than :data:`MIN_PER_CLASS` events or non-events.

    Raises
    ------
    TrainingError
        Naming both counts, the row account and the fix.
    """
    events, non_events = int(np.sum(y)), int(np.size(y) - np.sum(y))
    if min(events, non_events) < MIN_PER_CLASS:
        raise TrainingError(
            f"too few rows for external validation: {events} resorbed and {non_events} not "
            f"resorbed ({account}); bootstrap intervals of calibration and AUROC need at least "
            f"{MIN_PER_CLASS} of each, and a precise validation far more (Riley's minimum, "
            f"docs/validation.md); collect more labelled patients")


def assess(y: np.ndarray, p: np.ndarray, tp: TrainingParams, seed: int,
           threshold: float) -> dict[str, pd.DataFrame]:
    """Every aggregate of an external validation from outcomes and predictions.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed outcome, 1 = resorbed; both classes.
    p : ndarray of shape (n,)
        Predicted probability of resorption.
    tp : TrainingParams
        ``n_boot`` and ``decision_thresholds``.
    seed : int
        Seed of the bootstrap; every table uses the same resamples.
    threshold : float
        Decision threshold at which the net benefit is reported.

    Returns
    -------
    dict
        ``metrics``, ``calibration``, ``histogram`` and ``decision`` as in
        :class:`ExternalValidation`.
    """
    from resorb.metrics import (
        bootstrap_calibration,
        bootstrap_calibration_curve,
        bootstrap_metrics,
        bootstrap_net_benefit,
    )

    # each row its own cluster: the ordinary bootstrap (the number of events varies)
    rows = np.arange(np.size(y))
    boot = {"n_boot": tp.n_boot, "seed": seed, "groups": rows}
    scalar = pd.concat([bootstrap_metrics(y, p, **boot),
                        bootstrap_calibration(y, p, **boot).query("metric != 'ici'")])
    at = bootstrap_net_benefit(y, p, np.array([threshold]), **boot).iloc[0]
    scalar = pd.concat([scalar, pd.DataFrame([
        {"metric": "net_benefit", "estimate": at["model"], "ci_low": at["ci_low"],
         "ci_high": at["ci_high"]},
        {"metric": "net_benefit_treat_all", "estimate": at["treat_all"], "ci_low": np.nan,
         "ci_high": np.nan}])])
    metrics = (scalar.set_index("metric").reindex(list(MEASURES)).reset_index()
               .assign(level=[level for level, _ in MEASURES.values()]))
    decision = bootstrap_net_benefit(y, p, tp.decision_thresholds.grid(), **boot)
    return {
        "metrics": metrics[["level", "metric", "estimate", "ci_low", "ci_high"]],
        "calibration": bootstrap_calibration_curve(y, p, **boot),
        "histogram": prediction_histogram(y, p),
        "decision": decision.assign(treat_none=0.0),
    }


def prediction_histogram(y: np.ndarray, p: np.ndarray, bins: int = 20) -> pd.DataFrame:
    """Counts of predictions in ``bins`` equal bins of [0, 1], by outcome.

    Returns
    -------
    DataFrame of shape (bins, 4)
        ``bin_low``, ``bin_high``, ``resorbed``, ``not_resorbed``.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    events = np.histogram(p[y == 1], edges)[0]
    non_events = np.histogram(p[y == 0], edges)[0]
    return pd.DataFrame({"bin_low": edges[:-1], "bin_high": edges[1:], "resorbed": events,
                         "not_resorbed": non_events})


def notes_for(card: ModelCard, label: LabelRule, source: DataSource) -> tuple[str, ...]:
    """What the reader must know about how the data were judged."""
    out = []
    rule = card.label_rule
    if rule != label:
        out.append(f"the outcome follows the model card's label rule '{rule.name}' (>= "
                   f"{rule.min_reduction_pct:g}% volume reduction, grades "
                   f"{', '.join(rule.grades_resorbed)}), not params.yaml's '{label.name}' (>= "
                   f"{label.min_reduction_pct:g}%, grades {', '.join(label.grades_resorbed)}):"
                   f" the model is judged on the outcome it was trained to predict")
    trained = card.data_source
    if (source.synthetic and trained.synthetic and source.preset == trained.preset
            and source.seed == trained.seed):
        out.append(f"the cohort is drawn with the seed of the model's training cohort "
                   f"({trained.describe()}), so it shares that cohort's random draws (the same "
                   f"patients, in part): this is not an external validation; choose another "
                   f"--seed")
    return tuple(out)
