"""``resorb cohort``: generate, check and fit synthetic cohorts that follow the evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from resorb.cli.options import (
    Engine,
    Preset,
    domain_errors,
    err,
    noting_replacement,
    resolve_params,
)

cohort_app = typer.Typer(help="Synthetic cohorts that follow the published evidence.",
                         no_args_is_help=True, rich_markup_mode=None)


@cohort_app.command("generate")
@domain_errors
def cohort_generate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(
        help="Output file (.csv or .parquet); with --engine spark a folder.")],
    n: Annotated[int, typer.Option(min=1, help="Number of herniation episodes.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 2026,
    preset: Annotated[Preset, typer.Option(
        help="literature (pooled meta-analyses), komori1998, schmidt2025 or other_hospital "
        "(shifted prevalence and case mix).")] = Preset.LITERATURE,
    diameters: Annotated[bool, typer.Option(
        "--diameters", help="Also write what a routine MRI report gives instead of the "
        "volume, canal occupation and duration: herniation AP, transverse and craniocaudal "
        "diameters, the canal's AP diameter (mm) and the symptom onset date (docs/derived.md)."
        )] = False,
    engine: Annotated[Engine, typer.Option(
        help="'local' (this process, one file) or 'spark' (partitions drawn on Spark "
             "executors into a Parquet folder; pip install 'resorb[spark]').")
    ] = Engine.LOCAL,
    partitions: Annotated[int | None, typer.Option(
        min=1, help="--engine spark: partitions (each with its own seed spawned from --seed; "
                    "same seed and partitions, same bytes).",
        show_default="one per million rows")] = None,
    spark_master: Annotated[str, typer.Option(
        help="Spark master URL for --engine spark.")] = "local[*]",
) -> None:
    """Generate a synthetic cohort whose parameters follow the cited publications."""
    from resorb.cohort import load_cohort_params, make_cohort
    from resorb.cohort.size import CHECK_FROM, check_fits, peak_bytes_per_row
    from resorb.errors import InputError
    from resorb.files import check_output_path, write_table

    if engine is Engine.SPARK:
        if diameters:
            raise InputError("--diameters is not drawn by --engine spark yet; generate "
                             "with --engine local (any --n that fits in memory)")
        from resorb.spark import write_cohort

        cohort = load_cohort_params(preset.value, resolve_params(ctx))
        with noting_replacement(out):
            written = write_cohort(out, n=n, seed=seed, partitions=partitions, params=cohort,
                                   master=spark_master)
        typer.echo(f"wrote {written.rows:,} rows ({preset}, seed {seed}, "
                   f"{written.partitions} partitions) to {out}/ on Spark")
        return
    check_output_path(out, f"--out {out}")
    cohort = load_cohort_params(preset.value, resolve_params(ctx))
    if n >= CHECK_FROM:  # refused up front, not as numpy's ArrayMemoryError after a long wait
        check_fits(n, peak_bytes_per_row(
            lambda k: make_cohort(n=k, seed=seed, params=cohort, diameters=diameters)))
    frame = make_cohort(n=n, seed=seed, params=cohort, diameters=diameters)
    with noting_replacement(out):
        write_table(frame, out)
    typer.echo(f"wrote {len(frame):,} rows ({preset}, seed {seed}) to {out}")


def _check_memory(n: int, seed: int, cohort, instead: str) -> None:
    """Refuse ``--n`` rows that would not fit in memory, before any draw (exit 2): ``cohort
    check --n 10**12`` and ``cohort fit`` ended in numpy's ArrayMemoryError traceback."""
    from resorb.cohort import make_cohort
    from resorb.cohort.size import CHECK_FROM, check_fits, peak_bytes_per_row

    if n >= CHECK_FROM and seed >= 0:  # a negative seed is make_cohort's own message
        check_fits(n, peak_bytes_per_row(lambda k: make_cohort(n=k, seed=seed, params=cohort)),
                   instead=instead)


@cohort_app.command("check")
@domain_errors
def cohort_check(
    ctx: typer.Context,
    preset: Annotated[Preset, typer.Option(
        help="Preset whose targets to check.")] = Preset.LITERATURE,
    n: Annotated[int, typer.Option(min=100, help="Size of the simulated cohort.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2026,
) -> None:
    """Simulate a large cohort and compare it with every published target; exit 1 on a miss."""
    from resorb.cohort import check_fidelity, load_cohort_params
    from resorb.display import print_fidelity

    cohort = load_cohort_params(preset.value, resolve_params(ctx))
    _check_memory(n, seed, cohort, "the default 200,000, whose intervals are already "
                                   "narrower than the targets' tolerances")
    table = check_fidelity(preset=preset.value, n=n, seed=seed, params=cohort)
    print_fidelity(table, title=f"fidelity of preset '{preset}' (n={n:,}, seed {seed})")
    failed = int((~table["passed"].astype(bool)).sum())
    if failed:
        err(f"{failed} of {len(table)} targets missed")
        raise typer.Exit(1)
    typer.echo(f"all {len(table)} targets met")


@cohort_app.command("fit")
@domain_errors
def cohort_fit(
    ctx: typer.Context,
    preset: Annotated[Preset, typer.Option(
        help="Preset whose free parameters to fit.")] = Preset.LITERATURE,
    n: Annotated[int | None, typer.Option(
        help="Rows of the simulated cohort, at least 1,000 (default: the size params.yaml was "
             "fitted on, 200,000).")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed of the simulated cohort (default: the one params.yaml was fitted with).")
    ] = None,
) -> None:
    """Fit a preset's free parameters to its published targets; paste the output into params.yaml.

    Prints one "path: value" line per parameter. Fit literature first; the others inherit it.

    Slow at the default size. Check the result with `resorb cohort check`.
    """
    from resorb.cohort import load_cohort_params
    from resorb.cohort.fitting import SEED, N, fit_preset

    start = load_cohort_params(preset.value, resolve_params(ctx))
    n, seed = (N if n is None else n), (SEED if seed is None else seed)
    _check_memory(n, seed, start, f"the default {N:,}, the size params.yaml was fitted on")
    values = fit_preset(preset.value, start, n=n, seed=seed)
    for path, value in values.items():
        typer.echo(f"{path}: {value:.4g}")
