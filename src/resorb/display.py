"""Terminal tables (rich) for the CLI: fidelity targets, leaderboards, model lists."""

from __future__ import annotations

import sys

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
        fmt = "{:+.3f}" if col.startswith("d_") else "{:.3f}"
        values = board[col].map(fmt.format)
        if f"{col}_ci_high" in board.columns:
            values = (values + " (" + board[f"{col}_ci_low"].map(fmt.format) + " to "
                      + board[f"{col}_ci_high"].map(fmt.format) + ")")
        shown[header] = values
    print_frame(shown, title=title)
