"""The app factory: settings in, an app out; nothing is created at import.

`create_app(settings)` builds the store (migrating it), the read context and, when `runner` options
are given, starts a paper runner in the background that trades only while it holds the database
lease: with several workers, one trades and the others stand by.
`serve_app()` is the web host's entry point (settings and runner options from the environment).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from swagger_ui_bundle import swagger_ui_path

from mesdesk.api.chart import router as chart_router
from mesdesk.api.routes import router
from mesdesk.config import Settings, load_settings
from mesdesk.errors import MesdeskError, StoreError
from mesdesk.services.paper import RunnerOptions, ServiceHandle, open_service
from mesdesk.services.service import BadRequest, Unavailable, store_error_line

_GUNICORN_APP_LOAD_ERROR = 4
STATIC_DIR = Path(str(files("mesdesk.api") / "static"))


def _cors_origins(value: str) -> list[str]:
    return [o.strip() for o in value.split(",") if o.strip()] or ["*"]


def create_app(
    settings: Settings, runner: RunnerOptions | None = None, *, handle: ServiceHandle | None = None
) -> FastAPI:
    """The API for `settings`; with `runner`, a background paper runner contends for the lease.

    `handle`: a service opened beforehand (`open_service(..., start=False, strict=True)`, so that a
    bad setting fails the command before anything listens); its runner starts with the app.
    """
    opened = handle

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handle = opened if opened is not None else open_service(settings, runner)
        handle.start()
        app.state.handle = handle
        try:
            yield
        finally:
            handle.close()

    app = FastAPI(
        title="mesdesk",
        summary="MES paper-trading desk: status, trades, journal, budget, signals and forecasts",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from files in the installed package: no CDN, works offline
        redoc_url=None,
    )
    origins = _cors_origins(settings.frontend_cors_origin)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials="*" not in origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.state.settings = settings

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One shape for every 422 (the OpenAPI `Problem`): `detail` is one line naming the parameter.
        return JSONResponse({"detail": validation_line(exc.errors())}, status_code=422)

    @app.exception_handler(BadRequest)
    async def _bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(StoreError)
    async def _store(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"store unavailable: {exc}"}, status_code=503)

    @app.exception_handler(SQLAlchemyError)
    async def _database(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        # read-only, locked, full or gone: the reason in one line, never a 500 with a traceback
        return JSONResponse({"detail": f"store unavailable: {store_error_line(exc)}"}, status_code=503)

    @app.exception_handler(MesdeskError)
    async def _domain(_: Request, exc: MesdeskError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.include_router(router)
    app.include_router(chart_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="mesdesk API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )

    return app


def validation_line(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one line: `model='x': Input should be 'quant', 'gpt', ...`."""
    parts = []
    for err in errors[:3]:
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[-1] if loc else "request"
        got = err.get("input")
        shown = f"{name}={str(got)[:60]!r}" if isinstance(got, str | int | float) else name
        parts.append(f"{shown}: {err.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def handle_of(app: FastAPI) -> ServiceHandle:
    return app.state.handle  # type: ignore[no-any-return]


def serve_app() -> FastAPI:
    """Entry point for a web host (gunicorn/uvicorn factory): settings and runner from the environment.

    MESDESK_RUNNER=off serves the API only; otherwise each worker starts a runner that trades
    only while it holds the lease (replay of the synthetic default unless MESDESK_REPLAY_* say
    otherwise; see docs/service.md). A bad setting, an unreachable store or a runner that cannot
    be built is one line on stderr and exit 2, before the app is handed to the host.
    """
    try:
        settings = load_settings()
        options = RunnerOptions.from_env(os.environ)
        handle = open_service(settings, options, start=False, strict=True)
    except MesdeskError as exc:  # one line on stderr and exit 2, as on the command line
        print(f"mesdesk: error: {exc}", file=sys.stderr)  # noqa: T201 - the host's log is stderr
        # A gunicorn worker that exits 2 is booted again, forever; 4 is gunicorn's "App failed to
        # load", which stops the master (with that exit code) instead.
        raise SystemExit(_GUNICORN_APP_LOAD_ERROR if "gunicorn" in sys.modules else 2) from None
    return create_app(settings, options, handle=handle)
