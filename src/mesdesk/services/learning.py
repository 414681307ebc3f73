"""Learning's application layer: evaluate (walk-forward), update, show and reset the stored memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from mesdesk.config import Settings, load_settings
from mesdesk.decider import Decider
from mesdesk.engine.config import EngineConfig
from mesdesk.learn.counterfactual import follow
from mesdesk.learn.evaluate import WalkForwardReport, walk_forward
from mesdesk.learn.live import LiveLearningDecider
from mesdesk.learn.memory import LearningMemory
from mesdesk.outcome import Outcome
from mesdesk.pathbars import PathBars
from mesdesk.services.backtest import BacktestRequest, load_path_bars
from mesdesk.services.root import Root
from mesdesk.store.base import make_engine, migrate, session_factory, transaction
from mesdesk.store.learning import count_outcomes, load_outcomes, reset_outcomes, save_outcomes
from mesdesk.timeframes import Timeframe


@dataclass(frozen=True)
class LearnRequest:
    """Which bars to learn from or evaluate on (same sources as the backtest)."""

    source: str = "synthetic"
    file: Path | None = None
    days: int = 40
    timeframe: str = "1m"
    decider: str = "rules"
    seed: int = 7
    train_days: int = 10
    test_days: int = 5
    setups: tuple[str, ...] = ()  # --setup (none: the three built-ins)
    setup_params: tuple[str, ...] = ()  # --setup-param


def _market(req: LearnRequest, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, BacktestRequest]:
    tf = Timeframe.parse(req.timeframe, param="--timeframe")
    breq = BacktestRequest(
        source=req.source,
        file=req.file,
        days=req.days,
        timeframe=tf.value,
        decider=req.decider,
        seed=req.seed,
        write=False,
    )
    bars = load_path_bars(breq, settings, tf)
    candidates = Root(settings).setups(req.setups, req.setup_params).detect(bars, tf)
    return bars, candidates, breq


def _config(settings: Settings, breq: BacktestRequest) -> EngineConfig:
    return Root(settings).engine_config(slippage_ticks=breq.slippage_ticks)


def evaluate(req: LearnRequest, settings: Settings | None = None) -> WalkForwardReport:
    """Walk-forward, learning on vs off, scored out of sample."""
    settings = settings or load_settings()
    bars, candidates, breq = _market(req, settings)
    config = _config(settings, breq)
    return walk_forward(
        bars,
        candidates,
        Root(settings).rule_decider_factory(req.decider),
        config=config,
        train_days=req.train_days,
        test_days=req.test_days,
    )


def _factory(settings: Settings) -> sessionmaker[Session]:
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return session_factory(engine)


def update(req: LearnRequest, settings: Settings | None = None) -> tuple[int, int]:
    """Follow every candidate of the bars to its as-if-taken outcome and store the new ones.

    Returns (new outcomes stored, outcomes in the store). Idempotent: a second run stores nothing.
    """
    settings = settings or load_settings()
    bars, candidates, breq = _market(req, settings)
    config = _config(settings, breq)
    span = pd.Timedelta(Timeframe.parse(req.timeframe).span)
    outcomes = follow(candidates, PathBars.from_frame(bars, span), config)
    with transaction(_factory(settings)) as session:
        new = save_outcomes(session, outcomes)
        total = count_outcomes(session)
    return new, total


def memory_from_store(settings: Settings, now: datetime | None = None) -> LearningMemory:
    """A memory holding the stored outcomes resolved by `now` (default: the current time)."""
    now = now or datetime.now(UTC)
    memory = LearningMemory()
    with transaction(_factory(settings)) as session:
        memory.extend(load_outcomes(session, resolved_before=now))
    memory.advance(now)
    return memory


def fingerprints(settings: Settings | None = None, setup: str | None = None) -> list[dict[str, object]]:
    """The /metrics/fingerprints rows (seed fields first) from the stored memory."""
    rows = memory_from_store(settings or load_settings()).fingerprints()
    return [r for r in rows if setup is None or r["setup"] == setup]


def live_decider(base: Decider, settings: Settings, config: EngineConfig) -> Decider:
    """`base` wrapped with learning for a runner: memory from the store, new outcomes saved to it.

    Stored outcomes are handed over without advancing the memory's clock: each is used only from its
    `resolved_at`, so a replay of an earlier day never sees outcomes from after its decisions.
    """
    factory = _factory(settings)
    memory = LearningMemory()
    with transaction(factory) as session:
        memory.extend(load_outcomes(session))

    def keep(outcomes: list[Outcome]) -> None:
        with transaction(factory) as session:
            save_outcomes(session, outcomes)

    return LiveLearningDecider(base, memory, config, on_outcomes=keep)


def reset(settings: Settings | None = None) -> int:
    """Forget every stored outcome; returns how many were deleted."""
    with transaction(_factory(settings or load_settings())) as session:
        return reset_outcomes(session)
