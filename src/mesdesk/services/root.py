"""The composition root: the one place that builds engine configs, bar sources, setups and deciders.

Every front end (the CLI, the API, the paper runner, learning, the optimizer) gets its parts from a
`Root` made from the settings. Nothing else builds an `EngineConfig` from the settings or picks a
provider or decider by name, so the backtest and paper trading cannot disagree on a rule (they once
did: the runner's own copy of the config lacked the early closes, so paper trading stayed open past
an early close while the backtest flattened).

Everything derived from the config follows it: the LLM prompt states the bracket of the engine
config the decider trades under.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from mesdesk.calendar import early_closes
from mesdesk.clock import SimClock
from mesdesk.config import Settings, load_settings
from mesdesk.data.registry import SOURCES, HistoryRequest, SourceContext
from mesdesk.decide.prompt import TradeTerms
from mesdesk.decider import Decider
from mesdesk.engine import Engine, EngineConfig, ExecutionConfig, RiskLimits, SessionConfig
from mesdesk.errors import ConfigError
from mesdesk.setups.registry import SetupSet, resolve_setups
from mesdesk.timeframes import Timeframe

if TYPE_CHECKING:
    from pathlib import Path

    import httpx2

    from mesdesk.data.source import BarSource
    from mesdesk.runner.core import CandidateFn, LoopFactory, PositionFn, TradingLoop
    from mesdesk.services.decisions import BacktestDecider


def trade_terms(config: EngineConfig) -> TradeTerms:
    """What the LLM prompt states about the bracket and costs of `config`."""
    b = config.bracket
    return TradeTerms(
        tp_pts=b.tp_pts,
        sl_pts=b.sl_pts,
        breakeven_at_pts=b.breakeven_at_pts,
        trail_after_pts=b.trail_after_pts,
        cost_pts=config.execution.commission_pts_round_trip,
    )


@dataclass(frozen=True)
class RunnerParts:
    """What the paper runner is built from (see `runner.core.PaperRunner`)."""

    decider: Decider
    loop_factory: LoopFactory
    candidates_fn: CandidateFn
    position_fn: PositionFn


@dataclass(frozen=True)
class Root:
    """The parts of mesdesk for one set of settings."""

    settings: Settings

    @classmethod
    def load(cls) -> Root:
        """From the environment and `.env` (a bad value is a `ConfigError` naming the variable)."""
        return cls(load_settings())

    # ------------------------------------------------------------ configs

    @cached_property
    def _early_closes(self) -> Mapping[date, Any]:
        return MappingProxyType(early_closes(date.min, date.max))

    def engine_config(self, *, slippage_ticks: int = 1) -> EngineConfig:
        """The seed's rules with DAILY_POINT_STOP, MESDESK_RTH_END and every early close of the calendar."""
        session = replace(SessionConfig.from_settings(self.settings), early_closes=self._early_closes)
        return EngineConfig(
            execution=ExecutionConfig(slippage_ticks=slippage_ticks),
            limits=RiskLimits.from_settings(self.settings),
            session=session,
        )

    # ------------------------------------------------------------ data

    def source_context(self, *, file: Path | None = None, seed: int = 7, **options: Any) -> SourceContext:
        return SourceContext(settings=self.settings, file=file, seed=seed, **options)

    def history(self, source: str, request: HistoryRequest, *, file: Path | None = None, seed: int = 7) -> pd.DataFrame:
        """Bars of `request.timeframe` from the registered source `source` (validated mesdesk frame)."""
        entry = SOURCES.get(source)
        return entry.history(self.source_context(file=file, seed=seed), request)

    def live_source(self, name: str, symbol: str = "MES") -> tuple[BarSource, str]:
        """A provider's `BarSource` for the live runner and the symbol it knows `symbol` by."""
        return SOURCES.open_live(name, self.source_context(), symbol)

    # ------------------------------------------------------------ setups

    def setups(
        self, specs: Sequence[str] = (), params: Sequence[str] = (), *, min_score: float | None = None
    ) -> SetupSet:
        """The setups named by `specs` (built-in names, ``file.py:function`` or ``package.module:function``;
        none: the three built-ins) with `params` (``<setup>.<param>=<value>``); `min_score` sets the
        prefilter's pass threshold (``--min-score``)."""
        setups = resolve_setups(specs, params)
        if min_score is not None:
            setups = setups.with_params({"prefilter.threshold": float(min_score)})
        return setups

    # ------------------------------------------------------------ deciders

    def backtest_decider(
        self,
        name: str,
        config: EngineConfig,
        *,
        min_score: float | None = None,
        cache_mode: str | None = None,
        http_client: httpx2.Client | None = None,
    ) -> BacktestDecider:
        """`rules` (take what passes the prefilter) or an LLM/local decider with its budget and cache."""
        from mesdesk.services.decisions import RulesRun, backtest_scope, build_decider

        if name == "rules":
            return RulesRun(min_score)
        return build_decider(
            name,
            self.settings,
            cache_mode=cache_mode,
            scope=backtest_scope(),
            http_client=http_client,
            terms=trade_terms(config),
        )

    def rule_decider_factory(self, name: str, min_score: float | None = None) -> Callable[[], Decider]:
        """Fresh rule deciders, for runs that build one per window (learning's walk-forward)."""
        from mesdesk.services.decisions import RulesRun

        if name != "rules":
            raise ConfigError(f"--decider {name!r}: this command runs the rule decider only (rules)")
        return RulesRun(min_score).decider

    def live_decider(self, config: EngineConfig) -> Decider:
        """The runner's decider, chosen by MESDESK_DECIDER.

        `auto` with no LLM key (the default on a fresh machine): the rule decider (take when the
        prefilter passes), deterministic and free. `auto` with a key, or `local`/`openai`/`anthropic`:
        the guarded decider (local fallback, the daily budget in scope "live", the decision cache),
        which `/metrics/budget` reports. With MESDESK_LEARNING (default on) it is wrapped by learning:
        vetoes from the stored fingerprints and hard negatives, and every candidate it is shown
        followed to its outcome and stored.
        """
        from mesdesk.decide.rules import RuleDecider
        from mesdesk.services.decisions import build_decider, resolve_decider_name

        chosen: Decider
        if self.settings.decider == "auto" and resolve_decider_name("auto", self.settings) == "local":
            chosen = RuleDecider()
        else:
            chosen = build_decider(self.settings.decider, self.settings, scope="live", terms=trade_terms(config)).tap
        if not self.settings.learning:
            return chosen
        from mesdesk.services.learning import live_decider

        return live_decider(chosen, self.settings, config)

    # ------------------------------------------------------------ the paper runner

    def runner_parts(self, setups: Sequence[str] = (), setup_params: Sequence[str] = ()) -> RunnerParts:
        """The runner's decider, engine loop, setups and position view, on the same config as a backtest."""
        config = self.engine_config()
        chosen = self.setups(setups, setup_params)  # bad setups fail before the store is touched
        decider = self.live_decider(config)
        attach = getattr(decider, "attach", None)  # the decisions tap learns from the day's journal

        def make_loop(d: Decider, clock: SimClock, span: timedelta) -> TradingLoop:
            bar_span = pd.Timedelta(span)
            loop = Engine(config, d, clock, bar_span=bar_span, path_span=bar_span)
            if callable(attach):
                attach(loop)
            return loop

        def detect(bars: pd.DataFrame) -> pd.DataFrame:
            return chosen.detect(bars, Timeframe.M1)

        return RunnerParts(decider, make_loop, detect, position_view(config))


def position_view(config: EngineConfig) -> Callable[[Any, Mapping[str, Any]], dict[str, Any]]:
    """The open position with its WORKING bracket from the engine, else the initial bracket of its row."""
    bracket = config.bracket

    def describe(loop: Any, row: Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(loop, Engine):
            found = loop.open_position()
            if found:
                return dict(found)
        sign = 1.0 if row["direction"] == "long" else -1.0
        entry = float(row["entry_price"])
        return {
            "setup": row["setup"],
            "direction": row["direction"],
            "entry_ts": row["entry_ts"],
            "entry_price": entry,
            "target": round(entry + sign * bracket.tp_pts, 2),
            "stop": round(entry - sign * bracket.sl_pts, 2),
            "bracket": "initial",
        }

    return describe
