"""Small factories for the decisions tests: candidates, contexts, a fake that answers every id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from conftest import make_bars
from mesdesk.calendar import trading_day
from mesdesk.decide.base import DecisionContext
from mesdesk.model import Candidate, Direction, SetupType

# 2025-01-20 09:45 CT (CST) = 15:45 UTC, inside rth_a
T0 = datetime(2025, 1, 20, 15, 45, tzinfo=UTC)


def candidate(
    ts: datetime = T0,
    *,
    score: float = 85.0,
    volume_multiple: float = 1.6,
    setup: SetupType = SetupType.ORB_RETEST_GO,
    direction: Direction = Direction.LONG,
    **features: float,
) -> Candidate:
    return Candidate(
        ts=ts,
        setup_type=setup,
        direction=direction,
        ref_entry=5825.25,
        prefilter_score=score,
        volume_multiple=volume_multiple,
        atr_5m=1.2,
        session_label="rth_a",
        trading_day=trading_day(ts),
        features={"dist_vwap_atr": 0.4, "minutes_since_open": 75.0, **features},
    )


def context(now: datetime = T0 + timedelta(seconds=30), memory: dict[str, Any] | None = None) -> DecisionContext:
    closes = 5820.0 + np.cumsum(np.tile([0.25, -0.25, 0.5, 0.0], 20))
    bars = make_bars("2025-01-20 14:26", closes)  # 80 one-minute bars, the last one closes 15:46 UTC
    return DecisionContext(now=now, recent_bars=bars, memory=memory or {})


def answer_all(action: str = "take", confidence: int = 90) -> Any:
    """A fake 'ok' answer covering every candidate id found in the request's user text."""

    def build(body: dict[str, Any]) -> dict[str, Any]:
        user = body["input"] if "input" in body else body["messages"][0]["content"]
        ids = [c["id"] for c in json.loads(user)["candidates"]]
        return {
            "decisions": [{"id": i, "action": action, "confidence": confidence, "reason": f"fake {i}"} for i in ids]
        }

    return build
