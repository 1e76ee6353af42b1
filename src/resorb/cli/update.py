"""``resorb update``: adapt a model to a hospital's own labelled patients."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from resorb.cli.options import (
    DataOpt,
    MappingOpt,
    PredictorsOpt,
    Preset,
    PresetOpt,
    SeedOpt,
    SyntheticOpt,
    check_data_source,
    domain_errors,
    err,
    noting_replacement,
    open_store,
    resolve_params,
)
from resorb.errors import InputError, TrainingError


class UpdateMethod(StrEnum):
    """How ``resorb update`` adapts the model (:data:`resorb.updating.CHOICES`)."""

    AUTO = "auto"
    INTERCEPT = "intercept"
    RECALIBRATE = "recalibrate"
    REVISE = "revise"
    REFIT = "refit"


# Typer keeps single line breaks of a docstring in --help; these paragraphs are single lines
_UPDATE_HELP = (
    "Update a model on a hospital's own labelled patients: recalibrate, revise or refit.\n\n"
    "The methods act on the parent's log-odds, so they work for every model: 'intercept' "
    "(recalibration in the large), 'recalibrate' (intercept and slope), 'revise' (intercept, "
    "slope and the main clinical predictors re-estimated with a penalty), 'refit' (the "
    "parent's candidate fitted from scratch). 'auto' chooses the least extensive adequate "
    "one by Vergouwe's closed testing procedure (Stat Med 2017;36:4529) at --alpha; when it "
    "keeps the parent, nothing is registered. The label rule and the exclusion of patients "
    "operated before follow-up are those of training.\n\n"
    "The updated model is registered as a new version of 'resorb' (in the tracking store "
    "here, created when absent: mlflow.db) whose card names the parent, the method, the "
    "tests and the data fingerprint; its performance is optimism-corrected. --out FOLDER "
    "also exports it as a model folder; --no-register --out FOLDER only exports it.\n\n"
    "Exit codes: 0 done (updated or kept); 2 bad input or usage (nothing registered or "
    "written)."
)


def update_cmd(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(
        help="Parent model: registry URI (models:/resorb@champion, models:/resorb/3, "
             "runs:/ID/model) or an exported model folder.",
        show_default="models:/resorb@champion, else the reference predictor")] = None,
    data: DataOpt = None,
    synthetic: SyntheticOpt = None,
    preset: PresetOpt = Preset.OTHER_HOSPITAL,
    seed: SeedOpt = None,
    mapping: MappingOpt = None,
    method: Annotated[UpdateMethod, typer.Option(
        help="auto (closed testing), intercept, recalibrate, revise or refit.")
    ] = UpdateMethod.AUTO,
    alpha: Annotated[float, typer.Option(
        help="Level of each likelihood-ratio test of the closed testing procedure, in "
             "(0, 1).")] = 0.05,
    register: Annotated[bool, typer.Option(
        "--register/--no-register", help="Register the updated model as a new version "
                                         "(--no-register needs --out).")] = True,
    out: Annotated[Path | None, typer.Option(
        help="Also write the updated model to this folder (as `resorb models export` "
             "does); an earlier exported model there is replaced, any other content is "
             "refused.")] = None,
    predictors: PredictorsOpt = None,
    strict: Annotated[bool, typer.Option(
        help="Refuse to update on real data below the Riley minimum sample size of the "
             "method (with --method auto: of the method the closed test chooses); exit 2, "
             "nothing registered or written.")] = False,
) -> None:
    """Update a model on new labelled data (help text: ``_UPDATE_HELP``)."""
    check_data_source(data, synthetic, mapping)
    if not register and out is None:
        raise typer.BadParameter("--no-register needs --out FOLDER: the updated model must "
                                 "go somewhere")
    if not 0 < alpha < 1:
        raise typer.BadParameter(f"--alpha must be a number between 0 and 1 (exclusive), the "
                                 f"level of each likelihood-ratio test, e.g. 0.05; got {alpha:g}")
    if out is not None:
        check_model_folder(out)
    from resorb.display import print_frame
    from resorb.jobs import load_training_data, record_update, update_job
    from resorb.scoring.model import is_registry_uri, load_for_predictors
    from resorb.updating import METHOD_WORDS

    params = resolve_params(ctx, {"training.seed": seed})
    if model is None or is_registry_uri(model):
        open_store(params, only_if_present=True)
    loaded = load_for_predictors(model, predictors)
    if out is not None and out.is_dir() and out.samefile(loaded.folder):
        # the parent (models/reference itself, without --model) was replaced by its update:
        # its own record, and the shipped predictor, gone with one "note: replaced"
        raise InputError(f"--out {out} is the folder of the parent model ({loaded.source}); "
                         f"the update would replace it: choose another --out (e.g. updated)")
    params = params.with_predictors(loaded.predictors)  # the data need the parent's only
    td = load_training_data(data, synthetic, preset.value, params.training.seed, mapping,
                            params)
    if td.ignored:
        err(f"ignored, not predictors of the parent model: {', '.join(td.ignored)}")
    real = td.source.kind == "real"  # as train --strict: synthetic data are never refused
    shortfall = _sample_size_shortfall(loaded, td, params, method.value)
    if shortfall and strict and real and method is not UpdateMethod.AUTO:
        raise TrainingError(f"--strict: {shortfall}")  # before any fit: nothing written
    if shortfall:
        err(f"warning: {shortfall}")
    outcome = update_job(loaded, td, params, method.value, alpha,
                         progress=lambda m: err(f"  .. {m}"))
    for mixed in outcome.measured_otherwise:
        err(f"warning: {mixed}")
    if outcome.measured_otherwise:
        err("warning: the update mixes measured and derived values (above): the updated model "
            "keeps what the parent learnt from one and re-estimates on the other, so its "
            "predictions may be miscalibrated; measure as the parent's training did "
            "(docs/derived.md)")
    parent = outcome.parent
    typer.echo("parent: " + (parent.describe() if is_registry_uri(parent.source) else
                             f"folder {parent.source} ({parent.metadata.candidate}, "
                             f"{parent.metadata.trained_on})"))
    typer.echo(f"data: {outcome.labelled.account()}")
    if outcome.update.test is not None:
        print_frame(outcome.update.test.table(),
                    title=f"closed testing procedure (Vergouwe 2017), alpha {alpha:g}")
    if strict and real and not outcome.kept and method is UpdateMethod.AUTO:
        # auto's warning above is about the revision it may fit; the guard is about the
        # method the closed test chose, checked before anything is registered or written
        chosen = _sample_size_shortfall(loaded, td, params, outcome.update.method)
        if chosen:
            raise TrainingError(f"--strict: the closed test chose {outcome.update.method}; "
                                f"{chosen}")
    board = outcome.parent_metrics[["metric", "estimate", "ci_low", "ci_high"]]
    if outcome.kept:
        print_frame(board, title="parent on the new data (bootstrap 95% intervals)")
        typer.echo(f"method: {METHOD_WORDS['keep']} (no test rejected it at alpha "
                   f"{alpha:g}); nothing registered or written")
        return
    after = outcome.metrics.set_index("metric")
    both = board.assign(updated=board["metric"].map(after["estimate"]),
                        updated_ci_low=board["metric"].map(after["ci_low"]),
                        updated_ci_high=board["metric"].map(after["ci_high"]))
    print_frame(both.rename(columns={"estimate": "parent"}),
                title="parent on the new data vs updated model (optimism-corrected)")
    typer.echo(f"method: {METHOD_WORDS[outcome.update.method]} ({outcome.update.method})")
    if register:
        open_store(params)
    with noting_replacement(out):
        recorded = record_update(outcome, params, register=register, out=out)
    if recorded.version:
        typer.echo(f"registered: resorb version {recorded.version} (parent "
                   f"{outcome.card.update.parent}); run {recorded.run_id}")
        typer.echo(f"tracking store: {recorded.tracking_uri}  (browse it with `resorb ui`)")
    if recorded.folder is not None:
        typer.echo(f"exported to {recorded.folder}")


def _sample_size_shortfall(loaded: Any, td: Any, params: Any, method: str) -> str | None:
    """Why the labelled rows are below Riley's minimum for the method (None: they are not).

    Counted on the rows the update uses (the label rule of ``params``; operated rows out);
    a file with one outcome class is left to :func:`resorb.jobs.update_job`'s message.
    ``update`` prints it as a warning, or refuses with it under ``--strict``.
    """
    from resorb.label import labelled_rows
    from resorb.updating import update_parameters, update_sample_size

    try:
        labelled = labelled_rows(td.frame, params.label)
    except TrainingError:
        return None
    refit = None
    if method == "refit":
        spec = params.candidates.get(loaded.metadata.candidate)
        if spec is None:
            return None  # update_job says why refit cannot run
        from resorb.features import model_input
        from resorb.training import candidate_parameters

        refit = candidate_parameters(params.with_predictors(loaded.predictors).candidate(
            loaded.metadata.candidate), model_input(labelled.frame, columns=loaded.features))
    check = update_sample_size(method, len(labelled.y), labelled.n_events,
                               refit_parameters=refit,
                               c_statistic=params.training.anticipated_c)
    if not check.below_minimum:
        return None
    k = update_parameters(method, refit)
    what = ("the revision its closed test fits" if method == "auto"
            else f"--method {method}")
    fewer = ""
    if method != "intercept":
        least = update_sample_size("intercept", len(labelled.y), labelled.n_events,
                                   c_statistic=params.training.anticipated_c)
        fewer = (f" Recalibration in the large (--method intercept, 1 parameter) needs "
                 f"{least.required_n:,} rows.")
    return (f"below the minimum sample size for updating by {what} ({k} "
            f"parameter{'s' * (k != 1)}). {check.message}{fewer}")


def register_update(app: typer.Typer) -> None:
    """Add ``resorb update`` to the application."""
    app.command("update", help=_UPDATE_HELP)(domain_errors(update_cmd))


def check_model_folder(out: Path) -> Path:
    """The folder ``--out`` may write a model into: new, empty, or an exported model's.

    Checked before any work, so that a refused folder costs no fit and registers nothing.

    Raises
    ------
    InputError
        Its parent is missing or not writable, it is a file, or it holds anything but an
        exported resorb model (whose files would be deleted).
    """
    from resorb.files import check_writable_folder
    from resorb.runs import ARTIFACTS

    check_writable_folder(out.resolve().parent, f"--out {out}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; --out names a folder for the model")
    if out.is_dir() and any(out.iterdir()) and not (
            (out / "MLmodel").is_file() and (out / ARTIFACTS.model_card).is_file()):
        shown = sorted(p.name for p in out.iterdir())
        raise InputError(f"--out {out} holds files that are not an exported resorb model "
                         f"({', '.join(shown[:3])}{'...' if len(shown) > 3 else ''}); they "
                         f"would be replaced: choose a new folder")
    return out
