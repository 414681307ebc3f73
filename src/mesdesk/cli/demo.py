"""`mesdesk demo`: the main job on the embedded synthetic market (no key, no network)."""

from __future__ import annotations

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from mesdesk.cli import app


@app.command()
def demo(
    days: int = typer.Option(5, "--days", min=1, max=260, help="Synthetic trading days to generate."),
    seed: int = typer.Option(7, "--seed", help="Random seed of the synthetic market."),
) -> None:
    """Generate synthetic MES days and summarise them: sessions, bars per timeframe, indicators."""
    from mesdesk.services.demo import run_demo

    result = run_demo(days=days, seed=seed)
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        console = Console(width=120)
    for section in result.sections:
        table = Table(
            title=section.title,
            caption=section.note or None,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        for column in section.columns:
            table.add_column(column, no_wrap=True)
        for row in section.rows:
            table.add_row(*row)
        console.print(table)
