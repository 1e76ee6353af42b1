"""The ``resorb`` command line: parse options, call one function, print.

Heavy libraries (pandas, scikit-learn, mlflow, shap) are imported inside the commands so that
``resorb --help`` answers at once. Domain errors (:class:`resorb.errors.ResorbError`) become a
one-line message on stderr and exit code 2; a traceback means a bug.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from resorb.errors import ModelNotFoundError, ResorbError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="resorb",
    help="Predict spontaneous resorption of lumbar disc herniation under conservative care.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cohort_app = typer.Typer(help="Synthetic cohorts that follow the published evidence.",
                         no_args_is_help=True)
app.add_typer(cohort_app, name="cohort")


def err(message: str) -> None:
    """Print a message on stderr."""
    typer.echo(message, err=True)


def domain_errors(func: F) -> F:
    """Turn a :class:`ResorbError` into its message on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ResorbError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """resorb: audit-able resorption predictor for lumbar disc herniation."""
    if version:
        from resorb import __version__

        typer.echo(f"resorb {__version__}")
        raise typer.Exit(0)


@app.command()
@domain_errors
def validate(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per herniation.")],
    purpose: Annotated[str, typer.Option(
        help="Which columns are required: 'any' (baseline predictors and red flags), "
             "'scoring' (same) or 'training' (also the follow-up horizon).")] = "any",
    mapping: Annotated[Path | None, typer.Option(
        help="YAML column mapping (renames, recodes, units) applied before checking.")] = None,
) -> None:
    """Check a file against the data dictionary; exit 0 when valid, 2 with a report when not.

    With --mapping, shows what the mapping did (renames, recodes, unit conversions, filtered
    rows) and then every remaining problem, with row numbers of the source file.
    """
    if purpose not in ("any", "scoring", "training"):
        raise typer.BadParameter("choose 'any', 'scoring' or 'training'", param_hint="--purpose")
    if mapping is not None:
        from resorb.intake import describe, read_mapped

        _, report, result = read_mapped(file, mapping, purpose=purpose)  # type: ignore[arg-type]
        if result is not None:
            typer.echo(describe(result))
    else:
        from resorb.intake import check_file

        _, report = check_file(file, purpose=purpose)  # type: ignore[arg-type]
    if report.ok:
        typer.echo(f"{file.name}: {report.summary()}")
        return
    err(f"{file.name}: {report.render()}")
    raise typer.Exit(2)


@app.command("schema")
def show_schema(
    fmt: Annotated[str, typer.Option("--format", help="table, markdown or csv.")] = "table",
) -> None:
    """Print the data dictionary: every column's role, type, unit and allowed values."""
    from resorb.schema import dictionary_frame

    frame = dictionary_frame()
    if fmt == "csv":
        typer.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "markdown":
        typer.echo(_markdown(frame))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*frame.columns[:-1], title="resorb data dictionary")
        for row in frame.itertuples(index=False):
            table.add_row(*(str(v) for v in row[:-1]))
        Console().print(table)


def _markdown(frame: Any) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    sep = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


@cohort_app.command("generate")
@domain_errors
def cohort_generate(
    out: Annotated[Path, typer.Option(help="Output file (.csv or .parquet).")],
    n: Annotated[int, typer.Option(min=1, help="Number of herniation episodes.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 2026,
    preset: Annotated[str, typer.Option(
        help="literature (pooled meta-analyses), komori1998 or schmidt2025.")] = "literature",
) -> None:
    """Generate a synthetic cohort whose parameters follow the cited publications."""
    from resorb.cohort import make_cohort
    from resorb.files import check_output_path, write_table

    check_output_path(out)
    frame = make_cohort(n=n, seed=seed, preset=preset)
    write_table(frame, out)
    typer.echo(f"wrote {len(frame):,} rows ({preset}, seed {seed}) to {out}")


@cohort_app.command("check")
@domain_errors
def cohort_check(
    preset: Annotated[str, typer.Option(help="Preset whose targets to check.")] = "literature",
    n: Annotated[int, typer.Option(min=100, help="Size of the simulated cohort.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2026,
) -> None:
    """Simulate a large cohort and compare it with every published target; exit 1 on a miss."""
    from resorb.cohort import check_fidelity
    from resorb.display import print_fidelity

    table = check_fidelity(preset=preset, n=n, seed=seed)
    print_fidelity(table, title=f"fidelity of preset '{preset}' (n={n:,}, seed {seed})")
    failed = int((~table["passed"].astype(bool)).sum())
    if failed:
        err(f"{failed} of {len(table)} targets missed")
        raise typer.Exit(1)
    typer.echo(f"all {len(table)} targets met")


def run() -> None:  # pragma: no cover - console entry for `python -m resorb`
    """Entry point used by ``python -m resorb``."""
    sys.exit(app())


# ---------------------------------------------------------------- training and the registry
models_app = typer.Typer(help="The model registry: list, promote, export.", no_args_is_help=True)
app.add_typer(models_app, name="models")

DataOpt = Annotated[Path | None, typer.Option(
    "--data", help="Training table (CSV/Parquet) in the data dictionary, or with --mapping.")]
SyntheticOpt = Annotated[int | None, typer.Option(
    "--synthetic", min=50, help="Train on a synthetic cohort of N rows instead of a file.")]
PresetOpt = Annotated[str, typer.Option(help="Synthetic preset (with --synthetic).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the synthetic cohort and of every model.")]
MappingOpt = Annotated[Path | None, typer.Option(
    "--mapping", help="YAML column mapping from the file's columns and units to resorb's.")]
RegisterOpt = Annotated[bool, typer.Option(
    "--register", help="Add the model as a new version of the registered model 'resorb'.")]


def _progress(message: str) -> None:
    err(f"  .. {message}")


def _training_data(data, synthetic, preset, seed, mapping):
    from resorb.jobs import load_training_data

    return load_training_data(data, synthetic, preset, seed, mapping)


def _print_job(result, title: str) -> None:
    from resorb.display import print_leaderboard

    print_leaderboard(result.leaderboard, title=title)
    typer.echo(f"data: {result.account}")
    typer.echo(f"sample size: {result.sample_size}")
    typer.echo(f"run: {result.run_id}  model: {result.model_uri}")
    if result.version:
        typer.echo(f"registered: resorb version {result.version}")
    typer.echo(f"tracking store: {result.tracking_uri}  (browse it with `resorb ui`)")


@app.command()
@domain_errors
def train(
    data: DataOpt = None,
    synthetic: SyntheticOpt = None,
    preset: PresetOpt = "literature",
    seed: SeedOpt = 2026,
    mapping: MappingOpt = None,
    model: Annotated[str, typer.Option(help="Candidate name from params.yaml.")] = "logistic",
    register: RegisterOpt = False,
    strict: Annotated[bool, typer.Option(
        help="Refuse to train on real data below the Riley minimum sample size.")] = False,
) -> None:
    """Train one candidate, validate it (with intervals) and log it to MLflow."""
    from resorb.config import load_params
    from resorb.jobs import train_job

    params = load_params()
    td = _training_data(data, synthetic, preset, seed, mapping)
    result = train_job(td, params, model, register=register, strict=strict, progress=_progress)
    if not result.sample_size_ok:
        err(f"warning: below the minimum sample size. {result.sample_size}")
    _print_job(result, f"{model}: validation ({td.source.describe()})")


@app.command()
@domain_errors
def compare(
    data: DataOpt = None,
    synthetic: SyntheticOpt = None,
    preset: PresetOpt = "literature",
    seed: SeedOpt = 2026,
    mapping: MappingOpt = None,
    register: RegisterOpt = False,
    candidate: Annotated[list[str] | None, typer.Option(
        help="Compare only these candidates (repeat the option); default: all.")] = None,
) -> None:
    """Compare every candidate on identical folds; the champion weighs calibration."""
    from resorb.config import load_params
    from resorb.jobs import compare_job

    params = load_params()
    td = _training_data(data, synthetic, preset, seed, mapping)
    result = compare_job(td, params, register=register, candidates=candidate,
                         progress=_progress)
    if not result.sample_size_ok:
        err(f"warning: below the minimum sample size. {result.sample_size}")
    _print_job(result, f"leaderboard ({td.source.describe()}); champion: {result.champion}")


@models_app.command("list")
@domain_errors
def models_list() -> None:
    """Registered versions, their aliases, what each was trained on and key metrics."""
    from resorb import tracking
    from resorb.config import load_params
    from resorb.display import print_frame

    tracking.configure(load_params().tracking.get("uri"))
    frame = tracking.list_versions()
    if frame.empty:
        typer.echo("no registered versions yet: run `resorb compare --synthetic 5000 --register`")
        return
    print_frame(frame, title="registered model 'resorb'")


@models_app.command("promote")
@domain_errors
def models_promote(
    version: Annotated[str, typer.Argument(help="Version number to promote, or 'latest'.")],
    alias: Annotated[str, typer.Option(help="Alias to point at it.")] = "champion",
) -> None:
    """Point an alias (default: champion) at a version; the move is kept in the history."""
    from resorb import tracking
    from resorb.config import load_params

    tracking.configure(load_params().tracking.get("uri"))
    if version == "latest":
        versions = tracking.list_versions()
        if versions.empty:
            raise ModelNotFoundError("no registered version to promote; train with --register")
        version = str(int(versions["version"].max()))
    entry = tracking.promote(version, alias)
    was = f" (was version {entry['previous']})" if entry["previous"] else ""
    typer.echo(f"resorb@{alias} -> version {version}{was}, by {entry['by']} at {entry['at']}")


@app.command()
@domain_errors
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Start the MLflow UI on the project's tracking store, on 127.0.0.1 only."""
    from resorb.browse import serve_ui

    serve_ui(port=port, announce=typer.echo)


@app.command("explain")
@domain_errors
def explain_cmd(
    model: Annotated[str | None, typer.Option(
        help="Model: models:/resorb@champion (default), models:/resorb/3, or a folder.")] = None,
    data: DataOpt = None,
    synthetic: SyntheticOpt = None,
    preset: PresetOpt = "literature",
    seed: SeedOpt = 2026,
    mapping: MappingOpt = None,
    rows: Annotated[int, typer.Option(min=10, help="Rows explained (a random sample).")] = 2000,
    out: Annotated[Path | None, typer.Option(
        help="Write per-row contributions (one column per variable) to CSV/Parquet.")] = None,
) -> None:
    """SHAP contributions per clinical variable; global importance and beeswarm to MLflow."""
    from resorb.config import load_params
    from resorb.display import print_frame
    from resorb.jobs import explain_job

    td = _training_data(data, synthetic, preset, seed, mapping)
    result = explain_job(model, td, load_params(), rows=rows, seed=seed)
    table = result.importance.rename("mean |SHAP| (probability)").reset_index()
    print_frame(table.rename(columns={"index": "variable"}).head(15),
                title=f"what drives {result.model}")
    typer.echo(f"method: {result.method}; base value {result.base_value:.3f}")
    if result.agreement is not None:
        a = result.agreement
        shared = ", ".join(a["top_k_shared"])
        typer.echo(f"against the generator's true effects: Spearman {a['spearman']:.2f}, "
                   f"top-{a['k']} overlap {a['top_k_overlap']:.0%} ({shared})")
    if out is not None:
        from resorb.files import write_table

        write_table(result.contributions.reset_index(drop=True), out)
        typer.echo(f"contributions of {len(result.contributions):,} rows written to {out}")
    if result.run_id:
        typer.echo(f"plots logged to run {result.run_id} (see `resorb ui`)")


@models_app.command("history")
@domain_errors
def models_history() -> None:
    """Every alias move: which alias, to which version, from which, who and when."""
    import pandas as pd

    from resorb import tracking
    from resorb.config import load_params
    from resorb.display import print_frame

    tracking.configure(load_params().tracking.get("uri"))
    history = tracking.alias_history()
    if not history:
        typer.echo("no alias has been moved yet")
        return
    print_frame(pd.DataFrame(history), title="alias history")


@models_app.command("export")
@domain_errors
def models_export(
    to: Annotated[Path, typer.Option(help="Folder to export into (e.g. models/).")],
    alias: Annotated[str | None, typer.Option(help="Alias to export.")] = "champion",
    version: Annotated[str | None, typer.Option(help="Version (instead of an alias).")] = None,
    name: Annotated[str, typer.Option(help="Sub-folder name.")] = "reference",
) -> None:
    """Export a registered model (MLmodel + skops file + metadata) into a folder."""
    from resorb import tracking
    from resorb.config import load_params

    tracking.configure(load_params().tracking.get("uri"))
    uri = tracking.resolve_model_uri(alias=None if version else alias, version=version)
    path = tracking.export(uri, to / name)
    typer.echo(f"exported {uri} to {path}")


# ------------------------------------------------------------------------------- scoring
class _ScoreProgress:
    """A rich progress bar (rows, rows/s) on stderr when it is a terminal; silent otherwise."""

    def __enter__(self) -> Callable[[int, int | None], None] | None:
        self._bar = None
        if not sys.stderr.isatty():
            return None
        import time

        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("scoring"), BarColumn(),
                             TextColumn("{task.completed:,.0f}{task.fields[of]} rows"),
                             TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                             console=Console(stderr=True), transient=True)
        self._bar.start()
        task = self._bar.add_task("scoring", total=None, of="", rate="")
        start = [time.perf_counter()]

        def update(done: int, total: int | None) -> None:
            if done == 0:  # the model is loaded: rows/s counts from here
                start[0] = time.perf_counter()
            rate = done / max(time.perf_counter() - start[0], 1e-9)
            self._bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} rows/s",
                             of=f" of {total:,}" if total else "")

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so that SIGTERM, like Ctrl-C, removes the partial output


# Typer keeps single line breaks of a docstring in --help; these paragraphs are single lines
_SCORE_HELP = (
    "Score follow-up candidates: P(resorption), band, eligibility for waiting, reasons.\n\n"
    "One output row per input row, in input order, with the identifiers passed through. A row "
    "that breaks the data dictionary is kept as 'rejected' with its reasons. A red flag "
    "(cauda equina syndrome, progressive motor deficit) makes a patient ineligible for "
    "watchful waiting whatever the model says. Inputs outside the model's training ranges "
    "are listed.\n\n"
    "Exit codes: 0 every row scored; 3 some rows rejected (see the status and reason "
    "columns); 2 nothing scored (the output still lists every row), or bad input or usage "
    "(a required column absent, an unknown model: nothing is written)."
)


@app.command(help=_SCORE_HELP)
@domain_errors
def score(
    input_file: Annotated[Path, typer.Option(
        "--input", "-i", help="Candidates to score: CSV or Parquet, one row per herniation, "
                              "in the data dictionary's columns (or any, with --mapping).")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Scored table to write (.csv or .parquet); it appears only "
                               "once complete, an interrupted run leaves none.")],
    model: Annotated[str | None, typer.Option(
        help="Registry URI (models:/resorb@champion, models:/resorb/3, runs:/ID/model) or an "
             "exported model folder. Without a registry here (no mlflow.db, no "
             "MLFLOW_TRACKING_URI) the default is the reference predictor models/reference.",
        show_default="models:/resorb@champion")] = None,
    mapping: MappingOpt = None,
    horizon_days: Annotated[int | None, typer.Option(
        min=1, max=3650, help="Horizon asked about, in days, for rows without a followup_days "
                              "value (a followup_days column wins row by row).",
        show_default="params.yaml scoring.horizon_days, 180")] = None,
    explain: Annotated[int | None, typer.Option(
        "--explain", min=0, help="Reasons per patient (reason_1..reason_K: the K findings that "
                                 "move the probability most); 0 disables.",
        show_default="params.yaml scoring.explain, 3")] = None,
    chunk_rows: Annotated[int | None, typer.Option(
        min=1, help="Rows read, scored and written at a time; bounds memory.",
        show_default="params.yaml scoring.chunk_rows, 200000")] = None,
    engine: Annotated[str, typer.Option(
        help="Where the model runs: 'local' (this process) or 'spark' (a Spark UDF; "
             "pip install 'resorb\\[spark]').")] = "local",
    spark_master: Annotated[str, typer.Option(
        help="Spark master URL for --engine spark.")] = "local[*]",
) -> None:
    """Score follow-up candidates from a file into a file (help text: ``_SCORE_HELP``)."""
    import signal

    from resorb.config import load_params
    from resorb.scoring import score_file, scoring_params

    if engine not in ("local", "spark"):
        raise typer.BadParameter(f"choose 'local' or 'spark', not {engine!r}",
                                 param_hint="--engine")
    params = scoring_params(load_params())
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with _ScoreProgress() as progress:
            summary = score_file(input_file, output, model, mapping=mapping,
                                 horizon_days=horizon_days, explain_k=explain,
                                 chunk_rows=chunk_rows, engine=engine,
                                 spark_master=spark_master, params=params, progress=progress)
    except KeyboardInterrupt:
        err(f"interrupted: {output} not written (an existing file is left as it was)")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    err(f"{input_file.name}: {summary.rows_in:,} rows in = {summary.scored:,} scored + "
        f"{summary.rejected:,} rejected -> {summary.output} ({summary.seconds:.1f} s)")
    err(f"model: {summary.model}")
    if summary.ignored_columns:
        err(f"ignored {len(summary.ignored_columns)} column"
            f"{'s' * (len(summary.ignored_columns) != 1)} not used for scoring: "
            f"{', '.join(summary.ignored_columns)}")
    if summary.rejections:
        common = "; ".join(f"{why} ({n:,})" for why, n in summary.rejections)
        err(f"rejected rows, commonest reasons: {common}")
    raise typer.Exit(summary.exit_code)


# -------------------------------------------------------------------------------- report
@app.command("report")
@domain_errors
def report_cmd(
    model: Annotated[str | None, typer.Option(
        help="Registry URI of the model: models:/resorb@champion, models:/resorb/3 or "
             "runs:/ID/model.", show_default="models:/resorb@champion")] = None,
    run: Annotated[str | None, typer.Option(
        "--run", help="MLflow run id whose model to report on (instead of --model).")] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    data: Annotated[Path | None, typer.Option(
        "--data", help="Table in the data dictionary to compute SHAP explanations on; needed "
                       "for a model trained on real data (a synthetic model is explained on a "
                       "fresh synthetic cohort).")] = None,
) -> None:
    """Write a model report a clinical reviewer can read: one self-contained HTML file.

    Intended use, data, label rule, sample size, discrimination and calibration with
    intervals, curves, subgroups, SHAP, the leaderboard and the TRIPOD+AI checklist; also
    logged to the model's MLflow run as report/report.html.
    """
    from resorb.report import make_report

    result = make_report(model=model, run=run, out=out, data=data)
    typer.echo(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB) for {result.model} "
               f"in {result.seconds:.1f} s")
    if result.logged_as:
        typer.echo(f"logged to run {result.run_id} as {result.logged_as}")
