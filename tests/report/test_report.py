"""The backtest report file: one self-contained page whose data a trader can check against trades.csv."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mesdesk.services.backtest import BacktestReport


def _data(page: str) -> dict[str, Any]:
    raw = page.split("window.REPORT = ", 1)[1].split(";</script>", 1)[0]
    return json.loads(raw.replace("<\\/", "</"))  # type: ignore[no-any-return]


def _wall(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC).replace(tzinfo=None)


def test_the_report_is_one_file_that_fetches_nothing(backtest: BacktestReport, report_file: Path) -> None:
    page = report_file.read_text(encoding="utf-8")
    assert sorted(p.name for p in report_file.parent.iterdir()) == [
        "journal.csv",
        "journal.parquet",
        "report.html",
        "trades.csv",
    ]
    assert "<script src" not in page
    assert "<link" not in page
    assert "@import" not in page
    assert "TradingView Lightweight Charts" in page  # the library is inlined with its licence header
    assert "NaN" not in page.split("window.REPORT = ", 1)[1]


def test_the_data_matches_the_trades_file(backtest: BacktestReport, report_file: Path) -> None:
    data = _data(report_file.read_text(encoding="utf-8"))
    trades = pd.read_csv(report_file.parent / "trades.csv")
    assert len(data["trades"]) == len(trades) > 0
    assert [t["pnl_pts"] for t in data["trades"]] == pytest.approx(trades["pnl_pts"].round(4).tolist())
    assert data["equity"][-1]["equity_pts"] == pytest.approx(trades["pnl_pts"].sum(), abs=1e-3)
    for groups in data["by"].values():
        assert sum(g["count"] for g in groups) == len(trades)
        assert sum(g["value"] for g in groups) == pytest.approx(trades["pnl_pts"].sum(), abs=1e-3)
    assert data["bounds"][0]["net_pts"] == pytest.approx(backtest.stats.net_pts)
    assert data["bounds"][1]["net_pts"] == pytest.approx(backtest.optimistic.net_pts)
    assert len(data["candidates"]) == len(backtest.journal)
    for t in data["trades"]:
        sign = 1 if t["direction"] == "long" else -1
        assert t["stops"][0]["stop"] == pytest.approx(t["entry_price"] - sign * 0.75)


def test_every_day_is_there_and_reads_ct_across_the_dst_change(report_file: Path) -> None:
    data = _data(report_file.read_text(encoding="utf-8"))
    days = {d["day"]: d for d in data["days"]}
    assert {"2025-03-07", "2025-03-10"} <= set(days)  # Friday before, Monday after the change
    for day, utc_open in (("2025-03-07", "2025-03-07T14:30:00Z"), ("2025-03-10", "2025-03-10T13:30:00Z")):
        bars = days[day]["bars"]
        i = bars["ts"].index(utc_open)
        assert _wall(bars["t"][i]).strftime("%Y-%m-%d %H:%M") == f"{day} 08:30"
    for t in data["trades"]:
        assert t["entry_ct"] == pd.Timestamp(t["entry_ts"]).tz_convert("America/Chicago").strftime("%Y-%m-%d %H:%M:%S")
