"""Paper trading and the backtest flatten at the same time on an early-close day (one composition root).

2025-11-28 (the day after Thanksgiving) closes at 12:15 CT. A long entered at 10:01 CT into a market
that then stands still never reaches its target or its stop, so only the session end closes it: at
the early close in both the backtest and the paper runner. The runner once built its own engine
config without the early closes and held such a position until 15:00 CT.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType

import numpy as np
import pandas as pd

from mesdesk.calendar import CT, early_closes
from mesdesk.clock import SimClock
from mesdesk.config import load_settings
from mesdesk.decide.rules import RuleDecider
from mesdesk.decider import Decider
from mesdesk.engine import Engine, EngineConfig, run_backtest
from mesdesk.runner.core import PaperRunner, RunnerConfig, TradingLoop
from mesdesk.runner.service import ReplayDriver, RunnerService
from mesdesk.services.root import Root
from mesdesk.store.runner_store import ServiceStore

from .helpers import FakeWall, every_n_minutes
from .test_runner import run_to_end

DAY = date(2025, 11, 28)
ENTRY_CANDIDATE_CT = datetime(2025, 11, 28, 10, 0, tzinfo=CT)  # known at 10:00 CT, entered at the 10:01 open


def still_market() -> pd.DataFrame:
    """1-minute bars of the trading day (17:00 CT the evening before to 16:00 CT), every bar at 6600.00."""
    start = pd.Timestamp("2025-11-27 17:00", tz=CT).tz_convert("UTC")
    idx = pd.date_range(start, periods=23 * 60, freq="1min", name="ts").as_unit("ns")
    idx = idx[idx < pd.Timestamp("2025-11-28 15:05", tz=CT)]  # past the regular flat time is enough
    price = np.full(len(idx), 6600.0)
    return pd.DataFrame(
        {"open": price, "high": price, "low": price, "close": price, "volume": np.full(len(idx), 100, np.int64)},
        index=idx,
    )


def _candidate() -> pd.DataFrame:
    bars = still_market()
    frame = every_n_minutes(bars.loc[: pd.Timestamp(ENTRY_CANDIDATE_CT)], n=1)
    row = frame[frame["ts"] == pd.Timestamp(ENTRY_CANDIDATE_CT)].reset_index(drop=True)
    assert len(row) == 1
    return row.assign(direction="long", setup_type="ORB_retest_go", prefilter_score=90.0, passed_prefilter=True)


CANDIDATE = _candidate()


def one_candidate(bars: pd.DataFrame) -> pd.DataFrame:
    """The candidate known at 10:00 CT, once the bars given reach it (long, passing the prefilter)."""
    known_until = pd.DatetimeIndex(bars.index)[-1] + pd.Timedelta(minutes=1)
    return CANDIDATE if known_until >= pd.Timestamp(ENTRY_CANDIDATE_CT) else CANDIDATE.iloc[:0]


def paper_trades(
    store: ServiceStore, bars: pd.DataFrame, config: EngineConfig | None = None
) -> list[tuple[datetime, str]]:
    """The paper runner's exits: its loop from the composition root, or on `config` when given."""
    parts = Root(load_settings(MESDESK_LEARNING="false")).runner_parts()

    def loop(d: Decider, clock: SimClock, span: timedelta) -> TradingLoop:
        assert config is not None
        return Engine(config, d, clock, bar_span=pd.Timedelta(span), path_span=pd.Timedelta(span))

    runner = PaperRunner(
        store,
        "early",
        loop_factory=parts.loop_factory if config is None else loop,
        candidates_fn=one_candidate,
        decider=RuleDecider(),
        position_fn=parts.position_fn,
        config=RunnerConfig(name="replay-early", lease_ttl_s=10, renew_every_s=2, lookback_days=2),
        wall=(wall := FakeWall(datetime(2025, 11, 28, 14, 0, tzinfo=UTC))),
    )
    driver = ReplayDriver(bars, start=datetime(2025, 11, 28, 9, 50, tzinfo=CT), speed=0, name="still")
    store.ensure_state("replay-early", mode="replay", source="still")
    run_to_end(RunnerService(runner, driver, store, runner.config, wall=wall), wall)
    return [(t.exit_ts, t.exit_reason) for t in store.trades("replay-early", DAY)]


def test_paper_and_backtest_flatten_at_the_early_close(store: ServiceStore) -> None:
    bars = still_market()
    root = Root(load_settings(MESDESK_LEARNING="false"))
    config = root.engine_config()
    assert config.session.close_on(DAY) == time(12, 15)  # the calendar's early close reached the config

    backtest = run_backtest(bars, one_candidate(bars), RuleDecider(), config).trades
    assert len(backtest) == 1
    early_close = datetime(2025, 11, 28, 12, 15, tzinfo=CT)
    assert pd.Timestamp(backtest["exit_ts"].iloc[0]) == pd.Timestamp(early_close)
    assert backtest["exit_reason"].iloc[0] == "session_end"

    paper = paper_trades(store, bars)
    assert [(pd.Timestamp(ts), reason) for ts, reason in paper] == [(pd.Timestamp(early_close), "session_end")]


def test_a_config_without_the_early_closes_would_hold_to_15_00(store: ServiceStore) -> None:
    """The control: the runner's old config (no early closes) holds the same position past the close."""
    bars = still_market()
    config = Root(load_settings(MESDESK_LEARNING="false")).engine_config()
    no_early = replace(config, session=replace(config.session, early_closes=MappingProxyType({})))
    assert DAY in early_closes(DAY, DAY)
    paper = paper_trades(store, bars, no_early)
    assert [(pd.Timestamp(ts), reason) for ts, reason in paper] == [
        (pd.Timestamp(datetime(2025, 11, 28, 15, 0, tzinfo=CT)), "session_end")
    ]
