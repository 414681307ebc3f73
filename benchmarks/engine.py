"""Full-pipeline speed of the scalper engine against backtesting.py, on the same 1,000,000 1m bars.

    python benchmarks/engine.py [--bars 1000000] [--skip-reference]

Builds a tick-rounded random walk of 1-minute bars over Globex hours (weekdays, no 16:00-17:00 CT
break), saves it, then runs in fresh processes:

1. mesdesk: indicators, setups, prefilter (`detect_candidates`), the rule decider, execution with the
   seed's bracket (breakeven, trail) and limits, and the journal (built and written as Parquet):
   bars/s in wall and CPU time, with the compiled engine and again with MESDESK_ENGINE=reference;
   the imports are timed on their own, and so are the modules the pipeline imports on first use (the
   compiled loops' modules, pyarrow's Parquet writer: imported before the pipeline's clock starts, and
   their time printed beside it) and numba's start-up (once per process); loading each compiled loop
   from numba's cache stays in the pipeline. The least CPU of five fresh processes and their median,
   each of which then runs the pipeline twice more (the better of those: the pipeline "again", with
   every compiled loop and writer already loaded);
2. the whole `mesdesk backtest --source file` process on the same bars as a Parquet file: wall time
   with numba's cache cold (a fresh NUMBA_CACHE_DIR: the JIT runs) and warm, and with `--no-report`
   (the summary, trades and journal, no report.html), with the machine's load;
3. `python -X importtime` of that same `mesdesk backtest` run (every import it makes, numba's own on
   first use and the report's included): total import time, the heaviest modules, and the heavy
   libraries it loaded (none may be: scikit-learn, SciPy beyond numba's BLAS probe, matplotlib,
   SQLAlchemy, the LLM SDKs, Optuna, Ray, ...);
4. backtesting.py (pip-installed into its own venv, $TMPDIR/mesdesk-bench-venv): EMA-20 cross entries,
   TP +1.25 / SL -0.75, no breakeven or trail, on the same bars: bars/s of `Backtest.run`.

Prints the figures and the ratios, then one JSON line. Nothing here is a test; run it on demand.
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
    __import__("mesdesk")  # first, as the mesdesk command imports it: it picks Arrow's allocator (docs/engine.md)
    import pandas as pd

    from mesdesk.decide.rules import RuleDecider
    from mesdesk.engine import EngineConfig, run_backtest, write_journal
    from mesdesk.setups.scalper import ScalperSetupsConfig, detect_candidates
    from mesdesk.timeframes import Timeframe

    t_imported, c_imported = time.perf_counter(), time.process_time()
    from mesdesk.recursions import first_order

    first_order(np.zeros(1), 1.0, 0.0)  # numba's start-up: its registries and the cached machine code
    t_numba, c_numba = time.perf_counter(), time.process_time()
    # The modules the pipeline imports on first use (so that other commands do not load them): imports
    # like the rest, timed on their own (after numba's start-up, which their first import would pay) and
    # printed beside the pipeline's figure.
    import pyarrow.parquet  # noqa: F401  (pandas' to_parquet loads it)

    import mesdesk.engine.fast  # noqa: F401
    import mesdesk.engine.kernel  # noqa: F401
    import mesdesk.setups.context_pass  # noqa: F401
    import mesdesk.setups.scans  # noqa: F401

    t_lazy, c_lazy = time.perf_counter(), time.process_time()
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
    # The same pipeline again in this process (a sweep, a service or a notebook runs it many times): the
    # first run also pays loading each compiled loop from numba's cache and pyarrow's Parquet writer.
    again = []
    for _ in range(2):
        c_a = time.process_time()
        cands_again = detect_candidates(bars, ScalperSetupsConfig(), Timeframe.M1)
        c_b = time.process_time()
        res_again = run_backtest(bars, cands_again, RuleDecider(), EngineConfig(), bar_span=pd.Timedelta("1min"))
        c_c = time.process_time()
        with tempfile.TemporaryDirectory() as tmp:
            write_journal(res_again.journal, Path(tmp), formats=("parquet",))
        again.append((time.process_time() - c_a, c_b - c_a, c_c - c_b, time.process_time() - c_c))
    best = min(again)
    print(
        json.dumps(
            {
                "bars": len(bars),
                "candidates": len(candidates),
                "trades": len(result.trades),
                "import_s": t_imported - t0,
                "numba_init_s": t_numba - t_imported,
                "cpu_numba_init_s": c_numba - c_imported,
                "lazy_import_s": t_lazy - t_numba,
                "cpu_lazy_import_s": c_lazy - c_numba,
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
                "cpu_pipeline_again_s": best[0],
                "cpu_setups_again_s": best[1],
                "cpu_engine_again_s": best[2],
                "cpu_journal_write_again_s": best[3],
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


def run_child(npz: str, env: dict[str, str]) -> tuple[dict[str, float], float, float, float]:
    """The pipeline in a fresh process: its figures, whole wall seconds, CPU seconds and peak RSS (MB)."""
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", npz], check=True, capture_output=True, text=True, env=env
    )
    whole = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime + usage.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    return json.loads(out.stdout.strip().splitlines()[-1]), whole, cpu, usage.ru_maxrss / 1024


CLI = "import sys; from mesdesk.cli import run; sys.argv[0] = 'mesdesk'; run()"  # the console script


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - t


def whole_process(parquet: Path, tmp: Path, env: dict[str, str]) -> dict[str, float]:
    """`mesdesk backtest --source file` on the Parquet bars: numba cache cold, then warm; with `--no-report`."""
    cli = [sys.executable, "-c", CLI, "backtest", "--source", "file", "--file", str(parquet), "--out"]
    cold_env = {**env, "NUMBA_CACHE_DIR": str(tmp / "numba-cold")}
    cold = timed([*cli, str(tmp / "cli-cold")], cold_env)
    timed([*cli, str(tmp / "cli-warmup")], env)  # fills the package's own cache if it was empty
    warm = min(timed([*cli, str(tmp / f"cli-{k}")], env) for k in range(2))
    bare = min(timed([*cli, str(tmp / f"cli-bare-{k}"), "--no-report"], env) for k in range(2))
    return {"whole_process_cold_s": cold, "whole_process_s": warm, "whole_process_no_report_s": bare}


HEAVY = ("sklearn", "matplotlib", "sqlalchemy", "alembic", "openai", "anthropic", "httpx", "httpx2", "optuna", "ray")
HEAVY += ("fastapi", "uvicorn", "databento", "requests", "exchange_calendars", "autogluon", "torch")
NUMBA_SCIPY = ("linalg", "version")  # numba's BLAS probe imports scipy.linalg.cython_blas (and scipy's own _modules)


def _heavy(module: str) -> str | None:
    """The heavy library `module` belongs to (for SciPy: a subpackage beyond numba's probe), else None."""
    parts = module.split(".")
    if parts[0] in HEAVY:
        return parts[0]
    if parts[0] == "scipy" and len(parts) > 1 and parts[1] not in NUMBA_SCIPY and not parts[1].startswith("_"):
        return ".".join(parts[:2])
    return None


def import_time(parquet: Path, tmp: Path, env: dict[str, str]) -> tuple[float, list[tuple[str, float]], list[str]]:
    """`python -X importtime` of `mesdesk backtest` on the Parquet bars: seconds, heaviest imports, heavy ones."""
    cli = [sys.executable, "-X", "importtime", "-c", CLI, "backtest", "--source", "file", "--file", str(parquet)]
    out = subprocess.run(
        [*cli, "--out", str(tmp / "cli-importtime")], check=True, capture_output=True, text=True, env=env
    )
    top: list[tuple[str, float]] = []
    seen: list[str] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part for part in line[len("import time:") :].split("|"))
        heavy = _heavy(name.strip())
        if heavy is not None and heavy not in seen:
            seen.append(heavy)
        if len(name) - len(name.lstrip()) == 1:  # a top-level import (nested ones are indented further)
            top.append((name.strip(), int(cumulative) / 1e6))
    total = sum(t for _, t in top)
    return total, sorted(top, key=lambda x: -x[1])[:8], seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--skip-reference", action="store_true", help="skip backtesting.py")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_mesdesk(args.child)
        return
    load_start = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        npz = str(tmp / "bars.npz")
        bars = make_bars(args.bars)
        np.savez(npz, **bars)
        import pandas as pd

        index = pd.DatetimeIndex(pd.to_datetime(bars["ts_ns"], unit="ns", utc=True), name="ts")
        frame = pd.DataFrame({k: bars[k] for k in ("open", "high", "low", "close", "volume")}, index=index)
        parquet = tmp / "bars.parquet"
        frame.to_parquet(parquet)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        env.pop("MESDESK_ENGINE", None)
        run_child(npz, env)  # the package's numba cache is filled before anything is timed
        runs = [run_child(npz, env) for _ in range(5)]  # the least CPU of five fresh processes, and their median
        figures, whole, cpu, rss_mb = min(runs, key=lambda r: r[0]["cpu_pipeline_s"])
        median_cpu = sorted(r[0]["cpu_pipeline_s"] for r in runs)[len(runs) // 2]
        ref_figures, _, _, _ = run_child(npz, {**env, "MESDESK_ENGINE": "reference"})
        ours = figures["bars"] / figures["pipeline_s"]
        ours_cpu = figures["bars"] / figures["cpu_pipeline_s"]
        print(
            f"mesdesk full pipeline: {figures['bars']:,} bars, {figures['candidates']:,} candidates, "
            f"{figures['trades']:,} trades"
        )
        print(
            f"  CPU: setups+prefilter {figures['cpu_setups_s']:.3f} s, engine+decider {figures['cpu_engine_s']:.3f} s "
            f"(reference loop {ref_figures['cpu_engine_s']:.3f} s), "
            f"journal write {figures['cpu_journal_write_s']:.3f} s"
        )
        print(
            f"  wall: imports {figures['import_s']:.2f} s, numba start-up {figures['numba_init_s']:.2f} s "
            f"({figures['cpu_numba_init_s']:.2f} s CPU), the modules the pipeline imports on first use "
            f"{figures['lazy_import_s']:.3f} s, setups+prefilter {figures['setups_s']:.3f} s, "
            f"engine+decider {figures['engine_s']:.3f} s, journal write {figures['journal_write_s']:.3f} s"
        )
        print(
            f"  pipeline bars/s: {ours:,.0f} (wall), {ours_cpu:,.0f} (CPU time); "
            f"CPU {figures['cpu_pipeline_s']:.3f} s, median of the {len(runs)} processes {median_cpu:.3f} s"
        )
        print(
            f"  the same pipeline again in that process: {figures['cpu_pipeline_again_s']:.3f} s CPU "
            f"(setups+prefilter {figures['cpu_setups_again_s']:.3f}, "
            f"engine+decider {figures['cpu_engine_again_s']:.3f}, "
            f"journal write {figures['cpu_journal_write_again_s']:.3f})"
        )
        print(f"  pipeline process: {whole:.2f} s wall, {cpu:.2f} s CPU (user+sys); peak RSS: {rss_mb:,.0f} MB")
        procs = whole_process(parquet, tmp, env)
        print(
            f"mesdesk backtest --source file (Parquet, {figures['bars']:,} bars), whole process wall: "
            f"{procs['whole_process_s']:.2f} s warm, {procs['whole_process_cold_s']:.2f} s with numba's cache cold; "
            f"with --no-report: {procs['whole_process_no_report_s']:.2f} s"
        )
        total_import, heaviest, heavy_seen = import_time(parquet, tmp, env)
        print(
            f"python -X importtime of mesdesk backtest: {total_import:.2f} s; heaviest: "
            + ", ".join(f"{name} {t:.2f}" for name, t in heaviest)
        )
        print(f"  heavy libraries imported: {', '.join(heavy_seen) if heavy_seen else 'none'}")
        result: dict[str, object] = {
            "bars": figures["bars"],
            "candidates": figures["candidates"],
            "trades": figures["trades"],
            "pipeline_cpu_s": round(figures["cpu_pipeline_s"], 4),
            "pipeline_cpu_median_s": round(median_cpu, 4),
            "pipeline_cpu_again_s": round(figures["cpu_pipeline_again_s"], 4),
            "lazy_import_cpu_s": round(figures["cpu_lazy_import_s"], 4),
            "engine_cpu_s": round(figures["cpu_engine_s"], 4),
            "engine_reference_cpu_s": round(ref_figures["cpu_engine_s"], 4),
            "numba_init_s": round(figures["numba_init_s"], 3),
            **{k: round(v, 3) for k, v in procs.items()},
            "import_s": round(total_import, 3),
            "heavy_imports": heavy_seen,
            "peak_rss_mb": round(rss_mb, 1),
        }
        if not args.skip_reference:
            py = ensure_reference_venv()
            ref_path = tmp / "reference.py"
            ref_path.write_text(REFERENCE)
            ref = subprocess.run([str(py), str(ref_path), npz], check=True, capture_output=True, text=True)
            rf = json.loads(ref.stdout.strip().splitlines()[-1])
            theirs = rf["bars"] / rf["seconds"]
            theirs_cpu = rf["bars"] / rf["cpu_seconds"]
            with_init = figures["bars"] / (figures["cpu_pipeline_s"] + figures["cpu_numba_init_s"])
            with_lazy = figures["bars"] / (figures["cpu_pipeline_s"] + figures["cpu_lazy_import_s"])
            median = figures["bars"] / median_cpu
            print(
                f"backtesting.py EMA-20 cross, TP 1.25 / SL 0.75: {rf['seconds']:.2f} s wall, "
                f"{rf['cpu_seconds']:.2f} s CPU; {theirs:,.0f} bars/s (wall), {theirs_cpu:,.0f} (CPU); "
                f"{rf['trades']:,} trades"
            )
            again_cpu = figures["bars"] / figures["cpu_pipeline_again_s"]
            print(
                f"ratio (mesdesk full pipeline / backtesting.py simple strategy): {ours / theirs:.1f}x wall, "
                f"{ours_cpu / theirs_cpu:.1f}x CPU time (median process {median / theirs_cpu:.1f}x; "
                f"{with_lazy / theirs_cpu:.1f}x counting the modules it imports on first use; "
                f"{with_init / theirs_cpu:.1f}x counting numba's start-up; "
                f"{again_cpu / theirs_cpu:.1f}x for the pipeline run again in the same process)"
            )
            result |= {
                "ratio_cpu_vs_backtesting": round(ours_cpu / theirs_cpu, 1),
                "ratio_cpu_vs_backtesting_median": round(median / theirs_cpu, 1),
                "ratio_cpu_vs_backtesting_with_lazy_imports": round(with_lazy / theirs_cpu, 1),
                "ratio_cpu_vs_backtesting_again": round(again_cpu / theirs_cpu, 1),
                "ratio_cpu_vs_backtesting_with_numba_init": round(with_init / theirs_cpu, 1),
                "ratio_wall_vs_backtesting": round(ours / theirs, 1),
                "backtesting_cpu_s": round(rf["cpu_seconds"], 3),
            }
        load_end = os.getloadavg()
        print(f"load average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
        result["loadavg_1m"] = [round(load_start[0], 2), round(load_end[0], 2)]
        print(json.dumps(result))


if __name__ == "__main__":
    main()
