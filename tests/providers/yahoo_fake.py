"""Yahoo chart JSON as the v8 endpoint returns it (layout of chart.result[0])."""

from __future__ import annotations

from typing import Any

import pandas as pd

CHART = "https://query2.finance.yahoo.com/v8/finance/chart/{}"


def chart_body(
    ticker: str,
    stamps: list[pd.Timestamp],
    closes: list[float | None],
    *,
    interval: str = "1m",
    volume: int = 120,
) -> dict[str, Any]:
    """A chart answer: open = previous close, high/low 0.25 outside; None closes make an all-null row."""
    opens, highs, lows, vols = [], [], [], []
    prev = next(c for c in closes if c is not None) if any(c is not None for c in closes) else 0.0
    for c in closes:
        if c is None:
            opens.append(None)
            highs.append(None)
            lows.append(None)
            vols.append(None)
            continue
        opens.append(prev)
        highs.append(max(prev, c) + 0.25)
        lows.append(min(prev, c) - 0.25)
        vols.append(volume)
        prev = c
    epoch = [int(t.timestamp()) for t in stamps]
    first = epoch[0] if epoch else 0
    last = epoch[-1] if epoch else 0
    period = {"timezone": "EST", "start": first - 60, "end": last + 3600, "gmtoffset": -18000}
    meta = {
        "currency": "USD",
        "symbol": ticker,
        "exchangeName": "CME",
        "fullExchangeName": "CME",
        "instrumentType": "FUTURE",
        "firstTradeDate": 1_000_000_000,
        "regularMarketTime": last,
        "hasPrePostMarketData": False,
        "gmtoffset": -18000,
        "timezone": "EST",
        "exchangeTimezoneName": "America/New_York",
        "regularMarketPrice": closes[-1] if closes and closes[-1] is not None else 0.0,
        "priceHint": 2,
        "currentTradingPeriod": {"pre": period, "regular": period, "post": period},
        "tradingPeriods": [[period]],
        "dataGranularity": interval,
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    result: dict[str, Any] = {"meta": meta, "indicators": {"quote": [{}]}}
    if stamps:
        result["timestamp"] = epoch
        result["indicators"] = {"quote": [{"open": opens, "high": highs, "low": lows, "close": closes, "volume": vols}]}
        if interval == "1d":
            result["indicators"]["adjclose"] = [{"adjclose": closes}]
    return {"chart": {"result": [result], "error": None}}


def chart_error(code: str, description: str) -> dict[str, Any]:
    return {"chart": {"result": None, "error": {"code": code, "description": description}}}
