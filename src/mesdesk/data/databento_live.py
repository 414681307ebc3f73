"""Databento's live stream (GLBX.MDP3) as a `BarSource`: the SDK's `Live` client in a background thread.

What it streams
    ``ohlcv-1m`` (and ``ohlcv-1s`` for the sub-bar path when `LiveConfig.timeframes` asks for it) of
    one symbol: ``MES.c.0`` (continuous, the default), ``MES.FUT`` (parent: spreads dropped, the
    front chosen by volume, see `_front`) or one raw contract. Every bar carries the raw contract
    behind it (``symbol``, from the gateway's ``SymbolMappingMsg``) and its ``instrument_id``.
When a bar is used
    Databento stamps a bar with its open (``ts_event``) and publishes it once its interval has ended.
    `bars()` returns a bar only when ``open + span <= now``. A record that arrives before its close
    is provisional: if the connection drops before the bar closes it is thrown away, and the bar
    comes again, final, from the replay after the reconnect. No bar is ever invented.
Disconnects
    The thread reconnects with exponential backoff (`Backoff`) and subscribes again with ``start=``
    at the last bar it holds (intraday replay, within `LiveConfig.replay_window`); what the replay
    sends twice is dropped by (schema, instrument, open time). A gap older than the replay window is
    filled from the historical API when a `history` source is given, else it stays a gap and is
    listed in `status().gaps` (once: each failed reconnect computes it again and only joins it to the
    listed stretches, logging it when it grew). Bars that arrive late reach the runner like any other: the runner's
    late-decision rule (`RunnerConfig.max_decision_lag_s`) decides what is still tradable.
The key
    Only the SDK sees it (challenge-response: it never crosses the wire). Every message this module
    logs or raises is scrubbed of it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd
from databento_dbn import SystemCode

from mesdesk.bars import empty_bars
from mesdesk.calendar import trading_days
from mesdesk.config import Settings
from mesdesk.data.databento_source import _OUTRIGHT as OUTRIGHT  # one rule for outrights (MESZ5, not spreads)
from mesdesk.data.databento_source import DATASET, DEFAULT_SYMBOL, DatabentoSource, stype_of
from mesdesk.data.fetching import closed_before, utc
from mesdesk.data.source import BarSource
from mesdesk.errors import ConfigError, MesdeskError, ProviderError
from mesdesk.timeframes import Timeframe

log = logging.getLogger(__name__)

PROVIDER = "databento-live"
DEFAULT_PORT = 13000
_SCHEMA = {Timeframe.M1: "ohlcv-1m", Timeframe.S1: "ohlcv-1s"}
_RTYPE = {33: Timeframe.M1, 32: Timeframe.S1}  # DBN rtypes OHLCV_1M, OHLCV_1S
_COLUMNS = ("open", "high", "low", "close", "volume", "instrument_id", "symbol")


class LiveClient(Protocol):
    """What this module uses of `databento.Live` (one object per connection)."""

    def add_callback(self, record_callback: Callable[[Any], None]) -> None: ...

    def subscribe(self, dataset: str, schema: str, symbols: list[str], stype_in: str, start: int | None) -> int: ...

    def start(self) -> None: ...

    def is_connected(self) -> bool: ...

    def block_for_close(self, timeout: float | None = None) -> None: ...

    def terminate(self) -> None: ...


Connect = Callable[[], LiveClient]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds to wait before reconnect attempt n+1 after n failed ones: first_s * 2**n, at most max_s."""

    first_s: float = 1.0
    max_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.max_s:
            raise ConfigError(f"backoff: need 0 < first_s <= max_s, got {self.first_s} and {self.max_s}")

    def delay_s(self, failures: int) -> float:
        return float(min(self.max_s, self.first_s * 2 ** min(failures, 30)))


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """The live subscription and how it recovers.

    `initial_replay` is how much 1m history the first connection replays (the gateway keeps about
    24 h); `sub_bar_replay` the same for 1s bars. `replay_window` is the oldest start a reconnect asks
    the gateway for; older gaps need the historical API. `history_lookback` is what the historical
    source (when given) adds before the first replay, for the runner's indicators.
    """

    dataset: str = DATASET
    symbol: str = DEFAULT_SYMBOL
    timeframes: tuple[Timeframe, ...] = (Timeframe.M1,)
    gateway: str | None = None  # None: Databento's gateway for the dataset
    port: int = DEFAULT_PORT
    heartbeat_interval_s: int = 30
    backoff: Backoff = field(default_factory=Backoff)
    replay_window: timedelta = timedelta(hours=23)
    initial_replay: timedelta = timedelta(hours=23)
    sub_bar_replay: timedelta = timedelta(minutes=30)
    history_lookback: timedelta = timedelta(days=7)
    keep: timedelta = timedelta(days=8)
    keep_sub_bars: timedelta = timedelta(hours=6)
    disconnect_grace_s: float = 15.0  # a disconnect longer than this makes `bars()` raise (the runner pauses)

    def __post_init__(self) -> None:
        if not self.timeframes or any(tf not in _SCHEMA for tf in self.timeframes):
            raise ConfigError(f"databento live: timeframes must be among 1m and 1s, got {list(self.timeframes)}")
        if not 5 <= self.heartbeat_interval_s <= 1800:
            raise ConfigError(f"heartbeat_interval_s must be 5..1800, got {self.heartbeat_interval_s}")
        if not timedelta(0) < self.replay_window <= timedelta(hours=24):
            raise ConfigError(f"replay_window must be within 24 h, got {self.replay_window}")


def merge_gap(gaps: list[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> bool:
    """Add [lo, hi) to `gaps` (sorted, disjoint, in place), joining the ones it overlaps or touches;
    True when it covers time not listed before."""
    keep = [g for g in gaps if g[1] < lo or g[0] > hi]
    joined = [g for g in gaps if not (g[1] < lo or g[0] > hi)]
    start, end = min([lo, *(g[0] for g in joined)]), max([hi, *(g[1] for g in joined)])
    grew = not any(a <= lo and hi <= b for a, b in joined)
    gaps[:] = sorted([*keep, (start, end)])
    return grew


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """What the stream has done, for metrics and tests (no key in it)."""

    connected: bool
    sessions: int  # connections that authenticated and started streaming
    attempts: int  # connection attempts, failed ones included
    last_error: str | None
    bars: int  # bars held (all contracts, all timeframes)
    duplicates: int  # replayed bars already held, dropped
    provisional: int  # records held that came before their close and no end of interval confirmed yet
    provisional_dropped: int  # records that arrived before their close on a connection that then broke
    gaps: tuple[tuple[datetime, datetime], ...]  # [start, end) no source could fill


@dataclass(slots=True)
class _Bar:
    open: float
    high: float
    low: float
    close: float
    volume: int
    symbol: str
    final: bool
    session: int


_Key = tuple[Timeframe, int, int]  # timeframe, instrument_id, open time (ns)


def _live_key(api_key: str | None) -> str:
    if not api_key or not api_key.strip():
        raise ConfigError("DATABENTO_API_KEY is not set: export your Databento API key (db-...) to stream live bars")
    return api_key.strip()


class DatabentoLiveSource:
    """A `BarSource` answering from the bars a live session has streamed; see the module docstring."""

    name = PROVIDER

    def __init__(
        self,
        connect: Connect,
        config: LiveConfig | None = None,
        *,
        history: BarSource | None = None,
        now: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC"),
        sleep: Callable[[float], None] | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self.config = config or LiveConfig()
        self._connect = connect
        self._history = history
        self._now = now
        self._stop = threading.Event()
        self._sleep = sleep or self._wait
        self._secrets = tuple(s for s in secrets if s)
        self._stype = stype_of(self.config.symbol)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._bars: dict[_Key, _Bar] = {}
        self._names: dict[int, str] = {}
        self._provisional: set[_Key] = set()
        self._session = 0  # the connection whose records are accepted now
        self._sessions = 0
        self._attempts = 0
        self._connected = False
        self._down_since: pd.Timestamp | None = None
        self._error: str | None = None
        self._auth_refused = False
        self._duplicates = 0
        self._provisional_dropped = 0
        self._gaps: list[tuple[datetime, datetime]] = []
        self._versions: dict[Timeframe, int] = dict.fromkeys(_SCHEMA, 0)
        self._inserts = 0
        self._frames: dict[Timeframe, tuple[int, pd.DataFrame]] = {}

    @classmethod
    def from_key(cls, api_key: str | None, config: LiveConfig | None = None, **kwargs: Any) -> DatabentoLiveSource:
        """Stream with the official SDK; a missing key is a `ConfigError` naming DATABENTO_API_KEY."""
        key = _live_key(api_key)
        cfg = config or LiveConfig()

        def connect() -> LiveClient:
            import databento

            client: LiveClient = databento.Live(
                key=key, gateway=cfg.gateway, port=cfg.port, heartbeat_interval_s=cfg.heartbeat_interval_s
            )
            return client

        return cls(connect, cfg, secrets=(key,), **kwargs)

    def __repr__(self) -> str:
        streamed = "/".join(t.value for t in self.config.timeframes)
        return f"DatabentoLiveSource({self.config.dataset}, {self.config.symbol}, {streamed})"

    # --- public ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the streaming thread (idempotent); `bars()` starts it on first use."""
        with self._lock:
            if self._thread is not None:
                return
            self._down_since = self._now()
            self._thread = threading.Thread(target=self._run, name="databento-live", daemon=True)
            self._thread.start()

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | pd.Timestamp | str,
        end: datetime | pd.Timestamp | str,
    ) -> pd.DataFrame:
        """Closed bars with open in [start, end) (UTC), one contract per bar, with ``symbol``/``instrument_id``.

        Raises `ProviderError` while the key is refused, or while the stream has been down longer
        than `LiveConfig.disconnect_grace_s` (the runner then pauses with the reason).
        """
        if symbol != self.config.symbol:
            raise ConfigError(f"databento live streams {self.config.symbol}, not {symbol!r}")
        if timeframe not in self.config.timeframes:
            streamed = ", ".join(t.value for t in self.config.timeframes)
            raise ConfigError(f"databento live streams {streamed} bars, not {timeframe.value}")
        lo, hi = utc(start, "start"), utc(end, "end")
        self.start()
        now = self._now()
        self._raise_if_down(now)
        frame = closed_before(self._frame(timeframe), now, timeframe)
        return frame.loc[(frame.index >= lo) & (frame.index < hi)]

    def status(self) -> LiveStatus:
        with self._lock:
            return LiveStatus(
                connected=self._connected,
                sessions=self._sessions,
                attempts=self._attempts,
                last_error=self._error,
                bars=len(self._bars),
                duplicates=self._duplicates,
                provisional=len(self._provisional),
                provisional_dropped=self._provisional_dropped,
                gaps=tuple(self._gaps),
            )

    # --- the streaming thread ---------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            streamed = False
            try:
                streamed = self._stream_once()
            except Exception as exc:  # the SDK raises BentoError, ValueError, OSError...
                self._note_error(exc)
            self._end_session()
            if self._stop.is_set():
                break
            failures = 0 if streamed else failures + 1
            delay = self.config.backoff.delay_s(failures)
            log.info("databento live: reconnecting in %.1f s", delay)
            self._sleep(delay)

    def _stream_once(self) -> bool:
        """One connection: subscribe (with replay), stream until it closes; True when it streamed."""
        with self._lock:
            self._attempts += 1
            session = self._session = self._session + 1
        plans = [(tf, self._plan_start(tf)) for tf in self.config.timeframes]
        if self._stop.is_set():
            return False
        client = self._connect()
        try:
            client.add_callback(lambda record: self._on_record(session, record))
            for tf, start_ns in plans:
                client.subscribe(
                    dataset=self.config.dataset,
                    schema=_SCHEMA[tf],
                    symbols=[self.config.symbol],
                    stype_in=self._stype,
                    start=start_ns,
                )
            client.start()
            with self._lock:
                self._sessions += 1
                self._connected, self._down_since = True, None
                self._error, self._auth_refused = None, False
            log.info("databento live: streaming %s %s", self.config.symbol, "/".join(_SCHEMA[t] for t, _ in plans))
            while client.is_connected() and not self._stop.wait(0.05):
                pass
            if not self._stop.is_set():
                self._note_close(client)
        finally:
            with contextlib.suppress(ValueError, RuntimeError, AttributeError):
                client.terminate()
        return True

    def _note_close(self, client: LiveClient) -> None:
        try:
            client.block_for_close(timeout=1.0)
            self._note_error(ConnectionError("the gateway closed the connection"))
        except Exception as exc:
            self._note_error(exc)

    def _end_session(self) -> None:
        """The connection is gone: forget records that had not closed when they came (never used)."""
        with self._lock:
            self._session += 1  # a late callback from the old connection is ignored
            if self._connected or self._down_since is None:
                self._down_since = self._now()
            self._connected = False
            stale = [k for k in self._provisional if k in self._bars and not self._bars[k].final]
            for k in stale:
                del self._bars[k]
            self._provisional.clear()
            self._provisional_dropped += len(stale)
            for key in stale:
                self._versions[key[0]] += 1

    def _plan_start(self, tf: Timeframe) -> int:
        """Where this connection's replay starts (ns): at the newest bar held, or the initial replay."""
        now = self._now()
        with self._lock:
            held = [k[2] for k, b in self._bars.items() if k[0] is tf and b.final]
        last = max(held) if held else None
        cfg = self.config
        if last is not None:
            want = pd.Timestamp(last, unit="ns", tz="UTC")  # inclusive: an interval cut halfway comes again whole
        elif tf is Timeframe.S1:
            want = now - cfg.sub_bar_replay
        else:
            want = now - (cfg.history_lookback if self._history is not None else cfg.initial_replay)
        window = (now - cfg.replay_window).ceil("1s")
        if want < window:
            self._before_window(tf, want, window, gap=last is not None)
            want = window
        return int(want.value)

    def _before_window(self, tf: Timeframe, lo: pd.Timestamp, hi: pd.Timestamp, *, gap: bool) -> None:
        """Bars older than the live replay reaches: from the historical API, else a recorded gap."""
        if self._history is not None and tf is Timeframe.M1:
            try:
                frame = self._history.bars(self.config.symbol, tf, lo, hi)
            except MesdeskError as exc:
                log.warning("databento live: history for %s..%s unavailable (%s)", lo, hi, self._scrub(str(exc)))
            else:
                self._add_history(tf, frame)
                return
        if gap:
            with self._lock:  # every failed reconnect computes it again: one entry, grown if the window moved
                grew = merge_gap(self._gaps, lo.to_pydatetime(), hi.to_pydatetime())
            if grew:
                log.warning("databento live: %s..%s is older than the live replay and has no source: a gap", lo, hi)

    def _add_history(self, tf: Timeframe, frame: pd.DataFrame) -> None:
        stamps = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
        ids = frame["instrument_id"].to_numpy() if "instrument_id" in frame.columns else np.zeros(len(frame))
        names = frame["symbol"].to_numpy() if "symbol" in frame.columns else np.full(len(frame), self.config.symbol)
        with self._lock:
            for i, ts_ns in enumerate(stamps):
                key = (tf, int(ids[i]), int(ts_ns))
                if key in self._bars:
                    continue
                row = frame.iloc[i]
                self._bars[key] = _Bar(
                    float(row["open"]),
                    float(row["high"]),
                    float(row["low"]),
                    float(row["close"]),
                    int(row["volume"]),
                    str(names[i]),
                    final=True,
                    session=0,
                )
            self._versions[tf] += 1

    def _on_record(self, session: int, record: Any) -> None:
        """Called on the SDK's event-loop thread for every record of connection `session`."""
        kind = type(record).__name__
        with self._lock:
            if session != self._session:
                return
            if kind == "SymbolMappingMsg":
                self._names[int(record.instrument_id)] = str(record.stype_out_symbol)
            elif kind == "OHLCVMsg":
                self._add_record(session, record)
            elif kind == "SystemMsg" and record.code == SystemCode.END_OF_INTERVAL:
                self._end_of_interval(str(record.msg), int(record.ts_event))
            elif kind == "ErrorMsg":
                self._error = self._scrub(f"gateway error: {record.err}")
        if kind == "ErrorMsg":
            log.warning("databento live: %s", self._error)

    def _add_record(self, session: int, record: Any) -> None:
        tf = _RTYPE.get(int(record.rtype))
        if tf is None:
            return
        ts_ns = int(record.ts_event)
        key = (tf, int(record.instrument_id), ts_ns)
        held = self._bars.get(key)
        if held is not None and held.final:
            self._duplicates += 1
            return
        span_ns = int(pd.Timedelta(tf.span).value)
        close_ns = ts_ns + span_ns
        self._finalise(tf, ts_ns)  # a later interval is out: the earlier ones are complete
        scale = 1e-9
        self._bars[key] = _Bar(
            record.open * scale,
            record.high * scale,
            record.low * scale,
            record.close * scale,
            int(record.volume),
            self._names.get(int(record.instrument_id), f"#{record.instrument_id}"),
            final=close_ns <= self._now().value,
            session=session,
        )
        if close_ns > self._now().value:
            self._provisional.add(key)
        self._versions[tf] += 1
        self._inserts += 1
        if self._inserts % 4096 == 0:
            self._prune()

    def _end_of_interval(self, msg: str, end_ns: int) -> None:
        """The gateway has published every record of an interval ending at `end_ns` (exclusive)."""
        named = [tf for tf in self.config.timeframes if _SCHEMA[tf] in msg]
        if not named and len(self.config.timeframes) == 1:
            named = list(self.config.timeframes)  # one schema streamed: the message can only be about it
        for tf in named:
            self._finalise(tf, end_ns)

    def _finalise(self, tf: Timeframe, end_ns: int) -> None:
        """Records of `tf` closing at or before `end_ns` are final (the gateway has moved past them)."""
        span_ns = int(pd.Timedelta(tf.span).value)
        done = [k for k in self._provisional if k[0] is tf and k[2] + span_ns <= end_ns]
        for key in done:
            self._provisional.discard(key)
            if key in self._bars:
                self._bars[key].final = True

    def _prune(self) -> None:
        now_ns = self._now().value
        keep = {
            Timeframe.M1: now_ns - int(pd.Timedelta(self.config.keep).value),
            Timeframe.S1: now_ns - int(pd.Timedelta(self.config.keep_sub_bars).value),
        }
        for key in [k for k in self._bars if k[2] < keep[k[0]]]:
            del self._bars[key]
            self._provisional.discard(key)
            self._versions[key[0]] += 1

    def _note_error(self, exc: BaseException) -> None:
        text = self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        lower = text.lower()
        refused = "authentic" in lower and "timed out" not in lower  # the gateway said no to the key
        with self._lock:
            self._error = text[:300]
            self._auth_refused = refused
        log.warning("databento live: %s", self._error)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "db-***")
        return text

    # --- answering ------------------------------------------------------------------------------

    def _raise_if_down(self, now: pd.Timestamp) -> None:
        with self._lock:
            if self._auth_refused:
                raise ProviderError(
                    f"the live gateway refused DATABENTO_API_KEY ({self._error})", provider=PROVIDER, kind="auth"
                )
            since = self._down_since
            if self._connected or since is None:
                return
            down_s = (now - since).total_seconds()
            if down_s <= self.config.disconnect_grace_s:
                return
            error = self._error or "connecting"
        raise ProviderError(
            f"live stream down for {down_s:.0f} s, reconnecting with backoff ({error})",
            provider=PROVIDER,
            kind="server",
        )

    def _frame(self, tf: Timeframe) -> pd.DataFrame:
        """Every usable bar of `tf`, one contract per open time (cached until a record changes it)."""
        with self._lock:
            cached = self._frames.get(tf)
            if cached is not None and cached[0] == self._versions[tf]:
                return cached[1]
            version = self._versions[tf]
            rows = [
                (k[2], b.open, b.high, b.low, b.close, b.volume, k[1], b.symbol)
                for k, b in self._bars.items()
                if k[0] is tf and (b.final or b.session == self._session)
            ]
        frame = _front(_to_frame(rows), self._stype)
        with self._lock:
            self._frames[tf] = (version, frame)
        return frame


def _to_frame(rows: list[tuple[int, float, float, float, float, int, int, str]]) -> pd.DataFrame:
    if not rows:
        frame = empty_bars()
        frame["instrument_id"] = pd.Series(dtype="int64")
        frame["symbol"] = pd.Series(dtype="object")
        return frame
    rows.sort()
    stamps = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], unit="ns", utc=True), name="ts").as_unit("ns")
    frame = pd.DataFrame([r[1:] for r in rows], index=stamps, columns=list(_COLUMNS))
    return frame.astype({"volume": "int64", "instrument_id": "int64"})


def _front(frame: pd.DataFrame, stype: str) -> pd.DataFrame:
    """One bar per open time.

    Parent symbology: outrights only (spreads dropped); each bar time takes the contract that traded
    most on the previous trading day held, or, on the first day held, the most so far that day (up
    to and including the bar, all known at its close). Otherwise (continuous, raw) several contracts
    at one time only happen around a roll: the one with the most volume in that bar is kept.
    """
    if len(frame) == 0:
        return frame
    if stype == "parent":
        frame = frame[frame["symbol"].str.match(OUTRIGHT.pattern)]
        if len(frame) == 0:
            return frame
        leader = _leaders(frame)
        kept: pd.DataFrame = frame[frame["symbol"].to_numpy() == leader]
        return kept
    if not frame.index.has_duplicates:
        return frame
    order = frame.assign(_ts=frame.index).sort_values(["_ts", "volume"], kind="stable")
    last: pd.DataFrame = order[~order["_ts"].duplicated(keep="last")].drop(columns="_ts")
    return last


def _leaders(frame: pd.DataFrame) -> np.ndarray:
    """The leading contract for each row's bar time (see `_front`)."""
    index = pd.DatetimeIndex(frame.index)
    days = trading_days(index)
    symbols = frame["symbol"].to_numpy()
    volume = frame["volume"].to_numpy()
    table = pd.DataFrame({"day": days, "symbol": symbols, "volume": volume})
    per_day = table.groupby(["day", "symbol"], sort=True)["volume"].sum()
    day_leader = per_day.groupby(level="day").idxmax().map(lambda pair: pair[1])
    previous = pd.Series(day_leader.to_numpy()[:-1], index=day_leader.index[1:])
    out = previous.reindex(days).to_numpy().astype(object)
    first = pd.isna(out)
    if first.any():  # the first day held: the running leader within the day
        sub = table[first].assign(ts=index[first])
        running = sub.pivot_table(index="ts", columns="symbol", values="volume", aggfunc="sum").fillna(0).cumsum()
        by_ts = running.idxmax(axis=1)
        out[first] = by_ts.reindex(index[first]).to_numpy()
    return out


def live_source(settings: Settings, *, sub_bars: bool = False, symbol: str = DEFAULT_SYMBOL) -> DatabentoLiveSource:
    """`--live databento`: the live stream of `symbol`, with the historical API for the lookback and old gaps."""
    key = settings.databento_api_key.get_secret_value() if settings.databento_api_key else None
    timeframes = (Timeframe.M1, Timeframe.S1) if sub_bars else (Timeframe.M1,)
    config = LiveConfig(symbol=symbol, timeframes=timeframes)
    return DatabentoLiveSource.from_key(key, config, history=DatabentoSource.from_key(_live_key(key)))
