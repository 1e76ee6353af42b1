"""``resorb plan``: how many patients to develop or validate a model, by simulation.

Parses the options, checks every output location before anything runs, calls
:func:`resorb.planning.plan_sample_size`, prints the tables and writes the files (each
through :mod:`resorb.files`' atomic writers: an interrupted or failed run leaves none).
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from resorb.cli.options import (
    PredictorsOpt,
    domain_errors,
    err,
    noting_replacement,
    open_store,
    resolve_params,
)
from resorb.errors import InputError

if TYPE_CHECKING:
    from resorb.planning import Plan

DEFAULT_SIZES = "100,200,500,1000,2000"
DEFAULT_VALIDATION_SIZES = "200,500,1000,2000,4000"
OUT_FILES = ("development.csv", "validation.csv", "summary.csv", "learning_curve.png")
#: largest study size: a cohort of the literature preset takes about 300 bytes a row (30 MB
#: per 100,000 rows, measured with make_cohort), held by every worker and copied several
#: times while a candidate is fitted; 1,000,000 rows is about 0.3 GB a copy. Sizes of
#: 100,000,000 ran until memory was exhausted.
MAX_SIZE = 1_000_000


class TargetMetric(StrEnum):
    """Metrics a development target can be set on (:data:`resorb.planning.DEVELOPMENT_METRICS`)."""

    CALIBRATION_SLOPE = "calibration_slope"
    AUROC = "auroc"
    MAPE = "mape"


def parse_sizes(text: str, option: str) -> tuple[int, ...]:
    """``"100,200"`` -> ``(100, 200)``; a usage error (exit 2) naming the option otherwise."""
    sizes = []
    for part in text.split(","):
        part = part.strip().replace("_", "")
        if not part.isdigit() or int(part) < 20:
            raise typer.BadParameter(
                f"sizes must be whole numbers of at least 20 separated by commas, e.g. "
                f"{DEFAULT_SIZES}; got {part!r} in {text!r}", param_hint=option)
        if int(part) > MAX_SIZE:
            raise typer.BadParameter(
                f"{int(part):,} rows is more than the maximum {MAX_SIZE:,}: every worker "
                f"process holds a simulated cohort of that size (about 300 bytes a row, "
                f"{int(part) * 300 / 1e9:,.1f} GB here) and copies it while fitting; "
                f"Riley's closed-form minimum, printed by every run, is far smaller",
                param_hint=option)
        sizes.append(int(part))
    if len(set(sizes)) != len(sizes):
        raise typer.BadParameter(f"sizes must be distinct; got {text!r}", param_hint=option)
    return tuple(sorted(sizes))


def _writable_folder(folder: Path, what: str) -> None:
    from resorb.files import check_writable_folder

    check_writable_folder(folder, what)


def check_outputs(plot: Path | None, out: Path | None) -> None:
    """Refuse an output that cannot be written, before the simulation runs.

    Raises
    ------
    InputError
        ``--plot`` not ``.png`` or in a missing / read-only folder; ``--out`` a file, or a
        folder (or its parent, when it is to be created) that is not writable.
    """
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise InputError(f"--plot {plot}: the learning curve is a PNG image; name the "
                             f"file .png")
        _writable_folder(plot.resolve().parent, f"--plot {plot}")
    if out is not None:
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out} is a file; --out takes a folder for "
                             f"{', '.join(OUT_FILES)}")
        if out.is_dir():
            _writable_folder(out, f"--out {out}")
        else:
            _writable_folder(out.resolve().parent, f"--out {out}")


def _umask() -> int:
    """The process's file creation mask (reading it means setting it; put back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` through :func:`resorb.files.atomic_path`: whole or not at all."""
    from resorb.files import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(content)
        tmp.chmod(0o666 & ~_umask())  # mkstemp's file is private (0600)


def write_outputs(plan: Plan, plot: Path | None, out: Path | None) -> list[Path]:
    """Write the tables and the figure; every file appears whole or not at all.

    Every file goes through :mod:`resorb.files` (``atomic_path``; a new ``--out`` folder
    through ``atomic_folder``, filled under a temporary name and renamed when complete), so
    a failure or a kill leaves no partial file, and the next run removes a killed run's.
    """
    from resorb.figures import png_bytes
    from resorb.files import atomic_folder
    from resorb.planning import learning_curve_figure

    png = png_bytes(learning_curve_figure(plan))
    written = []
    if out is not None:
        contents = {"development.csv": plan.development, "validation.csv": plan.validation,
                    "summary.csv": plan.summary}
        blobs = {name: frame.to_csv(index=False).encode() for name, frame in contents.items()}
        blobs["learning_curve.png"] = png
        if out.is_dir():
            for name, blob in blobs.items():
                _write_atomically(out / name, blob)
        else:
            with atomic_folder(out) as staging:
                for name, blob in blobs.items():
                    _write_atomically(staging / name, blob)
        written += [out / name for name in blobs]
    if plot is not None:
        _write_atomically(plot, png)
        written.append(plot)
    return written


class _PlanProgress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __enter__(self) -> Any:
        self._bar = None
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("replicates"), TimeElapsedColumn(),
                             TimeRemainingColumn(), console=Console(stderr=True),
                             transient=True)
        self._bar.start()
        task = self._bar.add_task("plan", total=None)

        def update(done: int, total: int) -> None:
            self._bar.update(task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _print_plan(plan: Plan, seconds: float, workers: int) -> None:
    from resorb.display import print_frame

    info = plan.info
    dev = plan.development
    q = info["target_column"]
    cols = ["n", "events", "calibration_slope_mean", "calibration_slope_p2_5",
            "calibration_slope_p97_5", q, "riley_expected_shrinkage", "auroc_mean",
            "mape_mean", "target_met"]
    cols = list(dict.fromkeys(cols))
    print_frame(dev[cols], title=f"development: {info['candidate']} on {info['preset']}, "
                                 f"{info['replicates']} replicates per size; validated on "
                                 f"{info['validation_rows']:,} fresh usable rows")
    val = plan.validation
    print_frame(val[["n", "events", "oe_width", "oe_riley_width", "slope_width",
                     "slope_riley_width", "c_width", "c_riley_width"]],
                title=f"external validation of {info['fixed_model']}: 95% interval widths, "
                      "simulated and Riley 2021")
    print_frame(plan.summary[["study", "criterion", "target", "simulated_n",
                              "simulated_n_interpolated", "riley_n", "ratio"]],
                title="smallest n reaching each target, simulated and closed-form")
    riley = plan.riley_development
    typer.echo(f"Riley 2020: {riley['required_n']:,} rows ({riley['events_required']:,} events) "
               f"for {info['n_parameters']} candidate parameters at prevalence "
               f"{info['prevalence']:.2f} and anticipated C {info['anticipated_c']:.2f} "
               f"(criterion (i), shrinkage 0.9: {riley['n_shrinkage']:,}); binding: "
               f"{riley['binding']}.")
    typer.echo(plan.riley_validation.message())
    for row in plan.summary[plan.summary["study"] == "development"].itertuples(index=False):
        if row.simulated_n == row.simulated_n:  # not NaN
            typer.echo(f"{row.target}: reached at n = {row.simulated_n:,.0f} of the sizes "
                       f"tried (about {row.simulated_n_interpolated:,.0f} interpolated), "
                       f"{row.ratio:.2f} x Riley's {row.riley_n:,} ({row.riley_criterion}).")
        else:
            typer.echo(f"{row.target}: not reached by the largest size ({dev['n'].max():,}); "
                       f"Riley's {row.riley_criterion}: {row.riley_n:,}; try larger --sizes.")
    typer.echo(f"{seconds:.0f} s with {workers} worker process{'es' * (workers != 1)}")


def _jobs_option(jobs: int, workers: int | None, ctx: typer.Context) -> int:
    """Worker processes from ``--jobs`` (0: every core), or from the deprecated ``--workers``
    (named ``--jobs`` like ``train`` and ``compare``'s; still accepted, with a note)."""
    from resorb.parallel import resolve_jobs

    if workers is None:
        return resolve_jobs(jobs)
    source = ctx.get_parameter_source("jobs")  # typer's own click: compared by name
    if source is not None and source.name == "COMMANDLINE":
        raise typer.BadParameter("give --jobs (--workers is its old name), not both",
                                 param_hint="--workers")
    err("note: --workers is deprecated, use --jobs (the same number of worker processes)")
    return workers


def cap_workers(workers: int, tasks: int) -> int:
    """At most one worker per core and per replicate study running at a time.

    ``--jobs 1000`` started up to 1000 processes on 2 cores, each loading the libraries;
    the results are the same for any number of workers, so more than ``min(cores, tasks)``
    only costs memory. A one-line note says when the request was cut.

    Parameters
    ----------
    workers : int
        Requested worker processes (``--jobs``, already resolved: >= 1).
    tasks : int
        Replicate studies of the larger phase (development: replicates x sizes).

    Returns
    -------
    int
        ``min(workers, available cores, tasks)``, at least 1.
    """
    from resorb.parallel import available_cores

    cores = available_cores()
    capped = max(1, min(workers, cores, tasks))
    if capped < workers:
        err(f"note: --jobs {workers}: using {capped} worker process"
            f"{'es' * (capped != 1)} ({cores} core{'s' * (cores != 1)} available, "
            f"{tasks:,} replicate studies per phase); more would only cost memory")
    return capped


def plan(
    ctx: typer.Context,
    preset: Annotated[str | None, typer.Option(
        help="Population to simulate: a cohort preset of params.yaml (literature, "
             "komori1998, schmidt2025, ...).",
        show_default="literature, or the --model card's preset")] = None,
    model: Annotated[str | None, typer.Option(
        help="Plan for this model: its candidate and its training preset (from its card), "
             "and it is the model of the external-validation study. A registry URI "
             "(models:/resorb/3) or an exported folder (models/reference).")] = None,
    candidate: Annotated[str | None, typer.Option(
        help="Candidate of params.yaml to develop.",
        show_default="logistic, or the --model card's candidate")] = None,
    sizes: Annotated[str, typer.Option(
        help="Development sizes: usable (labelled) rows, comma-separated.")] = DEFAULT_SIZES,
    validation_sizes: Annotated[str, typer.Option(
        help="External validation sizes: usable rows, comma-separated.")
    ] = DEFAULT_VALIDATION_SIZES,
    replicates: Annotated[int, typer.Option(
        min=2, help="Replicate studies per size.")] = 50,
    seed: Annotated[int, typer.Option(
        min=0, help="Seed of every cohort and model: same seed, same tables.")] = 2026,
    validation_rows: Annotated[int, typer.Option(
        min=500, max=MAX_SIZE, help="Rows drawn for the large validation cohort.")] = 20_000,
    reference_rows: Annotated[int, typer.Option(
        min=500, max=MAX_SIZE, help="Rows drawn to fit the model of the external-validation "
                                    "study (without --model).")] = 20_000,
    jobs: Annotated[int, typer.Option(
        min=0, help="Worker processes, each single-threaded (0: every core); the results are "
                    "the same for any number.")] = 2,
    workers: Annotated[int | None, typer.Option(
        min=1, hidden=True, help="Deprecated name of --jobs.")] = None,
    target_metric: Annotated[TargetMetric, typer.Option(
        help="Development target metric.")] = TargetMetric.CALIBRATION_SLOPE,
    target_value: Annotated[float | None, typer.Option(
        help="Value the metric must reach (at least; at most for mape).",
        show_default="0.9 for calibration_slope")] = None,
    assurance: Annotated[float, typer.Option(
        min=0.5, max=0.99, help="Share of replicate studies that must reach the target.")
    ] = 0.8,
    plot: Annotated[Path | None, typer.Option(
        help="Write the learning curves to this PNG.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for development.csv, validation.csv, summary.csv and "
             "learning_curve.png (created if missing).")] = None,
    predictors: PredictorsOpt = None,
) -> None:
    """Sample size by simulation: learning curves for development and external validation.

    For each development size, cohorts are drawn from the preset, the candidate is fitted as
    training fits it, and its calibration slope, AUROC and error against the true
    probability are measured on a large fresh cohort; the smallest size reaching the target
    is set beside Riley's closed-form minimum. The same for validating a fixed model: the
    precision of O/E, slope and C at each size beside Riley 2021.
    """
    import time

    from resorb.cohort import load_cohort_params
    from resorb.planning import PlanSettings, Target, plan_sample_size, target_problem

    workers = _jobs_option(jobs, workers, ctx)
    dev_sizes = parse_sizes(sizes, "--sizes")
    val_sizes = parse_sizes(validation_sizes, "--validation-sizes")
    if target_value is None:
        if target_metric is not TargetMetric.CALIBRATION_SLOPE:
            raise typer.BadParameter(f"give the value {target_metric.value} must reach",
                                     param_hint="--target-value")
        target_value = 0.9
    if (problem := target_problem(target_metric.value, target_value)) is not None:
        raise typer.BadParameter(f"{problem}; e.g. 0.9 for calibration_slope, 0.7 for auroc, "
                                 "0.05 for mape", param_hint="--target-value")
    check_outputs(plot, out)
    params = resolve_params(ctx, {"training.predictors": predictors})
    fixed_model, fixed_name = None, ""
    if model is not None:
        from resorb.scoring.model import is_registry_uri, load_for_predictors

        if is_registry_uri(model):
            open_store(params, only_if_present=True)
        loaded = load_for_predictors(model, predictors)
        params = params.with_predictors(loaded.predictors)  # developed as the model was
        card = loaded.metadata
        if candidate is None:
            candidate = card.candidate
        if preset is None:
            if not card.data_source.synthetic:
                raise InputError(f"{loaded.describe()} was trained on real data: give "
                                 f"--preset, the population to simulate")
            preset = card.data_source.preset
        fixed_model, fixed_name = loaded.estimator, loaded.describe()
    candidate = candidate or "logistic"
    preset = preset or "literature"
    if candidate not in params.candidates:
        raise InputError(f"--candidate {candidate!r} is not a candidate of params.yaml; "
                         f"choose one of {', '.join(params.candidates)}")
    cohort = load_cohort_params(preset, params)
    workers = cap_workers(workers, replicates * max(len(dev_sizes), 1))
    settings = PlanSettings(sizes=dev_sizes, validation_sizes=val_sizes,
                            replicates=replicates, seed=seed, validation_rows=validation_rows,
                            reference_rows=reference_rows, workers=workers,
                            target=Target(target_metric.value, target_value, assurance))
    start = time.perf_counter()
    try:
        with _PlanProgress() as progress:
            result = plan_sample_size(params, cohort, candidate, settings,
                                      fixed_model=fixed_model, fixed_model_name=fixed_name,
                                      progress=progress)
    except KeyboardInterrupt:  # before any file is written: say so, as score does
        err("interrupted: nothing written")
        raise typer.Exit(130) from None
    seconds = time.perf_counter() - start
    _print_plan(result, seconds, workers)
    files = [out / name for name in OUT_FILES] if out is not None else []
    with noting_replacement(*files, plot):
        written = write_outputs(result, plot, out)
    for path in written:
        err(f"wrote {path}")


plan_command = domain_errors(plan)
