"""kill -9 in the middle of a trade, restart, and the day ends with the same trades as a run never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mesdesk.data.synthetic import SyntheticConfig, generate_bars
from mesdesk.store.base import make_engine
from mesdesk.store.service import RunnerStateRow

from .server import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def write_morning(path: Path) -> Path:
    """Synthetic bars (seed 11) up to 2025-09-16 10:00 CT: a short morning whose first trade lasts two bars."""
    bars = generate_bars(date(2025, 9, 10), date(2025, 9, 16), SyntheticConfig(seed=11))
    bars = bars.loc[:"2025-09-16 15:00:00+00:00"]
    out = bars.reset_index()
    out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)
    return path


@contextmanager
def serve(tmp: Path, db: str, bars: Path, speed: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "MESDESK_DATABASE_URL": db,
        "MESDESK_DATA_DIR": str(tmp),
        "MESDESK_LEASE_TTL_S": "3",
        "MESDESK_DECIDER": "auto",
        "OPENAI_API_KEY": "",  # the rule decider: never a paid call from a test
        "ANTHROPIC_API_KEY": "",
    }
    cmd = [sys.executable, "-c", "from mesdesk.cli import main; main()", "serve", "--port", str(port)]
    cmd += ["--replay", "2025-09-16", "--replay-file", str(bars), "--from", "08:28", "--speed", speed]
    cmd += ["--log-level", "warning"]
    log = (tmp / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), 60, "the server")
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)
        log.close()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _runner(base: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/metrics/runner", timeout=5).json())


def _stored_state(db: str) -> dict[str, Any]:
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(RunnerStateRow.position, RunnerStateRow.trades_today)).one()
    finally:
        engine.dispose()
    return {"position": row.position, "trades_today": row.trades_today}


def _finished(base: str) -> bool:
    return str(_runner(base).get("paused_reason") or "").startswith("replay finished")


def _trades(base: str) -> list[tuple[str, str, float, float, str]]:
    rows = httpx.get(f"{base}/metrics/trades", params={"date": "2025-09-16"}, timeout=5).json()
    return [(t["entry_ts"], t["exit_ts"], t["entry_price"], t["pnl_pts"], t["exit_reason"]) for t in rows]


def test_kill_9_mid_trade_then_restart_gives_the_uninterrupted_trades(tmp_path: Path) -> None:
    bars = write_morning(tmp_path / "morning.csv")
    ref_dir, crash_dir = tmp_path / "ref", tmp_path / "crash"
    ref_dir.mkdir()
    crash_dir.mkdir()
    with serve(ref_dir, f"sqlite:///{ref_dir}/ref.sqlite", bars, "0") as (_, base):
        wait_for(lambda: _finished(base), 240, "the uninterrupted replay to finish")
        expected = _trades(base)
        expected_equity = httpx.get(f"{base}/metrics/equity").json()
    assert len(expected) >= 2

    db = f"sqlite:///{crash_dir}/crash.sqlite"
    with serve(crash_dir, db, bars, "30") as (proc, base):  # two seconds per bar: kill well inside a trade
        wait_for(lambda: _runner(base).get("position") is not None, 180, "a position to open")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        killed_at = time.monotonic()
    at_kill = _stored_state(db)
    assert at_kill["position"] is not None, "the kill did not land inside a trade"
    open_entry = str(at_kill["position"]["entry_ts"]).replace("+00:00", "Z")
    open_price = at_kill["position"]["entry_price"]
    with serve(crash_dir, db, bars, "0") as (_, base):
        wait_for(lambda: _finished(base), 240, "the resumed replay to finish")
        got = _trades(base)
        equity = httpx.get(f"{base}/metrics/equity").json()
    assert time.monotonic() - killed_at > 0
    assert got == expected  # nothing lost, nothing doubled, same fills
    assert [p["equity_pts"] for p in equity] == [p["equity_pts"] for p in expected_equity]
    # The trade open at the kill was closed once, after the restart, with the entry it had at the kill.
    assert [t[2] for t in got if t[0] == open_entry] == [open_price]
