"""Speed of the measured-move scan: 90 days and one year of 1-minute bars, all five timeframes.

Run: ``python benchmarks/scanner.py``. Bars: the synthetic market (seed 7) from 2025-01-02; generating
them is not timed. Prints the bar count, the signals found and the best and median of ``--repeat``
wall times of `scan_bars` (resampling, pivots, ABC rules, outcome walk on the 1m bars) plus the
synthetic VIX.
Targets: 90 days < 1 s, one year < 3 s.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from mesdesk.data.synthetic import SyntheticConfig, generate_bars
from mesdesk.data.vix import synthetic_vix
from mesdesk.setups.measured_move_scan import ScanConfig, scan_bars


def bench(days: int, repeat: int) -> None:
    first = date(2025, 1, 2)
    bars = generate_bars(first, first + timedelta(days=days), SyntheticConfig(seed=7))
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
