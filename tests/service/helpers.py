"""Deterministic bars and a point-in-time candidate rule for runner tests (real engine, rule decider)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from mesdesk.calendar import session_labels, trading_days

CT = "America/Chicago"


def day_bars(days: tuple[str, ...] = ("2025-09-15", "2025-09-16"), seed: int = 3) -> pd.DataFrame:
    """1-minute bars of whole Globex days (17:00 CT to 16:00 CT), a seeded random walk on the tick."""
    frames = []
    rng = np.random.default_rng(seed)
    price = 6600.0
    for day in days:
        start = pd.Timestamp(f"{day} 17:00", tz=CT) - pd.Timedelta(days=1)
        idx = pd.date_range(start.tz_convert("UTC"), periods=23 * 60, freq="1min", name="ts").as_unit("ns")
        steps = rng.choice([-0.5, -0.25, 0.0, 0.25, 0.5], size=len(idx), p=[0.15, 0.2, 0.3, 0.2, 0.15])
        close = price + np.cumsum(steps)
        price = float(close[-1])
        open_ = np.concatenate(([close[0]], close[:-1]))
        wick = rng.choice([0.0, 0.25, 0.5], size=len(idx))
        frames.append(
            pd.DataFrame(
                {
                    "open": open_,
                    "high": np.maximum(open_, close) + wick,
                    "low": np.minimum(open_, close) - wick[::-1],
                    "close": close,
                    "volume": rng.integers(50, 500, size=len(idx)).astype(np.int64),
                },
                index=idx,
            )
        )
    return pd.concat(frames)


def every_n_minutes(bars: pd.DataFrame, n: int = 9) -> pd.DataFrame:
    """A candidate at the close of every RTH bar whose CT minute is a multiple of `n`.

    Direction follows the last 10 closes (long when up); everything used is known at the close.
    """
    index = pd.DatetimeIndex(bars.index)
    close_ts = index + pd.Timedelta(minutes=1)
    # The test days are in CDT (UTC-5): a fixed offset keeps this cheap enough to run every bar.
    minutes = ((index.as_unit("ns").asi8 // 60_000_000_000) - 5 * 60) % (24 * 60)
    rth = (minutes >= 8 * 60 + 30) & (minutes < 15 * 60)
    rows = np.flatnonzero(rth & (minutes % n == 0))
    rows = rows[rows >= 10]
    labels = session_labels(index[rows])
    close = bars["close"].to_numpy()
    up = close[rows] >= close[rows - 10]
    ts = pd.DatetimeIndex(close_ts[rows]).as_unit("ns")
    wall = ts.tz_convert(CT).tz_localize(None)
    score = 70.0 + (minutes[rows] % 20)  # some pass 75, some do not
    return pd.DataFrame(
        {
            "ts": ts,
            "bar_index": rows.astype(np.int64),
            "setup_type": np.where(up, "ORB_retest_go", "VWAP_rejection").astype(object),
            "direction": np.where(up, "long", "short").astype(object),
            "ref_entry": close[rows],
            "prefilter_score": score.astype(float),
            "passed_prefilter": score >= 75,
            "volume_multiple": 1.5,
            "atr_5m": 1.0,
            "session_label": labels.astype(object),
            "trading_day": trading_days(index[rows]),
            "timestamp_ct": [w.strftime("%Y-%m-%dT%H:%M:%S") for w in wall],
            "dist_vwap_atr": 0.1,
            "minutes_since_open": (minutes[rows] - 510).astype(float),
        }
    )


class FakeWall:
    """A wall clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2025, 9, 16, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def tick(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)
