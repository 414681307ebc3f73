"""Fixtures of the forecast tests: Globex-shaped random-walk bars, a migrated store, settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from mesdesk.config import Settings, load_settings
from mesdesk.store.base import make_engine, migrate


def session_bars(days: int, *, freq: str = "5min", seed: int = 1, start: str = "2025-03-02") -> pd.DataFrame:
    """Random-walk MES bars on CME hours only: Sunday-Friday 17:00-16:00 CT, no bar in the break or weekend."""
    step = pd.Timedelta(freq)
    first = pd.Timestamp(start)
    rows = []
    for d in range(days + days // 5 * 2 + 3):
        day = first + pd.Timedelta(days=d)
        if day.weekday() in (4, 5):  # sessions open Sunday..Thursday at 17:00 CT
            continue
        opens = pd.date_range(day + pd.Timedelta(hours=17), day + pd.Timedelta(hours=17 + 23) - step, freq=freq)
        rows.append(opens.tz_localize("America/Chicago").tz_convert("UTC"))
    index = rows[0].append(rows[1:])[: days * int(pd.Timedelta(hours=23) / step)]
    rng = np.random.default_rng(seed)
    rets = rng.normal(0.0, 0.0008 * np.sqrt(step / pd.Timedelta("5min")), len(index))
    close = np.round(5600.0 * np.exp(np.cumsum(rets)) * 4) / 4
    open_ = np.concatenate(([close[0]], close[:-1]))
    spread = 0.5
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.integers(50, 500, len(index)).astype(np.int64),
        },
        index=pd.DatetimeIndex(index, name="ts").as_unit("ns"),
    )


@pytest.fixture(name="bars_5m", scope="session")
def fixture_bars_5m() -> pd.DataFrame:
    """15 trading days of 5-minute bars (4,140 bars)."""
    return session_bars(15)


@pytest.fixture(name="settings")
def fixture_settings(tmp_path: Path) -> Settings:
    return load_settings(
        OPENAI_API_KEY="sk-test",
        ANTHROPIC_API_KEY="sk-ant-test",
        FRED_API_KEY=None,
        MESDESK_LLM_MAX_RETRIES=0,
        MESDESK_LLM_TIMEOUT_S=3.0,
        MESDESK_OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        MESDESK_ANTHROPIC_BASE_URL="http://127.0.0.1:9",
        MESDESK_DATA_DIR=str(tmp_path / "data"),
        MESDESK_AUTOGLUON_MODELS_DIR=str(tmp_path / "models"),
        MESDESK_AUTOGLUON_OUTPUT_DIR=str(tmp_path / "output"),
        DAILY_GPT_CALL_CAP=5,
    )


@pytest.fixture(name="store")
def fixture_store(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{(tmp_path / 'store.sqlite').as_posix()}")
    migrate(engine)
    yield engine
    engine.dispose()
