"""Synthetic market vs real ES bars, side by side.

Usage: python benchmarks/realism.py [DATA_DIR] [--seed N] [--year YYYY]

DATA_DIR holds the real files (default: ../shared/data beside the repository root). Prints daily
ranges, the tails of 1-minute returns, volatility and volume by time of day, the autocorrelation of
absolute and signed returns, and the shape of RTH days, for the real 1m file, the real 5m file (where
5-minute bars allow) and one synthetic year.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from mesdesk.calendar import minutes_of_ct_day, trading_days
from mesdesk.data.files import load_bars
from mesdesk.data.resample import resample
from mesdesk.data.synthetic import SyntheticConfig, generate_bars
from mesdesk.timeframes import Timeframe

REPO = Path(__file__).resolve().parents[1]
HOURS_CT = (18, 22, 2, 7, 8, 9, 10, 12, 14, 15)
ACF_LAGS = (1, 5, 15, 30, 60, 120, 390)


def session_returns(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Log returns close to close inside each trading day (no overnight/weekend gaps), and CT minutes."""
    closes = np.log(bars["close"].to_numpy())
    days = trading_days(pd.DatetimeIndex(bars.index))
    minutes = minutes_of_ct_day(pd.DatetimeIndex(bars.index))
    same = np.r_[False, days[1:] == days[:-1]]
    r = np.diff(closes, prepend=np.nan)
    return r[same], minutes[same]


def daily_stats(bars: pd.DataFrame) -> dict[str, float]:
    days = trading_days(pd.DatetimeIndex(bars.index))
    g = bars.groupby(days)
    rng = (g["high"].max() - g["low"].min()).to_numpy()
    pct = rng / g["close"].last().to_numpy() * 100
    minutes = minutes_of_ct_day(pd.DatetimeIndex(bars.index))
    rth = bars[(minutes >= 510) & (minutes < 900)]
    rg = rth.groupby(trading_days(pd.DatetimeIndex(rth.index)))
    rth_range = (rg["high"].max() - rg["low"].min()).to_numpy()
    travel = np.abs(rg["close"].last().to_numpy() - rg["open"].first().to_numpy()) / np.maximum(rth_range, 0.25)
    return {
        "days": float(len(rng)),
        "range mean pts": float(rng.mean()),
        "range p10 pts": float(np.quantile(rng, 0.1)),
        "range median pts": float(np.median(rng)),
        "range p90 pts": float(np.quantile(rng, 0.9)),
        "range median %": float(np.median(pct)),
        "RTH range median pts": float(np.median(rth_range)),
        "RTH |C-O|/range mean": float(travel.mean()),
        "trend days (>=0.7) %": float((travel >= 0.7).mean() * 100),
        "range days (<=0.2) %": float((travel <= 0.2).mean() * 100),
    }


def return_stats(r: np.ndarray, label: str) -> dict[str, float]:
    bp = r * 1e4
    out = {f"{label} std bp": float(bp.std()), f"{label} kurtosis": float(pd.Series(bp).kurt())}
    for q in (0.001, 0.01, 0.05, 0.95, 0.99, 0.999):
        out[f"{label} q{q * 100:g}% bp"] = float(np.quantile(bp, q))
    return out


def acf(x: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])


def profile_stats(bars: pd.DataFrame, r: np.ndarray, minutes: np.ndarray) -> dict[str, float]:
    absr = pd.Series(np.abs(r)).groupby(minutes // 60).mean()
    night = float(absr.loc[[0, 1]].mean())
    vol = pd.Series(bars["volume"].to_numpy()).groupby(minutes_of_ct_day(pd.DatetimeIndex(bars.index)) // 60).mean()
    out: dict[str, float] = {}
    for hour in HOURS_CT:
        out[f"|r| {hour:02d}h CT / night"] = float(absr.get(hour, np.nan) / night)
    for hour in HOURS_CT:
        out[f"volume/min {hour:02d}h CT"] = float(vol.get(hour, np.nan))
    out["open spike |r| 08:30-08:35 / 09:30-10:30"] = float(
        np.abs(r[(minutes >= 510) & (minutes < 515)]).mean() / np.abs(r[(minutes >= 570) & (minutes < 630)]).mean()
    )
    return out


def clustering_stats(r: np.ndarray) -> dict[str, float]:
    out = {f"acf |r| lag {lag}": acf(np.abs(r), lag) for lag in ACF_LAGS}
    out.update({f"acf r lag {lag}": acf(r, lag) for lag in (1, 2, 5)})
    return out


def describe_1m(bars: pd.DataFrame) -> dict[str, float]:
    r, minutes = session_returns(bars)
    out = daily_stats(bars)
    out.update(return_stats(r, "1m"))
    out.update(profile_stats(bars, r, minutes))
    out.update(clustering_stats(r))
    r5, _ = session_returns(resample(bars, Timeframe.M5))
    out.update(return_stats(r5, "5m"))
    return out


def describe_5m(bars: pd.DataFrame) -> dict[str, float]:
    out = daily_stats(bars)
    r5, _ = session_returns(bars)
    out.update(return_stats(r5, "5m"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args(argv)
    folder = Path(args.data_dir)
    columns: dict[str, dict[str, float]] = {}
    one = folder / "ES_1m_2025-09-15_2025-10-10.csv"
    five = folder / "ES_5m_2026-02-17_2026-04-28.csv"
    if one.is_file():
        columns["real ES 1m"] = describe_1m(load_bars(one, placeholders="drop"))
    if five.is_file():
        columns["real ES 5m"] = describe_5m(load_bars(five, placeholders="drop"))
    synthetic = generate_bars(date(args.year, 1, 1), date(args.year, 12, 31), SyntheticConfig(seed=args.seed))
    columns[f"synthetic {args.year} s{args.seed}"] = describe_1m(synthetic)
    if not (one.is_file() or five.is_file()):
        print(f"(no real bars in {folder}: synthetic only)", file=sys.stderr)
    table = pd.DataFrame(columns)
    with pd.option_context("display.max_rows", 200, "display.width", 160, "display.float_format", "{:10.3f}".format):
        print(table.to_string(na_rep="-"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
