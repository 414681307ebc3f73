"""The `mesdesk` process: the console script's entry and the collector policy of a one-shot backtest."""

from __future__ import annotations

import gc
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import mesdesk.cli as cli
import mesdesk.services.backtest as service
from mesdesk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collector_restored():
    enabled = gc.isenabled()
    yield
    gc.enable() if enabled else gc.disable()


@pytest.mark.parametrize("enabled_before", [True, False])
def test_collector_paused_restores_the_state_it_found(collector_restored, enabled_before):
    gc.enable() if enabled_before else gc.disable()
    with cli.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled_before
    with pytest.raises(RuntimeError), cli.collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled() is enabled_before


def test_the_backtest_job_runs_with_the_collector_paused_and_leaves_it_on(collector_restored, monkeypatch, capsys):
    gc.enable()
    seen = []

    def job(req, *args, **kwargs):
        seen.append(gc.isenabled())
        raise ConfigError("stop here")

    monkeypatch.setattr(service, "run_backtest_job", job)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["backtest", "--days", "2"])
    assert exit_info.value.code == 2
    assert "error: stop here" in capsys.readouterr().err
    assert seen == [False]
    assert gc.isenabled()


def test_run_freezes_what_is_left_whatever_main_does(monkeypatch):
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(cli, "main", lambda argv=None: None)
    cli.run()
    assert frozen == [True]

    def fails(argv=None):
        raise SystemExit(2)

    monkeypatch.setattr(cli, "main", fails)
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    assert exit_info.value.code == 2
    assert frozen == [True, True]


def test_the_console_script_and_python_m_use_run():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mesdesk"] == "mesdesk.cli:run"
    done = subprocess.run(
        [sys.executable, "-m", "mesdesk", "backtest", "--timeframe", "2h"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: timeframe='2h' is not a timeframe")
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
