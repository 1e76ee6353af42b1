"""The champion rule: which compared candidate becomes the model, and why the others not.

A pure function of each candidate's validated estimates and 95% intervals
(:class:`ChampionFacts`) and of the paired-bootstrap AUROC differences, which
:func:`resorb.training.compare_candidates` computes; the rule is stated in full in
:func:`choose_champion` and in params.yaml ``training.champion``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from resorb.config import ChampionRule
from resorb.metrics.subgroups import WorstSubgroup


@dataclass(frozen=True)
class ChampionFacts:
    """What the champion rule reads of one candidate: its score and two 95% intervals.

    Attributes
    ----------
    score : float
        :func:`champion_score` (higher is better).
    slope_ok : bool
        Calibration slope point estimate inside the rule's ``slope_range``.
    auroc : float
        AUROC point estimate.
    slope_low, slope_high : float
        95% interval of the calibration slope (NaN: unknown, taken as not containing 1).
    kind : str
        The candidate's model family (``logistic``, ``hist_gradient_boosting``, ...).
    worst : WorstSubgroup
        Its worst subgroup of herniation type x rim and migration grade
        (:func:`resorb.metrics.subgroups.worst_subgroup`); empty: not computed.
    """

    score: float
    slope_ok: bool
    auroc: float
    slope_low: float
    slope_high: float
    kind: str = "logistic"
    worst: WorstSubgroup = field(default_factory=WorstSubgroup)

    def subgroup_ok(self, rule: ChampionRule) -> bool:
        """False when the rule declares a subgroup tolerance and the worst subgroup's whole
        95% interval of observed - expected lies beyond it."""
        tol = rule.subgroup_tolerance
        return tol is None or not self.worst.clearly_beyond(tol)

    @property
    def slope_has_one(self) -> bool:
        """Whether the slope interval contains 1 (well calibrated within its uncertainty)."""
        return bool(self.slope_low <= 1.0 <= self.slope_high)

    def slope_reaches(self, bounds: tuple[float, float]) -> bool:
        """Whether the slope interval overlaps ``bounds`` (the rule's ``slope_range``)."""
        return bool(self.slope_low <= bounds[1] and self.slope_high >= bounds[0])


#: ``gain(b, a) -> (difference, ci_low, ci_high)`` of AUROC_b - AUROC_a on paired resamples
AurocGain = Callable[[str, str], tuple[float, float, float]]


def choose_champion(candidates: dict[str, ChampionFacts], rule: ChampionRule,
                    gain: AurocGain, small_sample: bool = False) -> tuple[str, dict[str, str]]:
    """The champion by the weighted score, guarded by the 95% intervals.

    0. Parsimony (only when ``small_sample`` and ``rule.parsimony``): a tree ensemble (any
       kind but ``logistic``) stays in the field only if its AUROC is clearly better (as in
       2) than that of every logistic candidate whose slope interval contains 1 (calibrated
       within its uncertainty); tree methods need many more events per variable than logistic
       regression (van der Ploeg T, Austin PC, Steyerberg EW. BMC Med Res Methodol
       2014;14:137, doi:10.1186/1471-2288-14-137). Logistic candidates always stay.
    1. Base order: candidates whose calibration slope point estimate is inside
       ``rule.slope_range`` first; among them, when ``rule.subgroup_tolerance`` is declared,
       those whose worst subgroup (herniation type x rim, migration grade; at least
       ``rule.subgroup_min_rows`` rows) is not clearly miscalibrated (its 95% interval of
       observed - expected does not lie wholly beyond +-tolerance) first; then by
       :func:`champion_score`, higher first (ties keep the order of ``candidates``).
    2. Candidate B *beats* candidate A when B's AUROC is clearly better, i.e. the point
       estimate of AUROC_B - AUROC_A is positive and the lower end of its paired-bootstrap 95%
       interval is above 0, and either

       (i) B's calibration-slope 95% interval contains 1 and A's does not; or
       (ii) the AUROC difference is at least ``rule.auroc_margin`` and B's slope interval
            overlaps ``rule.slope_range``;

       and B's worst subgroup is not clearly miscalibrated unless A's is too (so a clearly
       better AUROC never brings back a candidate clearly off in a subgroup).
    3. The champion is the first candidate of the base order that no other candidate beats.

    Only a higher AUROC beats, so the candidate with the highest AUROC is never beaten and
    a champion always exists. Consequences: a candidate whose slope interval excludes 1 is
    never chosen over one whose interval contains 1 and that discriminates clearly better;
    and a candidate ``auroc_margin`` or more worse in AUROC is not chosen, on a slope point
    estimate alone, over a clearly better one whose calibration is not clearly out of range.
    When no guard applies (as for the candidates of params.yaml on 20,000 patients, where
    the first of the base order also has the highest AUROC), the champion is the first of
    the base order, as before the guards.

    Parameters
    ----------
    candidates : dict of str to ChampionFacts
        Every candidate compared, by name.
    rule : ChampionRule
        params.yaml ``training.champion``.
    gain : callable
        ``gain(b, a)`` -> AUROC_b - AUROC_a with its 95% interval, on paired resamples;
        called only for pairs a guard could concern.
    small_sample : bool
        Whether the data are below the Riley minimum (step 0 applies only then).

    Returns
    -------
    champion : str
    passed_over : dict of str to str
        For each candidate left out in step 0, or ahead of the champion in the base order,
        why it was passed over, in words.

    Raises
    ------
    ValueError
        ``candidates`` is empty.
    """
    if not candidates:
        raise ValueError("choose_champion needs at least one candidate")
    names = list(candidates)
    lo, hi = rule.slope_range
    passed: dict[str, str] = {}
    if small_sample and rule.parsimony:
        anchors = [n for n in names if candidates[n].kind == "logistic"
                   and candidates[n].slope_has_one]
        for tree in [n for n in names if candidates[n].kind != "logistic"]:
            for anchor in anchors:
                d, d_lo, d_hi = gain(tree, anchor)
                if not (d > 0 and d_lo > 0):
                    passed[tree] = (f"below the Riley minimum, {tree} does not discriminate "
                                    f"clearly better than {anchor} (AUROC {d:+.3f}, 95% CI "
                                    f"{d_lo:+.3f} to {d_hi:+.3f}); the logistic model needs "
                                    f"fewer events")
                    break
    contenders = [n for n in names if n not in passed]
    order = sorted(contenders, key=lambda n: base_rank(candidates[n], rule, names.index(n)))

    def beaten_by(a: str) -> tuple[str, str] | None:
        fa = candidates[a]
        for b in order:
            fb = candidates[b]
            if b == a or not fb.auroc > fa.auroc:
                continue
            if not fb.subgroup_ok(rule) and fa.subgroup_ok(rule):
                continue
            calibration = fb.slope_has_one and not fa.slope_has_one
            margin = fb.auroc - fa.auroc >= rule.auroc_margin and fb.slope_reaches((lo, hi))
            if not (calibration or margin):
                continue
            d, d_lo, d_hi = gain(b, a)
            if not (d > 0 and d_lo > 0):
                continue
            why = (f"{b} discriminates clearly better (AUROC {d:+.3f}, 95% CI "
                   f"{d_lo:+.3f} to {d_hi:+.3f})")
            if calibration:
                why += (f" and its calibration-slope interval "
                        f"({fb.slope_low:.2f}-{fb.slope_high:.2f}) contains 1 while "
                        f"{a}'s ({fa.slope_low:.2f}-{fa.slope_high:.2f}) does not")
            else:
                why += (f" by at least {rule.auroc_margin:g}, with a slope interval "
                        f"({fb.slope_low:.2f}-{fb.slope_high:.2f}) reaching {lo:g}-{hi:g}")
            return b, why
        return None

    for a in order:
        beaten = beaten_by(a)
        if beaten is None:
            passed.update(_off_in_subgroup(candidates, rule, a, order))
            return a, passed
        passed[a] = beaten[1]
    raise AssertionError("unreachable: the highest AUROC is never beaten")


def _off_in_subgroup(candidates: dict[str, ChampionFacts], rule: ChampionRule, champion: str,
                     order: list[str]) -> dict[str, str]:
    """Why each candidate that would have ranked above ``champion`` but for its worst
    subgroup was passed over, in words."""
    out = {}
    tol = rule.subgroup_tolerance
    chosen = candidates[champion]
    for n in order[order.index(champion) + 1:]:
        f = candidates[n]
        if (not f.subgroup_ok(rule) and (not f.slope_ok, -f.score)
                < (not chosen.slope_ok, -chosen.score)):
            w = f.worst
            out[n] = (f"in {w.subgroup} it predicts {-w.difference:+.3f} off the observed "
                      f"resorption (95% CI of observed - expected {w.ci_low:+.3f} to "
                      f"{w.ci_high:+.3f}), beyond the tolerance {tol:g}")
    return out


def base_rank(facts: ChampionFacts, rule: ChampionRule, position: int) -> tuple:
    """Sort key of the base order: slope in range, worst subgroup not clearly off, score."""
    return (not facts.slope_ok, not facts.subgroup_ok(rule), -facts.score, position)


def champion_score(metrics: dict[str, float], rule: ChampionRule) -> tuple[bool, float]:
    """(inside the slope range, weighted score) for one candidate; higher is better.

    Besides the metrics of :data:`resorb.metrics.METRICS`, the weights may name
    ``abs_slope_error`` (|1 - slope|), ``worst_subgroup_gap`` (absolute observed -
    expected of the worst subgroup, :class:`resorb.metrics.subgroups.WorstSubgroup`) and
    ``worst_subgroup_excess`` (its part beyond chance,
    :func:`resorb.metrics.subgroups.subgroup_excess`); the last two must then be in
    ``metrics``.
    """
    derived = dict(metrics)
    derived["abs_slope_error"] = abs(1.0 - metrics.get("calibration_slope", np.nan))
    score = sum(w * derived.get(k, np.nan) for k, w in rule.weights.items())
    lo, hi = rule.slope_range
    inside = lo <= metrics.get("calibration_slope", np.nan) <= hi
    return inside, float(score)
