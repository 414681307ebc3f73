"""Candidates on a real 1m bar file: per setup per day, the prefilter score distribution, and a rough
forward check (did price reach +1.25 before -0.75 from the next bar's open, on the same bars, stop first
when both fall in one bar; no costs). The forward check is a sanity look, not a backtest.

Run: python benchmarks/setups_real.py FILE.csv [--timeframe 5m]   (columns ts_utc, open, high, low, close, volume)
Flat placeholder bars (volume <= 1 and high == low) are dropped first.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from mesdesk.bars import validate_bars
from mesdesk.prefilter import PF_COLUMNS
from mesdesk.setups.scalper import detect_candidates
from mesdesk.timeframes import Timeframe


def load(path: str) -> pd.DataFrame:
    raw = pd.read_csv(path)
    raw.index = pd.DatetimeIndex(pd.to_datetime(raw["ts_utc"], utc=True), name="ts")
    bars = validate_bars(raw[["open", "high", "low", "close", "volume"]], source=path, row_base=2)
    placeholder = (bars["volume"] <= 1) & (bars["high"] == bars["low"])
    print(f"{path}: {len(bars):,} bars, {int(placeholder.sum())} flat placeholder bars dropped")
    return bars[~placeholder]


def forward_outcome(bars: pd.DataFrame, cands: pd.DataFrame, tp: float = 1.25, sl: float = 0.75) -> np.ndarray:
    """+1 target first, -1 stop first (or both in one bar), 0 neither within 60 bars."""
    high, low, open_ = (bars[c].to_numpy() for c in ("high", "low", "open"))
    out = np.zeros(len(cands))
    for k, (i, direction) in enumerate(zip(cands["bar_index"], cands["direction"], strict=True)):
        j = i + 1
        if j >= len(bars):
            continue
        entry, sign = open_[j], 1.0 if direction == "long" else -1.0
        fav = (high[j : j + 60] - entry) if sign > 0 else (entry - low[j : j + 60])
        adv = (entry - low[j : j + 60]) if sign > 0 else (high[j : j + 60] - entry)
        hit_tp = np.flatnonzero(fav >= tp + 0.25)  # traded through the target by a tick
        hit_sl = np.flatnonzero(adv >= sl)
        t_tp = hit_tp[0] if hit_tp.size else 10**9
        t_sl = hit_sl[0] if hit_sl.size else 10**9
        out[k] = 0 if min(t_tp, t_sl) == 10**9 else (1 if t_tp < t_sl else -1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--timeframe", default="1m")
    args = parser.parse_args()
    timeframe = Timeframe.parse(args.timeframe)
    pd.set_option("display.width", 200)
    bars = load(args.path)
    cands = detect_candidates(bars, timeframe=timeframe)
    cands["day"] = cands["trading_day"].dt.strftime("%Y-%m-%d")
    print(f"candidates: {len(cands)}, passed prefilter: {int(cands['passed_prefilter'].sum())}")
    print("\ncandidates per setup per day (all / passed):")
    table = cands.pivot_table(index="day", columns="setup_type", values="passed_prefilter", aggfunc=["size", "sum"])
    print(table.fillna(0).astype(int).to_string())
    print("\nper day, mean:", (cands.groupby("setup_type").size() / cands["day"].nunique()).round(2).to_dict())
    print("\nprefilter_score quantiles:")
    print(cands["prefilter_score"].quantile([0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]).round(1).to_string())
    print("\nmean component points:", cands[list(PF_COLUMNS)].mean().round(2).to_dict())
    cands["outcome"] = forward_outcome(bars, cands)
    window = cands["session_label"].isin(["rth_a", "rth_b"])
    print("\nforward check in rth_a/rth_b (+1.25 before -0.75, next open, no costs): share of target-first")
    for passed, group in cands[window].groupby("passed_prefilter"):
        decided = group[group["outcome"] != 0]
        share = (decided["outcome"] > 0).mean() if len(decided) else float("nan")
        print(f"  passed={passed}: n={len(group)}, decided={len(decided)}, target first={share:.1%}")
    for setup, group in cands[window].groupby("setup_type"):
        decided = group[group["outcome"] != 0]
        print(f"  {setup}: n={len(group)}, target first={(decided['outcome'] > 0).mean():.1%}")


if __name__ == "__main__":
    main()
