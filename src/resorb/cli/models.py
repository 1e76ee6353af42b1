"""``resorb models``: the model registry (list, promote, history, export)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from resorb.cli.options import domain_errors, noting_replacement, open_store, resolve_params
from resorb.errors import ModelNotFoundError

if TYPE_CHECKING:  # resorb.config (PyYAML, pydantic models) stays out of `resorb --help`
    from resorb.config import Params

#: what the reading commands say where no tracking store exists (they never create one)
NO_REGISTRY = ("no model registry here (no mlflow.db in this folder, MLFLOW_TRACKING_URI and "
               "params.yaml tracking.uri unset)")


def _no_registry(params: Params) -> str:
    """What the reading commands say where no store is: NO_REGISTRY, or, when
    MLFLOW_TRACKING_URI or params.yaml tracking.uri names a SQLite file that does not exist
    (a typo in its path), that file: "... unset" would be untrue there."""
    from resorb.config import named_store, tracking_uri

    uri = tracking_uri(params.tracking.uri)
    if not named_store(uri):
        return NO_REGISTRY
    return (f"no model registry at {uri} (MLFLOW_TRACKING_URI or params.yaml tracking.uri): "
            f"the file does not exist; fix the path, or unset it to use this folder's mlflow.db")


#: MLflow's rule for an alias (mlflow.utils.validation), checked here so that a bad alias is
#: exit 2 before the store opens, not an MlflowException traceback
_ALIAS = re.compile(r"[\w-]{1,255}")


def _check_alias(alias: str | None) -> str | None:
    """The alias, or a usage error saying what MLflow accepts."""
    if alias is None:
        return alias
    if not _ALIAS.fullmatch(alias):
        raise typer.BadParameter(f"{alias!r} is not an alias name: use 1-255 letters, digits, "
                                 "underscores (_) or dashes (-), e.g. champion",
                                 param_hint="--alias")
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise typer.BadParameter(f"{alias!r} is reserved by MLflow ('latest' and v<number> "
                                 "name versions); choose another, e.g. champion",
                                 param_hint="--alias")
    return alias


def _check_name(name: str) -> str:
    """The sub-folder name, refused when it is a path that would leave --to."""
    if not name or name in (".", "..") or Path(name).name != name:
        raise typer.BadParameter(f"{name!r} is not a folder name: give a plain name (e.g. "
                                 "reference); the folder is made inside --to", param_hint="--name")
    return name


models_app = typer.Typer(help="The model registry: list, promote, export.", no_args_is_help=True,
                         rich_markup_mode=None)


@models_app.command("list")
@domain_errors
def models_list(ctx: typer.Context) -> None:
    """Registered versions, their aliases, what each was trained on and key metrics."""
    from resorb import tracking
    from resorb.display import print_frame

    params = resolve_params(ctx)
    if open_store(params, only_if_present=True) is None:  # never creates one
        typer.echo(_no_registry(params))
        return
    frame = tracking.list_versions()
    if frame.empty:
        typer.echo("no registered versions yet: run `resorb compare --synthetic 5000 --register`")
        return
    print_frame(frame, title="registered model 'resorb'")


@models_app.command("promote")
@domain_errors
def models_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number to promote, or 'latest'.")],
    alias: Annotated[str, typer.Option(help="Alias to point at it.",
                                       callback=_check_alias)] = "champion",
) -> None:
    """Point an alias (default: champion) at a version; the move is kept in the history."""
    from resorb import tracking

    params = resolve_params(ctx)
    if open_store(params, only_if_present=True) is None:
        raise ModelNotFoundError(f"{_no_registry(params)}, so no version to promote")
    if version == "latest":
        versions = tracking.list_versions()
        if versions.empty:
            raise ModelNotFoundError("no registered version to promote; train with --register")
        version = str(int(versions["version"].max()))
    entry = tracking.promote(version, alias)
    was = f" (was version {entry['previous']})" if entry["previous"] else ""
    typer.echo(f"resorb@{alias} -> version {version}{was}, by {entry['by']} at {entry['at']}")


@models_app.command("history")
@domain_errors
def models_history(ctx: typer.Context) -> None:
    """Every alias move: which alias, to which version, from which, who and when."""
    import pandas as pd

    from resorb import tracking
    from resorb.display import print_frame

    params = resolve_params(ctx)
    if open_store(params, only_if_present=True) is None:  # never creates one
        typer.echo(_no_registry(params))
        return
    history = tracking.alias_history()
    if not history:
        typer.echo("no alias has been moved yet")
        return
    print_frame(pd.DataFrame(history), title="alias history")


@models_app.command("export")
@domain_errors
def models_export(
    ctx: typer.Context,
    to: Annotated[Path, typer.Option(help="Folder to export into (e.g. models/).")],
    alias: Annotated[str | None, typer.Option(help="Alias to export.",
                                              callback=_check_alias)] = "champion",
    version: Annotated[str | None, typer.Option(help="Version (instead of an alias).")] = None,
    name: Annotated[str, typer.Option(help="Sub-folder name.",
                                      callback=_check_name)] = "reference",
) -> None:
    """Export a registered model (MLmodel + skops file + metadata) into a folder."""
    from resorb import tracking
    from resorb.files import check_creatable_folder

    check_creatable_folder(to / name, f"--to {to}")  # before the store is opened
    params = resolve_params(ctx)
    if open_store(params, only_if_present=True) is None:
        raise ModelNotFoundError(f"{_no_registry(params)}, so nothing to export")
    uri = tracking.resolve_model_uri(alias=None if version else alias, version=version)
    with noting_replacement(to / name):
        path = tracking.export(uri, to / name, verify=True)
    typer.echo(f"exported {uri} to {path}")
