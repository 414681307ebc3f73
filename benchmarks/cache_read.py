"""Reading a cached year of 1-minute MES bars (target: under 0.5 s).

Writes one year of Globex minutes (23 h a day, 5 days a week, ~350,000 bars, with a contract
column as Databento gives it) into a temporary cache, then times `BarCache.get` for the whole year
(a cache hit: Parquet read + validation + slice). Prints the median and worst of several reads.

    python benchmarks/cache_read.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mesdesk.calendar import CT
from mesdesk.data.cache import BarCache, CacheKey, Piece
from mesdesk.timeframes import Timeframe


def year_of_minutes(seed: int = 3) -> pd.DataFrame:
    """Globex minutes of 2024 (Sunday 17:00 CT to Friday 16:00 CT, 16:00-17:00 CT break), random walk."""
    utc = pd.date_range("2024-01-01", "2025-01-01", freq="1min", tz="UTC", inclusive="left")
    minutes = utc.tz_convert(CT)
    wall = minutes.hour * 60 + minutes.minute
    dow = minutes.day_of_week
    in_break = (wall >= 16 * 60) & (wall < 17 * 60)
    weekend = (dow == 5) | ((dow == 6) & (wall < 17 * 60)) | ((dow == 4) & (wall >= 16 * 60))
    idx = minutes[~in_break & ~weekend].tz_convert("UTC").rename("ts")
    rng = np.random.default_rng(seed)
    close = 4800.0 + np.cumsum(rng.choice([-0.25, 0.0, 0.25], size=len(idx)))
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) + 0.25 * rng.integers(0, 3, len(idx))
    low = np.minimum(open_, close) - 0.25 * rng.integers(0, 3, len(idx))
    volume = rng.integers(1, 400, len(idx)).astype("int64")
    contract = np.where(idx < pd.Timestamp("2024-03-14", tz="UTC"), "MESH4", "MESM4")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "symbol": contract}, index=idx
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    bars = year_of_minutes()
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")
    with tempfile.TemporaryDirectory() as tmp:
        cache = BarCache(Path(tmp))
        key = CacheKey("databento", "MES.c.0", Timeframe.M1)
        t0 = time.perf_counter()
        cache.get(key, start, end, lambda missing: [Piece(bars, missing[0], missing[0])])
        write_s = time.perf_counter() - t0

        def refuse(missing: object) -> list[Piece]:
            raise AssertionError(f"cache miss: {missing}")

        timings = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            got = cache.get(key, start, end, refuse)
            timings.append(time.perf_counter() - t0)
        size_mb = cache.path(key).stat().st_size / 1e6
    assert len(got) == len(bars)
    print(f"bars: {len(bars):,} one-minute bars (2024), file {size_mb:.1f} MB, first write {write_s:.2f} s")
    print(
        f"cached read of the year: median {np.median(timings):.3f} s, worst {max(timings):.3f} s ({args.repeat} reads)"
    )
    print(f"target < 0.5 s: {'met' if max(timings) < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
