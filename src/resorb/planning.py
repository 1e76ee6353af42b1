"""Simulation-based sample size: how many patients a resorb model needs, by simulation.

Two questions a study asks before collecting data, answered with the synthetic cohort's
known truth (``true_resorption_probability``) and set beside the closed-form answers:

- **development** (:func:`plan_sample_size`, ``development`` table): for each development
  size n, ``replicates`` cohorts of n usable rows (labelled as training labels them,
  operated patients out) are drawn, the candidate is fitted on each, and its predictions on
  one large fresh validation cohort give the calibration slope and AUROC (on the observed
  outcome) and the mean absolute error against the true probability. Monte Carlo intervals
  (2.5 and 97.5 percentiles), the Monte Carlo SE of the mean and the assurance quantile of
  the target (the 20th percentile of the slope for "slope >= 0.9 with 80% assurance") give
  the smallest n that reaches the target, beside Riley et al.'s closed-form minimum (BMJ
  2020;368:m441, doi:10.1136/bmj.m441) and its expected shrinkage at each n. The idea is
  that of the R packages pmsims and samplesizedev (simulation-based sample size for
  prediction models); resorb can simulate from a data-generating process calibrated to the
  literature.
- **external validation** (``validation`` table): a fixed model (the candidate fitted on a
  large development cohort, or a given model) is validated on ``replicates`` samples of each
  size; the spread of O/E, calibration slope and C over the samples is the precision a
  validation study of that size gets, beside the widths Riley et al. (Stat Med
  2021;40:4230, doi:10.1002/sim.9025) anticipate and the n they require.

Replicate r uses one cohort for every size, its first n usable rows (nested samples: common
random numbers, so the trend over n is estimated more precisely than the levels); its seeds
come from ``SeedSequence([seed, study, r])``, never from the order the work is done in, so
the tables are the same bytes whatever the number of worker processes. Rows are always drawn
independently (``sampling: iid``), as a real study samples patients, whatever the preset.

Pure computation: nothing here writes files or prints; :mod:`resorb.cli.plan` does.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from resorb.errors import ConfigError, TrainingError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from resorb.cohort import CohortParams
    from resorb.config import CandidateSpec, Params

#: what a development replicate measures on the validation cohort; True: higher is better
DEVELOPMENT_METRICS: dict[str, bool] = {"calibration_slope": True, "auroc": True, "mape": False}
#: the values a development target can take: (low, high, high included, why), low excluded
TARGET_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "calibration_slope": (0.0, 1.0, True, "slopes approach 1 from below as n grows; a target "
                          "above 1 asks for underfitting, which no sample size buys"),
    "auroc": (0.5, 1.0, False, "0.5 is chance; no finite study reaches 1, and none exceeds "
              "the AUROC of the true probabilities"),
    "mape": (0.0, 1.0, False, "the mean absolute error of a probability, lower is better"),
}


def target_range(metric: str) -> str:
    """The valid target values of ``metric`` in interval notation, e.g. ``"(0, 1]"``."""
    low, high, closed, _ = TARGET_RANGES[metric]
    return f"({low:g}, {high:g}{']' if closed else ')'}"


def target_problem(metric: str, value: float) -> str | None:
    """Why ``value`` cannot be a target for ``metric`` (None when it can)."""
    low, high, closed, why = TARGET_RANGES[metric]
    if math.isfinite(value) and low < value and (value <= high if closed else value < high):
        return None
    return (f"the {metric} target must be in {target_range(metric)} ({why}); got {value:g}")
#: what a validation replicate estimates; Riley 2021's criteria have the same names
VALIDATION_STATISTICS = ("oe", "slope", "c")
_LABELS = {"calibration_slope": "calibration slope", "auroc": "AUROC",
           "mape": "mean absolute error vs the true probability", "oe": "O/E",
           "slope": "calibration slope", "c": "C-statistic"}
_STUDY_CODES = {"reference": 0, "validation_cohort": 1, "development": 2, "validation": 3}
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_CLIP = 1e-6  # predicted probabilities are clipped to [_CLIP, 1 - _CLIP] for logits

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Target:
    """What "large enough" means: a metric's value reached with some assurance.

    ``Target("calibration_slope", 0.9, 0.8)``: the 20th percentile of the slope over
    replicates is at least 0.9 (80% of studies of that size reach 0.9). For ``mape`` (lower
    is better) the 80th percentile must be at most the value.
    """

    metric: str = "calibration_slope"
    value: float = 0.9
    assurance: float = 0.8

    def __post_init__(self) -> None:
        if self.metric not in DEVELOPMENT_METRICS:
            raise ConfigError(f"the target metric must be one of "
                              f"{', '.join(DEVELOPMENT_METRICS)}; got {self.metric!r}")
        if not 0.5 <= self.assurance < 1:
            raise ConfigError(f"the assurance must be in [0.5, 1); got {self.assurance!r}")
        if not isinstance(self.value, int | float) or isinstance(self.value, bool):
            raise ConfigError(f"the target value must be a number; got {self.value!r}")
        if (problem := target_problem(self.metric, float(self.value))) is not None:
            raise ConfigError(problem)

    @property
    def higher_is_better(self) -> bool:
        """Whether the metric must be at least (True) or at most (False) the value."""
        return DEVELOPMENT_METRICS[self.metric]

    @property
    def quantile(self) -> float:
        """The quantile of the metric over replicates that must reach the value."""
        return 1 - self.assurance if self.higher_is_better else self.assurance

    @property
    def column(self) -> str:
        """Its column in the development table, e.g. ``calibration_slope_q20``."""
        return f"{self.metric}_q{round(100 * self.quantile)}"

    def met(self, quantile_value: float) -> bool:
        """Whether a quantile value reaches the target."""
        if self.higher_is_better:
            return bool(quantile_value >= self.value)
        return bool(quantile_value <= self.value)

    def describe(self) -> str:
        """In words: ``calibration slope >= 0.9 with 80% assurance``."""
        op = ">=" if self.higher_is_better else "<="
        return f"{_LABELS[self.metric]} {op} {self.value:g} with {self.assurance:.0%} assurance"


def _positive_sizes(name: str, sizes: Sequence[int], minimum: int) -> tuple[int, ...]:
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < minimum:
            raise ConfigError(f"{name} must be whole numbers of at least {minimum}; got {s!r}")
        out.append(int(s))
    if not out:
        raise ConfigError(f"{name}: give at least one size")
    if len(set(out)) != len(out):
        raise ConfigError(f"{name} must be distinct; got {', '.join(map(str, out))}")
    return tuple(sorted(out))


@dataclass(frozen=True)
class PlanSettings:
    """How the simulation runs (the CLI's options; every default is the CLI's default).

    Attributes
    ----------
    sizes : tuple of int
        Development sizes: usable (labelled) rows fitted on, each >= 20.
    validation_sizes : tuple of int
        External validation sizes: usable rows validated on, each >= 20.
    replicates : int
        Replicate studies per size (>= 2).
    seed : int
        Seed of everything (>= 0).
    validation_rows : int
        Rows drawn for the large validation cohort of the development study (>= 500).
    reference_rows : int
        Rows drawn to fit the fixed model of the external-validation study when none is given.
    workers : int
        Worker processes (1: in this process); results do not depend on it.
    target : Target
    oe_ci_width, slope_ci_width, c_ci_width : float
        Target 95% interval widths of the external-validation criteria (Riley 2021).
    """

    sizes: tuple[int, ...] = (100, 200, 500, 1000, 2000)
    validation_sizes: tuple[int, ...] = (200, 500, 1000, 2000, 4000)
    replicates: int = 50
    seed: int = 2026
    validation_rows: int = 20_000
    reference_rows: int = 20_000
    workers: int = 2
    target: Target = field(default_factory=Target)
    oe_ci_width: float = 0.2
    slope_ci_width: float = 0.2
    c_ci_width: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", _positive_sizes("sizes", self.sizes, 20))
        object.__setattr__(self, "validation_sizes",
                           _positive_sizes("validation sizes", self.validation_sizes, 20))
        for name, value, low in (("replicates", self.replicates, 2), ("seed", self.seed, 0),
                                 ("validation_rows", self.validation_rows, 500),
                                 ("reference_rows", self.reference_rows, 500),
                                 ("workers", self.workers, 1)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                    or value < low:
                raise ConfigError(f"{name} must be a whole number >= {low}; got {value!r}")
        for name, value in (("oe_ci_width", self.oe_ci_width),
                            ("slope_ci_width", self.slope_ci_width),
                            ("c_ci_width", self.c_ci_width)):
            if not value > 0:
                raise ConfigError(f"{name} must be positive; got {value!r}")


@dataclass(frozen=True)
class Plan:
    """What :func:`plan_sample_size` found (aggregates only; no patient rows).

    Attributes
    ----------
    development : DataFrame
        One row per development size: ``n`` (usable rows), ``events`` (mean), per metric of
        :data:`DEVELOPMENT_METRICS` ``<m>_mean``, ``<m>_mc_se``, ``<m>_p2_5``, ``<m>_p97_5``;
        the target's quantile column (``calibration_slope_q20``) and ``target_met``; and
        ``riley_expected_shrinkage`` (Riley 2020 criterion (i) read at n).
    validation : DataFrame
        One row per validation size: ``n``, ``events`` (mean), per statistic of
        :data:`VALIDATION_STATISTICS` ``<s>_mean``, ``<s>_width`` (simulated 95% interval
        width: 3.92 SD; for O/E on the log scale, as Riley's), ``<s>_p2_5``, ``<s>_p97_5``
        and ``<s>_riley_width`` (Riley 2021's anticipated width at n).
    summary : DataFrame
        One row per criterion (the target; the mean slope against Riley 2020's criterion
        (i), which is about the expected slope; O/E, slope and C of the validation study):
        ``study``, ``criterion``, ``target``, ``simulated_n``
        (smallest size reaching it, or missing), ``simulated_n_interpolated`` (log-linear
        between the sizes around it), ``riley_n``, ``ratio`` (simulated / Riley).
    replicates : DataFrame
        Every development replicate's values: ``n``, ``replicate``, ``events`` and the metrics.
    riley_development : dict
        :func:`resorb.metrics.minimum_sample_size` for the candidate's parameter count, with
        ``shrinkage`` (criterion (i)'s target: the target slope when the target is the
        calibration slope, else 0.9).
    riley_validation : ValidationSampleSize
    info : dict
        ``candidate``, ``preset``, ``n_parameters``, ``prevalence`` (usable rows of the
        validation cohort), ``validation_rows`` (usable), ``truth_auroc``, ``truth_mape`` (0),
        ``anticipated_c``, ``fixed_model`` (what was validated), ``fixed_model_auroc``,
        ``fixed_model_oe``, ``target``.
    """

    development: pd.DataFrame
    validation: pd.DataFrame
    summary: pd.DataFrame
    replicates: pd.DataFrame
    riley_development: dict[str, Any]
    riley_validation: Any
    info: dict[str, Any]


# --------------------------------------------------------------------------- worker side
@dataclass(frozen=True)
class _Context:
    """What every replicate needs; sent once to each worker process."""

    cohort: CohortParams
    params: Params
    spec: CandidateSpec
    X_val: pd.DataFrame
    y_val: np.ndarray
    truth_val: np.ndarray
    fixed_model: Any
    usable_fraction: float
    max_size: int  # development replicates draw the largest size and keep its first n rows


_CONTEXT: _Context | None = None


def _init_worker(context: _Context) -> None:
    """Worker start-up: one BLAS/OpenMP thread (the threads spin-wait on few cores)."""
    global _CONTEXT
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    _CONTEXT = context


def _seeds(seed: int, study: str, replicate: int) -> tuple[int, int]:
    """(cohort seed, model seed) of one replicate, independent of the order of the work."""
    state = np.random.SeedSequence([seed, _STUDY_CODES[study], replicate]).generate_state(2)
    return int(state[0]), int(state[1])


def _usable_rows(ctx: _Context, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray,
                                                              np.ndarray]:
    """Model input, outcome and truth of the first ``n`` usable rows of a fresh cohort."""
    from resorb.cohort import make_cohort
    from resorb.training import prepare

    draw = math.ceil(n / ctx.usable_fraction * 1.15) + 50
    for _ in range(6):
        data, X, _ = prepare(make_cohort(draw, seed=seed, params=ctx.cohort), ctx.params)
        if len(data.y) >= n:
            truth = data.frame["true_resorption_probability"].to_numpy(dtype=float)
            return X.iloc[:n].reset_index(drop=True), data.y[:n], truth[:n]
        draw *= 2
    raise TrainingError(f"could not draw {n} usable rows from {draw:,} (too many operated or "
                        f"unlabelled patients in this preset)")


def _development_replicate(task: tuple[int, int, int]) -> dict[str, float]:
    """Fit the candidate on ``n`` usable rows of replicate r; measure it on the validation set."""
    from resorb.metrics import auroc, calibration_slope
    from resorb.models import build_model, predict_resorption

    ctx = _CONTEXT
    assert ctx is not None, "worker not initialised"
    n, replicate, seed = task
    cohort_seed, model_seed = _seeds(seed, "development", replicate)
    X, y, _ = _usable_rows(ctx, max(n, ctx.max_size), cohort_seed)
    X, y = X.iloc[:n], y[:n]
    model = build_model(ctx.spec, seed=model_seed).fit(X, y)
    p = predict_resorption(model, ctx.X_val)
    return {"n": n, "replicate": replicate, "events": int(y.sum()),
            "calibration_slope": calibration_slope(ctx.y_val, p),
            "auroc": auroc(ctx.y_val, p),
            "mape": float(np.mean(np.abs(p - ctx.truth_val)))}


def _validation_replicate(task: tuple[tuple[int, ...], int, int]) -> list[dict[str, float]]:
    """Validate the fixed model on the first n usable rows of replicate r, for every n."""
    from resorb.metrics import auroc, calibration_slope
    from resorb.models import predict_resorption

    ctx = _CONTEXT
    assert ctx is not None, "worker not initialised"
    sizes, replicate, seed = task
    cohort_seed, _ = _seeds(seed, "validation", replicate)
    X, y, _ = _usable_rows(ctx, max(sizes), cohort_seed)
    p = predict_resorption(ctx.fixed_model, X)
    rows = []
    for n in sizes:
        yn, pn = y[:n], p[:n]
        rows.append({"n": n, "replicate": replicate, "events": int(yn.sum()),
                     "oe": float(yn.sum() / pn.sum()),
                     "slope": calibration_slope(yn, pn), "c": auroc(yn, pn)})
    return rows


def _run(kind: str, tasks: list[Any], results: list[Any], done: list[int], total: int,
         progress: Progress | None, executor: Any) -> None:
    """Run the tasks of one kind (in ``executor``, or here), keeping their order."""
    func = _development_replicate if kind == "development" else _validation_replicate
    if executor is None:
        for i, task in enumerate(tasks):
            results[i] = func(task)
            done[0] += 1
            if progress:
                progress(done[0], total)
        return
    from concurrent.futures import as_completed

    futures = {executor.submit(func, task): i for i, task in enumerate(tasks)}
    try:
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done[0] += 1
            if progress:
                progress(done[0], total)
    except BaseException:  # a failed replicate or Ctrl-C: do not wait for the others
        for future in futures:
            future.cancel()
        raise


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Child processes start with one BLAS/OpenMP thread (set before they import numpy)."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _executor(context: _Context, workers: int) -> Iterator[Any]:
    """A pool of ``workers`` fresh processes (spawned: no inherited threads), or None for 1."""
    if workers == 1:
        from threadpoolctl import threadpool_limits

        global _CONTEXT
        previous, _CONTEXT = _CONTEXT, context
        try:
            with threadpool_limits(limits=1):  # the same arithmetic as in a worker
                yield None
        finally:
            _CONTEXT = previous
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with _single_threaded_children(), ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(context,)) as pool:
        yield pool


# ---------------------------------------------------------------------------- summaries
def _pct(q: float) -> str:
    return f"p{q:g}".replace(".", "_")


def _development_table(reps: pd.DataFrame, target: Target, riley: dict[str, Any],
                       n_parameters: int) -> pd.DataFrame:
    from resorb.metrics import expected_shrinkage

    rows = []
    for n, group in reps.groupby("n", sort=True):
        row: dict[str, Any] = {"n": int(n), "replicates": len(group),
                               "events": float(group["events"].mean())}
        for metric in DEVELOPMENT_METRICS:
            values = group[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"] = float(np.mean(values))
            row[f"{metric}_mc_se"] = float(np.std(values, ddof=1) / math.sqrt(len(values)))
            row[f"{metric}_{_pct(2.5)}"] = float(np.percentile(values, 2.5))
            row[f"{metric}_{_pct(97.5)}"] = float(np.percentile(values, 97.5))
        row[target.column] = float(np.percentile(group[target.metric], 100 * target.quantile))
        row["target_met"] = target.met(row[target.column])
        row["riley_expected_shrinkage"] = expected_shrinkage(int(n), n_parameters,
                                                             riley["r2_cs"])
        rows.append(row)
    return pd.DataFrame(rows)


def _validation_table(reps: pd.DataFrame, prevalence: float, c_statistic: float, oe: float,
                      lp: np.ndarray) -> pd.DataFrame:
    from resorb.metrics import validation_precision

    rows = []
    for n, group in reps.groupby("n", sort=True):
        riley = validation_precision(int(n), prevalence, c_statistic, oe=oe, lp_sample=lp)
        row: dict[str, Any] = {"n": int(n), "replicates": len(group),
                               "events": float(group["events"].mean())}
        for stat in VALIDATION_STATISTICS:
            values = group[stat].to_numpy(dtype=float)
            if stat == "oe":  # Riley's interval is exp(ln OE +- 1.96 SE)
                logs = np.log(values)
                centre, sd = float(np.exp(logs.mean())), float(np.std(logs, ddof=1))
                width = 2 * centre * math.sinh(1.96 * sd)
            else:
                width = 3.92 * float(np.std(values, ddof=1))
            row[f"{stat}_mean"] = float(np.mean(values))
            row[f"{stat}_width"] = width
            row[f"{stat}_{_pct(2.5)}"] = float(np.percentile(values, 2.5))
            row[f"{stat}_{_pct(97.5)}"] = float(np.percentile(values, 97.5))
            row[f"{stat}_riley_width"] = riley[stat]
        rows.append(row)
    return pd.DataFrame(rows)


def _first_reaching(sizes: np.ndarray, values: np.ndarray, goal: float,
                    higher_is_better: bool, log_values: bool = False) -> tuple[float, float]:
    """(smallest size reaching ``goal``, its interpolation between the sizes); NaN if none.

    The interpolation is linear in log n (and in log value with ``log_values``: interval
    widths fall as n^-1/2, a straight line on log-log axes).
    """
    ok = values >= goal if higher_is_better else values <= goal
    if not ok.any():
        return math.nan, math.nan
    i = int(np.argmax(ok))
    if i == 0:
        return float(sizes[0]), float(sizes[0])
    x0, x1 = math.log(sizes[i - 1]), math.log(sizes[i])
    v0, v1, g = float(values[i - 1]), float(values[i]), goal
    if log_values:
        v0, v1, g = math.log(v0), math.log(v1), math.log(goal)
    frac = (g - v0) / (v1 - v0) if v1 != v0 else 1.0
    return float(sizes[i]), float(math.exp(x0 + frac * (x1 - x0)))


def _summary(dev: pd.DataFrame, val: pd.DataFrame, target: Target, riley_dev: dict[str, Any],
             riley_val: Any, settings: PlanSettings) -> pd.DataFrame:
    rows = []
    n, n_interp = _first_reaching(dev["n"].to_numpy(), dev[target.column].to_numpy(),
                                  target.value, target.higher_is_better)
    shrinkage = riley_dev["shrinkage"]
    criterion_i = f"(i) expected shrinkage >= {shrinkage:g}"
    slope_target = target.metric == "calibration_slope"
    rows.append({"study": "development", "criterion": target.column,
                 "target": target.describe(), "simulated_n": n,
                 "simulated_n_interpolated": n_interp,
                 "riley_n": riley_dev["n_shrinkage"] if slope_target
                 else riley_dev["required_n"],
                 "riley_criterion": criterion_i if slope_target
                 else f"binding: {riley_dev['binding']}"})
    # Riley's criterion (i) as simulated: the mean slope, i.e. the expected shrinkage
    n, n_interp = _first_reaching(dev["n"].to_numpy(),
                                  dev["calibration_slope_mean"].to_numpy(), shrinkage, True)
    rows.append({"study": "development", "criterion": "calibration_slope_mean",
                 "target": f"mean calibration slope >= {shrinkage:g}", "simulated_n": n,
                 "simulated_n_interpolated": n_interp, "riley_n": riley_dev["n_shrinkage"],
                 "riley_criterion": criterion_i})
    widths = {"oe": settings.oe_ci_width, "slope": settings.slope_ci_width,
              "c": settings.c_ci_width}
    for stat in VALIDATION_STATISTICS:
        n, n_interp = _first_reaching(val["n"].to_numpy(), val[f"{stat}_width"].to_numpy(),
                                      widths[stat], higher_is_better=False,
                                      log_values=True)
        rows.append({"study": "validation", "criterion": stat,
                     "target": f"95% interval of {_LABELS[stat]} at most {widths[stat]:g} wide",
                     "simulated_n": n, "simulated_n_interpolated": n_interp,
                     "riley_n": riley_val.criterion(stat).n,
                     "riley_criterion": f"Riley 2021 {_LABELS[stat]}"})
    out = pd.DataFrame(rows)
    out["ratio"] = out["simulated_n_interpolated"] / out["riley_n"]
    return out


# ----------------------------------------------------------------------------- the plan
def plan_sample_size(params: Params, cohort: CohortParams, candidate: str,
                     settings: PlanSettings | None = None, *, fixed_model: Any = None,
                     fixed_model_name: str = "", progress: Progress | None = None) -> Plan:
    """Sample size for developing and for externally validating a model, by simulation.

    Parameters
    ----------
    params : Params
        Resolved parameters: ``params.label`` labels the rows, ``params.candidates[candidate]``
        is fitted, ``params.training.anticipated_c`` feeds Riley 2020's closed form.
    cohort : CohortParams
        The population (a preset, :func:`resorb.cohort.load_cohort_params`); its rows are
        drawn independently whatever its ``sampling``.
    candidate : str
        Candidate name in ``params.candidates``.
    settings : PlanSettings, optional
        Sizes, replicates, seed, workers, target; default :class:`PlanSettings()`.
    fixed_model : fitted estimator, optional
        The model of the external-validation study (with ``predict_proba`` on model input);
        default: the candidate fitted on ``settings.reference_rows`` drawn rows.
    fixed_model_name : str
        What ``fixed_model`` is, for ``info`` (no identifiers).
    progress : callable, optional
        ``progress(done, total)`` after each replicate.

    Returns
    -------
    Plan

    Notes
    -----
    With ``settings.workers > 1`` the replicates run in processes started by ``spawn``
    (fresh interpreters whose BLAS/OpenMP pools start with one thread), so, as for any
    ``multiprocessing`` code, the calling program must be importable: the CLI, a script
    file with an ``if __name__ == "__main__":`` guard or a notebook, not code piped on stdin.

    Raises
    ------
    ConfigError
        Unknown candidate or invalid settings.
    TrainingError
        A replicate cannot be fitted or validated (a size too small for two classes).
    """
    from resorb.cohort import make_cohort
    from resorb.metrics import auroc, minimum_sample_size, validation_sample_size
    from resorb.models import build_model, predict_resorption
    from resorb.training import count_parameters, prepare

    settings = settings or PlanSettings()
    if candidate not in params.candidates:
        raise ConfigError(f"unknown candidate {candidate!r}; params.yaml has "
                          f"{', '.join(params.candidates)}")
    spec = params.candidate(candidate)
    cohort = cohort.model_copy(update={"sampling": "iid"})
    seed = settings.seed

    # the large validation cohort of the development study, drawn once
    val_seed, _ = _seeds(seed, "validation_cohort", 0)
    val_data, X_val, _ = prepare(make_cohort(settings.validation_rows, seed=val_seed,
                                             params=cohort), params)
    y_val = val_data.y
    truth = val_data.frame["true_resorption_probability"].to_numpy(dtype=float)
    usable = len(y_val) / settings.validation_rows
    prevalence = float(y_val.mean())

    # the reference fit: parameter count, and the fixed model when none is given
    ref_seed, ref_model_seed = _seeds(seed, "reference", 0)
    ref_data, X_ref, _ = prepare(make_cohort(settings.reference_rows, seed=ref_seed,
                                             params=cohort), params)
    reference = build_model(spec, seed=ref_model_seed).fit(X_ref, ref_data.y)
    n_parameters = max(count_parameters(reference), 1)
    if fixed_model is None:
        fixed_model = reference
        fixed_model_name = (f"{candidate} fitted on {len(ref_data.y):,} usable rows "
                            f"of a fresh cohort")
    p_fixed = predict_resorption(fixed_model, X_val)
    lp_fixed = np.log(np.clip(p_fixed, _CLIP, 1 - _CLIP) / (1 - np.clip(p_fixed, _CLIP,
                                                                        1 - _CLIP)))
    fixed_auroc = auroc(y_val, p_fixed)
    fixed_oe = float(y_val.sum() / p_fixed.sum())

    # criterion (i) at the target's slope, so that the two answer the same question
    shrinkage = settings.target.value if settings.target.metric == "calibration_slope" \
        and 0 < settings.target.value < 1 else 0.9
    riley_dev = minimum_sample_size(n_parameters, prevalence, shrinkage=shrinkage,
                                    c_statistic=params.training.anticipated_c)
    riley_dev["shrinkage"] = shrinkage
    riley_val = validation_sample_size(prevalence, fixed_auroc, oe=fixed_oe,
                                       oe_ci_width=settings.oe_ci_width,
                                       slope_ci_width=settings.slope_ci_width,
                                       c_ci_width=settings.c_ci_width, lp_sample=lp_fixed)

    context = _Context(cohort=cohort, params=params, spec=spec, X_val=X_val, y_val=y_val,
                       truth_val=truth, fixed_model=fixed_model, usable_fraction=usable,
                       max_size=max(settings.sizes))
    dev_tasks = [(n, r, seed) for r in range(settings.replicates) for n in settings.sizes]
    val_tasks = [(settings.validation_sizes, r, seed) for r in range(settings.replicates)]
    dev_results: list[Any] = [None] * len(dev_tasks)
    val_results: list[Any] = [None] * len(val_tasks)
    total, done = len(dev_tasks) + len(val_tasks), [0]
    with _executor(context, settings.workers) as executor:
        _run("development", dev_tasks, dev_results, done, total, progress, executor)
        _run("validation", val_tasks, val_results, done, total, progress, executor)

    dev_reps = pd.DataFrame(dev_results).sort_values(["n", "replicate"], ignore_index=True)
    val_reps = pd.DataFrame([row for rows in val_results for row in rows]).sort_values(
        ["n", "replicate"], ignore_index=True)
    development = _development_table(dev_reps, settings.target, riley_dev, n_parameters)
    validation = _validation_table(val_reps, prevalence, fixed_auroc, fixed_oe, lp_fixed)
    summary = _summary(development, validation, settings.target, riley_dev, riley_val,
                       settings)
    info = {"candidate": candidate, "preset": cohort.preset, "n_parameters": n_parameters,
            "prevalence": prevalence, "validation_rows": len(y_val),
            "truth_auroc": auroc(y_val, truth), "anticipated_c": params.training.anticipated_c,
            "fixed_model": fixed_model_name, "fixed_model_auroc": fixed_auroc,
            "fixed_model_oe": fixed_oe, "target": settings.target.describe(),
            "target_value": settings.target.value, "target_column": settings.target.column,
            "replicates": settings.replicates, "seed": seed}
    return Plan(development=development, validation=validation, summary=summary,
                replicates=dev_reps, riley_development=riley_dev, riley_validation=riley_val,
                info=info)


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
