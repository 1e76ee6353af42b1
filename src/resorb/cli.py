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

from resorb.errors import ResorbError

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
) -> None:
    """Check a file against the data dictionary; exit 0 when valid, 2 with a report when not."""
    from resorb.intake import check_file

    if purpose not in ("any", "scoring", "training"):
        raise typer.BadParameter("choose 'any', 'scoring' or 'training'", param_hint="--purpose")
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
