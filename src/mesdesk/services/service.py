"""The monitoring service's application layer: what the API's routes (and the CLI) call.

Every function reads the store through a `ServiceContext`; none of them knows about HTTP. Views are
plain dicts shaped exactly as the seeds' JSON (see docs/service.md). "Today" is the CME trading day
(17:00 CT start) of the runner's last processed bar when a runner has run, else of the wall clock:
a replay of 2025-09-16 shows that day's trades as "today".
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from mesdesk.calendar import trading_day
from mesdesk.clock import Clock, WallClock
from mesdesk.config import Settings
from mesdesk.errors import ConfigError, MesdeskError, StoreError
from mesdesk.llm.budget import Budget
from mesdesk.runner.service import feed_age_s
from mesdesk.store.base import one_line
from mesdesk.store.runner_store import RunnerSnapshot, ServiceStore
from mesdesk.store.service import JournalRow, TradeRow
from mesdesk.timeframes import Timeframe

T = TypeVar("T")

# The budget ledger scope the live deciders reserve their calls in (mesdesk.llm.budget).
BUDGET_SCOPE = "live"
SIGNAL_TIMEFRAMES = ("5m", "15m", "1h", "4h", "1d")
FORECAST_MODELS = ("quant", "gpt", "opus", "autogluon")


class Unavailable(MesdeskError):
    """A part of the product this build or configuration cannot serve (the API answers 503)."""


def store_error_line(exc: BaseException) -> str:
    """A database failure as one line for a user (driver message, password masked, no SQL)."""
    return one_line(exc)


class BadRequest(ConfigError):
    """A bad parameter (the API answers 422 with this message)."""


class _TTLCache:
    """A few-entry cache with a time to live: keeps hot read endpoints off the database."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, make: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._items[key] = (now, value)
        return value

    def peek(self, key: str) -> Any | None:
        """The cached value when still fresh, else None (never computes)."""
        hit = self._items.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        return None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class ServiceContext:
    """What the read side needs: settings, the store, the runner's name, a clock."""

    settings: Settings
    store: ServiceStore
    runner: str = "paper"
    clock: Clock = field(default_factory=WallClock)
    cache_ttl_s: float = 0.25
    runner_error: str | None = None  # why this process runs no runner, when it should
    runner_fault: Callable[[], str | None] = field(default=lambda: None)  # the running runner's pause
    _cache: _TTLCache = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache = _TTLCache(self.cache_ttl_s)

    def cached(self, key: str, make: Callable[[], T]) -> T:
        return self._cache.get(key, make)

    def peek(self, key: str) -> Any | None:
        return self._cache.peek(key)

    def invalidate(self) -> None:
        self._cache.clear()


# ---------------------------------------------------------------- helpers


def _iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ct(ts: datetime, settings: Settings) -> str:
    return ts.astimezone(settings.tz).replace(tzinfo=None).isoformat(timespec="seconds")


def _today(ctx: ServiceContext, snap: RunnerSnapshot | None) -> date:
    if snap is not None and snap.trading_day is not None:
        return snap.trading_day
    return trading_day(ctx.clock.now())


def parse_day(text: str | None, param: str = "date") -> date | None:
    """A YYYY-MM-DD date parameter; `BadRequest` naming the parameter otherwise."""
    if text is None or text == "":
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is None:  # not the ISO week or basic forms
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{param}={text!r}: expected a date as YYYY-MM-DD, e.g. 2025-09-16") from None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


# ---------------------------------------------------------------- seed 000


def health(ctx: ServiceContext) -> dict[str, Any]:
    """The seed's fields (this process answers) and the runner's liveness as the store shows it."""
    now = ctx.clock.now()
    return {
        "status": "ok",
        "server_time_utc": _iso_utc(now),
        "server_time_ct": _iso_ct(now, ctx.settings),
        "runner": _liveness(ctx, now),
    }


def _liveness(ctx: ServiceContext, now: datetime) -> dict[str, Any]:
    """Who holds the runner's lease (None: nobody renewed it within its TTL) and how old its last bar is."""
    view: dict[str, Any] = {"name": ctx.runner, "holder": None, "mode": None, "last_bar_ts": None}
    view.update(last_bar_age_s=None, store_error=None)
    try:
        snap = _state(ctx)
        view["holder"] = ctx.store.lease_holder(ctx.runner, now)
    except (SQLAlchemyError, StoreError) as exc:  # a health check reports the store, never fails on it
        view["store_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return view
    if snap is not None:
        view["mode"] = snap.mode
        if snap.last_bar_ts is not None:
            close = snap.last_bar_ts + _span_of(snap.source)
            view["last_bar_ts"] = _iso_utc(snap.last_bar_ts)
            view["last_bar_age_s"] = round((now - close).total_seconds(), 1)
    return view


def readiness(ctx: ServiceContext) -> dict[str, Any]:
    """/ready: ready while a runner holds the lease; `Unavailable` (503) once none renewed it within its TTL."""
    holder = ctx.store.lease_holder(ctx.runner, ctx.clock.now())
    if holder is None:
        raise Unavailable(f"no runner holds the lease of {ctx.runner!r}: none renewed it within its TTL")
    return {"ready": True, "runner": ctx.runner, "holder": holder}


def _span_of(source: str) -> timedelta:
    """The bar span of a runner's source name ("yahoo:MES=F:1m"); one minute when it names none."""
    try:
        return Timeframe.parse(source.rsplit(":", 1)[-1]).span
    except ConfigError:
        return timedelta(minutes=1)


def _state(ctx: ServiceContext) -> RunnerSnapshot | None:
    return ctx.store.state(ctx.runner)


def summary(ctx: ServiceContext) -> dict[str, Any]:
    """/metrics/summary; cached for `cache_ttl_s` (250 ms by default)."""
    return ctx.cached("summary", lambda: _summary(ctx))


def summary_json(ctx: ServiceContext) -> bytes:
    """/metrics/summary serialised once per cache period: the hot path of a polling front end."""
    return ctx.cached("summary_json", lambda: json.dumps(summary(ctx), separators=(",", ":")).encode())


def _summary(ctx: ServiceContext) -> dict[str, Any]:
    snap = _state(ctx)
    today = _today(ctx, snap)
    todays = ctx.store.trades(ctx.runner, today)
    trailing = ctx.store.trades(ctx.runner, limit=20)
    wins = sum(t.result == "win" for t in trailing)
    ttt = [t.time_to_target for t in todays if t.exit_reason == "tp" and t.time_to_target is not None]
    budget_view = budget(ctx)
    return {
        "running": bool(snap.running) if snap is not None else False,
        "trades_today": len(todays),
        "win_rate_trailing20": round(100.0 * wins / len(trailing), 1) if trailing else None,
        "net_points_today": round(sum(t.pnl_pts for t in todays), 4),
        "avg_time_to_target_sec": round(sum(ttt) / len(ttt), 1) if ttt else None,
        "gpt_calls_used": budget_view["calls_used"],
        "gpt_calls_cap": budget_view["calls_cap"],
    }


_LIVE_FIELDS = (
    "setup_type",
    "direction",
    "prefilter_score",
    "volume_multiple",
    "atr_5m",
    "session_label",
    "timestamp_ct",
)


def live(ctx: ServiceContext) -> dict[str, Any]:
    """/metrics/live: the latest candidate the runner saw (every field null before the first one)."""
    snap = _state(ctx)
    seen = dict(snap.live) if snap is not None and snap.live else {}
    return {name: seen.get(name) for name in _LIVE_FIELDS}


def budget(ctx: ServiceContext) -> dict[str, Any]:
    """/metrics/budget: LLM calls used today (the budget ledger) against DAILY_GPT_CALL_CAP.

    `paused` is true when the budget is spent (decisions fall back to the local decider) or when the
    runner paused trading (stale data, replay over); `paused_reason` says which.
    """
    return ctx.cached("budget", lambda: _budget(ctx))


def _budget(ctx: ServiceContext) -> dict[str, Any]:
    # The ledger the runner's decider reserves from: scope "live", on the trading day of the decision
    # time, which is the runner's day (a replay of 2025-09-16 spends 2025-09-16's calls), not the wall's.
    snap = _state(ctx)
    budget_ledger = Budget(ctx.store.engine, ctx.settings.daily_gpt_call_cap, scope=BUDGET_SCOPE)
    status = budget_ledger.day_status(_today(ctx, snap))
    view: dict[str, Any] = {
        "calls_used": status.calls_used,
        "calls_cap": status.calls_cap,
        "paused": status.paused,
        "paused_reason": status.paused_reason,
    }
    if not view["paused"] and snap is not None and snap.paused:
        view["paused"], view["paused_reason"] = True, snap.paused_reason
    return view


def set_running(ctx: ServiceContext, running: bool) -> dict[str, Any]:
    """/control/start and /control/stop: the runner obeys the flag at its next bar."""
    ctx.store.set_running(ctx.runner, running, ctx.clock.now())
    ctx.invalidate()
    return {"running": running}


def _trade_view(t: TradeRow) -> dict[str, Any]:
    return {
        "result": t.result,
        "prefilter_score": _round(t.prefilter_score, 2),
        "confidence": _round(t.confidence, 2),
        "setup": t.setup,
        "session": t.session,
        "entry_price": t.entry_price,
        "exit_price": t.exit_price,
        "pnl_pts": _round(t.pnl_pts),
        "time_to_target": _round(t.time_to_target, 1),
        "mae": _round(t.mae),
        "mfe": _round(t.mfe),
        "direction": t.direction,
        "entry_ts": _iso_utc(t.entry_ts),
        "exit_ts": _iso_utc(t.exit_ts),
        "exit_reason": t.exit_reason,
        "ambiguous": t.ambiguous,
    }


def trades(ctx: ServiceContext, day_text: str | None) -> list[dict[str, Any]]:
    """/metrics/trades?date=YYYY-MM-DD (CME trading day; today when omitted), oldest first."""
    day = parse_day(day_text) or _today(ctx, _state(ctx))
    return [_trade_view(t) for t in ctx.store.trades(ctx.runner, day)]


def _journal_view(row: JournalRow) -> dict[str, Any]:
    return {
        "ts": _iso_utc(row.ts),
        "timestamp_ct": row.timestamp_ct,
        "setup": row.setup,
        "direction": row.direction,
        "ref_entry": row.ref_entry,
        "prefilter_score": _round(row.prefilter_score, 2),
        "passed_prefilter": row.passed_prefilter,
        "decision": row.decision,
        "decision_source": row.decision_source,
        "fallback": row.fallback,
        "confidence": _round(row.confidence, 2),
        "reason": row.reason,
        "gate": row.gate,
        "traded": row.entry_ts is not None,
        "entry_price": row.entry_price,
        "exit_price": row.exit_price,
        "exit_reason": row.exit_reason,
        "pnl_pts": _round(row.pnl_pts),
    }


def journal(ctx: ServiceContext, day_text: str | None, limit: int) -> list[dict[str, Any]]:
    """/metrics/journal: every candidate with its decision and gate (why it was or was not traded)."""
    day = parse_day(day_text)
    return [_journal_view(r) for r in ctx.store.journal(ctx.runner, day, limit)]


def equity(ctx: ServiceContext) -> list[dict[str, Any]]:
    """/metrics/equity: cumulative net points after each closed trade."""
    return ctx.cached(
        "equity",
        lambda: [
            {
                "ts": _iso_utc(e.ts),
                "trading_day": e.trading_day.isoformat(),
                "pnl_pts": e.pnl_pts,
                "equity_pts": e.equity_pts,
            }
            for e in ctx.store.equity(ctx.runner)
        ],
    )


def fingerprints(ctx: ServiceContext) -> list[dict[str, Any]]:
    """/metrics/fingerprints: learning's view of the stored outcomes and this runner's resolved journal rows."""
    return ctx.cached("fingerprints", lambda: _fingerprints(ctx))


def _fingerprints(ctx: ServiceContext) -> list[dict[str, Any]]:
    try:
        from mesdesk.learn.memory import LearningMemory
        from mesdesk.outcome import Outcome
    except ImportError as exc:  # pragma: no cover - learning ships with the package
        raise Unavailable("fingerprints need the learning module") from exc
    from mesdesk.store.base import session_factory, transaction
    from mesdesk.store.learning import load_outcomes

    memory = LearningMemory()
    # What learning keeps in the store (the runner's followed candidates, `mesdesk learn update`) ...
    with transaction(session_factory(ctx.store.engine)) as session:
        stored = load_outcomes(session)
    memory.extend(stored)
    # ... and this runner's resolved journal rows (the same outcome is counted once).
    rows = [r for r in ctx.store.journal(ctx.runner, None, limit=100_000) if r.pnl_pts is not None and r.exit_ts]
    for r in rows:
        assert r.exit_ts is not None
        feats = {k: float(v) for k, v in (r.features or {}).items() if isinstance(v, int | float)}
        feats.update(prefilter_score=r.prefilter_score, ref_entry=r.ref_entry)
        if r.volume_multiple is not None:
            feats["volume_multiple"] = r.volume_multiple
        if r.atr_5m is not None:
            feats["atr_5m"] = r.atr_5m
        memory.add(
            Outcome(
                key=r.candidate_key,
                setup=r.setup,
                direction=r.direction,
                session=r.session_label,
                decided_at=min(r.ts, r.exit_ts),
                resolved_at=r.exit_ts,
                pnl_pts=float(r.pnl_pts or 0.0),
                counterfactual=r.entry_ts is None,
                features=feats,
            )
        )
    resolved = [r.exit_ts for r in rows if r.exit_ts is not None] + [o.resolved_at for o in stored]
    if resolved:
        memory.advance(max(resolved))
    return [
        {k: fp[k] for k in ("setup", "fingerprint_id", "status", "samples", "win_rate", "expectancy")}
        for fp in memory.fingerprints()
    ]


def runner_status(ctx: ServiceContext) -> dict[str, Any]:
    """The dashboard's status line: running flag, mode, source, cursor, pause, position, lease.

    A store the runner cannot write (read-only, locked, deleted, full) shows as `error` and a pause
    with that reason; when the store cannot even be read, the view says so instead of failing.
    """
    fault = ctx.runner_fault()
    try:
        view = _runner_view(ctx)
    except (SQLAlchemyError, StoreError) as exc:
        reason = fault or f"store unavailable: {one_line(exc)}"
        return {
            "runner": ctx.runner,
            "running": False,
            "mode": "idle",
            "holder": None,
            "position": None,
            "paused": True,
            "paused_reason": reason,
            "error": reason,
        }
    if fault is not None:
        view.update(error=fault, paused=True, paused_reason=fault)
    return view


def _runner_view(ctx: ServiceContext) -> dict[str, Any]:
    snap = _state(ctx)
    now = ctx.clock.now()
    if snap is None:
        return {
            "runner": ctx.runner,
            "running": False,
            "mode": "idle",
            "holder": None,
            "position": None,
            "error": ctx.runner_error,
        }
    return {
        "error": ctx.runner_error,
        "runner": ctx.runner,
        "running": snap.running,
        "mode": snap.mode,
        "source": snap.source,
        "last_bar_ts": _iso_utc(snap.last_bar_ts) if snap.last_bar_ts else None,
        "last_bar_ct": _iso_ct(snap.last_bar_ts, ctx.settings) if snap.last_bar_ts else None,
        "trading_day": snap.trading_day.isoformat() if snap.trading_day else None,
        "trades_today": snap.trades_today,
        "losses_today": snap.losses_today,
        "net_pts_today": snap.net_pts_today,
        "paused": snap.paused,
        "paused_reason": snap.paused_reason,
        "position": dict(snap.position) if snap.position else None,
        "holder": ctx.store.lease_holder(ctx.runner, now),
        **_feed_delay(ctx, snap, now),
    }


def _feed_delay(ctx: ServiceContext, snap: RunnerSnapshot, now: datetime) -> dict[str, Any]:
    """Live only: how long ago the runner's newest bar closed (the feed's delay), against the limit.

    Null while Globex is closed or before the session's first bar (see `runner.service.feed_age_s`).
    """
    if snap.mode != "live" or snap.last_bar_ts is None:
        return {"feed_delay_s": None, "feed_delay_limit_s": None}
    age = feed_age_s(snap.last_bar_ts, _span_of(snap.source), now)
    return {
        "feed_delay_s": None if age is None else round(age, 1),
        "feed_delay_limit_s": ctx.settings.max_feed_delay_s,
    }


# ---------------------------------------------------------------- seed 003


def check_timeframe(timeframe: str) -> str:
    if timeframe not in SIGNAL_TIMEFRAMES:
        raise BadRequest(f"timeframe={timeframe!r}: choose one of {', '.join(SIGNAL_TIMEFRAMES)}")
    return timeframe


def check_model(model: str) -> str:
    if model not in FORECAST_MODELS:
        raise BadRequest(f"model={model!r}: choose one of {', '.join(FORECAST_MODELS)}")
    return model


def signals(ctx: ServiceContext, timeframe: str) -> Any:
    """/mes/signals: measured-move signals of one timeframe (the scanner's payload, cached 60 s)."""
    tf = check_timeframe(timeframe)
    from mesdesk.services.scan import signals_payload

    return ctx.cached(f"signals:{tf}:{int(time.monotonic() // 60)}", lambda: signals_payload(tf, settings=ctx.settings))


def forecast(ctx: ServiceContext, model: str) -> Any:
    """/mes/forecast: the forecast area's payload for `model` (quant, gpt, opus, autogluon)."""
    m = check_model(model)
    from mesdesk.services.forecast import forecast_payload

    try:
        return ctx.cached(
            f"forecast:{m}:{int(time.monotonic() // 60)}", lambda: forecast_payload(m, settings=ctx.settings)
        )
    except ConfigError as exc:
        if m == "autogluon":  # the extra or a trained model is missing: a part, not a bad request (docs: 503)
            raise Unavailable(f"model=autogluon: {exc}") from None
        raise


def full(ctx: ServiceContext) -> Any:
    """/mes/full: signals of every scanned timeframe and the quant forecast (the forecaster's payload)."""
    from mesdesk.services.forecast import full_payload

    return ctx.cached(f"full:{int(time.monotonic() // 60)}", lambda: full_payload("quant", settings=ctx.settings))
