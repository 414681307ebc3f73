"""`mesdesk demo`: the main job on the embedded synthetic market (no key, no network)."""

from __future__ import annotations

import typer

from mesdesk.cli import app


@app.command()
def demo(
    days: int = typer.Option(5, "--days", min=1, help="Synthetic trading days to generate."),
    seed: int = typer.Option(7, "--seed", help="Random seed of the synthetic market."),
) -> None:
    """Generate synthetic MES days and summarise them (later: scan and backtest them)."""
    from mesdesk.services.demo import run_demo

    run_demo(days=days, seed=seed)
