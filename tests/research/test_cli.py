"""`mesdesk optimize` from the command line: JSON summary, one-line errors (exit 2), a killed sweep resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesdesk.cli import main
from mesdesk.services.optimize import OptimizeRequest, run_optimize_job

SMALL = ["--days", "12", "--param", "bracket.tp_pts=1,2", "--param", "bracket.sl_pts=0.5,1", "--groups", "4"]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(["optimize", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_summary_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*SMALL, "--json", "--min-trades", "2", "--out", str(tmp_path)], capsys)
    assert code == 0
    s = json.loads(out)
    assert s["trials"] == 4
    assert set(s["best_params"]) == {"bracket.tp_pts", "bracket.sl_pts"}
    assert {"oos_trades", "oos_expectancy_pts", "oos_ci95", "efficiency"} <= set(s["walk_forward"])
    for name in ("trials.parquet", "oos_trades.csv", "summary.json", "report.html", "daily.csv", "configs.csv"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "summary.json").read_text()) == s


def test_the_table_shows_in_sample_beside_oos_pbo_and_dsr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([*SMALL, "--min-trades", "2"], capsys)
    assert code == 0
    for text in ("in-sample", "walk-forward out of sample", "PBO", "Deflated Sharpe", "CT"):
        assert text in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "bracket.tp=1"], "unknown parameter; valid:"),
        (["--param", "bracket.tp_pts=2:1:0.5"], "empty range"),
        (["--walk-forward", "0:5"], "no trading days"),
        (["--walk-forward", "10:10"], "needs at least 20 trading days"),
        (["--groups", "20"], "more CSCV groups"),
        (["--param", "bracket.tp_pts=1:1000:0.01", "--param", "bracket.sl_pts=1,2"], "pass --yes"),
        (["--objective", "sortino"], "choose one of"),
        (["--search", "random"], "choose grid or tpe"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["--days", "12", "--groups", "4", *args], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat") if sys.platform == "linux" else ():
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.parent.name))
    return found


@pytest.mark.slow
def test_a_killed_sweep_resumes_to_the_same_summary(tmp_path: Path) -> None:
    grid = ["--param", "bracket.tp_pts=0.75:2.5:0.25", "--param", "bracket.sl_pts=0.5:1.5:0.25"]
    grid += ["--param", "limits.max_trades=1:10:1"]  # 400 configs: a sweep still running when it is killed
    args = ["optimize", "--days", "12", "--groups", "4", "--min-trades", "2", *grid, "--out", str(tmp_path / "k")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys; from mesdesk.cli import main; main(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    configs = tmp_path / "k" / "configs.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if configs.exists() and len(configs.read_text().splitlines()) > 6:
            break
        time.sleep(0.01)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if sys.platform == "linux":  # the pool's workers go with it (they used to wait on their queue for ever)
        assert workers
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in workers):
            time.sleep(0.05)
        assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]
    finished = len(configs.read_text().splitlines()) - 1
    assert 5 <= finished < 400  # killed mid-sweep
    assert not (tmp_path / "k" / "summary.json").exists()
    main_code = 0
    try:
        main(args)
    except SystemExit as exc:
        main_code = int(exc.code or 0)
    assert main_code == 0
    params = ("bracket.tp_pts=0.75:2.5:0.25", "bracket.sl_pts=0.5:1.5:0.25", "limits.max_trades=1:10:1")
    whole = run_optimize_job(OptimizeRequest(days=12, groups=4, min_trades=2, params=params, out=tmp_path / "whole"))
    assert whole.result.ran == 400
    resumed = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert resumed == json.loads((tmp_path / "whole" / "summary.json").read_text())
