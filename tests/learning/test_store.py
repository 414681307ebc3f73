from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from mesdesk.outcome import Outcome
from mesdesk.store.base import session_factory, transaction
from mesdesk.store.learning import count_outcomes, load_outcomes, reset_outcomes, save_outcomes

T0 = datetime(2025, 9, 16, 13, 30, tzinfo=UTC)


def _outcome(i: int, cf: bool = False) -> Outcome:
    return Outcome(
        key=f"k{i}",
        setup="VWAP_rejection",
        direction="short",
        session="rth_b",
        decided_at=T0 + timedelta(minutes=i),
        resolved_at=T0 + timedelta(minutes=i + 7),
        pnl_pts=-0.99 if i % 2 else 1.0,
        counterfactual=cf,
        features={"prefilter_score": 80.0 + i, "dist_vwap_atr": float("nan")},
    )


def test_outcomes_survive_a_restart_and_are_not_doubled(store_engine: Engine) -> None:
    factory = session_factory(store_engine)
    with transaction(factory) as s:
        assert save_outcomes(s, [_outcome(1), _outcome(2), _outcome(2, cf=True)]) == 3
    with transaction(factory) as s:  # the same outcomes again, as after a crash and replay
        assert save_outcomes(s, [_outcome(1), _outcome(3)]) == 1
    fresh = session_factory(store_engine)  # "restart": a new session factory
    with transaction(fresh) as s:
        loaded = load_outcomes(s)
        assert [o.key for o in loaded] == ["k1", "k2", "k2", "k3"]
        assert loaded[0].resolved_at == T0 + timedelta(minutes=8)
        assert loaded[0].resolved_at.tzinfo is not None
        assert loaded[0].features["prefilter_score"] == 81.0
        assert load_outcomes(s, resolved_before=T0 + timedelta(minutes=9)) == loaded[:3]
        assert reset_outcomes(s) == 4
    with transaction(fresh) as s:
        assert count_outcomes(s) == 0
