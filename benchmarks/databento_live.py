"""The live Databento source against the local fake gateway: initial replay and `bars()` latency.

A day of 1-minute MES bars (1,380, the Globex day) sits on the fake gateway's tape; the source
connects through the official SDK, replays them (intraday replay, ``start=``), then answers
`bars()` the way the runner polls it (the last 7 days, every 5 s). Prints how long the replay took
to be held, and the median and worst `bars()` call, from the cache and after a new bar.

    python benchmarks/databento_live.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake gateway lives with the tests

from tests.providers.databento_gateway import FakeGateway, TapeBar, ns  # noqa: E402

from mesdesk.data.databento_live import DatabentoLiveSource, LiveConfig  # noqa: E402
from mesdesk.timeframes import Timeframe  # noqa: E402

KEY = "db-BenchmarkKey0123456789abcXYZ9"
START = datetime(2026, 3, 9, 22, 0, tzinfo=UTC)  # 17:00 CT: a Globex day of 23 h follows
BARS = 23 * 60


def tape_bar(i: int) -> TapeBar:
    price = 5000.0 + (i % 40) * 0.25
    return TapeBar("ohlcv-1m", 42, ns(START + timedelta(minutes=i)), price, price + 0.5, price - 0.5, price, 100)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    gateway = FakeGateway(KEY).start()
    gateway.instruments[42] = "MESH6"
    for i in range(BARS):
        gateway.publish(tape_bar(i), live=False)
    now = pd.Timestamp(START + timedelta(minutes=BARS, seconds=1))
    clock = {"now": now}
    day = timedelta(hours=24)
    cfg = LiveConfig(gateway="127.0.0.1", port=gateway.port, replay_window=day, initial_replay=day)
    source = DatabentoLiveSource.from_key(KEY, cfg, now=lambda: clock["now"])
    t0 = time.perf_counter()
    source.start()
    while source.status().bars < BARS:
        time.sleep(0.001)
    replay_s = time.perf_counter() - t0

    def poll() -> float:
        t = time.perf_counter()
        frame = source.bars("MES.c.0", Timeframe.M1, clock["now"] - timedelta(days=7), clock["now"])
        assert len(frame) >= BARS
        return time.perf_counter() - t

    cached = [poll() for _ in range(args.repeat)]
    rebuilt = []
    for i in range(args.repeat):
        clock["now"] += timedelta(minutes=1)
        gateway.publish(tape_bar(BARS + i))
        while source.status().bars < BARS + i + 1:
            time.sleep(0.001)
        rebuilt.append(poll())
    source.stop()
    gateway.close()
    ms = 1000.0
    print(f"initial replay of {BARS} bars held in {replay_s * ms:.0f} ms ({BARS / replay_s:,.0f} bars/s)")
    print(f"bars() from the cache: median {statistics.median(cached) * ms:.2f} ms, worst {max(cached) * ms:.2f} ms")
    print(f"bars() after a new bar: median {statistics.median(rebuilt) * ms:.2f} ms, worst {max(rebuilt) * ms:.2f} ms")


if __name__ == "__main__":
    main()
