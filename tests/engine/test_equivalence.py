"""One loop: feeding bars one at a time (live) gives the same journal as feeding them all (backtest),
and the journal up to t does not change when later bars are appended (no peek at the future)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from mesdesk.clock import SimClock
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import Engine, EngineConfig, RiskLimits, run_backtest
from mesdesk.engine.loop import infer_span

from .factories import random_candidates, random_market

DAYS = ["2025-03-06", "2025-03-07", "2025-03-10", "2025-03-11"]
# Looser limits than the seed so the random market trades enough to test something.
CFG = EngineConfig(limits=RiskLimits(max_trades=8, stop_after_losses=4, daily_point_stop=-6.0))


# The replay harness: the engine fed step by step with only what is known at each step.
def feed_incrementally(
    engine: Engine,
    clock: SimClock,
    bars: pd.DataFrame,
    candidates_for: Callable[[pd.DataFrame], pd.DataFrame],
    step_times: Sequence[pd.Timestamp],
    sub_bars: pd.DataFrame | None = None,
) -> None:
    """Replay: advance `engine` at each of `step_times`, giving it only what is known then.

    `candidates_for(known_bars)` computes the candidate frame on the bars known at that time (the
    setups' detector); bars and sub-bars are cut to those closed by the step time.
    """
    span = engine._bar_span or infer_span(pd.DatetimeIndex(bars.index))  # noqa: SLF001
    sub_span = None if sub_bars is None else (engine._path_span or infer_span(pd.DatetimeIndex(sub_bars.index)))  # noqa: SLF001
    for t in step_times:
        clock.advance_to(t.to_pydatetime())
        known = bars.loc[: t - span]
        known_sub = None if sub_bars is None or sub_span is None else sub_bars.loc[: t - sub_span]
        if len(known) < 2:
            continue
        engine.advance(known, candidates_for(known), known_sub)


def test_incremental_feeding_gives_the_same_journal_as_the_batch_run() -> None:
    bars = random_market(DAYS)
    cands = random_candidates(bars)
    batch = run_backtest(bars, cands, RuleDecider(), CFG)
    assert len(batch.trades) >= 10  # the test means something only if trades happen

    clock = SimClock(bars.index[0].to_pydatetime())
    engine = Engine(CFG, RuleDecider(), clock, bar_span=pd.Timedelta("1min"))
    closes = bars.index + pd.Timedelta("1min")
    # Every bar close, plus the half-minute decision times of the first day (as a wall clock would).
    steps = sorted(set(closes) | set(closes[:450] - pd.Timedelta("30s")))

    cand_ns = pd.DatetimeIndex(cands["ts"]).asi8

    def candidates_for(known: pd.DataFrame) -> pd.DataFrame:
        last_close = (known.index[-1] + pd.Timedelta("1min")).value
        return cands.iloc[: int(cand_ns.searchsorted(last_close, side="right"))]

    feed_incrementally(engine, clock, bars, candidates_for, steps)
    pd.testing.assert_frame_equal(engine.journal(), batch.journal)


def test_journal_up_to_t_is_unchanged_when_later_bars_are_appended() -> None:
    bars = random_market(DAYS)
    cands = random_candidates(bars)
    full = run_backtest(bars, cands, RuleDecider(), CFG).journal
    for cut in (pd.Timestamp("2025-03-10 17:02", tz="UTC"), pd.Timestamp("2025-03-11 19:47", tz="UTC")):
        head_bars = bars.loc[: cut - pd.Timedelta("1min")]
        head_cands = cands[cands["ts"] <= cut].reset_index(drop=True)
        head = run_backtest(head_bars, head_cands, RuleDecider(), CFG).journal
        settled = head["decision_ts"] <= cut
        settled &= head["exit_reason"].isna() | (head["exit_reason"] != "open")
        assert settled.sum() > 10
        pd.testing.assert_frame_equal(head[settled], full.loc[head.index[settled]])
        # A position still open at the cut shows as `open` and later gets its real exit.
        still_open = head.index[head["exit_reason"] == "open"]
        assert (full.loc[still_open, "exit_reason"] != "open").all()


def test_incremental_equals_batch_with_one_minute_sub_bars_under_five_minute_decisions() -> None:
    from mesdesk.data.resample import resample
    from mesdesk.timeframes import Timeframe

    one = random_market(DAYS[:3], seed=8)
    five = resample(one, Timeframe.M5, source_span=pd.Timedelta("1min"))
    cands = random_candidates(five, every=3, seed=9)
    cands["ts"] = cands["ts"] + pd.Timedelta("4min")  # random_candidates assumes 1m bars: close = open + 5m
    batch = run_backtest(five, cands, RuleDecider(), CFG, sub_bars=one)
    assert len(batch.trades) >= 5

    clock = SimClock(one.index[0].to_pydatetime())
    engine = Engine(CFG, RuleDecider(), clock, bar_span=pd.Timedelta("5min"), path_span=pd.Timedelta("1min"))
    cand_ns = pd.DatetimeIndex(cands["ts"]).asi8

    def candidates_for(known: pd.DataFrame) -> pd.DataFrame:
        last_close = (known.index[-1] + pd.Timedelta("5min")).value
        return cands.iloc[: int(cand_ns.searchsorted(last_close, side="right"))]

    steps = list(one.index + pd.Timedelta("1min"))  # every minute, as the 1m sub-bars close
    feed_incrementally(engine, clock, five, candidates_for, steps, sub_bars=one)
    pd.testing.assert_frame_equal(engine.journal(), batch.journal)
