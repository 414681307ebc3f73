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
from mesdesk.recursions import compiled
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


@compiled
def _scan(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    vwap: np.ndarray,
    ema_fast: np.ndarray,
    minutes_since_open: np.ndarray,
    rth: np.ndarray,
    sign: float,
    touch_off: float,
    close_off: float,
    min_close_position: float,
    fresh_bars: int,
    min_minutes_after_open: float,
) -> np.ndarray:
    """True at each candidate bar (steps 1-4 of the module docstring) in one pass over the bars.

    Prices are "signed" (``sign * price``) so the short side is the long side of the mirrored series;
    `touch_off` and `close_off` are the tick tolerances in points. The latest VWAP test strictly
    before each bar is carried along.
    """
    n = close.shape[0]
    hit = np.zeros(n, dtype=np.bool_)
    last_touch = -1
    prev_close = np.nan
    prev_vwap = np.nan
    for i in range(n):
        s_close = sign * close[i]
        s_vwap = sign * vwap[i]
        s_adverse = low[i] if sign > 0 else -high[i]
        touch = s_adverse <= s_vwap + touch_off
        if touch and rth[i] and minutes_since_open[i] >= min_minutes_after_open:
            rng = high[i] - low[i]
            close_pos = (s_close - s_adverse) / rng if rng > 0 else 0.0
            side = sign * ema_fast[i] > s_vwap and prev_close > prev_vwap
            reject = s_close >= s_vwap + close_off and close_pos >= min_close_position
            hit[i] = side and reject and (last_touch < 0 or i - last_touch > fresh_bars)
        if touch:
            last_touch = i
        prev_close = s_close
        prev_vwap = s_vwap
    return hit


def _one_direction(ctx: BarContext, cfg: VwapRejectionConfig, tick: float, sign: int) -> SetupHits:
    hit = np.flatnonzero(
        _scan(
            ctx.close,
            ctx.high,
            ctx.low,
            ctx.vwap,
            ctx.ema_fast,
            ctx.minutes_since_open,
            ctx.rth,
            float(sign),
            cfg.touch_ticks * tick,
            cfg.close_ticks * tick,
            cfg.min_close_position,
            cfg.fresh_bars,
            float(cfg.min_minutes_after_open),
        )
    )
    return SetupHits(hit, np.full(hit.size, sign, dtype=np.int64), ctx.vwap[hit])


def detect_vwap_rejection(ctx: BarContext, cfg: VwapRejectionConfig, tick_size: float) -> SetupHits:
    """Bars completing a VWAP rejection, long and short."""
    if not cfg.enabled or ctx.size == 0:
        return SetupHits.empty()
    return SetupHits.concat([_one_direction(ctx, cfg, tick_size, 1), _one_direction(ctx, cfg, tick_size, -1)])
