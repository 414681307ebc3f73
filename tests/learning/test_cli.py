from __future__ import annotations

from pathlib import Path

import pytest

from mesdesk.cli import main


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MESDESK_DATABASE_URL", raising=False)


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code: object = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    assert code in (0, None)
    return capsys.readouterr().out


def test_update_is_idempotent_and_show_lists_fingerprints(capsys: pytest.CaptureFixture[str]) -> None:
    out = _main(["learn", "update", "--days", "6", "--seed", "3"], capsys)
    assert "stored" in out
    new = int(out.split()[1])
    assert new > 0
    again = _main(["learn", "update", "--days", "6", "--seed", "3"], capsys)
    assert again.startswith("stored 0 new outcomes")
    shown = _main(["learn", "show"], capsys)
    assert "fingerprints (" in shown
    from mesdesk.services.learning import fingerprints

    rows = fingerprints()
    fine = [r for r in rows if str(r["key"]).count("|") > 2]  # parents (setup|direction|session) repeat them
    assert sum(int(r["samples"]) for r in fine) == new  # type: ignore[call-overload]
    assert {r["status"] for r in rows} <= {"probation", "active", "gold", "blocked"}
    assert f"fingerprints ({len(rows)})" in shown
    cleared = _main(["learn", "reset", "--yes"], capsys)
    assert cleared.strip() == f"deleted {new} outcomes"


def test_evaluate_prints_both_rows(capsys: pytest.CaptureFixture[str]) -> None:
    out = _main(["learn", "evaluate", "--days", "9", "--train-days", "4", "--test-days", "2"], capsys)
    assert "walk-forward" in out
    assert "│      off │" in out
    assert "│       on │" in out


def test_bad_timeframe_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["learn", "evaluate", "--timeframe", "7m"])
    assert exc.value.code == 2
    assert "7m" in capsys.readouterr().err
