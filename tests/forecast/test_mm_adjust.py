"""The measured-move adjustment: active signal, point-in-time hit rate, expected move by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from mesdesk.forecast.mm_adjust import measured_move_adjustment

T = pd.Timestamp("2025-03-10 15:00", tz="UTC")
NAT = pd.NaT


def _sig(tf: str, direction: str, confirmed: str, resolved: str | None, outcome: str, *, target: float = 0.0,
         stop: float = 0.0, vix_ok: bool = True) -> dict[str, object]:  # fmt: skip
    return {
        "timeframe": tf,
        "direction": direction,
        "confirmed_at": pd.Timestamp(confirmed, tz="UTC"),
        "resolved_at": pd.Timestamp(resolved, tz="UTC") if resolved else NAT,
        "outcome": outcome,
        "target_100": target,
        "stop": stop,
        "vix_filter_passed": vix_ok,
    }


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("confirmed_at", "resolved_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def test_no_active_signal_gives_zero() -> None:
    frame = _frame([_sig("4h", "long", "2025-03-01", "2025-03-02", "target_100", target=110, stop=95)])
    adj = measured_move_adjustment(frame, T, 100.0)
    assert adj.points == 0.0
    assert adj.moves == ()


def test_expected_move_uses_the_hit_rate_known_at_t() -> None:
    rows = [
        _sig("4h", "long", "2025-03-01", "2025-03-02", "target_100"),
        _sig("4h", "short", "2025-03-02", "2025-03-03", "target_123_6"),
        _sig("4h", "long", "2025-03-03", "2025-03-04", "target_100"),
        _sig("4h", "long", "2025-03-04", "2025-03-05", "stop"),
        _sig("4h", "long", "2025-03-05", "2025-03-06", "expiry"),  # says nothing: not counted
        _sig("4h", "long", "2025-03-06", "2025-03-12", "stop"),  # resolved after t: unknown yet, not counted
        _sig("4h", "long", "2025-03-10 12:00", None, "open", target=110.0, stop=95.0),  # the active one
    ]
    adj = measured_move_adjustment(_frame(rows), T, 100.0)
    # p = (3 hits + 1) / (3 + 1 stop + 2) = 2/3; E = 2/3 * (110 - 100) + 1/3 * (95 - 100) = 5
    assert adj.points == pytest.approx(5.0)
    (move,) = adj.moves
    assert (move.timeframe, move.direction, move.resolved_before) == ("4h", "long", 4)
    assert move.hit_rate == pytest.approx(2 / 3)
    assert adj.pct_of(100.0) == pytest.approx(5.0)


def test_a_signal_resolved_later_is_active_now_and_a_vix_filtered_one_never() -> None:
    rows = [
        _sig("1d", "short", "2025-03-09", "2025-03-11", "stop", target=90.0, stop=104.0),
        _sig("4h", "long", "2025-03-10 14:00", None, "open", target=120.0, stop=99.0, vix_ok=False),
    ]
    adj = measured_move_adjustment(_frame(rows), T, 100.0)
    # the 1d short is unresolved at t (stop comes on 03-11); p = 0.5: 0.5 * -10 + 0.5 * 4 = -3
    assert adj.points == pytest.approx(-3.0)
    assert [m.timeframe for m in adj.moves] == ["1d"]


def test_both_timeframes_are_averaged() -> None:
    rows = [
        _sig("1d", "long", "2025-03-09", None, "open", target=110.0, stop=96.0),  # 0.5*10 + 0.5*-4 = 3
        _sig("4h", "short", "2025-03-10 14:00", None, "open", target=92.0, stop=101.0),  # 0.5*-8 + 0.5*1 = -3.5
        _sig("15m", "long", "2025-03-10 14:30", None, "open", target=130.0, stop=99.0),  # other timeframes ignored
    ]
    adj = measured_move_adjustment(_frame(rows), T, 100.0)
    assert adj.points == pytest.approx((3.0 - 3.5) / 2)


def test_the_outcome_of_a_signal_is_not_peeked_at_before_it_resolves() -> None:
    void_later = _sig("4h", "long", "2025-03-10 14:00", "2025-03-10 16:00", "void", target=110.0, stop=96.0)
    void_before = _sig("4h", "long", "2025-03-10 14:00", "2025-03-10 14:05", "void", target=110.0, stop=96.0)
    assert measured_move_adjustment(_frame([void_later]), T, 100.0).points == pytest.approx(3.0)
    assert measured_move_adjustment(_frame([void_before]), T, 100.0).points == 0.0
