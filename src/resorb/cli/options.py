"""What the commands share at the edge: fixed choices, common options, parameters, the store.

- the fixed choices as ``Enum`` s (a wrong one is a usage error, exit 2, before anything
  runs); each mirrors the core's own list, since importing the core here would slow down
  ``resorb --help`` (tests/test_cli.py checks that they agree);
- :class:`GlobalOptions`, what ``resorb --params FILE --set KEY=VALUE`` asked for, and
  :func:`resolve_params`, which turns them and a command's own options into one
  :class:`resorb.config.Params` (once per command);
- :func:`open_store`, the one call of :func:`resorb.tracking.configure`;
- :func:`check_data_source`, the usage conflicts of the training-data options;
- :func:`noting_replacement`, the one-line note of every command that replaced an output.

Only typer is imported at module level.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from resorb.errors import ResorbError

if TYPE_CHECKING:
    from resorb.config import Params

log = logging.getLogger("resorb")


class Purpose(StrEnum):
    """Which columns ``resorb validate`` requires (:data:`resorb.intake.Purpose`)."""

    ANY = "any"
    SCORING = "scoring"
    TRAINING = "training"


class SchemaFormat(StrEnum):
    """How ``resorb schema`` prints the data dictionary."""

    TABLE = "table"
    MARKDOWN = "markdown"
    CSV = "csv"


class Preset(StrEnum):
    """Synthetic-cohort presets (:class:`resorb.config.Preset`)."""

    LITERATURE = "literature"
    KOMORI1998 = "komori1998"
    SCHMIDT2025 = "schmidt2025"
    OTHER_HOSPITAL = "other_hospital"


class Engine(StrEnum):
    """Where ``resorb score`` runs the model (:data:`resorb.scoring.batch.Engine`)."""

    LOCAL = "local"
    SPARK = "spark"


DataOpt = Annotated[Path | None, typer.Option(
    "--data", help="Table (CSV/Parquet), one row per herniation, in the data dictionary or "
             "read through --mapping.")]
SyntheticOpt = Annotated[int | None, typer.Option(
    "--synthetic", min=50, help="Use a synthetic cohort of N rows instead of a file.")]
PresetOpt = Annotated[Preset, typer.Option(help="Synthetic preset (with --synthetic).")]
SeedOpt = Annotated[int | None, typer.Option(
    min=0, max=2**32 - 1, help="Seed of the synthetic cohort and of every model.",
    show_default="params.yaml training.seed")]
MappingOpt = Annotated[Path | None, typer.Option(
    "--mapping", help="YAML column mapping from the file's columns and units to resorb's.")]
PredictorsOpt = Annotated[str | None, typer.Option(
    "--predictors", help="Predictors: a set (full: every predictor; routine: a routine MRI "
                         "report and intake form, see `resorb schema --sets`) or predictor "
                         "names, comma-separated (routine,herniation_volume_mm3). Predictors "
                         "outside it are ignored, and listed.",
    show_default="params.yaml training.predictors (full)")]
RegisterOpt = Annotated[bool, typer.Option(
    "--register", help="Add the model as a new version of the registered model 'resorb'.")]


@dataclass(frozen=True)
class GlobalOptions:
    """What the options before the command (``resorb --params F --set K=V cmd``) asked for."""

    params_file: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)


def _print_version(value: bool) -> None:
    """``resorb --version``: eager, so it needs no command after it."""
    if value:
        from resorb import __version__

        typer.echo(f"resorb {__version__}")
        raise typer.Exit(0)


def global_options(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Log resorb's own steps (DEBUG) on stderr.")] = False,
    params_file: Annotated[Path | None, typer.Option(
        "--params", help="Project parameter file: only the keys it changes; they override "
                         "the packaged defaults (mappings merge key by key).",
        show_default="$RESORB_PARAMS, else ./params.yaml when present")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE", help="Override one parameter, e.g. --set "
        "training.folds=3 (YAML value; repeat the option). Wins over the files.")] = None,
) -> None:
    """resorb: audit-able resorption predictor for lumbar disc herniation."""
    if verbose:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("resorb").setLevel(logging.DEBUG)
    else:  # MLflow's INFO lines and download progress bars only with --verbose
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # against a server MLflow prints "View run ... at: URL" on stdout at each run's end
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    ctx.obj = GlobalOptions(params_file, parse_overrides(overrides or []))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["training.folds=3"]`` -> ``{"training.folds": 3}`` (values read as YAML).

    Raises
    ------
    typer.BadParameter
        An item without ``=`` or a key, or a value that is not YAML.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        import yaml

        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise typer.BadParameter(f"{item!r}: the value is not YAML",
                                     param_hint="--set") from None
    return out


def resolve_params(ctx: typer.Context, options: Mapping[str, Any] | None = None) -> Params:
    """The command's parameters: files, then ``--set``, then its own options (None: not given).

    Raises
    ------
    ConfigError
        Naming the file or "command line", the key, what was expected and what was found.
    """
    from resorb.config import Params
    from resorb.errors import ConfigError

    given = ctx.find_object(GlobalOptions) or GlobalOptions()
    typed = {k: v for k, v in (options or {}).items() if v is not None}
    cli = {**given.overrides, **typed}
    try:
        params = Params.resolve(given.params_file, cli)
    except ConfigError as exc:
        raise ConfigError(_as_options(str(exc), option_names(ctx, typed))) from None
    log.debug("parameters: packaged defaults, project file %s, command line %s (digest %s)",
              given.params_file or "./params.yaml or $RESORB_PARAMS if present",
              sorted(cli) or "none", params.digest())
    return params


def option_names(ctx: typer.Context, keys: Iterable[str]) -> dict[str, str]:
    """The option the user typed for each params key a command's option sets.

    A key's option is the command's parameter named like the key's last part
    (``scoring.explain`` -> ``--explain``, ``scoring.horizon_days`` -> ``--horizon-days``,
    ``training.seed`` -> ``--seed``); keys without one are left out (their errors keep the
    key, as for ``--set``).
    """
    params = {p.name: p for p in ctx.command.params}
    out = {}
    for key in keys:
        param = params.get(key.rsplit(".", 1)[-1])
        longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
        if longs:
            out[key] = longs[0]
    return out


def _as_options(message: str, names: Mapping[str, str]) -> str:
    """A params error about keys set by options, rewritten to name the options.

    ``command line: 'scoring.explain' input should be ...`` ->
    ``--explain: input should be ... (params key scoring.explain)``.
    """
    from resorb.config.params import COMMAND_LINE

    lines = []
    for line in message.splitlines():
        for key, option in names.items():
            prefix = f"{COMMAND_LINE}: '{key}' "
            if prefix in line:
                line = line.replace(prefix, f"{option}: ") + f" (params key {key})"
        lines.append(line)
    return "\n".join(lines)


def open_store(params: Params, *, only_if_present: bool = False) -> str | None:
    """Point MLflow at the tracking store of ``params.tracking``; returns its URI.

    With ``only_if_present``, only when a registry is set up here (``$MLFLOW_TRACKING_URI``
    or ``mlflow.db`` in the working folder): reading commands never create one.
    """
    from resorb.config import store_present, tracking_uri

    if only_if_present and not store_present(params.tracking.uri):
        return None
    from resorb.config.database import masked_uri, unreachable_database

    wanted = tracking_uri(params.tracking.uri)
    why = None
    if wanted.startswith("sqlite:///"):
        status = "local"  # no server to ask, and no scoring package (scikit-learn) to import
    elif "://" in wanted and not wanted.startswith(("http://", "https://")):
        why = unreachable_database(wanted)  # a TCP connect, seconds at most
        status = "unknown" if why is None else "unreachable"
    else:
        from resorb.scoring.model import server_registry

        status = server_registry(wanted)
    if status == "unreachable":  # MLflow would retry for minutes, then raise
        from resorb.errors import ConfigError

        what = "server" if why is None else "database"
        raise ConfigError(f"the tracking {what} {masked_uri(wanted)} cannot be reached"
                          f"{f' ({why})' if why else ''}; start it, or fix "
                          f"MLFLOW_TRACKING_URI (params.yaml tracking.uri), or unset it to "
                          f"keep runs in mlflow.db here; score, evaluate, explain and update "
                          f"also take --model FOLDER (an exported model such as "
                          f"models/reference)")
    from resorb import tracking

    uri = tracking.configure(params.tracking.uri)
    log.debug("tracking store: %s", uri)
    return uri


def check_data_source(data: Path | None, synthetic: int | None, mapping: Path | None) -> None:
    """Usage conflicts of the training-data options, checked before anything runs."""
    if (data is None) == (synthetic is None):
        raise typer.BadParameter("give either --data FILE or --synthetic N, "
                                 + ("not both" if data is not None else "neither was given"))
    if mapping is not None and data is None:
        raise typer.BadParameter("--mapping applies to --data FILE, not to --synthetic")


def worker_processes(jobs: int) -> int:
    """Worker processes for ``--jobs`` of ``train`` and ``compare``: 0 -> every core, and at
    most one per available core, with a note when the request is cut.

    ``--jobs 100000`` started one loky worker per bootstrap resample (200 on 2 cores, each
    importing scikit-learn) and ran past 120 s where ``--jobs 2`` takes seconds. The results
    are the same for any number, so more processes than cores only cost memory.
    """
    from resorb.parallel import available_cores, resolve_jobs

    wanted = resolve_jobs(jobs)
    cores = available_cores()
    if wanted > cores:
        err(f"note: --jobs {wanted}: using {cores} worker process{'es' * (cores != 1)} "
            f"({cores} core{'s' * (cores != 1)} available); more would only cost memory, "
            f"the results are the same")
    return min(wanted, cores)


F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> None:
    """Print a message on stderr."""
    typer.echo(message, err=True)


@contextlib.contextmanager
def noting_replacement(*paths: str | os.PathLike[str] | None) -> Iterator[None]:
    """Around a block that writes ``paths`` (files or folders) by replacing them whole: once
    the block succeeds, one line on stderr naming each that existed before.

    Every command that writes an output keeps replacing it (scripts rely on that, and the
    write stays atomic); the note tells a person that a file of the same name was there.
    Nothing is printed when the block fails (an existing output is then left as it was).
    None, and URLs (which only Spark can see), are skipped.
    """
    existing = [Path(p) for p in paths
                if p is not None and "://" not in str(p) and Path(p).exists()]
    yield
    for path in existing:
        err(f"note: replaced the existing {'folder' if path.is_dir() else 'file'} {path}")


def domain_errors(func: F) -> F:
    """Turn a :class:`ResorbError` into its message on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ResorbError as exc:
            _discard_new_store()
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            # Ctrl-C in train/compare/evaluate ended with exit 130 and not a word, leaving an
            # empty mlflow.db when it came before the first run was logged
            _discard_new_store()
            err("interrupted (exit 130); runs logged before it stay in the tracking store")
            raise typer.Exit(130) from None
        except Exception as exc:
            refused = _server_refused(exc)
            if refused is None:
                raise
            err(f"error: {refused}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _discard_new_store() -> None:
    """A failed command leaves no empty ``mlflow.db`` (``resorb.tracking.discard_new_store``)."""
    tracking = sys.modules.get("resorb.tracking")  # never imported here just for this
    if tracking is not None:
        tracking.discard_new_store()


def _server_refused(exc: Exception) -> str | None:
    """The message for MLflow's HTTP 401/403 raised outside :func:`open_store`, else None.

    Only an exception from MLflow's own modules is looked at, so mlflow is never imported
    here (it is, by then, if the exception came from it).
    """
    if not type(exc).__module__.startswith("mlflow"):
        return None
    text = str(exc)
    if getattr(exc, "error_code", "") not in ("UNAUTHENTICATED", "PERMISSION_DENIED") and not any(
            s in text for s in ("error code 401", "error code 403")):
        return None
    from resorb import tracking
    from resorb.config import tracking_uri

    return tracking.refused_message(tracking_uri(), text)
