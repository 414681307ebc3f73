"""Sweep speed of `mesdesk optimize` (the speed-and-scale issue, target 2): a first version, mesdesk only.

    python benchmarks/optimize.py [--configs 1000] [--days 250] [--out DIR]

Runs, in a fresh process, the whole `mesdesk optimize` pipeline on synthetic 1m bars (250 trading
days: about 350,000 bars): a grid of bracket x prefilter threshold x limits configurations (the first
`--configs` of a 1,000-configuration grid), walk-forward with the automatic windows, CSCV over 10
groups, DSR, and the outputs written to a temporary folder. Prints the whole-process seconds
(interpreter start to exit), the peak RSS and configuration-bars per second.

Not measured yet: the peers (backtesting.py's `Backtest.optimize`, vectorbt's parameter grid), so the
two ratios print as null. Nothing here is a test; run it on demand.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# 10 x 5 x 4 x 5 = 1,000 configurations; the first parameter varies slowest.
GRID = (
    ("bracket.tp_pts", ["0.75", "1", "1.25", "1.5", "1.75", "2", "2.25", "2.5", "2.75", "3"]),
    ("bracket.sl_pts", ["0.5", "0.75", "1", "1.25", "1.5"]),
    ("limits.max_trades", ["2", "4", "6", "8"]),
    ("prefilter.threshold", ["60", "65", "70", "75", "80"]),
)

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from mesdesk.services.optimize import OptimizeRequest, run_optimize_job
req = OptimizeRequest(days=int(sys.argv[1]), params=tuple(sys.argv[3:]), out=__import__("pathlib").Path(sys.argv[2]),
                      min_trades=10)
report = run_optimize_job(req)
print(json.dumps({"configs": report.summary["trials"], "bars": report.bars, "sweep_s": report.result.seconds,
                  "in_process_s": time.perf_counter() - t0, "pbo": report.summary["pbo"],
                  "dsr": report.summary["deflated_sharpe"]["value"]}))
"""


def grid_args(configs: int) -> list[str]:
    """`--param` texts whose grid has `configs` configurations (a prefix of the 1,000 grid, per axis)."""
    sizes = [len(v) for _, v in GRID]
    keep = list(sizes)
    total = 1
    for s in sizes:
        total *= s
    # Shrink the slowest axes first until the grid fits.
    for i in range(len(keep)):
        while keep[i] > 1 and total > configs:
            total = total // keep[i] * (keep[i] - 1)
            keep[i] -= 1
    return [f"{name}={','.join(values[:k])}" for (name, values), k in zip(GRID, keep, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--days", type=int, default=250)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    params = grid_args(args.configs)
    out = args.out or Path(tempfile.mkdtemp(prefix="mesdesk-bench-optimize-"))
    env_path = str(ROOT / "src")
    start = time.perf_counter()
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(args.days), str(out / "sweep"), *params],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    whole = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    result = {
        "configs": figures["configs"],
        "bars": figures["bars"],
        "days": args.days,
        "grid": params,
        "whole_process_s": round(whole, 2),
        "cpu_s": round(cpu, 2),
        "sweep_s": round(figures["sweep_s"], 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "config_bars_per_s": round(figures["configs"] * figures["bars"] / whole),
        "ratio_vs_backtesting_optimize": None,
        "ratio_vs_vectorbt_grid": None,
        "pbo": figures["pbo"],
        "dsr": figures["dsr"],
    }
    print(
        f"{result['configs']} configurations x {result['bars']:,} bars: {whole:.1f} s whole process, "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
