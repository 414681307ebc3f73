"""The chart's read endpoints (/chart/*): the runner's bars with indicators, candidate markers, trades with
their stop path, the working bracket, equity with drawdown and scanner signals on the runner's bars.

Thin routes over `mesdesk.services.chart`; a bad parameter is a 422 naming it, a missing part a 503.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from mesdesk.api import schemas
from mesdesk.services import chart as svc
from mesdesk.services.service import ServiceContext, Unavailable

router = APIRouter(prefix="/chart", tags=["chart"])

_ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": schemas.Problem}, 503: {"model": schemas.Problem}}
_DAY = Annotated[
    str | None,
    Query(
        description="CME trading day YYYY-MM-DD; the runner's when omitted",
        json_schema_extra={
            "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}, {"type": "null"}]
        },
        examples=["2025-09-16"],
    ),
]
_SINCE = Annotated[
    str | None,
    Query(
        description="ISO 8601 instant with its zone; only rows at or after it (a poll cursor)",
        json_schema_extra={
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "maxLength": 0}, {"type": "null"}]
        },
        examples=["2025-09-16T13:30:00Z"],
    ),
]


async def get_source(request: Request) -> svc.ChartSource:
    """The chart's view of this process: the read context, the runner's feed (when one runs here), a cache."""
    state = request.app.state
    handle = state.handle
    ctx: ServiceContext = handle.ctx
    cache = getattr(state, "chart_cache", None)
    if cache is None:
        cache = state.chart_cache = svc.ChartCache()
    driver = handle.runner.driver if handle.runner is not None else None
    history = driver if isinstance(driver, svc.BarHistory) else None
    return svc.ChartSource(ctx=ctx, history=history, cache=cache)


Source = Annotated[svc.ChartSource, Depends(get_source)]


@router.get("/poll", responses=_ERRORS, summary="The runner's cursor and working bracket (poll every second)")
def poll(src: Source) -> dict[str, Any]:
    return svc.poll(src)


@router.get("/bars", responses=_ERRORS, summary="Candles with EMA20, session VWAP and the opening range")
def bars(
    src: Source,
    timeframe: Annotated[Literal["1m", "5m", "15m"], Query(description="candle timeframe")] = "1m",
    day: _DAY = None,
    since: _SINCE = None,
) -> dict[str, Any]:
    return svc.bars_view(src, timeframe, day, since)


@router.get("/candidates", responses=_ERRORS, summary="Every candidate of a day with its journal row")
def candidates(src: Source, day: _DAY = None, since: _SINCE = None) -> list[dict[str, Any]]:
    return svc.candidates_view(src, day, since)


@router.get("/trades", responses=_ERRORS, summary="Trades of a day with entry, stop moves, exit; the open position")
def trades(src: Source, day: _DAY = None) -> dict[str, Any]:
    return svc.trades_view(src, day)


@router.get("/equity", responses=_ERRORS, summary="Equity and drawdown after each closed trade, points")
def equity(src: Source) -> list[dict[str, Any]]:
    return svc.equity_view(src)


def _signals(timeframe: str, bars: pd.DataFrame, src: svc.ChartSource) -> list[dict[str, Any]]:
    try:
        from mesdesk.services.scan import signals_payload
    except ImportError as exc:  # pragma: no cover - the scanner ships with the package
        raise Unavailable("the measured-move scanner is not available in this build") from exc
    return signals_payload(timeframe, settings=src.ctx.settings, bars=bars)


@router.get("/scanner", responses=_ERRORS, summary="Measured-move signals on the runner's bars")
async def scanner(
    src: Source, timeframe: Annotated[Literal["5m", "15m", "1h"], Query(description="scanner timeframe")] = "15m"
) -> dict[str, Any]:
    return await run_in_threadpool(svc.scanner_view, src, timeframe, lambda tf, b: _signals(tf, b, src))
