"""`mesdesk scan`: Halsey measured moves on 5m..1d, a table per timeframe, the CSV, an evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from mesdesk.cli import app

if TYPE_CHECKING:
    import pandas as pd

# Central Time (mesdesk.calendar.CT), named here so that `mesdesk --help` does not import pandas.
CT = ZoneInfo("America/Chicago")

_SHOWN = (
    ("direction", "dir"),
    ("c_time", "C (CT)"),
    ("confirmed_at", "confirmed (CT)"),
    ("retrace_pct", "retr %"),
    ("entry", "entry"),
    ("stop", "stop"),
    ("target_100", "T100"),
    ("target_123_6", "T123.6"),
    ("rr", "R:R"),
    ("vix", "VIX"),
    ("vix_filter_passed", "VIX ok"),
    ("volume_confirmed", "vol ok"),
    ("outcome", "outcome"),
    ("mfe", "MFE"),
    ("mae", "MAE"),
)


def _cell(value: object, tz: ZoneInfo = CT) -> str:
    import pandas as pd

    if value is pd.NaT:
        return "-"
    if isinstance(value, pd.Timestamp):
        return "-" if pd.isna(value) else value.tz_convert(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return "-" if pd.isna(value) else f"{value:.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _signals_table(title: str, frame: pd.DataFrame, tz: ZoneInfo = CT) -> Table:
    table = Table(title=title, title_justify="left")
    for _, label in _SHOWN:
        table.add_column(label, justify="right" if label not in ("dir", "outcome") else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(getattr(row, col), tz) for col, _ in _SHOWN))
    return table


def _evaluation_table(evaluation: pd.DataFrame) -> Table:
    table = Table(title="Evaluation (VIX-filtered signals, points, gross of costs)", title_justify="left")
    for col in evaluation.columns:
        table.add_column(col, justify="left" if col == "timeframe" else "right")
    for row in evaluation.itertuples(index=False):
        table.add_row(*(_cell(v if not isinstance(v, int) else str(v)) for v in row))
    return table


@app.command()
def scan(
    days_back: Annotated[
        int, typer.Option("--days-back", min=1, help="Calendar days of bars to scan (back from the last bar).")
    ] = 90,
    swing_order: Annotated[
        int, typer.Option("--swing-order", min=1, help="Pivot order k: a swing is known k bars later.")
    ] = 5,
    min_rr: Annotated[
        float, typer.Option("--min-rr", min=0.0, help="Minimum reward:risk to target_100 at the signal.")
    ] = 2.0,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write one row per signal to this CSV.")] = None,
    require_volume_confirmation: Annotated[
        bool,
        typer.Option(
            "--require-volume-confirmation", help="Keep only signals whose B->C leg has lower mean volume than A->B."
        ),
    ] = False,
    last_n: Annotated[int, typer.Option("--last-n", min=0, help="Signals shown per timeframe (the most recent).")] = 5,
    timeframes: Annotated[
        str, typer.Option("--timeframes", help="Comma-separated: 5m,15m,1h,4h,1d.")
    ] = "5m,15m,1h,4h,1d",
    source: Annotated[str, typer.Option("--source", help="synthetic | file | databento | yahoo.")] = "synthetic",
    file: Annotated[Path | None, typer.Option("--file", help="Bars file (CSV/Parquet) for --source file.")] = None,
    vix_file: Annotated[
        Path | None, typer.Option("--vix-file", help="Daily VIX closes CSV (FRED download or date,close).")
    ] = None,
    max_hold_bars: Annotated[
        int, typer.Option("--max-hold-bars", min=1, help="Expiry: bars of the signal's timeframe.")
    ] = 50,
    vix_long_max: Annotated[
        float, typer.Option("--vix-long-max", help="Longs are filtered when VIX is above this.")
    ] = 18.0,
    vix_short_min: Annotated[
        float, typer.Option("--vix-short-min", help="Shorts are filtered when VIX is below this.")
    ] = 16.0,
    target_fill: Annotated[
        str, typer.Option("--target-fill", help="Targets fill when traded 'through' (default) or on a 'touch'.")
    ] = "through",
    evaluate: Annotated[bool, typer.Option("--evaluate", help="Add per-timeframe hit rates and expectancy.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic market.")] = 7,
) -> None:
    """Scan for Halsey ABC measured moves and follow each to its outcome."""
    from mesdesk.services.scan import (
        MeasuredMoveConfig,
        OutcomeConfig,
        ScanConfig,
        ScanRequest,
        run_scan,
        write_signals_csv,
    )
    from mesdesk.timeframes import Timeframe

    tfs = tuple(Timeframe.parse(t, param="--timeframes") for t in timeframes.split(",") if t.strip())
    config = ScanConfig(
        timeframes=tfs,
        rules=MeasuredMoveConfig(
            swing_order=swing_order, min_rr=min_rr, require_volume_confirmation=require_volume_confirmation
        ),
        outcomes=OutcomeConfig(max_hold_bars=max_hold_bars, target_fill=target_fill),  # type: ignore[arg-type]
        vix_long_max=vix_long_max,
        vix_short_min=vix_short_min,
    )
    request = ScanRequest(days_back=days_back, source=source, file=file, vix_file=vix_file, seed=seed, config=config)
    result = run_scan(request)
    from mesdesk.services.display import display_zone, screen_time

    tz = display_zone()
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the tables into 80 columns
        console = Console(width=220)
    console.print(
        f"{result.bars} bars from {result.bars_from}, {screen_time(result.first_bar, tz)} to "
        f"{screen_time(result.last_bar, tz)}; VIX: {result.vix_from}"
    )
    for tf in tfs:
        sub = result.signals[result.signals["timeframe"] == tf.value]
        shown = sub.tail(last_n)
        console.print(_signals_table(f"{tf.value}: {len(sub)} signals (last {len(shown)})", shown, tz))
    if evaluate:
        console.print(_evaluation_table(result.evaluation))
    if csv is not None:
        write_signals_csv(result.signals, csv)
        console.print(f"wrote {len(result.signals)} signals to {csv}")
