"""Candidates in one 30 s window are decided together at its end; the entry is the next open after it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mesdesk.decide.rules import RuleDecider
from mesdesk.decider import DecisionContext
from mesdesk.engine import EngineConfig, run_backtest
from mesdesk.errors import DecisionError
from mesdesk.model import Candidate, Decision

from .factories import UP, candidate_frame, ct, day_bars


class Recorder:
    """A rule decider that remembers each call (time and batch size)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []
        self.inner = RuleDecider()

    @property
    def name(self) -> str:
        return "recorder"

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        last_bar = context.recent_bars.index[-1].isoformat()
        self.calls.append((context.now.isoformat(), len(candidates), last_bar))
        return self.inner.decide(candidates, context)


def test_one_call_per_window_at_its_end_and_entry_at_the_next_open() -> None:
    cands = candidate_frame([(ct("2025-03-12", "08:40"), "long", 5000.0), (ct("2025-03-12", "08:40"), "short", 5000.0)])
    cands.loc[1, "prefilter_score"] = 90.0
    rec = Recorder()
    res = run_backtest(day_bars("2025-03-12", {"08:41": UP}), cands, rec, EngineConfig())
    # Decided at 08:40:30 CT = 13:40:30 UTC; the context holds bars closed by then (the 08:39 bar).
    assert rec.calls == [("2025-03-12T13:40:30+00:00", 2, "2025-03-12T13:39:00+00:00")]
    j = res.journal
    assert list(j["gate"]) == ["position open", "ok"]  # the higher confidence (the short, 90) is taken
    t = res.trades.iloc[0]
    assert t["entry_ts"] == ct("2025-03-12", "08:41")  # first open at or after 08:40:30
    assert t["entry_price"] == 4999.75  # short at the 08:41 open 5000.00 minus one tick


def test_a_decider_that_loses_candidates_is_an_error_not_a_skip() -> None:
    class Broken(Recorder):
        def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
            return []

    cands = candidate_frame([(ct("2025-03-12", "08:40"), "long", 5000.0)])
    with pytest.raises(DecisionError, match="returned 0 decisions for 1"):
        run_backtest(day_bars("2025-03-12"), cands, Broken(), EngineConfig())
