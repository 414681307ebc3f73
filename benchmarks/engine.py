"""Full-pipeline speed of the scalper engine against backtesting.py, on the same 1,000,000 1m bars.

    python benchmarks/engine.py [--bars 1000000] [--skip-reference]

Builds a tick-rounded random walk of 1-minute bars over Globex hours (weekdays, no 16:00-17:00 CT
break), saves it, then runs in fresh processes:

1. mesdesk: indicators, setups, prefilter (`detect_candidates`), the rule decider, execution with the
   seed's bracket and limits, and the journal (built and written as Parquet): bars/s, whole-process
   seconds (interpreter start to exit), peak RSS;
2. backtesting.py (pip-installed into its own venv, $TMPDIR/mesdesk-bench-venv): EMA-20 cross entries,
   TP +1.25 / SL -0.75,
   no breakeven or trail, on the same bars: bars/s of `Backtest.run`.

Prints the figures and the ratio. Nothing here is a test; run it on demand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("MESDESK_BENCH_VENV", Path(tempfile.gettempdir()) / "mesdesk-bench-venv"))


def make_bars(n: int, seed: int = 11) -> dict[str, np.ndarray]:
    """`n` 1m bars, Globex hours only, a random walk on the 0.25 tick with wicks."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    minutes = pd.date_range("2021-01-04 00:00", periods=int(n * 1.5) + 20000, freq="1min", tz="America/Chicago")
    wall = minutes.hour * 60 + minutes.minute
    weekday = minutes.day_of_week
    # Sunday 17:00 to Friday 16:00, no 16:00-17:00 break.
    open_ = ((weekday < 4) | ((weekday == 4) & (wall < 960)) | ((weekday == 6) & (wall >= 1020))) & ~(
        (wall >= 960) & (wall < 1020)
    )
    ts = minutes[open_][:n].tz_convert("UTC")
    steps = np.round(rng.standard_t(4, n) * 0.35 * 4) / 4
    close = 4000.0 + np.cumsum(steps)
    o = np.r_[4000.0, close[:-1]]
    wick = np.round(np.abs(rng.normal(0, 0.3, (2, n))) * 4) / 4
    return {
        "ts_ns": np.asarray(ts.as_unit("ns").asi8, dtype=np.int64),
        "open": o,
        "high": np.maximum(o, close) + wick[0],
        "low": np.minimum(o, close) - wick[1],
        "close": close,
        "volume": rng.integers(50, 2000, n).astype(np.int64),
    }


def child_mesdesk(npz: str) -> None:
    """The pipeline, timed from the start of this process."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    import pandas as pd

    from mesdesk.decide.rules import RuleDecider
    from mesdesk.engine import EngineConfig, run_backtest, write_journal
    from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates
    from mesdesk.timeframes import Timeframe

    data = np.load(npz)
    idx = pd.DatetimeIndex(pd.to_datetime(data["ts_ns"], unit="ns", utc=True), name="ts")
    bars = pd.DataFrame({k: data[k] for k in ("open", "high", "low", "close", "volume")}, index=idx)
    t_loaded, c_loaded = time.perf_counter(), time.process_time()
    candidates = detect_candidates(bars, ScalperSetupsConfig(), Timeframe.M1)
    t_setups, c_setups = time.perf_counter(), time.process_time()
    result = run_backtest(bars, candidates, RuleDecider(), EngineConfig(), bar_span=pd.Timedelta("1min"))
    t_engine, c_engine = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        write_journal(result.journal, Path(tmp), formats=("parquet",))
    t_end, c_end = time.perf_counter(), time.process_time()
    print(
        json.dumps(
            {
                "bars": len(bars),
                "candidates": len(candidates),
                "trades": len(result.trades),
                "import_load_s": t_loaded - t0,
                "setups_s": t_setups - t_loaded,
                "engine_s": t_engine - t_setups,
                "journal_write_s": t_end - t_engine,
                "pipeline_s": t_end - t_loaded,
                "cpu_import_load_s": c_loaded - c0,
                "cpu_setups_s": c_setups - c_loaded,
                "cpu_engine_s": c_engine - c_setups,
                "cpu_journal_write_s": c_end - c_engine,
                "cpu_pipeline_s": c_end - c_loaded,
            }
        )
    )


REFERENCE = r"""
import json, sys, time
import numpy as np, pandas as pd
from backtesting import Backtest, Strategy

def ema(values, n):
    return pd.Series(values).ewm(span=n, adjust=False).mean().to_numpy()

class EmaCross(Strategy):
    def init(self):
        self.ema = self.I(ema, self.data.Close, 20)
    def next(self):
        c, e = self.data.Close, self.ema
        if self.position:
            return
        if c[-2] <= e[-2] and c[-1] > e[-1]:
            self.buy(size=1, tp=c[-1] + 1.25, sl=c[-1] - 0.75)
        elif c[-2] >= e[-2] and c[-1] < e[-1]:
            self.sell(size=1, tp=c[-1] - 1.25, sl=c[-1] + 0.75)

d = np.load(sys.argv[1])
idx = pd.to_datetime(d["ts_ns"], utc=True).tz_localize(None)
df = pd.DataFrame({"Open": d["open"], "High": d["high"], "Low": d["low"], "Close": d["close"],
                   "Volume": d["volume"]}, index=idx)
bt = Backtest(df, EmaCross, cash=1_000_000, commission=0.0, trade_on_close=False, finalize_trades=True)
t, c = time.perf_counter(), time.process_time()
stats = bt.run()
dt, dc = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"bars": len(df), "seconds": dt, "cpu_seconds": dc, "trades": int(stats["# Trades"])}))
"""


def ensure_reference_venv() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import backtesting"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "backtesting"], check=True)
    return py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_mesdesk(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        npz = str(Path(tmp) / "bars.npz")
        np.savez(npz, **make_bars(args.bars))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", npz], check=True, capture_output=True, text=True, env=env
        )
        whole = time.perf_counter() - t
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss_mb = usage.ru_maxrss / 1024
        cpu = (usage.ru_utime + usage.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        ours = figures["bars"] / figures["pipeline_s"]
        ours_cpu = figures["bars"] / figures["cpu_pipeline_s"]
        print(
            f"mesdesk full pipeline: {figures['bars']:,} bars, {figures['candidates']:,} candidates, "
            f"{figures['trades']:,} trades"
        )
        print(
            f"  setups+prefilter {figures['setups_s']:.2f} s, engine+decider {figures['engine_s']:.2f} s, "
            f"journal write {figures['journal_write_s']:.2f} s, imports+load {figures['import_load_s']:.2f} s"
        )
        print(
            f"  CPU: setups+prefilter {figures['cpu_setups_s']:.2f} s, engine+decider {figures['cpu_engine_s']:.2f} s, "
            f"journal write {figures['cpu_journal_write_s']:.2f} s, imports+load {figures['cpu_import_load_s']:.2f} s"
        )
        print(f"  pipeline bars/s: {ours:,.0f} (wall), {ours_cpu:,.0f} (CPU time)")
        print(f"  whole process: {whole:.2f} s wall, {cpu:.2f} s CPU (user+sys); peak RSS: {rss_mb:,.0f} MB")
        if args.skip_reference:
            return
        py = ensure_reference_venv()
        ref_path = Path(tmp) / "reference.py"
        ref_path.write_text(REFERENCE)
        ref = subprocess.run([str(py), str(ref_path), npz], check=True, capture_output=True, text=True)
        rf = json.loads(ref.stdout.strip().splitlines()[-1])
        theirs = rf["bars"] / rf["seconds"]
        theirs_cpu = rf["bars"] / rf["cpu_seconds"]
        print(
            f"backtesting.py EMA-20 cross, TP 1.25 / SL 0.75: {rf['seconds']:.2f} s wall, "
            f"{rf['cpu_seconds']:.2f} s CPU; {theirs:,.0f} bars/s (wall), {theirs_cpu:,.0f} (CPU); "
            f"{rf['trades']:,} trades"
        )
        print(
            f"ratio (mesdesk full pipeline / backtesting.py simple strategy): {ours / theirs:.1f}x wall, "
            f"{ours_cpu / theirs_cpu:.1f}x CPU time"
        )


if __name__ == "__main__":
    main()
