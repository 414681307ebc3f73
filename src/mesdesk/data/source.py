"""The `BarSource` protocol: the scanner, the backtest and the live runner read bars through it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import pandas as pd

from mesdesk.timeframes import Timeframe


class BarSource(Protocol):
    """Bars for a symbol and timeframe over [start, end) in UTC, validated (see `mesdesk.bars`).

    A bar is included when its open time is in [start, end). Bars that have not closed by the time
    of the call are never returned (no live partial bar).
    """

    @property
    def name(self) -> str: ...

    def bars(self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> pd.DataFrame: ...
