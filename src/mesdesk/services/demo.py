"""The demo job: the embedded synthetic market summarised in sections (no key, no network).

`run_demo` builds a `DemoContext` (the synthetic 1-minute bars and their resampled timeframes) and
passes it to each builder of `DEMO_SECTIONS`; every builder returns `Section`s (a titled table).
Other areas extend the demo by adding a builder (scan, backtest) to that tuple or by passing
`builders=`. The CLI only renders the sections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mesdesk.calendar import (
    CT,
    RTH_OPEN_CT,
    front_month_symbol,
    minutes_of_ct_day,
    session_close_ct,
    session_label,
    trading_days,
)
from mesdesk.data.resample import bin_close_ns, resample
from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.indicators import align_asof, atr, ema, opening_range, pivots, session_vwap, volume_multiple
from mesdesk.services.demo_backtest import backtest_section
from mesdesk.services.demo_scan import scan_section
from mesdesk.timeframes import SCAN_TIMEFRAMES, Timeframe

_RTH_OPEN_MIN = RTH_OPEN_CT.hour * 60 + RTH_OPEN_CT.minute
_OPENING_RANGE_MIN = 15


@dataclass(frozen=True, slots=True)
class Section:
    """One titled table of the demo report (cells already formatted as text)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class DemoContext:
    """What every section builder sees: the request and the synthetic bars."""

    days: int
    seed: int
    bars_1m: pd.DataFrame
    bars: dict[Timeframe, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoResult:
    context: DemoContext
    sections: tuple[Section, ...]


SectionBuilder = Callable[[DemoContext], Sequence[Section]]


def _ct(ts: pd.Timestamp) -> str:
    return ts.tz_convert(CT).strftime("%Y-%m-%d %H:%M")


def market_section(ctx: DemoContext) -> list[Section]:
    """One row per trading day: hours, bars, ranges, volume, front contract."""
    bars = ctx.bars_1m
    idx = pd.DatetimeIndex(bars.index)
    days = trading_days(idx)
    minutes = minutes_of_ct_day(idx)
    rows = []
    for day in np.unique(days):
        sel = days == day
        part = bars[sel]
        rth = part[(minutes[sel] >= _RTH_OPEN_MIN) & (minutes[sel] < 15 * 60)]
        d = pd.Timestamp(day).date()
        close = session_close_ct(d)
        rows.append(
            (
                str(d),
                front_month_symbol(d),
                f"{close:%H:%M}{' early' if close and close.hour < 16 else ''}" if close else "-",
                str(len(part)),
                f"{part['open'].iloc[0]:.2f}",
                f"{part['close'].iloc[-1]:.2f}",
                f"{part['high'].max() - part['low'].min():.2f}",
                f"{rth['high'].max() - rth['low'].min():.2f}" if len(rth) else "-",
                f"{part['volume'].sum() / 1000:,.0f}k",
            )
        )
    columns = ("day", "contract", "close CT", "1m bars", "open", "close", "range", "RTH rng", "volume")
    note = (
        f"synthetic market, seed {ctx.seed}; each day opens 17:00 CT the evening before; "
        "a martingale on the 0.25 tick (no edge by construction)"
    )
    return [Section("Sessions", columns, tuple(rows), note)]


def timeframe_section(ctx: DemoContext) -> list[Section]:
    """Bars per timeframe (complete bins only) with the first and last bar opens in CT."""
    rows = [("1m", str(len(ctx.bars_1m)), _ct(ctx.bars_1m.index[0]), _ct(ctx.bars_1m.index[-1]))]
    for tf, frame in ctx.bars.items():
        rows.append((tf.value, str(len(frame)), _ct(frame.index[0]), _ct(frame.index[-1])))
    return [Section("Bars per timeframe", ("timeframe", "bars", "first (CT)", "last (CT)"), tuple(rows))]


def indicator_section(ctx: DemoContext) -> list[Section]:
    """Indicators as known at the close of the last 1-minute bar."""
    bars = ctx.bars_1m
    idx = pd.DatetimeIndex(bars.index)
    h, lo, c, v = (bars[k].to_numpy() for k in ("high", "low", "close", "volume"))
    days = trading_days(idx).astype(np.int64)
    minutes = minutes_of_ct_day(idx)
    slot = (minutes - 17 * 60) % (24 * 60)
    or_end = _RTH_OPEN_MIN + _OPENING_RANGE_MIN
    or_hi, or_lo = opening_range(
        h, lo, days, (minutes >= _RTH_OPEN_MIN) & (minutes < or_end), (minutes >= or_end - 1) & (minutes < 16 * 60)
    )
    five = ctx.bars[Timeframe.M5]
    atr5 = atr(five["high"], five["low"], five["close"], 14)
    known_1m = idx.as_unit("ns").asi8 + 60 * 10**9
    atr5_now = align_asof(bin_close_ns(pd.DatetimeIndex(five.index), Timeframe.M5), atr5, known_1m)
    vm = volume_multiple(v, days - days.min(), slot, lookback_days=20, min_days=min(3, len(np.unique(days)) - 1))
    piv = pivots(five["high"].to_numpy(), five["low"].to_numpy(), order=3)
    values: list[tuple[str, str]] = [
        ("last bar (CT, open)", _ct(idx[-1])),
        ("session", session_label(idx[-1].to_pydatetime())),
        ("close", f"{c[-1]:.2f}"),
        ("EMA 20 (1m)", f"{ema(c, 20)[-1]:.2f}"),
        ("VWAP since 17:00 CT", f"{session_vwap(h, lo, c, v, days)[-1]:.2f}"),
        ("ATR 14 (1m), pts", f"{atr(h, lo, c, 14)[-1]:.2f}"),
        ("atr_5m (ATR 14, complete 5m bars), pts", f"{atr5_now[-1]:.2f}"),
        ("volume multiple (same minute, 20 days)", f"{vm[-1]:.2f}" if np.isfinite(vm[-1]) else "n/a (too few days)"),
        ("opening range 08:30-08:45 CT", f"{or_lo[-1]:.2f} - {or_hi[-1]:.2f}" if np.isfinite(or_hi[-1]) else "-"),
    ]
    for is_high, name in ((True, "last swing high (5m, k=3)"), (False, "last swing low (5m, k=3)")):
        sel = np.flatnonzero(piv.is_high == is_high)
        if sel.size:
            j = sel[-1]
            known = five.index[piv.known_at[j]] + pd.Timedelta(minutes=5)
            values.append((name, f"{piv.price[j]:.2f} at {_ct(five.index[piv.index[j]])}, known {_ct(known)}"))
    return [Section("Indicators at the last bar", ("indicator", "value"), tuple(values))]


DEMO_SECTIONS: tuple[SectionBuilder, ...] = (
    market_section,
    timeframe_section,
    indicator_section,
    scan_section,
    backtest_section,
)


def build_context(*, days: int, seed: int) -> DemoContext:
    """Generate `days` synthetic trading days and resample them to the scan timeframes."""
    bars = generate_days(days, SyntheticConfig(seed=seed))
    resampled = {tf: resample(bars, tf, source_span=pd.Timedelta(minutes=1)) for tf in SCAN_TIMEFRAMES}
    return DemoContext(days=days, seed=seed, bars_1m=bars, bars=resampled)


def run_demo(*, days: int, seed: int, builders: Sequence[SectionBuilder] | None = None) -> DemoResult:
    """Build the demo report: every builder's sections, in order."""
    ctx = build_context(days=days, seed=seed)
    sections: list[Section] = []
    for builder in DEMO_SECTIONS if builders is None else builders:
        sections.extend(builder(ctx))
    return DemoResult(ctx, tuple(sections))
