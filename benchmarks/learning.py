"""Fingerprint lookup + hard-negative check per candidate with 100k stored outcomes.

Run: python benchmarks/learning.py [--outcomes 100000] [--queries 5000]
Prints microseconds per assessment (target: well under 1 ms).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from mesdesk.learn.memory import LearningMemory
from mesdesk.outcome import Outcome

SETUPS = ("ORB_retest_go", "EMA20_pullback", "VWAP_rejection")


def features(rng: np.random.Generator) -> dict[str, float]:
    return {
        "prefilter_score": float(rng.uniform(50, 100)),
        "volume_multiple": float(rng.lognormal(0, 0.5)),
        "atr_5m": float(rng.uniform(1, 6)),
        "ref_entry": 6600.0,
        "dist_vwap_atr": float(rng.normal(0, 1)),
        "dist_ema_atr": float(rng.normal(0, 1)),
        "minutes_since_open": float(rng.uniform(0, 390)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outcomes", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=5_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    t0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    mem = LearningMemory()
    start = time.perf_counter()
    for i in range(args.outcomes):
        at = t0 + timedelta(minutes=i)
        mem.add(
            Outcome(
                key=f"o{i}",
                setup=SETUPS[i % 3],
                direction="long" if i % 2 else "short",
                session="rth_a" if i % 4 < 2 else "rth_b",
                decided_at=at,
                resolved_at=at + timedelta(minutes=5),
                pnl_pts=float(rng.choice([1.0, -1.0])),
                counterfactual=bool(i % 3),
                features=features(rng),
            )
        )
    now = t0 + timedelta(minutes=args.outcomes + 10)
    mem.advance(now)
    build_s = time.perf_counter() - start
    queries = [features(rng) for _ in range(args.queries)]
    start = time.perf_counter()
    vetoes = 0
    for j, q in enumerate(queries):
        a = mem.assess(now, SETUPS[j % 3], "long", "rth_a", q)
        vetoes += a.veto
    per_us = (time.perf_counter() - start) / args.queries * 1e6
    print(f"stored outcomes        {mem.resolved_count:>10,}")
    print(f"fingerprints           {len(mem.fingerprints()):>10,}")
    print(f"add + absorb (s)       {build_s:>10.2f}")
    print(f"assess per candidate   {per_us:>10.1f} us   (target < 1000 us)")
    print(f"vetoes in sample       {vetoes:>10,}")


if __name__ == "__main__":
    main()
