"""Bar factories for the setup tests: hand-built bars in Central Time, random-walk days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

CT = ZoneInfo("America/Chicago")
OHLC = tuple[float, float, float, float]


def ct_bars(day: str, start_ct: str, rows: Sequence[OHLC], *, minutes: int = 1, volume: int = 100) -> pd.DataFrame:
    """Bars from explicit (open, high, low, close) rows, the first opening at `day` `start_ct` Central."""
    start = datetime.fromisoformat(f"{day}T{start_ct}").replace(tzinfo=CT)
    stamps = [(start + timedelta(minutes=minutes * k)).astimezone(ZoneInfo("UTC")) for k in range(len(rows))]
    arr = np.asarray(rows, dtype=float).reshape(-1, 4)
    return pd.DataFrame(
        {
            "open": arr[:, 0],
            "high": arr[:, 1],
            "low": arr[:, 2],
            "close": arr[:, 3],
            "volume": np.full(len(rows), volume, dtype=np.int64),
        },
        index=pd.DatetimeIndex(stamps, name="ts").as_unit("ns"),
    )


def flat(price: float, n: int) -> list[OHLC]:
    return [(price, price, price, price)] * n


def random_walk_days(days: Sequence[str], *, seed: int, minutes: int = 1) -> pd.DataFrame:
    """Whole Globex sessions (17:00-16:00 CT) of a random walk on the tick grid, trading day by day."""
    rng = np.random.default_rng(seed)
    frames = []
    price = 5000.0
    n = 23 * 60 // minutes
    for day in days:
        prev = (pd.Timestamp(day) - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        steps = rng.choice([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], size=n, p=[0.05, 0.15, 0.2, 0.2, 0.2, 0.15, 0.05])
        steps *= np.sqrt(minutes)
        closes = price + np.round(np.cumsum(steps) * 4) / 4
        opens = np.concatenate(([price], closes[:-1]))
        wick = rng.integers(0, 3, size=(2, n)) * 0.25
        rows = list(
            zip(opens, np.maximum(opens, closes) + wick[0], np.minimum(opens, closes) - wick[1], closes, strict=True)
        )
        frame = ct_bars(prev, "17:00", rows, minutes=minutes)
        frame["volume"] = rng.integers(50, 400, size=n)
        frames.append(frame)
        price = float(closes[-1])
    return pd.concat(frames)
