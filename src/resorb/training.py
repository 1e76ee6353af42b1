"""Train, validate and compare candidates: pure functions from frames to results.

Nothing here touches MLflow, files or the terminal; :mod:`resorb.tracking` logs what these
functions return and :mod:`resorb.cli` prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from resorb.adaptation import Adaptation, adapt_candidate, logistic_heuristic_shrinkage
from resorb.champion import ChampionFacts, base_rank, champion_score, choose_champion
from resorb.config import CandidateSpec, Params, TrainingParams
from resorb.errors import ConfigError
from resorb.features import model_columns, model_input
from resorb.label import LabelledData, labelled_rows
from resorb.metrics import (
    METRICS,
    auroc,
    bootstrap_metrics,
    bootstrap_net_benefit,
    bootstrap_observed_expected,
    calibration_intercept_slope,
    optimism_corrected,
    sample_size_check,
    smoothed_calibration_curve,
)
from resorb.metrics.bootstrap import (
    BootstrapEvaluation,
    bootstrap_evaluation,
    paired_difference,
)
from resorb.metrics.subgroups import finding_calibration, subgroup_excess, worst_subgroup
from resorb.models import build_model, predict_resorption
from resorb.parallel import run_units

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Evaluation:
    """Validated performance of one set of predictions."""

    metrics: pd.DataFrame  # metric, estimate, ci_low, ci_high
    calibration: pd.DataFrame  # predicted, observed
    decision: pd.DataFrame  # threshold, model, ci_low, ci_high, treat_all, treat_none
    roc: pd.DataFrame  # fpr, tpr
    method: str

    def metric(self, name: str) -> float:
        """Point estimate of one metric."""
        row = self.metrics.loc[self.metrics["metric"] == name, "estimate"]
        return float(row.iloc[0]) if len(row) else float("nan")


@dataclass(frozen=True)
class TrainResult:
    """A fitted candidate with its validation and an account of the data."""

    name: str
    spec: CandidateSpec
    model: Any
    data: LabelledData
    evaluation: Evaluation
    oof: np.ndarray
    sample_size: Any
    X: pd.DataFrame = field(repr=False)  # model input of the training rows
    seed: int = 0
    #: small-sample adaptations made (resorb.adaptation), in words; empty: none
    adaptations: tuple[str, ...] = ()
    #: van Houwelingen's heuristic shrinkage of a logistic candidate's design; None otherwise
    heuristic_shrinkage: float | None = None


def make_folds(
    y: np.ndarray, groups: np.ndarray | None, folds: int, repeats: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Identical folds for every candidate: repeated stratified, or leave one site out.

    Leave-one-site-out when ``groups`` holds three or more sites; the checks and the folds
    are :func:`resorb.splits.outer_folds`.

    Raises
    ------
    TrainingError
        Too few events or non-events for the folds, or a training set with one class; the
        message gives the counts and a fix.
    """
    from resorb.splits import outer_folds

    return outer_folds(y, groups, folds, repeats, seed)


def out_of_fold(
    spec: CandidateSpec,
    X: pd.DataFrame,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> np.ndarray:
    """Cross-validated predictions, averaged over repeats; shape (n_rows,)."""
    predictions = [fold_prediction(spec, X, y, train, test, seed) for train, test in splits]
    return _averaged(len(y), splits, predictions)


def fold_prediction(spec: CandidateSpec, X: pd.DataFrame, y: np.ndarray, train: np.ndarray,
                    test: np.ndarray, seed: int) -> np.ndarray:
    """One unit of cross-validation: fit on the ``train`` rows, predict the ``test`` rows.

    Returns
    -------
    ndarray of shape (len(test),)
        Predicted probability of resorption of the held-out rows.
    """
    model = build_model(spec, seed=seed).fit(X.iloc[train], y[train])
    return predict_resorption(model, X.iloc[test])


def _train_unit(kind: str, spec: CandidateSpec, X: pd.DataFrame, y: np.ndarray,
                train: np.ndarray | None, test: np.ndarray | None, seed: int) -> Any:
    """One unit of ``train``: a fold's held-out predictions, or the model fitted on all rows.

    Returns
    -------
    ndarray of shape (len(test),) for ``kind="fold"`` (:func:`fold_prediction`); the fitted
    pipeline for ``kind="final"``.
    """
    if kind == "fold":
        return fold_prediction(spec, X, y, train, test, seed)
    return build_model(spec, seed=seed).fit(X, y)


def refit_predict(spec: CandidateSpec, seed: int, x_train: pd.DataFrame, y_train: np.ndarray,
                  x_eval: pd.DataFrame) -> np.ndarray:
    """Fit a fresh ``spec`` pipeline on the training rows, predict ``x_eval``; shape (n_eval,).

    The ``fit_predict`` of :func:`resorb.metrics.optimism_corrected` (bound with
    :func:`functools.partial`, so that worker processes receive it by reference).
    """
    return predict_resorption(build_model(spec, seed=seed).fit(x_train, y_train), x_eval)


def _averaged(n: int, splits: list[tuple[np.ndarray, np.ndarray]],
              predictions: list[np.ndarray]) -> np.ndarray:
    """Out-of-fold predictions of ``n`` rows, averaged over repeats, in the splits' order."""
    total = np.zeros(n)
    count = np.zeros(n)
    for (_, test), p in zip(splits, predictions, strict=True):
        total[test] += p
        count[test] += 1
    return total / np.maximum(count, 1)


def evaluate(
    y: np.ndarray, p: np.ndarray, tp: TrainingParams, method: str, seed: int
) -> Evaluation:
    """Metrics with bootstrap intervals, calibration curve, decision curve and ROC."""
    from sklearn.metrics import roc_curve

    metrics = bootstrap_metrics(y, p, n_boot=tp.n_boot, seed=seed)
    calib = smoothed_calibration_curve(y, p)
    decision = bootstrap_net_benefit(
        y, p, tp.decision_thresholds.grid(), n_boot=tp.n_boot, seed=seed
    )
    fpr, tpr, _ = roc_curve(y, p)
    return Evaluation(
        metrics=metrics,
        calibration=calib,
        decision=decision,
        roc=pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        method=method,
    )


def evaluate_candidate(y: np.ndarray, p: np.ndarray, tp: TrainingParams, method: str,
                       seed: int) -> tuple[Evaluation, BootstrapEvaluation]:
    """:func:`evaluate` in one pass over the resamples, keeping them for paired differences.

    The same numbers as :func:`evaluate` (same seed, same resamples); the second value holds
    the metric replicates for :func:`resorb.metrics.bootstrap.paired_difference`.
    """
    from sklearn.metrics import roc_curve

    boot = bootstrap_evaluation(y, p, tp.decision_thresholds.grid(), n_boot=tp.n_boot,
                                seed=seed)
    fpr, tpr, _ = roc_curve(y, p)
    evaluation = Evaluation(metrics=boot.metrics, calibration=smoothed_calibration_curve(y, p),
                            decision=boot.decision, roc=pd.DataFrame({"fpr": fpr, "tpr": tpr}),
                            method=method)
    return evaluation, boot


def count_parameters(model: Any) -> int:
    """Candidate parameters for the sample-size check: encoded features of the pipeline."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    pipe = calibrated[0].estimator if calibrated else model
    if hasattr(pipe, "named_steps"):
        return len(pipe.named_steps["features"].get_feature_names_out())
    return 0


def candidate_parameters(spec: CandidateSpec, X: pd.DataFrame) -> int:
    """Candidate parameters of ``spec`` on these rows, before any model is fitted.

    The encoded features of its pipeline (:func:`count_parameters`), from the feature step
    alone fitted on ``X`` (no outcome is used).
    """
    pipe = build_model(spec.model_copy(update={"calibration": "none"}))
    return len(pipe.named_steps["features"].fit(X).get_feature_names_out())


def size_candidate(spec: CandidateSpec, X: pd.DataFrame, y: np.ndarray,
                   tp: TrainingParams) -> Adaptation:
    """The candidate as it is trained on these rows: adapted below the Riley minimum.

    The Riley et al. 2020 check (:func:`resorb.metrics.sample_size_check`) is run with the
    candidate's own parameter count; below the minimum, and with ``small_sample.adapt`` on,
    :func:`resorb.adaptation.adapt_candidate` sizes it for the data. The changes then start
    with the verdict and the parameter counts before and after; ``below_minimum`` of the
    result holds the verdict whether or not anything was adapted.

    Parameters
    ----------
    spec : CandidateSpec
        The candidate as params.yaml declares it.
    X : DataFrame of shape (n_rows, n_columns)
        Model input of the labelled rows.
    y : ndarray of shape (n_rows,)
        Outcome, 1 = resorbed.
    tp : TrainingParams

    Returns
    -------
    Adaptation
    """
    n_rows, n_events = len(y), int(np.sum(y))
    before = candidate_parameters(spec, X)
    check = sample_size_check(n_rows, n_events, max(before, 1), c_statistic=tp.anticipated_c)
    if not check.below_minimum:
        return Adaptation(spec)
    adapted = adapt_candidate(spec, n_rows, n_events, tp.small_sample)
    if not adapted.adapted:
        return Adaptation(spec, below_minimum=True)
    after = candidate_parameters(adapted.spec, X)
    verdict = (f"below the Riley minimum ({n_rows:,} rows of {check.required_n:,} needed for "
               f"{before} candidate parameters): candidate parameters {before} -> {after}")
    return Adaptation(adapted.spec, (verdict, *adapted.changes), below_minimum=True)


def _fitted_penalty(model: Any) -> str | None:
    """'C = 0.0464 chosen on all rows' for a logistic model whose C was tuned, else None."""
    calibrated = getattr(model, "calibrated_classifiers_", None)
    pipe = calibrated[0].estimator if calibrated else model
    final = getattr(pipe, "named_steps", {}).get("model")
    chosen = getattr(final, "C_", None)
    return None if chosen is None else f"C = {chosen:.3g} chosen on all rows"


def prepare(
    frame: pd.DataFrame, params: Params
) -> tuple[LabelledData, pd.DataFrame, np.ndarray | None]:
    """Labelled rows, model inputs and site groups (when present) from a canonical frame.

    The model input holds the predictors of ``params.training.predictors`` and the horizon
    only: a predictor outside the set never reaches a model."""
    data = labelled_rows(frame, params.label)
    X = model_input(data.frame, columns=model_columns(params.training.predictor_columns))
    groups = None
    if "site" in data.frame and data.frame["site"].notna().all():
        groups = data.frame["site"].astype(str).to_numpy()
    return data, X, groups


def train_candidate(
    frame: pd.DataFrame,
    name: str,
    params: Params,
    seed: int | None = None,
    progress: Progress | None = None,
    evaluation: Evaluation | None = None,
    jobs: int = 1,
) -> TrainResult:
    """Fit one candidate on every labelled row and validate it.

    Large data: cross-validated predictions with bootstrap intervals. Small data (below
    ``optimism_below_rows``): Harrell's optimism-corrected bootstrap, refitting the whole
    pipeline (imputation included) in each resample, for the headline metrics.
    An ``evaluation`` already computed on the same rows (by :func:`compare_candidates`) is
    reused instead of validating again.

    Below the Riley minimum the candidate is first sized for the data
    (:func:`size_candidate`); validation, the bootstrap and the final fit all use the
    adapted candidate, whose inner tuning (the logistic penalty) then runs inside every
    training fold and resample. ``adaptations`` of the result says what changed and which C
    the final fit chose; ``heuristic_shrinkage`` is van Houwelingen's factor of a logistic
    candidate (:func:`resorb.adaptation.logistic_heuristic_shrinkage`).

    ``jobs`` processes (:func:`resorb.parallel.run_units`, one BLAS/OpenMP thread each) fit
    the folds and the final model side by side, then the resamples of the optimism
    bootstrap; every unit takes the seed explicitly and results are gathered in order, so
    any ``jobs`` gives the same bytes (``tests/test_jobs_parallel.py``).
    """
    tp = params.training
    if name not in params.candidates:
        raise ConfigError(
            f"no candidate '{name}' in params.yaml; choose one of {', '.join(params.candidates)}"
        )
    seed = tp.seed if seed is None else seed
    say = progress or (lambda _msg: None)
    data, X, groups = prepare(frame, params)
    sized = size_candidate(params.candidate(name), X, data.y, tp)
    spec = sized.spec
    for change in sized.changes:
        say(f"{name}: {change}")
    reuse = evaluation is not None
    oof = np.full(len(data.y), np.nan)
    if evaluation is None:
        splits, method = make_folds(data.y, groups, tp.folds, tp.repeats, seed)
        say(f"{name}: {method}")
        say(f"{name}: fitting on all {len(data.y):,} rows")
        # the units: every fold's fit, and the final fit beside them
        done = run_units(_train_unit,
                         [("fold", spec, X, data.y, train, test, seed)
                          for train, test in splits]
                         + [("final", spec, X, data.y, None, None, seed)], jobs)
        oof = _averaged(len(data.y), splits, done[:-1])
        model = done[-1]
        # one pass over the resamples: the same numbers as evaluate() (tested)
        evaluation, _ = evaluate_candidate(data.y, oof, tp, method, seed)
    else:
        say(f"{name}: fitting on all {len(data.y):,} rows")
        model = run_units(_train_unit, [("final", spec, X, data.y, None, None, seed)])[0]
    method = evaluation.method
    if len(data.y) < tp.optimism_below_rows and not reuse:
        say(f"{name}: optimism-corrected bootstrap ({tp.optimism_n_boot} refits)")
        opt = optimism_corrected(
            partial(refit_predict, spec, seed), X, data.y, n_boot=tp.optimism_n_boot,
            seed=seed, jobs=jobs
        )
        metrics = opt.rename(columns={"corrected": "estimate"})[
            ["metric", "estimate", "ci_low", "ci_high", "apparent", "optimism"]
        ]
        evaluation = Evaluation(
            metrics=metrics,
            calibration=evaluation.calibration,
            decision=evaluation.decision,
            roc=evaluation.roc,
            method=f"optimism-corrected bootstrap x {tp.optimism_n_boot} (curves: {method})",
        )
    n_params = count_parameters(model)
    sample = sample_size_check(
        len(data.y), data.n_events, max(n_params, 1), c_statistic=tp.anticipated_c
    )
    adaptations = sized.changes
    penalty = _fitted_penalty(model)
    if penalty is not None:
        adaptations = (*adaptations, penalty)
    return TrainResult(
        name=name,
        spec=spec,
        model=model,
        data=data,
        evaluation=evaluation,
        oof=oof,
        sample_size=sample,
        X=X,
        seed=seed,
        adaptations=adaptations,
        heuristic_shrinkage=logistic_heuristic_shrinkage(spec, X, data.y),
    )


@dataclass(frozen=True)
class Comparison:
    """Every candidate on identical folds, the leaderboard and the champion."""

    leaderboard: pd.DataFrame
    evaluations: dict[str, Evaluation]
    oof: dict[str, np.ndarray]
    differences: pd.DataFrame
    champion: str
    method: str
    data: LabelledData
    y: np.ndarray
    X: pd.DataFrame = field(repr=False)  # model input of the labelled rows
    #: each candidate as validated (adapted below the Riley minimum) and its adaptations
    specs: dict[str, CandidateSpec] = field(default_factory=dict)
    adaptations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: why a candidate ranked above the champion by score was passed over (guards of the rule)
    passed_over: dict[str, str] = field(default_factory=dict)
    #: each candidate's calibration by type x rim and migration grade (out-of-fold)
    finding_subgroups: dict[str, pd.DataFrame] = field(default_factory=dict)


def compare_candidates(
    frame: pd.DataFrame,
    params: Params,
    seed: int | None = None,
    names: list[str] | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Comparison:
    """Cross-validate every candidate on identical folds and rank them.

    The leaderboard has one row per candidate with every metric's estimate and 95% interval
    (numeric columns ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high``), the champion
    score, and the paired bootstrap difference in AUROC, Brier and ICI against the champion
    (same resamples for both; ``d_<metric>_vs_champion`` with ``_ci_low``, ``_ci_high``);
    the champion comes first, then the others in the base order of
    :func:`resorb.champion.choose_champion`, which chooses the champion.

    Each candidate is validated as :func:`size_candidate` sizes it for these rows (adapted
    below the Riley minimum); ``specs`` and ``adaptations`` of the result say how.

    The work comes in independent units, run on ``jobs`` processes
    (:func:`resorb.parallel.run_units`): one per (candidate, fold) fit, then one bootstrap
    per candidate (:func:`evaluate_candidate`; every candidate on the same resamples, so the
    paired differences are subtractions of kept replicates). Each unit takes the seed
    explicitly and results are gathered in a fixed order: any ``jobs`` gives the same bytes.
    """
    tp = params.training
    seed = tp.seed if seed is None else seed
    say = progress or (lambda _msg: None)
    data, X, groups = prepare(frame, params)
    splits, method = make_folds(data.y, groups, tp.folds, tp.repeats, seed)
    chosen = names or list(params.candidates)
    unknown = [n for n in chosen if n not in params.candidates]
    if unknown:
        raise ConfigError(
            f"unknown candidates {unknown}; params.yaml has {', '.join(params.candidates)}"
        )
    evaluations, oof, facts, specs, adaptations, findings = {}, {}, {}, {}, {}, {}
    small = False  # below the Riley minimum of any candidate
    for name in chosen:
        sized = size_candidate(params.candidate(name), X, data.y, tp)
        specs[name], adaptations[name] = sized.spec, sized.changes
        small = small or sized.below_minimum
        for change in sized.changes:
            say(f"{name}: {change}")
        say(f"{name}: {method}")
    # the units: every (candidate, fold) fit, then every candidate's bootstrap
    units = [(specs[name], X, data.y, train, test, seed)
             for name in chosen for train, test in splits]
    fitted = iter(run_units(fold_prediction, units, jobs))
    for name in chosen:
        oof[name] = _averaged(len(data.y), splits, [next(fitted) for _ in splits])
    say(f"bootstrap ({tp.n_boot} resamples) of {len(chosen)} candidate"
        f"{'s' * (len(chosen) != 1)}")
    booted = run_units(evaluate_candidate,
                       [(data.y, oof[name], tp, method, seed) for name in chosen], jobs)
    boots = {name: boot for name, (_, boot) in zip(chosen, booted, strict=True)}
    for name, (ev, _) in zip(chosen, booted, strict=True):
        evaluations[name] = ev
        table = evaluations[name].metrics.set_index("metric")
        findings[name] = finding_calibration(data.frame, data.y, oof[name],
                                             tp.champion.subgroup_min_rows)
        worst = worst_subgroup(findings[name])
        inside, score = champion_score(
            dict(table["estimate"]) | {"worst_subgroup_gap": worst.gap,
                                       "worst_subgroup_excess": subgroup_excess(findings[name])},
            tp.champion)
        slope = table.loc["calibration_slope"] if "calibration_slope" in table.index else None
        facts[name] = ChampionFacts(
            score=score, slope_ok=inside, auroc=float(table["estimate"].get("auroc", np.nan)),
            slope_low=float(slope["ci_low"]) if slope is not None else np.nan,
            slope_high=float(slope["ci_high"]) if slope is not None else np.nan,
            kind=specs[name].kind, worst=worst)
    paired: dict[tuple[str, str], pd.DataFrame] = {}

    def difference(a: str, b: str) -> pd.DataFrame:
        # metric(a) - metric(b) on the same resamples; cached: the guards and the table share
        if (a, b) not in paired:
            paired[a, b] = paired_difference(boots[a], boots[b])
        return paired[a, b]

    def gain(b: str, a: str) -> tuple[float, float, float]:
        row = difference(b, a).set_index("metric").loc["auroc"]
        return float(row["difference"]), float(row["ci_low"]), float(row["ci_high"])

    champion, passed_over = choose_champion(facts, tp.champion, gain, small_sample=small)
    diffs = []
    for name in chosen:
        if name == champion:  # against itself: zero on every resample, no need to bootstrap
            metrics = list(METRICS)
            zeros = np.zeros(len(metrics))
            d = pd.DataFrame({"metric": metrics, "difference": zeros, "ci_low": zeros,
                              "ci_high": zeros})
            diffs.append(d.assign(candidate=name))
            continue
        diffs.append(difference(name, champion).assign(candidate=name))
    differences = pd.concat(diffs, ignore_index=True)
    base = sorted(chosen, key=lambda n: base_rank(facts[n], tp.champion, chosen.index(n)))
    board = []
    for name in [champion, *(n for n in base if n != champion)]:
        ev = evaluations[name]
        row: dict[str, Any] = {
            "candidate": name,
            "champion": name == champion,
            "score": facts[name].score,
            "slope_ok": facts[name].slope_ok,
            "subgroup_ok": facts[name].subgroup_ok(tp.champion),
            **facts[name].worst.columns(),
        }
        for m in ev.metrics.itertuples(index=False):
            row.update({m.metric: m.estimate, f"{m.metric}_ci_low": m.ci_low,
                        f"{m.metric}_ci_high": m.ci_high})
        for m in differences[differences["candidate"] == name].itertuples(index=False):
            if m.metric in ("auroc", "brier", "ici"):
                key = f"d_{m.metric}_vs_champion"
                row.update({key: m.difference, f"{key}_ci_low": m.ci_low,
                            f"{key}_ci_high": m.ci_high})
        board.append(row)
    return Comparison(
        leaderboard=pd.DataFrame(board),
        evaluations=evaluations,
        oof=oof,
        differences=differences,
        champion=champion,
        method=method,
        data=data,
        y=data.y,
        X=X,
        specs=specs,
        adaptations=adaptations,
        passed_over=passed_over,
        finding_subgroups=findings,
    )


def _age_band(age: pd.Series) -> pd.Series:
    bands = pd.cut(age.astype(float), [17, 30, 40, 50, 60, 101],
                   labels=["18-30", "31-40", "41-50", "51-60", "61+"])
    return bands.astype(object)


def subgroup_table(frame: pd.DataFrame, y: np.ndarray, p: np.ndarray,
                   min_rows: int = 30, hide_below: int | None = None,
                   o_e_boot: int = 0, seed: int = 0) -> pd.DataFrame:
    """Discrimination and calibration per subgroup (sex, age band, level, site).

    Aggregates only: one row per subgroup with rows, events, mean predicted and observed
    resorption, their ratio (O/E), AUROC and calibration slope; subgroups below ``min_rows``
    rows, or with one outcome class, get no AUROC or slope.

    With ``hide_below`` (a display rule, e.g. 10), a subgroup of fewer rows keeps only its
    label: every number is blanked (NaN) and an added column ``note`` says
    ``"fewer than 10 rows"`` (empty for the others). Without it, nothing is hidden and there
    is no ``note`` column.

    With ``o_e_boot`` resamples (e.g. 200), the O/E ratio of each subgroup that gets an
    AUROC also gets a percentile bootstrap 95% interval (``o_e_ci_low``, ``o_e_ci_high``;
    whole rows resampled, seed ``seed``: :func:`resorb.metrics.bootstrap_observed_expected`).
    Without it there are no such columns.
    """
    groupings = {"sex": frame.get("sex"), "age band": _age_band(frame["age"])
                 if "age" in frame else None, "level": frame.get("level")}
    if "site" in frame and frame["site"].notna().any():
        # site names are identifiers: report them as anonymous site numbers
        codes, _ = pd.factorize(frame["site"], sort=True)
        groupings["site"] = pd.Series([f"site {c + 1}" if c >= 0 else None for c in codes],
                                      index=frame.index)
    rows = []
    for variable, values in groupings.items():
        if values is None:
            continue
        v = pd.Series(values).reset_index(drop=True)
        for level in sorted(v.dropna().unique(), key=str):
            mask = (v == level).to_numpy()
            n, events = int(mask.sum()), int(y[mask].sum())
            row = {"variable": variable, "subgroup": str(level), "rows": n, "events": events,
                   "observed": events / n if n else np.nan,
                   "predicted": float(p[mask].mean()) if n else np.nan,
                   "auroc": np.nan, "calibration_slope": np.nan}
            row["o_e_ratio"] = row["observed"] / row["predicted"] if n else np.nan
            if o_e_boot:
                row["o_e_ci_low"] = row["o_e_ci_high"] = np.nan
            if n >= min_rows and 0 < events < n:
                row["auroc"] = auroc(y[mask], p[mask])
                row["calibration_slope"] = calibration_intercept_slope(
                    y[mask], p[mask])[1]
                if o_e_boot:
                    _, row["o_e_ci_low"], row["o_e_ci_high"] = bootstrap_observed_expected(
                        y[mask], p[mask], n_boot=o_e_boot, seed=seed, groups=np.arange(n))
            rows.append(row)
    table = pd.DataFrame(rows)
    return table if hide_below is None else _hide_small(table, hide_below)


def _hide_small(table: pd.DataFrame, below: int) -> pd.DataFrame:
    """Blank every number of subgroups with fewer than ``below`` rows; say so in ``note``."""
    if table.empty:
        return table.assign(note=pd.Series(dtype=object))
    small = table["rows"].to_numpy() < below
    numbers = [c for c in table.columns if c not in ("variable", "subgroup")]
    out = table.astype({c: float for c in numbers})
    out.loc[small, numbers] = np.nan
    return out.assign(note=np.where(small, f"fewer than {below} rows", ""))


def missingness_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of missing values per predictor (aggregates only), with what missing means."""
    from resorb import schema

    rows = []
    for col in schema.COLUMNS:
        if not col.is_feature:
            continue
        share = float(frame[col.name].isna().mean()) if col.name in frame else 1.0
        rows.append({"variable": col.name, "missing_pct": round(100 * share, 1),
                     "missing_means": col.missing_means})
    return pd.DataFrame(rows)
