"""The arrays every scalper setup reads, computed once per call and all point-in-time.

Value ``i`` of every array is known at the close of bar ``i`` (its open ``ts`` + the bar span):
the EMAs and the session VWAP include bar ``i`` itself, `atr_5m` comes only from 5-minute bins that
have closed by then, and `volume_multiple` compares with earlier trading days only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.bars import BAR_COLUMNS
from mesdesk.calendar import RTH_OPEN_CT, ct_hour_runs
from mesdesk.errors import ConfigError, DataError
from mesdesk.indicators import session_vwap
from mesdesk.timeframes import Timeframe

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CtRuns = tuple[int, int, IntArray, IntArray]  # the first and last UTC instant (ns) covered, `ct_offset_runs`
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
    """The decision bars the setups can use (the kept bars) and their derived series, one value per kept
    bar, with what the rest is worked out from.

    Only bars from shortly before 08:30 CT to the RTH end are kept; `source_index` is their position
    in the input frame. The input's own columns stay whole and are read at those positions: every bar's
    prices `bar_open`, `bar_high`, `bar_low`, `bar_close` (the kept bars' are `open`, `high`, `low`,
    `close`, or `price(name, rows)` at some of them) and opens `bar_open_ns` (closes: `close_ns`,
    `close_ns_at`). `day` is a dense trading-day rank (0, 1, ...) in bar order and `day_dates[day]` its
    trading day (`trading_day`, `trading_day_at`); `minute_open` the CT wall minute of the bar's open;
    `rth` marks bars that open in regular hours; `minutes_since_open` (worked out from `minute_open`) is
    measured at the bar's close from 08:30 CT. The other arrays hold one value per kept bar.
    """

    bar_open: FloatArray
    bar_high: FloatArray
    bar_low: FloatArray
    bar_close: FloatArray
    source_index: IntArray
    bar_open_ns: IntArray  # every input bar's open (UTC ns)
    span_ns: int
    bar_minutes: float
    ct_runs: CtRuns  # the Central offsets over the bars' span, opens to the last close (`ct_wall_ns`)
    day_dates: npt.NDArray[np.datetime64]  # the trading day of each day rank
    day: IntArray
    n_days: int
    minute_open: IntArray
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
        return int(self.source_index.size)

    def close_ns_at(self, rows: IntArray) -> IntArray:
        """The close (UTC ns) of the kept bars `rows`."""
        return np.asarray(self.bar_open_ns[self.source_index[rows]] + self.span_ns, dtype=np.int64)

    def trading_day_at(self, rows: IntArray) -> npt.NDArray[np.datetime64]:
        """The trading day of the kept bars `rows`."""
        return self.day_dates[self.day[rows]]

    @property
    def close_ns(self) -> IntArray:
        return self.close_ns_at(np.arange(self.size))

    @property
    def trading_day(self) -> npt.NDArray[np.datetime64]:
        return self.day_dates[self.day]

    def price(self, name: str, rows: IntArray) -> FloatArray:
        """The kept bars' `rows`' open, high, low or close (`name`)."""
        prices: FloatArray = getattr(self, f"bar_{name}")
        return prices[self.source_index[rows]]

    @property
    def minutes_since_open(self) -> FloatArray:
        """Minutes from 08:30 CT to each kept bar's close (as the setups compute it from `minute_open`)."""
        return self.minutes_since_open_at(np.arange(self.size))

    def minutes_since_open_at(self, rows: IntArray) -> FloatArray:
        """`minutes_since_open` of the kept bars `rows` (NaN at a row of unknown minute, below 0)."""
        minute = self.minute_open[rows]
        since = (minute - RTH_OPEN_MIN).astype(np.float64) + self.bar_minutes
        return np.where(minute >= 0, since, np.nan)

    @property
    def open(self) -> FloatArray:
        return self.bar_open[self.source_index]

    @property
    def high(self) -> FloatArray:
        return self.bar_high[self.source_index]

    @property
    def low(self) -> FloatArray:
        return self.bar_low[self.source_index]

    @property
    def close(self) -> FloatArray:
        return self.bar_close[self.source_index]


BAR_PRICES = ("bar_open", "bar_high", "bar_low", "bar_close")  # every input bar's, not one per kept bar


def _bars_index(bars: pd.DataFrame) -> pd.DatetimeIndex:
    """The bars' index in UTC, nanoseconds, once the columns and the index are checked (the prices and
    the order are checked in the context's pass, which reads them anyway; `_refuse_values` says why)."""
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(f"detect_candidates: missing column(s) {', '.join(missing)}")
    if not isinstance(bars.index, pd.DatetimeIndex) or bars.index.tz is None:
        raise DataError("detect_candidates: bars need a timezone-aware DatetimeIndex (bar open, UTC)")
    index = bars.index.tz_convert("UTC")
    if index.unit != "ns":  # as_unit copies even when the unit is already ns
        index = index.as_unit("ns")
    return index


def _refuse_values(prices: tuple[FloatArray, ...], index: pd.DatetimeIndex) -> NoReturn:
    """Raise for the first price (open, high, low, close) that is not finite, else for timestamps out of order."""
    for col, values in zip(BAR_COLUMNS[:4], prices, strict=True):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(f"detect_candidates: {col} is not a finite price at row {int(bad[0])} ({index[bad[0]]})")
    raise DataError("detect_candidates: bar timestamps must be strictly increasing (validate_bars first)")


def ct_offset_runs(first_ns: int, last_ns: int) -> tuple[IntArray, IntArray]:
    """The Central offsets (ns) from one UTC instant to another: the instants where it changes, each run's offset.

    The offset changes only on whole UTC hours: these are `calendar.ct_hour_runs` of the hours from the
    first instant to the last, their change hours in ns. An instant ``t`` has offset ``run_offset[r]``,
    ``r`` being the number of change instants at or before ``t``.
    """
    hour_ns = 3600 * 1_000_000_000
    change_hours, run_offset = ct_hour_runs(first_ns // hour_ns, last_ns // hour_ns)
    return change_hours * hour_ns, run_offset


def ct_wall_ns(utc_ns: IntArray, runs: CtRuns | None = None) -> IntArray:
    """Central wall-clock nanoseconds of sorted UTC instants.

    The instants are shifted in a few slices, one per run of equal offsets (`ct_offset_runs`; a DST
    change starts a new run), which keeps a million bars at a few milliseconds. `runs` are used when
    they cover the instants (a context's, `BarContext.ct_runs`), else worked out.
    """
    if utc_ns.size == 0:
        return utc_ns.copy()
    if runs is not None and runs[0] <= int(utc_ns[0]) and int(utc_ns[-1]) <= runs[1]:
        change_ns, run_offset = runs[2], runs[3]
    else:
        change_ns, run_offset = ct_offset_runs(int(utc_ns[0]), int(utc_ns[-1]))
    edges = np.concatenate(([0], np.searchsorted(utc_ns, change_ns), [utc_ns.size]))
    out = np.empty_like(utc_ns, dtype=np.int64)
    for k, shift in enumerate(run_offset.tolist()):
        out[edges[k] : edges[k + 1]] = utc_ns[edges[k] : edges[k + 1]] + shift
    return out


ScanArgs = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], tuple[bool, bool, bool]]
Scanned = tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]


def build_context(
    bars: pd.DataFrame, config: IndicatorConfig, timeframe: Timeframe, pre_open_minutes: float = 30.0
) -> BarContext:
    """Compute every shared series in one compiled pass (`context_pass`), keeping only the bars the setups can use.

    (`build_context_and_scan` without scans.)
    """
    return build_context_and_scan(bars, config, timeframe, pre_open_minutes, None)[0]


def build_context_and_scan(
    bars: pd.DataFrame,
    config: IndicatorConfig,
    timeframe: Timeframe,
    pre_open_minutes: float,
    scan: ScanArgs | None,
) -> tuple[BarContext, Scanned | None]:
    """The context (`build_context`) and, given the scans' arguments after their series (`scan`: the orb,
    ema and vwap tuples and `enabled` of `scans.scalper_scans`) and an RTH-anchored VWAP, the scans run in
    the same compiled call (`scans.context_and_scans`): the opening range's high and low and the six hit
    rows. Otherwise (no `scan`, or the trading-day VWAP, worked out after the pass) None for the scans.

    The EMAs and the 5m ATR run over all bars (so they are warm at the open); the context keeps the
    bars from `pre_open_minutes` before 08:30 CT to the RTH end of each day (setups only complete on
    RTH bars and look back a few bars). The bar ATR (true ranges with the real previous close), the
    RTH-anchored VWAP and the volume multiple (same minute of earlier days) only need those bars.
    `source_index` maps the kept bars back to positions in `bars`.
    """
    from mesdesk.setups import context_pass as kernel

    index = _bars_index(bars)
    span_ns = int(pd.Timedelta(timeframe.span).value)
    open_ns = np.asarray(index.asi8, dtype=np.int64)
    # The runs reach the last bar's close: the candidates' times (closes) are put on the CT clock with them.
    # (max: bars out of order reach the pass, which refuses them, with runs that cover at least the first.)
    last_ns = max(int(open_ns[-1]), int(open_ns[0])) + span_ns if open_ns.size else 0
    change_ns, run_offset = ct_offset_runs(int(open_ns[0]), last_ns) if open_ns.size else (open_ns, open_ns)
    runs: CtRuns = (int(open_ns[0]) if open_ns.size else 0, last_ns, change_ns, run_offset)
    o_all, h_all, lo_all, c_all = (
        np.ascontiguousarray(bars[col].to_numpy(dtype=np.float64)) for col in BAR_COLUMNS[:4]
    )
    volume = np.ascontiguousarray(bars["volume"].to_numpy())
    periods = np.array(
        [
            *(config.ema_fast, config.ema_slow, config.slope_bars, config.atr_period),
            *(config.volume_lookback_days, config.volume_min_days),
        ],
        dtype=np.int64,
    )
    args = (
        *(open_ns, (o_all, h_all, lo_all, c_all, volume), change_ns, run_offset),
        *(float(RTH_OPEN_MIN - pre_open_minutes), config.rth_end_min, span_ns, periods),
    )
    scanned: Scanned | None = None
    if scan is not None and config.vwap_anchor == "rth":
        from mesdesk.setups.scans import context_and_scans

        floats, ints, rth, day_dates, valid, edges, hits = context_and_scans(*args, *scan)
        scanned = (edges[0], edges[1], hits)
    else:
        floats, ints, rth, day_dates, valid = kernel.context_pass(*args, config.vwap_anchor == "rth")
    if not valid:
        _refuse_values((o_all, h_all, lo_all, c_all), index)
    m = rth.size
    if m and timeframe.span > Timeframe.M5.span:
        raise ConfigError(f"timeframe={timeframe.value}: scalper setups run on bars of 5m or finer")
    kept: dict[str, FloatArray] = dict(zip(kernel.FLOAT_ROWS, floats, strict=True))
    kept_int: dict[str, IntArray] = dict(zip(kernel.INT_ROWS, ints, strict=True))
    src, minute, day = kept_int["source_index"], kept_int["minute_open"], kept_int["day"]
    if config.vwap_anchor == "trading_day":
        all_tday = np.asarray((ct_wall_ns(open_ns, runs) + 7 * 60 * NS_PER_MIN) // NS_PER_DAY, dtype=np.int64)
        kept["vwap"] = session_vwap(h_all, lo_all, c_all, volume.astype(np.float64), all_tday)[src]
    context = BarContext(
        bar_open=o_all,
        bar_high=h_all,
        bar_low=lo_all,
        bar_close=c_all,
        source_index=src,
        bar_open_ns=open_ns,
        span_ns=span_ns,
        bar_minutes=span_ns / NS_PER_MIN,
        ct_runs=runs,
        day_dates=day_dates.view("datetime64[D]"),
        day=day,
        n_days=int(day_dates.size),
        minute_open=minute,
        rth=rth,
        ema_fast=kept["ema_fast"],
        ema_slow=kept["ema_slow"],
        ema_slope=kept["ema_slope"],
        vwap=kept["vwap"],
        atr_5m=kept["atr_5m"],
        atr_bar=kept["atr_bar"],
        volume_multiple=kept["volume_multiple"],
    )
    return context, scanned


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
    def at(hit: BoolArray, sign: int, level: FloatArray) -> SetupHits:
        """The bars where a scan's `hit` is true, with `sign` and the `level` series read there."""
        index = np.flatnonzero(hit)
        return SetupHits(index, np.full(index.size, sign, dtype=np.int64), level[index])

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
