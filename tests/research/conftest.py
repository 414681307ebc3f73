"""A few synthetic trading days and the engine config the backtest would build for them."""

from __future__ import annotations

import pandas as pd
import pytest

from mesdesk.config import Settings
from mesdesk.data.synthetic import SyntheticConfig, generate_days
from mesdesk.engine import EngineConfig
from mesdesk.research.evaluate import Evaluator
from mesdesk.services.root import Root
from mesdesk.timeframes import Timeframe

N_DAYS = 12


@pytest.fixture(name="bars", scope="session")
def fixture_bars() -> pd.DataFrame:
    return generate_days(N_DAYS, SyntheticConfig(seed=11))


@pytest.fixture(name="base", scope="session")
def fixture_base(bars: pd.DataFrame) -> EngineConfig:
    return Root(Settings()).engine_config()


@pytest.fixture(name="evaluator")
def fixture_evaluator(bars: pd.DataFrame, base: EngineConfig) -> Evaluator:
    return Evaluator(bars, Timeframe.M1, base)
