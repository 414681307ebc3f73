"""The paper runner: same trades as a backtest, crash-resume, the lease, stop, recorded decisions, staleness."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.calendar import trading_days
from mesdesk.clock import SimClock
from mesdesk.config import Settings, load_settings
from mesdesk.decide.rules import RuleDecider
from mesdesk.decider import Decider, DecisionContext
from mesdesk.engine import Engine, run_backtest
from mesdesk.errors import ProviderError
from mesdesk.learn.live import LiveLearningDecider
from mesdesk.model import Candidate, Decision
from mesdesk.runner.core import PaperRunner, RunnerConfig, TradingLoop
from mesdesk.runner.service import LiveDriver, ReplayDriver, RunnerService
from mesdesk.services.root import Root, position_view
from mesdesk.store.runner_store import ServiceStore
from mesdesk.timeframes import Timeframe

from .helpers import FakeWall, day_bars, every_n_minutes

DAY = date(2025, 9, 16)
SETTINGS = Settings()


class CountingDecider:
    """The rule decider, counting how many candidates it was asked about."""

    def __init__(self) -> None:
        self.inner = RuleDecider()
        self.asked = 0

    @property
    def name(self) -> str:
        return "rules"

    def decide(self, candidates: Sequence[Candidate], context: DecisionContext) -> list[Decision]:
        self.asked += len(candidates)
        return self.inner.decide(candidates, context)


def make_service(
    store: ServiceStore,
    bars: pd.DataFrame,
    wall: FakeWall,
    holder: str,
    decider: Decider | None = None,
    max_lag_s: float | None = None,
) -> RunnerService:
    config = RunnerConfig(
        name="replay-test", lease_ttl_s=10, renew_every_s=2, lookback_days=2, max_decision_lag_s=max_lag_s
    )
    config_ = Root(SETTINGS).engine_config()

    def loop(d: Decider, clock: SimClock, span: timedelta) -> TradingLoop:
        return Engine(config_, d, clock, bar_span=pd.Timedelta(span), path_span=pd.Timedelta(span))

    runner = PaperRunner(
        store,
        holder,
        loop_factory=loop,
        candidates_fn=every_n_minutes,
        decider=decider or RuleDecider(),
        position_fn=position_view(config_),
        config=config,
        wall=wall,
    )
    # Trading starts at 08:20 CT; the night before is history (fewer steps, same trades: no candidate earlier).
    driver = ReplayDriver(bars, start=datetime(2025, 9, 16, 13, 20, tzinfo=UTC), speed=0, name="test")
    store.ensure_state(config.name, mode="replay", source="test")
    return RunnerService(runner, driver, store, config, wall=wall)


def run_to_end(service: RunnerService, wall: FakeWall, max_steps: int = 5000) -> int:
    steps = 0
    while service.driver.idle_reason(service.runner.cursor, wall()) is None and steps < max_steps:
        service.run_once()
        wall.tick(0.01)
        steps += 1
    service.run_once()
    return steps


def backtest_trades(bars: pd.DataFrame) -> pd.DataFrame:
    mask = trading_days(pd.DatetimeIndex(bars.index)) == np.datetime64(DAY, "D")
    cands = every_n_minutes(bars)
    cands = cands[pd.to_datetime(cands["trading_day"]).dt.date == DAY].reset_index(drop=True)
    return run_backtest(bars[mask], cands, RuleDecider(), config=Root(SETTINGS).engine_config()).trades


def summary(store: ServiceStore) -> list[tuple[str, float, float, float, str]]:
    return [
        (t.entry_ts.isoformat(), t.entry_price, t.exit_price, round(t.pnl_pts, 6), t.exit_reason)
        for t in store.trades("replay-test", DAY)
    ]


@pytest.fixture(name="bars", scope="module")
def fixture_bars() -> pd.DataFrame:
    # The morning session is enough (rth_a); a shorter day keeps each replay to ~150 bars.
    return day_bars().loc[: pd.Timestamp("2025-09-16 15:45", tz="UTC")]


def test_replayed_day_gives_the_backtest_trades(store: ServiceStore, bars: pd.DataFrame) -> None:
    wall = FakeWall()
    run_to_end(make_service(store, bars, wall, "a"), wall)
    expected = backtest_trades(bars)
    got = summary(store)
    assert len(got) == len(expected) > 0
    assert [g[1] for g in got] == expected["entry_price"].tolist()
    assert [g[3] for g in got] == [round(x, 6) for x in expected["pnl_pts"]]
    equity = store.equity("replay-test")
    assert equity[-1].equity_pts == pytest.approx(float(expected["pnl_pts"].sum()))
    snap = store.state("replay-test")
    assert snap is not None
    assert snap.paused_reason is not None
    assert snap.paused_reason.startswith("replay finished")
    assert snap.trades_today == len(expected)


def _first_bar_in_a_trade(store: ServiceStore, service: RunnerService, wall: FakeWall) -> dict[str, object]:
    for _ in range(3000):
        service.run_once()
        wall.tick(0.01)
        snap = store.state("replay-test")
        if snap is not None and snap.position is not None:
            return dict(snap.position)
    raise AssertionError("no position ever opened")


def test_restart_mid_trade_resumes_position_and_loses_or_doubles_nothing(
    store: ServiceStore, bars: pd.DataFrame
) -> None:
    reference_store = store
    wall = FakeWall()
    crashed = make_service(store, bars, wall, "first")
    position = _first_bar_in_a_trade(store, crashed, wall)
    for _ in range(2):  # one more bar inside the trade, then "kill -9": the objects are dropped
        crashed.run_once()
        wall.tick(0.01)
    before = store.state("replay-test")
    assert before is not None
    del crashed
    wall.tick(11)  # the dead holder's lease expires
    second = make_service(store, bars, wall, "second")
    second.run_once()  # takes the lease, rebuilds today up to the cursor
    after = store.state("replay-test")
    assert after is not None
    assert second.holding
    assert after.position == before.position or before.position is None
    assert position["entry_price"] is not None
    assert position["bracket"] == "working"  # the engine's live stop and target, not a recomputation
    assert {"stop", "target", "breakeven", "trailing"} <= set(position)
    run_to_end(second, wall)
    got = summary(reference_store)
    expected = backtest_trades(bars)
    assert [g[1] for g in got] == expected["entry_price"].tolist()
    assert len({g[0] for g in got}) == len(got)


def test_a_restart_does_not_ask_the_decider_again(store: ServiceStore, bars: pd.DataFrame) -> None:
    wall = FakeWall()
    first_decider = CountingDecider()
    first = make_service(store, bars, wall, "first", first_decider)
    for _ in range(120):
        first.run_once()
        wall.tick(0.01)
    asked_before = first_decider.asked
    assert asked_before > 0
    first.stop()  # clean hand-over: the lease is released
    second_decider = CountingDecider()
    second = make_service(store, bars, wall, "second", second_decider)
    second.run_once()
    assert second_decider.asked == 0  # the rebuild replays recorded answers


def test_only_the_lease_holder_trades(store: ServiceStore, bars: pd.DataFrame) -> None:
    wall = FakeWall()
    a = make_service(store, bars, wall, "a")
    b = make_service(store, bars, wall, "b")
    for _ in range(50):
        a.run_once()
        b.run_once()
        wall.tick(0.5)
    assert a.holding
    assert not b.holding
    assert b.runner.cursor is None
    a.stop()
    b.run_once()
    assert b.holding
    run_to_end(b, wall)
    assert [g[1] for g in summary(store)] == backtest_trades(bars)["entry_price"].tolist()


def test_stopped_runner_takes_no_new_entries_and_says_why(store: ServiceStore, bars: pd.DataFrame) -> None:
    wall = FakeWall()
    service = make_service(store, bars, wall, "a")
    store.set_running("replay-test", False, wall())
    run_to_end(service, wall)
    assert store.trades("replay-test", DAY) == []
    rows = store.journal("replay-test", DAY, limit=1000)
    asked = [r for r in rows if r.decision_source]
    assert asked
    assert {r.decision_source for r in asked} == {"stopped"}
    assert all("stopped" in r.reason for r in asked)


class StaticSource:
    """A live source that has bars up to a moment, like a feed that went silent."""

    name = "fake"

    def __init__(self, bars: pd.DataFrame) -> None:
        self.frame = bars

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> pd.DataFrame:
        index = pd.DatetimeIndex(self.frame.index)
        mask = (index >= pd.Timestamp(start)) & (index + pd.Timedelta(minutes=1) <= pd.Timestamp(end))
        return self.frame.loc[mask]


def test_stale_live_data_pauses_with_a_reason_and_resumes(store: ServiceStore, bars: pd.DataFrame) -> None:
    last_open = datetime(2025, 9, 16, 14, 0, tzinfo=UTC)  # 09:00 CT
    source = StaticSource(bars.loc[: pd.Timestamp(last_open)])
    wall = FakeWall(last_open + timedelta(minutes=1, seconds=5))
    service = make_service(store, bars, wall, "a")
    service.driver = LiveDriver(source, symbol="MES", timeframe=Timeframe.M1, lookback_days=2, poll_s=1, grace_s=20)
    service.run_once()
    assert service.runner.cursor == last_open
    wall.tick(30)
    service.run_once()
    snap = store.state("replay-test")
    assert snap is not None
    assert not snap.paused
    wall.tick(60)  # the 09:01 bar was due at 09:02 CT; now 09:03 CT and nothing came
    service.run_once()
    snap = store.state("replay-test")
    assert snap is not None
    assert snap.paused
    assert snap.paused_reason == "stale data: no bar since 09:01 CT (one was due at 09:02 CT)"
    source.frame = bars.loc[: pd.Timestamp(last_open + timedelta(minutes=2))]
    service.run_once()
    snap = store.state("replay-test")
    assert snap is not None
    assert not snap.paused
    assert service.runner.cursor == last_open + timedelta(minutes=1)  # the 09:02 bar has not closed yet


def test_runner_decider_follows_mesdesk_decider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    db = f"sqlite:///{tmp_path}/d.sqlite"
    plain = load_settings(MESDESK_DATABASE_URL=db, OPENAI_API_KEY="", ANTHROPIC_API_KEY="", MESDESK_LEARNING="false")
    assert isinstance(Root(plain).live_decider(Root(plain).engine_config()), RuleDecider)
    auto = load_settings(MESDESK_DATABASE_URL=db, OPENAI_API_KEY="", ANTHROPIC_API_KEY="")
    learning = Root(auto).live_decider(Root(auto).engine_config())  # learning is on by default
    assert isinstance(learning, LiveLearningDecider)
    assert isinstance(learning.learning.base, RuleDecider)
    local = load_settings(MESDESK_DATABASE_URL=db, MESDESK_DECIDER="local", OPENAI_API_KEY="", ANTHROPIC_API_KEY="")
    tap = Root(local).live_decider(Root(local).engine_config())
    assert tap.name == "local+learning"
    assert callable(getattr(tap, "attach", None))


def test_live_catch_up_after_an_outage_trades_nothing_in_the_past(store: ServiceStore, bars: pd.DataFrame) -> None:
    first = datetime(2025, 9, 16, 13, 25, tzinfo=UTC)  # 08:25 CT
    source = StaticSource(bars.loc[: pd.Timestamp(first)])
    wall = FakeWall(first + timedelta(minutes=1, seconds=5))
    service = make_service(store, bars, wall, "a", max_lag_s=95)
    service.driver = LiveDriver(source, symbol="MES", timeframe=Timeframe.M1, lookback_days=2, poll_s=5, grace_s=20)
    service.run_once()
    assert service.runner.cursor == first
    source.frame = bars  # the feed comes back with two hours of bars at once
    wall.t = datetime(2025, 9, 16, 15, 46, tzinfo=UTC)
    service.run_once()
    assert store.trades("replay-test", DAY) == []
    asked = [r for r in store.journal("replay-test", DAY, limit=1000) if r.decision_source]
    assert asked
    assert {r.decision_source for r in asked} == {"late"}
    assert all("its fill would be in the past" in r.reason for r in asked)


class FailingSource:
    """A live source whose provider is down."""

    name = "down"

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> pd.DataFrame:
        raise ProviderError("HTTP 503 from the chart endpoint", provider="yahoo", kind="server")


def test_a_failing_live_source_pauses_with_its_error(store: ServiceStore, bars: pd.DataFrame) -> None:
    wall = FakeWall(datetime(2025, 9, 16, 14, 0, tzinfo=UTC))
    service = make_service(store, bars, wall, "a")
    service.driver = LiveDriver(
        FailingSource(), symbol="MES=F", timeframe=Timeframe.M1, lookback_days=2, poll_s=1, grace_s=20
    )
    service.run_once()
    snap = store.state("replay-test")
    assert snap is not None
    assert snap.paused
    assert snap.paused_reason == "data source error: yahoo: HTTP 503 from the chart endpoint"
