"""Response schemas: the seeds' JSON fields exactly, plus the front end's extras (journal, equity)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunnerLiveness(_Out):
    name: str
    holder: str | None = Field(description="the lease holder; null when no runner renewed the lease within its TTL")
    mode: str | None
    last_bar_ts: str | None = Field(description="open time (UTC) of the last bar the runner processed")
    last_bar_age_s: float | None = Field(description="seconds since that bar closed")
    store_error: str | None = Field(description="why the store could not be read, when it could not")


class Health(_Out):
    status: str = Field(examples=["ok"])
    server_time_utc: str = Field(examples=["2025-01-20T15:30:00Z"])
    server_time_ct: str = Field(examples=["2025-01-20T09:30:00"], description="Central Time wall clock, no offset")
    runner: RunnerLiveness


class Ready(_Out):
    ready: bool
    runner: str
    holder: str


class Summary(_Out):
    running: bool
    trades_today: int
    win_rate_trailing20: float | None = Field(description="percent of wins over the last 20 trades; null before any")
    net_points_today: float
    avg_time_to_target_sec: float | None = Field(description="mean seconds to target of today's target exits")
    gpt_calls_used: int
    gpt_calls_cap: int


class Live(_Out):
    setup_type: str | None
    direction: str | None
    prefilter_score: float | None
    volume_multiple: float | None
    atr_5m: float | None
    session_label: str | None
    timestamp_ct: str | None


class BudgetOut(_Out):
    calls_used: int
    calls_cap: int
    paused: bool
    paused_reason: str | None


class Running(_Out):
    running: bool


class Trade(_Out):
    result: str = Field(description="win, loss or scratch")
    prefilter_score: float | None
    confidence: float | None
    setup: str
    session: str
    entry_price: float
    exit_price: float
    pnl_pts: float | None = Field(description="net of commission and slippage, points")
    time_to_target: float | None = Field(description="seconds from entry to the target fill; null if not a target exit")
    mae: float | None
    mfe: float | None
    direction: str
    entry_ts: str
    exit_ts: str
    exit_reason: str
    ambiguous: bool


class Fingerprint(_Out):
    setup: str
    fingerprint_id: str
    status: str
    samples: int
    win_rate: float
    expectancy: float


class JournalEntry(_Out):
    ts: str
    timestamp_ct: str
    setup: str
    direction: str
    ref_entry: float
    prefilter_score: float | None
    passed_prefilter: bool
    decision: str
    decision_source: str
    fallback: str | None
    confidence: float | None
    reason: str
    gate: str
    traded: bool
    entry_price: float | None
    exit_price: float | None
    exit_reason: str | None
    pnl_pts: float | None


class EquityPoint(_Out):
    ts: str
    trading_day: str
    pnl_pts: float
    equity_pts: float


class RunnerStatus(BaseModel):
    runner: str
    running: bool
    mode: str
    source: str | None = None
    last_bar_ts: str | None = None
    last_bar_ct: str | None = None
    trading_day: str | None = None
    trades_today: int | None = None
    losses_today: int | None = None
    net_pts_today: float | None = None
    paused: bool | None = None
    paused_reason: str | None = None
    position: dict[str, Any] | None = None
    holder: str | None = None
    error: str | None = None
    feed_delay_s: float | None = Field(
        None, description="live: seconds since the newest bar closed; null while the market is closed"
    )
    feed_delay_limit_s: float | None = Field(
        None, description="live: MESDESK_MAX_FEED_DELAY_S, above it no new entries"
    )


class Problem(_Out):
    detail: str
