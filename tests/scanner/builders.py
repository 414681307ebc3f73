"""Bar builders for the scanner tests: piecewise-linear paths whose pivots can be read by eye."""

from __future__ import annotations

import numpy as np
import pandas as pd

START = "2025-03-11 14:00"  # a Tuesday, 09:00 CT: 5-minute bars stay inside one trading day


def path_bars(
    xs: list[int],
    mids: list[float],
    *,
    start: str = START,
    freq: str = "5min",
    half_range: float = 0.5,
    volume: int | np.ndarray = 100,
) -> pd.DataFrame:
    """Bars whose mid price follows straight lines through (xs, mids); open = close = mid.

    Every bar spans mid +- half_range, so a swing low at a corner x has low = mid - half_range.
    """
    n = xs[-1] + 1
    mid = np.interp(np.arange(n), xs, mids)
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="ts").as_unit("ns")
    vol = np.broadcast_to(np.asarray(volume, dtype=np.int64), (n,)).copy()
    return pd.DataFrame(
        {"open": mid, "high": mid + half_range, "low": mid - half_range, "close": mid, "volume": vol},
        index=idx,
    )


# A bullish ABC on 5m bars with swing order 2: A low 100 at bar 3, B high 110 at bar 8, C low 104.5
# at bar 12 (55% retrace), confirmed at bar 14's close (mid 106.5), then a steady rise of 1.25/bar.
BULL_XS = [0, 3, 8, 12, 14, 30]
BULL_MIDS = [103.0, 100.5, 109.5, 105.0, 106.5, 126.5]


def bullish_bars(**kwargs: object) -> pd.DataFrame:
    return path_bars(BULL_XS, BULL_MIDS, **kwargs)  # type: ignore[arg-type]


def mirror(bars: pd.DataFrame, pivot: float = 300.0) -> pd.DataFrame:
    """Prices reflected around `pivot / 2` (x -> pivot - x): a bullish path becomes a bearish one."""
    out = bars.copy()
    out["open"] = pivot - bars["open"]
    out["close"] = pivot - bars["close"]
    out["high"] = pivot - bars["low"]
    out["low"] = pivot - bars["high"]
    return out
