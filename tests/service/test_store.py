"""The service store: lease, fenced idempotent steps, decisions, reads (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import StatementError

from mesdesk.errors import StoreError
from mesdesk.model import Decision, DecisionStatus
from mesdesk.store.runner_store import LeaseLost, ServiceStore, StepRecord

T0 = datetime(2025, 9, 16, 14, 0, tzinfo=UTC)  # 09:00 CT
TTL = timedelta(seconds=10)
DAY = date(2025, 9, 16)


def trade(key: str, pnl: float, exit_min: int = 5) -> dict[str, Any]:
    return {
        "trade_key": key,
        "trading_day": DAY,
        "ts": T0,
        "entry_ts": T0 + timedelta(minutes=1),
        "exit_ts": T0 + timedelta(minutes=exit_min),
        "result": "win" if pnl > 0 else "loss",
        "setup": "ORB_retest_go",
        "direction": "long",
        "session": "rth_a",
        "prefilter_score": 82.0,
        "confidence": 88.0,
        "entry_price": 5825.25,
        "exit_price": 5825.25 + pnl,
        "pnl_pts": pnl,
        "gross_pts": pnl + 0.25,
        "commission_pts": 0.25,
        "time_to_target": 42.0,
        "mae": -0.25,
        "mfe": 1.5,
        "exit_reason": "tp" if pnl > 0 else "sl",
        "ambiguous": False,
        "decision_source": "local",
    }


def journal(key: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "candidate_key": key,
        "ts": T0,
        "trading_day": DAY,
        "setup": "ORB_retest_go",
        "direction": "long",
        "ref_entry": 5825.0,
        "prefilter_score": 82.0,
        "passed_prefilter": True,
        "session_label": "rth_a",
        "timestamp_ct": "2025-09-16T09:00:00",
        "decision": "take",
    }
    row.update(extra)
    return row


def step(bar_min: int, **kw: Any) -> StepRecord:
    base: dict[str, Any] = {
        "bar_ts": T0 + timedelta(minutes=bar_min),
        "trading_day": DAY,
        "trades_today": 0,
        "losses_today": 0,
        "net_pts_today": 0.0,
        "position": None,
        "live": None,
        "paused": False,
        "paused_reason": None,
    }
    base.update(kw)
    return StepRecord(**base)


def test_lease_is_held_by_one_holder_until_it_expires(store: ServiceStore) -> None:
    assert store.acquire_lease("paper", "a", T0, TTL)
    assert not store.acquire_lease("paper", "b", T0 + timedelta(seconds=5), TTL)
    assert store.acquire_lease("paper", "a", T0 + timedelta(seconds=5), TTL)  # renewal
    assert store.lease_holder("paper", T0 + timedelta(seconds=14)) == "a"
    assert store.acquire_lease("paper", "b", T0 + timedelta(seconds=15), TTL)  # expired: taken over
    assert store.lease_holder("paper", T0 + timedelta(seconds=16)) == "b"


def test_released_lease_can_be_taken_at_once(store: ServiceStore) -> None:
    assert store.acquire_lease("paper", "a", T0, TTL)
    store.release_lease("paper", "a", T0 + timedelta(seconds=1))
    assert store.acquire_lease("paper", "b", T0 + timedelta(seconds=1), TTL)


def test_step_of_a_runner_without_the_lease_writes_nothing(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="synthetic")
    assert store.acquire_lease("paper", "a", T0, TTL)
    assert store.acquire_lease("paper", "b", T0 + timedelta(seconds=11), TTL)
    with pytest.raises(LeaseLost):
        store.commit_step("paper", "a", T0 + timedelta(seconds=12), step(1, trades=[trade("k1", 1.0)]))
    assert store.trades("paper") == []


def test_step_written_twice_leaves_one_trade_and_one_equity_point(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="synthetic")
    assert store.acquire_lease("paper", "a", T0, TTL)
    pos = {"direction": "long", "entry_price": 5825.25, "stop": 5824.5, "target": 5826.5}
    s1 = step(1, journal=[journal("c1")], position=pos)
    store.commit_step("paper", "a", T0, s1)
    s2 = step(
        5,
        journal=[journal("c1", exit_price=5826.25, pnl_pts=1.0)],
        trades=[trade("k1", 1.0)],
        trades_today=1,
        net_pts_today=1.0,
    )
    store.commit_step("paper", "a", T0, s2)
    store.commit_step("paper", "a", T0, s2)
    assert [t.trade_key for t in store.trades("paper", DAY)] == ["k1"]
    assert [e.equity_pts for e in store.equity("paper")] == [1.0]
    rows = store.journal("paper")
    assert len(rows) == 1
    assert rows[0].pnl_pts == 1.0
    snap = store.state("paper")
    assert snap is not None
    assert snap.position is None
    assert snap.trades_today == 1
    assert snap.last_bar_ts == T0 + timedelta(minutes=5)


def test_open_position_and_bracket_come_back_from_the_store(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="synthetic")
    assert store.acquire_lease("paper", "a", T0, TTL)
    pos = {"direction": "short", "entry_price": 5800.0, "stop": 5800.75, "target": 5798.75, "be_moved": True}
    store.commit_step("paper", "a", T0, step(3, position=pos, trades_today=2, losses_today=1, net_pts_today=-0.5))
    snap = ServiceStore(store.engine).state("paper")
    assert snap is not None
    assert dict(snap.position or {}) == pos
    assert (snap.trades_today, snap.losses_today, snap.net_pts_today) == (2, 1, -0.5)
    assert snap.last_bar_ts is not None
    assert snap.last_bar_ts.tzinfo is not None


def test_equity_accumulates_net_points(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="synthetic")
    assert store.acquire_lease("paper", "a", T0, TTL)
    store.commit_step("paper", "a", T0, step(5, trades=[trade("k1", 1.0, 5), trade("k2", -0.75, 9)]))
    assert [e.equity_pts for e in store.equity("paper")] == [1.0, 0.25]
    assert [t.trade_key for t in store.trades("paper", limit=1)] == ["k2"]


def test_trade_missing_a_field_is_refused_with_its_name(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="synthetic")
    assert store.acquire_lease("paper", "a", T0, TTL)
    bad = trade("k1", 1.0)
    del bad["pnl_pts"]
    with pytest.raises(StoreError, match="pnl_pts"):
        store.commit_step("paper", "a", T0, step(5, trades=[bad]))


def test_first_recorded_decision_wins(store: ServiceStore) -> None:
    d1 = Decision(take=True, confidence=88.0, reason="clean retest", source="local", status=DecisionStatus.TAKE)
    d2 = Decision(take=False, confidence=10.0, reason="other", source="local", status=DecisionStatus.SKIP)
    store.record_decision("paper", "c1", d1, T0)
    store.record_decision("paper", "c1", d2, T0)
    got = store.recorded_decisions("paper", ["c1", "c2"])
    assert got == {"c1": d1}
    assert store.decision_count("paper", T0 - timedelta(hours=1)) == 1


def test_running_flag_round_trips(store: ServiceStore) -> None:
    assert store.set_running("paper", False, T0) is False
    snap = store.state("paper")
    assert snap is not None
    assert snap.running is False
    store.set_running("paper", True, T0)
    assert store.ensure_state("paper", mode="replay", source="x").running is True


def test_naive_datetime_is_refused(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="synthetic")
    assert store.acquire_lease("paper", "a", T0, TTL)
    naive = datetime(2025, 9, 16, 14, 1)  # noqa: DTZ001
    with pytest.raises(StatementError, match="naive"):
        store.commit_step("paper", "a", T0, step(1, bar_ts=naive))


def test_a_recorded_rule_decision_keeps_no_confidence(store: ServiceStore) -> None:
    """The rule decider states no confidence: recorded and read back as None, never as its score."""
    import pandas as pd

    from mesdesk.decide.rules import RuleDecider
    from mesdesk.decider import DecisionContext
    from mesdesk.model import Candidate, Direction

    at = datetime(2025, 9, 16, 13, 45, tzinfo=UTC)
    cand = Candidate(
        ts=at,
        setup_type="EMA20_pullback",
        direction=Direction.LONG,
        ref_entry=6600.0,
        prefilter_score=80.0,
        volume_multiple=1.0,
        atr_5m=1.0,
        session_label="rth_a",
        trading_day=date(2025, 9, 16),
    )
    (decision,) = RuleDecider().decide([cand], DecisionContext(now=at, recent_bars=pd.DataFrame()))
    assert decision.confidence is None
    assert decision.take
    store.record_decision("r", cand.key, decision, at)
    assert store.recorded_decisions("r", [cand.key])[cand.key].confidence is None
