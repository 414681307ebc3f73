"""`mesdesk backtest` end to end on files the tests write (and on the real ES bars when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mesdesk.cli import main
from mesdesk.services.backtest import BacktestRequest, run_backtest_job

from .factories import random_market

SEED_TRADE_FIELDS = [
    "result",
    "prefilter_score",
    "confidence",
    "setup",
    "session",
    "entry_price",
    "exit_price",
    "pnl_pts",
    "time_to_target",
    "mae",
    "mfe",
]


def _write_csv(tmp_path: Path) -> Path:
    days = [str(d.date()) for d in pd.bdate_range("2025-03-03", periods=5)]
    bars = random_market(days, seed=17)
    path = tmp_path / "bars.csv"
    frame = bars.reset_index()
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(path, index=False)
    return path


def test_backtest_command_writes_trades_journal_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _write_csv(tmp_path)
    out = tmp_path / "out"
    main(["backtest", "--source", "file", "--file", str(csv), "--out", str(out)])
    printed = capsys.readouterr().out
    for word in ("win rate", "expectancy", "profit factor", "max drawdown", "ambiguous", "By setup", "By session"):
        assert word in printed
    trades = pd.read_csv(out / "trades.csv")
    assert list(trades.columns[: len(SEED_TRADE_FIELDS)]) == SEED_TRADE_FIELDS
    journal = pd.read_parquet(out / "journal.parquet")
    assert len(journal) == len(pd.read_csv(out / "journal.csv"))
    assert (journal["entry_ts"].notna().sum()) == len(trades)
    html = (out / "report.html").read_text()
    assert "window.REPORT = {" in html  # one self-contained file: the chart library and the data are inlined
    assert "<script src" not in html
    assert "https://" not in html.split("window.REPORT")[1]  # nothing fetched
    assert "NaN" not in html.split("window.REPORT = ")[1].split(";</script>")[0]


def test_no_report_writes_the_same_trades_and_journal_without_the_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _write_csv(tmp_path)
    main(["backtest", "--source", "file", "--file", str(csv), "--out", str(tmp_path / "with")])
    main(["backtest", "--source", "file", "--file", str(csv), "--out", str(tmp_path / "without"), "--no-report"])
    assert "Wrote 3 files under" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "without").iterdir()) == ["journal.csv", "journal.parquet", "trades.csv"]
    for name in ("trades.csv", "journal.csv", "journal.parquet"):
        assert (tmp_path / "with" / name).read_bytes() == (tmp_path / "without" / name).read_bytes()


def test_summary_matches_the_trades_it_wrote(tmp_path: Path) -> None:
    report = run_backtest_job(BacktestRequest(source="file", file=_write_csv(tmp_path), write=False))
    t = report.trades
    assert report.stats.trades == len(t)
    assert report.stats.net_pts == pytest.approx(t["pnl_pts"].sum())
    assert report.stats.net_usd == pytest.approx(5.0 * t["pnl_pts"].sum())
    wins = t["pnl_pts"][t["result"] == "win"]
    assert report.stats.avg_win_pts == pytest.approx(wins.mean() if len(wins) else np.nan, nan_ok=True)
    # The optimistic run differs only through ambiguous bars.
    if report.stats.ambiguous == 0:
        assert report.optimistic.net_pts == pytest.approx(report.stats.net_pts)


def test_bad_arguments_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["backtest", "--source", "file"])
    assert exit_info.value.code == 2
    assert "--source file needs --file PATH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backtest", "--source", "file", "--file", str(_write_csv(tmp_path)), "--sub-bars", "5m"])
    assert "must be finer" in capsys.readouterr().err


def test_real_es_bars_run_with_one_minute_sub_bars_under_five_minute_decisions(shared_data: Path) -> None:
    req = BacktestRequest(
        source="file", file=shared_data / "ES_1m_2025-09-15_2025-10-10.csv", timeframe="5m", sub_bars="1m", write=False
    )
    report = run_backtest_job(req)
    assert report.candidates > 0
    assert report.stats.trades > 0
    assert report.stats.ambiguous == 0  # one-minute sub-bars settle what five-minute bars cannot


def test_chart_day_without_bars_is_refused_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backtest", "--source", "file", "--file", str(_write_csv(tmp_path)), "--chart-day", "2025-01-01"])
    assert "--chart-day 2025-01-01: no bars that day (data spans 2025-03-03 to 2025-03-07)" in capsys.readouterr().err
