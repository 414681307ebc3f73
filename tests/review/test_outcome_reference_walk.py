"""The vectorised outcome walk against a plain bar-by-bar reference on random paths.

The reference reads one bar at a time, the way a trader's log would: stop or target first in a bar
is decided by the open when the open is already beyond a level, otherwise the stop is assumed first
and the bar is ambiguous.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mesdesk.data.resample import bin_close_ns, resample
from mesdesk.pathbars import PathBars
from mesdesk.setups.measured_move import MeasuredMoveConfig, detect_measured_moves
from mesdesk.setups.measured_move_outcomes import OutcomeConfig, follow_outcomes
from mesdesk.timeframes import Timeframe


def reference(path: pd.DataFrame, conf: pd.Timestamp, expiry: pd.Timestamp | None, sign: float,
              stop: float, t1: float, t2: float, through: bool, span: pd.Timedelta) -> dict[str, object]:  # fmt: skip
    o_, h_, l_, c_ = (path[c].to_numpy() * sign for c in ("open", "high", "low", "close"))
    if sign < 0:
        h_, l_ = l_, h_
    stop, t1, t2 = stop * sign, t1 * sign, t2 * sign
    opens = path.index
    after = np.flatnonzero(opens >= conf)
    if after.size == 0 or (expiry is not None and opens[after[0]] >= expiry):
        return {"outcome": "void" if expiry is not None else "open"}
    e = int(after[0])
    entry = o_[e]
    if entry <= stop or entry >= t1:
        return {"outcome": "void"}

    def beyond(x: float, level: float) -> bool:
        return bool(x > level) if through else bool(x >= level)

    t1_done = False
    ambiguous = False
    pnl = math.nan
    last_close = entry
    for j in range(e, len(path)):
        if expiry is not None and opens[j] + span > expiry:
            break
        o, h, lo = o_[j], h_[j], l_[j]
        last_close = c_[j]
        hit_stop = lo <= stop
        fill = min(o, stop)
        if not t1_done:
            if hit_stop and beyond(h, t1) and not beyond(o, t1):
                return {"outcome": "stop", "pnl": fill - entry, "ambiguous": o > stop}
            if hit_stop and not beyond(h, t1):
                return {"outcome": "stop", "pnl": fill - entry, "ambiguous": False}
            if beyond(h, t1):
                t1_done, pnl = True, t1 - entry
        if t1_done:
            if beyond(h, t2) and (not hit_stop or beyond(o, t2)):
                return {"outcome": "target_123_6", "pnl": pnl, "ext": t2 - entry, "ambiguous": ambiguous}
            if hit_stop:
                return {"outcome": "target_100", "pnl": pnl, "ext": fill - entry,
                        "ambiguous": beyond(h, t2) and o > stop}  # fmt: skip
    if expiry is None:
        return {"outcome": "open"}
    if t1_done:
        return {"outcome": "target_100", "pnl": pnl, "ext": last_close - entry, "ambiguous": False}
    return {"outcome": "expiry", "pnl": last_close - entry, "ambiguous": False}


def jumpy_minutes(n: int, seed: int, gap_p: float = 0.03) -> pd.DataFrame:
    """A 1m walk with occasional gaps between bars, so opens beyond levels happen."""
    rng = np.random.default_rng(seed)
    step = rng.choice([-0.5, -0.25, 0.0, 0.25, 0.5], size=n)
    gap = np.where(rng.random(n) < gap_p, rng.choice([-3.0, -2.0, 2.0, 3.0], size=n), 0.0)
    close = 5000.0 + np.cumsum(step + gap)
    open_ = np.concatenate(([5000.0], close[:-1] + gap[1:]))
    open_ = np.round(open_ * 4) / 4
    wick = rng.choice([0.0, 0.25, 0.5, 1.0, 4.0, 8.0], size=(2, n), p=[0.3, 0.3, 0.2, 0.12, 0.05, 0.03])
    idx = pd.date_range("2025-03-04 00:00", periods=n, freq="1min", tz="UTC", name="ts").as_unit("ns")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + wick[0],
            "low": np.minimum(open_, close) - wick[1],
            "close": close,
            "volume": rng.integers(50, 500, size=n),
        },
        index=idx,
    )


@pytest.mark.parametrize("on_five", [False, True], ids=["1m-path", "5m-path"])
@pytest.mark.parametrize("through", [True, False], ids=["through", "touch"])
@pytest.mark.parametrize(("seed", "hold"), [(1, 30), (2, 8), (3, 4)])
def test_vectorised_walk_matches_the_bar_by_bar_reference(seed: int, hold: int, through: bool, on_five: bool) -> None:
    minutes = jumpy_minutes(8000, seed)
    five = resample(minutes, Timeframe.M5)
    sig = detect_measured_moves(five, Timeframe.M5, MeasuredMoveConfig(swing_order=2, min_rr=0.5))
    assert len(sig) >= 8
    cfg = OutcomeConfig(max_hold_bars=hold, target_fill="through" if through else "touch")
    close_ns = bin_close_ns(pd.DatetimeIndex(five.index), Timeframe.M5)
    path, span = (five, pd.Timedelta(minutes=5)) if on_five else (minutes, pd.Timedelta(minutes=1))
    out = follow_outcomes(sig, close_ns, PathBars.from_frame(path, span), cfg)
    seen: set[object] = set()
    for (_, s), (_, o) in zip(sig.iterrows(), out.iterrows(), strict=True):
        seen.add(o["outcome"])
        seen.add(("ambiguous", bool(o["ambiguous"])))
        expiry = o["expiry_at"] if pd.notna(o["expiry_at"]) else None
        sign = 1.0 if s["direction"] == "long" else -1.0
        levels = (s["stop"], s["target_100"], s["target_123_6"])
        ref = reference(path, s["confirmed_at"], expiry, sign, *levels, through, span)
        assert o["outcome"] == ref["outcome"], (s.to_dict(), o.to_dict(), ref)
        if "pnl" in ref:
            assert o["pnl_pts"] == pytest.approx(ref["pnl"]), (o.to_dict(), ref)
            assert bool(o["ambiguous"]) == ref["ambiguous"], (o.to_dict(), ref)
        if "ext" in ref:
            assert o["pnl_ext_pts"] == pytest.approx(ref["ext"]), (o.to_dict(), ref)
    assert "stop" in seen  # the paths reach stops and targets
    assert {"target_100", "target_123_6"} & seen


@pytest.mark.parametrize("through", [True, False], ids=["through", "touch"])
def test_tight_random_brackets_match_the_reference(through: bool) -> None:
    # Levels one to a few points from the price: stops and targets often share a bar, opens often gap.
    minutes = jumpy_minutes(3000, 9, gap_p=0.3)
    five = resample(minutes, Timeframe.M5)
    rng = np.random.default_rng(4)
    conf_idx = np.sort(rng.choice(np.arange(10, len(five) - 5), size=400, replace=True))
    ref_close = five["close"].to_numpy()[conf_idx]
    sign = rng.choice([-1.0, 1.0], size=conf_idx.size)
    risk = rng.choice([0.5, 1.0, 2.0, 3.0, 10.0], size=conf_idx.size)
    reward = rng.choice([0.5, 1.0, 2.0, 4.0, 10.0], size=conf_idx.size)
    close_ns = bin_close_ns(pd.DatetimeIndex(five.index), Timeframe.M5)
    sig = pd.DataFrame(
        {
            "direction": np.where(sign > 0, "long", "short"),
            "confirm_idx": conf_idx,
            "confirmed_at": pd.to_datetime(close_ns[conf_idx], unit="ns", utc=True),
            "stop": ref_close - sign * risk,
            "target_100": ref_close + sign * reward,
            "target_123_6": ref_close + sign * reward * 1.5,
        }
    )
    cfg = OutcomeConfig(max_hold_bars=6, target_fill="through" if through else "touch")
    out = follow_outcomes(sig, close_ns, PathBars.from_frame(minutes, pd.Timedelta(minutes=1)), cfg)
    seen: set[object] = set()
    for (_, s), (_, o) in zip(sig.iterrows(), out.iterrows(), strict=True):
        seen.update((o["outcome"], ("ambiguous", bool(o["ambiguous"]))))
        expiry = o["expiry_at"] if pd.notna(o["expiry_at"]) else None
        sgn = 1.0 if s["direction"] == "long" else -1.0
        levels = (s["stop"], s["target_100"], s["target_123_6"])
        ref = reference(minutes, s["confirmed_at"], expiry, sgn, *levels, through, pd.Timedelta(minutes=1))
        assert o["outcome"] == ref["outcome"], (s.to_dict(), o.to_dict(), ref)
        if "pnl" in ref:
            assert o["pnl_pts"] == pytest.approx(ref["pnl"]), (o.to_dict(), ref)
            assert bool(o["ambiguous"]) == ref["ambiguous"], (s.to_dict(), o.to_dict(), ref)
        if "ext" in ref:
            assert o["pnl_ext_pts"] == pytest.approx(ref["ext"]), (o.to_dict(), ref)
    assert {"stop", "target_100", "target_123_6", "expiry", "void", ("ambiguous", True)} <= seen
