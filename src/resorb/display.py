"""Terminal output (rich) for the CLI: fidelity targets, leaderboards, model lists, progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def _console():
    from rich.console import Console

    # wide enough for the tables when output is piped to a file or a CI log
    return Console(width=None if sys.stdout.isatty() else 160)


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if pd.isna(value):
            return ""
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def print_frame(frame: pd.DataFrame, title: str = "", styles: dict[str, str] | None = None) -> None:
    """Print a DataFrame as a rich table, floats to three significant digits."""
    from rich.table import Table

    table = Table(title=title or None, show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), style=(styles or {}).get(str(col)))
    for row in frame.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    _console().print(table)


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (values as ``str``)."""
    head = "| " + " | ".join(frame.columns) + " |"
    sep = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def print_dictionary(frame: pd.DataFrame) -> None:
    """Print the data dictionary (:func:`resorb.schema.dictionary_frame`) as a rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*frame.columns[:-1], title="resorb data dictionary")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row[:-1]))
    Console().print(table)


def print_fidelity(table: pd.DataFrame, title: str = "") -> None:
    """Print the fidelity table with pass/fail coloured."""
    shown = table.copy()
    shown["passed"] = [("[green]pass[/green]" if ok else "[red]FAIL[/red]")
                       for ok in table["passed"].astype(bool)]
    print_frame(shown, title=title)


LEADERBOARD_COLUMNS = {  # leaderboard column -> terminal header (the CSV artifact has all)
    "auroc": "AUROC (95% CI)", "calibration_slope": "cal. slope (95% CI)",
    "calibration_intercept": "cal. intercept", "ici": "ICI (95% CI)", "brier": "Brier",
    "d_auroc_vs_champion": "dAUROC vs champion (95% CI)",
    "worst_subgroup_gap": "worst subgroup O-E (95% CI)",
}


def print_leaderboard(board: pd.DataFrame, title: str = "") -> None:
    """Print the key columns of a leaderboard, estimates with their intervals."""
    if "metric" in board.columns:  # a single model's metric table
        print_frame(board[[c for c in ("metric", "estimate", "ci_low", "ci_high")
                           if c in board.columns]], title=title)
        return
    shown = pd.DataFrame({"candidate": board["candidate"],
                          "champion": board["champion"].map({True: "*", False: ""})})
    for col, header in LEADERBOARD_COLUMNS.items():
        if col not in board.columns:
            continue
        fmt = "{:+.3f}" if col.startswith(("d_", "worst_")) else "{:.3f}"
        values = board[col].map(fmt.format)
        if f"{col}_ci_high" in board.columns:
            values = (values + " (" + board[f"{col}_ci_low"].map(fmt.format) + " to "
                      + board[f"{col}_ci_high"].map(fmt.format) + ")")
        shown[header] = values
    if "worst_subgroup" in board.columns:  # the subgroup the champion rule looked at
        shown["worst subgroup"] = board["worst_subgroup"].fillna("").astype(str)
    print_frame(shown, title=title)


class ScoreProgress:
    """A rich progress bar (rows, rows/s) on stderr when it is a terminal; silent otherwise.

    ``with ScoreProgress() as update:`` gives the ``progress`` hook of
    :func:`resorb.scoring.score_file` (None when stderr is not a terminal).
    """

    def __enter__(self) -> Callable[[int, int | None], None] | None:
        self._bar = None
        if not sys.stderr.isatty():
            return None
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


def print_finding_subgroups(console: Any, table: pd.DataFrame | None) -> None:
    """Calibration by type x rim and migration grade as a rich table on ``console``.

    ``table`` is :func:`resorb.metrics.subgroups.finding_calibration` (None: nothing printed);
    a subgroup below the minimum size is printed with a short note, never left out (the CSV
    and the report carry the full note).
    """
    if table is None or table.empty:
        return
    from rich.table import Table

    truth = bool(table["truth"].notna().any())
    out = Table(title="calibration by the strongest findings (95% CI)", title_justify="left",
                caption="O-E: observed - predicted resorption; CITL: calibration-in-the-large "
                        "(0 when calibrated); small: under the minimum rows, not counted for "
                        "the worst subgroup", caption_justify="left")
    heads = ["subgroup", "rows", "observed", "predicted", "O-E", "O/E", "CITL", "slope",
             *(["truth"] if truth else []), "note"]
    for name in heads:
        out.add_column(name)

    def span(r: Any, col: str, fmt: str) -> str:
        x, lo, hi = getattr(r, col), getattr(r, f"{col}_ci_low"), getattr(r, f"{col}_ci_high")
        return "" if not np.isfinite(x) else f"{x:{fmt}} ({lo:{fmt}}, {hi:{fmt}})"

    previous = None
    for r in table.itertuples(index=False):
        if r.grouping != previous:
            if previous is not None:
                out.add_section()
            out.add_row(f"[bold]{r.grouping}[/bold]", *[""] * (len(heads) - 1))
            previous = r.grouping
        if not np.isfinite(r.observed):
            out.add_row(r.subgroup, "<10", *[""] * (len(heads) - 3), "suppressed")
            continue
        note = "small" if r.below_minimum else ""
        cells = [r.subgroup, f"{int(r.rows):,}", f"{r.observed:.3f}", f"{r.expected:.3f}",
                 span(r, "difference", "+.3f"), span(r, "o_e", ".2f"), span(r, "citl", "+.2f"),
                 span(r, "slope", ".2f"), *([f"{r.truth:.3f}"] if truth else []), note]
        out.add_row(*cells)
    console.print(out)
