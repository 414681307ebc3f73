"""The measured-move scan: base bars -> each timeframe -> ABC signals + VIX regime + outcomes.

One row per signal with `CSV_COLUMNS` first (the seed's CSV), then extra columns. Outcomes are walked
on the base bars (1m or 5m), the finest path available, so fewer bars are ambiguous than on the
signal's own timeframe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from mesdesk.data.resample import bin_close_ns, resample
from mesdesk.data.vix import vix_asof, vix_filter_passed
from mesdesk.errors import ConfigError
from mesdesk.pathbars import PathBars
from mesdesk.setups.measured_move import MeasuredMoveConfig, detect_measured_moves
from mesdesk.setups.measured_move_outcomes import OutcomeConfig, follow_outcomes
from mesdesk.timeframes import SCAN_TIMEFRAMES, Timeframe

CSV_COLUMNS = (
    "timeframe",
    "direction",
    "a_time",
    "a_price",
    "b_time",
    "b_price",
    "c_time",
    "c_price",
    "confirmed_at",
    "retrace_pct",
    "entry",
    "stop",
    "target_100",
    "target_123_6",
    "rr",
    "vix",
    "vix_filter_passed",
    "volume_confirmed",
    "outcome",
    "outcome_at",
    "mfe",
    "mae",
)
EXTRA_COLUMNS = (
    "ref_price",
    "entry_at",
    "expiry_at",
    "resolved_at",
    "exit_price",
    "pnl_pts",
    "pnl_ext_pts",
    "ambiguous",
    "leg_ab_mean_volume",
    "leg_bc_mean_volume",
)
TIME_COLUMNS = ("a_time", "b_time", "c_time", "confirmed_at", "outcome_at", "entry_at", "expiry_at", "resolved_at")
RESOLVED = ("target_100", "target_123_6", "stop", "expiry")


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Everything a scan needs besides the bars and the VIX series."""

    timeframes: tuple[Timeframe, ...] = SCAN_TIMEFRAMES
    rules: MeasuredMoveConfig = field(default_factory=MeasuredMoveConfig)
    outcomes: OutcomeConfig = field(default_factory=OutcomeConfig)
    vix_long_max: float = 18.0
    vix_short_min: float = 16.0

    def __post_init__(self) -> None:
        if not self.timeframes:
            raise ConfigError("timeframes: give at least one of 5m, 15m, 1h, 4h, 1d")
        if self.vix_long_max <= 0 or self.vix_short_min <= 0:
            raise ConfigError(f"VIX thresholds must be positive, got {self.vix_long_max}/{self.vix_short_min}")


def base_span(bars: pd.DataFrame) -> pd.Timedelta:
    """The base bar length: the smallest gap between consecutive bars (1 minute if a single bar)."""
    ns = pd.DatetimeIndex(bars.index).as_unit("ns").asi8
    return pd.Timedelta(int(np.diff(ns).min()) if ns.size > 1 else 60_000_000_000, unit="ns")


_CHAIN = (Timeframe.M5, Timeframe.M15, Timeframe.H1, Timeframe.H4, Timeframe.D1)


def timeframe_bars(
    bars: pd.DataFrame, timeframes: tuple[Timeframe, ...], span: pd.Timedelta
) -> dict[Timeframe, pd.DataFrame]:
    """Complete bars of each timeframe, resampled in a chain (base -> 5m -> 15m -> 1h -> 4h -> 1d).

    Each step's bins are unions of the previous step's bins (all anchored on 17:00 CT), and a bin is
    complete in the coarser frame exactly when it is complete in the base bars, so the chain gives the
    same bars as resampling the base directly, with the slow CT wall-clock binning of 4h/1d done on
    hourly bars instead of minutes. A first bin that starts before the first base bar (data cut
    mid-bin, as ``--days-back`` does) is partial and left out: every bar returned is a whole bin.
    Base bars opening after their trading day's close (a 16:00 CT settlement print, prints after an
    early close) are left out first: on the hourly chain they would reach a 4h/1d bin that closed
    before them, and on their own they would make one-minute "bars" of 5m..1h.
    """
    for tf in timeframes:
        if pd.Timedelta(tf.span) < span:
            raise ConfigError(f"timeframes: {tf.value} is finer than the base bars ({span})")
    wanted = max(_CHAIN.index(tf) for tf in timeframes)
    out: dict[Timeframe, pd.DataFrame] = {}
    if len(bars):
        in_session = pd.DatetimeIndex(bars.index).as_unit("ns").asi8 < bin_close_ns(
            pd.DatetimeIndex(bars.index), Timeframe.D1
        )
        if not in_session.all():
            bars = bars[in_session]
    source, source_span = bars, span
    first_open = bars.index[0] if len(bars) else pd.Timestamp.min.tz_localize("UTC")
    for tf in _CHAIN[: wanted + 1]:
        tf_span = pd.Timedelta(tf.span)
        if tf_span < span:
            continue
        frame = source if tf_span == source_span else resample(source, tf, source_span=source_span)
        if tf in (Timeframe.H4, Timeframe.D1):
            frame = _with_direct_tail(frame, bars, tf, span)
        if len(frame) and frame.index[0] < first_open:
            frame = frame.iloc[1:]  # a bin labelled by its open before the data start is partial
        out[tf] = frame
        source, source_span = frame, tf_span
    return {tf: out[tf] for tf in timeframes}


def _with_direct_tail(frame: pd.DataFrame, base: pd.DataFrame, tf: Timeframe, span: pd.Timedelta) -> pd.DataFrame:
    """`frame` (4h/1d from the chain) plus the bins after its last one, resampled from the base bars.

    On an early-close day the hourly bar that straddles the close (12:00-13:00 CT for a 12:15 close) is
    complete only at 13:00, so the chain held back the 4h/1d bins that end at 12:15 until the next
    session; the base bars complete them at the close, as resampling the base directly does.
    """
    base_ns = pd.DatetimeIndex(base.index).as_unit("ns").asi8
    tail = base
    if len(frame):
        since = int(bin_close_ns(pd.DatetimeIndex(frame.index[-1:]), tf)[0])
        tail = base.iloc[int(np.searchsorted(base_ns, since, side="left")) :]
    if len(tail) == 0:
        return frame
    extra = resample(tail, tf, source_span=span)
    if len(frame):
        extra = extra[extra.index > frame.index[-1]]
    return pd.concat([frame, extra]) if len(extra) else frame


def scan_bars(bars: pd.DataFrame, config: ScanConfig, vix: pd.Series) -> pd.DataFrame:
    """Signals of every configured timeframe from validated base bars, sorted by confirmation time.

    `vix` is a daily close series (see `mesdesk.data.vix`); each signal reads the last close usable at
    its ``confirmed_at``.
    """
    span = base_span(bars)
    path = PathBars.from_frame(bars, span)
    frames = []
    for tf, tf_bars in timeframe_bars(bars, config.timeframes, span).items():
        sig = detect_measured_moves(tf_bars, tf, config.rules)
        if sig.empty:
            continue
        tf_close = bin_close_ns(pd.DatetimeIndex(tf_bars.index), tf)
        out = follow_outcomes(sig, tf_close, path, config.outcomes)
        frames.append(pd.concat([sig, out], axis=1))
    if not frames:
        return _empty_scan()
    signals = pd.concat(frames, ignore_index=True)
    signals["vix"] = vix_asof(vix, pd.DatetimeIndex(signals["confirmed_at"]))
    signals["vix_filter_passed"] = vix_filter_passed(
        signals["direction"], signals["vix"], long_max=config.vix_long_max, short_min=config.vix_short_min
    )
    order = np.argsort(signals["confirmed_at"].to_numpy(), kind="stable")
    signals = signals.iloc[order].reset_index(drop=True)
    return signals[[*CSV_COLUMNS, *EXTRA_COLUMNS]]


def _empty_scan() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in (*CSV_COLUMNS, *EXTRA_COLUMNS)})
    for c in ("timeframe", "direction", "outcome"):
        frame[c] = pd.Series(dtype="object")
    for c in TIME_COLUMNS:
        frame[c] = pd.Series(dtype="datetime64[ns, UTC]")
    for c in ("vix_filter_passed", "volume_confirmed", "ambiguous"):
        frame[c] = pd.Series(dtype="bool")
    return frame


EVALUATION_COLUMNS = (
    "timeframe",
    "signals",
    "taken",
    "resolved",
    "target_100_rate",
    "target_123_6_rate",
    "stop_rate",
    "expiry_rate",
    "ambiguous",
    "expectancy_pts",
    "ci95_low_pts",
    "ci95_high_pts",
    "expectancy_ext_pts",
)


def evaluate(signals: pd.DataFrame, timeframes: tuple[Timeframe, ...] = SCAN_TIMEFRAMES) -> pd.DataFrame:
    """Per timeframe: counts, hit rates and expectancy (points, gross) of the signals that were taken.

    *taken* = passed the VIX filter (the volume requirement, when on, already removed the others);
    *resolved* = taken with a final outcome (target_100, target_123_6, stop or expiry; not open or
    void). Rates are fractions of resolved; target_100_rate counts every signal that reached
    target_100 (so it includes the target_123_6 ones). Expectancy is the mean ``pnl_pts`` (exit at
    target_100, the stop or expiry) over resolved signals, with a 95% Student-t interval
    (NaN below two signals); ``expectancy_ext_pts`` is the same mean for the hold-for-123.6% plan.
    """
    rows = []
    for tf in timeframes:
        sub = signals[signals["timeframe"] == tf.value]
        taken = sub[sub["vix_filter_passed"].astype(bool)]
        res = taken[taken["outcome"].isin(RESOLVED)]
        n = len(res)
        pnl = res["pnl_pts"].to_numpy(dtype=np.float64)
        mean = float(pnl.mean()) if n else np.nan
        lo, hi = np.nan, np.nan
        if n >= 2:
            sem = float(pnl.std(ddof=1)) / np.sqrt(n)
            half = float(stats.t.ppf(0.975, n - 1)) * sem
            lo, hi = mean - half, mean + half
        outcome = res["outcome"]

        def rate(mask: pd.Series, n: int = n) -> float:
            return float(mask.sum()) / n if n else np.nan

        rows.append(
            {
                "timeframe": tf.value,
                "signals": len(sub),
                "taken": len(taken),
                "resolved": n,
                "target_100_rate": rate(outcome.isin(("target_100", "target_123_6"))),
                "target_123_6_rate": rate(outcome == "target_123_6"),
                "stop_rate": rate(outcome == "stop"),
                "expiry_rate": rate(outcome == "expiry"),
                "ambiguous": int(res["ambiguous"].astype(bool).sum()),
                "expectancy_pts": mean,
                "ci95_low_pts": lo,
                "ci95_high_pts": hi,
                "expectancy_ext_pts": float(res["pnl_ext_pts"].mean()) if n else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))
