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
from mesdesk.config import load_settings
from mesdesk.errors import ConfigError, DataError
from mesdesk.services.paper import RunnerOptions, build_runner, open_store, replay_driver

from .helpers import day_bars


def write_csv(path: Path, seed: int = 3) -> Path:
    out = day_bars(seed=seed).reset_index()
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


def test_two_replay_files_never_share_a_book(tmp_path: Path) -> None:
    """Issue 13, finding 2: `--replay-file` without `--replay` named the book after the default day, so
    a second file wrote its trades into the first one's book and moved its cursor."""
    first, second = write_csv(tmp_path / "a.csv", seed=3), write_csv(tmp_path / "b.csv", seed=5)
    a, b = RunnerOptions(replay_file=first, speed=0), RunnerOptions(replay_file=second, speed=0)
    assert a.runner_name.startswith("replay-2025-09-16-")  # the file's last day, plus its content
    assert b.runner_name.startswith("replay-2025-09-16-")
    assert len({a.runner_name, b.runner_name, RunnerOptions().runner_name}) == 3
    assert len(a.runner_name) <= 32  # the store's runner column
    # Same content under another name is the same book; another day of the same file is another.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(first.read_bytes())
    assert RunnerOptions(replay_file=copy).runner_name == a.runner_name
    day_before = RunnerOptions(replay_file=first, replay_day=date(2025, 9, 15)).runner_name
    assert day_before.startswith("replay-2025-09-15-")

    settings = load_settings(MESDESK_DATA_DIR=str(tmp_path), MESDESK_DATABASE_URL=f"sqlite:///{tmp_path}/s.sqlite")
    store = open_store(settings)
    service_a = build_runner(settings, RunnerOptions(replay_file=first, speed=0, replay_from_ct=None), store)
    for _ in range(5):
        service_a.run_once()
    service_a.stop()
    cursor_a = store.state(a.runner_name)
    assert cursor_a is not None
    assert cursor_a.last_bar_ts is not None
    service_b = build_runner(settings, RunnerOptions(replay_file=second, speed=0, replay_from_ct=None), store)
    assert service_b.runner.resume() is None  # a fresh book, not the first file's cursor
    assert store.state(a.runner_name) == cursor_a


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
