"""The paper runner: the engine's loop fed bar by bar, every change persisted before the next bar.

Crash safety rests on three rules:

1. Each processed bar is ONE fenced transaction (`ServiceStore.commit_step`): journal upserts by
   candidate key, new trades by trade key, the cursor (`last_bar_ts`), the open position with its
   bracket and the day's counters. A crash leaves the store at the end of some bar, never between.
2. Every decider answer is recorded (`service_decisions`) before the engine acts on it, and a
   restarted runner replays recorded answers instead of asking again (no second LLM call, no second
   budget charge, the same choice). An answer a crash lost in flight is re-asked within the budget
   slot it already holds, or, when no longer due, settled ``lost`` (docs/decisions.md).
3. The engine is deterministic given bars and decisions, so a restart rebuilds today's engine by
   feeding it the day's bars up to the stored cursor (`resume`): the open position and its bracket,
   the counters and every journal row come back exactly; rows are keyed, so nothing doubles.

Only the lease holder writes (see `RunnerService`). The engine sees a `SimClock` moved to each bar's
close, so replay and live share one code path; the wall clock only drives polling and staleness.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_day, trading_day_open
from mesdesk.candidates import FEATURE_COLUMNS
from mesdesk.clock import SimClock
from mesdesk.decide.guard import request_key
from mesdesk.decider import Decider, DecisionContext
from mesdesk.model import Candidate, Decision, DecisionStatus, candidate_key
from mesdesk.store.runner_store import ServiceStore, StepRecord

log = logging.getLogger(__name__)

STOPPED_SOURCE = "stopped"
LATE_SOURCE = "late"
_LIVE_FIELDS = (
    "setup_type",
    "direction",
    "prefilter_score",
    "volume_multiple",
    "atr_5m",
    "session_label",
    "timestamp_ct",
)


class TradingLoop(Protocol):
    """The engine's incremental loop (`mesdesk.engine.Engine`)."""

    def advance(self, bars: pd.DataFrame, candidates: pd.DataFrame, sub_bars: pd.DataFrame | None = None) -> None: ...

    def journal(self) -> pd.DataFrame: ...

    def trades(self) -> pd.DataFrame: ...


class SlotLedger(Protocol):
    """The budget ledger's crash recovery (`mesdesk.llm.budget.Budget`): see docs/decisions.md."""

    def release_unsent(self) -> int: ...

    def abandon(self, request_keys: Sequence[str], reason: str) -> int: ...


LoopFactory = Callable[[Decider, SimClock, timedelta], TradingLoop]
CandidateFn = Callable[[pd.DataFrame], pd.DataFrame]
PositionFn = Callable[[TradingLoop, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class RunnerConfig:
    """How the runner trades and guards itself (seconds of wall time unless named otherwise)."""

    name: str = "paper"
    lease_ttl_s: float = 15.0
    renew_every_s: float = 3.0
    lookback_days: int = 5
    stale_grace_bars: float = 1.0
    max_decision_lag_s: float | None = None

    def __post_init__(self) -> None:
        if self.renew_every_s >= self.lease_ttl_s:
            raise ValueError("renew_every_s must be shorter than lease_ttl_s")
        if self.lookback_days < 1:
            raise ValueError("lookback_days must be >= 1")


class RecordingDecider:
    """Answers from the store when a candidate was already decided; otherwise asks and records first.

    While the runner is stopped (POST /control/stop) new candidates are not sent to the decider: they
    get a recorded skip whose source is "stopped", so the journal says why, and an open position is
    still managed to its exit. Live, a decision due more than `max_lag_s` of wall time ago (bars that
    arrived late, a restart after an outage) is not taken either (source "late"): its fill would be
    in the past.
    """

    def __init__(
        self,
        inner: Decider,
        store: ServiceStore,
        runner: str,
        running: Callable[[], bool],
        wall: Callable[[], datetime],
        max_lag_s: float | None = None,
        slots: SlotLedger | None = None,
    ) -> None:
        self._inner = inner
        self._slots = slots
        self._store = store
        self._runner = runner
        self._running = running
        self._wall = wall
        self._max_lag_s = max_lag_s

    @property
    def name(self) -> str:
        return self._inner.name

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        keys = [c.key for c in candidates]
        known = self._store.recorded_decisions(self._runner, keys)
        missing = [i for i, k in enumerate(keys) if k not in known]
        if missing:
            asked = [candidates[i] for i in missing]
            lag_s = (self._wall() - context.now).total_seconds()
            if not self._running():
                answers = _skips(len(asked), "runner stopped (POST /control/stop): no new entries", STOPPED_SOURCE)
                self._abandon(asked, "runner stopped before the answer came")
            elif self._max_lag_s is not None and lag_s > self._max_lag_s:
                why = f"decision due {lag_s:.0f} s ago (late bars): not traded, its fill would be in the past"
                answers = _skips(len(asked), why, LATE_SOURCE)
                self._abandon(asked, f"decision late: {why}")
            else:
                answers = self._inner.decide(asked, context)
            for i, answer in zip(missing, answers, strict=True):
                self._store.record_decision(self._runner, keys[i], answer, self._wall())
            known = self._store.recorded_decisions(self._runner, keys)  # first writer wins
        return [known[k] for k in keys]

    def _abandon(self, asked: Sequence[Candidate], reason: str) -> None:
        """A slot a crash left in flight for these candidates is settled ``lost``: no re-ask."""
        if self._slots is not None:
            self._slots.abandon([request_key(asked), *(c.key for c in asked)], reason)


def _skips(n: int, reason: str, source: str) -> list[Decision]:
    return [
        Decision(take=False, confidence=0.0, reason=reason, source=source, status=DecisionStatus.SKIP) for _ in range(n)
    ]


# ---------------------------------------------------------------- value conversion


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, int | np.integer):
        return None if int(value) < 0 else pd.Timestamp(int(value), unit="ns", tz="UTC").to_pydatetime()
    if pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert("UTC").to_pydatetime()


def _f(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _s(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return pd.Timestamp(value).date()


_NUMERIC_EXCLUDE = {"bar_index", "ref_entry", "prefilter_score", "volume_multiple", "atr_5m", "confidence"}


def journal_rows(journal: pd.DataFrame) -> list[dict[str, Any]]:
    """Engine journal -> store rows (open positions carry no exit and no pnl yet)."""
    out: list[dict[str, Any]] = []
    numeric = [
        c
        for c in journal.columns
        if (c.startswith("pf_") or c in _FEATURES) and c not in _NUMERIC_EXCLUDE and c in journal.columns
    ]
    for rec in journal.to_dict("records"):
        ts = _dt(rec["ts"])
        assert ts is not None
        exit_ts = _dt(rec.get("exit_ts"))
        closed = exit_ts is not None and rec.get("exit_reason") != "open"
        out.append(
            {
                "candidate_key": candidate_key(ts, str(rec["setup"]), str(rec["direction"])),
                "ts": ts,
                "trading_day": _day(rec["trading_day"]),
                "setup": str(rec["setup"]),
                "direction": str(rec["direction"]),
                "ref_entry": float(rec["ref_entry"]),
                "prefilter_score": float(rec["prefilter_score"]),
                "passed_prefilter": bool(rec["passed_prefilter"]),
                "volume_multiple": _f(rec.get("volume_multiple")),
                "atr_5m": _f(rec.get("atr_5m")),
                "session_label": str(rec.get("session_label") or ""),
                "timestamp_ct": str(rec.get("timestamp_ct") or ""),
                "decision": str(rec.get("decision") or "not_asked"),
                "decision_source": _s(rec.get("decision_source")) or "",
                "fallback": _s(rec.get("fallback")),
                "confidence": _f(rec.get("confidence")),
                "reason": _s(rec.get("reason")) or "",
                "gate": _s(rec.get("gate")) or "",
                "entry_ts": _dt(rec.get("entry_ts")),
                "entry_price": _f(rec.get("entry_price")),
                "exit_ts": exit_ts if closed else None,
                "exit_price": _f(rec.get("exit_price")) if closed else None,
                "exit_reason": _s(rec.get("exit_reason")) if closed else None,
                "pnl_pts": _f(rec.get("pnl_pts")) if closed else None,
                "features": {c: v for c in numeric if (v := _f(rec.get(c))) is not None},
            }
        )
    return out


_FEATURES = frozenset(FEATURE_COLUMNS)


def trade_rows(trades: pd.DataFrame, sources: Mapping[str, str]) -> list[dict[str, Any]]:
    """Engine trades -> store rows: closed trades only, keyed by their candidate."""
    out: list[dict[str, Any]] = []
    for rec in trades.to_dict("records"):
        exit_ts = _dt(rec.get("exit_ts"))
        if exit_ts is None or rec.get("exit_reason") == "open":
            continue
        ts = _dt(rec["ts"])
        entry_ts = _dt(rec.get("entry_ts"))
        assert ts is not None
        assert entry_ts is not None
        key = candidate_key(ts, str(rec["setup"]), str(rec["direction"]))
        out.append(
            {
                "trade_key": key,
                "trading_day": _day(rec["trading_day"]),
                "ts": ts,
                "entry_ts": entry_ts,
                "exit_ts": exit_ts,
                "result": str(rec["result"]),
                "setup": str(rec["setup"]),
                "direction": str(rec["direction"]),
                "session": str(rec.get("session") or ""),
                "prefilter_score": float(rec["prefilter_score"]),
                "confidence": _f(rec.get("confidence")),
                "entry_price": float(rec["entry_price"]),
                "exit_price": float(rec["exit_price"]),
                "pnl_pts": float(rec["pnl_pts"]),
                "gross_pts": float(rec["gross_pts"]),
                "commission_pts": float(rec["commission_pts"]),
                "time_to_target": _f(rec.get("time_to_target")),
                "mae": float(rec["mae"]),
                "mfe": float(rec["mfe"]),
                "exit_reason": str(rec["exit_reason"]),
                "ambiguous": bool(rec.get("ambiguous", False)),
                "decision_source": sources.get(key, ""),
            }
        )
    return out


def _rounded(value: Any, digits: int) -> float | None:
    out = _f(value)
    return None if out is None else round(out, digits)


def _live(candidates: pd.DataFrame) -> dict[str, Any] | None:
    if candidates.empty:
        return None
    rec = candidates.iloc[-1]
    return {
        "setup_type": str(rec["setup_type"]),
        "direction": str(rec["direction"]),
        "prefilter_score": _rounded(rec["prefilter_score"], 2),
        "volume_multiple": _rounded(rec.get("volume_multiple"), 2),
        "atr_5m": _rounded(rec.get("atr_5m"), 2),
        "session_label": str(rec.get("session_label")),
        "timestamp_ct": str(rec.get("timestamp_ct")),
    }


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in row.items()}


# ---------------------------------------------------------------- the runner


class PaperRunner:
    """Feeds one trading day at a time to the engine and persists every bar's outcome.

    `step(bars, now)` takes every bar closed by `now` (open-time index, UTC) and processes the newest
    one. It is a no-op for a bar at or before the stored cursor once the day is rebuilt.
    """

    def __init__(
        self,
        store: ServiceStore,
        holder: str,
        *,
        loop_factory: LoopFactory,
        candidates_fn: CandidateFn,
        decider: Decider,
        position_fn: PositionFn,
        config: RunnerConfig,
        wall: Callable[[], datetime],
        slots: SlotLedger | None = None,
    ) -> None:
        self.store = store
        self._slots = slots
        self.holder = holder
        self.config = config
        self._loop_factory = loop_factory
        self._candidates_fn = candidates_fn
        self._position_fn = position_fn
        self._wall = wall
        self._running = True
        self._decider = RecordingDecider(
            decider, store, config.name, lambda: self._running, wall, max_lag_s=config.max_decision_lag_s, slots=slots
        )
        self._loop: TradingLoop | None = None
        self._clock: SimClock | None = None
        self._day: date | None = None
        self._cursor: datetime | None = None
        self._written: dict[str, dict[str, Any]] = {}
        self._trades_written: set[str] = set()
        self._last: dict[str, Any] | None = None
        self._last_candidates = -1
        self._busy = True

    @property
    def cursor(self) -> datetime | None:
        """Open time of the last bar processed (and committed)."""
        return self._cursor

    def resume(self) -> datetime | None:
        """Forget in-memory state and take the cursor from the store (call after taking the lease)."""
        self._loop, self._clock, self._day = None, None, None
        self._written, self._trades_written = {}, set()
        self._last, self._last_candidates, self._busy = None, -1, True
        snap = self.store.state(self.config.name)
        self._cursor = snap.last_bar_ts if snap is not None else None
        self._running = snap.running if snap is not None else True
        if self._slots is not None:  # budget slots a crash left reserved but never sent
            released = self._slots.release_unsent()
            if released:
                log.info("runner %s released %d budget slot(s) reserved but never sent", self.holder, released)
        return self._cursor

    def set_running(self, running: bool) -> None:
        self._running = running

    def step(self, bars: pd.DataFrame, now: datetime, *, rebuild: bool = False) -> bool:
        """Process the newest bar of `bars`; True when something was committed.

        With `rebuild` the bar may be the stored cursor itself (the first step after `resume`).
        """
        if bars.empty:
            return False
        last_open = pd.Timestamp(bars.index[-1]).to_pydatetime()
        if self._cursor is not None and (last_open < self._cursor or (last_open == self._cursor and not rebuild)):
            return False
        day = trading_day(last_open)
        index = pd.DatetimeIndex(bars.index)
        span = _span(index)
        if self._loop is None or self._day != day:
            self._start_day(day, last_open, span)
        assert self._loop is not None
        assert self._clock is not None
        first_today = int(index.searchsorted(pd.Timestamp(trading_day_open(day)), side="left"))
        day_start = index[first_today] - pd.Timedelta(days=self.config.lookback_days)
        history = bars.loc[index >= day_start]
        offset = len(bars) - len(history)
        candidates = self._candidates_fn(history)
        if not candidates.empty:
            cand_days = pd.to_datetime(candidates["trading_day"]).dt.date.to_numpy()
            candidates = candidates.loc[cand_days == day].reset_index(drop=True)
            candidates["bar_index"] = candidates["bar_index"].astype(np.int64) - (first_today - offset)
        day_bars = bars.iloc[first_today:]
        self._clock.advance_to(last_open + span)
        self._loop.advance(day_bars, candidates)
        self._commit(last_open, day, candidates, now)
        self._cursor = last_open
        return True

    def _start_day(self, day: date, first_open: datetime, span: timedelta) -> None:
        self._clock = SimClock(first_open)
        self._loop = self._loop_factory(self._decider, self._clock, span)
        self._day = day
        self._written = {}
        self._last, self._last_candidates, self._busy = None, -1, True

    def _commit(self, bar_open: datetime, day: date, candidates: pd.DataFrame, now: datetime) -> None:
        assert self._loop is not None
        if len(candidates) == self._last_candidates and not self._busy and self._last is not None:
            # Nothing new can have happened: no new candidate, nothing pending, no open position.
            quiet = StepRecord(**{**self._last, "bar_ts": bar_open, "journal": (), "trades": ()})
            self.store.commit_step(self.config.name, self.holder, now, quiet)
            return
        from mesdesk.engine.journal import trades_from_journal

        frame = self._loop.journal()
        journal = journal_rows(frame)
        changed = [r for r in journal if self._written.get(r["candidate_key"]) != r]
        sources = {r["candidate_key"]: r["decision_source"] for r in journal}
        trades = trade_rows(trades_from_journal(frame), sources) if len(frame) else []
        new_trades = [t for t in trades if t["trade_key"] not in self._trades_written]
        today_trades = [t for t in trades if t["trading_day"] == day]
        open_rows = [r for r in journal if r["entry_ts"] is not None and r["exit_ts"] is None]
        pending = any(r["decision"] == "take" and r["gate"] == "ok" and r["entry_ts"] is None for r in journal)
        position = (
            _jsonable({**self._position_fn(self._loop, open_rows[-1]), "candidate_key": open_rows[-1]["candidate_key"]})
            if open_rows
            else None
        )
        fields: dict[str, Any] = {
            "bar_ts": bar_open,
            "trading_day": day,
            "trades_today": sum(r["entry_ts"] is not None and r["trading_day"] == day for r in journal),
            "losses_today": sum(t["result"] == "loss" for t in today_trades),
            "net_pts_today": round(sum(t["pnl_pts"] for t in today_trades), 10),
            "position": position,
            "live": _live(candidates),
            "paused": False,
            "paused_reason": None,
        }
        self.store.commit_step(
            self.config.name, self.holder, now, StepRecord(**fields, journal=changed, trades=new_trades)
        )
        for r in changed:
            self._written[r["candidate_key"]] = r
        self._trades_written.update(t["trade_key"] for t in new_trades)
        self._last = fields
        self._last_candidates = len(candidates)
        self._busy = bool(open_rows) or pending or len(journal) < len(candidates)


def _span(index: pd.DatetimeIndex) -> timedelta:
    if len(index) >= 2:
        diffs = np.diff(index.as_unit("ns").asi8)
        return (
            timedelta(microseconds=int(np.min(diffs[diffs > 0])) // 1000) if (diffs > 0).any() else timedelta(minutes=1)
        )
    return timedelta(minutes=1)
