"""Sweep speed of `mesdesk optimize` against backtesting.py's and vectorbt's optimizers (speed-and-scale, target 2).

    python benchmarks/optimize.py [--configs 1000] [--days 250] [--executor local] [--workers N] [--skip-peers]

1. mesdesk, in a fresh process: the whole `mesdesk optimize` pipeline (`run_optimize_job`) on synthetic
   1m bars (250 trading days: about 350,000 bars): a grid of bracket x prefilter threshold x limits
   configurations (the first `--configs` of a 1,000-configuration grid, see `grid_args`), the full
   pipeline per configuration (setups and prefilter once, then decider, bracket with breakeven and
   trail, daily limits, stop-first and target-first fills), walk-forward with the automatic windows,
   CSCV over 10 groups, DSR, and every output file written. Measured: the whole process (interpreter
   start to exit), CPU time (workers included), the driver's and the largest worker's peak RSS
   (`peak_rss_all_mb`: driver + workers x largest, an upper bound), configuration-bars per second
   (configurations x bars / whole-process seconds).
2. backtesting.py (pip-installed into its own venv, $TMPDIR/mesdesk-bench-venv, as benchmarks/engine.py
   does): `Backtest.optimize` of the EMA-20 cross strategy with a TP/SL bracket in points, a 4 x 4 grid
   (16 points), on the same bars (written by mesdesk's own loader). Timed: the `optimize` call alone.
3. vectorbt (its own venv, $TMPDIR/mesdesk-bench-vectorbt-venv): `Portfolio.from_signals` of the same
   EMA-20 cross entries (long and short) with a 10 x 10 grid of `tp_stop` x `sl_stop` (100 columns), on
   the same bars, stops as a fraction of the median close (vectorbt's stops are fractions). Numba is
   warmed on 1,000 bars first; timed: the grid call alone (signals, portfolio, total return per column).

The peers' figures exclude their interpreter start, imports and data loading; mesdesk's include
everything, validation and files. Ratios are configuration-bars per second, same bars, same run.
Prints the figures, then one JSON line. Nothing here is a test; run it on demand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TMP = Path(tempfile.gettempdir())
BT_VENV = Path(os.environ.get("MESDESK_BENCH_VENV", TMP / "mesdesk-bench-venv"))
VBT_VENV = Path(os.environ.get("MESDESK_BENCH_VBT_VENV", TMP / "mesdesk-bench-vectorbt-venv"))
SEED = 7

# 10 x 5 x 4 x 5 = 1,000 configurations; the first parameter varies slowest.
GRID = (
    ("bracket.tp_pts", ["0.75", "1", "1.25", "1.5", "1.75", "2", "2.25", "2.5", "2.75", "3"]),
    ("bracket.sl_pts", ["0.5", "0.75", "1", "1.25", "1.5"]),
    ("limits.max_trades", ["2", "4", "6", "8"]),
    ("prefilter.threshold", ["60", "65", "70", "75", "80"]),
)

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
from mesdesk.services.optimize import OptimizeRequest, run_optimize_job
days, out, executor, workers = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]) or None
req = OptimizeRequest(days=days, seed=__SEED__, params=tuple(sys.argv[5:]), out=out, min_trades=10, executor=executor,
                      workers=workers)
report = run_optimize_job(req)
print(json.dumps({"configs": report.summary["trials"], "bars": report.bars, "sweep_s": report.result.seconds,
                  "in_process_s": time.perf_counter() - t0, "pbo": report.summary["pbo"],
                  "detections": report.result.detections,
                  "dsr": report.summary["deflated_sharpe"]["value"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
""".replace("__SEED__", str(SEED))

WRITE_BARS = """
import sys
import numpy as np
from mesdesk.config import load_settings
from mesdesk.services.backtest import BacktestRequest, load_path_bars
from mesdesk.timeframes import Timeframe
bars = load_path_bars(BacktestRequest(days=int(sys.argv[1]), seed=__SEED__), load_settings(), Timeframe.M1)
np.savez(sys.argv[2], ts_ns=bars.index.as_unit("ns").asi8, open=bars["open"].to_numpy(float),
         high=bars["high"].to_numpy(float), low=bars["low"].to_numpy(float), close=bars["close"].to_numpy(float),
         volume=bars["volume"].to_numpy(float))
""".replace("__SEED__", str(SEED))

BACKTESTING = r"""
import json, sys, time
import numpy as np, pandas as pd
from backtesting import Backtest, Strategy

def ema(values, n):
    return pd.Series(values).ewm(span=n, adjust=False).mean().to_numpy()

class EmaCross(Strategy):
    tp = 1.25
    sl = 0.75
    def init(self):
        self.ema = self.I(ema, self.data.Close, 20)
    def next(self):
        c, e = self.data.Close, self.ema
        if self.position:
            return
        if c[-2] <= e[-2] and c[-1] > e[-1]:
            self.buy(size=1, tp=c[-1] + self.tp, sl=c[-1] - self.sl)
        elif c[-2] >= e[-2] and c[-1] < e[-1]:
            self.sell(size=1, tp=c[-1] - self.tp, sl=c[-1] + self.sl)

if __name__ == "__main__":
    d = np.load(sys.argv[1])
    idx = pd.to_datetime(d["ts_ns"], utc=True).tz_localize(None)
    df = pd.DataFrame({"Open": d["open"], "High": d["high"], "Low": d["low"], "Close": d["close"],
                       "Volume": d["volume"]}, index=idx)
    bt = Backtest(df, EmaCross, cash=1_000_000, commission=0.0, trade_on_close=False, finalize_trades=True)
    t = time.perf_counter()
    stats = bt.optimize(tp=[0.75, 1.25, 1.75, 2.25], sl=[0.5, 0.75, 1.0, 1.25], maximize="Equity Final [$]")
    dt = time.perf_counter() - t
    print(json.dumps({"bars": len(df), "points": 16, "seconds": dt, "best_trades": int(stats["# Trades"])}))
"""

VECTORBT = r"""
import json, sys, time
import numpy as np, pandas as pd
import vectorbt as vbt

def grid(close, high, low, open_, tp_pts, sl_pts):
    ema = close.ewm(span=20, adjust=False).mean()
    pc, pe = close.shift(1), ema.shift(1)
    long_in = ((pc <= pe) & (close > ema)).to_numpy()
    short_in = ((pc >= pe) & (close < ema)).to_numpy()
    scale = float(np.median(close.to_numpy()))
    tp = np.repeat(tp_pts, sl_pts.size)[None, :] / scale
    sl = np.tile(sl_pts, tp_pts.size)[None, :] / scale
    cols = tp.shape[1]
    pf = vbt.Portfolio.from_signals(
        pd.DataFrame(np.repeat(close.to_numpy()[:, None], cols, axis=1), index=close.index),
        entries=np.repeat(long_in[:, None], cols, axis=1), short_entries=np.repeat(short_in[:, None], cols, axis=1),
        open=open_.to_numpy()[:, None], high=high.to_numpy()[:, None], low=low.to_numpy()[:, None],
        tp_stop=tp, sl_stop=sl, size=1.0, init_cash=1_000_000.0, freq="1min")
    return pf.total_return().to_numpy()

if __name__ == "__main__":
    d = np.load(sys.argv[1])
    idx = pd.to_datetime(d["ts_ns"], utc=True)
    close, high, low, open_ = (pd.Series(d[k], index=idx) for k in ("close", "high", "low", "open"))
    tp_pts, sl_pts = np.linspace(0.75, 3.0, 10), np.linspace(0.5, 1.625, 10)
    t = time.perf_counter()
    grid(close[:1000], high[:1000], low[:1000], open_[:1000], tp_pts, sl_pts)  # numba compile
    warm = time.perf_counter() - t
    t = time.perf_counter()
    returns = grid(close, high, low, open_, tp_pts, sl_pts)
    dt = time.perf_counter() - t
    print(json.dumps({"bars": len(close), "points": int(returns.size), "seconds": dt, "warmup_s": warm}))
"""


def grid_args(configs: int) -> list[str]:
    """`--param` texts whose grid has at most `configs` configurations (a prefix of the 1,000 grid, per axis)."""
    keep = [len(v) for _, v in GRID]
    total = 1
    for k in keep:
        total *= k
    for i in range(len(keep)):  # shrink the slowest axes first until the grid fits
        while keep[i] > 1 and total > configs:
            total = total // keep[i] * (keep[i] - 1)
            keep[i] -= 1
    return [f"{name}={','.join(values[:k])}" for (name, values), k in zip(GRID, keep, strict=True)]


def ensure_venv(venv: Path, module: str, package: str) -> Path:
    """A venv of its own holding `package` (created and installed on first use)."""
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(py), "-c", f"import {module}"], capture_output=True).returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", package], check=True)
    return py


def run_peer(py: Path, source: str, npz: Path, tmp: Path, name: str) -> dict[str, float]:
    script = tmp / f"{name}.py"
    script.write_text(source)
    done = subprocess.run([str(py), str(script), str(npz)], check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--days", type=int, default=250)
    ap.add_argument("--executor", default="local")
    ap.add_argument("--workers", type=int, default=0, help="local worker processes (default 0: every CPU)")
    ap.add_argument("--skip-peers", action="store_true")
    args = ap.parse_args()
    params = grid_args(args.configs)
    tmp = Path(tempfile.mkdtemp(prefix="mesdesk-bench-optimize-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    load = os.getloadavg()
    start = time.perf_counter()
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(args.days), str(tmp / "sweep"), args.executor, str(args.workers), *params],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    whole = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mesdesk sweep failed: {done.stderr.strip().splitlines()[-1:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
    ours = json.loads(done.stdout.strip().splitlines()[-1])
    ours_rate = ours["configs"] * ours["bars"] / whole
    result: dict[str, object] = {
        "configs": ours["configs"],
        "bars": ours["bars"],
        "days": args.days,
        "executor": args.executor,
        "grid": params,
        "whole_process_s": round(whole, 2),
        "cpu_s": round(cpu, 2),
        "sweep_s": round(ours["sweep_s"], 2),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "workers": args.workers or os.cpu_count(),
        "worker_peak_rss_mb": round(ours["worker_peak_rss_mb"], 1),
        # an upper bound on the memory of all processes at once: driver + every worker at its peak
        "peak_rss_all_mb": round(
            ours["peak_rss_mb"] + (args.workers or os.cpu_count() or 1) * ours["worker_peak_rss_mb"], 1
        ),
        "config_bars_per_s": round(ours_rate),
        "candidate_detections": ours["detections"],
        "ratio_vs_backtesting_optimize": None,
        "ratio_vs_vectorbt_grid": None,
        "pbo": ours["pbo"],
        "dsr": ours["dsr"],
        "load_avg_1m_at_start": round(load[0], 2),
    }
    print(
        f"mesdesk optimize: {ours['configs']} configurations x {ours['bars']:,} bars, walk-forward + CSCV + DSR, "
        f"outputs written: {whole:.1f} s whole process ({cpu:.1f} s CPU, sweep {ours['sweep_s']:.1f} s), "
        f"peak RSS {ours['peak_rss_mb']:.0f} MB (driver) + {ours['worker_peak_rss_mb']:.0f} MB per worker at most, "
        f"{ours_rate:,.0f} configuration-bars/s"
    )
    if not args.skip_peers:
        npz = tmp / "bars.npz"
        subprocess.run([sys.executable, "-c", WRITE_BARS, str(args.days), str(npz)], check=True, env=env)
        bt = run_peer(ensure_venv(BT_VENV, "backtesting", "backtesting"), BACKTESTING, npz, tmp, "bt_optimize")
        vbt = run_peer(ensure_venv(VBT_VENV, "vectorbt", "vectorbt"), VECTORBT, npz, tmp, "vbt_grid")
        for peer in (bt, vbt):
            if peer["bars"] != ours["bars"]:
                raise SystemExit(f"peer saw {peer['bars']} bars, mesdesk {ours['bars']}: not the same bars")
        bt_rate = bt["points"] * bt["bars"] / bt["seconds"]
        vbt_rate = vbt["points"] * vbt["bars"] / vbt["seconds"]
        result.update(
            {
                "backtesting_optimize_s": round(bt["seconds"], 2),
                "backtesting_config_bars_per_s": round(bt_rate),
                "vectorbt_grid_s": round(vbt["seconds"], 2),
                "vectorbt_warmup_s": round(vbt["warmup_s"], 2),
                "vectorbt_config_bars_per_s": round(vbt_rate),
                "ratio_vs_backtesting_optimize": round(ours_rate / bt_rate, 2),
                "ratio_vs_vectorbt_grid": round(ours_rate / vbt_rate, 3),
            }
        )
        print(
            f"backtesting.py Backtest.optimize, EMA-20 cross, 16 points: {bt['seconds']:.1f} s, "
            f"{bt_rate:,.0f} configuration-bars/s; mesdesk / backtesting.py: {ours_rate / bt_rate:.2f}x"
        )
        print(
            f"vectorbt Portfolio.from_signals, 100 points: {vbt['seconds']:.1f} s (after {vbt['warmup_s']:.1f} s "
            f"numba warm-up), {vbt_rate:,.0f} configuration-bars/s; mesdesk / vectorbt: {ours_rate / vbt_rate:.3f}x"
        )
    print(f"load average at start: {load[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
