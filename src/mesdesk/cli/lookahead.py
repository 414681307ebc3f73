"""`mesdesk lookahead`: does a setup (or the scanner) change its past when the future is removed?"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mesdesk.cli import app
from mesdesk.cli.options import (
    DaysOption,
    EndOption,
    FileOption,
    SetupOption,
    SetupParamOption,
    SourceOption,
    StartOption,
    parse_day,
)

_err = Console(stderr=True)
_SHOWN = 20


def _ct(ts: datetime) -> str:
    from mesdesk.calendar import CT

    return f"{ts.astimezone(CT):%Y-%m-%d %H:%M}"


@app.command()
def lookahead(
    setup: SetupOption = None,
    setup_param: SetupParamOption = None,
    scanner: bool = typer.Option(False, "--scanner", help="Check the measured-move scanner's signals instead."),
    source: SourceOption = "synthetic",
    file: FileOption = None,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = 20,
    timeframe: str = typer.Option("1m", "--timeframe", help="Bars: 1m or 5m."),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic market."),
    cuts: int = typer.Option(50, "--cuts", min=1, help="Candidates whose completing bar ends a cut (at most)."),
    cut_seed: int = typer.Option(0, "--cut-seed", help="Seed of the sampled and random cuts."),
) -> None:
    """Rerun setups on data cut after their candidates; exit 1 when a candidate changes (a look-ahead leak)."""
    from mesdesk.services.lookahead import LookaheadRequest, run_lookahead

    req = LookaheadRequest(
        setups=tuple(setup or ()),
        setup_params=tuple(setup_param or ()),
        scanner=scanner,
        source=source,
        file=None if file is None else Path(file),
        start=parse_day(start, "--start"),
        end=parse_day(end, "--end"),
        days=days,
        timeframe=timeframe,
        seed=seed,
        cuts=cuts,
        cut_seed=cut_seed,
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task("rerunning on cut data", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, total=total, completed=done)

        result = run_lookahead(req, progress=report)
    console = Console()
    console.print(
        f"[bold]Lookahead[/bold] {result.subject}: {result.bars:,} bars "
        f"{_ct(result.first_bar)} to {_ct(result.last_bar)} CT, {result.candidates:,} candidates, "
        f"{result.cuts} cuts, {result.compared:,} candidate comparisons"
    )
    if result.clean:
        console.print("[green]clean[/green]: every candidate known by a cut is identical without the later bars")
        return
    table = Table(
        title=f"Leaks: the first {min(_SHOWN, len(result.leaks))} of {len(result.leaks)}", title_justify="left"
    )
    for col in ("cut (CT)", "candidate (CT)", "setup", "dir", "what changed"):
        table.add_column(col)
    for leak in result.leaks[:_SHOWN]:
        table.add_row(_ct(leak.cut), _ct(leak.ts), leak.name, leak.direction, leak.change)
    console.print(table)
    console.print(
        f"[red]look-ahead[/red]: {result.leaking_candidates} candidate(s) change when the bars after the cut are "
        "removed; the data ends with the bar that closes at the cut"
    )
    sys.exit(1)  # main() runs click with standalone_mode=False, which would swallow typer.Exit's code
