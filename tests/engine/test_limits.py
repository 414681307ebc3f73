"""Daily limits, windows, session end, DST and early closes through the whole loop (hand-checked).

Quiet bars sit at 5000.00; a long enters at the candidate bar's open + 1 tick = 5000.25 (batch window
0: decided at the candidate's time), target 5001.50, stop 4999.50. UP wins +1.25 - 0.248 = 1.002,
DOWN loses -1.00 - 0.248 = -1.248 (stop 4999.50 minus one tick).
"""

from __future__ import annotations

from datetime import date, time

import pandas as pd
import pytest

from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import DayState, EngineConfig, ExecutionConfig, Order, Refused, RiskLimits, SessionConfig, gate
from mesdesk.engine import run_backtest as backtest

from .factories import DOWN, UP, candidate_frame, ct, day_bars

NOW = EngineConfig(execution=ExecutionConfig(batch_window_s=0))


def run(bars, cands, config=NOW):
    return backtest(bars, cands, RuleDecider(), config)


def longs(day, times):
    return candidate_frame([(ct(day, t), "long", 5000.0) for t in times])


def test_seventh_trade_of_the_day_is_refused_after_six() -> None:
    times = ["08:40", "08:50", "09:00", "09:10", "09:20", "09:30", "09:40"]
    events = {f"{t[:3]}{int(t[3:]) + 1:02d}": UP for t in times}
    res = run(day_bars("2025-03-12", events), longs("2025-03-12", times))
    j = res.journal
    assert list(j["gate"]) == ["ok"] * 6 + ["max trades 6 reached"]
    assert j["decision"].iloc[-1] == "not_asked"
    assert list(res.trades["result"]) == ["win"] * 6
    assert res.trades["pnl_pts"].sum() == pytest.approx(6 * 1.002)


def test_second_loss_stops_the_day() -> None:
    times = ["08:40", "08:50", "09:00"]
    events = {"08:41": DOWN, "08:51": DOWN, "09:01": UP}
    res = run(day_bars("2025-03-12", events), longs("2025-03-12", times))
    assert list(res.journal["gate"]) == ["ok", "ok", "stop after 2 losses"]
    assert list(res.trades["pnl_pts"]) == pytest.approx([-1.248, -1.248])
    assert list(res.trades["exit_price"]) == [4999.25, 4999.25]


def test_limits_reset_on_the_next_trading_day() -> None:
    d1 = day_bars("2025-03-12", {"08:41": DOWN, "08:51": DOWN})
    d2 = day_bars("2025-03-13", {"08:41": UP})
    cands = pd.concat([longs("2025-03-12", ["08:40", "08:50", "09:00"]), longs("2025-03-13", ["08:40"])])
    res = run(pd.concat([d1, d2]), cands.reset_index(drop=True))
    assert list(res.journal["gate"]) == ["ok", "ok", "stop after 2 losses", "ok"]
    assert res.trades["result"].iloc[-1] == "win"


def test_daily_stop_reached_mid_trade_closes_the_trade_and_the_day() -> None:
    # Trade 1 gaps through its stop: open 4998.00 -> exit 4997.75, -2.50 - 0.248 = -2.748.
    # Trade 2 may then lose 0.004 more before -3.00: floor at the tick 5000.00, above its stop 4999.50.
    gap = (4998.00, 4998.25, 4997.75, 4998.00)
    events = {"08:41": gap, "08:51": (5000.25, 5000.25, 4999.75, 5000.00), "09:01": UP}
    cands = longs("2025-03-12", ["08:40", "08:50", "09:00"])
    res = run(
        day_bars("2025-03-12", events),
        cands,
        EngineConfig(execution=ExecutionConfig(batch_window_s=0), limits=RiskLimits(stop_after_losses=3)),
    )
    t = res.trades
    assert list(t["exit_reason"]) == ["sl", "daily_stop"]
    assert list(t["exit_price"]) == [4997.75, 4999.75]
    assert t["pnl_pts"].sum() == pytest.approx(-2.748 - 0.748)
    assert res.journal["gate"].iloc[-1] == "daily stop -3.00 reached"


@pytest.mark.parametrize(("net", "refused"), [(-3.0, True), (-2.99, False), (-3.01, True)])
def test_daily_point_stop_holds_exactly_at_its_edge(net: float, refused: bool) -> None:
    order = Order(0, 1, ct("2025-03-12", "09:00").to_pydatetime(), date(2025, 3, 12))
    verdict = gate(order, DayState(date(2025, 3, 12), net_pts=net), RiskLimits(), SessionConfig())
    assert isinstance(verdict, Refused) == refused
    if refused:
        assert verdict == Refused("daily stop -3.00 reached")


def test_entries_only_inside_the_windows() -> None:
    times = ["08:29", "10:29", "10:30", "12:59", "13:00"]
    res = run(day_bars("2025-03-12", {"10:30": DOWN}), longs("2025-03-12", times))
    # 10:29 fills at 10:29 (in the window) and is stopped in the 10:30 bar.
    assert list(res.journal["gate"]) == ["outside window", "ok", "outside window", "outside window", "ok"]


def test_window_is_checked_on_the_fill_time_with_batching() -> None:
    # Seen at 10:29:00, decided at 10:29:30, the next bar opens 10:30:00: outside rth_a.
    res = backtest(day_bars("2025-03-12"), longs("2025-03-12", ["10:29"]), RuleDecider(), EngineConfig())
    assert res.journal["gate"].iloc[0] == "outside window"
    assert res.journal["decision"].iloc[0] == "take"
    assert res.trades.empty


def test_position_open_at_rth_end_is_flattened_at_15_00() -> None:
    res = run(day_bars("2025-03-12"), longs("2025-03-12", ["14:55"]))
    t = res.trades.iloc[0]
    assert (t["exit_reason"], t["exit_price"]) == ("session_end", 4999.75)  # 14:59 bar's close - 1 tick
    assert t["exit_ts"] == ct("2025-03-12", "15:00")


def test_flat_time_15_15_is_configurable() -> None:
    cfg = EngineConfig(execution=ExecutionConfig(batch_window_s=0), session=SessionConfig(flat_at=time(15, 15)))
    res = run(day_bars("2025-03-12"), longs("2025-03-12", ["14:55"]), cfg)
    assert res.trades["exit_ts"].iloc[0] == ct("2025-03-12", "15:15")


def test_dst_day_windows_and_flat_time_follow_central_wall_clock() -> None:
    # 2025-03-10 is the first weekday of CDT: 08:30 CT = 13:30 UTC (it was 14:30 UTC the Friday before).
    res = run(day_bars("2025-03-10", {"08:31": UP}), longs("2025-03-10", ["08:30", "14:58"]))
    assert list(res.journal["gate"]) == ["ok", "ok"]
    assert res.trades["entry_ts"].iloc[0] == pd.Timestamp("2025-03-10 13:30", tz="UTC")
    assert res.trades["exit_ts"].iloc[1] == pd.Timestamp("2025-03-10 20:00", tz="UTC")
    friday = run(
        day_bars("2025-03-07"), candidate_frame([(pd.Timestamp("2025-03-07 13:30", tz="UTC"), "long", 5000.0)])
    )
    assert friday.journal["gate"].iloc[0] == "outside window"  # 07:30 CST


def test_early_close_clips_the_windows_and_flattens_at_the_close() -> None:
    day = date(2025, 11, 28)  # the day after Thanksgiving: equity futures close 12:15 CT
    cfg = EngineConfig(
        execution=ExecutionConfig(batch_window_s=0), session=SessionConfig(early_closes={day: time(12, 15)})
    )
    res = run(day_bars("2025-11-28", end="12:15"), longs("2025-11-28", ["10:00", "12:10"]), cfg)
    assert list(res.journal["gate"]) == ["ok", "outside window"]
    t = res.trades.iloc[0]
    assert (t["exit_reason"], t["exit_ts"]) == ("session_end", ct("2025-11-28", "12:15"))


def test_every_candidate_is_journaled_with_why_no_trade() -> None:
    cands = longs("2025-03-12", ["08:40", "08:40"])
    cands.loc[1, ["prefilter_score", "passed_prefilter"]] = (60.0, False)
    res = backtest(day_bars("2025-03-12", {"08:41": UP}), cands, RuleDecider(threshold=90), NOW)
    j = res.journal
    assert list(j["decision"]) == ["skip", "not_asked"]
    assert list(j["gate"]) == ["ok", "below prefilter"]
    assert j["reason"].iloc[0] == "prefilter 80 < 90; no confidence stated: the confidence gate does not apply"
    assert pd.isna(j["confidence"].iloc[0])  # the rule decider states no confidence; its score is not one
    assert res.trades.empty


def test_five_minute_decisions_walk_one_minute_sub_bars() -> None:
    from mesdesk.data.resample import resample
    from mesdesk.timeframes import Timeframe

    crash = (5001.50, 5001.50, 4999.00, 4999.25)
    one = day_bars("2025-03-12", {"08:45": UP, "08:46": crash})
    five = resample(one, Timeframe.M5, source_span=pd.Timedelta("1min"))
    cands = longs("2025-03-12", ["08:40"])
    coarse = run(five, cands)
    fine = backtest(five, cands, RuleDecider(), NOW, sub_bars=one)
    assert (coarse.trades["exit_reason"].iloc[0], coarse.trades["ambiguous"].iloc[0]) == ("sl", True)
    t = fine.trades.iloc[0]
    assert (t["exit_reason"], t["exit_price"], t["ambiguous"]) == ("tp", 5001.50, False)
    assert t["exit_ts"] == ct("2025-03-12", "08:46")  # the 08:45 one-minute bar's close
    assert t["time_to_target"] == 360.0


def test_a_day_without_candidates_gives_an_empty_journal_and_no_trades() -> None:
    res = run(day_bars("2025-03-12"), longs("2025-03-12", ["09:00"]).iloc[:0])
    assert res.journal.empty
    assert res.trades.empty


def test_open_position_shows_the_working_bracket() -> None:
    from mesdesk.clock import SimClock
    from mesdesk.engine import Engine

    bars = day_bars("2025-03-12", {"08:41": (5000.00, 5000.75, 5000.00, 5000.50)})  # +0.50: breakeven armed
    clock = SimClock(ct("2025-03-12", "08:42").to_pydatetime())
    engine = Engine(NOW, RuleDecider(), clock)
    engine.advance(bars.loc[: ct("2025-03-12", "08:41")], longs("2025-03-12", ["08:40"]))
    pos = engine.open_position()
    assert pos is not None
    assert (pos["entry_price"], pos["target"], pos["stop"], pos["breakeven"]) == (5000.25, 5001.50, 5000.25, True)
    assert engine.trades()["result"].iloc[0] == "open"


def test_first_day_after_fall_back_uses_cst() -> None:
    # 2025-11-03 is the first weekday of CST again: 08:30 CT = 14:30 UTC, 15:00 CT = 21:00 UTC.
    res = run(day_bars("2025-11-03"), longs("2025-11-03", ["14:58"]))
    t = res.trades.iloc[0]
    assert t["entry_ts"] == pd.Timestamp("2025-11-03 20:58", tz="UTC")
    assert (t["exit_reason"], t["exit_ts"]) == ("session_end", pd.Timestamp("2025-11-03 21:00", tz="UTC"))
    early = run(day_bars("2025-11-03"), candidate_frame([(pd.Timestamp("2025-11-03 13:40", tz="UTC"), "long", 5000.0)]))
    assert early.journal["gate"].iloc[0] == "outside window"  # 07:40 CST
