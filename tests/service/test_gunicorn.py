"""The web-host command: gunicorn with two uvicorn workers on one database; exactly one runner trades."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from mesdesk.calendar import trading_day_open, trading_days
from mesdesk.config import Settings
from mesdesk.decide.rules import RuleDecider
from mesdesk.engine import run_backtest
from mesdesk.services.root import Root
from mesdesk.setups.scalper import detect_candidates
from mesdesk.store.base import make_engine
from mesdesk.store.service import DecisionRow, TradeRow

from .server import free_port, wait_for
from .test_crash import REPO, write_morning

pytestmark = pytest.mark.slow
DAY = date(2025, 9, 16)


def backtest_entries(csv: Path) -> list[str]:
    frame = pd.read_csv(csv)
    bars = frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame.pop("ts"), utc=True), name="ts")).astype(
        {"volume": np.int64}
    )
    # The runner computes candidates over a fixed history: 5 days before the trading day's first bar.
    bars = bars.loc[pd.Timestamp(trading_day_open(DAY)) - pd.Timedelta(days=5) :]
    cands = detect_candidates(bars)
    cands = cands[pd.to_datetime(cands["trading_day"]).dt.date == DAY].reset_index(drop=True)
    today = bars[trading_days(pd.DatetimeIndex(bars.index)) == np.datetime64(DAY, "D")]
    trades = run_backtest(today, cands, RuleDecider(), config=Root(Settings()).engine_config()).trades
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in trades["entry_ts"]]


def test_two_gunicorn_workers_one_runner_trades(tmp_path: Path) -> None:
    gunicorn = shutil.which("gunicorn")
    if gunicorn is None:
        pytest.skip("gunicorn not installed (pip install -e .[test])")
    csv = write_morning(tmp_path / "morning.csv")
    port = free_port()
    db = f"sqlite:///{tmp_path}/web.sqlite"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "MESDESK_DATABASE_URL": db,
        "MESDESK_DATA_DIR": str(tmp_path),
        "MESDESK_REPLAY_DATE": "2025-09-16",
        "MESDESK_REPLAY_FILE": str(csv),
        "MESDESK_REPLAY_FROM": "08:28",
        "MESDESK_REPLAY_SPEED": "0",
        "MESDESK_LEASE_TTL_S": "3",
        "PORT": str(port),
        "MESDESK_DECIDER": "auto",
        "OPENAI_API_KEY": "",  # the rule decider: never a paid call from a test
        "ANTHROPIC_API_KEY": "",
    }
    cmd = [
        gunicorn,
        "mesdesk.api:serve_app()",
        "--worker-class",
        "uvicorn.workers.UvicornWorker",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:

        def finished() -> bool:
            try:
                status = httpx.get(f"{base}/metrics/runner", timeout=2).json()
            except httpx.HTTPError:
                return False
            return str(status.get("paused_reason") or "").startswith("replay finished")

        wait_for(finished, 240, "the replay under gunicorn to finish")
        holders = {httpx.get(f"{base}/metrics/runner", timeout=2).json()["holder"] for _ in range(10)}
        trades = httpx.get(f"{base}/metrics/trades", params={"date": "2025-09-16"}).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    workers = {
        line.split("[")[2].split("]")[0]
        for line in (tmp_path / "gunicorn.log").read_text().splitlines()
        if "Booting worker with pid" in line
    }
    assert len(workers) == 2, (tmp_path / "gunicorn.log").read_text()
    assert len(holders) == 1  # both workers answer; both name the same single runner
    entries = [t["entry_ts"] for t in trades]
    assert entries == backtest_entries(csv)
    assert len(set(entries)) == len(entries)
    with make_engine(db).connect() as conn:
        assert len(conn.execute(select(TradeRow.trade_key)).all()) == len(entries)
        deciders = conn.execute(select(DecisionRow.candidate_key)).all()
    assert len(deciders) == len({d[0] for d in deciders})  # each candidate decided once across workers
