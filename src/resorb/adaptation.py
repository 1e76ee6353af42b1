"""Small-sample development: what a candidate becomes below the Riley minimum sample size.

Below the minimum of Riley et al. (BMJ 2020;368:m441) a model with every candidate parameter
overfits: on 245 labelled rows the 61-parameter logistic model (C = 1) has a calibration
slope of about 0.5 against the generator's truth, and gradient boosting tuned for 20,000
rows (``min_samples_leaf`` 100) is nearly constant (AUROC 0.49). :func:`adapt_candidate`
turns a candidate's specification into one sized for the data, as a pure function of the
specification and two counts, and says in words what it changed:

- fewer candidate parameters: the variables a model uses reduced to those with published
  evidence of an effect on resorption (params.yaml ``training.small_sample.predictors``;
  Riley 2020 and Steyerberg, Clinical Prediction Models, 2nd ed. 2019, ch. 11: limit the
  candidate predictors with subject-matter knowledge, before looking at the outcome);
- logistic: cubic splines with fewer knots (fewer degrees of freedom per non-linear
  predictor), and the penalty strength chosen by cross-validated log loss inside the training
  rows (:class:`resorb.models.MonotoneLogisticRegressionCV`; Steyerberg ch. 13);
- tree ensembles: leaves sized to hold a minimum number of the rarer outcome, and as many
  leaves per tree as the events allow.

:func:`heuristic_shrinkage` is van Houwelingen and le Cessie's estimate of the shrinkage an
unpenalised logistic model needs (Stat Med 1990;9:1303-1325, doi:10.1002/sim.4780091109).
Penalisation does not make a small sample large: Riley et al. (J Clin Epidemiol
2021;132:88-96, doi:10.1016/j.jclinepi.2020.12.005) find that the tuned penalty, and with it
the calibration slope, varies widely between small samples, so the slope of any one model
may still be far from 1 and its optimism-corrected interval must be read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from resorb.config import CandidateSpec, SmallSampleParams
from resorb.errors import TrainingError

#: the gradient-boosting and random-forest defaults of scikit-learn, used when a candidate's
#: params do not set them (HistGradientBoostingClassifier: 31 leaves, 20 rows per leaf,
#: 100 iterations; RandomForestClassifier: 1 row per leaf)
_SKLEARN_DEFAULTS = {"hist_gradient_boosting": {"max_leaf_nodes": 31, "min_samples_leaf": 20,
                                                "max_iter": 100},
                     "random_forest": {"min_samples_leaf": 1}}


@dataclass(frozen=True)
class Adaptation:
    """A candidate's specification sized for the data, and what was changed, in words.

    Attributes
    ----------
    spec : CandidateSpec
        The adapted specification (the original when nothing changed).
    changes : tuple of str
        One sentence per change, e.g. ``"spline knots 5 -> 3"``; empty when nothing changed.
    below_minimum : bool
        Whether the data were found below the Riley minimum (set by
        :func:`resorb.training.size_candidate`; False when not checked).
    """

    spec: CandidateSpec
    changes: tuple[str, ...] = ()
    below_minimum: bool = False

    @property
    def adapted(self) -> bool:
        """Whether anything was changed."""
        return bool(self.changes)


def _minority(n_rows: int, n_events: int) -> int:
    """Rows of the rarer outcome (events or non-events), the count overfitting depends on."""
    if not 0 < n_events < n_rows:
        raise TrainingError(f"the development data has {n_events} events in {n_rows} rows; a "
                            f"model of resorption needs both resorbed and non-resorbed "
                            f"herniations")
    return min(n_events, n_rows - n_events)


def _number(x: float) -> str:
    """A number as params.yaml would write it: 0.001, 10, 1.0 -> '1'."""
    return f"{x:g}"


def adapt_candidate(spec: CandidateSpec, n_rows: int, n_events: int,
                    rule: SmallSampleParams) -> Adaptation:
    """A candidate sized for a development sample below the Riley minimum.

    A pure function: the same specification and counts give the same result, and nothing is
    fitted. The caller decides whether the data are below the minimum
    (:func:`resorb.metrics.sample_size_check`) and applies the result only then.

    What changes, with m the rows of the rarer outcome (``min(n_events, n_rows - n_events)``):

    - every kind: ``predictors`` set to ``rule.predictors`` (when given), within the
      candidate's own predictors (a predictor set, ``training.predictors``) when it has some;
    - logistic: ``spline_knots`` lowered to ``rule.spline_knots`` (never raised), and ``C``
      replaced by ``Cs = rule.penalty_grid`` with ``cv = rule.inner_folds``: C chosen by
      inner cross-validated log loss (unless the candidate already sets ``Cs``);
    - hist_gradient_boosting: as many leaves as the events allow, ``max_leaf_nodes =
      clip(m // rule.events_per_leaf, 2, configured)``; each leaf as large as that many
      leaves of equal share permit, and expected to hold at least ``min_leaf_events`` rows
      of the rarer outcome, ``min_samples_leaf = min(configured, max(ceil(
      rule.min_leaf_events * n_rows / m), n_rows // (2 * max_leaf_nodes)))``; and ``max_iter
      = min(configured, ceil(rule.boosting_iterations_per_event * m))`` (fewer leaves and
      fewer trees: less capacity to fit noise);
    - random_forest: ``min_samples_leaf = min(configured, ceil(rule.forest_min_leaf_events *
      n_rows / m))`` (only ever lowered: with the default 20 rows per leaf and 10 rows of the
      rarer outcome asked for, it changes only when that outcome is rarer than 1 in 2).

    Parameters
    ----------
    spec : CandidateSpec
        The candidate as params.yaml declares it (for large data).
    n_rows, n_events : int
        Labelled rows and events (resorptions) of the development data.
    rule : SmallSampleParams
        params.yaml ``training.small_sample``.

    Returns
    -------
    Adaptation
        The adapted specification and one sentence per change. When ``rule.adapt`` is False
        the specification is returned unchanged, with no changes.

    Raises
    ------
    TrainingError
        The data hold no events or only events.
    """
    m = _minority(n_rows, n_events)
    if not rule.adapt:
        return Adaptation(spec)
    params: dict[str, Any] = dict(spec.params)
    changes: list[str] = []
    own = params.get("predictors")  # a predictor set (training.predictors), or None: all
    limited = [p for p in rule.predictors if own is None or p in own]
    if rule.predictors and limited and set(limited) != set(own or ()):
        params["predictors"] = limited
        changes.append(f"predictors limited to {len(limited)} with published "
                       f"evidence (training.small_sample.predictors) and the horizon")
    if spec.kind == "logistic":
        if params.get("finding_terms"):
            # 14 type x rim indicators, most of rare combinations: more than such rows carry
            params["finding_terms"] = False
            changes.append("type x rim terms left out (rank encoding of type and rim)")
        knots = int(params.get("spline_knots", 5))
        if rule.spline_knots < knots:
            params["spline_knots"] = rule.spline_knots
            changes.append(f"spline knots {knots} -> {rule.spline_knots}")
        if "Cs" not in params:
            was = params.pop("C", 1.0)
            grid = [float(c) for c in rule.penalty_grid]
            params["Cs"], params["cv"] = grid, rule.inner_folds
            changes.append(
                f"penalty C chosen by {rule.inner_folds}-fold cross-validated log loss among "
                f"{len(grid)} values {_number(min(grid))}-{_number(max(grid))} inside the "
                f"training rows (was fixed at {_number(float(was))})")
    elif spec.kind == "mixture_cure":
        if params.get("type_x_rim"):
            params["type_x_rim"] = False
            changes.append("type x rim terms left out")
        knots = int(params.get("spline_knots", 5))
        if rule.spline_knots < knots:
            params["spline_knots"] = rule.spline_knots
            changes.append(f"spline knots {knots} -> {rule.spline_knots}")
    else:
        defaults = _SKLEARN_DEFAULTS[spec.kind]
        wanted: dict[str, int] = {}
        if spec.kind == "hist_gradient_boosting":
            leaves = int(params.get("max_leaf_nodes") or defaults["max_leaf_nodes"])
            wanted["max_leaf_nodes"] = int(np.clip(m // rule.events_per_leaf, 2, leaves))
            iterations = int(params.get("max_iter", defaults["max_iter"]))
            wanted["max_iter"] = max(1, min(iterations, math.ceil(
                rule.boosting_iterations_per_event * m)))
            per_leaf = rule.min_leaf_events
        else:
            per_leaf = rule.forest_min_leaf_events
        leaf = int(params.get("min_samples_leaf", defaults["min_samples_leaf"]))
        floor = math.ceil(per_leaf * n_rows / m)
        if "max_leaf_nodes" in wanted:  # as large as that many leaves of equal share allow
            floor = max(floor, n_rows // (2 * wanted["max_leaf_nodes"]))
        wanted["min_samples_leaf"] = min(leaf, floor)
        for key, value in wanted.items():
            before = params.get(key, defaults[key])
            if value != before:
                params[key] = value
                changes.append(f"{key} {before} -> {value} ({m} rows of the rarer outcome)")
    if not changes:
        return Adaptation(spec)
    return Adaptation(spec.model_copy(update={"params": params}), tuple(changes))


def heuristic_shrinkage(lr_statistic: float, df: int) -> float:
    """van Houwelingen and le Cessie's heuristic shrinkage factor ``(chi2 - df) / chi2``.

    The expected calibration slope, in new patients, of a logistic model fitted by maximum
    likelihood (van Houwelingen JC, le Cessie S. Predictive value of statistical models. Stat
    Med 1990;9:1303-1325, doi:10.1002/sim.4780091109; Steyerberg, Clinical Prediction Models,
    2nd ed. 2019, ch. 13). Below 0.9 the model needs shrinkage (Riley 2020 criterion i);
    it is negative when the model explains less than its degrees of freedom.

    Parameters
    ----------
    lr_statistic : float
        Model likelihood-ratio chi-square, ``2 * (loglik_model - loglik_null)``, > 0.
    df : int
        Degrees of freedom of the model: estimated coefficients besides the intercept, >= 1.

    Returns
    -------
    float
        The shrinkage factor s (at most 1).

    Raises
    ------
    ValueError
        ``lr_statistic`` not positive and finite, or ``df`` below 1.
    """
    if not (math.isfinite(lr_statistic) and lr_statistic > 0):
        raise ValueError(f"lr_statistic must be a positive finite chi-square; got "
                         f"{lr_statistic!r}")
    if isinstance(df, bool) or int(df) != df or df < 1:
        raise ValueError(f"df must be an integer >= 1; got {df!r}")
    return float((lr_statistic - df) / lr_statistic)


def logistic_heuristic_shrinkage(spec: CandidateSpec, X: pd.DataFrame,
                                 y: np.ndarray) -> float | None:
    """:func:`heuristic_shrinkage` of a logistic candidate's design, fitted unpenalised.

    The candidate's features (its predictors and spline knots) are fitted by maximum
    likelihood (C = 1e4, the penalty negligible; the horizon coefficients still bounded at
    zero). chi2 is twice the log-likelihood gain over the intercept-only model; df is the
    rank of the design matrix (columns that are sums of others, such as a full set of one-hot
    indicators, add no degree of freedom).

    Parameters
    ----------
    spec : CandidateSpec
        A candidate of kind ``logistic`` (None is returned for any other kind).
    X : DataFrame of shape (n_rows, n_columns)
        Model input of the development rows.
    y : ndarray of shape (n_rows,)
        Outcome, 1 = resorbed.

    Returns
    -------
    float or None
        The shrinkage factor; None for a tree candidate or when the model gains nothing
        over the intercept (chi2 <= 0).
    """
    if spec.kind != "logistic":
        return None
    from scipy.special import expit

    from resorb.models import build_model

    params = {k: v for k, v in spec.params.items()
              if k in ("predictors", "spline_knots", "finding_terms")}
    unpenalised = spec.model_copy(update={"params": {**params, "C": 1e4},
                                          "calibration": "none"})
    model = build_model(unpenalised).fit(X, y)
    design = model.named_steps["features"].transform(X)
    z = model.named_steps["model"].decision_function(design)
    Z = design.to_numpy(dtype=float)
    yf = np.asarray(y, dtype=float)
    p = np.clip(expit(z), 1e-12, 1 - 1e-12)
    loglik = float(np.sum(yf * np.log(p) + (1 - yf) * np.log1p(-p)))
    prevalence = float(yf.mean())
    null = float(yf.size * (prevalence * math.log(prevalence)
                            + (1 - prevalence) * math.log(1 - prevalence)))
    chi2 = 2.0 * (loglik - null)
    df = int(np.linalg.matrix_rank(np.column_stack([np.ones(len(Z)), Z]))) - 1
    if chi2 <= 0 or df < 1:
        return None
    return heuristic_shrinkage(chi2, df)
