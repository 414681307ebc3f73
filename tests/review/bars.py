"""Session-shaped bars for the review tests: Globex days in Central time, optional post-close bars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

CT = ZoneInfo("America/Chicago")


def ct_minutes(first_ct: str, last_ct: str, *, seed: int, minutes: int = 1, price: float = 5000.0) -> pd.DataFrame:
    """Bars every `minutes` from `first_ct` to `last_ct` inclusive (Central wall times), a tick random walk."""
    start = datetime.fromisoformat(first_ct).replace(tzinfo=CT)
    end = datetime.fromisoformat(last_ct).replace(tzinfo=CT)
    n = int((end - start) / timedelta(minutes=minutes)) + 1
    idx = pd.date_range(start.astimezone(ZoneInfo("UTC")), periods=n, freq=f"{minutes}min", name="ts").as_unit("ns")
    rng = np.random.default_rng(seed)
    close = price + np.cumsum(rng.choice([-0.5, -0.25, 0.0, 0.25, 0.5], size=n))
    open_ = np.concatenate(([price], close[:-1]))
    wick = rng.choice([0.0, 0.25, 0.5], size=(2, n))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + wick[0],
            "low": np.minimum(open_, close) - wick[1],
            "close": close,
            "volume": rng.integers(50, 500, size=n),
        },
        index=idx,
    )


def globex_days(days: Sequence[str], *, seed: int, minutes: int = 5, settlement_bar: bool = True) -> pd.DataFrame:
    """Whole trading days (17:00 CT the day before to the 16:00 CT close) of a random walk.

    With `settlement_bar`, each day also has a bar opening at 16:00 CT (after the close), as real ES
    files do on some days (a settlement print).
    """
    frames = []
    price = 5000.0
    for k, day in enumerate(days):
        prev = (pd.Timestamp(day) - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        last = f"{day}T16:00" if settlement_bar else f"{day}T15:{60 - minutes:02d}"
        frame = ct_minutes(f"{prev}T17:00", last, seed=seed + k, minutes=minutes, price=price)
        frames.append(frame)
        price = float(frame["close"].iloc[-1])
    return pd.concat(frames)
