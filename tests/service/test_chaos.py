"""Chaos: the paper runner with an LLM decider, kill -9 at random points (mid-request included) >= 20 times.

A slow fake OpenAI server (its own process) answers every decision after a delay. The runner runs in
forked children of this process (the imports are paid once), each one killed with SIGKILL either
while a request is in flight or after a random time; the last child runs the day to its end. The
store must then hold exactly what an uninterrupted run holds: trades, journal, recorded decisions,
equity and the day's counters; the ledger holds one row per distinct request the server received,
every row settled, and never more rows than the cap.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from mesdesk.config import load_settings
from mesdesk.data.synthetic import SyntheticConfig, generate_bars
from mesdesk.services.paper import RunnerOptions, build_runner, open_store
from mesdesk.store.base import make_engine
from mesdesk.store.budget import LLMCall
from mesdesk.store.service import DecisionRow, EquityRow, JournalRow, RunnerStateRow, TradeRow

from .conftest import PG_ENV

REPO = Path(__file__).resolve().parents[2]
DAY = date(2025, 9, 16)
DELAY_S = 0.4  # the fake provider's answer time: long enough to kill inside it
CAP = 3  # below the day's requests: the cap is reached and the last candidate is over_budget
KILLS = 22
# The killed children replay at 1000x (0.06 s a bar, about 20 s for the day in all) so that the kills
# are spread over the whole day; the book does not depend on the speed (a replay is never late).
PACED_SPEED = 1000.0
pytestmark = pytest.mark.slow


@dataclass
class Provider:
    base_url: str
    log: Path

    def requests(self) -> list[str]:
        """The sha256 of each request body received, in order (written on arrival, before the answer)."""
        return self.log.read_text().split() if self.log.exists() else []


@pytest.fixture(name="provider", scope="module")
def fixture_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    tmp = tmp_path_factory.mktemp("chaos_llm")
    port_file = tmp / "port"
    cmd = [sys.executable, "-m", "tests.service.chaos_llm", str(port_file), str(tmp / "requests.log"), str(DELAY_S)]
    proc = subprocess.Popen(cmd, cwd=REPO)  # noqa: S603
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("the fake LLM server did not start")
        time.sleep(0.05)
    try:
        yield Provider(f"http://127.0.0.1:{port_file.read_text()}/v1", tmp / "requests.log")
    finally:
        proc.kill()
        proc.wait(10)


def _bars(path: Path) -> Path:
    bars = generate_bars(date(2025, 9, 10), DAY, SyntheticConfig(seed=11))
    bars = bars.loc[:"2025-09-16 19:10:00+00:00"].reset_index()  # to 14:10 CT: the day's last candidate is at 13:58
    bars["ts"] = bars["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    bars.to_csv(path, index=False)
    return path


def _settings(db: str, provider: Provider, tmp: Path) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "sk-test",
        "MESDESK_OPENAI_BASE_URL": provider.base_url,
        "MESDESK_DECIDER": "openai",
        "MESDESK_LEARNING": "0",  # learning's own store is not under test here
        "MESDESK_LLM_MAX_RETRIES": "0",
        "MESDESK_LLM_TIMEOUT_S": "30",
        "DAILY_GPT_CALL_CAP": str(CAP),
        "MESDESK_DATABASE_URL": db,
        "MESDESK_DATA_DIR": str(tmp),
    }


def _run_day(env: dict[str, str], bars: Path, speed: float = 0.0) -> None:
    """Take the lease, resume, replay the day at `speed`, return when it is over."""
    settings = load_settings(**env)
    store = open_store(settings)
    options = RunnerOptions(
        replay_day=DAY, replay_file=bars, replay_from_ct=dtime(8, 28), speed=speed, lease_ttl_s=0.4, renew_every_s=0.1
    )
    service = build_runner(settings, options, store)
    try:
        while True:
            wait = service.run_once()
            snap = store.state(options.runner_name)
            if snap is not None and str(snap.paused_reason or "").startswith("replay finished"):
                return
            if not service.holding:  # the killed holder's lease has not expired yet
                time.sleep(min(wait, 0.1))
    finally:
        service.stop()
        store.engine.dispose()


def _fork(env: dict[str, str], bars: Path, speed: float = 0.0) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            _run_day(env, bars, speed)
            code = 0
        except BaseException:
            with (bars.parent / "child-errors.log").open("a") as log:
                log.write(traceback.format_exc())
        finally:
            os._exit(code)
    return pid


def _child_errors(bars: Path) -> str:
    path = bars.parent / "child-errors.log"
    return path.read_text() if path.exists() else ""


def _wait(pid: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the runner did not finish the day within {timeout_s} s")


def _kill_at_random(env: dict[str, str], bars: Path, provider: Provider, rng: random.Random) -> dict[str, int]:
    """KILLS children killed at random points, half of them while a request is in flight."""
    mid_request = at_random = kills = 0
    for k in range(3 * KILLS):
        if kills == KILLS:
            break
        seen = len(provider.requests())
        pid = _fork(env, bars, PACED_SPEED)
        started = time.monotonic()
        if k % 2 == 0:  # wait for the next request to arrive, kill before its answer comes
            while len(provider.requests()) == seen and time.monotonic() - started < 1.5:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, DELAY_S * 0.9))
        else:
            time.sleep(rng.uniform(0.1, 0.8))
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:  # it finished the day (or failed) before the kill came
            assert os.waitstatus_to_exitcode(status) == 0, _child_errors(bars)
            continue
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
        if k % 2 == 0:
            mid_request += len(provider.requests()) > seen
        else:
            at_random += 1
    return {"kills": kills, "mid_request": mid_request, "at_random": at_random}


def _book(db: str) -> dict[str, Any]:
    engine = make_engine(db)

    def rows(table: Any, drop: set[str], order: Any) -> list[dict[str, Any]]:
        cols = [c for c in table.__table__.columns if c.name not in drop]
        return [dict(r._mapping) for r in conn.execute(select(*cols).order_by(order))]

    try:
        with engine.connect() as conn:
            book = {
                "trades": rows(TradeRow, {"id"}, TradeRow.trade_key),
                "journal": rows(JournalRow, {"id"}, JournalRow.candidate_key),
                "decisions": rows(DecisionRow, {"id", "decided_at"}, DecisionRow.candidate_key),
                "equity": rows(EquityRow, {"id"}, EquityRow.id),
                "state": rows(
                    RunnerStateRow,
                    {"holder", "version", "updated_at", "paused", "paused_reason", "live", "source", "mode"},
                    RunnerStateRow.runner,
                ),
            }
            ledger = rows(LLMCall, {"id", "reserved_at", "latency_ms", "detail"}, LLMCall.slot)
    finally:
        engine.dispose()
    return {"book": book, "ledger": ledger}


def _chaos(db: str, reference_db: str, tmp: Path, provider: Provider, seed: int) -> dict[str, int]:
    bars = _bars(tmp / "day.csv")
    started = time.monotonic()
    before = len(provider.requests())
    _run_day(_settings(reference_db, provider, tmp), bars)  # in this process: the children inherit its imports
    reference = _book(reference_db)
    ref_requests = provider.requests()[before:]

    env = _settings(db, provider, tmp)
    before = len(provider.requests())
    figures = _kill_at_random(env, bars, provider, random.Random(seed))
    assert _wait(_fork(env, bars), 90) == 0, _child_errors(bars)
    assert figures["kills"] >= 20, figures
    got = _book(db)
    received = provider.requests()[before:]

    trades = reference["book"]["trades"]
    assert len(trades) >= 2
    assert any(j["decision"] == "over_budget" for j in reference["book"]["journal"])  # the cap was reached
    assert got["book"] == reference["book"]  # trades, journal, decisions, equity, day counters
    ledger = got["ledger"]
    assert len(ledger) <= CAP
    assert max(Counter(r["trading_day"] for r in ledger).values()) <= CAP
    assert all(r["status"] == "ok" for r in ledger)  # nothing left reserved or in flight
    assert len(ledger) == len(set(received)) == len(set(ref_requests))  # one row per distinct request
    assert len(ledger) == len({r["request_key"] for r in ledger})  # one slot per candidate request
    asks = sum(r["asks"] for r in ledger)
    assert len(received) <= asks <= len(received) + figures["kills"]  # a kill may land between mark and send
    assert [(r["slot"], r["request_key"]) for r in ledger] == [
        (r["slot"], r["request_key"]) for r in reference["ledger"]
    ]
    return {
        **figures,
        "trades": len(trades),
        "journal_rows": len(reference["book"]["journal"]),
        "requests_received": len(received),
        "distinct_requests": len(set(received)),
        "ledger_rows": len(ledger),
        "asks": asks,
        "seconds": round(time.monotonic() - started),
    }


def _report(store: str, figures: dict[str, int]) -> None:
    print(f"chaos {store}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))  # noqa: T201 - the figures


def test_chaos_on_sqlite(tmp_path: Path, provider: Provider) -> None:
    figures = _chaos(
        f"sqlite:///{tmp_path}/chaos.sqlite", f"sqlite:///{tmp_path}/ref.sqlite", tmp_path, provider, seed=13
    )
    _report("sqlite", figures)
    assert figures["mid_request"] >= KILLS // 4


@pytest.fixture(name="pg_reference_url")
def fixture_pg_reference_url(pg_url: str) -> Iterator[str]:
    """A second private schema beside `pg_url` for the uninterrupted run."""
    base = os.environ[PG_ENV]
    schema = f"mesdesk_chaos_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in base else "?"
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_chaos_on_postgres(tmp_path: Path, provider: Provider, pg_url: str, pg_reference_url: str) -> None:
    figures = _chaos(pg_url, pg_reference_url, tmp_path, provider, seed=29)
    _report("postgres", figures)
    assert figures["mid_request"] >= KILLS // 4
