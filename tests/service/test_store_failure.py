"""The store going read-only or deleted under a running service: the runner pauses and says why,
control endpoints answer 503 with the reason, nothing is lost when the store comes back, and a
deleted SQLite file is refused instead of silently recreated."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from mesdesk.api import create_app
from mesdesk.config import load_settings
from mesdesk.services.paper import RunnerOptions, ServiceHandle, open_service

from .test_api import LOOPBACK

OPTIONS = RunnerOptions(replay_day=date(2025, 9, 16), replay_from_ct=time(8, 28), speed=0)


@dataclass
class Desk:
    handle: ServiceHandle
    client: TestClient
    read_only: list[bool]

    def step(self, n: int) -> None:
        assert self.handle.runner is not None
        for _ in range(n):
            self.handle.runner.run_once()

    def finish(self) -> None:
        for _ in range(2000):
            self.step(1)
            snap = self.handle.ctx.store.state(OPTIONS.runner_name)
            if snap is not None and str(snap.paused_reason or "").startswith("replay finished"):
                return
        pytest.fail("the replay did not finish")

    def book(self) -> dict[str, Any]:
        store, name = self.handle.ctx.store, OPTIONS.runner_name
        trades = [(t.trade_key, t.entry_price, t.exit_price, t.pnl_pts) for t in store.trades(name, date(2025, 9, 16))]
        journal = sorted((j.candidate_key, j.decision, j.gate, j.entry_ts, j.pnl_pts) for j in store.journal(name))
        snap = store.state(name)
        assert snap is not None
        return {"trades": trades, "journal": journal, "counters": (snap.trades_today, snap.net_pts_today)}


def _desk(tmp_path: Path, name: str) -> Iterator[Desk]:
    settings = load_settings(
        MESDESK_DATA_DIR=str(tmp_path),
        MESDESK_DATABASE_URL=f"sqlite:///{tmp_path}/{name}.sqlite",
        MESDESK_DECIDER="auto",
        OPENAI_API_KEY="",
        ANTHROPIC_API_KEY="",
        MESDESK_LEARNING="0",
    )
    handle = open_service(settings, OPTIONS, start=False, strict=True)  # stepped by hand, no thread
    read_only = [False]

    @event.listens_for(handle.ctx.store.engine, "checkout")
    def _query_only(dbapi_conn, _record, _proxy):  # type: ignore[no-untyped-def]
        dbapi_conn.execute(f"PRAGMA query_only={'ON' if read_only[0] else 'OFF'}")

    app = create_app(settings, OPTIONS, handle=handle)
    app.state.handle = handle  # the lifespan (which would start the thread) is not entered
    yield Desk(handle, TestClient(app, client=LOOPBACK), read_only)
    handle.ctx.store.engine.dispose()


@pytest.fixture(name="desk")
def fixture_desk(tmp_path: Path) -> Iterator[Desk]:
    yield from _desk(tmp_path, "desk")


@pytest.fixture(name="reference")
def fixture_reference(tmp_path: Path) -> Iterator[Desk]:
    yield from _desk(tmp_path, "reference")


def test_a_read_only_store_pauses_the_runner_with_the_reason_and_loses_nothing(
    desk: Desk, reference: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    reference.finish()
    expected = reference.book()
    assert len(expected["trades"]) >= 1

    desk.step(90)
    desk.read_only[0] = True
    desk.step(40)  # bars keep coming; none can be committed
    assert not any(r.exc_info for r in caplog.records)  # no traceback every few seconds
    status = desk.client.get("/metrics/runner").json()
    assert status["paused"] is True
    assert "readonly database" in status["error"]
    assert status["paused_reason"] == status["error"]
    stop = desk.client.post("/control/stop")
    assert stop.status_code == 503
    assert "readonly database" in stop.json()["detail"]
    budget = desk.client.get("/metrics/budget")
    assert budget.status_code == 200  # reads still work

    desk.read_only[0] = False
    desk.finish()
    assert desk.client.get("/metrics/runner").json()["error"] is None
    assert desk.book() == expected  # nothing lost, nothing doubled


def test_a_deleted_sqlite_file_is_refused_not_recreated(desk: Desk, tmp_path: Path) -> None:
    desk.step(30)
    path = tmp_path / "desk.sqlite"
    os.remove(path)
    desk.step(5)
    assert not path.exists()  # never silently recreated empty
    status = desk.client.get("/metrics/runner")
    assert status.status_code == 200
    assert "was deleted while in use" in status.json()["error"]
    stop = desk.client.post("/control/stop")
    assert stop.status_code == 503
    assert "was deleted while in use" in stop.json()["detail"]
