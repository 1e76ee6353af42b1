"""``resorb evaluate`` and ``resorb evaluations``: external validation of a model, and its list.

Thin: parse, resolve the parameters, load the model and the data, call
:func:`resorb.evaluation.external_validation`, print, then write ``--out`` and log the run
(:func:`resorb.tracking.log_evaluation`) only once everything was computed, so that bad input
leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from resorb.cli.options import (
    MappingOpt,
    PredictorsOpt,
    Preset,
    PresetOpt,
    check_data_source,
    domain_errors,
    err,
    noting_replacement,
    open_store,
    resolve_params,
)

if TYPE_CHECKING:
    from resorb.evaluation import ExternalValidation

ModelOpt = Annotated[str | None, typer.Option(
    help="Model to validate: a registry URI (models:/resorb@champion, models:/resorb/3, "
         "runs:/ID/model) or an exported model folder. Default: the champion when a registry "
         "is here, else the reference predictor models/reference.",
    show_default="models:/resorb@champion or models/reference")]
#: the same model option for `evaluations`, which lists validations and validates nothing
ListedModelOpt = Annotated[str | None, typer.Option(
    help="Model whose validations to list: a registry URI (models:/resorb@champion, "
         "models:/resorb/3, runs:/ID/model) or an exported model folder. Default: the "
         "champion when a registry is here, else the reference predictor models/reference.",
    show_default="models:/resorb@champion or models/reference")]
#: the hierarchy as printed: estimates of the levels before a blank line, ideal values
_IDEAL = {"o_e_ratio": "1", "calibration_intercept": "0", "calibration_slope": "1", "ici": "0",
          "e50": "0", "e90": "0", "emax": "0", "auroc": "1 (0.5: chance)", "auprc": "1",
          "brier": "0", "scaled_brier": "1", "log_loss": "0",
          "net_benefit": "above waiting for all and 0", "net_benefit_treat_all": ""}


# Typer keeps single line breaks of a docstring in --help; these paragraphs are single lines
EVALUATE_HELP = (
    "External validation: how well a model predicts resorption in other patients.\n\n"
    "The data are labelled like training data: by the model card's label rule, patients "
    "operated before follow-up left out. Reported with bootstrap 95% intervals, in the order "
    "of the calibration hierarchy: O/E and calibration-in-the-large, calibration slope, "
    "flexible calibration curve (ICI, E50, E90, Emax), then AUROC, Brier and scaled Brier, and "
    "the decision curve; per-site and subgroup tables (groups under 10 rows hidden); Riley's "
    "minimum sample size for external validation.\n\n"
    "Exit codes: 0 done; 2 bad input (no model, no outcome, one outcome class, fewer than 10 "
    "events or non-events), with nothing written or logged."
)
DataOpt = Annotated[Path | None, typer.Option(
    "--data", help="Labelled table (CSV/Parquet) of other patients in the data dictionary, or "
                   "with --mapping; the outcome as resorbed, resorption_grade or volumes.")]
SeedOpt = Annotated[int | None, typer.Option(
    help="Seed of the synthetic cohort and of the bootstrap.",
    show_default="params.yaml training.seed")]


@domain_errors
def evaluate(
    ctx: typer.Context,
    model: ModelOpt = None,
    data: DataOpt = None,
    synthetic: Annotated[int | None, typer.Option(
        "--synthetic", min=50, help="Validate on a synthetic cohort of N rows (e.g. of another "
                                    "preset, or with --set cohort...) instead of a file.")] = None,
    preset: PresetOpt = Preset.LITERATURE,
    seed: SeedOpt = None,
    mapping: MappingOpt = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder to write metrics.csv, calibration.csv, decision_curve.csv, subgroups.csv, "
             "finding_subgroups.csv (calibration by herniation type x rim enhancement and by "
             "migration grade), calibration.png and decision.png into (all or nothing).")
    ] = None,
    track: Annotated[bool, typer.Option(
        "--track/--no-track", help="Log the evaluation to MLflow as a run linked to the "
                                   "model (aggregates only).")] = True,
    predictors: PredictorsOpt = None,
) -> None:
    """External validation of a model on other labelled data (help text: ``_EVALUATE_HELP``)."""
    from resorb.evaluation import check_output_folder, external_validation
    from resorb.jobs import load_training_data
    from resorb.scoring.model import is_registry_uri, load_for_predictors

    check_data_source(data, synthetic, mapping)
    params = resolve_params(ctx, {"training.seed": seed})
    if out is not None:
        check_output_folder(out)
    if model is None or is_registry_uri(model):
        open_store(params, only_if_present=True)
    loaded = load_for_predictors(model, predictors)
    params = params.with_predictors(loaded.predictors)  # the data need the model's only
    td = load_training_data(data, synthetic, preset.value, params.training.seed, mapping, params)
    if td.ignored:
        err(f"ignored, not predictors of this model: {', '.join(td.ignored)}")
    for note in td.notes:
        err(note)
    from resorb.intake.derive import measurement_mismatches

    for mismatch in measurement_mismatches(loaded.metadata.derived, td.derived, loaded.features):
        err(f"warning: {mismatch}: calibration measured here is that of a model fed data "
            f"measured otherwise (docs/derived.md)")
    ev = external_validation(loaded, td.frame, params, source=td.source)
    print_evaluation(ev)
    if out is not None:
        from resorb.evaluation import save_evaluation

        with noting_replacement(out):
            written = save_evaluation(ev, out)
        typer.echo(f"written: {written}/ (metrics, curves, subgroups, plots)")
    if track:
        from resorb import tracking
        from resorb.evaluation import evaluation_record

        uri = open_store(params)
        run_id = tracking.log_evaluation(evaluation_record(ev), dataset=(
            loaded.features, td.source, td.file_name))
        typer.echo(f"logged: evaluation run {run_id} in {uri} (see `resorb evaluations`)")


def print_evaluation(ev: ExternalValidation) -> None:
    """The evaluation on the terminal: hierarchy table, decision curve, subgroups, notes."""
    import math

    from rich.console import Console
    from rich.table import Table

    from resorb.display import print_finding_subgroups
    from resorb.evaluation import MEASURES

    console = Console(width=None if console_is_tty() else 160)
    console.print(f"[bold]{ev.model}[/bold]\non {ev.data_source.describe()}: {ev.account}")
    table = Table(title="external validation (95% bootstrap intervals)", title_justify="left")
    for name in ("level", "measure", "estimate (95% CI)", "ideal"):
        table.add_column(name)
    previous = ""
    for r in ev.metrics.itertuples(index=False):
        level, label = MEASURES[r.metric]
        if r.metric.startswith("net_benefit"):
            label = label.replace("the decision threshold", f"threshold {ev.decision_threshold:g}")
        decimals = 2 if r.metric in ("o_e_ratio", "calibration_intercept",
                                     "calibration_slope") else 3
        if previous and level != previous:
            table.add_section()
        table.add_row(level if level != previous else "", label,
                      _interval(r.estimate, r.ci_low, r.ci_high, decimals), _IDEAL[r.metric])
        previous = level
    console.print(table)
    d = ev.decision
    useful = d[(d["model"] > d["treat_all"]) & (d["model"] > 0)]["threshold"]
    where = (f" ({', '.join(f'{t:g}' for t in useful)})" if 0 < len(useful) < 6 else
             f" (from {useful.min():g} to {useful.max():g})" if len(useful) else "")
    console.print(f"decision curve: the model's net benefit exceeds waiting for all and for "
                  f"none at {len(useful)} of {len(d)} thresholds{where}")
    sub = Table(title="subgroups and sites (O/E = observed / mean predicted)",
                title_justify="left")
    for name in ("variable", "subgroup", "rows", "resorbed", "observed", "predicted",
                 "O/E (95% CI)", "AUROC", "slope"):
        sub.add_column(name)
    for r in ev.subgroups.itertuples(index=False):
        if r.note:
            sub.add_row(r.variable, r.subgroup, f"[dim]{r.note}[/dim]", *[""] * 6)
            continue

        def num(x: float, fmt: str) -> str:
            return "" if not math.isfinite(x) else format(x, fmt)

        sub.add_row(r.variable, r.subgroup, f"{int(r.rows):,}", f"{int(r.events):,}",
                    num(r.observed, ".1%"), num(r.predicted, ".1%"),
                    _interval(r.o_e_ratio, r.o_e_ci_low, r.o_e_ci_high, 2),
                    num(r.auroc, ".2f"), num(r.calibration_slope, ".2f"))
    console.print(sub)
    print_finding_subgroups(console, ev.finding_subgroups)
    for note in ev.notes:
        err(f"note: {note}")
    if ev.sample_size_ok is False:
        err(f"warning: below the minimum sample size for external validation. "
            f"{ev.sample_size}")
    elif ev.sample_size:
        typer.echo(ev.sample_size)


def console_is_tty() -> bool:
    """Whether standard output is a terminal (else tables are 160 characters wide)."""
    import sys

    return sys.stdout.isatty()


def _interval(estimate: float, low: float, high: float, decimals: int) -> str:
    """``0.98 (0.90 to 1.07)``, ``15.14 (9.02 to unbounded)`` for an infinite limit (the
    run's tag ``infinite_metrics``), the estimate alone when a limit is unknown, ``n/a``
    for NaN."""
    import math

    if not math.isfinite(estimate):
        return "n/a"
    if math.isnan(low) or math.isnan(high):
        return f"{estimate:.{decimals}f}"
    lo, hi = ("unbounded" if math.isinf(x) else f"{x:.{decimals}f}" for x in (low, high))
    return f"{estimate:.{decimals}f} ({lo} to {hi})"


@domain_errors
def evaluations(
    ctx: typer.Context,
    model: ListedModelOpt = None,
) -> None:
    """List a model's external validations logged by `resorb evaluate`, newest first."""
    from resorb import tracking
    from resorb.scoring.model import is_registry_uri, load_model

    params = resolve_params(ctx)
    if model is None or is_registry_uri(model):
        open_store(params, only_if_present=True)
    loaded = load_model(model)
    if open_store(params, only_if_present=True) is None:
        typer.echo(f"no tracking store here, so no evaluation of {loaded.describe()} is logged")
        return
    table = tracking.list_evaluations(model_sha256=loaded.metadata.skops_sha256)
    if table.empty:
        typer.echo(f"no evaluation of {loaded.describe()} yet: run `resorb evaluate`")
        return
    from resorb.display import print_frame

    shown = table[["started", "run_id", "evaluated_on", "rows", "events"]].copy()
    for m in ("o_e_ratio", "calibration_slope", "auroc"):
        shown[m] = [_interval(e, lo, hi, 2) for e, lo, hi in
                    zip(table[m], table[f"{m}_ci_low"], table[f"{m}_ci_high"], strict=True)]
    print_frame(shown, title=f"evaluations of {loaded.describe()}")
