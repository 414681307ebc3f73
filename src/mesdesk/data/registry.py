"""Bar sources by name: the one place a provider is registered.

A source is registered with one line (`SOURCES.register(...)`) naming a factory. The factory imports
its provider module when it is called, not when this module is imported: a backtest on a file never
loads the Databento SDK. Adding a provider is its module (a `BarSource`) plus one `register` line.

Each entry answers `history(request)`: the bars of a timeframe for a window of trading days, which
is what the backtest, learning, the optimizer and the scanner need; providers also give a
`BarSource` (`open`) for the live runner and `mesdesk data fetch`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from mesdesk.calendar import trading_days
from mesdesk.config import Settings
from mesdesk.data.source import BarSource
from mesdesk.errors import ConfigError
from mesdesk.timeframes import Timeframe

if TYPE_CHECKING:
    from mesdesk.data.fetching import Progress

Placeholders = Literal["keep", "drop", "flag"]


@dataclass(frozen=True)
class SourceContext:
    """What a source may need to open: the settings (keys, cache folder) and the request's options."""

    settings: Settings
    file: Path | None = None
    seed: int = 7
    max_cost_usd: float = 5.0
    progress: Progress | None = None  # download progress (mesdesk data fetch)
    cached: bool = False  # read and fill the on-disk cache (mesdesk data fetch)


@dataclass(frozen=True)
class HistoryRequest:
    """A window of bars: trading days [start, end] (None: the source's default), or the last `days`."""

    timeframe: Timeframe | None  # None: the source's own bars (a file's span; 1m synthetic; a provider's base)
    symbol: str = "MES"
    start: date | None = None
    end: date | None = None
    days: int = 20
    placeholders: Placeholders = "drop"
    now: datetime | None = None  # for providers: the wall clock the default window ends at
    window: tuple[datetime, datetime] | None = None  # for providers: an explicit [start, end) in UTC


OpenFn = Callable[[SourceContext], BarSource]
HistoryFn = Callable[[SourceContext, HistoryRequest], pd.DataFrame]


@dataclass(frozen=True)
class SourceEntry:
    """A registered source: how to open it and how to read a history window from it."""

    name: str
    history: HistoryFn
    open: OpenFn | None = None  # a live/fetchable provider (None: synthetic market, files)
    symbol: Callable[[str], str] = str  # the provider's symbol for a root symbol (MES -> MES=F)
    description: str = ""
    base: Callable[[int], Timeframe] = lambda days: Timeframe.M1  # finest bars it serves for `days` back
    daily_base: Timeframe = Timeframe.M1  # the bars daily validation builds days from
    origin: date | None = None  # a market with a fixed first day (synthetic): "the last N days" count from it
    label: Callable[[SourceContext, str], str] | None = None  # where the bars came from, for reports
    live: Callable[[SourceContext, str], BarSource] | None = None  # a streaming source (else `open` is polled)

    def describe(self, ctx: SourceContext, root_symbol: str = "MES") -> str:
        """Where bars of this source come from, in a report's words ("yahoo MES=F", "file bars.csv")."""
        if self.label is not None:
            return self.label(ctx, root_symbol)
        return f"{self.name} {self.symbol(root_symbol)}"


class SourceRegistry:
    """Name -> entry. Names are unique; the order of registration is the order shown to users."""

    def __init__(self) -> None:
        self._entries: dict[str, SourceEntry] = {}

    def register(self, entry: SourceEntry) -> None:
        if entry.name in self._entries:
            raise ValueError(f"bar source {entry.name!r} is registered twice")
        self._entries[entry.name] = entry

    def get(self, name: str, *, param: str = "--source") -> SourceEntry:
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigError(f"{param} {name!r}: choose one of {', '.join(self._entries)}")
        return entry

    def names(self, *, providers_only: bool = False) -> tuple[str, ...]:
        return tuple(n for n, e in self._entries.items() if e.open is not None or not providers_only)

    def __iter__(self) -> Iterator[SourceEntry]:
        return iter(self._entries.values())

    def open_live(self, name: str, ctx: SourceContext, root_symbol: str = "MES") -> tuple[BarSource, str]:
        """The source the live runner reads: the provider's stream when it has one, else its polled source."""
        entry = self.get(name, param="--live")
        if entry.live is None:
            return self.open(name, ctx, root_symbol, param="--live")
        symbol = entry.symbol(root_symbol)
        return entry.live(ctx, symbol), symbol

    def open(
        self, name: str, ctx: SourceContext, root_symbol: str = "MES", *, param: str = "--source"
    ) -> tuple[BarSource, str]:
        """The provider's `BarSource` and the symbol it knows `root_symbol` by (MES -> MES=F on Yahoo)."""
        entry = self.get(name, param=param)
        if entry.open is None:
            providers = ", ".join(self.names(providers_only=True))
            raise ConfigError(f"{param} {name!r} is not a market data provider: choose one of {providers}")
        return entry.open(ctx), entry.symbol(root_symbol)


# ---------------------------------------------------------------- windows


def clip_days(bars: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    """Bars whose CME trading day is in [start, end] (either bound may be None)."""
    if (start is None and end is None) or len(bars) == 0:
        return bars
    days = pd.Series(trading_days(pd.DatetimeIndex(bars.index)), index=bars.index)
    keep = pd.Series(True, index=bars.index)
    if start is not None:
        keep &= days >= pd.Timestamp(start)
    if end is not None:
        keep &= days <= pd.Timestamp(end)
    return bars[keep.to_numpy()]


def provider_window(req: HistoryRequest) -> tuple[datetime, datetime]:
    """[start, end) UTC asked of a provider: the trading days requested with a day of margin each side."""
    now = req.now or datetime.now(UTC)
    end_day = req.end or (now.date() - timedelta(days=1))
    start_day = req.start or (end_day - timedelta(days=max(1, req.days) * 7 // 5 + 2))
    if start_day > end_day:
        raise ConfigError(f"--start {start_day} is after --end {end_day}")
    return datetime.combine(start_day - timedelta(days=1), datetime.min.time(), tzinfo=UTC), datetime.combine(
        end_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC
    )


def _provider_history(entry_name: str) -> HistoryFn:
    def history(ctx: SourceContext, req: HistoryRequest) -> pd.DataFrame:
        entry = SOURCES.get(entry_name)
        source, symbol = SOURCES.open(entry_name, ctx, req.symbol)
        start, end = req.window or provider_window(req)
        timeframe = req.timeframe or entry.base(max(1, (end - start).days))
        bars: pd.DataFrame = source.bars(symbol, timeframe, start, end)
        return bars

    return history


# ---------------------------------------------------------------- built-ins


def _synthetic_history(ctx: SourceContext, req: HistoryRequest) -> pd.DataFrame:
    from mesdesk.data.resample import resample
    from mesdesk.data.synthetic import SyntheticConfig, generate_bars, generate_days

    cfg = SyntheticConfig(seed=ctx.seed)
    if req.start is not None:  # a calendar range: every CME session in [start, end]
        last = req.end or req.start + timedelta(days=max(1, req.days) * 7 // 5 + 2)
        one_minute = generate_bars(req.start, last, cfg)
    else:
        one_minute = generate_days(req.days, cfg)
    if req.timeframe is Timeframe.S1:
        raise ConfigError("the synthetic market has no 1-second bars; use --sub-bars 1m with --timeframe 5m")
    if req.timeframe is not None and req.timeframe is not Timeframe.M1:
        one_minute = resample(one_minute, req.timeframe, source_span=pd.Timedelta(minutes=1))
    return clip_days(one_minute, req.start, req.end)


def _file_history(ctx: SourceContext, req: HistoryRequest) -> pd.DataFrame:
    from mesdesk.data.files import infer_span, load_bars
    from mesdesk.data.resample import resample

    if ctx.file is None:
        raise ConfigError("--source file needs --file PATH")
    bars = load_bars(ctx.file, placeholders=req.placeholders)
    if req.timeframe is None:
        return clip_days(bars, req.start, req.end)
    span = infer_span(bars)
    if span > req.timeframe.span:
        raise ConfigError(f"{ctx.file}: bars are {span}; cannot give {req.timeframe.value} bars from them")
    if span < req.timeframe.span:
        bars = resample(bars, req.timeframe, source_span=span)
    return clip_days(bars, req.start, req.end)


def _open_yahoo(ctx: SourceContext) -> BarSource:
    from mesdesk.data.cache import BarCache
    from mesdesk.data.yahoo import YahooSource

    cache = BarCache(Path(ctx.settings.data_dir) / "cache") if ctx.cached else None
    return YahooSource(cache=cache, progress=ctx.progress)


def _open_databento(ctx: SourceContext) -> BarSource:
    from mesdesk.data.cache import BarCache
    from mesdesk.data.databento_source import DatabentoConfig, DatabentoSource

    if ctx.max_cost_usd < 0:
        raise ConfigError(f"--max-cost {ctx.max_cost_usd}: must be >= 0 dollars")
    key = ctx.settings.databento_api_key.get_secret_value() if ctx.settings.databento_api_key else None
    cache = BarCache(Path(ctx.settings.data_dir) / "cache") if ctx.cached else None
    return DatabentoSource.from_key(
        key,
        cache=cache,
        config=DatabentoConfig(max_cost_usd=ctx.max_cost_usd),
        progress=ctx.progress,
    )


def _live_databento(ctx: SourceContext, symbol: str) -> BarSource:
    from mesdesk.data.databento_live import live_source

    return live_source(ctx.settings, symbol=symbol)


def _yahoo_symbol(root: str) -> str:
    return {"MES": "MES=F", "ES": "ES=F"}.get(root, root)


def _databento_symbol(root: str) -> str:
    return root if "." in root else f"{root}.c.0"


YAHOO_1M_DAYS = 29  # Yahoo serves 1-minute bars for the last 30 days only


def _yahoo_base(days: int) -> Timeframe:
    """1m, except beyond Yahoo's 1-minute reach, where 5m (60 days)."""
    return Timeframe.M5 if days > YAHOO_1M_DAYS else Timeframe.M1


SOURCES = SourceRegistry()
SOURCES.register(
    SourceEntry(
        "synthetic",
        _synthetic_history,
        description="the embedded synthetic market",
        origin=date(2025, 1, 2),
        label=lambda ctx, _: f"synthetic (seed {ctx.seed})",
    )
)
SOURCES.register(
    SourceEntry(
        "file",
        _file_history,
        description="a CSV or Parquet file of bars (--file)",
        label=lambda ctx, _: f"file {ctx.file}",
    )
)
SOURCES.register(
    SourceEntry(
        "databento",
        _provider_history("databento"),
        _open_databento,
        _databento_symbol,
        "Databento GLBX.MDP3",
        daily_base=Timeframe.H1,
        live=_live_databento,
    )
)
SOURCES.register(
    SourceEntry("yahoo", _provider_history("yahoo"), _open_yahoo, _yahoo_symbol, "Yahoo Finance chart", _yahoo_base)
)
