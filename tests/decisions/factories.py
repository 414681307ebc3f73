"""Small factories for the decisions tests: candidates, contexts, a fake that answers every id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_day
from mesdesk.decider import DecisionContext
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


def bars_from_closes(start: str, closes: np.ndarray) -> pd.DataFrame:
    """1m bars (UTC open times from `start`): open = previous close, one tick of wick each side."""
    opens = np.concatenate(([closes[0]], closes[:-1]))
    idx = pd.date_range(start, periods=len(closes), freq="1min", tz="UTC", name="ts").as_unit("ns")
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, closes) + 0.25,
            "low": np.minimum(opens, closes) - 0.25,
            "close": closes,
            "volume": np.full(len(closes), 100, dtype=np.int64),
        },
        index=idx,
    )


def context(now: datetime = T0 + timedelta(seconds=30), memory: dict[str, Any] | None = None) -> DecisionContext:
    closes = 5820.0 + np.cumsum(np.tile([0.25, -0.25, 0.5, 0.0], 20))
    bars = bars_from_closes("2025-01-20 14:26", closes)  # 80 one-minute bars, the last one closes 15:46 UTC
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


def random_walk_days(first_day: str, days: int, *, seed: int = 11) -> pd.DataFrame:
    """1m bars of `days` weekdays from 08:00 to 15:30 CT: a seeded random walk on the tick grid."""
    rng = np.random.default_rng(seed)
    frames = []
    day = pd.Timestamp(first_day)
    price = 5000.0
    while len(frames) < days:
        if day.weekday() < 5:
            start = pd.Timestamp(f"{day.date()} 08:00", tz="America/Chicago").tz_convert("UTC")
            n = 450
            steps = rng.choice([-0.25, 0.0, 0.25], size=n, p=[0.25, 0.25, 0.5])  # drifts up: longs win more often
            closes = price + np.cumsum(steps)
            opens = np.concatenate(([price], closes[:-1]))
            wick = rng.choice([0.0, 0.25], size=(2, n), p=[0.7, 0.3])
            idx = pd.date_range(start, periods=n, freq="1min", name="ts").as_unit("ns")
            frames.append(
                pd.DataFrame(
                    {
                        "open": opens,
                        "high": np.maximum(opens, closes) + wick[0],
                        "low": np.minimum(opens, closes) - wick[1],
                        "close": closes,
                        "volume": rng.integers(50, 400, size=n).astype(np.int64),
                    },
                    index=idx,
                )
            )
            price = float(closes[-1])
        day += pd.Timedelta(days=1)
    return pd.concat(frames)


def candidates_every(bars: pd.DataFrame, minutes: int = 7, *, seed: int = 3) -> pd.DataFrame:
    """A candidate frame (docs/setups.md): one candidate every `minutes` bars in 08:30-10:30 CT and 13:00-15:00 CT."""
    from mesdesk.calendar import session_labels, trading_days

    rng = np.random.default_rng(seed)
    index = pd.DatetimeIndex(bars.index)
    wall = index.tz_convert("America/Chicago")
    minute = wall.hour * 60 + wall.minute
    window = ((minute >= 510) & (minute < 630)) | ((minute >= 780) & (minute < 900))
    rows = np.flatnonzero(window & (minute % minutes == 0))
    ts = index[rows] + pd.Timedelta(minutes=1)  # the close of the completing bar
    n = len(rows)
    scores = rng.uniform(70, 100, size=n)
    return pd.DataFrame(
        {
            "ts": ts,
            "bar_index": rows.astype(np.int64),
            "setup_type": rng.choice(["ORB_retest_go", "EMA20_pullback", "VWAP_rejection"], size=n),
            "direction": rng.choice(["long", "short"], size=n),
            "ref_entry": bars["close"].to_numpy()[rows],
            "prefilter_score": scores,
            "passed_prefilter": scores >= 75,
            "volume_multiple": rng.uniform(0.8, 2.5, size=n),
            "atr_5m": rng.uniform(0.8, 2.0, size=n),
            "session_label": np.asarray(session_labels(index[rows]), dtype=object),
            "trading_day": trading_days(index[rows]),
            "dist_vwap_atr": rng.normal(0, 1, size=n),
            "ema_slope_atr": rng.normal(0, 1, size=n),
        }
    ).reset_index(drop=True)
