"""Yahoo Finance futures bars (``MES=F``, ``ES=F``) from the v8 chart endpoint, on `requests`.

A direct client rather than `yfinance`: the same endpoint and JSON, but every failure is typed
(yfinance returns an empty frame on most errors) and the tests can feed it recorded answers.

History limits (Yahoo refuses or silently truncates beyond them; mesdesk refuses first, naming
the limit): 1m bars for the last 30 days, at most 7 days a request (fetched in 7-day chunks);
5m and 15m for the last 60 days; 1h for the last 730 days; 1d without limit. 4h is built from
1h on the CME trading day; 1s is not offered.

Timestamps are bar opens in UTC. A daily bar is keyed like every mesdesk daily bar, by the open of
its CME trading day (17:00 CT the evening before); Yahoo labels it with the exchange-time date,
which mesdesk takes as the trading day (reported off by one day at times: see
`mesdesk.data.validate_daily`). Rows with null prices (Yahoo's gaps) are dropped, never filled;
a bar that has not closed yet (the live partial bar) is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import requests

from mesdesk.bars import BAR_COLUMNS, empty_bars
from mesdesk.calendar import CT
from mesdesk.data.cache import BarCache, CacheKey, Interval, Piece, index_ns
from mesdesk.data.fetching import ChunkDone, Progress, bin_floor, closed_before, split, ts, utc
from mesdesk.data.http import RetryPolicy, Sleep, get_with_retry
from mesdesk.data.resample import resample
from mesdesk.errors import ConfigError, ProviderError
from mesdesk.timeframes import Timeframe

log = logging.getLogger(__name__)

PROVIDER = "yahoo"
CHART_URL = "https://query2.finance.yahoo.com/v8/finance/chart/{ticker}"
COOKIE_URL = "https://fc.yahoo.com"
CRUMB_URL = "https://query1.finance.yahoo.com/v1/test/getcrumb"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


@dataclass(frozen=True, slots=True)
class IntervalLimit:
    """Yahoo's reach for one bar interval: how far back, and how much per request (None: no limit)."""

    interval: str
    max_age: pd.Timedelta | None
    max_request: pd.Timedelta | None


LIMITS: dict[Timeframe, IntervalLimit] = {
    Timeframe.M1: IntervalLimit("1m", pd.Timedelta(days=30), pd.Timedelta(days=7)),
    Timeframe.M5: IntervalLimit("5m", pd.Timedelta(days=60), pd.Timedelta(days=60)),
    Timeframe.M15: IntervalLimit("15m", pd.Timedelta(days=60), pd.Timedelta(days=60)),
    Timeframe.H1: IntervalLimit("60m", pd.Timedelta(days=730), pd.Timedelta(days=730)),
    Timeframe.D1: IntervalLimit("1d", None, None),
}
_BASE = {tf: tf for tf in LIMITS} | {Timeframe.H4: Timeframe.H1}
_NO_LIMIT_CHUNK = pd.Timedelta(days=3660)


def check_reach(timeframe: Timeframe, start: pd.Timestamp, now: pd.Timestamp) -> None:
    """Refuse a request Yahoo cannot serve, naming the limit."""
    if timeframe not in _BASE:
        raise ConfigError(f"yahoo has no {timeframe.value} bars; use 1m, 5m, 15m, 1h, 4h or 1d (or Databento for 1s)")
    limit = LIMITS[_BASE[timeframe]]
    if limit.max_age is not None and start < now - limit.max_age:
        days = limit.max_age.days
        raise ConfigError(
            f"yahoo keeps {timeframe.value} bars for the last {days} days only (from {now - limit.max_age:%Y-%m-%d}); "
            f"start {start:%Y-%m-%d} is earlier: use a longer timeframe or --source databento"
        )


# --- the chart JSON ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart answer: bars (UTC open, Yahoo's labels) and the fields of `meta` mesdesk uses."""

    bars: pd.DataFrame
    exchange_tz: str
    granularity: str
    symbol: str


def _payload(msg: str) -> ProviderError:
    return ProviderError(msg, provider=PROVIDER, kind="payload")


def parse_chart(body: Any, *, ticker: str) -> Chart:
    """Parse ``/v8/finance/chart`` JSON; rows with a null price are dropped (gaps stay gaps)."""
    if not isinstance(body, dict) or not isinstance(body.get("chart"), dict):
        raise _payload(f"{ticker}: answer has no 'chart' object")
    chart = body["chart"]
    if chart.get("error"):
        err = chart["error"]
        text = err.get("description") or err.get("code") if isinstance(err, dict) else err
        raise ProviderError(f"{ticker}: {text}", provider=PROVIDER, kind="request")
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise _payload(f"{ticker}: chart has no result")
    result = results[0]
    meta: dict[str, Any] = result["meta"] if isinstance(result.get("meta"), dict) else {}
    exchange_tz = str(meta.get("exchangeTimezoneName") or "America/New_York")
    stamps = result.get("timestamp") or []
    quotes = (result.get("indicators") or {}).get("quote") or [{}]
    quote = quotes[0] if isinstance(quotes, list) and quotes and isinstance(quotes[0], dict) else None
    if not isinstance(stamps, list) or quote is None:
        raise _payload(f"{ticker}: chart result lacks timestamp/indicators.quote")
    columns: dict[str, np.ndarray] = {}
    for col in BAR_COLUMNS:
        values = quote.get(col, [] if not stamps else None)
        if not isinstance(values, list) or len(values) != len(stamps):
            raise _payload(f"{ticker}: {col} has {_len(values)} values for {len(stamps)} timestamps")
        try:
            columns[col] = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
        except (TypeError, ValueError):
            raise _payload(f"{ticker}: non-numeric {col} value") from None
    try:
        seconds = np.array(stamps, dtype="int64")
    except (TypeError, ValueError):
        raise _payload(f"{ticker}: non-integer timestamps") from None
    index = pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True), name="ts").as_unit("ns")
    frame = pd.DataFrame({c: columns[c] for c in BAR_COLUMNS}, index=index)
    prices = frame[["open", "high", "low", "close"]].to_numpy()
    frame = frame[np.isfinite(prices).all(axis=1)]
    frame["volume"] = np.nan_to_num(frame["volume"].to_numpy(), nan=0.0).astype("int64")
    # Yahoo repeats the last timestamp for the live bar at times: keep the latest answer.
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return Chart(frame, exchange_tz, str(meta.get("dataGranularity") or ""), str(meta.get("symbol") or ticker))


def _len(values: object) -> str:
    return str(len(values)) if isinstance(values, list) else "no"


def daily_to_trading_day_open(frame: pd.DataFrame, exchange_tz: str) -> pd.DataFrame:
    """Re-key Yahoo daily bars by the open (17:00 CT the day before) of the trading day of their date."""
    if len(frame) == 0:
        return frame
    dates = pd.DatetimeIndex(frame.index).tz_convert(exchange_tz).tz_localize(None).normalize()
    opens = (dates - pd.Timedelta(days=1) + pd.Timedelta(hours=17)).tz_localize(CT).tz_convert("UTC")
    out = frame.copy()
    out.index = pd.DatetimeIndex(opens, name="ts").as_unit("ns")
    return out[~out.index.duplicated(keep="last")]


# --- the client ----------------------------------------------------------------------------------


class YahooClient:
    """GET the chart endpoint with retries; fetch a cookie and crumb only when Yahoo asks for one."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._session = session or requests.Session()
        agent = str(self._session.headers.get("User-Agent") or "")
        if not agent or agent.startswith("python-requests"):
            self._session.headers["User-Agent"] = USER_AGENT
        self._policy = policy or RetryPolicy(attempts=4, backoff_s=2.0)
        self._sleep = sleep or time.sleep
        self._crumb: str | None = None

    def chart(self, ticker: str, interval: str, start: pd.Timestamp, end: pd.Timestamp) -> Chart:
        params: dict[str, Any] = {
            "period1": int(start.timestamp()),
            "period2": int(end.timestamp()),
            "interval": interval,
            "includePrePost": "false",
            "events": "div,splits",
        }
        what = f"{ticker} {interval} {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M}"
        try:
            response = self._get(ticker, params, what)
        except ProviderError as exc:
            if exc.kind != "auth" or self._crumb is not None:
                raise
            self._crumb = self._fetch_crumb(what)
            response = self._get(ticker, params, what)
        try:
            body = response.json()
        except ValueError:
            raise _payload(f"{what}: answer is not JSON") from None
        return parse_chart(body, ticker=ticker)

    def _get(self, ticker: str, params: dict[str, Any], what: str) -> requests.Response:
        if self._crumb is not None:
            params = {**params, "crumb": self._crumb}
        return get_with_retry(
            self._session,
            CHART_URL.format(ticker=ticker),
            params=params,
            provider=PROVIDER,
            what=what,
            policy=self._policy,
            sleep=self._sleep,
            classify=_classify_chart_error,
        )

    def _fetch_crumb(self, what: str) -> str:
        """Yahoo's cookie then crumb (as yfinance does); used after a 401/403 only."""
        try:
            self._session.get(COOKIE_URL, timeout=self._policy.timeout_s, allow_redirects=True)
        except requests.RequestException as exc:
            log.info("yahoo: cookie request failed (%s); trying the crumb anyway", type(exc).__name__)
        response = get_with_retry(
            self._session, CRUMB_URL, provider=PROVIDER, what=f"{what} (crumb)", policy=self._policy, sleep=self._sleep
        )
        crumb = response.text.strip()
        if not crumb or "<" in crumb or " " in crumb:
            raise ProviderError(f"{what}: Yahoo gave no crumb; access refused", provider=PROVIDER, kind="auth")
        return crumb


def _classify_chart_error(response: requests.Response) -> ProviderError | None:
    """4xx answers other than 401/403/429 carry `chart.error.description`: a request error."""
    if response.status_code in (400, 404, 422):
        try:
            err = (response.json().get("chart") or {}).get("error") or {}
            text = err.get("description") if isinstance(err, dict) else str(err)
        except (ValueError, AttributeError):
            text = response.text[:160]
        return ProviderError(f"HTTP {response.status_code}: {text}", provider=PROVIDER, kind="request")
    return None


# --- the bar source ------------------------------------------------------------------------------


@dataclass
class YahooSource:
    """A `BarSource` over Yahoo Finance, cached on disk when a `BarCache` is given."""

    client: YahooClient = field(default_factory=YahooClient)
    cache: BarCache | None = None
    progress: Progress | None = None
    now: Callable[[], pd.Timestamp] = field(default=lambda: pd.Timestamp.now(tz="UTC"))
    settle: pd.Timedelta = pd.Timedelta(hours=1)
    name: str = PROVIDER
    chunks_downloaded: int = 0

    def bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | pd.Timestamp | str,
        end: datetime | pd.Timestamp | str,
        *,
        refresh: bool = False,
    ) -> pd.DataFrame:
        """Closed bars with open in [start, end) (UTC), validated, with the ``symbol`` asked for."""
        lo, hi = utc(start, "start"), utc(end, "end")
        if hi <= lo:
            raise ConfigError(f"start {lo} must be before end {hi}")
        now = self.now()
        check_reach(timeframe, lo, now)
        base = _BASE[timeframe]
        key = CacheKey(self.name, symbol, base)
        fetch_lo = bin_floor(lo, timeframe)
        if self.cache is not None:
            fetch = lambda missing: self._fetch(symbol, base, missing)  # noqa: E731
            frame = self.cache.get(key, fetch_lo, hi, fetch, refresh=refresh)
        else:
            pieces = [p.bars for p in self._fetch(symbol, base, [(fetch_lo.value, hi.value)]) if len(p.bars)]
            frame = pd.concat(pieces).sort_index() if pieces else empty_bars()
        if timeframe is not base and len(frame):
            frame = resample(frame[list(BAR_COLUMNS)], timeframe, source_span=pd.Timedelta(base.span))
            frame["symbol"] = symbol
        frame = closed_before(frame, now, timeframe)
        return frame.loc[(frame.index >= lo) & (frame.index < hi)]

    def _fetch(self, symbol: str, base: Timeframe, missing: list[Interval]) -> Iterator[Piece]:
        limit = LIMITS[base]
        now = self.now()
        chunks = [(a, min(b, now.value)) for a, b in split(missing, limit.max_request or _NO_LIMIT_CHUNK)]
        chunks = [(a, b) for a, b in chunks if b > a]
        settled = (now - self.settle).value
        for i, (a, b) in enumerate(chunks, start=1):
            frame = self._chunk(symbol, base, a, b)
            self.chunks_downloaded += 1
            frame = closed_before(frame, now, base)
            if self.progress is not None:
                label = f"{symbol} {limit.interval} {ts(a):%Y-%m-%d}..{ts(b):%Y-%m-%d}"
                self.progress(ChunkDone(PROVIDER, i, len(chunks), len(frame), label))
            yield Piece(frame, (a, b), (a, min(b, max(a, settled))))

    def _chunk(self, symbol: str, base: Timeframe, a: int, b: int) -> pd.DataFrame:
        limit = LIMITS[base]
        if base is Timeframe.D1:
            # Yahoo labels a daily bar by its date (00:00 exchange time); ask a day wider either side.
            day = pd.Timedelta(days=1)
            chart = self.client.chart(symbol, limit.interval, ts(a) - day, ts(b) + day)
            frame = daily_to_trading_day_open(chart.bars, chart.exchange_tz)
        else:
            chart = self.client.chart(symbol, limit.interval, ts(a), ts(b))
            frame = chart.bars
        stamps = index_ns(frame)
        frame = frame.loc[(stamps >= a) & (stamps < b)].copy()
        frame["symbol"] = symbol
        return frame
