"""`GET /stream`: Server-Sent Events of new bars, candidates and trades (see `mesdesk.services.stream`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from mesdesk.services.stream import StreamHub

router = APIRouter()

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing an idle stream


def hub_of(request: Request) -> StreamHub:
    """The app's hub (made by the lifespan; made here when an app was opened without one)."""
    state = request.app.state
    if getattr(state, "stream", None) is None:
        state.stream = StreamHub(state.handle.ctx.store, state.handle.ctx.runner, tz=state.handle.ctx.settings.tz)
    return state.stream  # type: ignore[no-any-return]


# Not in the OpenAPI schema: an endless body is no JSON endpoint (docs/service.md documents it).
@router.get("/stream", include_in_schema=False)
async def stream(request: Request) -> StreamingResponse:
    """New bars, candidates and trades within a second of the runner storing them (Server-Sent Events).

    `event: bar|candidate|trade`, `data:` one JSON object; one store poller per API process serves
    every client. Load the current state from the REST endpoints, then apply events.
    """
    hub = hub_of(request)

    async def events() -> AsyncIterator[bytes]:
        async with hub.subscribe() as queue:
            yield b"retry: 2000\n: connected\n\n"
            while True:
                try:
                    event_id, event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keepalive\n\n"
                    continue
                yield event.encode(event_id)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
