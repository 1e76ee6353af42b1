"""How many events every split of training needs, counted before anything is fitted.

Training cuts the labelled rows into pieces, and each piece must hold both outcome classes:

- the outer folds of validation (:func:`outer_folds`): repeated stratified k-fold, each fold
  holding at least one event and one non-event, or leave-one-site-out with three or more
  sites, whose every training set (all sites but one) must hold both classes;
- the inner folds of a recalibrated candidate: :class:`~sklearn.calibration.
  CalibratedClassifierCV` cross-validates in ``calibration_folds`` stratified folds inside
  every outer training set and inside all rows for the final model, so each of those needs
  at least ``calibration_folds`` events and as many non-events;
- the resamples of Harrell's optimism bootstrap and of the metric intervals: drawn within
  outcome class (:func:`resorb.metrics.resample_counts`), they keep the numbers of events
  and non-events of all rows, so they need nothing the final fit does not.

:func:`check_split_capacity` counts every piece up front and raises one
:class:`~resorb.errors.TrainingError` naming the split, its counts and a fix (fewer folds,
no site grouping, fewer calibration folds, no recalibration, another candidate), instead of
a scikit-learn traceback half-way through. :func:`small_data_errors` turns the few
scikit-learn errors that still mean "too few rows of a class" into the same kind of error,
with the counts; any other error passes through untouched, since it means a bug.
Site names are identifiers: sites are numbered (1 = first in sorted order), never named.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from resorb.config import CandidateSpec, TrainingParams
from resorb.errors import TrainingError

Splits = list[tuple[np.ndarray, np.ndarray]]

#: sites needed before validation holds out one site at a time
MIN_SITES_FOR_SITE_VALIDATION = 3
#: events and non-events below which no cross-validation can run (two folds of one each)
MIN_CLASS_FOR_ANY_VALIDATION = 2


@dataclass(frozen=True)
class DataCounts:
    """Rows, events, non-events and sites of the labelled rows (aggregates only)."""

    rows: int
    events: int
    non_events: int
    sites: int | None = None

    @classmethod
    def of(cls, y: np.ndarray, groups: np.ndarray | None = None) -> DataCounts:
        """Counts of outcome ``y`` (1 = resorbed), shape (n,), and its ``groups``."""
        y = np.asarray(y)
        events = int(y.sum())
        sites = None if groups is None else int(np.unique(np.asarray(groups)).size)
        return cls(rows=int(y.size), events=events, non_events=int(y.size) - events,
                   sites=sites)

    def describe(self) -> str:
        """e.g. ``'40 rows: 3 events (resorbed), 37 non-events, 5 sites'``."""
        out = (f"{self.rows:,} rows: {self.events:,} event{'s' * (self.events != 1)} "
               f"(resorbed), {self.non_events:,} non-event{'s' * (self.non_events != 1)}")
        return out + (f", {self.sites} site{'s' * (self.sites != 1)}" if self.sites else "")


@dataclass(frozen=True)
class Shortfall:
    """One split that holds fewer events or non-events than it needs.

    Attributes
    ----------
    split : str
        Which split, e.g. ``"leave-one-site-out training set 2 of 5 (site 2 held out)"``.
    needs : int
        Events needed, and as many non-events.
    events, non_events : int
        What the split holds.
    why : str
        What needs them.
    fixes : tuple of str
        Ways out, most specific first (CLI options where there are some).
    """

    split: str
    needs: int
    events: int
    non_events: int
    why: str
    fixes: tuple[str, ...] = ()

    def __str__(self) -> str:
        fixes = f"; fix: {', or '.join(self.fixes)}" if self.fixes else ""
        return (f"{self.why}, so it needs at least {self.needs} event"
                f"{'s' * (self.needs != 1)} and {self.needs} non-event"
                f"{'s' * (self.needs != 1)}, but {self.split} has {self.events} event"
                f"{'s' * (self.events != 1)} and {self.non_events} non-event"
                f"{'s' * (self.non_events != 1)}{fixes}")


def site_validation(groups: np.ndarray | None) -> bool:
    """Whether validation holds out one site at a time (three or more sites)."""
    return groups is not None and np.unique(groups).size >= MIN_SITES_FOR_SITE_VALIDATION


def outer_folds(y: np.ndarray, groups: np.ndarray | None, folds: int, repeats: int,
                seed: int) -> tuple[Splits, str]:
    """The outer validation folds, after checking each has what it needs.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Outcome, 1 = resorbed.
    groups : ndarray of shape (n,), optional
        Site of each row; three or more sites mean leave-one-site-out.
    folds, repeats, seed : int
        Stratified k-fold settings (``training.folds``, ``training.repeats``).

    Returns
    -------
    (list of (train, test) index arrays, str)
        The folds and the method in words.

    Raises
    ------
    TrainingError
        A fold, or a training set, would hold a single outcome class (counts and a fix).
    """
    from sklearn.model_selection import LeaveOneGroupOut, RepeatedStratifiedKFold

    y = np.asarray(y)
    counts = DataCounts.of(y, groups)
    short = _outer_shortfall(y, groups, folds, counts)
    if short is not None:
        raise TrainingError(f"cannot validate on these data ({counts.describe()}): {short}")
    if site_validation(groups):
        splits = list(LeaveOneGroupOut().split(np.zeros(len(y)), y, groups))
        return splits, f"leave-one-site-out ({len(splits)} sites)"
    rskf = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    return (list(rskf.split(np.zeros(len(y)), y)),
            f"{folds}-fold stratified cross-validation x {repeats}")


def _outer_shortfall(y: np.ndarray, groups: np.ndarray | None, folds: int,
                     counts: DataCounts) -> Shortfall | None:
    """What the outer folds lack, or None."""
    smaller = min(counts.events, counts.non_events)
    if site_validation(groups):
        sites, codes = np.unique(np.asarray(groups), return_inverse=True)
        site_events = np.bincount(codes, weights=y, minlength=sites.size).astype(int)
        site_rows = np.bincount(codes, minlength=sites.size)
        left_events = counts.events - site_events
        left_non = counts.non_events - (site_rows - site_events)
        bad = np.flatnonzero((left_events == 0) | (left_non == 0))
        if bad.size == 0:
            return None
        s = int(bad[0])
        which = "events" if left_events[s] == 0 else "non-events"
        return Shortfall(
            split=(f"the training set without site {s + 1} ({bad.size} of {sites.size} "
                   f"training sets fall short; site {s + 1} holds all "
                   f"{counts.events if which == 'events' else counts.non_events} {which})"),
            needs=1, events=int(left_events[s]), non_events=int(left_non[s]),
            why=(f"leave-one-site-out validation ({sites.size} sites) fits the model on all "
                 f"sites but one"),
            fixes=_no_site_fixes(folds, smaller))
    if smaller >= folds:
        return None
    fixes = ((f"fewer folds (resorb --set training.folds={smaller} ...)",)
             if smaller >= MIN_CLASS_FOR_ANY_VALIDATION else
             ("more data: no cross-validation can run on fewer than "
              f"{MIN_CLASS_FOR_ANY_VALIDATION} events and {MIN_CLASS_FOR_ANY_VALIDATION} "
              "non-events (check the label rule too)",))
    return Shortfall(split="the data", needs=folds, events=counts.events,
                     non_events=counts.non_events,
                     why=(f"{folds}-fold stratified cross-validation puts an event and a "
                          f"non-event in every fold"), fixes=fixes)


def _no_site_fixes(folds: int, smaller: int) -> tuple[str, ...]:
    if smaller >= folds:
        return (f"drop the 'site' column (validation is then {folds}-fold stratified)",
                "pool the sites so that none holds every event")
    if smaller >= MIN_CLASS_FOR_ANY_VALIDATION:
        return ("drop the 'site' column and use fewer folds "
                f"(resorb --set training.folds={smaller} ...)",)
    return ("more data: no cross-validation can run on fewer than "
            f"{MIN_CLASS_FOR_ANY_VALIDATION} events and {MIN_CLASS_FOR_ANY_VALIDATION} "
            "non-events (check the label rule too)",)


def check_split_capacity(y: np.ndarray, groups: np.ndarray | None, training: TrainingParams,
                         candidates: Mapping[str, CandidateSpec], seed: int,
                         command: str = "compare") -> DataCounts:
    """Check that every split of training and validation holds what it needs.

    Counts the outer folds (exactly those :func:`outer_folds` makes with ``seed``), the
    inner recalibration folds of every recalibrated candidate in every outer training set
    and in all rows (the final fit), before anything is fitted. The bootstrap resamples
    are drawn within outcome class and need nothing more than all rows.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Outcome of the labelled rows, 1 = resorbed.
    groups : ndarray of shape (n,), optional
        Site of each row (None when the data have no complete site column).
    training : TrainingParams
        ``folds`` and ``repeats`` of the outer cross-validation.
    candidates : mapping of str to CandidateSpec
        The candidates to be fitted.
    seed : int
        Seed of the outer folds (as given to :func:`resorb.training.make_folds`).
    command : {"compare", "train"}
        Which command the fixes name (``--candidate`` or ``--model``).

    Returns
    -------
    DataCounts
        Of all rows, for messages about later failures (:func:`small_data_errors`).

    Raises
    ------
    TrainingError
        Naming every split that falls short, its counts, and a fix.
    """
    y = np.asarray(y)
    counts = DataCounts.of(y, groups)
    splits, method = outer_folds(y, groups, training.folds, training.repeats, seed)
    sets = [("all rows (the final fit)", np.arange(y.size))]
    sets += [(_training_set_name(i, len(splits), method, groups, test), train)
             for i, (train, test) in enumerate(splits, start=1)]
    held = [(name, int(y[rows].sum()), int(rows.size - y[rows].sum())) for name, rows in sets]
    problems = []
    for name, spec in candidates.items():
        short = _calibration_shortfall(name, spec, held, list(candidates), command)
        if short is not None:
            problems.append(f"{name}: {short}")
    if problems:
        raise TrainingError(f"cannot validate on these data ({counts.describe()}; {method}): "
                            + "; ".join(problems))
    return counts


def _training_set_name(i: int, n: int, method: str, groups: np.ndarray | None,
                       test: np.ndarray) -> str:
    if groups is not None and method.startswith("leave-one-site-out"):
        sites = np.unique(np.asarray(groups))
        held_out = int(np.searchsorted(sites, np.asarray(groups)[test[0]])) + 1
        return f"the training set without site {held_out}"
    return f"training set {i} of {n} ({method})"


def _calibration_shortfall(name: str, spec: CandidateSpec, held: list[tuple[str, int, int]],
                           chosen: list[str], command: str) -> Shortfall | None:
    """What the inner recalibration folds of one candidate lack, or None."""
    if spec.calibration == "none" or spec.calibration_data == "out_of_bag":
        return None  # out-of-bag recalibration has no folds of its own
    k = spec.calibration_folds
    short = [h for h in held if min(h[1], h[2]) < k]
    if not short:
        return None
    split, events, non_events = min(short, key=lambda h: min(h[1], h[2]))
    fewest = min(events, non_events)
    extra = f" ({len(short)} of {len(held)} fitting sets fall short)" if len(short) > 1 else ""
    fixes = []
    if fewest >= 2:
        fixes.append(f"fewer recalibration folds (resorb --set candidates.{name}."
                     f"calibration_folds={fewest} {command} ...)")
    fixes.append(f"no recalibration (resorb --set candidates.{name}.calibration=none "
                 f"{command} ...)")
    others = [c for c in chosen if c != name]
    if command == "train":
        fixes.append("another candidate (--model logistic)" if name != "logistic" else
                     "another candidate (--model NAME)")
    elif others:
        fixes.append("leave it out (" + " ".join(f"--candidate {c}" for c in others) + ")")
    return Shortfall(split=split + extra, needs=k, events=events, non_events=non_events,
                     why=(f"its {spec.calibration} recalibration cross-validates in {k} "
                          f"stratified folds inside every set it is fitted on"),
                     fixes=tuple(fixes))


#: scikit-learn's messages that mean a split held too few rows of an outcome class
_SMALL_DATA_MESSAGES = re.compile("|".join((
    r"Requesting \d+-fold cross-validation but provided less than",
    r"n_splits=\d+ cannot be greater than the number of members in each class",
    r"Cannot have number of splits n_splits=\d+ greater than the number of samples",
    r"needs samples of at least 2 classes",
    r"contains only one class",
    r"Only one class (is )?present",
    r"Found array with 0 sample",
    r"fewer than 2 unique groups",
)))


@contextlib.contextmanager
def small_data_errors(counts: DataCounts, doing: str) -> Iterator[None]:
    """Turn scikit-learn's "too few rows of a class" errors into a :class:`TrainingError`.

    A split that :func:`check_split_capacity` could not foresee (a tuning or resampling step
    added later, an estimator's own internal split) still ends in a message naming the step,
    the counts and a fix rather than a traceback. Only errors whose message says a split
    lacked a class are converted; every other exception passes through unchanged (a bug).

    Parameters
    ----------
    counts : DataCounts
        Of the labelled rows.
    doing : str
        What was being fitted, e.g. ``"training random_forest"``.
    """
    try:
        yield
    except ValueError as exc:
        if not _SMALL_DATA_MESSAGES.search(str(exc)):
            raise
        raise TrainingError(
            f"{doing} failed: a split of the data held too few rows of one outcome class "
            f"({counts.describe()}): {exc}; fix: fewer folds (resorb --set training.folds=2 "
            f"...), fewer recalibration folds or none (resorb --set "
            f"candidates.NAME.calibration=none ...), or more data") from exc
