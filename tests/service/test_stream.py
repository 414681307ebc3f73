"""Server push: /stream sends new bars, candidates and trades; every client shares one store poller."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as ct_time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesdesk.api import create_app
from mesdesk.config import load_settings
from mesdesk.services.paper import RunnerOptions
from mesdesk.services.stream import StreamHub
from mesdesk.store.runner_store import ServiceStore, StepRecord

from .server import running_server, wait_for
from .test_crash import write_morning
from .test_store import journal, trade

T0 = datetime(2025, 9, 16, 14, 0, tzinfo=UTC)


def _step(minute: int, journal_rows: list[dict[str, Any]], trades: list[dict[str, Any]]) -> StepRecord:
    return StepRecord(
        bar_ts=T0 + timedelta(minutes=minute),
        trading_day=date(2025, 9, 16),
        trades_today=len(trades),
        losses_today=0,
        net_pts_today=0.0,
        position=None,
        live=None,
        paused=False,
        paused_reason=None,
        journal=journal_rows,
        trades=trades,
    )


def test_the_poller_reports_only_what_was_stored_after_it_started(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="test")
    assert store.acquire_lease("paper", "t", T0, timedelta(hours=1))
    store.commit_step("paper", "t", T0, _step(1, [journal("old")], []))
    hub = StreamHub(store, "paper")
    assert hub.read_new() == []  # primes the cursors: the past comes from the REST endpoints
    assert hub.read_new() == []
    store.commit_step("paper", "t", T0, _step(2, [journal("c1"), journal("c2")], [trade("k1", 1.0, 5)]))
    events = hub.read_new()
    assert [e.kind for e in events] == ["candidate", "candidate", "trade", "bar"]
    assert [e.data.get("candidate_key") for e in events[:2]] == ["c1", "c2"]
    assert events[2].data["trade_key"] == "k1"
    assert events[2].data["pnl_pts"] == 1.0
    assert events[3].data["last_bar_ts"] == "2025-09-16T14:02:00Z"
    assert hub.read_new() == []  # nothing new, nothing sent
    store.set_running("paper", False, T0)
    assert [e.kind for e in hub.read_new()] == ["bar"]  # a control change is a new state version
    encoded = events[2].encode(7).decode()
    assert encoded.startswith("id: 7\nevent: trade\ndata: {")
    assert encoded.endswith("}\n\n")


def test_a_slow_client_loses_its_oldest_events_not_the_others(store: ServiceStore) -> None:
    store.ensure_state("paper", mode="replay", source="test")
    hub = StreamHub(store, "paper", poll_s=0.01)

    async def scenario() -> tuple[int, int]:
        async with hub.subscribe() as slow, hub.subscribe() as fast:
            assert hub.pollers_started == 1
            assert hub.subscribers == 2
            while hub.polls == 0:  # the first poll only primes the cursors
                await asyncio.sleep(0.01)
            got = 0
            for i in range(300):
                store.set_running("paper", i % 2 == 0, T0)
                while True:
                    try:
                        await asyncio.wait_for(fast.get(), 2.0)
                        got += 1
                        break
                    except TimeoutError:
                        pytest.fail("the fast client stopped receiving")
            return got, slow.qsize()

    got, queued = asyncio.run(scenario())
    assert got == 300
    assert queued == 256  # bounded: the slow one keeps the newest 256
    asyncio.run(hub.close())


class _Reader(threading.Thread):
    """A real HTTP client reading /stream: (receipt wall time, event, data) per event."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=30.0)) as client,
            client.stream("GET", f"{self.base}/stream") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            self.connected.set()
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.append((time.time(), kind, json.loads(line.removeprefix("data: "))))
                if self.stop.is_set():
                    return

    def kinds(self) -> set[str]:
        return {k for _, k, _ in self.events}


@pytest.mark.slow
def test_two_clients_get_bars_candidates_and_trades_from_one_poller_while_a_replay_runs(tmp_path: Path) -> None:
    bars = write_morning(tmp_path / "morning.csv")
    settings = load_settings(
        MESDESK_DATA_DIR=str(tmp_path),
        MESDESK_DATABASE_URL=f"sqlite:///{tmp_path}/stream.sqlite",
        MESDESK_DECIDER="auto",
        OPENAI_API_KEY="",
        ANTHROPIC_API_KEY="",
    )
    options = RunnerOptions(
        replay_day=date(2025, 9, 16),
        replay_file=bars,
        replay_from_ct=ct_time(8, 28),
        speed=20,
        lease_ttl_s=3,
        renew_every_s=1.0,
    )
    app = create_app(settings, options)
    with running_server(app) as base:
        readers = [_Reader(base), _Reader(base)]
        for r in readers:
            r.start()
            assert r.connected.wait(10)
        hub: StreamHub = app.state.stream
        wait_for(lambda: all({"bar", "candidate", "trade"} <= r.kinds() for r in readers), 240, "every event kind")
        assert hub.pollers_started == 1
        assert hub.subscribers == 2
        for r in readers:
            r.stop.set()
        trades = httpx.get(f"{base}/metrics/trades", params={"date": "2025-09-16"}).json()
    first, second = ([d["entry_ts"] for _, k, d in r.events if k == "trade"] for r in readers)
    common = min(len(first), len(second))
    assert common >= 1
    assert first[:common] == second[:common]
    assert set(first) <= {t["entry_ts"] for t in trades}  # each pushed trade is a stored trade
    # Within a second of the runner storing it: receipt time minus the state row's updated_at.
    stored = [(t, d["updated_at_epoch"]) for r in readers for t, k, d in r.events if k == "bar"]
    lags = [t - at for t, at in stored if at is not None]  # (a state row created before any bar has none)
    assert len(lags) >= 5
    assert statistics.median(lags) < 1.0, lags
