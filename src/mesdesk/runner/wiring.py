"""Wiring of the runner to the engine, the setups and the decider (imported only when a runner starts).

Kept apart so the API can serve its read endpoints even where the trading parts are not installed:
a missing part raises `Unavailable` with its name instead of failing at import.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pandas as pd

from mesdesk.clock import SimClock
from mesdesk.config import Settings
from mesdesk.decider import Decider
from mesdesk.errors import MesdeskError
from mesdesk.runner.core import CandidateFn, LoopFactory, PositionFn, TradingLoop


class Unavailable(MesdeskError):
    """A part the runner needs is not installed in this build."""


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise Unavailable(f"the paper runner needs {name}, which this build lacks ({exc})") from exc


def engine_config(settings: Settings) -> Any:
    """The engine's config with the settings' daily point stop and RTH end."""
    eng = _module("mesdesk.engine")
    return eng.EngineConfig(
        limits=eng.RiskLimits.from_settings(settings), session=eng.SessionConfig.from_settings(settings)
    )


def loop_factory(settings: Settings) -> LoopFactory:
    eng = _module("mesdesk.engine")
    config = engine_config(settings)

    def make(decider: Decider, clock: SimClock, span: timedelta) -> TradingLoop:
        bar_span = pd.Timedelta(span)
        loop: TradingLoop = eng.Engine(config, decider, clock, bar_span=bar_span, path_span=bar_span)
        return loop

    return make


def candidates_fn() -> CandidateFn:
    scalper = _module("mesdesk.setups.scalper")
    config = scalper.ScalperSetupsConfig()

    def detect(bars: pd.DataFrame) -> pd.DataFrame:
        frame: pd.DataFrame = scalper.detect_candidates(bars, config)
        return frame

    return detect


def default_decider(settings: Settings) -> Decider:
    """The runner's decider, chosen by MESDESK_DECIDER.

    `auto` with no LLM key (the default on a fresh machine): the rule decider (take when the
    prefilter passes), deterministic and free. `auto` with a key, or `local`/`openai`/`anthropic`:
    the decisions area's guarded decider (local fallback, the daily budget in scope "live", the
    decision cache), which `/metrics/budget` reports. With MESDESK_LEARNING (default on) it is wrapped
    by learning: vetoes from the stored fingerprints and hard negatives, and every candidate it is
    shown followed to its outcome and stored.
    """
    decisions = _module("mesdesk.services.decisions")
    name = decisions.resolve_decider_name(settings.decider, settings)
    if settings.decider == "auto" and name == "local":
        rules = _module("mesdesk.decide.rules")
        chosen: Decider = rules.RuleDecider()
    else:
        chosen = decisions.build_decider(settings.decider, settings, scope="live").tap
    if not settings.learning:
        return chosen
    learning = _module("mesdesk.services.learning")
    wrapped: Decider = learning.live_decider(chosen, settings, engine_config(settings))
    return wrapped


def position_fn(settings: Settings) -> PositionFn:
    """The open position with its WORKING bracket when the engine exposes it, else the initial one."""
    config = engine_config(settings)
    bracket = config.bracket

    def describe(loop: TradingLoop, row: Mapping[str, Any]) -> dict[str, Any]:
        working = getattr(loop, "open_position", None)
        if callable(working):
            found = working()
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
