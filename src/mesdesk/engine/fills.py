"""The bracket of one position walked over a price path: the only implementation of exit fills.

Used by the engine's loop, by learning's counterfactuals (`simulate_bracket`) and by the measured-move
scanner's outcomes (`mesdesk.setups.measured_move_outcomes`, which walks its trade plan as two
brackets with absolute stop and target prices, no stop moves, no costs and an ``expiry`` flat bar).

Rules (DESIGN.md "Execution truth"), applied per path bar in this order:

1. the bar opens at or beyond the stop (a gap): exit at the open, minus slippage; a bar opening beyond
   the target (``touch``: at it) fills the target at its price, before anything else in the bar;
2. the stop is touched (low <= stop for a long) and the target reached in the same bar: the path
   inside the bar is unknown, so the stop fills first (``ambiguous_policy="stop_first"``) and the
   trade is flagged ``ambiguous``; ``"target_first"`` gives the optimistic counterpart;
3. the stop is touched: exit at the stop, minus slippage;
4. the target is traded through (high > target; with ``target_fill="touch"``, high >= target): exit at
   the target (a resting limit: no slippage);
5. otherwise the best price is updated, and a breakeven or trailing move takes effect from the NEXT bar.

After the last bar that closes at or before the session's flat time, a position still open is closed
at that bar's close minus slippage (``session_end``; a caller may name it otherwise, e.g. ``expiry``).
MAE/MFE run from the entry bar to the exit bar; in the exit bar the side of the exit is clipped to the
exit price, and a position stopped inside a bar counts that bar's high toward the MFE (the engine's
journal), or only its open with ``mfe_in_stop_bar="open"`` (the scanner: the stop is assumed first,
so only the bar's first price was surely seen while the position was held).

The walk is vectorised: numpy finds the next bar where anything can happen (a stop touch, the target,
or a level that moves the stop), and only that bar is handled in Python. The walk is resumable:
feeding the path in pieces gives the same result as feeding it whole, which is what lets the live
loop and the backtest share it.

Prices are handled in signed coordinates (x = price for a long, -price for a short) so one code path
serves both directions. Price comparisons allow `tolerance` (default 1e-9 points) for the float error
of levels computed as entry + offset; levels given as quoted prices can be compared exactly (0.0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mesdesk.engine.config import BracketConfig, ExecutionConfig
from mesdesk.pathbars import PathBars

EPS = 1e-9
NO_LEVEL = math.inf

StopBarMfe = Literal["high", "open"]


@dataclass(slots=True)
class PositionState:
    """A position being walked; all prices in signed coordinates (see the module docstring)."""

    direction: int
    entry_index: int
    entry_ts_ns: int
    entry: float
    target: float
    stop: float
    floor: float
    next_index: int
    best: float
    worst: float
    be_done: bool = False
    trail_on: bool = False
    ambiguous: bool = False
    tol: float = EPS
    mfe_in_stop_bar: StopBarMfe = "high"
    exit_index: int = -1
    exit_ts_ns: int = -1
    exit_price: float = math.nan
    exit_reason: str = "open"

    @property
    def is_open(self) -> bool:
        return self.exit_index < 0


@dataclass(frozen=True, slots=True)
class BracketOutcome:
    """What happened to one position (prices as quoted; points from the entry fill)."""

    direction: int
    entry_index: int
    entry_ts_ns: int
    entry_price: float
    exit_index: int
    exit_ts_ns: int
    exit_price: float
    exit_reason: str
    gross_pts: float
    commission_pts: float
    pnl_pts: float
    mae: float
    mfe: float
    time_to_target_s: float
    ambiguous: bool


def _floor_tick(x: float, tick: float) -> float:
    return round(math.floor(x / tick + EPS) * tick, 10)


def open_position(
    path: PathBars,
    entry_index: int,
    direction: int,
    bracket: BracketConfig,
    execution: ExecutionConfig,
    *,
    floor_pts: float | None = None,
    stop_price: float | None = None,
    target_price: float | None = None,
    tolerance: float = EPS,
    mfe_in_stop_bar: StopBarMfe = "high",
) -> PositionState:
    """Enter at the open of `entry_index` plus slippage and attach the bracket.

    `floor_pts`: the move against the entry fill (after costs, in points, negative) at which the day's
    point stop is reached; the position is closed there (``daily_stop``) if the stop has not fired.
    `stop_price` / `target_price`: quoted levels that replace the bracket's ``sl_pts`` / ``tp_pts``
    offsets from the entry fill (the bracket's breakeven and trail still apply). `tolerance` and
    `mfe_in_stop_bar`: see the module docstring.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 (long) or -1 (short), got {direction}")
    if not 0 <= entry_index < len(path):
        raise IndexError(f"entry index {entry_index} outside the path of {len(path)} bars")
    tick = execution.contract.tick_size
    entry = direction * float(path.open[entry_index]) + execution.slippage_pts
    floor = -NO_LEVEL if floor_pts is None else _floor_tick(entry + floor_pts, tick)
    return PositionState(
        direction=direction,
        entry_index=entry_index,
        entry_ts_ns=int(path.ts_ns[entry_index]),
        entry=entry,
        target=round(entry + bracket.tp_pts, 10) if target_price is None else direction * target_price,
        stop=round(entry - bracket.sl_pts, 10) if stop_price is None else direction * stop_price,
        floor=floor,
        next_index=entry_index,
        best=entry,
        worst=entry,
        tol=tolerance,
        mfe_in_stop_bar=mfe_in_stop_bar,
    )


def _next_move_level(st: PositionState, bracket: BracketConfig) -> float:
    """The best price at which the stop would move next (inf when it cannot move any more)."""
    levels = [NO_LEVEL]
    if bracket.breakeven_at_pts is not None and not st.be_done:
        levels.append(st.entry + bracket.breakeven_at_pts)
    if bracket.trail_after_pts is not None:
        if not st.trail_on:
            levels.append(st.entry + bracket.trail_after_pts)
        else:
            levels.append(st.stop + bracket.trail_step_pts + bracket.trail_distance_pts)
    return min(levels) - st.tol


def _apply_moves(st: PositionState, bracket: BracketConfig) -> None:
    """Move the stop for the best price seen so far (effective from the next bar)."""
    gain = st.best - st.entry
    if bracket.breakeven_at_pts is not None and not st.be_done and gain >= bracket.breakeven_at_pts - st.tol:
        st.be_done = True
        st.stop = max(st.stop, st.entry)
    if bracket.trail_after_pts is not None and gain >= bracket.trail_after_pts - st.tol:
        st.trail_on = True
        steps = math.floor((st.best - bracket.trail_distance_pts - st.entry) / bracket.trail_step_pts + EPS)
        st.stop = max(st.stop, round(st.entry + steps * bracket.trail_step_pts, 10))


def _stop_reason(st: PositionState) -> str:
    if st.floor > st.stop:
        return "daily_stop"
    if st.trail_on and st.stop > st.entry + st.tol:
        return "trail"
    if st.be_done and abs(st.stop - st.entry) <= st.tol:
        return "be"
    return "sl"


def _exit(st: PositionState, index: int, ts_ns: int, price: float, reason: str) -> None:
    st.exit_index = index
    st.exit_ts_ns = ts_ns
    st.exit_price = price
    st.exit_reason = reason


def _bar(st: PositionState, path: PathBars, i: int) -> tuple[float, float, float, float]:
    """Open, high, low, close of bar i in signed coordinates."""
    if st.direction == 1:
        return float(path.open[i]), float(path.high[i]), float(path.low[i]), float(path.close[i])
    return -float(path.open[i]), -float(path.low[i]), -float(path.high[i]), -float(path.close[i])


def _handle_event_bar(
    st: PositionState, path: PathBars, i: int, bracket: BracketConfig, execution: ExecutionConfig
) -> None:
    o, hi, lo, _ = _bar(st, path, i)
    slip = execution.slippage_pts
    tol = st.tol
    stop = max(st.stop, st.floor)
    if o <= stop + tol and i > st.entry_index:
        st.worst = min(st.worst, o - slip)
        _exit(st, i, int(path.ts_ns[i]), o - slip, _stop_reason(st))
        return
    opens_at_target = o > st.target + tol if execution.target_fill == "through" else o >= st.target - tol
    if opens_at_target and i > st.entry_index:
        # The bar opens beyond the resting target: the limit fills at the open, before anything else in
        # the bar can happen, so this is no ambiguous bar. Filled at the target price (never better).
        st.best = max(st.best, st.target)
        _exit(st, i, int(path.ts_ns[i]), st.target, "tp")
        return
    stop_hit = lo <= stop + tol
    tp_hit = hi > st.target + tol if execution.target_fill == "through" else hi >= st.target - tol
    close_ns = int(path.close_ns[i])
    if stop_hit and tp_hit:
        st.ambiguous = True
        if execution.ambiguous_policy == "target_first":
            stop_hit = False
        else:
            tp_hit = False
    if stop_hit:
        st.best = max(st.best, hi if st.mfe_in_stop_bar == "high" else o)
        st.worst = min(st.worst, stop - slip)
        _exit(st, i, close_ns, stop - slip, _stop_reason(st))
    elif tp_hit:
        st.best = max(st.best, st.target)
        st.worst = min(st.worst, lo)
        _exit(st, i, close_ns, st.target, "tp")
    else:
        st.best = max(st.best, hi)
        st.worst = min(st.worst, lo)
        _apply_moves(st, bracket)


def walk(
    st: PositionState,
    path: PathBars,
    end: int,
    bracket: BracketConfig,
    execution: ExecutionConfig,
    *,
    flat_index: int | None = None,
    flat_reason: str = "session_end",
) -> PositionState:
    """Advance `st` over path bars [st.next_index, end); close at `flat_index`'s close if still open.

    `end` is the number of bars available (known); `flat_index` the last bar of the session (None
    while it is not yet known), whose close exit is named `flat_reason`. Returns `st` (mutated).
    """
    last = end if flat_index is None else min(end, flat_index + 1)
    tol = st.tol
    through = execution.target_fill == "through"
    while st.is_open and st.next_index < last:
        i0 = st.next_index
        if st.direction == 1:
            hi = path.high[i0:last]
            lo = path.low[i0:last]
            op = path.open[i0:last]
        else:
            hi = -path.low[i0:last]
            lo = -path.high[i0:last]
            op = -path.open[i0:last]
        stop = max(st.stop, st.floor) + tol
        target_hit = hi > st.target + tol if through else hi >= st.target - tol
        mask = (lo <= stop) | target_hit | (hi >= _next_move_level(st, bracket)) | (op <= stop)
        k = int(mask.argmax())
        if not mask[k]:
            st.best = max(st.best, float(hi.max()))
            st.worst = min(st.worst, float(lo.min()))
            st.next_index = last
            break
        if k > 0:
            st.best = max(st.best, float(hi[:k].max()))
            st.worst = min(st.worst, float(lo[:k].min()))
        _handle_event_bar(st, path, i0 + k, bracket, execution)
        st.next_index = i0 + k + 1
    if st.is_open and flat_index is not None and st.next_index > flat_index:
        close = st.direction * float(path.close[flat_index]) - execution.slippage_pts
        st.worst = min(st.worst, close)
        st.best = max(st.best, close)
        _exit(st, flat_index, int(path.close_ns[flat_index]), close, flat_reason)
    return st


def outcome(st: PositionState, execution: ExecutionConfig) -> BracketOutcome:
    """The quoted-price view of a walked position (pnl NaN while it is open)."""
    s = st.direction
    commission = execution.commission_pts_round_trip
    if st.is_open:
        gross = pnl = math.nan
        exit_price = math.nan
    else:
        gross = round(st.exit_price - st.entry, 10)
        pnl = round(gross - commission, 10)
        exit_price = round(s * st.exit_price, 10)
    ttt = (st.exit_ts_ns - st.entry_ts_ns) / 1e9 if st.exit_reason == "tp" else math.nan
    return BracketOutcome(
        direction=s,
        entry_index=st.entry_index,
        entry_ts_ns=st.entry_ts_ns,
        entry_price=round(s * st.entry, 10),
        exit_index=st.exit_index,
        exit_ts_ns=st.exit_ts_ns,
        exit_price=exit_price,
        exit_reason=st.exit_reason,
        gross_pts=gross,
        commission_pts=commission,
        pnl_pts=pnl,
        mae=round(st.worst - st.entry, 10),
        mfe=round(st.best - st.entry, 10),
        time_to_target_s=ttt,
        ambiguous=st.ambiguous,
    )


def simulate_bracket(
    path: PathBars,
    entry_index: int,
    direction: int,
    bracket: BracketConfig,
    execution: ExecutionConfig,
    *,
    flat_index: int | None = None,
    floor_pts: float | None = None,
    end_index: int | None = None,
) -> BracketOutcome:
    """Enter at the open of `entry_index` and walk the bracket to its exit (or to `end_index`).

    The same code the engine uses, for counterfactuals: pass the path (sub-bars when you have them),
    the entry bar (first bar opening at or after the decision time), +1/-1, the configs, and the
    session's last bar as `flat_index`. An exit not reached inside the data is ``open``.
    """
    st = open_position(path, entry_index, direction, bracket, execution, floor_pts=floor_pts)
    walk(st, path, len(path) if end_index is None else end_index, bracket, execution, flat_index=flat_index)
    return outcome(st, execution)
