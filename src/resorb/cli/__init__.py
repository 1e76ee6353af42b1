"""The ``resorb`` command line: parse options, resolve the parameters, call one function, print.

Every command that needs parameters resolves them once (:func:`.options.resolve_params`:
packaged defaults, then ``--params FILE`` / ``$RESORB_PARAMS`` / ``./params.yaml``, then
``--set KEY=VALUE`` and the command's own options) and passes the typed sections down; the
commands that use MLflow open the store once (:func:`.options.open_store`). Fixed choices
are ``Enum`` s (:mod:`.options`), so a wrong one is a usage error (exit 2) before anything
runs, and so are conflicting options.

Heavy libraries (pandas, scikit-learn, mlflow, shap, even pydantic) are imported inside the
commands so that ``resorb --help`` answers at once. Domain errors
(:class:`resorb.errors.ResorbError`) become a one-line message on stderr and exit code 2; a
traceback means a bug.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from resorb.cli.cohort import cohort_app
from resorb.cli.evaluate import EVALUATE_HELP
from resorb.cli.evaluate import evaluate as evaluate_cmd
from resorb.cli.evaluate import evaluations as evaluations_cmd
from resorb.cli.models import models_app
from resorb.cli.options import (
    DataOpt,
    Engine,
    MappingOpt,
    PredictorsOpt,
    Preset,
    PresetOpt,
    Purpose,
    RegisterOpt,
    SchemaFormat,
    SeedOpt,
    SyntheticOpt,
    check_data_source,
    domain_errors,
    err,
    global_options,
    noting_replacement,
    open_store,
    resolve_params,
    worker_processes,
)
from resorb.cli.plan import plan_command
from resorb.cli.preload import ResorbApp
from resorb.cli.update import register_update

if TYPE_CHECKING:
    from resorb.config import Params

app = ResorbApp(  # a typer.Typer; see preload.py for what its call adds
    name="resorb",
    help="Predict spontaneous resorption of lumbar disc herniation under conservative care.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help formatter cost 0.3 s per start (options.py)
)
app.callback()(global_options)
app.add_typer(cohort_app, name="cohort")
app.add_typer(models_app, name="models")


@app.command()
@domain_errors
def validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per herniation.")],
    purpose: Annotated[Purpose, typer.Option(
        help="Which columns are required: 'any' (baseline predictors and red flags), "
             "'scoring' (same) or 'training' (also the follow-up horizon).")] = Purpose.ANY,
    mapping: Annotated[Path | None, typer.Option(
        help="YAML column mapping (renames, recodes, units) applied before checking.")] = None,
    model: Annotated[str | None, typer.Option(
        help="Check against what this model needs (a folder such as models/routine, or a "
             "registry URI): only its predictors are required and checked; others are "
             "ignored and listed.")] = None,
) -> None:
    """Check a file against the data dictionary; exit 0 when valid, 2 with a report when not.

    With --mapping, shows what the mapping did (renames, recodes, unit conversions, filtered
    rows) and then every remaining problem, with row numbers of the source file.
    """
    resolve_params(ctx)  # a wrong --params file or --set is exit 2 here as everywhere
    if model is not None:
        _validate_for_model(ctx, file, purpose, mapping, model)
        return
    if mapping is not None:
        from resorb.intake import describe, read_mapped

        frame, report, result = read_mapped(file, mapping, purpose=purpose.value)
        if result is not None:
            typer.echo(describe(result))
    else:
        from resorb.intake import check_file

        frame, report = check_file(file, purpose=purpose.value)
    if purpose is Purpose.TRAINING:
        report = _with_outcome_check(ctx, report, frame)
    for note in report.notes:
        err(f"warning: {note}")
    if report.ok:
        typer.echo(f"{file.name}: {report.summary()}")
        return
    err(f"{file.name}: {report.render()}")
    from resorb.intake import dialect_advice

    if hint := dialect_advice(file, mapping):
        err(f"hint: {hint}")
    raise typer.Exit(2)


def _with_outcome_check(ctx: typer.Context, report: Any, frame: Any) -> Any:
    """The report plus the outcome rule training applies (both classes among labelled rows)."""
    from dataclasses import replace

    from resorb.intake.check import outcome_problems

    problems = outcome_problems(frame, resolve_params(ctx).label) if len(frame) else []
    return replace(report, problems=(*report.problems, *problems)) if problems else report


def _validate_for_model(ctx: typer.Context, file: Path, purpose: Purpose,
                        mapping: Path | None, model: str) -> None:
    """``validate --model``: the file against one model's needs (exit 2 when it falls short)."""
    from resorb.intake import describe
    from resorb.scoring.frame import validate_for_model
    from resorb.scoring.model import is_registry_uri, load_model

    if is_registry_uri(model):
        open_store(resolve_params(ctx), only_if_present=True)
    loaded = load_model(model)
    frame, report, ignored, result = validate_for_model(file, loaded.features, mapping,
                                                        purpose.value)
    if purpose is Purpose.TRAINING:
        report = _with_outcome_check(ctx, report, frame)
    if result is not None:
        typer.echo(describe(result))
    typer.echo(f"model: {loaded.describe()}; '{loaded.predictor_set}' predictors: "
               f"{', '.join(loaded.predictors)}")
    if ignored:
        err(f"ignored (not predictors of this model): {', '.join(ignored)}")
    for note in report.notes:
        err(f"warning: {note}")
    if report.ok:
        typer.echo(f"{file.name}: {report.summary()}")
        return
    err(f"{file.name}: {report.render()}")
    raise typer.Exit(2)


@app.command("schema")
@domain_errors
def show_schema(
    ctx: typer.Context,
    fmt: Annotated[SchemaFormat, typer.Option(
        "--format", help="How to print it.")] = SchemaFormat.TABLE,
    sets: Annotated[bool, typer.Option(
        "--sets", help="Print the predictor sets instead: each predictor's membership and "
                       "why.")] = False,
) -> None:
    """Print the data dictionary: every column's role, type, unit and allowed values."""
    resolve_params(ctx)  # a wrong --params file or --set is exit 2 here as everywhere
    from resorb.display import markdown_table, print_dictionary
    from resorb.schema import dictionary_frame, predictor_sets_frame

    frame = predictor_sets_frame() if sets else dictionary_frame()
    if fmt is SchemaFormat.CSV:
        typer.echo(frame.to_csv(index=False), nl=False)
    elif fmt is SchemaFormat.MARKDOWN:
        typer.echo(markdown_table(frame))
    else:
        print_dictionary(frame)


# ---------------------------------------------------------------------------- training
def _progress(message: str) -> None:
    err(f"  .. {message}")


def _training_data(ctx: typer.Context, data: Path | None, synthetic: int | None,
                   preset: Preset, seed: int | None, mapping: Path | None,
                   predictors: str | None = None) -> tuple[Any, Params]:
    """Check the data options, resolve the parameters (--seed is ``training.seed``,
    --predictors ``training.predictors``), load."""
    from resorb.jobs import load_training_data

    check_data_source(data, synthetic, mapping)
    params = resolve_params(ctx, {"training.seed": seed, "training.predictors": predictors})
    td = load_training_data(data, synthetic, preset.value, params.training.seed, mapping, params)
    return td, params


def _print_selection(td: Any, params: Params) -> None:
    """The predictors the models are trained on, and those in the data they ignore."""
    from resorb.features import describe_selection, outside_predictors

    tp = params.training
    ignored = td.ignored or outside_predictors(td.frame, tp.predictor_columns)
    typer.echo(describe_selection(tp.predictor_set, tp.predictor_columns, ignored))


def _print_job(result, title: str) -> None:
    from resorb.display import print_leaderboard

    print_leaderboard(result.leaderboard, title=title)
    typer.echo(f"data: {result.account}")
    typer.echo(f"sample size: {result.sample_size}")
    for change in getattr(result, "adaptations", ()):
        typer.echo(f"small-sample adaptation: {change}")
    if getattr(result, "heuristic_shrinkage", None) is not None:
        typer.echo(f"heuristic shrinkage (van Houwelingen) of the unpenalised logistic "
                   f"design: {result.heuristic_shrinkage:.2f}")
    for note in getattr(result, "passed_over", ()):
        typer.echo(f"champion rule: passed over {note}")
    typer.echo(f"run: {result.run_id}  model: {result.model_uri}")
    if result.version:
        typer.echo(f"registered: resorb version {result.version}")
    typer.echo(f"tracking store: {result.tracking_uri}  (browse it with `resorb ui`)")


@app.command()
@domain_errors
def train(
    ctx: typer.Context,
    data: DataOpt = None,
    synthetic: SyntheticOpt = None,
    preset: PresetOpt = Preset.LITERATURE,
    seed: SeedOpt = None,
    mapping: MappingOpt = None,
    model: Annotated[str, typer.Option(help="Candidate name from params.yaml.")] = "logistic",
    register: RegisterOpt = False,
    strict: Annotated[bool, typer.Option(
        help="Refuse to train on real data below the Riley minimum sample size.")] = False,
    predictors: PredictorsOpt = None,
    jobs: Annotated[int, typer.Option(
        min=0, help="Worker processes for the folds, the final fit and the optimism "
                    "bootstrap (0: every core); the results are the same for any number.")] = 0,
) -> None:
    """Train one candidate, validate it (with intervals) and log it to MLflow."""
    from resorb.jobs import preflight, train_job

    td, params = _training_data(ctx, data, synthetic, preset, seed, mapping, predictors)
    preflight(td, params, [model], command="train")
    _print_selection(td, params)
    open_store(params)
    result = train_job(td, params, model, register=register, strict=strict, progress=_progress,
                       jobs=worker_processes(jobs))
    if not result.sample_size_ok:
        err(f"warning: below the minimum sample size. {result.sample_size}")
    for note in result.notes:
        err(f"warning: {note}")
    _print_job(result, f"{model}: validation ({td.source.describe()})")


@app.command()
@domain_errors
def compare(
    ctx: typer.Context,
    data: DataOpt = None,
    synthetic: SyntheticOpt = None,
    preset: PresetOpt = Preset.LITERATURE,
    seed: SeedOpt = None,
    mapping: MappingOpt = None,
    register: RegisterOpt = False,
    candidate: Annotated[list[str] | None, typer.Option(
        help="Compare only these candidates (repeat the option); default: all.")] = None,
    predictors: PredictorsOpt = None,
    jobs: Annotated[int, typer.Option(
        min=0, help="Worker processes for the folds and bootstraps (0: every core); the "
                    "results are the same for any number.")] = 0,
) -> None:
    """Compare every candidate on identical folds; the champion weighs calibration."""
    from resorb.jobs import compare_job, preflight

    td, params = _training_data(ctx, data, synthetic, preset, seed, mapping, predictors)
    preflight(td, params, candidate)
    _print_selection(td, params)
    open_store(params)
    result = compare_job(td, params, register=register, candidates=candidate,
                         progress=_progress, jobs=worker_processes(jobs))
    if not result.sample_size_ok:
        err(f"warning: below the minimum sample size. {result.sample_size}")
    for note in result.notes:
        err(f"warning: {note}")
    _print_job(result, f"leaderboard ({td.source.describe()}); champion: {result.champion}")


@app.command()
@domain_errors
def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Start the MLflow UI on the project's tracking store, on 127.0.0.1 only."""
    from resorb.browse import serve_ui

    serve_ui(port=port, announce=typer.echo, store_uri=resolve_params(ctx).tracking.uri)


@app.command("explain")
@domain_errors
def explain_cmd(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(
        help="Model: models:/resorb@champion (default), models:/resorb/3, or a folder.")] = None,
    data: DataOpt = None,
    synthetic: SyntheticOpt = None,
    preset: PresetOpt = Preset.LITERATURE,
    seed: SeedOpt = None,
    mapping: MappingOpt = None,
    rows: Annotated[int, typer.Option(min=10, help="Rows explained (a random sample).")] = 2000,
    out: Annotated[Path | None, typer.Option(
        help="Write per-row contributions (one column per variable) to CSV/Parquet, each "
             "row keyed by the identifiers present (patient_id, site, baseline_date, as "
             "score passes them through) and source_row (1-based data row of --data).")
    ] = None,
    predictors: PredictorsOpt = None,
) -> None:
    """SHAP contributions per clinical variable; global importance and beeswarm to MLflow.

    The model is explained on its own predictors (its card's set): the data need only
    those, and the others are ignored and listed. --predictors names the set the model must
    have been trained on (without --model: the reference predictor of that set when no
    registry is here); a model of another set is refused (exit 2), as evaluate and update do.
    """
    from resorb.display import print_frame
    from resorb.jobs import explain_job, load_training_data
    from resorb.scoring.model import load_for_predictors

    if out is not None:  # an unwritable place is refused before any work
        from resorb.errors import InputError
        from resorb.files import check_output_path

        check_output_path(out, f"--out {out}")
        if data is not None and out.exists() and data.exists() and out.samefile(data):
            raise InputError(f"--out {out}: the contributions would overwrite the --data file; "
                             "choose another")
    check_data_source(data, synthetic, mapping)
    params = resolve_params(ctx, {"training.seed": seed})
    open_store(params)
    loaded = load_for_predictors(model, predictors)
    params = params.with_predictors(loaded.predictors)  # the data need the model's only
    td = load_training_data(data, synthetic, preset.value, params.training.seed, mapping, params)
    if td.ignored:
        err(f"ignored, not predictors of this model: {', '.join(td.ignored)}")
    result = explain_job(loaded, td, params, rows=rows, seed=params.training.seed)
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

        with noting_replacement(out):
            write_table(result.table(), out)  # row keys first: joins back to the input
        typer.echo(f"contributions of {len(result.contributions):,} rows written to {out}")
    if result.run_id:
        typer.echo(f"plots logged to run {result.run_id} (see `resorb ui`)")


# ------------------------------------------------------------------------------- scoring
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
    ctx: typer.Context,
    input_file: Annotated[str, typer.Option(
        "--input", "-i", help="Candidates to score: CSV or Parquet, one row per herniation, "
                              "in the data dictionary's columns (or any, with --mapping). "
                              "With --engine spark also a folder of part files, a glob or a "
                              "URL Spark reads (hdfs://, s3a://, file://).")],
    output: Annotated[str, typer.Option(
        "--output", "-o", help="Scored table to write (.csv or .parquet); it appears only "
                               "once complete, an interrupted run leaves none. With --engine "
                               "spark a folder (or URL) of Parquet part files.")],
    model: Annotated[str | None, typer.Option(
        help="Registry URI (models:/resorb@champion, models:/resorb/3, runs:/ID/model) or an "
             "exported model folder. Without a registry here (no mlflow.db, no "
             "MLFLOW_TRACKING_URI) the default is the reference predictor models/reference, "
             "or models/routine when the file holds only the routine predictors; a file "
             "fitting neither is refused with what each would still need.",
        show_default="models:/resorb@champion")] = None,
    mapping: MappingOpt = None,
    horizon_days: Annotated[int | None, typer.Option(
        help="Horizon asked about, in days (1-3650), for rows without a followup_days value "
             "(a followup_days column wins row by row).",
        show_default="params.yaml scoring.horizon_days")] = None,
    explain: Annotated[int | None, typer.Option(
        "--explain", help="Reasons per patient (reason_1..reason_K: the K findings that "
                          "move the probability most); 0 disables.",
        show_default="params.yaml scoring.explain")] = None,
    chunk_rows: Annotated[int | None, typer.Option(
        help="Rows read, scored and written at a time; bounds memory.",
        show_default="params.yaml scoring.chunk_rows")] = None,
    engine: Annotated[Engine, typer.Option(
        help="Where the work runs: 'local' (this process) or 'spark' (Spark executors read "
             "--input, a file, folder or glob, score it and write --output as a Parquet "
             "folder with source_file and source_row; pip install 'resorb[spark]').")
    ] = Engine.LOCAL,
    spark_master: Annotated[str, typer.Option(
        help="Spark master URL for --engine spark.")] = "local[*]",
) -> None:
    """Score follow-up candidates from a file into a file (help text: ``_SCORE_HELP``)."""
    import signal

    from resorb.display import ScoreProgress
    from resorb.scoring import score_file
    from resorb.scoring.model import is_registry_uri

    params = resolve_params(ctx, {"scoring.horizon_days": horizon_days,
                                  "scoring.explain": explain, "scoring.chunk_rows": chunk_rows})
    if model is None or is_registry_uri(model):
        open_store(params, only_if_present=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Spark reads URLs and globs as given (a Path would fold hdfs:// into hdfs:/)
        spark = engine.value == "spark"
        source = input_file if spark else Path(input_file)
        target = output if spark else Path(output)
        with noting_replacement(target), ScoreProgress() as progress:  # note after the bar
            summary = score_file(source, target, model, mapping=mapping,
                                 engine=engine.value, spark_master=spark_master,
                                 params=params.scoring, progress=progress)
    except KeyboardInterrupt:
        err(f"interrupted: {output} not written (an existing file is left as it was)")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    rows_in = f"{summary.rows_in:,} row{'s' * (summary.rows_in != 1)}"
    err(f"{_input_name(input_file)}: {rows_in} in = {summary.scored:,} scored + "
        f"{summary.rejected:,} rejected -> {summary.output} ({summary.seconds:.1f} s)")
    err(f"model: {summary.model}")
    if summary.ignored_columns:
        err(f"ignored {len(summary.ignored_columns)} column"
            f"{'s' * (len(summary.ignored_columns) != 1)} not used for scoring: "
            f"{', '.join(c or repr(c) for c in summary.ignored_columns)}")
    if summary.unused_given:
        err(f"{summary.unused_given:,} scored row{'s' * (summary.unused_given != 1)} gave "
            f"values for predictors the model does not use "
            f"({', '.join(summary.unused_predictors)}): ignored, listed in out_of_range")
    for mismatch in summary.measured_otherwise:
        err(f"warning: {mismatch}: predictions may be miscalibrated (docs/derived.md)")
    if summary.rejections:
        common = "; ".join(f"{why} ({n:,})" for why, n in summary.rejections)
        err(f"rejected rows, commonest reasons: {common}")
    raise typer.Exit(summary.exit_code)


def _input_name(input_file: str) -> str:
    """The input as messages name it: a file's name, a folder's, a glob's or a URL's last part."""
    return input_file.rstrip("/").rsplit("/", 1)[-1] or input_file


# -------------------------------------------------------------------------------- report
@app.command("report")
@domain_errors
def report_cmd(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(
        help="Registry URI of the model: models:/resorb@champion, models:/resorb/3 or "
             "runs:/ID/model.", show_default="models:/resorb@champion")] = None,
    run: Annotated[str | None, typer.Option(
        "--run", help="MLflow run id whose model to report on (instead of --model).")] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    data: Annotated[Path | None, typer.Option(
        "--data", help="Table (CSV/Parquet) to compute SHAP explanations on, in the data "
                       "dictionary or read through --mapping; needed for a model trained on "
                       "real data (a synthetic model is explained on a fresh synthetic "
                       "cohort). Only the model's own predictors are read and checked.")] = None,
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", help="YAML column mapping from --data's columns, codes, units and "
                          "dialect to resorb's (the one train, evaluate and score take).")
    ] = None,
) -> None:
    """Write a model report a clinical reviewer can read: one self-contained HTML file.

    Intended use, data, label rule, sample size, discrimination and calibration with
    intervals, curves, subgroups, SHAP, the leaderboard and the TRIPOD+AI checklist; also
    logged to the model's MLflow run as report/report.html.
    """
    if model is not None and run is not None:
        raise typer.BadParameter("give --model or --run, not both")
    if mapping is not None and data is None:
        raise typer.BadParameter("--mapping applies to --data FILE; give the file it reads")
    from resorb.report.worker import explain_worker

    # the model's half (scikit-learn, matplotlib) on the second core while this process
    # opens the store (MLflow): forked before either imports anything heavy
    with explain_worker() as worker:
        params = resolve_params(ctx)
        open_store(params, only_if_present=True)
        from resorb.report import make_report

        with noting_replacement(out):
            result = make_report(params, model=model, run=run, out=out, data=data,
                                 worker=worker, mapping=mapping)
    typer.echo(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB) for {result.model} "
               f"in {result.seconds:.1f} s")
    if result.logged_as:
        typer.echo(f"logged to run {result.run_id} as {result.logged_as}")


# external validation (its own module)
app.command("evaluate", help=EVALUATE_HELP)(evaluate_cmd)
app.command("evaluations")(evaluations_cmd)
register_update(app)  # resorb update (cli/update.py)
app.command("plan")(plan_command)


def run() -> None:  # pragma: no cover - console entry for `python -m resorb`
    """Entry point used by ``python -m resorb``."""
    sys.exit(app())
