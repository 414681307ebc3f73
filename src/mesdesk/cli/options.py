"""Options shared by the commands that take setups (`backtest`, `learn`, `serve`, `optimize`, `lookahead`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from mesdesk.errors import ConfigError

SetupOption = Annotated[
    list[str] | None,
    typer.Option(
        "--setup",
        help="A built-in setup name, path/to/file.py:function or package.module:function (repeatable; "
        "default: the three built-ins).",
    ),
]
SetupParamOption = Annotated[
    list[str] | None,
    typer.Option("--setup-param", help="<setup>.<param>=<value>, e.g. ORB_retest_go.range_minutes=30 (repeatable)."),
]

# The data options of the commands that read history (backtest, lookahead, optimize); each command
# keeps its own default.
SourceOption = Annotated[str, typer.Option("--source", help="synthetic, file, databento or yahoo.")]
FileOption = Annotated[str | None, typer.Option("--file", help="CSV or Parquet bars (with --source file).")]
StartOption = Annotated[str | None, typer.Option("--start", help="First trading day, YYYY-MM-DD.")]
EndOption = Annotated[str | None, typer.Option("--end", help="Last trading day, YYYY-MM-DD.")]
DaysOption = Annotated[
    int, typer.Option("--days", min=1, help="Synthetic trading days (or the look-back of a provider).")
]
TimeframeOption = Annotated[str, typer.Option("--timeframe", help="Decision bars: 1m or 5m.")]
SubBarsOption = Annotated[
    str, typer.Option("--sub-bars", help="Finer path bars: none, 1m (under 5m) or 1s (under 1m).")
]
SlippageOption = Annotated[int, typer.Option("--slippage-ticks", min=0, help="Adverse ticks on market fills.")]

# The runner's options (`serve` and `runner`).
ReplayOption = Annotated[
    str | None, typer.Option("--replay", help="Trading day to replay, YYYY-MM-DD (default 2025-09-16).")
]
ReplayFileOption = Annotated[
    Path | None, typer.Option("--replay-file", help="Replay bars from a CSV/Parquet file instead.")
]
SpeedOption = Annotated[
    float, typer.Option("--speed", min=0.0, help="Replay speed, x real time (0 = as fast as possible).")
]
FromOption = Annotated[str, typer.Option("--from", help="Replay trading starts at this CT time ('open' = 17:00 CT).")]
LiveOption = Annotated[str | None, typer.Option("--live", help="Trade live bars instead: yahoo or databento.")]
FreshOption = Annotated[bool, typer.Option("--fresh", help="Forget this runner's earlier book and start over.")]


def parse_day(value: str | None, flag: str) -> date | None:
    """A YYYY-MM-DD option (None stays None); anything else is a one-line error naming the flag."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} {value!r}: expected YYYY-MM-DD") from None
