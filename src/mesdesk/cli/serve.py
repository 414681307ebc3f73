"""`mesdesk serve`: the API, the dashboard at / and a paper runner (a replay unless --live)."""

from __future__ import annotations

import os
import socket
from datetime import date, time
from typing import Annotated

import typer

from mesdesk.cli import app
from mesdesk.cli.options import (
    FreshOption,
    FromOption,
    LiveOption,
    ReplayFileOption,
    ReplayOption,
    SetupOption,
    SetupParamOption,
    SpeedOption,
)
from mesdesk.errors import ConfigError


def _parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--replay {text!r}: expected a date as YYYY-MM-DD, e.g. 2025-09-16") from None


def _parse_ct(text: str) -> time | None:
    if text.lower() in ("open", "session"):
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--from {text!r}: expected HH:MM (CT) or 'open'") from None


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    replay: ReplayOption = None,
    replay_file: ReplayFileOption = None,
    speed: SpeedOption = 60.0,
    from_ct: FromOption = "08:00",
    live: LiveOption = None,
    fresh: FreshOption = False,
    no_runner: Annotated[bool, typer.Option("--no-runner", help="Serve the API only; no runner trades.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    setup: SetupOption = None,
    setup_param: SetupParamOption = None,
) -> None:
    """Serve the API and the dashboard; with no key, replay the synthetic market so it works at once.

    A restart resumes the same runner where it stopped (open position, counters, budget); --fresh
    starts its book over. OpenAPI at /docs.
    """
    import uvicorn

    from mesdesk.api import create_app
    from mesdesk.config import load_settings
    from mesdesk.services.paper import RunnerOptions, open_service

    settings = load_settings()
    mode = "off" if no_runner else ("live" if live else "replay")
    env = RunnerOptions.from_env(os.environ)  # lease timing (MESDESK_LEASE_TTL_S) and polling
    options = RunnerOptions(
        mode=mode,
        replay_day=_parse_day(replay),
        replay_file=replay_file,
        replay_from_ct=_parse_ct(from_ct),
        speed=speed,
        live_source=live or "yahoo",
        fresh=fresh,
        poll_s=env.poll_s,
        lease_ttl_s=env.lease_ttl_s,
        renew_every_s=env.renew_every_s,
        setups=tuple(setup or ()) or env.setups,
        setup_params=tuple(setup_param or ()) or env.setup_params,
    )
    name = options.runner_name
    # The port first: a busy one fails here, before a runner could trade; then the store and the
    # runner, so any bad setting is one line and exit 2 before anything listens.
    sock = _bind(host, port)
    try:
        handle = open_service(settings, options, start=False, strict=True)
    except BaseException:
        sock.close()
        raise
    typer.echo(f"mesdesk: dashboard at http://{host}:{port}/  (API docs at /docs; runner: {name})")
    # Open event streams (/stream) never end by themselves: give them 3 s on shutdown.
    app = create_app(settings, options, handle=handle)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=3))
    server.run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; ConfigError naming --host/--port when that is impossible."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock
