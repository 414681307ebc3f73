"""The engine's loop for a score decider, compiled with numba: gate, limits, entries and the bracket walk.

A line-by-line transcription of `Engine.advance` (loop.py) with the rule decider's answers given as
arrays, and of the walk in `fills.py`, bar by bar instead of vectorised (the same events in the same
order). `mesdesk.engine.fast` prepares the arrays and builds the journal; the tests in
tests/engine/test_fast_path.py hold both paths equal, journal for journal.

Python's ``round(x, 10)`` is reproduced exactly (`round10`): the product x * 1e10 is formed without
error as a double-double (Dekker), rounded half-to-even on its exact value, and divided back, which is
what CPython's correctly rounded `round` gives for |x| < 1e5 (prices and points). The kernel checks
every price it reads (the entry bar's open, the walked bars' open, high and low, the flat bar's close):
one of 1e5 or more in magnitude ends the run as unsupported, and the caller runs the loop instead.
"""

from __future__ import annotations

import math

import numpy as np

from mesdesk.recursions import compiled, inlined

EPS = 1e-9
TEN10 = 1e10
PRICE_LIMIT = 1e5  # |price| below which round10 is exact for the prices and points made from it
_SPLIT = 134217729.0  # 2**27 + 1

# Gate codes (journal text in fast.GATE_TEXT).
GATE_NONE, GATE_OK, GATE_OUTSIDE, GATE_DAILY_STOP, GATE_LOSSES, GATE_MAX_TRADES, GATE_POSITION = range(7)
# Decision codes.
DEC_NOT_ASKED, DEC_TAKE, DEC_SKIP = range(3)
# Exit reasons (journal text in fast.EXIT_TEXT).
EXIT_NONE, EXIT_OPEN, EXIT_SL, EXIT_BE, EXIT_TRAIL, EXIT_DAILY_STOP, EXIT_TP, EXIT_SESSION_END = range(8)
# Kernel status.
STATUS_OK, STATUS_UNSUPPORTED = 0, 1

# Float parameters (index into `fparams`).
P_TP, P_SL, P_BE, P_TRAIL_AFTER, P_TRAIL_DIST, P_TRAIL_STEP, P_SLIP, P_COMMISSION, P_TICK, P_DAILY_STOP = range(10)
# Int parameters (index into `iparams`).
I_THROUGH, I_STOP_FIRST, I_STOP_AFTER_LOSSES, I_MAX_TRADES, I_NOW_NS = range(5)

# Position state: floats.
F_ENTRY, F_TARGET, F_STOP, F_FLOOR, F_BEST, F_WORST, F_EXIT_PRICE = range(7)
# Position state: ints.
S_DIRECTION, S_ENTRY_INDEX, S_ENTRY_TS, S_NEXT, S_BE_DONE, S_TRAIL_ON, S_AMBIGUOUS, S_EXIT_INDEX = range(8)
S_EXIT_TS, S_EXIT_REASON = 8, 9


@inlined
def _split(a: float) -> tuple[float, float]:
    t = _SPLIT * a
    hi = t - (t - a)
    return hi, a - hi


@inlined
def round10(x: float) -> float:
    """Python's round(x, 10) for |x| < 1e5 (see the module docstring)."""
    if not math.isfinite(x):
        return x
    p = x * TEN10
    ah, al = _split(x)
    bh, bl = _split(TEN10)
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    r = np.rint(p)
    d = p - r
    if err > 0.5 - d:
        r += 1.0
    elif err < -0.5 - d:
        r -= 1.0
    out: float = r / TEN10
    if out == 0.0:
        return math.copysign(0.0, x)
    return out


@inlined
def _floor_tick(x: float, tick: float) -> float:
    return round10(math.floor(x / tick + EPS) * tick)


@inlined
def _next_move_level(sf: np.ndarray, si: np.ndarray, fp: np.ndarray) -> float:
    level = math.inf
    be = fp[P_BE]
    if not math.isnan(be) and si[S_BE_DONE] == 0:
        level = min(level, sf[F_ENTRY] + be)
    trail_after = fp[P_TRAIL_AFTER]
    if not math.isnan(trail_after):
        if si[S_TRAIL_ON] == 0:
            level = min(level, sf[F_ENTRY] + trail_after)
        else:
            level = min(level, sf[F_STOP] + fp[P_TRAIL_STEP] + fp[P_TRAIL_DIST])
    return level - EPS


@inlined
def _apply_moves(sf: np.ndarray, si: np.ndarray, fp: np.ndarray) -> None:
    gain = sf[F_BEST] - sf[F_ENTRY]
    be = fp[P_BE]
    if not math.isnan(be) and si[S_BE_DONE] == 0 and gain >= be - EPS:
        si[S_BE_DONE] = 1
        sf[F_STOP] = max(sf[F_STOP], sf[F_ENTRY])
    trail_after = fp[P_TRAIL_AFTER]
    if not math.isnan(trail_after) and gain >= trail_after - EPS:
        si[S_TRAIL_ON] = 1
        step = fp[P_TRAIL_STEP]
        steps = math.floor((sf[F_BEST] - fp[P_TRAIL_DIST] - sf[F_ENTRY]) / step + EPS)
        sf[F_STOP] = max(sf[F_STOP], round10(sf[F_ENTRY] + steps * step))


@inlined
def _stop_reason(sf: np.ndarray, si: np.ndarray) -> int:
    if sf[F_FLOOR] > sf[F_STOP]:
        return EXIT_DAILY_STOP
    if si[S_TRAIL_ON] == 1 and sf[F_STOP] > sf[F_ENTRY] + EPS:
        return EXIT_TRAIL
    if si[S_BE_DONE] == 1 and abs(sf[F_STOP] - sf[F_ENTRY]) <= EPS:
        return EXIT_BE
    return EXIT_SL


@inlined
def _exit(sf: np.ndarray, si: np.ndarray, index: int, ts_ns: int, price: float, reason: int) -> None:
    si[S_EXIT_INDEX] = index
    si[S_EXIT_TS] = ts_ns
    sf[F_EXIT_PRICE] = price
    si[S_EXIT_REASON] = reason


@inlined
def _signed_bar(direction: int, i: int, op: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> tuple[float, float, float]:
    if direction == 1:
        return op[i], hi[i], lo[i]
    return -op[i], -lo[i], -hi[i]


@inlined
def _event_bar(
    sf: np.ndarray,
    si: np.ndarray,
    fp: np.ndarray,
    ip: np.ndarray,
    i: int,
    ts_ns: np.ndarray,
    close_ns: np.ndarray,
    op: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
) -> None:
    o, h, lw = _signed_bar(si[S_DIRECTION], i, op, hi, lo)
    slip = fp[P_SLIP]
    stop = max(sf[F_STOP], sf[F_FLOOR])
    through = ip[I_THROUGH] == 1
    if o <= stop + EPS and i > si[S_ENTRY_INDEX]:
        sf[F_WORST] = min(sf[F_WORST], o - slip)
        _exit(sf, si, i, ts_ns[i], o - slip, _stop_reason(sf, si))
        return
    target = sf[F_TARGET]
    opens_at_target = o > target + EPS if through else o >= target - EPS
    if opens_at_target and i > si[S_ENTRY_INDEX]:
        sf[F_BEST] = max(sf[F_BEST], target)
        _exit(sf, si, i, ts_ns[i], target, EXIT_TP)
        return
    stop_hit = lw <= stop + EPS
    tp_hit = h > target + EPS if through else h >= target - EPS
    if stop_hit and tp_hit:
        si[S_AMBIGUOUS] = 1
        if ip[I_STOP_FIRST] == 1:
            tp_hit = False
        else:
            stop_hit = False
    if stop_hit:
        sf[F_BEST] = max(sf[F_BEST], h)
        sf[F_WORST] = min(sf[F_WORST], stop - slip)
        _exit(sf, si, i, close_ns[i], stop - slip, _stop_reason(sf, si))
    elif tp_hit:
        sf[F_BEST] = max(sf[F_BEST], target)
        sf[F_WORST] = min(sf[F_WORST], lw)
        _exit(sf, si, i, close_ns[i], target, EXIT_TP)
    else:
        sf[F_BEST] = max(sf[F_BEST], h)
        sf[F_WORST] = min(sf[F_WORST], lw)
        _apply_moves(sf, si, fp)


@inlined
def _walk(
    sf: np.ndarray,
    si: np.ndarray,
    fp: np.ndarray,
    ip: np.ndarray,
    end: int,
    flat_index: int,
    has_flat: bool,
    ts_ns: np.ndarray,
    close_ns: np.ndarray,
    op: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    cl: np.ndarray,
) -> bool:
    """`fills.walk` bar by bar: stop, target and stop moves decided per bar in the same order. False (the
    position left as it is) at a price of `PRICE_LIMIT` or more in magnitude."""
    last = min(end, flat_index + 1) if has_flat else end
    through = ip[I_THROUGH] == 1
    direction = si[S_DIRECTION]
    while si[S_EXIT_INDEX] < 0 and si[S_NEXT] < last:
        i = si[S_NEXT]
        o, h, lw = _signed_bar(direction, i, op, hi, lo)
        if abs(o) >= PRICE_LIMIT or abs(h) >= PRICE_LIMIT or abs(lw) >= PRICE_LIMIT:
            return False
        stop = max(sf[F_STOP], sf[F_FLOOR]) + EPS
        target = sf[F_TARGET]
        target_hit = h > target + EPS if through else h >= target - EPS
        if lw <= stop or target_hit or h >= _next_move_level(sf, si, fp) or o <= stop:
            _event_bar(sf, si, fp, ip, i, ts_ns, close_ns, op, hi, lo)
        else:
            sf[F_BEST] = max(sf[F_BEST], h)
            sf[F_WORST] = min(sf[F_WORST], lw)
        si[S_NEXT] = i + 1
    if si[S_EXIT_INDEX] < 0 and has_flat and si[S_NEXT] > flat_index:
        if abs(cl[flat_index]) >= PRICE_LIMIT:
            return False
        close = direction * cl[flat_index] - fp[P_SLIP]
        sf[F_WORST] = min(sf[F_WORST], close)
        sf[F_BEST] = max(sf[F_BEST], close)
        _exit(sf, si, flat_index, close_ns[flat_index], close, EXIT_SESSION_END)
    return True


@inlined
def _record(sf: np.ndarray, si: np.ndarray, fp: np.ndarray, row: int, out_f: np.ndarray, out_i: np.ndarray) -> float:
    """Write a position's outcome into the row's outputs (`fills.outcome`); returns its net points."""
    s = si[S_DIRECTION]
    entry = sf[F_ENTRY]
    commission = fp[P_COMMISSION]
    is_open = si[S_EXIT_INDEX] < 0
    if is_open:
        gross = math.nan
        pnl = math.nan
        exit_price = math.nan
    else:
        gross = round10(sf[F_EXIT_PRICE] - entry)
        pnl = round10(gross - commission)
        exit_price = round10(s * sf[F_EXIT_PRICE])
    reason = EXIT_OPEN if is_open else si[S_EXIT_REASON]
    out_f[row, 0] = round10(s * entry)
    out_f[row, 1] = exit_price
    out_f[row, 2] = pnl
    out_f[row, 3] = gross
    out_f[row, 4] = commission
    out_f[row, 5] = (si[S_EXIT_TS] - si[S_ENTRY_TS]) / 1e9 if reason == EXIT_TP else math.nan
    out_f[row, 6] = round10(sf[F_WORST] - entry)
    out_f[row, 7] = round10(sf[F_BEST] - entry)
    out_i[row, 0] = si[S_ENTRY_TS]
    out_i[row, 1] = si[S_EXIT_TS] if not is_open else -1
    out_i[row, 2] = reason
    out_i[row, 3] = si[S_AMBIGUOUS]
    return pnl


# Loop state (index into `ctl`).
C_PENDING_ROW, C_PENDING_BATCH, C_OPEN_ROW, C_OPEN_DAY, C_OPEN_FLAT = range(5)


@inlined
def _open(
    ctl: np.ndarray,
    sf: np.ndarray,
    si: np.ndarray,
    fp: np.ndarray,
    e: int,
    d: int,
    row: int,
    direction: int,
    net_d: float,
    flat_ns: int,
    ts_ns: np.ndarray,
    op: np.ndarray,
) -> None:
    """`fills.open_position` with the day's point stop as the floor."""
    floor_pts = fp[P_DAILY_STOP] - net_d + fp[P_COMMISSION]
    entry = direction * op[e] + fp[P_SLIP]
    sf[F_ENTRY] = entry
    sf[F_TARGET] = round10(entry + fp[P_TP])
    sf[F_STOP] = round10(entry - fp[P_SL])
    sf[F_FLOOR] = _floor_tick(entry + floor_pts, fp[P_TICK])
    sf[F_BEST] = entry
    sf[F_WORST] = entry
    sf[F_EXIT_PRICE] = math.nan
    si[:] = 0
    si[S_DIRECTION] = direction
    si[S_ENTRY_INDEX] = e
    si[S_ENTRY_TS] = ts_ns[e]
    si[S_NEXT] = e
    si[S_EXIT_INDEX] = -1
    si[S_EXIT_TS] = -1
    si[S_EXIT_REASON] = EXIT_OPEN
    ctl[C_OPEN_ROW] = row
    ctl[C_OPEN_DAY] = d
    ctl[C_OPEN_FLAT] = flat_ns


@inlined
def _settle(
    until: int,
    ctl: np.ndarray,
    sf: np.ndarray,
    si: np.ndarray,
    fp: np.ndarray,
    ip: np.ndarray,
    batch_day: np.ndarray,
    batch_entry: np.ndarray,
    batch_entry_ok: np.ndarray,
    row_sign: np.ndarray,
    day_flat_ns: np.ndarray,
    days: np.ndarray,
    net: np.ndarray,
    gate: np.ndarray,
    out_f: np.ndarray,
    out_i: np.ndarray,
    path: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> int:
    """`Engine._settle`: fill the pending order, walk the open position over bars closed by `until`."""
    ts_ns, close_ns, op, hi, lo, cl = path
    known = int(np.searchsorted(close_ns, until, side="right"))
    if ctl[C_PENDING_ROW] >= 0:
        pb = ctl[C_PENDING_BATCH]
        e = batch_entry[pb]
        if e >= known:
            return STATUS_OK
        row = ctl[C_PENDING_ROW]
        ctl[C_PENDING_ROW] = -1
        if batch_entry_ok[pb] == 0:
            gate[row] = GATE_OUTSIDE
            return STATUS_OK
        d = batch_day[pb]
        if abs(op[e]) >= PRICE_LIMIT:
            return STATUS_UNSUPPORTED
        _open(ctl, sf, si, fp, e, d, row, row_sign[row], net[d], day_flat_ns[d], ts_ns, op)
        days[d, 0] += 1
    if ctl[C_OPEN_ROW] < 0:
        return STATUS_OK
    has_flat = until >= ctl[C_OPEN_FLAT]
    flat_index = int(np.searchsorted(close_ns, ctl[C_OPEN_FLAT], side="right")) - 1 if has_flat else -1
    if has_flat and flat_index < 0:
        return STATUS_UNSUPPORTED
    if not _walk(sf, si, fp, ip, known, flat_index, has_flat, ts_ns, close_ns, op, hi, lo, cl):
        return STATUS_UNSUPPORTED
    if si[S_EXIT_INDEX] >= 0:
        d = ctl[C_OPEN_DAY]
        pnl = _record(sf, si, fp, ctl[C_OPEN_ROW], out_f, out_i)
        net[d] = round10(net[d] + pnl)
        if pnl < -1e-9 and si[S_EXIT_REASON] != EXIT_BE:
            days[d, 1] += 1
        ctl[C_OPEN_ROW] = -1
    return STATUS_OK


@inlined
def _gate_code(
    window_ok: bool, trades: int, losses: int, net_d: float, busy: bool, fp: np.ndarray, ip: np.ndarray
) -> int:
    """`risk.gate` for a batch: the window, then the daily limits in order, then an open position."""
    if not window_ok:
        return GATE_OUTSIDE
    if net_d <= fp[P_DAILY_STOP] + 1e-9:
        return GATE_DAILY_STOP
    if losses >= ip[I_STOP_AFTER_LOSSES]:
        return GATE_LOSSES
    if trades >= ip[I_MAX_TRADES]:
        return GATE_MAX_TRADES
    if busy:
        return GATE_POSITION
    return GATE_OK


@inlined
def _decide(
    a0: int, a1: int, row_take: np.ndarray, row_rank: np.ndarray, gate: np.ndarray, decision: np.ndarray
) -> int:
    """`Engine._decide_batch` after the gate passed: every row asked, the most confident take wins."""
    best = -1
    for r in range(a0, a1):
        gate[r] = GATE_OK
        if row_take[r]:
            decision[r] = DEC_TAKE
            if best < 0 or row_rank[r] > row_rank[best]:
                best = r
        else:
            decision[r] = DEC_SKIP
    if best >= 0:
        for r in range(a0, a1):
            if row_take[r] and r != best:
                gate[r] = GATE_POSITION
    return best


def new_state(
    n_rows: int, n_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`run_kernel`'s outputs and state, as it starts: (gate, decision, out_f, out_i, days, net, sf, si, ctl)."""
    out_i = np.full((n_rows, 4), -1, dtype=np.int64)
    out_i[:, 2] = EXIT_NONE
    return (
        np.zeros(n_rows, dtype=np.int8),  # gate
        np.zeros(n_rows, dtype=np.int8),  # decision
        np.full((n_rows, 8), math.nan),  # out_f
        out_i,
        np.zeros((n_days, 2), dtype=np.int64),  # days: trades, losses
        np.zeros(n_days, dtype=np.float64),  # net
        np.zeros(7, dtype=np.float64),  # sf
        np.zeros(10, dtype=np.int64),  # si
        np.array([-1, -1, -1, -1, 0], dtype=np.int64),  # ctl
    )


@compiled
def run_kernel(
    batch_ns: np.ndarray,
    batch_start: np.ndarray,
    batch_day: np.ndarray,
    batch_window_ok: np.ndarray,
    batch_entry: np.ndarray,
    batch_entry_ok: np.ndarray,
    row_take: np.ndarray,
    row_rank: np.ndarray,
    row_sign: np.ndarray,
    day_flat_ns: np.ndarray,
    path: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    fp: np.ndarray,
    ip: np.ndarray,
    gate: np.ndarray,
    decision: np.ndarray,
    out_f: np.ndarray,
    out_i: np.ndarray,
    days: np.ndarray,
    net: np.ndarray,
    sf: np.ndarray,
    si: np.ndarray,
    ctl: np.ndarray,
) -> int:
    """The loop over decision batches of the rows that passed the prefilter (`Engine.advance`).

    Rows are grouped by decision time: batch b holds rows ``batch_start[b]:batch_start[b + 1]``;
    `path` is (ts_ns, close_ns, open, high, low, close). Writes the gate and decision code per row and
    the float and int outputs into `gate`, `decision`, `out_f` and `out_i`; `days`, `net`, `sf`, `si` and
    `ctl` are its state (`new_state` makes all nine, as this function expects them). Returns the status.
    The caller allocates them: an allocation in compiled code brings its own error paths into the
    machine-code library, which a fresh process then loads from numba's cache.
    """
    n_batches = batch_ns.shape[0]
    for b in range(n_batches + 1):
        until = batch_ns[b] if b < n_batches else ip[I_NOW_NS]
        if ctl[C_PENDING_ROW] >= 0 or ctl[C_OPEN_ROW] >= 0:
            status = _settle(
                until,
                ctl,
                sf,
                si,
                fp,
                ip,
                batch_day,
                batch_entry,
                batch_entry_ok,
                row_sign,
                day_flat_ns,
                days,
                net,
                gate,
                out_f,
                out_i,
                path,
            )
            if status != STATUS_OK:
                return status
        if b == n_batches:
            break
        d = batch_day[b]
        busy = ctl[C_PENDING_ROW] >= 0 or ctl[C_OPEN_ROW] >= 0
        code = _gate_code(batch_window_ok[b] == 1, int(days[d, 0]), int(days[d, 1]), float(net[d]), busy, fp, ip)
        if code != GATE_OK:
            gate[batch_start[b] : batch_start[b + 1]] = code
            continue
        best = _decide(batch_start[b], batch_start[b + 1], row_take, row_rank, gate, decision)
        if best >= 0:
            ctl[C_PENDING_ROW] = best
            ctl[C_PENDING_BATCH] = b
    if ctl[C_OPEN_ROW] >= 0:
        _record(sf, si, fp, ctl[C_OPEN_ROW], out_f, out_i)
    return STATUS_OK
