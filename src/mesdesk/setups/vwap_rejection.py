"""VWAP rejection: price comes back to session VWAP from the trend side and is turned away.

Long (short mirrors it), at bar ``i`` (the candidate, an RTH bar at least `min_minutes_after_open`
into the session, so the VWAP has some history):

1. **Trend side**: the fast EMA is above VWAP at ``i`` and the prior bar closed above VWAP
   (price approached from above).
2. **Test**: the bar's low comes within `touch_ticks` of VWAP or wicks through it
   (``low[i] <= vwap[i] + touch_ticks``).
3. **Rejection**: the bar closes back at least `close_ticks` above VWAP, in the upper part of its own
   range (``(close - low) / (high - low) >= min_close_position``).
4. **Fresh test**: no bar in the `fresh_bars` bars before ``i`` touched VWAP, so chop around
   VWAP does not fire on every bar.

VWAP is the session VWAP of `IndicatorConfig.vwap_anchor` (RTH-anchored at 08:30 CT by default) and
includes bar ``i`` itself, which is known at its close. The reference level is VWAP at ``i``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesdesk.errors import ConfigError
from mesdesk.setups.context import BarContext, SetupHits


@dataclass(frozen=True, slots=True)
class VwapRejectionConfig:
    """Parameters of the VWAP rejection (tolerances in ticks)."""

    enabled: bool = True
    touch_ticks: int = 1
    close_ticks: int = 1
    min_close_position: float = 0.5
    fresh_bars: int = 5
    min_minutes_after_open: int = 15

    def __post_init__(self) -> None:
        for name in ("touch_ticks", "close_ticks", "fresh_bars", "min_minutes_after_open"):
            if getattr(self, name) < 0:
                raise ConfigError(f"vwap_rejection.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.min_close_position <= 1.0:
            raise ConfigError(f"vwap_rejection.min_close_position must be in 0..1, got {self.min_close_position}")


def scan_params(cfg: VwapRejectionConfig, tick: float) -> tuple[float, float, float, int, float]:
    """`scans.vwap_rejection_scan`'s arguments after `sign`: the tolerances in points, the close position,
    the freshness in bars and the minutes after the open."""
    return (
        float(cfg.touch_ticks * tick),
        float(cfg.close_ticks * tick),
        float(cfg.min_close_position),
        int(cfg.fresh_bars),
        float(cfg.min_minutes_after_open),
    )


def _one_direction(ctx: BarContext, cfg: VwapRejectionConfig, tick: float, sign: int) -> SetupHits:
    from mesdesk.setups.scans import vwap_rejection_scan

    series = (ctx.bar_close, ctx.bar_high, ctx.bar_low, ctx.source_index, ctx.vwap, ctx.ema_fast)
    hit = np.zeros(ctx.size, dtype=np.bool_)
    vwap_rejection_scan(*series, ctx.minute_open, ctx.bar_minutes, ctx.rth, float(sign), *scan_params(cfg, tick), hit)
    return SetupHits.at(hit, sign, ctx.vwap)


def detect_vwap_rejection(ctx: BarContext, cfg: VwapRejectionConfig, tick_size: float) -> SetupHits:
    """Bars completing a VWAP rejection, long and short."""
    if not cfg.enabled or ctx.size == 0:
        return SetupHits.empty()
    return SetupHits.concat([_one_direction(ctx, cfg, tick_size, 1), _one_direction(ctx, cfg, tick_size, -1)])
