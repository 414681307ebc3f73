"""Market data jobs behind `mesdesk data ...`: fetch, import, list and validate, with summaries.

Every function takes `Settings` and returns data plus a summary; nothing here prints. Provider and
data failures propagate as `MesdeskError`s (the CLI turns them into one line and exit code 2).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mesdesk.bars import DataWarning
from mesdesk.calendar import trading_days
from mesdesk.config import Settings
from mesdesk.data.cache import BarCache, CacheEntry, CacheKey, index_ns
from mesdesk.data.databento_source import DatabentoSource
from mesdesk.data.fetching import ChunkDone as ChunkDone  # re-exported for the CLI
from mesdesk.data.fetching import Progress, bin_floor, utc
from mesdesk.data.fred import FredClient
from mesdesk.data.registry import SOURCES, SourceContext
from mesdesk.data.validate_daily import DailyReport, compare_daily, daily_from_intraday
from mesdesk.data.yahoo import YahooSource
from mesdesk.errors import ConfigError, DataError, ProviderError
from mesdesk.timeframes import Timeframe

BAR_SOURCES = SOURCES.names(providers_only=True)
_DEFAULT_DAYS = {Timeframe.S1: 1, Timeframe.D1: 365, Timeframe.H4: 120, Timeframe.H1: 60}


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What `mesdesk data fetch` asks for (dates as text: YYYY-MM-DD or ISO times, UTC unless stated)."""

    source: str
    symbol: str | None = None
    timeframe: Timeframe = Timeframe.M1
    start: str | None = None
    end: str | None = None
    max_cost_usd: float = 5.0
    refresh: bool = False
    series: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BarSummary:
    """What a user checks after a download: rows, span, gaps and the problems met."""

    source: str
    symbol: str
    timeframe: Timeframe
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    session_gaps: int  # gaps across a trading-day boundary (maintenance break, weekend, holiday)
    intraday_gaps: int  # missing bars inside a trading day (no trades, halts, early closes)
    contracts: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """One FRED series as fetched."""

    series_id: str
    rows: int
    missing: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    last_value: float | None


def cache_for(settings: Settings) -> BarCache:
    return BarCache(Path(settings.data_dir) / "cache")


def request_range(timeframe: Timeframe, start: str | None, end: str | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) in UTC; defaults: end now, start a few days back (a year for daily bars).

    For 4h and 1d bars the start moves to the open of its CME trading day, so ``--start 2025-03-10``
    includes the trading day of March 10 (which opens at 17:00 CT on March 9).
    """
    hi = utc(end, "end") if end else pd.Timestamp.now(tz="UTC").floor("1min")
    lo = utc(start, "start") if start else hi - pd.Timedelta(days=_DEFAULT_DAYS.get(timeframe, 5))
    if timeframe in (Timeframe.H4, Timeframe.D1):
        lo = bin_floor(lo, timeframe)
    if hi <= lo:
        raise ConfigError(f"--start {lo:%Y-%m-%d %H:%M} must be before --end {hi:%Y-%m-%d %H:%M}")
    return lo, hi


class CachedSource(Protocol):
    """A provider's `BarSource` reading through the on-disk cache (`refresh` forces a download)."""

    chunks_downloaded: int

    def bars(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime, *, refresh: bool = False
    ) -> pd.DataFrame: ...


def make_source(name: str, settings: Settings, *, max_cost_usd: float = 5.0, progress: Progress | None = None) -> Any:
    """A registered provider's source through the cache by name; Databento needs DATABENTO_API_KEY."""
    ctx = SourceContext(settings, max_cost_usd=max_cost_usd, progress=progress, cached=True)
    source, _ = SOURCES.open(name, ctx)
    return source


def default_symbol(source: str) -> str:
    """The provider's symbol for MES (Databento's continuous front month, Yahoo's MES=F)."""
    return SOURCES.get(source).symbol("MES")


@contextmanager
def _collect_warnings(problems: list[str]) -> Iterator[None]:
    """Fixable data problems (warned by `validate_bars`) end up in the summary, not lost in a log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        yield
    problems.extend(str(w.message) for w in caught if issubclass(w.category, DataWarning))


def summarize(
    frame: pd.DataFrame,
    *,
    source: str,
    symbol: str,
    timeframe: Timeframe,
    problems: list[str] | None = None,
    notes: tuple[str, ...] = (),
) -> BarSummary:
    """Rows, first and last bar, gaps (split at trading-day boundaries) and the contracts seen."""
    n = len(frame)
    session_gaps = intraday_gaps = 0
    if n > 1 and timeframe is not Timeframe.D1:
        ts = index_ns(frame)
        step = np.diff(ts)
        gap = step > int(pd.Timedelta(timeframe.span).value)
        days = trading_days(pd.DatetimeIndex(frame.index))
        new_day = days[1:] != days[:-1]
        session_gaps = int((gap & new_day).sum())
        intraday_gaps = int((gap & ~new_day).sum())
    contracts: tuple[str, ...] = ()
    if "symbol" in frame.columns and n:
        contracts = tuple(pd.unique(frame["symbol"].astype(str)))
    return BarSummary(
        source=source,
        symbol=symbol,
        timeframe=timeframe,
        rows=n,
        first=frame.index[0] if n else None,
        last=frame.index[-1] if n else None,
        session_gaps=session_gaps,
        intraday_gaps=intraday_gaps,
        contracts=contracts,
        problems=tuple(problems or ()),
        notes=notes,
    )


def estimate_cost(request: FetchRequest, settings: Settings) -> float:
    """What a Databento fetch would cost now in USD (only the part not cached; nothing is downloaded)."""
    if request.source != "databento":
        raise ConfigError("--estimate: only Databento downloads cost money")
    symbol = request.symbol or default_symbol("databento")
    lo, hi = request_range(request.timeframe, request.start, request.end)
    source = make_source("databento", settings, max_cost_usd=request.max_cost_usd)
    if not isinstance(source, DatabentoSource):
        raise ConfigError("--estimate: the databento source is not Databento's client")
    return source.estimate_cost_usd(symbol, request.timeframe, lo, hi, refresh=request.refresh)


def fetch_bars(
    request: FetchRequest, settings: Settings, *, progress: Progress | None = None
) -> tuple[pd.DataFrame, BarSummary]:
    """Bars from Databento or Yahoo through the cache; an empty answer is a `ProviderError` (empty)."""
    source: CachedSource = make_source(request.source, settings, max_cost_usd=request.max_cost_usd, progress=progress)
    symbol = request.symbol or default_symbol(request.source)
    lo, hi = request_range(request.timeframe, request.start, request.end)
    problems: list[str] = []
    with _collect_warnings(problems):
        frame = source.bars(symbol, request.timeframe, lo, hi, refresh=request.refresh)
    if len(frame) == 0:
        raise ProviderError(
            f"no {request.timeframe.value} bars for {symbol} from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M} UTC",
            provider=request.source,
            kind="empty",
        )
    if source.chunks_downloaded == 0:
        notes: tuple[str, ...] = ("served from the cache: nothing downloaded",)
    else:
        notes = (f"downloaded {source.chunks_downloaded} chunk(s)",)
        if isinstance(source, DatabentoSource):
            notes = (f"{notes[0]}, estimated cost ${source.cost_usd:.2f}",)
    return frame, summarize(
        frame, source=request.source, symbol=symbol, timeframe=request.timeframe, problems=problems, notes=notes
    )


def fetch_fred(request: FetchRequest, settings: Settings) -> tuple[pd.DataFrame, list[SeriesSummary]]:
    """FRED series side by side (dates as index); FRED_API_KEY is required."""
    if settings.fred_api_key is None:
        raise ConfigError("FRED_API_KEY is not set: get a free key at fred.stlouisfed.org and export it")
    series = request.series or settings.fred_series_ids
    end = utc(request.end, "end") if request.end else pd.Timestamp.now(tz="UTC")
    start = utc(request.start, "start") if request.start else end - pd.Timedelta(days=365)
    client = FredClient(settings.fred_api_key.get_secret_value(), settings.fred_base_url)
    frame = client.many(series, start.date(), end.date())
    summaries = []
    for sid in frame.columns:
        col = frame[sid]
        valid = col.dropna()
        summaries.append(
            SeriesSummary(
                series_id=str(sid),
                rows=len(col),
                missing=int(col.isna().sum()),
                first=valid.index[0] if len(valid) else None,
                last=valid.index[-1] if len(valid) else None,
                last_value=float(valid.iloc[-1]) if len(valid) else None,
            )
        )
    if frame.dropna(how="all").empty:
        raise ProviderError(
            f"no observations for {', '.join(series)} from {start:%Y-%m-%d} to {end:%Y-%m-%d}",
            provider="fred",
            kind="empty",
        )
    return frame, summaries


def import_file(
    path: Path,
    settings: Settings,
    *,
    tz: str | None = None,
    symbol: str | None = None,
    placeholders: str = "keep",
    any_price: bool = False,
) -> tuple[pd.DataFrame, BarSummary]:
    """Load a CSV/Parquet file, validate it, and keep it in the cache (source ``file``).

    `placeholders`: ``keep`` or ``drop`` vendor filler bars (volume <= 1); either way they are counted.
    `any_price`: accept any positive price instead of the contract's plausible band (another instrument).
    """
    from mesdesk.data.files import infer_span, load_bars

    if placeholders not in ("keep", "drop"):
        raise ConfigError(f"--placeholders {placeholders!r}: choose keep or drop")
    problems: list[str] = []
    with _collect_warnings(problems):
        frame = load_bars(path, tz=tz, placeholders="flag", **({"price_band": None} if any_price else {}))
    mask = frame.pop("placeholder").to_numpy() if "placeholder" in frame.columns else np.zeros(len(frame), bool)
    if mask.any():
        action = "dropped" if placeholders == "drop" else "kept (--placeholders drop removes them)"
        problems.append(f"{int(mask.sum())} placeholder bars (volume <= 1, vendor fillers): {action}")
        if placeholders == "drop":
            frame = frame[~mask]
    span = infer_span(frame)
    timeframe = next((tf for tf in Timeframe if pd.Timedelta(tf.span) == span), None)
    if timeframe is None:
        raise DataError(f"{path}: bars every {span} match no mesdesk timeframe (1s, 1m, 5m, 15m, 1h, 4h, 1d)")
    name = symbol or Path(path).name.split(".")[0]
    key = CacheKey("file", name, timeframe)
    first, last = index_ns(frame)[0], index_ns(frame)[-1] + int(span.value)
    cache_for(settings).store(key, frame, (int(first), int(last)))
    return frame, summarize(frame, source="file", symbol=name, timeframe=timeframe, problems=problems)


def list_cache(settings: Settings) -> list[CacheEntry]:
    """Everything in the cache (a broken file raises `DataError` naming it)."""
    return list(cache_for(settings).entries())


@dataclass(frozen=True, slots=True)
class ValidateRequest:
    """`mesdesk data validate-daily`: intraday bars from a source or file against Yahoo daily bars."""

    source: str = "databento"
    symbol: str | None = None
    file: Path | None = None
    tz: str | None = None
    yahoo_symbol: str = "MES=F"
    start: str | None = None
    end: str | None = None
    tolerance_pts: float = 1.0
    max_cost_usd: float = 5.0
    refresh: bool = False


def validate_daily(
    request: ValidateRequest, settings: Settings, *, progress: Progress | None = None
) -> tuple[DailyReport, BarSummary]:
    """Days built from intraday bars (1h from Databento, 1m from Yahoo, or a file) vs Yahoo daily bars."""
    if request.file is not None:
        from mesdesk.data.files import load_bars

        intraday = load_bars(request.file, tz=request.tz, placeholders="drop")
        hi = pd.Timestamp(intraday.index[-1])
        source_name, symbol = "file", str(request.file)
    else:
        tf = SOURCES.get(request.source).daily_base
        lo, hi = request_range(Timeframe.D1, request.start, request.end)
        source: CachedSource = make_source(
            request.source, settings, max_cost_usd=request.max_cost_usd, progress=progress
        )
        symbol = request.symbol or default_symbol(request.source)
        intraday = source.bars(symbol, tf, lo, hi, refresh=request.refresh)
        source_name = request.source
    built = daily_from_intraday(intraday[["open", "high", "low", "close", "volume"]])
    if len(built) == 0:
        raise DataError(f"no complete trading day in the intraday bars of {symbol}")
    yahoo = YahooSource(cache=cache_for(settings), progress=progress)
    daily = yahoo.bars(request.yahoo_symbol, Timeframe.D1, built.index[0], hi + pd.Timedelta(days=1))
    if len(daily) == 0:
        raise ProviderError(f"no daily bars for {request.yahoo_symbol}", provider="yahoo", kind="empty")
    report = compare_daily(built, daily, tolerance_pts=request.tolerance_pts)
    return report, summarize(built, source=source_name, symbol=symbol, timeframe=Timeframe.D1)
