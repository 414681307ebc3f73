"""The backtest report file: one self-contained page whose data a trader can check against trades.csv."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mesdesk.calendar import trading_days
from mesdesk.config import load_settings
from mesdesk.services.backtest import BacktestReport, BacktestRequest, run_backtest_job
from mesdesk.services.backtest_report import EMBED_DAYS, report_html


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


def test_a_long_run_embeds_the_bars_of_the_chosen_days_only(backtest: BacktestReport) -> None:
    # The fixture has 10 trading days; a cap of 4 stands in for a multi-year run with the default cap.
    data = _data(report_html(backtest, max_days=4))
    trades = backtest.trades.assign(day=pd.DatetimeIndex(backtest.trades["trading_day"]).strftime("%Y-%m-%d"))
    net = trades.groupby("day")["pnl_pts"].sum()
    busiest = trades["day"].value_counts(sort=False).idxmax()  # the first of the busiest days, as the page opens
    expected = {busiest, net.idxmax(), net.idxmin(), trades["day"].max()}
    assert len(expected) == 4  # the fixture's busiest, best, worst and last trade days are four different days
    assert [d["day"] for d in data["days"]] == sorted(expected)
    assert {d["day"]: d["why"] for d in data["days"]}[net.idxmax()] == ["best"]
    assert data["embedded_note"].startswith("4 of 10 trading days are in this file with their bars (at most 4)")
    assert "--chart-day YYYY-MM-DD" in data["embedded_note"]
    journal_days = pd.DatetimeIndex(backtest.journal["trading_day"]).strftime("%Y-%m-%d")
    assert len(data["candidates"]) == int(journal_days.isin(sorted(expected)).sum()) < len(backtest.journal)
    assert {c["day"] for c in data["candidates"]} <= expected
    assert len(data["trades"]) == len(trades)  # the table, equity and statistics keep every trade
    overview = data["overview"]
    assert len(overview["day"]) == 10
    assert set(journal_days) <= set(overview["day"])
    assert [d for d, e in zip(overview["day"], overview["embedded"], strict=True) if e] == sorted(expected)
    assert sum(overview["trades"]) == len(trades)
    assert sum(overview["net_pts"]) == pytest.approx(trades["pnl_pts"].sum(), abs=1e-3)


def test_the_chart_day_is_always_embedded_and_the_page_opens_on_it(backtest: BacktestReport) -> None:
    traded = set(pd.DatetimeIndex(backtest.trades["trading_day"]).strftime("%Y-%m-%d"))
    quiet = min(d for d in _data(report_html(backtest))["overview"]["day"] if d not in traded)
    data = _data(report_html(backtest, open_day=date.fromisoformat(quiet), max_days=2))
    assert {d["day"]: d["why"] for d in data["days"]}[quiet] == ["--chart-day"]
    assert len(data["days"]) == 2
    assert data["open_day"] == quiet
    assert data["embedded_note"].startswith(
        "2 of 10 trading days are in this file with their bars (at most 2): the day given"
    )


def test_the_overview_is_the_daily_candle_of_every_day(backtest: BacktestReport, report_file: Path) -> None:
    data = _data(report_file.read_text(encoding="utf-8"))
    bars = backtest.bars.assign(day=trading_days(pd.DatetimeIndex(backtest.bars.index)))
    daily = bars.groupby("day").agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last")
    )
    overview = data["overview"]
    assert overview["day"] == [pd.Timestamp(d).strftime("%Y-%m-%d") for d in daily.index]
    for k in ("open", "high", "low", "close"):
        assert overview[k] == daily[k].tolist()
    assert all(overview["embedded"])
    assert [_wall(t).strftime("%Y-%m-%d %H:%M") for t in overview["t"]] == [f"{d} 00:00" for d in overview["day"]]
    assert data["embedded_note"] == "All 10 trading days are in this file with their bars."
    assert all("why" not in d for d in data["days"])  # a short run's day records are as they always were


def test_a_run_longer_than_the_cap_writes_the_cap(tmp_path: Path) -> None:
    settings = load_settings(MESDESK_DATA_DIR=str(tmp_path / "data"), OPENAI_API_KEY="", ANTHROPIC_API_KEY="")
    req = BacktestRequest(source="synthetic", days=EMBED_DAYS + 5, out=tmp_path / "bt")
    report = run_backtest_job(req, settings)
    data = _data((tmp_path / "bt" / "report.html").read_text(encoding="utf-8"))
    assert len(data["overview"]["day"]) == EMBED_DAYS + 5
    assert len(data["days"]) == EMBED_DAYS
    assert sum(data["overview"]["embedded"]) == EMBED_DAYS
    assert len(data["trades"]) == len(report.trades) > 0


def test_stop_paths_are_walked_on_the_runs_sub_bars_with_its_rules() -> None:
    """With --sub-bars the positions walked 1m bars: the report's stop path is that walk, not a 5m replay."""
    from zoneinfo import ZoneInfo

    from mesdesk.pathbars import PathBars
    from mesdesk.services import chart_data
    from mesdesk.services.backtest_report import report_data

    settings = load_settings()
    report = run_backtest_job(
        BacktestRequest(days=30, timeframe="5m", sub_bars="1m", slippage_ticks=2, write=False), settings
    )
    assert report.config is not None
    assert report.sub_bars is not None
    assert report.config.execution.slippage_ticks == 2
    tz = ZoneInfo("America/Chicago")
    shown = report_data(report, tz)["trades"]
    assert len(shown) == len(report.trades) > 3
    one_minute = PathBars.from_frame(report.sub_bars, pd.Timedelta(minutes=1))
    five_minute = PathBars.from_frame(report.bars, pd.Timedelta(minutes=5))
    differs = 0
    for rec, row in zip(shown, report.trades.to_dict("records"), strict=True):
        walk = {
            "direction": 1 if row["direction"] == "long" else -1,
            "entry_ts": pd.Timestamp(row["entry_ts"]).to_pydatetime(),
            "entry_price": float(row["entry_price"]),
            "exit_ts": None if pd.isna(row["exit_ts"]) else pd.Timestamp(row["exit_ts"]).to_pydatetime(),
            "bracket": report.config.bracket,
            "execution": report.config.execution,
        }
        assert rec["stops"] == chart_data.stop_records(chart_data.stop_path(one_minute, **walk), tz)
        differs += rec["stops"] != chart_data.stop_records(chart_data.stop_path(five_minute, **walk), tz)
    assert differs > 0  # a replay on the decision bars would have drawn other paths


def test_trade_and_candidate_records_equal_the_dashboards_one_by_one(backtest: BacktestReport) -> None:
    """The report builds its records column-wise; each equals the dashboard's per-row record, open trades too."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from mesdesk.engine.config import EngineConfig
    from mesdesk.pathbars import PathBars
    from mesdesk.services import chart_data
    from mesdesk.services.backtest_report import candidate_payload, trade_payload

    tz = ZoneInfo("America/Chicago")
    trades = backtest.trades.copy()
    assert len(trades) > 3
    trades.loc[trades.index[0], "exit_ts"] = pd.NaT  # still open
    trades.loc[trades.index[1], "entry_ts"] = pd.NaT  # no entry: left out, the ids keep their row numbers
    trades.loc[trades.index[2], ["exit_price", "pnl_pts", "confidence"]] = float("nan")
    config = backtest.config or EngineConfig()
    path = PathBars.from_frame(backtest.bars, chart_data.base_span(backtest.bars))
    span = chart_data.base_span(backtest.bars).to_pytimedelta()
    expected = []
    for i, row in enumerate(trades.to_dict("records")):
        if pd.isna(row["entry_ts"]):
            continue
        entry = pd.Timestamp(row["entry_ts"]).to_pydatetime()
        exit_ = None if pd.isna(row["exit_ts"]) else pd.Timestamp(row["exit_ts"]).to_pydatetime()
        sign = 1 if row["direction"] == "long" else -1
        walk = {"direction": sign, "entry_ts": entry, "entry_price": row["entry_price"], "exit_ts": exit_}
        stops = chart_data.stop_path(path, **walk, bracket=config.bracket, execution=config.execution)
        rec = chart_data.trade_record(
            clock=chart_data.trade_clock(entry, exit_, tz),
            span=span,
            setup=row["setup"],
            direction=row["direction"],
            session=row["session"],
            entry_price=row["entry_price"],
            exit_price=None if pd.isna(row["exit_price"]) else row["exit_price"],
            exit_reason=row["exit_reason"],
            pnl_pts=None if pd.isna(row["pnl_pts"]) else row["pnl_pts"],
            result=row["result"],
            score=row["prefilter_score"],
            confidence=None if pd.isna(row["confidence"]) else row["confidence"],
            mae=row["mae"],
            mfe=row["mfe"],
            ambiguous=row["ambiguous"],
            stops=chart_data.stop_records(stops, tz),
            target=row["entry_price"] + sign * config.bracket.tp_pts,
        )
        day = pd.Timestamp(row["trading_day"]).date()
        weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]
        rec.update(id=i + 1, day=day.isoformat(), weekday=weekday, hour=entry.astimezone(tz).hour)
        expected.append(rec)
    shown = trade_payload(trades, backtest.bars, tz, config)
    assert shown == expected
    assert [t["id"] for t in shown][:2] == [1, 3]
    assert shown[0]["exit_ts"] is None
    assert shown[1]["pnl_pts"] is None

    journal = backtest.journal
    five = timedelta(minutes=5)
    candidates = candidate_payload(journal, five, tz)
    assert len(candidates) == len(journal) > 0
    clocks = [chart_data.candidate_clock(pd.Timestamp(ts).to_pydatetime(), five, tz) for ts in journal["ts"]]
    assert [(c["t"], c["ts"], c["ct"]) for c in candidates] == [(c["t"], c["ts"], c["ct"]) for c in clocks]
    assert [c["traded"] for c in candidates] == journal["entry_ts"].notna().tolist()


def test_a_trade_without_a_price_is_drawn_with_nulls_not_nan(backtest: BacktestReport) -> None:
    """Records pass to the page unchecked only when ready; a NaN entry price (NaN stop levels) is cleaned to null."""
    from zoneinfo import ZoneInfo

    from mesdesk.services.backtest_report import standalone_page, trade_payload

    trades = backtest.trades.copy()
    trades.loc[trades.index[0], "entry_price"] = float("nan")
    shown = trade_payload(trades, backtest.bars, ZoneInfo("America/Chicago"), backtest.config)
    page = standalone_page("t", "", {"trades": shown}, "")
    first = _data(page)["trades"][0]
    assert first["entry_price"] is None
    assert first["stops"][0]["stop"] is None
    assert first["stops"][0]["why"] == "initial"
