"""`clock_bins_hlc` (the array fast path) gives exactly `resample`'s complete bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.resample import bin_close_ns, clock_bins_hlc, resample
from mesdesk.errors import ConfigError
from mesdesk.timeframes import Timeframe


def _gappy_bars(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.choice(np.arange(3 * n), size=n, replace=False))  # gaps, and a ragged end
    idx = pd.DatetimeIndex(pd.Timestamp("2025-03-07 20:00", tz="UTC") + pd.to_timedelta(minutes, unit="min"))
    close = 5000.0 + np.cumsum(np.round(rng.normal(0, 1, n) * 4) / 4)
    return pd.DataFrame(
        {
            "open": close - 0.25,
            "high": close + rng.integers(0, 4, n) * 0.25,
            "low": close - 0.25 - rng.integers(0, 4, n) * 0.25,
            "close": close,
            "volume": rng.integers(1, 500, n),
        },
        index=idx.rename("ts"),
    )


@pytest.mark.parametrize("timeframe", [Timeframe.M5, Timeframe.M15, Timeframe.H1])
@pytest.mark.parametrize("seed", [1, 2])
def test_matches_resample(timeframe: Timeframe, seed: int) -> None:
    bars = _gappy_bars(3000, seed)
    span = pd.Timedelta("1min")
    frame = resample(bars, timeframe, source_span=span)
    known, high, low, close = clock_bins_hlc(
        bars.index.as_unit("ns").asi8,
        bars["high"].to_numpy(),
        bars["low"].to_numpy(),
        bars["close"].to_numpy(),
        span.value,
        timeframe,
    )
    assert np.array_equal(known, bin_close_ns(pd.DatetimeIndex(frame.index), timeframe))
    assert np.array_equal(high, frame["high"].to_numpy())
    assert np.array_equal(low, frame["low"].to_numpy())
    assert np.array_equal(close, frame["close"].to_numpy())


def test_incomplete_last_bin_is_left_out() -> None:
    ts = np.asarray(pd.date_range("2025-03-07 20:00", periods=7, freq="1min", tz="UTC").as_unit("ns").asi8)
    x = np.arange(7, dtype=np.float64)
    known, _, _, close = clock_bins_hlc(ts, x, x, x, 60 * 10**9, Timeframe.M5)
    assert known.tolist() == [int(pd.Timestamp("2025-03-07 20:05", tz="UTC").value)]
    assert close.tolist() == [4.0]


def test_wall_clock_timeframes_are_refused() -> None:
    x = np.zeros(1)
    with pytest.raises(ConfigError, match="wall-clock"):
        clock_bins_hlc(np.zeros(1, dtype=np.int64), x, x, x, 60 * 10**9, Timeframe.H4)
