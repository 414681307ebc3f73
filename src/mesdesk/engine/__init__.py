"""The execution engine: one loop for backtest, replay and paper (see docs/engine.md)."""

from mesdesk.engine.config import BracketConfig, EngineConfig, ExecutionConfig, RiskLimits, SessionConfig
from mesdesk.engine.fills import BracketOutcome, PositionState, simulate_bracket
from mesdesk.engine.journal import JOURNAL_COLUMNS, TRADE_COLUMNS, trades_from_journal, write_journal
from mesdesk.engine.loop import Engine, EngineResult, run_backtest
from mesdesk.engine.risk import DayState, Order, Refused, gate
from mesdesk.pathbars import PathBars

__all__ = [
    "JOURNAL_COLUMNS",
    "TRADE_COLUMNS",
    "BracketConfig",
    "BracketOutcome",
    "DayState",
    "Engine",
    "EngineConfig",
    "EngineResult",
    "ExecutionConfig",
    "Order",
    "PathBars",
    "PositionState",
    "Refused",
    "RiskLimits",
    "SessionConfig",
    "gate",
    "run_backtest",
    "simulate_bracket",
    "trades_from_journal",
    "write_journal",
]
