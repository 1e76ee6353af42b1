"""Every candidate on identical folds, ranked, and the champion: :func:`compare_candidates`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from resorb.champion import ChampionFacts, base_rank, champion_score, choose_champion
from resorb.config import CandidateSpec, Params
from resorb.errors import ConfigError
from resorb.label import LabelledData
from resorb.metrics import METRICS
from resorb.metrics.bootstrap import paired_difference
from resorb.metrics.subgroups import finding_calibration, subgroup_excess, worst_subgroup
from resorb.parallel import run_units
from resorb.training.candidate import Progress
from resorb.training.crossval import _averaged, fold_prediction, make_folds, prepare
from resorb.training.sizing import size_candidate
from resorb.training.validation import Evaluation, evaluate_candidate


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

