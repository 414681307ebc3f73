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
from mesdesk.recursions import compiled
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


@compiled
def _scan(
    close: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    ema_fast: np.ndarray,
    ema_slow: np.ndarray,
    ema_slope: np.ndarray,
    atr_5m: np.ndarray,
    rth: np.ndarray,
    sign: float,
    min_slope_atr: float,
    require_slow_ema: bool,
    touch_off: float,
    pierce_off: float,
    lookback: int,
) -> np.ndarray:
    """True at each candidate bar (steps 1-3 of the module docstring) in one pass over the bars.

    Prices are "signed" (``sign * price``) so the short side is the long side of the mirrored series;
    `touch_off` and `pierce_off` are the tick tolerances in points. The latest touch and the latest
    continuation bar strictly before each bar are carried along.
    """
    n = close.shape[0]
    hit = np.zeros(n, dtype=np.bool_)
    last_touch = -1
    last_cont = -1
    prev_favour = np.nan  # the prior bar's extreme on the trade's side
    for i in range(n):
        s_close = sign * close[i]
        s_open = sign * open_[i]
        s_ema = sign * ema_fast[i]
        cont = s_close > prev_favour and s_close > s_open
        if cont and rth[i] and last_touch >= 0 and i - last_touch <= lookback and last_cont <= last_touch:
            trend = sign * ema_slope[i] >= min_slope_atr * atr_5m[i] and np.isfinite(atr_5m[i]) and s_close > s_ema
            if require_slow_ema:
                trend = trend and s_ema > sign * ema_slow[i]
            hit[i] = trend
        floor = s_ema - pierce_off
        s_adverse = low[i] if sign > 0 else -high[i]
        if s_adverse <= s_ema + touch_off and s_close >= floor and s_open >= floor:
            last_touch = i
        if cont:
            last_cont = i
        prev_favour = high[i] if sign > 0 else -low[i]
    return hit


def _one_direction(ctx: BarContext, cfg: EmaPullbackConfig, tick: float, sign: int) -> SetupHits:
    hit = np.flatnonzero(
        _scan(
            ctx.close,
            ctx.open,
            ctx.high,
            ctx.low,
            ctx.ema_fast,
            ctx.ema_slow,
            ctx.ema_slope,
            ctx.atr_5m,
            ctx.rth,
            float(sign),
            cfg.min_slope_atr,
            cfg.require_slow_ema,
            cfg.touch_ticks * tick,
            cfg.pierce_ticks * tick,
            cfg.touch_lookback_bars,
        )
    )
    return SetupHits(hit, np.full(hit.size, sign, dtype=np.int64), ctx.ema_fast[hit])


def detect_ema_pullback(ctx: BarContext, cfg: EmaPullbackConfig, tick_size: float) -> SetupHits:
    """Bars completing a 20-EMA pullback, long and short."""
    if not cfg.enabled or ctx.size == 0:
        return SetupHits.empty()
    return SetupHits.concat([_one_direction(ctx, cfg, tick_size, 1), _one_direction(ctx, cfg, tick_size, -1)])
