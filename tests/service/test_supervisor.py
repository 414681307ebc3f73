"""The runner in its own process: restarted with backoff when it dies, nothing lost; one trades of many."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import select

from mesdesk.config import Settings, load_settings
from mesdesk.services.paper import RunnerOptions, runner_argv
from mesdesk.services.supervisor import RunnerSupervisor, settings_env
from mesdesk.store.base import make_engine
from mesdesk.store.service import DecisionRow, RunnerStateRow, TradeRow

from .server import wait_for
from .test_crash import REPO, serve, write_morning
from .test_gunicorn import backtest_entries


def _child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_dying_child_is_restarted_with_growing_backoff_and_its_exits_are_recorded() -> None:
    sup = RunnerSupervisor(_child("import sys; sys.exit(3)"), os.environ, backoff_s=0.05, max_backoff_s=0.4)
    started = time.monotonic()
    sup.start()
    try:
        wait_for(lambda: sup.status()["restarts"] >= 4, 30, "four restarts")
    finally:
        sup.stop()
    status = sup.status()
    assert status["last_exit"] == 3
    assert status["gave_up"] is None
    # 0.05 + 0.1 + 0.2 + 0.4 s of backoff at least before the fourth restart
    assert time.monotonic() - started >= 0.75


def test_a_configuration_error_is_not_retried_and_says_why() -> None:
    code = "import sys; print('error: --replay 2025-09-13: not a CME trading day', file=sys.stderr); sys.exit(2)"
    sup = RunnerSupervisor(_child(code), os.environ, backoff_s=0.05)
    sup.start()
    wait_for(lambda: sup.status()["gave_up"] is not None, 30, "the supervisor to give up")
    time.sleep(0.3)
    status = sup.status()
    sup.stop()
    assert status["restarts"] == 0
    assert status["alive"] is False
    assert "not a CME trading day" in status["gave_up"]
    assert status["last_error"] == "--replay 2025-09-13: not a CME trading day"


def test_stop_ends_the_child_and_no_restart_follows() -> None:
    sup = RunnerSupervisor(_child("import time; time.sleep(60)"), os.environ, backoff_s=0.05)
    sup.start()
    pid = sup.pid
    assert pid is not None
    sup.stop(timeout_s=5)
    time.sleep(0.3)
    status = sup.status()
    assert status["alive"] is False
    assert status["restarts"] == 0
    assert status["pid"] == pid


def test_the_child_gets_the_parents_settings_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        MESDESK_DATA_DIR=str(tmp_path), MESDESK_DATABASE_URL="sqlite:///x.sqlite", DAILY_GPT_CALL_CAP=9
    )
    env = settings_env(settings, {"PATH": "/bin"})
    assert env["MESDESK_DATABASE_URL"] == "sqlite:///x.sqlite"
    for info in Settings.model_fields.values():  # the child reads its settings from env alone
        alias = info.validation_alias
        if isinstance(alias, str):
            monkeypatch.delenv(alias, raising=False)
            if alias in env:
                monkeypatch.setenv(alias, env[alias])
    assert load_settings().model_dump() == settings.model_dump()
    argv = runner_argv(
        RunnerOptions(speed=0, replay_file=Path("bars.csv"), lease_ttl_s=3, renew_every_s=1.0, fresh=True),
        parent_pid=42,
    )
    assert argv[1:4] == ["-m", "mesdesk", "runner"]
    assert "--fresh" not in argv  # a restarted child resumes the book, it never wipes it
    assert argv[argv.index("--parent-pid") + 1] == "42"
    assert argv[argv.index("--lease-ttl") + 1] == "3"


def _runner(base: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/metrics/runner", timeout=5).json())


def _finished(base: str) -> bool:
    return str(_runner(base).get("paused_reason") or "").startswith("replay finished")


def _trades(base: str) -> list[tuple[str, str, float, float, str]]:
    rows = httpx.get(f"{base}/metrics/trades", params={"date": "2025-09-16"}, timeout=5).json()
    return [(t["entry_ts"], t["exit_ts"], t["entry_price"], t["pnl_pts"], t["exit_reason"]) for t in rows]


def _short_morning(path: Path) -> Path:
    """The crash test's morning, cut at 08:50 CT (after its first trade, 08:34-08:36): quick at 60x."""
    bars = pd.read_csv(write_morning(path))
    bars = bars[bars["ts"] <= "2025-09-16T13:50:00Z"]
    bars.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_kill_9_the_runner_child_the_supervisor_restarts_it_and_no_trade_is_lost_or_doubled(tmp_path: Path) -> None:
    bars = _short_morning(tmp_path / "morning.csv")
    ref_dir, crash_dir = tmp_path / "ref", tmp_path / "crash"
    ref_dir.mkdir()
    crash_dir.mkdir()
    with serve(ref_dir, f"sqlite:///{ref_dir}/ref.sqlite", bars, "0") as (_, base):
        wait_for(lambda: _finished(base), 240, "the uninterrupted replay to finish")
        expected = _trades(base)
    assert len(expected) >= 1

    db = f"sqlite:///{crash_dir}/crash.sqlite"
    with serve(crash_dir, db, bars, "60") as (server, base):
        wait_for(lambda: _runner(base).get("position") is not None, 180, "a position to open")
        child = _runner(base)["process"]["pid"]
        assert child != server.pid
        os.kill(child, signal.SIGKILL)
        engine = make_engine(db)
        with engine.connect() as conn:
            position = conn.execute(select(RunnerStateRow.position)).scalar_one()
        assert position is not None, "the kill did not land inside a trade"
        open_entry = str(position["entry_ts"]).replace("+00:00", "Z")

        def restarted() -> bool:
            p = _runner(base)["process"]
            return bool(p["restarts"] == 1 and p["alive"] and p["pid"] != child)

        wait_for(restarted, 30, "the supervisor to restart the runner")
        process = _runner(base)["process"]
        assert process["last_exit"] == -signal.SIGKILL
        assert server.poll() is None  # the API never went down
        wait_for(lambda: _finished(base), 240, "the resumed replay to finish")
        got = _trades(base)
    assert got == expected  # nothing lost, nothing doubled, same fills
    assert [t[2] for t in got if t[0] == open_entry] == [position["entry_price"]]  # the open one closed once
    with engine.connect() as conn:
        keys = [r[0] for r in conn.execute(select(TradeRow.trade_key)).all()]
    engine.dispose()
    assert len(keys) == len(set(keys)) == len(expected)


@pytest.mark.slow
def test_two_runner_processes_on_one_store_one_trades(tmp_path: Path) -> None:
    csv = write_morning(tmp_path / "morning.csv")
    db = f"sqlite:///{tmp_path}/two.sqlite"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "MESDESK_DATABASE_URL": db,
        "MESDESK_DATA_DIR": str(tmp_path),
        "MESDESK_LEASE_TTL_S": "3",
        "MESDESK_DECIDER": "auto",
        "OPENAI_API_KEY": "",  # the rule decider: never a paid call from a test
        "ANTHROPIC_API_KEY": "",
    }
    cmd = [sys.executable, "-m", "mesdesk", "runner", "--replay", "2025-09-16", "--replay-file", str(csv)]
    cmd += ["--from", "08:28", "--speed", "0"]
    logs = [tmp_path / f"runner-{i}.log" for i in range(2)]
    procs = []
    for log in logs:
        with log.open("wb") as out:
            procs.append(subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT))  # noqa: S603
    engine = make_engine(db)

    def finished() -> bool:
        try:
            with engine.connect() as conn:
                reason = conn.execute(select(RunnerStateRow.paused_reason)).scalar_one_or_none()
        except Exception:  # the table may not exist yet
            return False
        return str(reason or "").startswith("replay finished")

    try:
        wait_for(finished, 240, "the replay to finish")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(30) for p in procs]
    assert codes == [0, 0]  # both stop cleanly on SIGTERM
    texts = [log.read_text() for log in logs]
    assert sum("holds the lease" in t for t in texts) == 1, texts
    with engine.connect() as conn:
        entries = [r[0] for r in conn.execute(select(TradeRow.entry_ts).order_by(TradeRow.entry_ts)).all()]
        decided = [r[0] for r in conn.execute(select(DecisionRow.candidate_key)).all()]
    engine.dispose()
    assert [e.strftime("%Y-%m-%dT%H:%M:%SZ") for e in entries] == backtest_entries(csv)
    assert len(decided) == len(set(decided))  # each candidate decided once


def test_ready_answers_503_until_a_runner_holds_the_lease_and_health_shows_it(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from fastapi.testclient import TestClient

    from mesdesk.api import create_app

    settings = load_settings(MESDESK_DATA_DIR=str(tmp_path), MESDESK_DATABASE_URL=f"sqlite:///{tmp_path}/r.sqlite")
    app = create_app(settings)
    with TestClient(app) as client:
        missing = client.get("/ready")
        assert missing.status_code == 503
        assert "no runner holds the lease of 'paper'" in missing.json()["detail"]
        assert client.get("/health").json()["runner"]["holder"] is None
        store = app.state.handle.ctx.store
        now = datetime.now(UTC)
        assert store.acquire_lease("paper", "host:1:abc", now, timedelta(seconds=30))
        ready = client.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["holder"] == "host:1:abc"
        health = client.get("/health").json()
        assert health["status"] == "ok"
        assert health["runner"]["holder"] == "host:1:abc"
        store.release_lease("paper", "host:1:abc", now)  # expired: the holder is gone
        assert client.get("/ready").status_code == 503
