"""`mesdesk data ...`: fetch from Databento, Yahoo or FRED, import files, list the cache, validate days."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mesdesk.cli import app

if TYPE_CHECKING:
    import pandas as pd

data_app = typer.Typer(help="Market data: fetch, import, list the cache, validate daily bars.", no_args_is_help=True)
app.add_typer(data_app, name="data")


class _Out:
    """stdout console, made at use (so redirection is honoured); wide when not a terminal, for logs."""

    def print(self, *objects: object) -> None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
        console.print(*objects)


_out = _Out()
_err = Console(stderr=True)


def _when(ts: pd.Timestamp | None) -> str:
    return "-" if ts is None else f"{ts:%Y-%m-%d %H:%M}"


@contextmanager
def _progress() -> Iterator[object]:
    """A rich progress bar fed by the sources' chunk reports (on stderr, so stdout stays a table)."""
    from mesdesk.services.data import ChunkDone

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task("downloading", total=None)

        def report(event: ChunkDone) -> None:
            bar.update(task, total=event.total, completed=event.done, description=f"{event.label} ({event.rows} bars)")

        yield report


def _bars_table(summary: object) -> Table:
    from mesdesk.services.data import BarSummary

    assert isinstance(summary, BarSummary)
    table = Table(title=f"{summary.source} {summary.symbol} {summary.timeframe.value}", title_justify="left")
    for col in ("rows", "first bar (UTC)", "last bar (UTC)", "session gaps", "intraday gaps", "contracts"):
        table.add_column(col, justify="right" if col in ("rows", "session gaps", "intraday gaps") else "left")
    table.add_row(
        str(summary.rows),
        _when(summary.first),
        _when(summary.last),
        str(summary.session_gaps),
        str(summary.intraday_gaps),
        ", ".join(summary.contracts) or "-",
    )
    return table


def _problems(problems: tuple[str, ...]) -> None:
    if not problems:
        _out.print("data problems: none")
        return
    _out.print("data problems:")
    for p in problems:
        _out.print(f"  - {p}")


@data_app.command("fetch")
def fetch(
    source: Annotated[str, typer.Option("--source", help="databento, yahoo or fred.")],
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="MES.c.0, MES.FUT, MESZ5 (Databento); MES=F, ES=F (Yahoo).")
    ] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", help="1s, 1m, 5m, 15m, 1h, 4h or 1d.")] = "1m",
    start: Annotated[
        str | None, typer.Option("--start", help="First day or instant (UTC unless an offset is given).")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="End, exclusive (default: now).")] = None,
    max_cost: Annotated[
        float, typer.Option("--max-cost", help="Refuse a Databento download estimated above this (USD).")
    ] = 5.0,
    refresh: Annotated[bool, typer.Option("--refresh", help="Download again even what is cached.")] = False,
    estimate: Annotated[
        bool, typer.Option("--estimate", help="Databento: print what the download would cost, download nothing.")
    ] = False,
    series: Annotated[
        str | None, typer.Option("--series", help="FRED series, comma-separated (default MESDESK_FRED_SERIES).")
    ] = None,
) -> None:
    """Download bars (or FRED series) into the cache and summarise them."""
    from mesdesk.config import load_settings
    from mesdesk.services.data import FetchRequest, estimate_cost, fetch_bars, fetch_fred
    from mesdesk.timeframes import Timeframe

    settings = load_settings()
    request = FetchRequest(
        source=source.lower(),
        symbol=symbol,
        timeframe=Timeframe.parse(timeframe, param="--timeframe"),
        start=start,
        end=end,
        max_cost_usd=max_cost,
        refresh=refresh,
        series=tuple(s.strip().upper() for s in (series or "").split(",") if s.strip()),
    )
    if estimate:
        cost = estimate_cost(request, settings)
        _out.print(f"estimated cost of the missing part: ${cost:.2f} (--max-cost {max_cost:.2f})")
        return
    if request.source == "fred":
        frame, summaries = fetch_fred(request, settings)
        table = Table(title="FRED", title_justify="left")
        for col in ("series", "rows", "missing ('.')", "first", "last", "last value"):
            table.add_column(col)
        for s in summaries:
            last = "-" if s.last_value is None else f"{s.last_value:g}"
            first_day = "-" if s.first is None else f"{s.first:%Y-%m-%d}"
            last_day = "-" if s.last is None else f"{s.last:%Y-%m-%d}"
            table.add_row(s.series_id, str(s.rows), str(s.missing), first_day, last_day, last)
        _out.print(table)
        return
    with _progress() as report:
        _, summary = fetch_bars(request, settings, progress=report)  # type: ignore[arg-type]
    _out.print(_bars_table(summary))
    for note in summary.notes:
        _out.print(note)
    _problems(summary.problems)


@data_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of OHLCV bars (bar open times).")],
    tz: Annotated[str | None, typer.Option("--tz", help="Zone of naive timestamps, e.g. America/New_York.")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Name in the cache (default: the file name).")] = None,
    placeholders: Annotated[
        str, typer.Option("--placeholders", help="Vendor filler bars (volume <= 1): keep or drop.")
    ] = "keep",
    any_price: Annotated[
        bool, typer.Option("--any-price", help="Accept prices outside the contract's plausible band.")
    ] = False,
) -> None:
    """Validate a file of bars and keep it in the cache."""
    from mesdesk.config import load_settings
    from mesdesk.services.data import import_file

    settings = load_settings()
    _, summary = import_file(file, settings, tz=tz, symbol=symbol, placeholders=placeholders, any_price=any_price)
    _out.print(_bars_table(summary))
    _problems(summary.problems)


@data_app.command("ls")
def ls() -> None:
    """List the cached bars."""
    from mesdesk.config import load_settings
    from mesdesk.services.data import list_cache

    entries = list_cache(load_settings())
    if not entries:
        _out.print("cache is empty")
        return
    table = Table(title="cache", title_justify="left")
    for col in ("source", "symbol", "tf", "rows", "first bar (UTC)", "last bar (UTC)", "covered ranges", "MB"):
        table.add_column(col, justify="right" if col in ("rows", "covered ranges", "MB") else "left")
    for e in entries:
        table.add_row(
            e.key.source,
            e.key.symbol,
            e.key.timeframe.value,
            str(e.rows),
            _when(e.first),
            _when(e.last),
            str(len(e.coverage)),
            f"{e.size_bytes / 1e6:.2f}",
        )
    _out.print(table)


@data_app.command("validate-daily")
def validate_daily(
    source: Annotated[
        str, typer.Option("--source", help="Intraday bars from databento (1h) or yahoo (1m).")
    ] = "databento",
    symbol: Annotated[str | None, typer.Option("--symbol", help="Intraday symbol (default MES.c.0 / MES=F).")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Intraday bars from this CSV/Parquet instead.")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Zone of naive timestamps in --file.")] = None,
    yahoo_symbol: Annotated[str, typer.Option("--yahoo-symbol", help="Yahoo daily bars to compare with.")] = "MES=F",
    start: Annotated[str | None, typer.Option("--start")] = None,
    end: Annotated[str | None, typer.Option("--end")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", help="Allowed difference per field, points.")] = 1.0,
    max_cost: Annotated[float, typer.Option("--max-cost", help="Databento cost limit (USD).")] = 5.0,
) -> None:
    """Compare daily OHLC built from intraday bars with Yahoo's daily bars; list the days that differ."""
    from mesdesk.config import load_settings
    from mesdesk.services.data import ValidateRequest
    from mesdesk.services.data import validate_daily as run

    request = ValidateRequest(
        source=source.lower(),
        symbol=symbol,
        file=file,
        tz=tz,
        yahoo_symbol=yahoo_symbol,
        start=start,
        end=end,
        tolerance_pts=tolerance,
        max_cost_usd=max_cost,
    )
    with _progress() as report:
        result, summary = run(request, load_settings(), progress=report)  # type: ignore[arg-type]
    _out.print(
        f"{summary.rows} trading days built from {summary.source} {summary.symbol}; "
        f"{result.days_compared} compared with Yahoo {yahoo_symbol} at tolerance {result.tolerance_pts:g} pts"
    )
    if result.shift_days:
        _out.print(f"Yahoo daily bars are labelled {result.shift_days:+d} trading day off: compared with that shift")
    counts = ", ".join(f"{k} {v}" for k, v in result.field_counts.items())
    _out.print(f"days differing: {len(result.differences)} ({counts})")
    if result.differences:
        table = Table(title="days beyond tolerance (intraday - Yahoo)", title_justify="left")
        for col in ("trading day", "fields", "intraday O/H/L/C", "Yahoo O/H/L/C", "max diff pts"):
            table.add_column(col)
        for d in result.differences:
            table.add_row(
                f"{d.trading_day}",
                ",".join(d.fields),
                "/".join(f"{v:g}" for v in d.intraday),
                "/".join(f"{v:g}" for v in d.yahoo),
                f"{d.max_diff_pts:.2f}",
            )
        _out.print(table)
    if result.only_intraday:
        _out.print(f"days without a Yahoo bar: {', '.join(map(str, result.only_intraday))}")
    if result.only_yahoo:
        _out.print(f"Yahoo days without intraday bars: {', '.join(map(str, result.only_yahoo))}")
