"""ORB retest-go: opening-range breakout, a retest of the broken edge that holds, then a go bar.

Long (short mirrors it with highs and lows swapped and signs reversed), per trading day:

1. **Opening range**: high ``H`` and low ``L`` of the bars that open in the first `range_minutes`
   of RTH (08:30 CT + 15 min by default). It is known once the last of those bars has closed; only
   bars opening at or after 08:30 + `range_minutes` (and before the RTH end) take part below.
2. **Breakout** at bar ``b``: the day's first bar that closes above ``H + breakout_ticks`` ticks,
   opening within `breakout_window_minutes` of the range end. Only the day's first breakout in a
   direction counts: a day arms at most once per direction.
3. **Retest** at bar ``r``: the first bar after ``b`` (at most `max_retest_minutes` later) whose low
   comes within `retest_ticks` of ``H`` (``low <= H + retest_ticks``) while its close holds
   (``close >= H - hold_ticks``).
4. **Failure**: any bar after ``b`` that closes below ``H - hold_ticks`` ends the setup for the day.
5. **Go** at bar ``g`` (the candidate): the first bar after ``r`` (at most `max_go_minutes` later),
   before any failure, that closes above the prior bar's high, above its own open and above ``H``.

The candidate's decision time is the close of ``g``; its reference level is ``H`` (``L`` short).
Every step is a "first bar of the day with a condition" over bars already closed, so the result at a
bar never depends on later bars. Minutes become whole bars of the decision timeframe (at least one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesdesk.errors import ConfigError
from mesdesk.indicators import opening_range
from mesdesk.setups.context import RTH_OPEN_MIN, BarContext, FloatArray, SetupHits, bars_for


@dataclass(frozen=True, slots=True)
class OrbRetestConfig:
    """Parameters of ORB retest-go (tolerances in ticks, spans in minutes of the decision bars)."""

    enabled: bool = True
    range_minutes: int = 15
    breakout_ticks: int = 1
    breakout_window_minutes: int = 120
    retest_ticks: int = 2
    hold_ticks: int = 2
    max_retest_minutes: int = 30
    max_go_minutes: int = 15

    def __post_init__(self) -> None:
        if not 1 <= self.range_minutes <= 120:
            raise ConfigError(f"orb.range_minutes must be in 1..120, got {self.range_minutes}")
        for name in ("breakout_ticks", "retest_ticks", "hold_ticks"):
            if getattr(self, name) < 0:
                raise ConfigError(f"orb.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("breakout_window_minutes", "max_retest_minutes", "max_go_minutes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"orb.{name} must be >= 1, got {getattr(self, name)}")


def scan_params(
    bar_minutes: float, cfg: OrbRetestConfig, tick: float
) -> tuple[int, int, float, float, float, int, int]:
    """`scans.orb_retest_scan`'s arguments after `sign`: the range end and breakout window end (CT minutes),
    the tolerances in points, the retest and go windows in bars (of `bar_minutes`)."""
    range_end = RTH_OPEN_MIN + cfg.range_minutes
    return (
        int(range_end),
        int(range_end + cfg.breakout_window_minutes),
        float(cfg.breakout_ticks * tick),
        float(cfg.retest_ticks * tick),
        float(cfg.hold_ticks * tick),
        bars_for(cfg.max_retest_minutes, bar_minutes),
        bars_for(cfg.max_go_minutes, bar_minutes),
    )


def _one_direction(ctx: BarContext, cfg: OrbRetestConfig, tick: float, edge: FloatArray, sign: int) -> SetupHits:
    from mesdesk.setups.scans import orb_retest_scan

    hit = orb_retest_scan(
        *(
            ctx.bar_close,
            ctx.bar_open,
            ctx.bar_high,
            ctx.bar_low,
            ctx.source_index,
            edge,
            ctx.minute_open,
            ctx.rth,
            ctx.day,
        ),
        float(sign),
        *scan_params(ctx.bar_minutes, cfg, tick),
        np.zeros(ctx.size, dtype=np.bool_),
    )
    return SetupHits.at(hit, sign, edge)


def opening_range_edges(ctx: BarContext, cfg: OrbRetestConfig) -> tuple[FloatArray, FloatArray]:
    """Opening-range high and low per bar (NaN until the range has closed, and outside RTH)."""
    range_end = RTH_OPEN_MIN + cfg.range_minutes
    in_range = ctx.rth & (ctx.minute_open < range_end)
    after = ctx.rth & (ctx.minute_open >= range_end)
    return opening_range(ctx.high, ctx.low, ctx.day, in_range, after)


def detect_orb_retest(
    ctx: BarContext, cfg: OrbRetestConfig, tick_size: float, edges: tuple[FloatArray, FloatArray] | None = None
) -> SetupHits:
    """Bars completing ORB retest-go, long and short (at most one of each per trading day).

    `edges` are `opening_range_edges(ctx, cfg)` when the caller has them already.
    """
    if not cfg.enabled or ctx.size == 0:
        return SetupHits.empty()
    or_high, or_low = opening_range_edges(ctx, cfg) if edges is None else edges
    return SetupHits.concat(
        [_one_direction(ctx, cfg, tick_size, or_high, 1), _one_direction(ctx, cfg, tick_size, or_low, -1)]
    )
