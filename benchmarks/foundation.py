"""Foundation speed and memory: one year of 1-minute bars through load, validation, resampling, indicators.

Usage: python benchmarks/foundation.py [--year 2025] [--repeat 3]

Writes one synthetic year (~350k bars) as Parquet and as CSV (UTC ISO timestamps) into a temporary
folder, then measures each step in a fresh subprocess so that peak RSS (resource.getrusage) belongs to
that step alone: load + validate + resample to 5m/15m/1h/4h/1d from each file, and every indicator.
If polars is importable, the same load and 5m/15m/1h resampling is timed with it for comparison.
Targets (from the foundation issue): load + validate + resample well under 1 s and under 300 MB peak
RSS; all indicators under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def _rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux keeps `ru_maxrss` across fork and exec (a child would report its parent's peak), so the
    per-address-space high-water mark VmHWM is read first; getrusage is the fallback elsewhere.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux units: kilobytes


def child_load(path: str, repeat: int) -> dict[str, Any]:
    import pandas as pd

    from mesdesk.data.files import load_bars
    from mesdesk.data.resample import resample
    from mesdesk.timeframes import SCAN_TIMEFRAMES

    base = _rss_mb()
    best_load = best_total = float("inf")
    rows = 0
    first_peak = 0.0
    for i in range(repeat):
        t0 = time.perf_counter()
        bars = load_bars(path)
        t1 = time.perf_counter()
        for tf in SCAN_TIMEFRAMES:
            resample(bars, tf, source_span=pd.Timedelta(minutes=1))
        t2 = time.perf_counter()
        best_load, best_total = min(best_load, t1 - t0), min(best_total, t2 - t0)
        rows = len(bars)
        if i == 0:
            first_peak = _rss_mb()
        del bars
    return {
        "rows": rows,
        "load+validate s": best_load,
        "load+validate+resample(5) s": best_total,
        "rss after imports MB": base,
        "peak rss 1st pass MB": first_peak,
        "peak rss all passes MB": _rss_mb(),
    }


def child_indicators(path: str, repeat: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from mesdesk.calendar import minutes_of_ct_day, trading_days
    from mesdesk.data.files import load_bars
    from mesdesk.data.resample import bin_close_ns, resample
    from mesdesk.indicators import align_asof, atr, ema, opening_range, pivots, session_vwap, volume_multiple
    from mesdesk.timeframes import Timeframe

    bars = load_bars(path)
    base = _rss_mb()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        idx = pd.DatetimeIndex(bars.index)
        h, lo, c, v = (bars[k].to_numpy() for k in ("high", "low", "close", "volume"))
        days = trading_days(idx).astype(np.int64)
        minutes = minutes_of_ct_day(idx)
        rth = (minutes >= 510) & (minutes < 900)
        ema(c, 20)
        ema(c, 9)
        atr(h, lo, c, 14)
        session_vwap(h, lo, c, v, days)
        session_vwap(h, lo, c, v, np.where(rth, days, -days))
        volume_multiple(v, days - days.min(), (minutes - 1020) % 1440, lookback_days=20)
        opening_range(h, lo, days, (minutes >= 510) & (minutes < 525), (minutes >= 524) & (minutes < 960))
        five = resample(bars, Timeframe.M5, source_span=pd.Timedelta(minutes=1))
        atr5 = atr(five["high"], five["low"], five["close"], 14)
        align_asof(bin_close_ns(pd.DatetimeIndex(five.index), Timeframe.M5), atr5, idx.as_unit("ns").asi8 + 60 * 10**9)
        pivots(h, lo, 5)
        pivots(five["high"].to_numpy(), five["low"].to_numpy(), 3)
        best = min(best, time.perf_counter() - t0)
    return {"rows": len(bars), "all indicators s": best, "rss before MB": base, "peak rss MB": _rss_mb()}


def child_polars(path: str, repeat: int) -> dict[str, Any]:
    import polars as pl

    base = _rss_mb()
    best_load = best_total = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        if path.endswith(".csv"):
            frame = pl.read_csv(path).with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
        else:
            frame = pl.read_parquet(path)
        frame = frame.sort("ts")
        bad = frame.filter((pl.col("high") < pl.col("low")) | pl.col("close").is_nan() | (pl.col("volume") < 0))
        assert bad.height == 0
        assert frame["ts"].is_unique().all()
        t1 = time.perf_counter()
        for every in ("5m", "15m", "1h"):
            frame.group_by_dynamic("ts", every=every).agg(
                pl.col("open").first(),
                pl.col("high").max(),
                pl.col("low").min(),
                pl.col("close").last(),
                pl.col("volume").sum(),
            )
        t2 = time.perf_counter()
        best_load, best_total = min(best_load, t1 - t0), min(best_total, t2 - t0)
    return {
        "rows": frame.height,
        "load+validate s": best_load,
        "load+validate+resample(3, clock bins only) s": best_total,
        "rss after imports MB": base,
        "peak rss MB": _rss_mb(),
    }


def child_write(folder: str, year: int) -> dict[str, Any]:
    from mesdesk.data.synthetic import generate_bars

    t0 = time.perf_counter()
    bars = generate_bars(date(year, 1, 1), date(year, 12, 31))
    gen_s = time.perf_counter() - t0
    bars.to_parquet(Path(folder) / "year.parquet")
    out = bars.reset_index()
    out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(Path(folder) / "year.csv", index=False)
    return {"rows": len(bars), "generate s": gen_s}


def run_child(kind: str, path: Path, repeat: int, extra_path: str | None = None, year: int = 2025) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE), "--child", kind, str(path), "--repeat", str(repeat), "--year", str(year)]
    env = None
    if extra_path:
        import os

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), extra_path]))}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--polars-path", default=None, help="extra folder on PYTHONPATH holding polars")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    args = parser.parse_args(argv)
    if args.child:
        kind, path = args.child
        if kind == "write":
            print(json.dumps(child_write(path, args.year)))
            return 0
        fn = {"load": child_load, "indicators": child_indicators, "polars": child_polars}[kind]
        print(json.dumps(fn(path, args.repeat)))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        parquet, csv = Path(tmp) / "year.parquet", Path(tmp) / "year.csv"
        written = run_child("write", Path(tmp), args.repeat, year=args.year)
        print(
            f"synthetic year {args.year}: {written['rows']:,} one-minute bars "
            f"generated in {written['generate s']:.3f} s; "
            f"parquet {parquet.stat().st_size / 1e6:.1f} MB, csv {csv.stat().st_size / 1e6:.1f} MB"
        )
        results = {
            "pandas parquet": run_child("load", parquet, args.repeat),
            "pandas csv": run_child("load", csv, args.repeat),
            "indicators": run_child("indicators", parquet, args.repeat),
        }
        try:
            for label, path in (("polars parquet", parquet), ("polars csv", csv)):
                results[label] = run_child("polars", path, args.repeat, args.polars_path)
        except subprocess.CalledProcessError as exc:
            print(f"(polars comparison skipped: {exc.stderr.strip().splitlines()[-1]})")
    for label, figures in results.items():
        shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in figures.items())
        print(f"{label:16s} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
