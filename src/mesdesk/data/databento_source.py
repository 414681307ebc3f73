"""Databento CME Globex (GLBX.MDP3) OHLCV bars through the official `databento` SDK.

Symbols
    ``MES.c.0`` (default; also ``.n.``/``.v.`` and other ranks): a continuous front contract,
    unadjusted prices. ``MES.FUT``: parent symbology, every MES contract; spreads are dropped and
    each trading day uses the outright that traded most on the **previous** trading day (a rule
    known before the day starts; a first day without a previous one in the data is dropped).
    Anything else (``MESZ5``) is one raw contract.
Timeframes
    1s, 1m and 1h come straight from ``ohlcv-1s/1m/1h``; 5m and 15m are resampled from 1m, 4h and 1d
    from 1h, on the CME trading day (``ohlcv-1d`` follows the UTC date, not the session).
The contract
    Every bar carries ``symbol``, the raw contract behind it (``MESH5``), and ``instrument_id``;
    the cache keeps both, so a roll is visible.
Cost
    Before any download the cost of every missing chunk is asked of ``metadata.get_cost`` (free);
    above ``max_cost_usd`` nothing is downloaded (`BudgetExceeded`).
Gaps
    Databento writes no record for a minute without trades: the maintenance break and quiet
    minutes stay gaps (never filled).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import requests

from mesdesk.bars import BAR_COLUMNS, empty_bars
from mesdesk.calendar import trading_days
from mesdesk.data.cache import BarCache, CacheKey, Interval, Piece, index_ns
from mesdesk.data.fetching import ChunkDone, Progress, bin_floor, closed_before, split, ts, utc
from mesdesk.data.http import RetryPolicy, Sleep
from mesdesk.data.resample import resample
from mesdesk.errors import BudgetExceeded, ConfigError, DataError, ProviderError
from mesdesk.timeframes import Timeframe

log = logging.getLogger(__name__)

PROVIDER = "databento"
DATASET = "GLBX.MDP3"
DEFAULT_SYMBOL = "MES.c.0"
_BASE = {
    Timeframe.S1: Timeframe.S1,
    Timeframe.M1: Timeframe.M1,
    Timeframe.M5: Timeframe.M1,
    Timeframe.M15: Timeframe.M1,
    Timeframe.H1: Timeframe.H1,
    Timeframe.H4: Timeframe.H1,
    Timeframe.D1: Timeframe.H1,
}
_SCHEMA = {Timeframe.S1: "ohlcv-1s", Timeframe.M1: "ohlcv-1m", Timeframe.H1: "ohlcv-1h"}
_CHUNK = {Timeframe.S1: pd.Timedelta(days=1), Timeframe.M1: pd.Timedelta(days=31), Timeframe.H1: pd.Timedelta(days=366)}
_CONTINUOUS = re.compile(r"^[A-Z0-9]+\.[cnv]\.\d+$")
_OUTRIGHT = re.compile(r"^[A-Z0-9]+[FGHJKMNQUVXZ]\d{1,2}$")
_PARENT_LOOKBACK = pd.Timedelta(days=4)  # reaches the previous trading day over a weekend or holiday


def _request_start(symbol: str, start_ns: int) -> int:
    """Parent requests start a few days early, to know the previous trading day's volume leader."""
    return start_ns - _PARENT_LOOKBACK.value if stype_of(symbol) == "parent" else start_ns


def stype_of(symbol: str) -> str:
    """Databento input symbology of a symbol: continuous, parent or raw_symbol."""
    if _CONTINUOUS.match(symbol):
        return "continuous"
    if symbol.endswith((".FUT", ".OPT")):
        return "parent"
    return "raw_symbol"


@dataclass(frozen=True, slots=True)
class DatabentoConfig:
    """Download limits: the most a request may cost, and how recent data is treated."""

    dataset: str = DATASET
    max_cost_usd: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Bars this close to now may still be published late: fetched, but not marked as covered.
    settle: pd.Timedelta = pd.Timedelta(hours=1)


def _key_from_env(api_key: str | None) -> str:
    if not api_key:
        raise ConfigError("DATABENTO_API_KEY is not set: export your Databento API key (db-...) to download bars")
    return api_key


class DatabentoSource:
    """A `BarSource` over Databento, cached on disk when a `BarCache` is given."""

    name = PROVIDER

    def __init__(
        self,
        client: Any,
        *,
        cache: BarCache | None = None,
        config: DatabentoConfig | None = None,
        progress: Progress | None = None,
        now: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC"),
        sleep: Sleep | None = None,
    ) -> None:
        self._client = client
        self._cache = cache
        self.config = config or DatabentoConfig()
        self._progress = progress
        self._now = now
        self._sleep = sleep or time.sleep
        self.chunks_downloaded = 0
        self.cost_usd = 0.0  # estimated cost of what this source has downloaded

    @classmethod
    def from_key(cls, api_key: str | None, **kwargs: Any) -> DatabentoSource:
        """Build with the official client; a missing key is a `ConfigError` naming DATABENTO_API_KEY."""
        import databento

        return cls(databento.Historical(key=_key_from_env(api_key)), **kwargs)

    # --- public ---------------------------------------------------------------------------------

    def bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | pd.Timestamp | str,
        end: datetime | pd.Timestamp | str,
        *,
        refresh: bool = False,
    ) -> pd.DataFrame:
        """Closed bars with open in [start, end) (UTC), validated, with ``symbol``/``instrument_id``."""
        lo, hi = utc(start, "start"), utc(end, "end")
        if hi <= lo:
            raise ConfigError(f"start {lo} must be before end {hi}")
        base = _BASE[timeframe]
        fetch_lo = bin_floor(lo, timeframe)
        key = CacheKey(self.name, symbol, base)
        if self._cache is not None:
            frame = self._cache.get(
                key, fetch_lo, hi, lambda missing: self._fetch(symbol, base, missing), refresh=refresh
            )
        else:
            pieces = [p.bars for p in self._fetch(symbol, base, [(fetch_lo.value, hi.value)]) if len(p.bars)]
            frame = pd.concat(pieces) if pieces else empty_bars()
        if timeframe is not base:
            frame = _resample_with_symbol(frame, timeframe, base)
        frame = closed_before(frame, self._now(), timeframe)
        return frame.loc[(frame.index >= lo) & (frame.index < hi)]

    def estimate_cost_usd(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | pd.Timestamp | str,
        end: datetime | pd.Timestamp | str,
        *,
        refresh: bool = False,
    ) -> float:
        """What `bars` would cost now in USD: only the part not cached (all of it with `refresh`)."""
        base = _BASE[timeframe]
        lo = bin_floor(utc(start, "start"), timeframe)
        hi = utc(end, "end")
        whole = [(lo.value, hi.value)]
        missing = (
            self._cache.missing(CacheKey(self.name, symbol, base), lo, hi) if self._cache and not refresh else whole
        )
        return sum(self._cost(symbol, base, a, b) for a, b, _ in self._plan(symbol, base, missing))

    # --- fetching -------------------------------------------------------------------------------

    def _plan(self, symbol: str, base: Timeframe, missing: list[Interval]) -> list[tuple[int, int, int]]:
        """Chunks to download as (request start, request end, covered end), capped at what exists."""
        now = self._now()
        limit = now.value
        if any(b > (now - pd.Timedelta(days=2)).value for _, b in missing):
            limit = min(limit, self._available_end_ns(now))
        settled = min((now - self.config.settle).value, limit)
        plan = []
        for a, b in split(missing, _CHUNK[base]):
            req_end = min(b, limit)
            if req_end <= a:
                continue
            plan.append((a, req_end, min(b, max(a, settled))))
        return plan

    def _available_end_ns(self, now: pd.Timestamp) -> int:
        """The end of the data Databento has published (asking past it is an error); `now` if unknown."""
        try:
            answer = self._call(
                "dataset range", lambda: self._client.metadata.get_dataset_range(dataset=self.config.dataset)
            )
            end = answer.get("end") or answer.get("end_date")
            return min(int(utc(str(end), "dataset end").value), now.value)
        except ProviderError as exc:
            if exc.kind == "auth":
                raise
            log.warning("databento: dataset range unknown (%s); asking up to now", exc)
        except (AttributeError, TypeError, ValueError, ConfigError) as exc:
            log.warning("databento: dataset range unreadable (%s); asking up to now", exc)
        return now.value

    def _fetch(self, symbol: str, base: Timeframe, missing: list[Interval]) -> Iterator[Piece]:
        plan = self._plan(symbol, base, missing)
        if not plan:
            return
        cost = sum(self._cost(symbol, base, a, b) for a, b, _ in plan)
        if cost > self.config.max_cost_usd:
            raise BudgetExceeded(
                f"databento: {symbol} {_SCHEMA[base]} {ts(plan[0][0]):%Y-%m-%d %H:%M} to "
                f"{ts(plan[-1][1]):%Y-%m-%d %H:%M} UTC would cost ${cost:.2f}, "
                f"above --max-cost ${self.config.max_cost_usd:.2f}; nothing downloaded"
            )
        log.info("databento: %d chunk(s), estimated $%.4f", len(plan), cost)
        self.cost_usd += cost
        for i, (a, b, covered_end) in enumerate(plan, start=1):
            frame = self._download(symbol, base, a, b)
            self.chunks_downloaded += 1
            frame = closed_before(frame, self._now(), base)
            if self._progress is not None:
                label = f"{symbol} {base.value} {ts(a):%Y-%m-%d}..{ts(b):%Y-%m-%d}"
                self._progress(ChunkDone(PROVIDER, i, len(plan), len(frame), label))
            yield Piece(frame, (a, b), (a, covered_end))

    def _cost(self, symbol: str, base: Timeframe, start_ns: int, end_ns: int) -> float:
        """The cost of exactly what `_download` will ask for (parent requests look back a few days)."""
        what = f"cost of {symbol} {_SCHEMA[base]}"
        raw = self._call(
            what,
            lambda: self._client.metadata.get_cost(
                dataset=self.config.dataset,
                start=ts(_request_start(symbol, start_ns)),
                end=ts(end_ns),
                symbols=[symbol],
                schema=_SCHEMA[base],
                stype_in=stype_of(symbol),
            ),
        )
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ProviderError(f"{what}: not a number: {raw!r:.60}", provider=PROVIDER, kind="payload") from None

    def _download(self, symbol: str, base: Timeframe, start_ns: int, end_ns: int) -> pd.DataFrame:
        stype = stype_of(symbol)
        req_start = _request_start(symbol, start_ns)
        what = f"{symbol} {_SCHEMA[base]} {ts(start_ns):%Y-%m-%d %H:%M}"
        store = self._call(
            what,
            lambda: self._client.timeseries.get_range(
                dataset=self.config.dataset,
                schema=_SCHEMA[base],
                symbols=[symbol],
                stype_in=stype,
                start=ts(req_start),
                end=ts(end_ns),
            ),
        )
        try:
            raw = store.to_df(price_type="float", pretty_ts=True, map_symbols=False)
        except Exception as exc:  # the SDK raises several types on a broken stream
            raise ProviderError(f"{what}: unreadable DBN data ({exc})", provider=PROVIDER, kind="payload") from None
        if len(raw) == 0:
            return empty_bars()
        frame = self._with_contracts(raw, symbol, stype, start_ns, end_ns)
        if stype == "parent":
            frame = _front_by_previous_day_volume(frame)
        stamps = index_ns(frame)
        return frame.loc[(stamps >= start_ns) & (stamps < end_ns)]

    def _with_contracts(self, raw: pd.DataFrame, symbol: str, stype: str, start_ns: int, end_ns: int) -> pd.DataFrame:
        """Bars with the raw contract symbol behind each (`symbol`) and its `instrument_id`."""
        missing = [c for c in (*BAR_COLUMNS, "instrument_id") if c not in raw.columns]
        if missing:
            raise ProviderError(f"{symbol}: DBN records lack {missing}", provider=PROVIDER, kind="payload")
        frame = raw[list(BAR_COLUMNS)].astype({"volume": "int64"})
        frame.index = pd.DatetimeIndex(raw.index).tz_convert("UTC").as_unit("ns").rename("ts")
        ids = raw["instrument_id"].to_numpy().astype("int64")
        frame["instrument_id"] = ids
        if stype == "raw_symbol":
            frame["symbol"] = symbol
            return frame
        names = self._resolve(sorted(set(ids.tolist())), start_ns, end_ns, required=stype == "parent")
        frame["symbol"] = [names.get(i, f"#{i}") for i in ids]
        if stype == "parent":
            frame = frame[frame["symbol"].str.match(_OUTRIGHT.pattern)]
        return frame

    def _resolve(self, ids: list[int], start_ns: int, end_ns: int, *, required: bool) -> dict[int, str]:
        """instrument_id -> raw symbol through the (free) symbology endpoint."""
        try:
            answer = self._call(
                "symbology",
                lambda: self._client.symbology.resolve(
                    dataset=self.config.dataset,
                    symbols=[str(i) for i in ids],
                    stype_in="instrument_id",
                    stype_out="raw_symbol",
                    start_date=ts(start_ns).date() - pd.Timedelta(days=7),
                    end_date=ts(end_ns).date() + pd.Timedelta(days=1),
                ),
            )
            result = answer["result"]
            names = {}
            for key, spans in result.items():
                symbols = [s.get("s") for s in spans if isinstance(s, dict) and s.get("s")]
                if symbols:
                    names[int(key)] = str(symbols[-1])
            return names
        except (ProviderError, KeyError, TypeError, ValueError, AttributeError) as exc:
            if required:
                raise ProviderError(
                    f"cannot name the contracts behind the bars ({exc}); spreads cannot be told apart",
                    provider=PROVIDER,
                    kind=getattr(exc, "kind", "payload"),
                ) from None
            log.warning("databento: contract names unavailable (%s); keeping instrument ids", exc)
            return {}

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run an SDK call with retries on 429, 5xx and timeouts; map failures to `ProviderError`."""
        policy = self.config.retry
        error: ProviderError | None = None
        for attempt in range(1, policy.attempts + 1):
            try:
                return fn()
            except Exception as exc:  # SDK, requests and DBN errors all end here
                error, retry_after = _classify(exc, what)
                if error.kind not in ("rate_limit", "server", "timeout") or attempt == policy.attempts:
                    break
                delay = policy.delay_s(attempt, retry_after)
                log.info("databento: %s; retry %d/%d in %.1f s", error, attempt, policy.attempts - 1, delay)
                self._sleep(delay)
        assert error is not None
        if error.kind in ("rate_limit", "server", "timeout") and policy.attempts > 1:
            message = str(error).removeprefix(f"{PROVIDER}: ")
            raise ProviderError(
                f"{message}; gave up after {policy.attempts} attempts", provider=PROVIDER, kind=error.kind
            )
        raise error


def _classify(exc: Exception, what: str) -> tuple[ProviderError, str | None]:
    """The typed error (and any Retry-After) for an exception raised by the SDK."""
    from databento.common.error import BentoClientError, BentoError, BentoServerError

    if isinstance(exc, requests.Timeout):
        return ProviderError(f"{what}: no answer in time", provider=PROVIDER, kind="timeout"), None
    if isinstance(exc, requests.ConnectionError):
        return ProviderError(f"{what}: cannot connect ({type(exc).__name__})", provider=PROVIDER, kind="server"), None
    if isinstance(exc, requests.RequestException):
        return ProviderError(f"{what}: request failed ({type(exc).__name__})", provider=PROVIDER, kind="request"), None
    if isinstance(exc, BentoClientError | BentoServerError):
        status = int(exc.http_status)
        detail = str(exc.message or "").split("\n")[0][:160]
        retry_after = (exc.headers or {}).get("Retry-After")
        if status in (401, 403):
            kind, text = "auth", f"HTTP {status}, DATABENTO_API_KEY refused ({detail})"
        elif status == 429:
            kind, text = "rate_limit", f"HTTP 429, rate limited ({detail})"
        elif status in (408, 504):
            kind, text = "timeout", f"HTTP {status}, timed out ({detail})"
        elif status >= 500:
            kind, text = "server", f"HTTP {status}, server error ({detail})"
        else:
            kind, text = "request", f"HTTP {status} ({detail})"
        return ProviderError(f"{what}: {text}", provider=PROVIDER, kind=kind), retry_after
    if isinstance(exc, BentoError) and str(exc).startswith("Error streaming response"):
        return ProviderError(f"{what}: download interrupted ({exc})", provider=PROVIDER, kind="server"), None
    if isinstance(exc, BentoError | ValueError | DataError):
        return ProviderError(f"{what}: unreadable answer ({exc})", provider=PROVIDER, kind="payload"), None
    if isinstance(exc, ProviderError):
        return exc, None
    raise exc


def _resample_with_symbol(frame: pd.DataFrame, timeframe: Timeframe, base: Timeframe) -> pd.DataFrame:
    """Resample bars, keeping the contract of each bin's last bar."""
    if len(frame) == 0:
        return frame
    out = resample(frame[list(BAR_COLUMNS)], timeframe, source_span=pd.Timedelta(base.span))
    for col in ("symbol", "instrument_id"):
        if col in frame.columns and len(out):
            ends = index_ns(out) + int(pd.Timedelta(timeframe.span).value)
            pos = np.searchsorted(index_ns(frame), ends, side="left") - 1
            pos = np.clip(pos, 0, len(frame) - 1)
            out[col] = frame[col].to_numpy()[pos]
    return out


def _front_by_previous_day_volume(frame: pd.DataFrame) -> pd.DataFrame:
    """One outright per trading day: the one with most volume on the previous trading day in the data."""
    if len(frame) == 0:
        return frame
    days = trading_days(pd.DatetimeIndex(frame.index))
    volume = pd.DataFrame({"day": days, "symbol": frame["symbol"].to_numpy(), "volume": frame["volume"].to_numpy()})
    per_day = volume.groupby(["day", "symbol"], sort=True)["volume"].sum()
    leaders = per_day.groupby(level="day").idxmax().map(lambda pair: pair[1])
    leader_for = pd.Series(leaders.to_numpy()[:-1], index=leaders.index[1:])  # day -> previous day's leader
    wanted = leader_for.reindex(days).to_numpy()
    keep = frame["symbol"].to_numpy() == wanted
    selected: pd.DataFrame = frame[keep]
    return selected
