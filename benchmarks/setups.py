"""Speed of the candidate generator: detect_candidates over 1,000,000 one-minute bars.

Prints seconds and bars/s of the first (cold) call and the best and median of `--repeat` calls (bars
built beforehand), the whole-process time, candidates per setup per trading day, the share passing
the prefilter and the peak RSS of the process. The first call includes loading numba's cached machine
code of the setups' compiled passes (about 5 ms each) or, when the cache is empty, compiling it: run
twice to see the warm figure.
Run: python benchmarks/setups.py [--bars 1000000] [--repeat 3]
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mesdesk.setups.scalper import detect_candidates  # noqa: E402

CT = ZoneInfo("America/Chicago")
UTC = ZoneInfo("UTC")
SESSION_MIN = 23 * 60


def random_walk_bars(n_bars: int, seed: int = 0) -> pd.DataFrame:
    """Whole Globex sessions (17:00-16:00 CT) on weekdays, a random walk on the 0.25 tick grid."""
    n_days = -(-n_bars // SESSION_MIN)
    days = pd.bdate_range("2021-01-04", periods=n_days)
    opens = [datetime(d.year, d.month, d.day, 17, tzinfo=CT).astimezone(UTC) - timedelta(days=1) for d in days]
    start_ns = pd.DatetimeIndex(opens).as_unit("ns").asi8
    offsets = np.arange(SESSION_MIN, dtype=np.int64) * 60_000_000_000
    ts = (start_ns[:, None] + offsets[None, :]).ravel()[:n_bars]
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], size=n_bars, p=[0.05, 0.15, 0.2, 0.2, 0.2, 0.15, 0.05])
    close = 4000.0 + np.cumsum(steps)
    open_ = np.concatenate(([4000.0], close[:-1]))
    wick = rng.integers(0, 3, size=(2, n_bars)) * 0.25
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + wick[0],
            "low": np.minimum(open_, close) - wick[1],
            "close": close,
            "volume": rng.integers(50, 2000, size=n_bars).astype(np.int64),
        },
        index=pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True), name="ts"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    bars = random_walk_bars(args.bars)
    timings, cpu = [], []
    cands = pd.DataFrame()
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        cands = detect_candidates(bars)
        timings.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    cold = timings[0]
    best = min(timings)
    n_days = int(pd.Series(cands["trading_day"]).nunique()) if len(cands) else 0
    print(f"bars: {len(bars):,}  trading days with RTH: {n_days}")
    median = float(np.median(timings))
    rate = len(bars) / best
    print(f"detect_candidates first call: {cold:.3f} s wall, {cpu[0]:.3f} s CPU  ->  {len(bars) / cold:,.0f} bars/s")
    print(f"detect_candidates best of {len(timings)}: {best:.3f} s wall (median {median:.3f} s) -> {rate:,.0f} bars/s")
    print(f"  CPU seconds per call: best {min(cpu):.3f} s (load average {os.getloadavg()[0]:.1f} when done)")
    print(f"candidates: {len(cands):,}  passed prefilter: {int(cands['passed_prefilter'].sum()):,}")
    per_day = cands.groupby("setup_type").size() / max(n_days, 1)
    for setup, value in per_day.items():
        print(f"  {setup}: {value:.2f} per day")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB; whole process so far: {time.perf_counter() - PROCESS_START:.2f} s")


if __name__ == "__main__":
    main()
