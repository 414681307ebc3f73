"""Per-bar cost of the paper runner: candidates, engine, journal and the fenced commit, on SQLite.

Replays synthetic 2025-09-16 from 08:25 CT as fast as possible through the real wiring (rule
decider) and prints milliseconds per processed bar and the bars/s a replay can reach.

    python benchmarks/runner_steps.py [--bars 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import time as ct_time

from mesdesk.config import load_settings
from mesdesk.services.paper import RunnerOptions, build_runner, open_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            MESDESK_DATABASE_URL=f"sqlite:///{tmp}/steps.sqlite", OPENAI_API_KEY="", ANTHROPIC_API_KEY=""
        )
        store = open_store(settings)
        service = build_runner(settings, RunnerOptions(replay_from_ct=ct_time(8, 25), speed=0), store)
        service.run_once()  # lease, first bar (includes the night's bars in one engine call)
        start = time.perf_counter()
        for _ in range(args.bars):
            service.run_once()
        elapsed = time.perf_counter() - start
        trades = len(store.trades(service.config.name))
        store.engine.dispose()
    per_bar_ms = elapsed / args.bars * 1000
    print(f"{args.bars} bars in {elapsed:.2f} s: {per_bar_ms:.1f} ms per bar, {1000 / per_bar_ms:.0f} bars/s")
    print(f"trades written: {trades}")


if __name__ == "__main__":
    main()
