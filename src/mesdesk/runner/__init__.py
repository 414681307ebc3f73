"""The paper-trading runner: the engine's loop under a lease, fed by a replay or a live source."""

from mesdesk.runner.core import PaperRunner, RecordingDecider, RunnerConfig, TradingLoop
from mesdesk.runner.service import LiveDriver, ReplayDriver, RunnerService

__all__ = [
    "LiveDriver",
    "PaperRunner",
    "RecordingDecider",
    "ReplayDriver",
    "RunnerConfig",
    "RunnerService",
    "TradingLoop",
]
