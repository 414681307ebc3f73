"""Runner options and replay sources: one trading day per replay, clear errors for bad settings."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mesdesk.calendar import trading_day_open
from mesdesk.cli import main
from mesdesk.errors import ConfigError, DataError
from mesdesk.services.paper import RunnerOptions, replay_driver

from .helpers import day_bars


def write_csv(path: Path) -> Path:
    out = day_bars().reset_index()
    out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)
    return path


def test_a_file_replay_trades_only_the_chosen_trading_day(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "bars.csv")
    driver = replay_driver(RunnerOptions(replay_day=date(2025, 9, 15), replay_file=csv, speed=0))
    bars = driver.prefix_to(datetime(2030, 1, 1, tzinfo=UTC))
    assert pd.Timestamp(bars.index[-1]) < pd.Timestamp(trading_day_open(date(2025, 9, 16)))
    assert driver.name == "file:bars.csv:2025-09-15"


def test_a_file_without_the_day_is_a_data_error_naming_it(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "bars.csv")
    with pytest.raises(DataError, match="2025-09-20"):
        replay_driver(RunnerOptions(replay_day=date(2025, 9, 20), replay_file=csv))


def test_a_synthetic_replay_of_a_weekend_is_refused() -> None:
    with pytest.raises(DataError, match="not a CME trading day"):
        replay_driver(RunnerOptions(replay_day=date(2025, 9, 13)))


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MESDESK_REPLAY_DATE": "16/09/2025"}, "MESDESK_REPLAY_DATE"),
        ({"MESDESK_REPLAY_SPEED": "fast"}, "MESDESK_REPLAY_SPEED"),
        ({"MESDESK_REPLAY_FROM": "8h"}, "MESDESK_REPLAY_FROM"),
        ({"MESDESK_RUNNER": "turbo"}, "MESDESK_RUNNER"),
    ],
)
def test_bad_runner_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        RunnerOptions.from_env(env)


def test_runner_name_separates_replays_from_live() -> None:
    assert RunnerOptions().runner_name == "replay-2025-09-16"
    assert RunnerOptions(replay_day=date(2025, 9, 17)).runner_name == "replay-2025-09-17"
    assert RunnerOptions(mode="live").runner_name == "paper"


def test_serve_with_a_bad_date_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--replay", "yesterday"])
    assert exc.value.code == 2
    assert "--replay 'yesterday'" in capsys.readouterr().err


def _open_after(barrier: Any, url: str, results: Any) -> None:
    from mesdesk.config import load_settings
    from mesdesk.services.paper import open_store

    settings = load_settings(MESDESK_DATABASE_URL=url)
    barrier.wait()  # every worker migrates at the same moment, as gunicorn workers do at boot
    try:
        open_store(settings).engine.dispose()
        results.put("ok")
    except Exception as exc:
        results.put(repr(exc))


def test_workers_opening_one_fresh_database_at_once_all_migrate(db_url: str) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_after, args=(barrier, db_url, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(results.get(timeout=5) for _ in procs) == ["ok"] * 4
