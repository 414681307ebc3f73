"""Halsey measured moves (ABC) on any bar timeframe, point-in-time.

Rules (seed 003, stated exactly):

- Bullish: A (swing low) -> B (swing high) -> C (swing low), C retracing 50%-61.8% of AB
  (``retrace = (B - C) / (B - A)``, both ends inclusive). Bearish: A (swing high) -> B (swing low)
  -> C (swing high), ``retrace = (C - B) / (A - B)``.
- Targets: the 100% and 123.6% projections of AB from C: ``C +- 1.000 * |B - A|`` and
  ``C +- 1.236 * |B - A|`` (the 123.6% level is rounded to the nearest tick; the 100% level is on the
  tick grid already when A, B and C are).
- Stop: ``stop_offset_ticks`` (default 1) beyond C. C is the pattern's invalidation point: a bullish
  ABC is wrong once price trades below C (the corrective leg was not over), and one tick beyond keeps a
  retest of C to the tick from stopping the trade. Anything further would only be an arbitrary buffer.
- R:R is measured against **target_100** from the reference price known when the signal fires (the
  close of the confirming bar): ``rr = |target_100 - ref| / |ref - stop|``; signals with
  ``rr < min_rr`` (default 2.0) are not emitted.

Pivots are `mesdesk.indicators.pivots` of order ``swing_order`` (k): a pivot at bar ``i`` is known at
the close of bar ``i + k``. They are reduced to an alternating high/low sequence in bar order; when two
pivots of the same type follow each other, the more extreme one stays (a higher high replaces the last
high, a lower low replaces the last low; on a tie the earlier one stays). Every time the last element
of the sequence is appended or replaced, the last three elements are a candidate A, B, C, evaluated at
the close of C's confirming bar (``c + k``) with nothing after it. So a signal depends only on bars up
to its confirmation and never changes when later bars arrive. A replaced C can give a second signal on
the same A-B leg (a deeper C is a new, later setup); a bar that is both a swing high and a swing low
gives no signal through that bar (its intrabar order is unknown): it enters the sequence with the
pivot of the tail's type first, so a market and its mirror image give mirrored signals.

Volume confirmation (``require_volume_confirmation``): the mean volume per bar of the B->C leg (bars
``b+1..c``) is strictly below the mean volume per bar of the A->B leg (bars ``a+1..b``), the classic
"the correction comes on lighter volume". Both legs end at or before C, so it is known at confirmation.
Every signal carries ``volume_confirmed``; with the requirement on, unconfirmed ones are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mesdesk.data.resample import bin_close_ns
from mesdesk.errors import ConfigError
from mesdesk.indicators import pivots
from mesdesk.timeframes import Timeframe

_EPS = 1e-9

#: Columns of the frame returned by `detect_measured_moves`, in order.
SIGNAL_COLUMNS = (
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
    "ref_price",
    "stop",
    "target_100",
    "target_123_6",
    "rr",
    "volume_confirmed",
    "leg_ab_mean_volume",
    "leg_bc_mean_volume",
    "a_idx",
    "b_idx",
    "c_idx",
    "confirm_idx",
)


@dataclass(frozen=True, slots=True)
class MeasuredMoveConfig:
    """Parameters of the ABC rules; fractions for the retracement band, points for the tick."""

    swing_order: int = 5
    min_retrace: float = 0.5
    max_retrace: float = 0.618
    min_rr: float = 2.0
    stop_offset_ticks: int = 1
    tick_size: float = 0.25
    require_volume_confirmation: bool = False

    def __post_init__(self) -> None:
        if self.swing_order < 1:
            raise ConfigError(f"swing_order must be >= 1, got {self.swing_order}")
        if not 0.0 < self.min_retrace <= self.max_retrace < 1.0:
            raise ConfigError(
                f"retracement band must satisfy 0 < min_retrace <= max_retrace < 1, "
                f"got {self.min_retrace}..{self.max_retrace}"
            )
        if self.min_rr < 0:
            raise ConfigError(f"min_rr must be >= 0, got {self.min_rr}")
        if self.stop_offset_ticks < 0:
            raise ConfigError(f"stop_offset_ticks must be >= 0, got {self.stop_offset_ticks}")
        if self.tick_size <= 0:
            raise ConfigError(f"tick_size must be > 0, got {self.tick_size}")


def alternating_triples(
    index: npt.NDArray[np.int64], price: npt.NDArray[np.float64], is_high: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int64]:
    """Candidate (A, B, C) positions into the pivot arrays, one row each time the sequence's tail changes.

    Runs once over the pivots (O(number of pivots)); see the module docstring for the rule. A bar that
    is both a swing high and a swing low (an outside bar, two pivots with one index) is read the same
    way for a market and its mirror image: the pivot of the tail's type first (it may replace the
    tail), then the other; at the very start of the sequence such a bar is skipped. No candidate
    contains a pivot of such a bar, since the order of its extremes is unknown.
    """
    n = index.size
    outside = np.zeros(n, dtype=bool)
    if n > 1:
        same = index[1:] == index[:-1]
        outside[1:] |= same
        outside[:-1] |= same
    seq: list[int] = []  # positions into the pivot arrays
    out: list[tuple[int, int, int]] = []

    def step(j: int) -> None:
        if seq and bool(is_high[seq[-1]]) == bool(is_high[j]):
            last = seq[-1]
            more_extreme = price[j] > price[last] if is_high[j] else price[j] < price[last]
            if not more_extreme:
                return
            seq[-1] = j
        else:
            seq.append(j)
        if len(seq) >= 3 and not outside[seq[-3:]].any():
            out.append((seq[-3], seq[-2], seq[-1]))

    j = 0
    while j < n:
        if outside[j]:  # pivots j and j + 1 are the high and the low of one bar
            if seq:
                first = j if bool(is_high[j]) == bool(is_high[seq[-1]]) else j + 1
                step(first)
                step(2 * j + 1 - first)
            j += 2
            continue
        step(j)
        j += 1
    if not out:
        return np.empty((0, 3), dtype=np.int64)
    return np.asarray(out, dtype=np.int64)


def _round_tick(x: npt.NDArray[np.float64], tick: float) -> npt.NDArray[np.float64]:
    return np.asarray(np.round(np.round(x / tick) * tick, 10), dtype=np.float64)


def detect_measured_moves(
    bars: pd.DataFrame, timeframe: Timeframe, config: MeasuredMoveConfig | None = None
) -> pd.DataFrame:
    """All ABC signals in `bars` (validated bars of `timeframe`), sorted by confirmation time.

    Times: ``a_time``/``b_time``/``c_time`` are the pivot bars' open times (the bar convention);
    ``confirmed_at`` is the close of bar ``c + swing_order`` (UTC), the moment the signal exists.
    ``ref_price`` is that bar's close. ``retrace_pct`` is in percent (50.0..61.8).
    """
    cfg = config or MeasuredMoveConfig()
    k = cfg.swing_order
    high = bars["high"].to_numpy(dtype=np.float64)
    low = bars["low"].to_numpy(dtype=np.float64)
    piv = pivots(high, low, k)
    tri = alternating_triples(piv.index, piv.price, piv.is_high)
    if tri.shape[0] == 0:
        return _empty_signals()
    a_i, b_i, c_i = (piv.index[tri[:, n]] for n in range(3))
    a_p, b_p, c_p = (piv.price[tri[:, n]] for n in range(3))
    bullish = ~piv.is_high[tri[:, 2]]  # C is a swing low
    sign = np.where(bullish, 1.0, -1.0)
    conf_i = c_i + k
    close = bars["close"].to_numpy(dtype=np.float64)
    ref = close[conf_i]

    leg = sign * (b_p - a_p)  # > 0 for a proper impulse leg
    with np.errstate(divide="ignore", invalid="ignore"):
        retrace = np.where(leg > 0, sign * (b_p - c_p) / np.where(leg > 0, leg, 1.0), np.nan)
    stop = c_p - sign * cfg.stop_offset_ticks * cfg.tick_size
    target_100 = c_p + sign * leg
    target_123 = _round_tick(c_p + sign * 1.236 * leg, cfg.tick_size)
    risk = sign * (ref - stop)
    reward = sign * (target_100 - ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.where((risk > 0) & (reward > 0), reward / np.where(risk > 0, risk, 1.0), np.nan)

    volume = bars["volume"].to_numpy(dtype=np.float64)
    cum = np.concatenate(([0.0], np.cumsum(volume)))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_ab = (cum[b_i + 1] - cum[a_i + 1]) / (b_i - a_i)
        mean_bc = (cum[c_i + 1] - cum[b_i + 1]) / (c_i - b_i)
    vol_ok = mean_bc < mean_ab

    keep = (
        (a_i < b_i)
        & (b_i < c_i)
        & (retrace >= cfg.min_retrace - _EPS)
        & (retrace <= cfg.max_retrace + _EPS)
        & (rr >= cfg.min_rr - _EPS)
    )
    if cfg.require_volume_confirmation:
        keep &= vol_ok
    sel = np.flatnonzero(keep)
    ts = pd.DatetimeIndex(bars.index)
    close_ns = bin_close_ns(ts, timeframe)
    frame = pd.DataFrame(
        {
            "timeframe": timeframe.value,
            "direction": np.where(bullish[sel], "long", "short"),
            "a_time": ts[a_i[sel]],
            "a_price": a_p[sel],
            "b_time": ts[b_i[sel]],
            "b_price": b_p[sel],
            "c_time": ts[c_i[sel]],
            "c_price": c_p[sel],
            "confirmed_at": pd.to_datetime(close_ns[conf_i[sel]], unit="ns", utc=True),
            "retrace_pct": np.round(retrace[sel] * 100.0, 4),
            "ref_price": ref[sel],
            "stop": stop[sel],
            "target_100": target_100[sel],
            "target_123_6": target_123[sel],
            "rr": np.round(rr[sel], 4),
            "volume_confirmed": vol_ok[sel],
            "leg_ab_mean_volume": mean_ab[sel],
            "leg_bc_mean_volume": mean_bc[sel],
            "a_idx": a_i[sel].astype(np.int64),
            "b_idx": b_i[sel].astype(np.int64),
            "c_idx": c_i[sel].astype(np.int64),
            "confirm_idx": conf_i[sel].astype(np.int64),
        }
    )
    frame = frame.sort_values(["confirm_idx", "c_idx"], kind="stable").reset_index(drop=True)
    return frame[list(SIGNAL_COLUMNS)]


def _empty_signals() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in SIGNAL_COLUMNS})
    for c in ("timeframe", "direction"):
        frame[c] = pd.Series(dtype="object")
    for c in ("a_time", "b_time", "c_time", "confirmed_at"):
        frame[c] = pd.Series(dtype="datetime64[ns, UTC]")
    for c in ("a_idx", "b_idx", "c_idx", "confirm_idx"):
        frame[c] = pd.Series(dtype="int64")
    frame["volume_confirmed"] = pd.Series(dtype="bool")
    return frame
