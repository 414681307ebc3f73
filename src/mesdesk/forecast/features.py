"""Point-in-time features and horizon targets for the MES forecast.

One row per base bar, keyed by the bar's **close** (the decision time `t`). Every feature of row `t`
uses only bars closed at or before `t` and macro values published at or before `t`:

============  ==========================================================================  ========
feature       definition                                                                  unit
============  ==========================================================================  ========
ret_bar       return of the last bar (close to close)                                    %
ret_1h        return from the last close known at t - 1h to the close at t               %
ret_4h        same over 4 hours                                                           %
ret_1d        return of the last complete trading day (its 16:00 CT close vs the one
              before), known from that 16:00 CT close                                     %
ret_session   return from the current trading day's first open to the close at t         %
rv_1h         standard deviation of the bar returns of the last hour of bars              %
vix           VIXCLS (or its synthetic proxy), latest published value                     points
fed_rates     DFF, latest published value                                                 %
usd_fx        7-calendar-day change of DTWEXBGS (published values)                        %
china         7-calendar-day change of DEXCHUS (published values)                         %
============  ==========================================================================  ========

Targets (`targets`): for a horizon `h`, the percent return from the close at `t` to the last close
known at `t + h`; NaN when the data end before `t + h` (the outcome is not known yet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mesdesk.calendar import CT, trading_days
from mesdesk.data.resample import bin_close_ns
from mesdesk.errors import DataError
from mesdesk.forecast.horizons import Horizon
from mesdesk.forecast.macro import MacroData
from mesdesk.indicators import align_asof
from mesdesk.timeframes import Timeframe

FEATURES: tuple[str, ...] = (
    "ret_bar",
    "ret_1h",
    "ret_4h",
    "ret_1d",
    "ret_session",
    "rv_1h",
    "vix",
    "fed_rates",
    "usd_fx",
    "china",
)
MACRO_FEATURES: tuple[str, ...] = ("vix", "fed_rates", "usd_fx", "china")

_NS_HOUR = 3_600 * 1_000_000_000
_NS_DAY = 24 * _NS_HOUR


@dataclass(frozen=True)
class FeatureSet:
    """Features (rows keyed by decision time, UTC), the close at each decision time and the macro source."""

    frame: pd.DataFrame
    close: np.ndarray
    timeframe: Timeframe
    macro_source: str

    @property
    def t_ns(self) -> np.ndarray:
        return np.asarray(pd.DatetimeIndex(self.frame.index).as_unit("ns").asi8, dtype=np.int64)

    def targets(self, horizon: Horizon) -> np.ndarray:
        """Percent return to the last close known at t + h; NaN where t + h is past the data."""
        return forward_returns_pct(self.t_ns, self.close, horizon.ns)


def forward_returns_pct(t_ns: np.ndarray, close: np.ndarray, horizon_ns: int) -> np.ndarray:
    """For each time, 100 x (close as of t + h / close at t - 1); NaN when t + h is after the last time."""
    future = align_asof(t_ns, close, t_ns + horizon_ns)
    out: np.ndarray = 100.0 * (future / close - 1.0)
    out[t_ns + horizon_ns > t_ns[-1]] = np.nan
    return out


def _pct_change_asof(t_ns: np.ndarray, close: np.ndarray, lag_ns: int) -> np.ndarray:
    past = align_asof(t_ns, close, t_ns - lag_ns)
    return 100.0 * (close / past - 1.0)


def _daily_returns_known(index: pd.DatetimeIndex, close: np.ndarray, t_ns: np.ndarray) -> np.ndarray:
    """Return of the last complete trading day, known from its 16:00 CT close (never from a partial day)."""
    days = trading_days(index)
    last_of_day = np.flatnonzero(np.concatenate((days[1:] != days[:-1], [True])))
    day_close = close[last_of_day]
    day_ret = np.full(day_close.size, np.nan)
    day_ret[1:] = 100.0 * (day_close[1:] / day_close[:-1] - 1.0)
    close_wall = pd.DatetimeIndex(pd.to_datetime(days[last_of_day])) + pd.Timedelta(hours=16)
    session_end = close_wall.tz_localize(CT).tz_convert("UTC").as_unit("ns").asi8
    known = np.maximum(np.asarray(session_end, dtype=np.int64), t_ns[last_of_day])
    return align_asof(known, day_ret, t_ns)


def _session_returns(index: pd.DatetimeIndex, open_: np.ndarray, close: np.ndarray) -> np.ndarray:
    days = trading_days(index)
    starts = np.concatenate(([True], days[1:] != days[:-1]))
    first_open = open_[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    out: np.ndarray = 100.0 * (close / first_open - 1.0)
    return out


def build_features(bars: pd.DataFrame, timeframe: Timeframe, macro: MacroData) -> FeatureSet:
    """Features for every bar of `bars` (validated, `timeframe` bars); warm-up rows hold NaN."""
    if len(bars) < 3:
        raise DataError(f"forecast features need at least 3 {timeframe.value} bars, got {len(bars)}")
    index = pd.DatetimeIndex(bars.index)
    t_ns = np.asarray(bin_close_ns(index, timeframe), dtype=np.int64)
    close = bars["close"].to_numpy(dtype=np.float64)
    open_ = bars["open"].to_numpy(dtype=np.float64)
    bar_ret = np.concatenate(([np.nan], 100.0 * (close[1:] / close[:-1] - 1.0)))
    per_hour = max(2, int(round(60.0 / timeframe.minutes))) if timeframe.minutes < 60 else 2
    decision_index = pd.DatetimeIndex(pd.to_datetime(t_ns, unit="ns", utc=True), name="t")

    cols: dict[str, np.ndarray] = {
        "ret_bar": bar_ret,
        "ret_1h": _pct_change_asof(t_ns, close, _NS_HOUR),
        "ret_4h": _pct_change_asof(t_ns, close, 4 * _NS_HOUR),
        "ret_1d": _daily_returns_known(index, close, t_ns),
        "ret_session": _session_returns(index, open_, close),
        "rv_1h": pd.Series(bar_ret).rolling(per_hour, min_periods=per_hour).std(ddof=1).to_numpy(),
    }
    pit = macro.point_in_time(decision_index)
    cols["vix"] = pit["vix"]
    cols["fed_rates"] = pit["fed_rates"]
    week_ago = macro.point_in_time(pd.DatetimeIndex(pd.to_datetime(t_ns - 7 * _NS_DAY, unit="ns", utc=True)))
    for name in ("usd_fx", "china"):
        cols[name] = 100.0 * (pit[name] / week_ago[name] - 1.0)
    frame = pd.DataFrame(cols, index=decision_index)[list(FEATURES)]
    return FeatureSet(frame=frame, close=close, timeframe=timeframe, macro_source=macro.source)
