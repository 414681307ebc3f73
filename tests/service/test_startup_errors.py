"""Every setting and startup error of `mesdesk serve` and `serve_app()`: one line naming it, exit 2.

Never a traceback, never a password; the port is bound before the store is touched or a runner starts.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from mesdesk.api import serve_app
from mesdesk.cli import main

from .server import free_port

CASES = [
    ({"MESDESK_DATABASE_URL": "garbage"}, "MESDESK_DATABASE_URL"),
    ({"MESDESK_DATABASE_URL": "mysql://desk:hunter2@db/x"}, "'mysql' is not supported"),
    ({"MESDESK_DATABASE_URL": "postgresql://desk:hunter2@127.0.0.1:9/x"}, "MESDESK_DATABASE_URL: cannot connect"),
    ({"MESDESK_DATABASE_URL": "sqlite:///{tmp}/missing/dir/x.sqlite"}, "directory .*missing/dir does not exist"),
    ({"MESDESK_LLM_PRICES": "notjson"}, "MESDESK_LLM_PRICES"),
    ({"MESDESK_LEASE_TTL_S": "0"}, "MESDESK_LEASE_TTL_S"),
    ({"MESDESK_POLL_S": "0"}, "MESDESK_POLL_S"),
    ({"MESDESK_POLL_S": "-5"}, "MESDESK_POLL_S"),
    ({"FRONTEND_CORS_ORIGIN": "not a url, ,;;"}, "FRONTEND_CORS_ORIGIN"),
    ({"MESDESK_DATA_DIR": "{tmp}/afile/sub"}, "MESDESK_DATA_DIR"),
    ({"MESDESK_REPLAY_FROM": "23:59"}, "no bar at or after 2025-09-16 23:59 CT"),
    ({"MESDESK_REPLAY_FILE": "{tmp}/none.csv"}, "none.csv: cannot read the replay file"),
]


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "afile").write_text("a file, not a directory")
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path / "data"))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))


def _one_line(err: str, expected: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "hunter2" not in err
    assert re.search(expected, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("env", "expected"), CASES, ids=[next(iter(c[0])) + "=" + next(iter(c[0].values())) for c in CASES]
)
def test_serve_app_refuses_with_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    expected: str,
) -> None:
    _env(monkeypatch, tmp_path, env)
    if "MESDESK_REPLAY_FILE" in env:
        monkeypatch.setenv("MESDESK_RUNNER", "replay")
    with pytest.raises(SystemExit) as exc:
        serve_app()
    assert exc.value.code == 2
    _one_line(capsys.readouterr().err, expected)


@pytest.mark.parametrize(
    ("env", "expected"), CASES, ids=[next(iter(c[0])) + "=" + next(iter(c[0].values())) for c in CASES]
)
def test_mesdesk_serve_refuses_with_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    expected: str,
) -> None:
    _env(monkeypatch, tmp_path, env)
    args = ["serve", "--port", str(free_port())]
    if "MESDESK_REPLAY_FROM" in env:
        args += ["--from", env["MESDESK_REPLAY_FROM"]]
    if "MESDESK_REPLAY_FILE" in env:
        args += ["--replay-file", env["MESDESK_REPLAY_FILE"].format(tmp=tmp_path)]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    _one_line(capsys.readouterr().err, expected)


def test_a_busy_port_fails_before_the_store_or_a_runner_is_touched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path, {})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exc:
            main(["serve", "--port", str(port)])
    assert exc.value.code == 2
    _one_line(capsys.readouterr().err, rf"--port {port}: cannot listen on 127.0.0.1:{port}")
    assert not (tmp_path / "data" / "mesdesk.sqlite").exists()  # no store opened, no runner built
