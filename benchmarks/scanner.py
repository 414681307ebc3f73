"""Speed of the measured-move scan: 90 days and one year of 1-minute bars, all five timeframes.

Run: ``python benchmarks/scanner.py``. Prints the bar count, the signals found and the best of
``--repeat`` wall times (resampling, pivots, ABC rules, outcome walk on the 1m bars, synthetic VIX).
Targets: 90 days < 1 s, one year < 3 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from mesdesk.calendar import CT
from mesdesk.data.vix import synthetic_vix
from mesdesk.setups.measured_move_scan import ScanConfig, scan_bars


def globex_minutes(days: int, end: str = "2025-06-27") -> pd.DatetimeIndex:
    """Every minute of the CME Globex sessions (Sun-Fri 17:00-16:00 CT) in the `days` calendar days before `end`."""
    last = pd.Timestamp(end)
    sessions = pd.date_range(last - pd.Timedelta(days=days), last, freq="D")
    sessions = sessions[sessions.dayofweek < 5]  # trading days Mon-Fri
    parts = []
    for day in sessions:
        open_ct = (day - pd.Timedelta(days=1)).replace(hour=17).tz_localize(CT)
        parts.append(pd.date_range(open_ct, periods=23 * 60, freq="1min").tz_convert("UTC"))
    return pd.DatetimeIndex(np.concatenate([p.asi8 for p in parts])).tz_localize("UTC").rename("ts")


def random_bars(index: pd.DatetimeIndex, seed: int = 1) -> pd.DataFrame:
    """A tick-grid random walk with a little volatility clustering (only speed is measured here)."""
    rng = np.random.default_rng(seed)
    n = len(index)
    vol = np.exp(np.cumsum(rng.normal(0, 0.01, n)) * 0.2).clip(0.5, 3.0)
    steps = np.round(rng.normal(0, 0.5, n) * vol / 0.25) * 0.25
    close = 5500.0 + np.cumsum(steps)
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = np.round(rng.exponential(0.3, (2, n)) / 0.25) * 0.25
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + wick[0],
            "low": np.minimum(open_, close) - wick[1],
            "close": close,
            "volume": rng.integers(20, 2000, n),
        },
        index=index,
    )


def bench(days: int, repeat: int) -> None:
    bars = random_bars(globex_minutes(days))
    config = ScanConfig()
    times = []
    signals = pd.DataFrame()
    for _ in range(repeat):
        t0 = time.perf_counter()
        signals = scan_bars(bars, config, synthetic_vix(bars))
        times.append(time.perf_counter() - t0)
    per_tf = signals["timeframe"].value_counts().reindex(["5m", "15m", "1h", "4h", "1d"]).fillna(0).astype(int)
    counts = ", ".join(f"{tf} {n}" for tf, n in per_tf.items())
    print(
        f"{days:>4} days: {len(bars):>7,} 1m bars, {len(signals):>5} signals ({counts}); "
        f"best {min(times):.3f} s, median {float(np.median(times)):.3f} s of {repeat}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench(90, args.repeat)
    bench(365, args.repeat)


if __name__ == "__main__":
    main()
