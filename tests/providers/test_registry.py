"""The bar-source registry: one entry per source, providers opened by name, the live runner's stream."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mesdesk.config import load_settings
from mesdesk.data.registry import SOURCES, HistoryRequest, SourceContext
from mesdesk.data.yahoo import YahooSource
from mesdesk.errors import ConfigError
from mesdesk.services.root import Root
from mesdesk.timeframes import Timeframe


def test_every_source_is_registered_once_in_order() -> None:
    assert SOURCES.names() == ("synthetic", "file", "databento", "yahoo")
    assert SOURCES.names(providers_only=True) == ("databento", "yahoo")


def test_an_unknown_source_names_the_flag_and_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"--source 'nope': choose one of synthetic, file, databento, yahoo"):
        SOURCES.get("nope")
    with pytest.raises(ConfigError, match=r"--live 'file' is not a market data provider"):
        Root(load_settings()).live_source("file")


def test_yahoo_live_is_its_polled_source_with_its_symbol() -> None:
    source, symbol = Root(load_settings()).live_source("yahoo")
    assert isinstance(source, YahooSource)
    assert symbol == "MES=F"


def test_databento_live_is_the_stream_not_the_historical_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []

    class Stream:
        name = "stream"

    def live(ctx: SourceContext, symbol: str) -> Stream:
        opened.append(symbol)
        return Stream()

    monkeypatch.setitem(SOURCES._entries, "databento", replace(SOURCES.get("databento"), live=live))
    source, symbol = Root(load_settings()).live_source("databento")
    assert isinstance(source, Stream)
    assert opened == [symbol] == ["MES.c.0"]


def test_synthetic_history_in_a_day_window_is_those_trading_days() -> None:
    from datetime import date

    from mesdesk.calendar import trading_days

    bars = Root(load_settings()).history(
        "synthetic", HistoryRequest(Timeframe.M5, start=date(2025, 3, 10), end=date(2025, 3, 12))
    )
    days = {str(d)[:10] for d in trading_days(bars.index)}
    assert days == {"2025-03-10", "2025-03-11", "2025-03-12"}
    assert (bars.index[1:] - bars.index[:-1]).min().total_seconds() == 300
