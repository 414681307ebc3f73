"""20-EMA pullback: in a trend, price pulls back to the 20 EMA and a continuation bar resumes it.

Long (short mirrors it), at bar ``i`` (the candidate, an RTH bar):

1. **Trend** at ``i``: the fast EMA (20) rose at least `min_slope_atr` x `atr_5m` over the last
   `slope_bars` bars (``ema[i] - ema[i - slope_bars]``), the close is above the fast EMA and, when
   `require_slow_ema`, the fast EMA is above the slow EMA (50).
2. **Pullback touch** at bar ``t < i``, at most `touch_lookback_bars` before ``i``: the bar's low came
   within `touch_ticks` of the fast EMA (``low[t] <= ema[t] + touch_ticks``) while both its open and
   its close stay no more than `pierce_ticks` below it (it came from the trend side and held; a bar
   reclaiming the EMA from below is not a pullback touch). ``t`` is the latest such bar.
3. **Continuation** at ``i``: close above the prior bar's high and above its own open, and it is the
   first continuation bar since the touch (no bar strictly between ``t`` and ``i`` was one), so one
   pullback gives one candidate.

The reference level is the fast EMA at ``i``. Everything reads bars up to ``i`` only; the EMAs run
over all sessions (Globex included) so they are warm at the open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesdesk.errors import ConfigError
from mesdesk.setups.context import BarContext, SetupHits


@dataclass(frozen=True, slots=True)
class EmaPullbackConfig:
    """Parameters of the 20-EMA pullback (the EMA periods live in `IndicatorConfig`)."""

    enabled: bool = True
    min_slope_atr: float = 0.20
    require_slow_ema: bool = True
    touch_ticks: int = 1
    pierce_ticks: int = 2
    touch_lookback_bars: int = 3

    def __post_init__(self) -> None:
        if self.min_slope_atr < 0:
            raise ConfigError(f"ema_pullback.min_slope_atr must be >= 0, got {self.min_slope_atr}")
        for name in ("touch_ticks", "pierce_ticks"):
            if getattr(self, name) < 0:
                raise ConfigError(f"ema_pullback.{name} must be >= 0, got {getattr(self, name)}")
        if self.touch_lookback_bars < 1:
            raise ConfigError(f"ema_pullback.touch_lookback_bars must be >= 1, got {self.touch_lookback_bars}")


def scan_params(cfg: EmaPullbackConfig, tick: float) -> tuple[float, bool, float, float, int]:
    """`scans.ema_pullback_scan`'s arguments after `sign`: the slope floor (ATRs), the slow-EMA rule, the
    tolerances in points and the touch look-back in bars."""
    return (
        float(cfg.min_slope_atr),
        bool(cfg.require_slow_ema),
        float(cfg.touch_ticks * tick),
        float(cfg.pierce_ticks * tick),
        int(cfg.touch_lookback_bars),
    )


def _one_direction(ctx: BarContext, cfg: EmaPullbackConfig, tick: float, sign: int) -> SetupHits:
    from mesdesk.setups.scans import ema_pullback_scan

    hit = ema_pullback_scan(
        *(ctx.bar_close, ctx.bar_open, ctx.bar_high, ctx.bar_low, ctx.source_index),
        *(ctx.ema_fast, ctx.ema_slow, ctx.ema_slope, ctx.atr_5m, ctx.rth),
        float(sign),
        *scan_params(cfg, tick),
        np.zeros(ctx.size, dtype=np.bool_),
    )
    return SetupHits.at(hit, sign, ctx.ema_fast)


def detect_ema_pullback(ctx: BarContext, cfg: EmaPullbackConfig, tick_size: float) -> SetupHits:
    """Bars completing a 20-EMA pullback, long and short."""
    if not cfg.enabled or ctx.size == 0:
        return SetupHits.empty()
    return SetupHits.concat([_one_direction(ctx, cfg, tick_size, 1), _one_direction(ctx, cfg, tick_size, -1)])
