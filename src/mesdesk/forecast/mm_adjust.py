"""`mm_adjust_1d_4h_points`: what the scanner's active 1d and 4h measured moves say, in index points.

For each of the 1d and 4h timeframes, at the decision time `t`:

1. the **active signal** is the latest one confirmed at or before `t` that passed the VIX regime
   filter and is not yet resolved at `t` (`resolved_at` later than `t`, or still open; a signal that
   turns out void is known to be void only from its `resolved_at`, so the outcome is never peeked at);
2. its **hit rate** `p` is the share of that timeframe's earlier signals (VIX-passed, resolved at or
   before `t`, so known at `t`) that reached target_100 before their stop, counting only signals that
   ended at a target or a stop (an expiry says nothing about which side was right), with a Laplace
   prior: `p = (hits + 1) / (hits + stops + 2)`, which is 0.5 with no history;
3. its **expected move** from the close `P` at `t` is `p * (target_100 - P) + (1 - p) * (stop - P)`:
   the probability-weighted distance to where the trade ends (positive for a long whose target is
   far and whose stop is close, given an even hit rate).

`mm_adjust_1d_4h_points` is the mean of the expected moves of the timeframes that have an active
signal, and 0 when neither has one. The forecast folds it into the horizons of 4h and longer (a 4h or
1d measured move takes hours to days to play out) as `100 * points / P` percent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mesdesk.timeframes import Timeframe

MM_TIMEFRAMES = (Timeframe.D1, Timeframe.H4)
HITS = ("target_100", "target_123_6")
MIN_FOLD_HORIZON_NS = 4 * 3_600 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class ActiveMove:
    """The active measured move of one timeframe at the decision time and its expected move."""

    timeframe: str
    direction: str
    confirmed_at: pd.Timestamp
    target_100: float
    stop: float
    hit_rate: float
    resolved_before: int
    expected_points: float


@dataclass(frozen=True, slots=True)
class MeasuredMoveAdjustment:
    points: float
    moves: tuple[ActiveMove, ...]

    def pct_of(self, price: float) -> float:
        return 100.0 * self.points / price if price > 0 else 0.0


def _utc_ns(values: pd.Series) -> np.ndarray:
    idx = pd.DatetimeIndex(values)
    ns = np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)
    return np.where(idx.isna(), np.iinfo(np.int64).max, ns)


def _one_timeframe(signals: pd.DataFrame, tf: Timeframe, t: pd.Timestamp, price: float) -> ActiveMove | None:
    sig = signals[(signals["timeframe"] == tf.value) & signals["vix_filter_passed"].astype(bool)]
    if sig.empty:
        return None
    t_ns = int(t.as_unit("ns").value)
    confirmed = _utc_ns(sig["confirmed_at"])
    resolved = _utc_ns(sig["resolved_at"])
    outcome = sig["outcome"].astype(str).to_numpy()
    known_done = resolved <= t_ns
    hits = int(np.sum(known_done & np.isin(outcome, HITS)))
    stops = int(np.sum(known_done & (outcome == "stop")))
    # a void signal is known to be void only from its resolution, so before it, it is active like any other
    active = np.flatnonzero((confirmed <= t_ns) & (resolved > t_ns))
    if active.size == 0:
        return None
    row = sig.iloc[int(active[np.argmax(confirmed[active])])]
    p = (hits + 1) / (hits + stops + 2)
    target, stop = float(row["target_100"]), float(row["stop"])
    expected = p * (target - price) + (1.0 - p) * (stop - price)
    return ActiveMove(
        timeframe=tf.value,
        direction=str(row["direction"]),
        confirmed_at=pd.Timestamp(row["confirmed_at"]),
        target_100=target,
        stop=stop,
        hit_rate=p,
        resolved_before=hits + stops,
        expected_points=float(expected),
    )


def measured_move_adjustment(signals: pd.DataFrame, t: pd.Timestamp, price: float) -> MeasuredMoveAdjustment:
    """The adjustment at decision time `t` with the close `price`, from a scan's signal frame."""
    moves = tuple(m for tf in MM_TIMEFRAMES if (m := _one_timeframe(signals, tf, t, price)) is not None)
    points = float(np.mean([m.expected_points for m in moves])) if moves else 0.0
    return MeasuredMoveAdjustment(points=points, moves=moves)
