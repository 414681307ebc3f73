"""`mesdesk runner`: the paper runner alone, in this process (what `mesdesk serve` supervises as a child).

For hosts that run the API and the runner apart: `mesdesk serve --no-runner` (or gunicorn with
MESDESK_RUNNER=off) serves the store, and one or more `mesdesk runner` processes trade it; the
database lease lets exactly one of them trade, the others stand by.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
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
from mesdesk.cli.serve import _parse_ct, _parse_day


@app.command()
def runner(
    replay: ReplayOption = None,
    replay_file: ReplayFileOption = None,
    speed: SpeedOption = 60.0,
    from_ct: FromOption = "08:00",
    live: LiveOption = None,
    fresh: FreshOption = False,
    lease_ttl: Annotated[
        float | None, typer.Option("--lease-ttl", min=0.5, help="Lease TTL in seconds (MESDESK_LEASE_TTL_S).")
    ] = None,
    poll: Annotated[
        float | None, typer.Option("--poll", min=0.1, help="Live poll interval in seconds (MESDESK_POLL_S).")
    ] = None,
    parent_pid: Annotated[
        int | None, typer.Option("--parent-pid", hidden=True, help="Stop when this process is gone.")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="Log level.")] = "info",
    setup: SetupOption = None,
    setup_param: SetupParamOption = None,
) -> None:
    """Trade a replay (default) or live bars under the database lease until SIGTERM/Ctrl-C.

    Several may run on one database: the lease holder trades, the others take over within the
    lease TTL if it dies. The API (`mesdesk serve --no-runner`) shows the book.
    """
    from mesdesk.config import load_settings
    from mesdesk.services.paper import RunnerOptions, build_runner, open_store
    from mesdesk.services.supervisor import watch_parent

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s runner[%(process)d] %(levelname)s %(message)s")
    settings = load_settings()
    env = RunnerOptions.from_env(os.environ)
    ttl = lease_ttl if lease_ttl is not None else env.lease_ttl_s
    options = RunnerOptions(
        mode="live" if live else "replay",
        replay_day=_parse_day(replay),
        replay_file=replay_file,
        replay_from_ct=_parse_ct(from_ct),
        speed=speed,
        live_source=live or "yahoo",
        fresh=fresh,
        poll_s=poll if poll is not None else env.poll_s,
        lease_ttl_s=ttl,
        renew_every_s=min(3.0, ttl / 3),
        setups=tuple(setup or ()) or env.setups,
        setup_params=tuple(setup_param or ()) or env.setup_params,
    )
    store = open_store(settings)
    stop = threading.Event()
    try:
        service = build_runner(settings, options, store)  # a bad option: one line, exit code 2
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if parent_pid is not None:
            watch_parent(parent_pid, stop)
        service.start()
        logging.getLogger(__name__).info("runner %s started (%s)", options.runner_name, service.runner.holder)
        while not stop.wait(0.5):
            pass
        service.stop()
    finally:
        store.engine.dispose()
