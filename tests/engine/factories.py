"""Factories for engine tests: bars and candidates written in Central Time, checked by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mesdesk.calendar import trading_days

CT = "America/Chicago"


def ct(day: str, hhmm: str) -> pd.Timestamp:
    """A Central Time wall-clock moment as a UTC timestamp."""
    return pd.Timestamp(f"{day} {hhmm}", tz=CT).tz_convert("UTC")


def ohlc_bars(
    start: pd.Timestamp, rows: Sequence[tuple[float, float, float, float]], freq: str = "1min"
) -> pd.DataFrame:
    """Bars from explicit (open, high, low, close) rows starting at `start` (UTC), volume 100."""
    arr = np.asarray(rows, dtype=float).reshape(-1, 4)
    idx = pd.date_range(start, periods=len(arr), freq=freq, name="ts").as_unit("ns")
    return pd.DataFrame(
        {
            "open": arr[:, 0],
            "high": arr[:, 1],
            "low": arr[:, 2],
            "close": arr[:, 3],
            "volume": np.full(len(arr), 100, dtype=np.int64),
        },
        index=idx,
    )


def flat(price: float, n: int) -> list[tuple[float, float, float, float]]:
    """`n` quiet bars at `price` (high/low one tick around it)."""
    return [(price, price + 0.25, price - 0.25, price)] * n


def candidate_frame(
    rows: Sequence[tuple[pd.Timestamp, str, float]], *, setup: str = "ORB_retest_go", score: float = 80.0
) -> pd.DataFrame:
    """Candidates (ts, direction, ref_entry) in the candidate-frame shape of docs/setups.md; all pass the prefilter."""
    ts = pd.DatetimeIndex([r[0] for r in rows]).tz_convert("UTC").as_unit("ns")
    frame = pd.DataFrame(
        {
            "ts": ts,
            "bar_index": np.arange(len(rows), dtype=np.int64),
            "setup_type": setup,
            "direction": [r[1] for r in rows],
            "ref_entry": [r[2] for r in rows],
            "prefilter_score": score,
            "passed_prefilter": score >= 75,
            "pf_trend": 20.0,
            "volume_multiple": 1.5,
            "atr_5m": 1.0,
            "session_label": "rth_a",
            "trading_day": trading_days(ts),
            "timestamp_ct": [t.tz_convert(CT).strftime("%Y-%m-%dT%H:%M:%S") for t in ts],
            "dist_vwap_atr": 0.1,
        }
    )
    return frame


UP = (5000.00, 5001.75, 5000.00, 5001.50)  # trades through a long's target (entry 5000.25 -> 5001.50)
DOWN = (5000.00, 5000.25, 4999.25, 4999.50)  # touches a long's stop (4999.50)


def day_bars(
    day: str,
    events: dict[str, tuple[float, float, float, float]] | None = None,
    start: str = "08:00",
    end: str = "15:30",
) -> pd.DataFrame:
    """1m bars of one CT day, quiet at 5000.00 (one tick either side), with `events` at given CT minutes."""
    first, last = ct(day, start), ct(day, end)
    n = int((last - first) / pd.Timedelta("1min"))
    frame = ohlc_bars(first, flat(5000.00, n))
    for hhmm, row in (events or {}).items():
        frame.loc[ct(day, hhmm), ["open", "high", "low", "close"]] = row
    return frame


def random_market(days: list[str], seed: int = 3) -> pd.DataFrame:
    """A tick-rounded random walk, 1m bars 08:00-15:30 CT on each day (volatile enough to hit brackets)."""
    rng = np.random.default_rng(seed)
    frames = []
    price = 5000.0
    for day in days:
        first = ct(day, "08:00")
        n = 450
        steps = np.round(rng.normal(0, 0.5, n) * 4) / 4
        close = price + np.cumsum(steps)
        open_ = np.r_[price, close[:-1]]
        wick = np.round(np.abs(rng.normal(0, 0.4, (2, n))) * 4) / 4
        high = np.maximum(open_, close) + wick[0]
        low = np.minimum(open_, close) - wick[1]
        idx = pd.date_range(first, periods=n, freq="1min", name="ts").as_unit("ns")
        frames.append(
            pd.DataFrame(
                {"open": open_, "high": high, "low": low, "close": close, "volume": np.full(n, 100, dtype=np.int64)},
                index=idx,
            )
        )
        price = float(close[-1])
    return pd.concat(frames)


def random_candidates(bars: pd.DataFrame, every: int = 7, seed: int = 5) -> pd.DataFrame:
    """Candidates at every `every`-th bar close, random direction and score (about 2/3 pass 75)."""
    rng = np.random.default_rng(seed)
    picks = np.arange(0, len(bars), every)
    ts = bars.index[picks] + pd.Timedelta("1min")
    dirs = np.where(rng.random(picks.size) < 0.5, "long", "short")
    frame = candidate_frame(
        [(t, d, float(c)) for t, d, c in zip(ts, dirs, bars["close"].to_numpy()[picks], strict=True)]
    )
    score = np.round(rng.uniform(50, 100, picks.size), 1)
    frame["prefilter_score"] = score
    frame["passed_prefilter"] = score >= 75
    frame["setup_type"] = np.where(rng.random(picks.size) < 0.5, "EMA20_pullback", "VWAP_rejection")
    return frame
