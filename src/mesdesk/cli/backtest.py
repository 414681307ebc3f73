"""`mesdesk backtest`: the scalper over history, with the summary a trader reads first."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from mesdesk.cli import app, collector_paused
from mesdesk.cli.options import (
    DaysOption,
    EndOption,
    FileOption,
    SetupOption,
    SetupParamOption,
    SlippageOption,
    SourceOption,
    StartOption,
    SubBarsOption,
    TimeframeOption,
    parse_day,
)


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


@app.command()
def backtest(
    source: SourceOption = "synthetic",
    file: FileOption = None,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = 20,
    timeframe: TimeframeOption = "1m",
    sub_bars: SubBarsOption = "none",
    decider: str = typer.Option(
        "rules",
        "--decider",
        help="Who decides: rules, local, openai, anthropic or auto (a key's provider, else local).",
    ),
    cache_mode: str | None = typer.Option(
        None, "--cache-mode", help="LLM decision cache: record, replay or off (default MESDESK_DECISION_CACHE_MODE)."
    ),
    chart_day: str | None = typer.Option(
        None, "--chart-day", help="Day the report opens on, always among its charted days (default: busiest)."
    ),
    slippage_ticks: SlippageOption = 1,
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic market."),
    min_score: float | None = typer.Option(
        None, "--min-score", min=0, max=100, help="Prefilter threshold instead of the setups' (default 75)."
    ),
    learning: bool = typer.Option(
        False, "--learning/--no-learning", help="Let learning veto candidates (point-in-time outcomes)."
    ),
    out: str | None = typer.Option(None, "--out", help="Output folder (default ./mesdesk-out/backtest-<stamp>)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html beside trades and journal."),
    setup: SetupOption = None,
    setup_param: SetupParamOption = None,
) -> None:
    """Backtest the scalper: fills, limits and costs as in live paper trading."""
    with collector_paused():  # one job, then the process ends
        from mesdesk.services.backtest import BacktestRequest, run_backtest_job

        req = BacktestRequest(
            source=source,
            file=None if file is None else Path(file),
            start=parse_day(start, "--start"),
            end=parse_day(end, "--end"),
            days=days,
            timeframe=timeframe,
            sub_bars=None if sub_bars.lower() == "none" else sub_bars,
            decider=decider,
            cache_mode=cache_mode,
            chart_day=parse_day(chart_day, "--chart-day"),
            slippage_ticks=slippage_ticks,
            seed=seed,
            min_score=min_score,
            learning=learning,
            out=None if out is None else Path(out),
            report=report,
            setups=tuple(setup or ()),
            setup_params=tuple(setup_param or ()),
        )
        print_report(run_backtest_job(req))


def print_report(report: object) -> None:
    """Rich tables of a `BacktestReport`."""
    from rich.console import Console
    from rich.table import Table

    from mesdesk.services.backtest import BacktestReport
    from mesdesk.services.display import display_zone, screen_time

    assert isinstance(report, BacktestReport)
    console = Console()
    s, o = report.stats, report.optimistic
    tz = display_zone()
    console.print(
        f"[bold]Backtest[/bold] {screen_time(report.first_bar, tz)} to {screen_time(report.last_bar, tz)}, "
        f"{len(report.bars):,} bars, {report.candidates:,} candidates"
    )
    table = Table(title="Result (net of slippage and commission)", show_header=False)
    rows = [
        ("trades", f"{s.trades} ({s.wins} wins, {s.losses} losses, {s.scratches} scratches)"),
        ("win rate", f"{_fmt(s.win_rate, 1)} %"),
        ("average win / loss", f"{_fmt(s.avg_win_pts)} / {_fmt(s.avg_loss_pts)} pts"),
        ("expectancy", f"{_fmt(s.expectancy_pts, 3)} pts per trade"),
        (
            "net",
            f"{_fmt(s.net_pts)} pts = ${_fmt(s.net_usd)} (gross {_fmt(s.gross_pts)} pts, "
            f"commission ${_fmt(s.commission_usd)})",
        ),
        ("profit factor", _fmt(s.profit_factor)),
        ("max drawdown", f"{_fmt(s.max_drawdown_pts)} pts"),
        (
            "ambiguous bars",
            f"{s.ambiguous} trades: net {_fmt(s.net_pts)} (stop first) to {_fmt(o.net_pts)} pts "
            f"(target first); win rate {_fmt(s.win_rate, 1)} to {_fmt(o.win_rate, 1)} %",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for title, frame in (("By setup", report.by_setup), ("By session", report.by_session)):
        t = Table(title=title)
        for col in frame.columns:
            t.add_column(str(col))
        for rec in frame.itertuples(index=False):
            t.add_row(*[_fmt(v) if isinstance(v, float) else str(v) for v in rec])
        console.print(t)
    _print_decisions(console, report)
    if report.out is not None:
        console.print(f"Wrote {len(report.files)} files under {report.out}")


def _print_decisions(console: object, report: object) -> None:
    """Decision sources and outcome counts, the reliability table and the decider's notes."""
    from rich.console import Console
    from rich.table import Table

    from mesdesk.services.backtest import BacktestReport

    assert isinstance(console, Console)
    assert isinstance(report, BacktestReport)
    for title, frame in (("Decisions", report.decisions), ("Calibration (stated confidence)", report.calibration)):
        if frame is None:
            continue
        t = Table(title=title)
        for col in frame.columns:
            t.add_column(str(col))
        for rec in frame.itertuples(index=False):
            cells = [
                _fmt(v, 4 if col == "cost_usd" else 2) if isinstance(v, float) else str(v)
                for col, v in zip(frame.columns, rec, strict=True)
            ]
            t.add_row(*cells)
        console.print(t)
    for line in report.decider_notes:
        console.print(line)
