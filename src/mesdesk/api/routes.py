"""Thin routes: parse parameters, call `mesdesk.services`, return the schema."""

from __future__ import annotations

import ipaddress
import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mesdesk.api import schemas
from mesdesk.services import service as svc
from mesdesk.services.service import ServiceContext

router = APIRouter()
_bearer = HTTPBearer(auto_error=False, description="MESDESK_API_TOKEN; without one set, loopback clients only")


async def get_ctx(request: Request) -> ServiceContext:
    # async: a plain lookup, no need for the thread pool
    return request.app.state.handle.ctx  # type: ignore[no-any-return]


Ctx = Annotated[ServiceContext, Depends(get_ctx)]


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def require_control(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Bearer MESDESK_API_TOKEN when set; with none set, only a loopback client may control."""
    token = ctx.settings.api_token
    if token is None:
        if not _is_loopback(request.client.host if request.client else None):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "control from another host needs MESDESK_API_TOKEN set on the server"
            )
        return
    if credentials is None or not secrets.compare_digest(credentials.credentials, token.get_secret_value()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": schemas.Problem, "description": "a bad parameter, named in `detail`"},
    503: {"model": schemas.Problem, "description": "a part is missing or the store is unavailable (`detail`)"},
}
_CONTROL_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.Problem, "description": "MESDESK_API_TOKEN is set and the bearer token is missing or wrong"},
    403: {"model": schemas.Problem, "description": "no MESDESK_API_TOKEN is set and the client is not on loopback"},
    503: {"model": schemas.Problem, "description": "the store cannot be written (`detail` says why)"},
}
_CONTROL_DOC = (
    "Authorization is optional: with MESDESK_API_TOKEN set on the server, `Authorization: Bearer <token>`"
    " is required; with none set, only a loopback client (127.0.0.1, ::1) may control and needs no header."
)
# Bearer when a token is configured, nothing from loopback otherwise: either alternative is valid.
_CONTROL_SECURITY: dict[str, Any] = {"security": [{"HTTPBearer": []}, {}]}


def _day(description: str) -> Any:
    """A YYYY-MM-DD query parameter (empty: the default), declared as an OpenAPI `date`; the service
    refuses anything else with a 422 naming the parameter."""
    declared = [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}, {"type": "null"}]
    return Query(description=description, json_schema_extra={"anyOf": declared}, examples=["2025-09-16"])


@router.get("/health", response_model=schemas.Health, tags=["seed 000", "seed 003"])
def health(ctx: Ctx) -> dict[str, Any]:
    return svc.health(ctx)


@router.get(
    "/ready",
    response_model=schemas.Ready,
    tags=["hosts"],
    responses={503: {"model": schemas.Problem, "description": "no runner holds the lease"}},
)
def ready(ctx: Ctx) -> dict[str, Any]:
    """For load balancers: 200 while a runner holds the lease, 503 once none renewed it within its TTL."""
    return svc.readiness(ctx)


@router.get("/metrics/summary", response_model=schemas.Summary, tags=["seed 000"], responses=_ERRORS)
async def summary(ctx: Ctx) -> Response:
    # Served from the 250 ms cache on the event loop; only a miss goes to the thread pool.
    body = ctx.peek("summary_json")
    if body is None:
        body = await run_in_threadpool(svc.summary_json, ctx)
    return Response(content=body, media_type="application/json")


@router.get("/metrics/live", response_model=schemas.Live, tags=["seed 000"], responses=_ERRORS)
def live(ctx: Ctx) -> dict[str, Any]:
    return svc.live(ctx)


@router.get("/metrics/budget", response_model=schemas.BudgetOut, tags=["seed 000"], responses=_ERRORS)
def budget(ctx: Ctx) -> dict[str, Any]:
    return svc.budget(ctx)


@router.post(
    "/control/start",
    response_model=schemas.Running,
    tags=["seed 000"],
    dependencies=[Depends(require_control)],
    responses=_CONTROL_ERRORS,
    description=_CONTROL_DOC,
    openapi_extra=_CONTROL_SECURITY,
)
def control_start(ctx: Ctx) -> dict[str, Any]:
    return svc.set_running(ctx, True)


@router.post(
    "/control/stop",
    response_model=schemas.Running,
    tags=["seed 000"],
    dependencies=[Depends(require_control)],
    responses=_CONTROL_ERRORS,
    description=_CONTROL_DOC,
    openapi_extra=_CONTROL_SECURITY,
)
def control_stop(ctx: Ctx) -> dict[str, Any]:
    return svc.set_running(ctx, False)


@router.get("/metrics/trades", response_model=list[schemas.Trade], tags=["seed 000"], responses=_ERRORS)
def trades(
    ctx: Ctx,
    date: Annotated[str | None, _day("CME trading day YYYY-MM-DD; today when omitted")] = None,
) -> list[dict[str, Any]]:
    return svc.trades(ctx, date)


@router.get("/metrics/fingerprints", response_model=list[schemas.Fingerprint], tags=["seed 000"], responses=_ERRORS)
def fingerprints(ctx: Ctx) -> list[dict[str, Any]]:
    return svc.fingerprints(ctx)


@router.get("/metrics/journal", response_model=list[schemas.JournalEntry], tags=["front end"], responses=_ERRORS)
def journal(
    ctx: Ctx,
    date: Annotated[str | None, _day("CME trading day YYYY-MM-DD; all days when omitted")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="newest rows first")] = 200,
) -> list[dict[str, Any]]:
    return svc.journal(ctx, date, limit)


@router.get("/metrics/equity", response_model=list[schemas.EquityPoint], tags=["front end"], responses=_ERRORS)
def equity(ctx: Ctx) -> list[dict[str, Any]]:
    return svc.equity(ctx)


@router.get("/metrics/runner", response_model=schemas.RunnerStatus, tags=["front end"], responses=_ERRORS)
def runner(ctx: Ctx) -> dict[str, Any]:
    return svc.runner_status(ctx)


_TF = Annotated[Literal["5m", "15m", "1h", "4h", "1d"], Query(description="the scanner's timeframe")]
_MODEL = Annotated[
    Literal["quant", "gpt", "opus", "autogluon"],
    Query(description="quant (no key), gpt/opus (an LLM key; quant numbers on failure), autogluon (the extra)"),
]


@router.get("/mes/signals", tags=["seed 003"], responses=_ERRORS)
def mes_signals(ctx: Ctx, timeframe: _TF = "15m") -> Any:
    return svc.signals(ctx, timeframe)


@router.get("/mes_signals", tags=["seed 003"], responses=_ERRORS, summary="Alias of /mes/signals")
def mes_signals_alias(ctx: Ctx, timeframe: _TF = "15m") -> Any:
    return svc.signals(ctx, timeframe)


@router.get("/mes/forecast", tags=["seed 003"], responses=_ERRORS)
def mes_forecast(ctx: Ctx, model: _MODEL = "quant") -> Any:
    return svc.forecast(ctx, model)


@router.get("/mes_forecast", tags=["seed 003"], responses=_ERRORS, summary="Alias of /mes/forecast")
def mes_forecast_alias(ctx: Ctx, model: _MODEL = "quant") -> Any:
    return svc.forecast(ctx, model)


@router.get("/mes/full", tags=["seed 003"], responses=_ERRORS)
def mes_full(ctx: Ctx) -> Any:
    return svc.full(ctx)
