"""The arrays every scalper setup reads, computed once per call and all point-in-time.

Value ``i`` of every array is known at the close of bar ``i`` (its open ``ts`` + the bar span):
the EMAs and the session VWAP include bar ``i`` itself, `atr_5m` comes only from 5-minute bins that
have closed by then, and `volume_multiple` compares with earlier trading days only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.bars import BAR_COLUMNS
from mesdesk.calendar import RTH_OPEN_CT, ct_wall
from mesdesk.errors import ConfigError, DataError
from mesdesk.indicators import ema, group_starts, session_vwap, volume_multiple, wilder
from mesdesk.timeframes import Timeframe

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NS_PER_MIN = 60 * 1_000_000_000
NS_PER_DAY = 24 * 60 * NS_PER_MIN
RTH_OPEN_MIN = RTH_OPEN_CT.hour * 60 + RTH_OPEN_CT.minute
VwapAnchor = Literal["rth", "trading_day"]


@dataclass(frozen=True, slots=True)
class IndicatorConfig:
    """Indicator settings shared by the three setups and the prefilter.

    `rth_end_min` is minutes after CT midnight where regular hours end (900 = 15:00 CT);
    `vwap_anchor` "rth" restarts VWAP at 08:30 CT, "trading_day" at 17:00 CT.
    """

    tick_size: float = 0.25
    ema_fast: int = 20
    ema_slow: int = 50
    atr_period: int = 14
    slope_bars: int = 5
    vwap_anchor: VwapAnchor = "rth"
    volume_lookback_days: int = 20
    volume_min_days: int = 3
    rth_end_min: int = 15 * 60

    def __post_init__(self) -> None:
        for name in ("ema_fast", "ema_slow", "atr_period", "slope_bars", "volume_lookback_days", "volume_min_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.tick_size <= 0:
            raise ConfigError(f"tick_size must be positive, got {self.tick_size}")
        if self.vwap_anchor not in ("rth", "trading_day"):
            raise ConfigError(f"vwap_anchor must be 'rth' or 'trading_day', got {self.vwap_anchor!r}")
        if not RTH_OPEN_MIN < self.rth_end_min <= 16 * 60:
            raise ConfigError(f"rth_end_min must be in ({RTH_OPEN_MIN}, 960], got {self.rth_end_min}")


@dataclass(frozen=True, slots=True)
class BarContext:
    """Columns of the decision bars plus derived series, one value per bar.

    Only bars from shortly before 08:30 CT to the RTH end are kept; `source_index` is their position
    in the input frame. `day` is a dense trading-day rank (0, 1, ...) in bar order; `minute_open` the
    CT wall minute of the bar's open; `rth` marks bars that open in regular hours;
    `minutes_since_open` is measured at the bar's close from 08:30 CT.
    """

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    source_index: IntArray
    close_ns: IntArray
    bar_minutes: float
    trading_day: npt.NDArray[np.datetime64]
    day: IntArray
    n_days: int
    minute_open: IntArray
    minutes_since_open: FloatArray
    rth: BoolArray
    ema_fast: FloatArray
    ema_slow: FloatArray
    ema_slope: FloatArray
    vwap: FloatArray
    atr_5m: FloatArray
    atr_bar: FloatArray
    volume_multiple: FloatArray

    @property
    def size(self) -> int:
        return int(self.close.size)


def _check_bars(bars: pd.DataFrame) -> pd.DatetimeIndex:
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(f"detect_candidates: missing column(s) {', '.join(missing)}")
    if not isinstance(bars.index, pd.DatetimeIndex) or bars.index.tz is None:
        raise DataError("detect_candidates: bars need a timezone-aware DatetimeIndex (bar open, UTC)")
    for col in ("open", "high", "low", "close"):
        finite = np.isfinite(bars[col].to_numpy(dtype=np.float64))
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise DataError(
                f"detect_candidates: {col} is not a finite price at row {int(bad[0])} ({bars.index[bad[0]]})"
            )
    index = bars.index.tz_convert("UTC").as_unit("ns")
    ns = index.asi8
    if len(index) > 1 and not (ns[1:] > ns[:-1]).all():
        raise DataError("detect_candidates: bar timestamps must be strictly increasing (validate_bars first)")
    return index


def _atr_5m(bars: pd.DataFrame, open_ns: IntArray, timeframe: Timeframe, period: int, close_ns: IntArray) -> FloatArray:
    """ATR (points) of complete 5m bins, as known at each decision bar's close."""
    if timeframe.span > Timeframe.M5.span:
        raise ConfigError(f"timeframe={timeframe.value}: scalper setups run on bars of 5m or finer")
    from mesdesk.setups.scans import binned_atr_asof

    out: FloatArray = binned_atr_asof(
        open_ns,
        bars["high"].to_numpy(dtype=np.float64),
        bars["low"].to_numpy(dtype=np.float64),
        bars["close"].to_numpy(dtype=np.float64),
        int(pd.Timedelta(Timeframe.M5.span).value),
        int(pd.Timedelta(timeframe.span).value),
        period,
        close_ns,
    )
    return out


def _vwap_keys(tday_int: IntArray, minute_open: IntArray, rth: BoolArray, anchor: VwapAnchor) -> IntArray:
    if anchor == "trading_day":
        return tday_int
    # Pre-open, regular hours and post-close of one trading day each get their own key.
    segment = np.where(rth, 1, np.where(minute_open < RTH_OPEN_MIN, 0, 2))
    return np.asarray(tday_int * 3 + segment, dtype=np.int64)


def ct_wall_ns(utc_ns: IntArray) -> IntArray:
    """Central wall-clock nanoseconds of sorted UTC instants.

    The Central offset changes only on whole UTC hours, so `calendar.ct_wall` of every UTC hour
    from the first instant to the last gives the exact offset; the instants are then shifted in a
    few slices, one per run of equal offsets (a DST change starts a new run), which keeps a million
    bars at a few milliseconds.
    """
    if utc_ns.size == 0:
        return utc_ns.copy()
    hour_ns = 3600 * 1_000_000_000
    hours = np.arange(utc_ns[0] // hour_ns, utc_ns[-1] // hour_ns + 1, dtype=np.int64) * hour_ns
    offset = np.asarray(ct_wall(pd.DatetimeIndex(pd.to_datetime(hours, unit="ns", utc=True))).asi8) - hours
    change = np.flatnonzero(offset[1:] != offset[:-1]) + 1
    edges = np.concatenate(([0], np.searchsorted(utc_ns, hours[change]), [utc_ns.size]))
    run_offset = offset[np.concatenate(([0], change))]
    out = np.empty_like(utc_ns, dtype=np.int64)
    for k, shift in enumerate(run_offset.tolist()):
        out[edges[k] : edges[k + 1]] = utc_ns[edges[k] : edges[k + 1]] + shift
    return out


def build_context(
    bars: pd.DataFrame, config: IndicatorConfig, timeframe: Timeframe, pre_open_minutes: float = 30.0
) -> BarContext:
    """Compute every shared series (numpy, plus compiled one-pass loops), keeping only the bars the setups can use.

    The EMAs, the bar ATR and the 5m ATR run over all bars (so they are warm at the open); the
    context then keeps the bars from `pre_open_minutes` before 08:30 CT to the RTH end of each day
    (setups only complete on RTH bars and look back a few bars). The RTH-anchored VWAP and the
    volume multiple (same minute of earlier days) only need those bars. `source_index` maps the
    kept bars back to positions in `bars`.
    """
    from mesdesk.setups.scans import kept_bars

    index = _check_bars(bars)
    span_ns = int(pd.Timedelta(timeframe.span).value)
    open_ns = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    wall_ns = ct_wall_ns(open_ns)
    src, minute = kept_bars(wall_ns, float(RTH_OPEN_MIN - pre_open_minutes), config.rth_end_min)

    c_all = bars["close"].to_numpy(dtype=np.float64)
    h_all = bars["high"].to_numpy(dtype=np.float64)
    lo_all = bars["low"].to_numpy(dtype=np.float64)
    ema_fast_all = ema(c_all, config.ema_fast)
    k = config.slope_bars
    # The slope only at the kept bars (NaN for the first k bars of the input).
    ema_fast = ema_fast_all[src]
    slope = ema_fast - ema_fast_all[np.maximum(src - k, 0)]
    slope[src < k] = np.nan
    # Bar ATR over the kept bars only (true ranges use the real previous close), a feature.
    prev_close = c_all[np.maximum(src - 1, 0)]
    h, lo = h_all[src], lo_all[src]
    true_range = np.maximum(h - lo, np.maximum(np.abs(h - prev_close), np.abs(lo - prev_close)))
    atr_bar = wilder(true_range, config.atr_period) if src.size else prev_close

    o = bars["open"].to_numpy(dtype=np.float64)[src]
    c = c_all[src]
    volume = bars["volume"].to_numpy()
    v = volume[src].astype(np.float64)  # the kept bars only (the whole-day VWAP converts its own)
    close_ns = open_ns[src] + span_ns
    shifted = wall_ns[src] + 7 * 60 * NS_PER_MIN  # 17:00 CT -> 00:00 of the trading day
    tday_int = np.asarray(shifted // NS_PER_DAY, dtype=np.int64)
    day = np.asarray(np.cumsum(group_starts(tday_int)) - 1, dtype=np.int64)
    rth = minute >= RTH_OPEN_MIN
    bar_minutes = span_ns / NS_PER_MIN

    if config.vwap_anchor == "rth":
        vwap = session_vwap(h, lo, c, v, _vwap_keys(tday_int, minute, rth, "rth"))
    else:
        all_tday = np.asarray((wall_ns + 7 * 60 * NS_PER_MIN) // NS_PER_DAY, dtype=np.int64)
        vwap = session_vwap(h_all, lo_all, c_all, volume.astype(np.float64), all_tday)[src]
    slot = np.asarray((shifted % NS_PER_DAY) // span_ns, dtype=np.int64)
    vm = volume_multiple(v, day, slot, config.volume_lookback_days, config.volume_min_days) if src.size else v
    return BarContext(
        open=o,
        high=h,
        low=lo,
        close=c,
        source_index=src,
        close_ns=close_ns,
        bar_minutes=bar_minutes,
        trading_day=tday_int.astype("datetime64[D]"),
        day=day,
        n_days=int(day[-1]) + 1 if day.size else 0,
        minute_open=minute,
        minutes_since_open=(minute - RTH_OPEN_MIN).astype(np.float64) + bar_minutes,
        rth=rth,
        ema_fast=ema_fast,
        ema_slow=ema(c_all, config.ema_slow)[src],
        ema_slope=slope,
        vwap=vwap,
        atr_5m=_atr_5m(bars, open_ns, timeframe, config.atr_period, close_ns) if src.size else np.empty(0),
        atr_bar=atr_bar,
        volume_multiple=vm,
    )


@dataclass(frozen=True, slots=True)
class SetupHits:
    """Bars where a setup completed: `index` into the bars, `sign` +1 long / -1 short, and the
    setup's reference `level` at that bar (OR edge, EMA or VWAP) in points."""

    index: IntArray
    sign: IntArray
    level: FloatArray

    @staticmethod
    def empty() -> SetupHits:
        return SetupHits(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))

    @staticmethod
    def concat(parts: list[SetupHits]) -> SetupHits:
        if not parts:
            return SetupHits.empty()
        return SetupHits(
            np.concatenate([p.index for p in parts]).astype(np.int64),
            np.concatenate([p.sign for p in parts]).astype(np.int64),
            np.concatenate([p.level for p in parts]).astype(np.float64),
        )


def bars_for(minutes: float, bar_minutes: float) -> int:
    """A span in minutes as a whole number of bars (at least one)."""
    return max(1, int(round(minutes / bar_minutes)))
